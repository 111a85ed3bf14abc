"""The registrar behind the Service port (``proxy.core.services``).

The driver calls ``handle(request, source, now)``; this adapter asks who
authenticated the request, lets the :class:`Registrar` decide, hands what changed
to ``persist`` (the composition root's write-behind to the store) and returns the
reply. It adds no rules of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from proxy.core.services import Reply
from proxy.policy.trust import Source
from proxy.registrar.bindings import Received
from proxy.registrar.registrar import Registrar, RegistrarResult
from proxy.sip.message import Request

# The user id that authenticated a request (RFC 3261 §10.3 step 3), None for nobody.
Identify = Callable[[Request, Source], str | None]
# Writes a result's saved and removed bindings behind (never awaited).
Persist = Callable[[RegistrarResult], None]


@dataclass(frozen=True, slots=True)
class RegistrarService:
    """A :class:`Registrar` as a ``Service``."""

    registrar: Registrar
    identify: Identify
    persist: Persist

    def handle(self, request: Request, source: Source, now: float) -> Reply:
        """Answer a REGISTER; ``now`` is wall-clock Unix seconds (see ``Registrar``)."""
        user = self.identify(request, source)
        if user is None:
            # Authentication answers 401 before this point; reaching here without a
            # user means nobody vouched for the request.
            return Reply(403, "Forbidden (REGISTER from an unauthenticated sender)")
        result = self.registrar.register(request, received_from(source), user, now)
        if result.saved or result.removed:
            self.persist(result)
        return result.reply


def received_from(source: Source) -> Received:
    """The flow a REGISTER arrived on, kept for NAT traversal (RFC 3581, RFC 5626 §5.2)."""
    return Received(source.hop.transport, source.hop.host, source.hop.port)
