"""The dialog event package's body: ``application/dialog-info+xml`` (RFC 4235 §4).

A document is full state (§4.1: ``state="full"``: the line's live dialogs and
those that just ended) or, on a busy line, partial (only the dialogs that
changed), each with what a phone needs to show a lamp and to
pick the call up (§4.1.6: the ``call-id`` and both tags for a Replaces or a
directed pick-up, the ``<target>`` of each side). A line with nothing to show
still gets one dialog in state terminated, as some phones need a node.

Values come from the network (display names, URIs), so every value is escaped
(``xml.sax.saxutils``) after dropping the characters XML 1.0
cannot carry at all.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from xml.sax.saxutils import escape, quoteattr

from proxy.dialog.views import DialogState, DialogView, HeldBy, Party

CONTENT_TYPE = "application/dialog-info+xml"
NAMESPACE = "urn:ietf:params:xml:ns:dialog-info"
_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'
# XML 1.0 §2.2 Char; lone surrogates (undecodable bytes kept by the parser) included.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# RFC 4235 §4.1.6.2 / RFC 3840: the feature parameter that says whether a side
# renders the call's media, which is how a lamp shows a held call.
_RENDERING = "+sip.rendering"
# What a value cannot carry as it is: markup, the white space an attribute value
# normalises, and what XML 1.0 cannot carry at all (_NOT_XML).
_SPECIAL = re.compile(f'[&<>"\t\n\r]|{_NOT_XML.pattern}')
# Attribute values are always written in double quotes.
_ATTRIBUTE_ENTITIES = {'"': "&quot;"}
_TEXT_ENTITIES = {"\r": "&#13;"}
# Serialised dialogs kept for reuse: the live dialogs of the busiest lines.
_DIALOGS_CACHED = 4096


def full_state(entity: str, version: int, dialogs: Sequence[DialogView],
               idle_id: str) -> bytes:
    """The document for ``entity`` (the URI watched) with every dialog shown,
    numbered ``version`` (§4.1: counts up from 0 within a subscription);
    ``idle_id`` names the placeholder dialog of a line with none."""
    return full_state_of(entity, version, "".join(map(dialog_xml, dialogs)), idle_id)


def full_state_of(entity: str, version: int, dialogs: str, idle_id: str) -> bytes:
    """``full_state`` with the dialogs serialised already (``dialog_xml`` each): the
    watchers of one line share that text, only the root differs (its version)."""
    if not dialogs:
        dialogs = (f"<dialog id={quoteattr(_text(idle_id))}>"
                   f"<state>{DialogState.TERMINATED.value}</state></dialog>")
    return _document(entity, version, "full", dialogs)


def partial_state(entity: str, version: int, dialogs: str) -> bytes:
    """§4.1 ``state="partial"``: only the dialogs that changed since the document
    numbered ``version - 1`` (serialised, ``dialog_xml`` each); the watcher keeps
    the others as they were."""
    return _document(entity, version, "partial", dialogs)


def _document(entity: str, version: int, state: str, dialogs: str) -> bytes:
    """Only the root differs between the watchers of one line (its ``version``), so
    it is written as text around the dialogs."""
    return (f'{_DECLARATION}<dialog-info xmlns="{NAMESPACE}" version="{version}" '
            f'state="{state}" entity={_entity_attribute(entity)}>{dialogs}</dialog-info>'
            ).encode()


@lru_cache(maxsize=_DIALOGS_CACHED)
def _entity_attribute(entity: str) -> str:
    """The quoted ``entity`` value: one per subscription, the same in each NOTIFY."""
    return quoteattr(_text(entity))


@lru_cache(maxsize=_DIALOGS_CACHED)
def dialog_xml(dialog: DialogView) -> str:
    """One ``dialog`` element (§4.1.1): attributes, then ``state``, ``local`` and
    ``remote`` in the order of the schema (§4.3). Written as text, every value
    escaped (a tree and its serialiser cost five times as much, once per change of
    every dialog); views are frozen, so a view that did not change is the same key
    and its text is reused."""
    attributes = "".join(
        f" {name}={_attribute(value)}"
        for name, value in (("id", dialog.id), ("call-id", dialog.call_id),
                            ("local-tag", dialog.local_tag), ("remote-tag", dialog.remote_tag),
                            ("direction", dialog.direction.value))
        if value)
    if dialog.state is DialogState.TERMINATED:
        # The lamp goes out: the dialog's ids, the state and why (cancelled,
        # rejected...) are all a watcher uses; who took part it was shown before.
        # The sides are optional (§4.1.6), and a busy line's partial NOTIFY carries
        # many ended dialogs, so leaving them out keeps it small (RFC 3261 §18.1.1).
        event = f" event={_attribute(dialog.terminated_by)}" if dialog.terminated_by else ""
        return f"<dialog{attributes}><state{event}>{dialog.state.value}</state></dialog>"
    confirmed = dialog.state is DialogState.CONFIRMED
    sides = "".join(
        _participant(name, party, None if not confirmed
                     else "no" if dialog.held_by is holding else "yes")
        for name, party, holding in (("local", dialog.local, HeldBy.LOCAL),
                                     ("remote", dialog.remote, HeldBy.REMOTE)))
    return f"<dialog{attributes}><state>{dialog.state.value}</state>{sides}</dialog>"


def _participant(name: str, party: Party, rendering: str | None) -> str:
    """§4.1.6: who the side is (``identity``) and where its phone is (``target``,
    the dialog's remote target; none while a branch has not answered)."""
    if not party.identity and not party.target:
        return ""
    identity = target = ""
    if party.identity:
        display = f" display={_attribute(party.display)}" if party.display else ""
        identity = f"<identity{display}>{_escaped(party.identity)}</identity>"
    if party.target:
        uri = f"<target uri={_attribute(party.target)}"
        target = (f'{uri}><param pname="{_RENDERING}" pvalue="{rendering}" /></target>'
                  if rendering is not None else f"{uri} />")
    return f"<{name}>{identity}{target}</{name}>"


def _attribute(value: str) -> str:
    """An attribute value, quoted and escaped (quoteattr also writes tabs and line
    ends as references, XML 1.0 §3.3.3, or a parser would turn them into spaces)."""
    if _SPECIAL.search(value) is None:  # the common case: nothing to escape
        return f'"{value}"'
    return quoteattr(_text(value), _ATTRIBUTE_ENTITIES)


def _escaped(value: str) -> str:
    """Element text, escaped; a carriage return as a reference, or a parser would
    read it as a line feed (XML 1.0 §2.11)."""
    return value if _SPECIAL.search(value) is None else escape(_text(value), _TEXT_ENTITIES)


def _text(value: str) -> str:
    return _NOT_XML.sub("?", value)
