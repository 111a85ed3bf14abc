"""The registrar service (RFC 3261 §10.3): REGISTER in, a location table kept.

Pure: no clock, no sockets, no store. ``Registrar`` decides; ``RegistrarService``
adapts it to the Service port; the composition root maps ``Binding`` to the
store's ``Registration`` (same fields) and writes ``RegistrarResult`` behind.
"""

from proxy.registrar.bindings import Binding, Received
from proxy.registrar.registrar import Registrar, RegistrarResult, RegistrarSettings
from proxy.registrar.service import RegistrarService, received_from

__all__ = [
    "Binding",
    "Received",
    "Registrar",
    "RegistrarResult",
    "RegistrarService",
    "RegistrarSettings",
    "received_from",
]
