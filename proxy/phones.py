"""Phones that register and authenticate: the digest authority, the registrar and
its location table, wired to the store (RFC 3261 §10, §22).

The registrar and the authority are pure; this module gives them their secrets and
persistence: bindings are written behind to the store as REGISTERs change them,
loaded at start, expired on time, and, when several proxies share one database
(PostgreSQL), reloaded every second so a phone registered through one proxy is
rung by all of them.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from typing import Any

from proxy.auth import AuthSettings, DigestAuthority, UserSecret
from proxy.config.loader import ProxyConfig
from proxy.core.classify import Authentication
from proxy.core.flows import flow_uri
from proxy.core.locations import Contact
from proxy.registrar import Binding, Received, Registrar, RegistrarResult, RegistrarSettings
from proxy.registrar.service import RegistrarService
from proxy.sip.hop import Hop
from proxy.store import Received as StoredReceived
from proxy.store import Registration, Store

# The store's name for the key digest nonces are made with.
NONCE_SECRET = "digest-nonce"
_SECRET_BYTES = 32
# How often a proxy sharing its database reloads the location table, and how long
# its own changes are kept over the database's view (they are written behind).
RELOAD_SECONDS = 1.0
_OWN_CHANGES_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class Phones:
    """What the core needs to authenticate and to ring registered phones."""

    auth: Authentication | None
    registrar: Registrar | None
    service: RegistrarService | None
    hosts: frozenset[str]  # REGISTER for these is the registrar's
    flow_open: Callable[[Hop], bool] = lambda hop: True  # the transports' view
    # Whether a REGISTER's source may set a Path: an edge proxy that is a trusted peer.
    # From anyone else a Path would let a phone aim the calls for it at any address.
    path_trusted: Callable[[str], bool] = lambda host: False
    clock: Callable[[], float] = time.time  # Unix seconds, as the registrar keeps them

    def locate(self, user_id: str) -> list[Contact]:
        """The contacts ``user_id`` has registered now, each sent where it registered
        from (RFC 3581: received/rport; over TCP, its own connection), or along the
        Path it registered through (RFC 3327). A contact whose TCP connection is
        gone is unusable until the phone registers again (RFC 5626 §5.3)."""
        if self.registrar is None:
            return []
        contacts = []
        for binding in self.registrar.bindings_for(user_id, self.clock()):
            received = binding.received
            if binding.path and self.path_trusted(received.host):
                contacts.append(Contact(binding.contact, None, binding.path))
                continue
            flow = Hop(received.transport, received.host, received.port)
            if self.flow_open(flow):
                contacts.append(Contact(binding.contact, flow_uri(flow)))
        return contacts


async def open_phones(config: ProxyConfig, store: Store, own_hosts: Iterable[str],
                      started: float, flow_open: Callable[[Hop], bool],
                      trusted_peer: Callable[[str], bool]) -> Phones:
    """The authority (when any user has credentials) and the registrar (when any
    user registers), with the bindings the store kept. ``trusted_peer`` asks the
    directory in force (it changes with a reload)."""
    auth = await _authentication(config, store) if config.credentials else None
    if not any(user.registered for user in config.directory.users.values()):
        return Phones(auth, None, None, frozenset(), flow_open, trusted_peer)
    domain = config.domain or next(iter(own_hosts))
    settings = RegistrarSettings(domain, frozenset(own_hosts))
    registrar = Registrar(config.directory, settings)
    stale = registrar.restore(
        [_binding(row) for row in await store.load_registrations(started)], started)
    for binding in stale:
        store.delete_registration(binding.aor, binding.contact)
    service = RegistrarService(registrar, lambda request, source: source.user,
                               lambda result: _persist(store, result))
    hosts = frozenset(host.lower() for host in (domain, *own_hosts))
    return Phones(auth, registrar, service, hosts, flow_open, trusted_peer)


async def keep_locations(phones: Phones, store: Store, shared: bool, log: Any) -> None:
    """Expire bindings on time and, when the database is shared, reload it; runs
    until cancelled."""
    registrar = phones.registrar
    if registrar is None:
        return
    while True:
        await asyncio.sleep(RELOAD_SECONDS)
        now = time.time()
        for binding in registrar.expire(now):
            store.delete_registration(binding.aor, binding.contact)
            log.info("registration.expired", aor=binding.aor, contact=binding.contact)
        if shared:
            try:
                rows = await store.load_registrations(now)
            except Exception as error:  # a database hiccup must not stop the proxy
                log.warning("registration.reload_failed", error=str(error))
                continue
            registrar.reload([_binding(row) for row in rows], now, now - _OWN_CHANGES_SECONDS)


def reloaded_authentication(auth: Authentication, config: ProxyConfig) -> Authentication:
    """``auth`` with the users' credentials of a reloaded ``config``; the authority
    (realm, nonces, failure throttle) carries on."""
    auth.authority.use_users(_user_secrets(config))
    return _authentication_of(auth.authority, config)


async def _authentication(config: ProxyConfig, store: Store) -> Authentication:
    realm = config.auth_realm or config.domain or config.listeners[0].advertise
    secret = await store.secret(NONCE_SECRET, lambda: secrets.token_bytes(_SECRET_BYTES))
    settings = (AuthSettings(algorithms=config.auth_algorithms) if config.auth_algorithms
                else AuthSettings())
    authority = DigestAuthority(realm, secret, _user_secrets(config), settings)
    return _authentication_of(authority, config)


def _user_secrets(config: ProxyConfig) -> dict[str, UserSecret]:
    return {credentials.username: UserSecret(password=credentials.password,
                                             ha1=dict(credentials.ha1))
            for credentials in config.credentials.values()}


def _authentication_of(authority: DigestAuthority, config: ProxyConfig) -> Authentication:
    return Authentication(
        authority,
        {credentials.username: user_id for user_id, credentials in config.credentials.items()},
        frozenset(config.credentials),
    )


def _persist(store: Store, result: RegistrarResult) -> None:
    """Write a REGISTER's changes behind (never awaited on the message path)."""
    for binding in result.removed:
        store.delete_registration(binding.aor, binding.contact)
    for binding in result.saved:
        store.save_registration(_registration(binding))


def _registration(binding: Binding) -> Registration:
    values = {item.name: getattr(binding, item.name) for item in fields(Binding)}
    values["received"] = StoredReceived(**_as_dict(binding.received))
    return Registration(**values)


def _binding(row: Registration) -> Binding:
    values = {item.name: getattr(row, item.name) for item in fields(Registration)}
    values["received"] = Received(**_as_dict(row.received))
    return Binding(**values)


def _as_dict(received: Received | StoredReceived) -> dict[str, Any]:
    return {item.name: getattr(received, item.name) for item in fields(received)}
