"""The Event header of SUBSCRIBE and NOTIFY (RFC 6665 §8.2.1): which event package
a subscription is for, and its ``id`` parameter."""

from __future__ import annotations

from dataclasses import dataclass

from proxy.sip.errors import SipParseError
from proxy.sip.message import Request
from proxy.sip.params import Params, find_param, format_params, parse_params

# RFC 4235 §3.1: the dialog event package, what busy lamps subscribe to.
DIALOG_PACKAGE = "dialog"


@dataclass(frozen=True, slots=True)
class Event:
    """``Event: dialog;id=7``: the package name (lower case) and its parameters."""

    package: str
    params: Params = ()

    @property
    def id(self) -> str | None:
        """RFC 6665 §8.2.1: the ``id`` that tells subscriptions in one dialog apart."""
        return find_param(self.params, "id")

    def __str__(self) -> str:
        return f"{self.package}{format_params(self.params)}"


def request_event(request: Request) -> Event | None:
    """The request's Event (compact form ``o``); None when it has none or it does
    not parse. Package names are tokens; they are compared in lower case, as phones
    are not all careful about case."""
    value = request.header("event")
    if not value:
        return None
    package, _, rest = value.partition(";")
    package = package.strip().lower()
    if not package:
        return None
    try:
        params = parse_params(rest) if rest else ()
    except SipParseError:
        return None
    return Event(package, params)
