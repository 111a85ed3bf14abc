"""The only module that talks to a database: state that must survive a restart
(secrets, registrations, the call history).

SQLite file by default, PostgreSQL by URL for several proxies in front of one PBX;
the schema is migrated with Alembic at start. Reads happen at start; writes are
write-behind, so nothing on the per-message path awaits the database.
"""

from proxy.store.errors import StoreError
from proxy.store.records import CallHistory, HistoryOrder, Received, Registration
from proxy.store.store import Store, StoreStats, open_store

__all__ = ["CallHistory", "HistoryOrder", "Received", "Registration", "Store", "StoreError",
           "StoreStats", "open_store"]
