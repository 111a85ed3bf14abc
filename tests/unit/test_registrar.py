"""The registrar (RFC 3261 §10.3) over its in-memory location table, with a fake clock.

Times are plain floats (wall-clock seconds in production): every call gets ``now``.
"""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from proxy.core.services import Reply
from proxy.policy.directory import Directory, User
from proxy.policy.trust import Source, SourceKind
from proxy.registrar import (
    Binding,
    Received,
    Registrar,
    RegistrarResult,
    RegistrarService,
    RegistrarSettings,
)
from proxy.registrar.contacts import same_uri
from proxy.sip.hop import Hop
from proxy.sip.message import Request, parse_message
from proxy.sip.uri import SipUri, parse_uri

DOMAIN = "example.com"
ALICE_AOR = f"sip:alice@{DOMAIN}"
PHONE = "sip:alice@192.0.2.10:5062"
LAPTOP = "sip:alice@192.0.2.11:5064"
FROM_PHONE = Received("UDP", "192.0.2.10", 5062)
T0 = 1_700_000_000.0  # a fake wall clock


def directory() -> Directory:
    users = {
        "alice": User("alice", "Alice", ("+14155550100", "1000"), (), registered=True),
        "bob": User("bob", "Bob", ("+14155550101",), (), registered=True),
        "carol": User("carol", "Carol", ("1002",), ("sip:carol@192.0.2.30",)),
    }
    return Directory(users=users, delegations={}, routes={})


def registrar(**settings: int) -> Registrar:
    return Registrar(directory(), RegistrarSettings(DOMAIN, frozenset({"192.0.2.1"}),
                                                    **settings))


def register(
    *contacts: str,
    to: str = ALICE_AOR,
    uri: str = f"sip:{DOMAIN}",
    call_id: str = "reg-1@192.0.2.10",
    cseq: int = 1,
    extra: Iterable[tuple[str, str]] = (),
) -> Request:
    """A REGISTER as a phone sends it; each of ``contacts`` is one Contact line."""
    lines = [
        f"REGISTER {uri} SIP/2.0",
        "Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-reg",
        "Max-Forwards: 70",
        f"From: <{to}>;tag=reg-tag",
        f"To: <{to}>",
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} REGISTER",
        *(f"Contact: {contact}" for contact in contacts),
        *(f"{name}: {value}" for name, value in extra),
        "Content-Length: 0",
    ]
    parsed = parse_message(("\r\n".join(lines) + "\r\n\r\n").encode())
    assert isinstance(parsed, Request)
    return parsed


def listed(reply: Reply) -> list[str]:
    return [value for name, value in reply.headers if name == "Contact"]


def header(reply: Reply, wanted: str) -> str | None:
    return next((value for name, value in reply.headers if name == wanted), None)


def ok(result: RegistrarResult) -> RegistrarResult:
    assert (result.reply.status, result.reply.reason) == (200, "OK"), result.reply
    return result


# --- add, refresh, remove -------------------------------------------------------------


def test_a_contact_is_added_with_the_default_interval() -> None:
    table = registrar()
    result = ok(table.register(register(f"<{PHONE}>"), FROM_PHONE, "alice", T0))
    assert listed(result.reply) == [f"<{PHONE}>;expires=3600"]
    assert header(result.reply, "Date") == "Tue, 14 Nov 2023 22:13:20 GMT"
    (binding,) = result.saved
    assert binding == Binding(aor=ALICE_AOR, contact=PHONE, expires_at=T0 + 3600,
                              call_id="reg-1@192.0.2.10", cseq=1, received=FROM_PHONE,
                              updated_at=T0)
    assert result.removed == ()
    assert table.bindings_for("alice", T0 + 10) == [binding]


def test_a_refresh_replaces_the_binding_and_restarts_its_interval() -> None:
    table = registrar()
    table.register(register(f"<{PHONE}>"), FROM_PHONE, "alice", T0)
    moved = Received("UDP", "198.51.100.7", 40000)
    result = ok(table.register(register(f"<{PHONE}>", cseq=2,
                                        extra=[("User-Agent", "Phone/2")]),
                               moved, "alice", T0 + 1000))
    (binding,) = result.saved
    assert (binding.expires_at, binding.cseq, binding.received, binding.user_agent) == (
        T0 + 4600, 2, moved, "Phone/2")
    assert listed(result.reply) == [f"<{PHONE}>;expires=3600"]
    assert table.bindings_for(ALICE_AOR, T0 + 1000) == [binding]


def test_another_call_id_updates_the_binding_whatever_its_cseq() -> None:
    # §10.3 step 7: a UA that restarted uses a new Call-ID, maybe with a lower CSeq.
    table = registrar()
    table.register(register(f"<{PHONE}>", cseq=40), FROM_PHONE, "alice", T0)
    result = ok(table.register(register(f"<{PHONE}>", call_id="reboot@192.0.2.10", cseq=1),
                               FROM_PHONE, "alice", T0 + 5))
    assert [b.call_id for b in result.saved] == ["reboot@192.0.2.10"]


def test_expires_zero_removes_the_binding() -> None:
    table = registrar()
    table.register(register(f"<{PHONE}>", f"<{LAPTOP}>"), FROM_PHONE, "alice", T0)
    result = ok(table.register(register(f"<{PHONE}>;expires=0", cseq=2),
                               FROM_PHONE, "alice", T0 + 5))
    assert [b.contact for b in result.removed] == [PHONE]
    assert result.saved == ()
    assert listed(result.reply) == [f"<{LAPTOP}>;expires=3595"]


def test_removing_an_unknown_contact_changes_nothing() -> None:
    table = registrar()
    result = ok(table.register(register(f"<{PHONE}>;expires=0"), FROM_PHONE, "alice", T0))
    assert (result.saved, result.removed, listed(result.reply)) == ((), (), [])


def test_a_register_without_contact_lists_the_bindings() -> None:
    # §10.2.3: a query.
    table = registrar()
    table.register(register(f"<{PHONE}>"), FROM_PHONE, "alice", T0)
    result = ok(table.register(register(cseq=2), FROM_PHONE, "alice", T0 + 60))
    assert (result.saved, result.removed) == ((), ())
    assert listed(result.reply) == [f"<{PHONE}>;expires=3540"]


def test_an_equivalent_uri_is_the_same_binding() -> None:
    # §19.1.4: the host compares caselessly, a parameter in one URI only is ignored.
    table = registrar()
    table.register(register("<sip:alice@Phone.Example.COM:5062>"), FROM_PHONE, "alice", T0)
    result = ok(table.register(register("<sip:alice@phone.example.com:5062;transport=udp>",
                                        cseq=2), FROM_PHONE, "alice", T0 + 1))
    assert [b.contact for b in result.removed] == ["sip:alice@Phone.Example.COM:5062"]
    assert len(table.bindings_for("alice", T0 + 1)) == 1


# --- intervals -------------------------------------------------------------------------


def test_the_contact_parameter_wins_over_the_expires_header() -> None:
    # §10.2.1.1: the expires parameter, else the Expires header.
    table = registrar()
    result = ok(table.register(register(f"<{PHONE}>;expires=300", f"<{LAPTOP}>",
                                        extra=[("Expires", "120")]),
                               FROM_PHONE, "alice", T0))
    assert {b.contact: b.expires_at - T0 for b in result.saved} == {PHONE: 300, LAPTOP: 120}


def test_a_long_interval_is_shortened_to_the_maximum() -> None:
    table = registrar(max_expires=1800, default_expires=1800)
    result = ok(table.register(register(f"<{PHONE}>", extra=[("Expires", "86400")]),
                               FROM_PHONE, "alice", T0))
    assert listed(result.reply) == [f"<{PHONE}>;expires=1800"]


def test_a_malformed_interval_counts_as_an_hour() -> None:
    # §20.10: "Malformed values SHOULD be treated as equivalent to 3600."
    table = registrar()
    result = ok(table.register(register(f"<{PHONE}>;expires=soon"), FROM_PHONE, "alice", T0))
    assert [b.expires_at for b in result.saved] == [T0 + 3600]


@pytest.mark.parametrize("contact, expires", [
    (f"<{PHONE}>", "30"),
    (f"<{PHONE}>;expires=59", "3600"),
])
def test_a_too_brief_interval_gets_423_with_min_expires(contact: str, expires: str) -> None:
    table = registrar()
    result = table.register(register(contact, extra=[("Expires", expires)]),
                            FROM_PHONE, "alice", T0)
    assert (result.reply.status, header(result.reply, "Min-Expires")) == (423, "60")
    assert (result.saved, table.bindings_for("alice", T0)) == ((), [])


def test_423_refuses_the_whole_request() -> None:
    table = registrar(min_expires=120)
    result = table.register(register(f"<{PHONE}>", f"<{LAPTOP}>;expires=90"),
                            FROM_PHONE, "alice", T0)
    assert (result.reply.status, header(result.reply, "Min-Expires")) == (423, "120")
    assert table.bindings_for("alice", T0) == []


def test_the_200_gives_each_contact_its_remaining_interval() -> None:
    table = registrar()
    table.register(register(f"<{PHONE}>"), FROM_PHONE, "alice", T0)
    result = ok(table.register(register(f"<{LAPTOP}>;expires=600", call_id="laptop"),
                               FROM_PHONE, "alice", T0 + 100.5))
    assert listed(result.reply) == [f"<{LAPTOP}>;expires=600", f"<{PHONE}>;expires=3499"]


# --- Contact: * (§10.3 step 6) -------------------------------------------------------


def test_star_with_expires_zero_removes_every_binding() -> None:
    table = registrar()
    table.register(register(f"<{PHONE}>", f"<{LAPTOP}>"), FROM_PHONE, "alice", T0)
    result = ok(table.register(register("*", cseq=2, extra=[("Expires", "0")]),
                               FROM_PHONE, "alice", T0 + 1))
    assert sorted(b.contact for b in result.removed) == [PHONE, LAPTOP]
    assert listed(result.reply) == []
    assert table.bindings_for("alice", T0 + 1) == []
    assert table.next_expiry() is None


@pytest.mark.parametrize("contacts, extra", [
    (("*",), []),
    (("*",), [("Expires", "60")]),
    (("*", f"<{PHONE}>"), [("Expires", "0")]),
])
def test_star_otherwise_is_400(contacts: tuple[str, ...], extra: list[tuple[str, str]]) -> None:
    table = registrar()
    table.register(register(f"<{PHONE}>"), FROM_PHONE, "alice", T0)
    result = table.register(register(*contacts, cseq=2, extra=extra), FROM_PHONE, "alice",
                            T0 + 1)
    assert result.reply.status == 400
    assert "Contact: *" in result.reply.reason
    assert len(table.bindings_for("alice", T0 + 1)) == 1


def test_star_from_an_older_request_of_the_same_call_id_removes_nothing() -> None:
    table = registrar()
    table.register(register(f"<{PHONE}>", cseq=5), FROM_PHONE, "alice", T0)
    table.register(register(f"<{LAPTOP}>", call_id="other"), FROM_PHONE, "alice", T0)
    result = table.register(register("*", cseq=4, extra=[("Expires", "0")]),
                            FROM_PHONE, "alice", T0 + 1)
    assert result.reply.status == 400
    assert len(table.bindings_for("alice", T0 + 1)) == 2


# --- ordering (§10.3 step 7) -----------------------------------------------------------


@pytest.mark.parametrize("cseq", [3, 2])
def test_an_old_or_repeated_cseq_of_the_same_call_id_is_refused(cseq: int) -> None:
    table = registrar()
    (first,) = table.register(register(f"<{PHONE}>", cseq=3), FROM_PHONE, "alice", T0).saved
    result = table.register(register(f"<{PHONE}>;expires=0", f"<{LAPTOP}>", cseq=cseq),
                            FROM_PHONE, "alice", T0 + 1)
    assert result.reply.status == 400
    assert result.reply.reason.startswith("Bad Request (out-of-order REGISTER")
    # All or nothing: the laptop was not added either.
    assert (result.saved, result.removed) == ((), ())
    assert table.bindings_for("alice", T0 + 1) == [first]


# --- q-values ---------------------------------------------------------------------------


def test_contacts_are_ranked_by_q_and_the_q_is_returned() -> None:
    table = registrar()
    result = ok(table.register(
        register(f"<{PHONE}>;q=0.5", f"<{LAPTOP}>;q=0.9", "<sip:alice@192.0.2.12>"),
        FROM_PHONE, "alice", T0))
    assert listed(result.reply) == [
        "<sip:alice@192.0.2.12>;expires=3600",  # no q ranks as 1.0
        f"<{LAPTOP}>;expires=3600;q=0.9",
        f"<{PHONE}>;expires=3600;q=0.5",
    ]
    assert [b.q for b in table.bindings_for("alice", T0)] == [None, 0.9, 0.5]


def test_a_malformed_q_is_400() -> None:
    result = registrar().register(register(f"<{PHONE}>;q=2"), FROM_PHONE, "alice", T0)
    assert (result.reply.status, result.saved) == (400, ())


# --- RFC 5626 instance and reg-id -------------------------------------------------------

INSTANCE = '"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>"'


def test_the_same_instance_and_reg_id_replaces_its_old_contact() -> None:
    table = registrar()
    table.register(register(f"<{PHONE}>;+sip.instance={INSTANCE};reg-id=1"),
                   FROM_PHONE, "alice", T0)
    new_uri = "sip:alice@198.51.100.7:40000"
    result = ok(table.register(
        register(f"<{new_uri}>;+sip.instance={INSTANCE};reg-id=1", call_id="after-reboot"),
        Received("UDP", "198.51.100.7", 40000), "alice", T0 + 30))
    assert [b.contact for b in result.removed] == [PHONE]
    (binding,) = result.saved
    assert (binding.contact, binding.instance_id, binding.reg_id) == (
        new_uri, "<urn:uuid:00000000-0000-1000-8000-000A95A0E128>", 1)
    assert listed(result.reply) == [f"<{new_uri}>;expires=3600;+sip.instance={INSTANCE};reg-id=1"]


def test_another_reg_id_of_the_instance_is_another_binding() -> None:
    table = registrar()
    table.register(register(f"<{PHONE}>;+sip.instance={INSTANCE};reg-id=1"),
                   FROM_PHONE, "alice", T0)
    ok(table.register(register(f"<{LAPTOP}>;+sip.instance={INSTANCE};reg-id=2", cseq=2),
                      FROM_PHONE, "alice", T0 + 1))
    assert len(table.bindings_for("alice", T0 + 1)) == 2


def test_two_contacts_with_the_same_instance_and_reg_id_are_400() -> None:
    result = registrar().register(
        register(f"<{PHONE}>;+sip.instance={INSTANCE};reg-id=1",
                 f"<{LAPTOP}>;+sip.instance={INSTANCE};reg-id=1"),
        FROM_PHONE, "alice", T0)
    assert result.reply.status == 400


# --- RFC 5626 outbound -------------------------------------------------------------------

OUTBOUND_CONTACT = f"<{PHONE};transport=tcp>;+sip.instance={INSTANCE};reg-id=1"
FROM_PHONE_TCP = Received("TCP", "192.0.2.10", 49152)
EDGE_VIA = ("Via", "SIP/2.0/UDP 192.0.2.2;branch=z9hG4bK-edge")  # relayed by an edge proxy


def outbound_headers(result: RegistrarResult) -> list[tuple[str, str]]:
    return [(name, value) for name, value in result.reply.headers
            if name in ("Require", "Flow-Timer")]


@pytest.mark.parametrize(("received", "flow_timer"), [(FROM_PHONE, "25"),
                                                      (FROM_PHONE_TCP, "120")])
def test_a_register_that_uses_outbound_gets_require_and_the_flow_timer_of_its_transport(
    received: Received, flow_timer: str
) -> None:
    # §6: an instance, a reg-id and the option tag; the proxy is the first hop, so it
    # also says how often to send keep-alives (§5.4: 80-100 % of the Flow-Timer).
    result = ok(registrar().register(
        register(OUTBOUND_CONTACT, extra=[("Supported", "path, outbound")]), received,
        "alice", T0))
    assert outbound_headers(result) == [("Require", "outbound"), ("Flow-Timer", flow_timer)]
    (binding,) = result.saved
    assert (binding.received, binding.reg_id) == (received, 1)  # the flow, kept


def test_outbound_may_be_required_and_the_option_tag_may_be_compact() -> None:
    for extra in (("Require", "outbound"), ("k", "outbound")):
        result = ok(registrar().register(register(OUTBOUND_CONTACT, extra=[extra]),
                                         FROM_PHONE_TCP, "alice", T0))
        assert outbound_headers(result) == [("Require", "outbound"), ("Flow-Timer", "120")]


@pytest.mark.parametrize(("contact", "extra"), [
    (OUTBOUND_CONTACT, []),  # reg-id without the option tag
    (f"<{PHONE}>;+sip.instance={INSTANCE}", [("Supported", "outbound")]),  # no reg-id
    (f"<{PHONE}>;reg-id=1", [("Supported", "outbound")]),  # a reg-id alone is ignored
], ids=["no option tag", "no reg-id", "no instance"])
def test_without_instance_reg_id_and_the_option_tag_outbound_is_not_used(
    contact: str, extra: list[tuple[str, str]]
) -> None:
    result = ok(registrar().register(register(contact, extra=extra), FROM_PHONE, "alice", T0))
    assert outbound_headers(result) == []


def test_a_query_with_the_option_tag_does_not_use_outbound() -> None:
    result = ok(registrar().register(register(extra=[("Supported", "outbound")]), FROM_PHONE,
                                     "alice", T0))
    assert outbound_headers(result) == []


def test_through_an_edge_proxy_with_ob_on_its_path_the_edge_sends_the_flow_timer() -> None:
    path = ("Path", "<sip:192.0.2.2;lr;ob>")
    result = ok(registrar().register(
        register(OUTBOUND_CONTACT, extra=[EDGE_VIA, path, ("Supported", "outbound")]),
        Received("UDP", "192.0.2.2", 5060), "alice", T0))
    assert outbound_headers(result) == [("Require", "outbound")]


@pytest.mark.parametrize("path", [[], [("Path", "<sip:192.0.2.2;lr>")]],
                         ids=["no Path", "Path without ob"])
def test_through_an_edge_proxy_without_outbound_the_register_is_439(
    path: list[tuple[str, str]]
) -> None:
    table = registrar()
    result = table.register(
        register(OUTBOUND_CONTACT, extra=[EDGE_VIA, *path, ("Supported", "outbound")]),
        Received("UDP", "192.0.2.2", 5060), "alice", T0)
    assert (result.reply.status, result.reply.reason.split(" (")[0]) == (
        439, "First Hop Lacks Outbound Support")
    assert (result.saved, table.bindings_for("alice", T0)) == ((), [])


# --- Path (RFC 3327) and Received --------------------------------------------------------


def test_path_is_stored_and_returned() -> None:
    table = registrar()
    paths = ("<sip:edge1.example.net;lr>", "<sip:edge2.example.net;lr>")
    result = ok(table.register(register(f"<{PHONE}>", extra=[("Path", paths[0]),
                                                              ("Path", paths[1])]),
                               FROM_PHONE, "alice", T0))
    assert [value for name, value in result.reply.headers if name == "Path"] == list(paths)
    (binding,) = table.bindings_for("alice", T0)
    assert (binding.path, binding.received) == (paths, FROM_PHONE)


def test_no_path_in_the_200_without_one_in_the_request() -> None:
    result = ok(registrar().register(register(f"<{PHONE}>"), FROM_PHONE, "alice", T0))
    assert header(result.reply, "Path") is None


# --- expiry and restore -----------------------------------------------------------------


def test_expire_removes_what_ran_out_and_lookups_ignore_it() -> None:
    table = registrar()
    table.register(register(f"<{PHONE}>;expires=60", f"<{LAPTOP}>;expires=600"),
                   FROM_PHONE, "alice", T0)
    assert table.next_expiry() == T0 + 60
    assert [b.contact for b in table.bindings_for("alice", T0 + 60)] == [LAPTOP]
    assert [b.contact for b in table.expire(T0 + 59.9)] == []
    assert [b.contact for b in table.expire(T0 + 60)] == [PHONE]
    assert table.next_expiry() == T0 + 600
    assert [b.contact for b in table.expire(T0 + 601)] == [LAPTOP]
    assert table.next_expiry() is None


def test_a_register_reports_the_expired_bindings_of_its_aor_as_removed() -> None:
    table = registrar()
    table.register(register(f"<{PHONE}>;expires=60"), FROM_PHONE, "alice", T0)
    result = ok(table.register(register(f"<{LAPTOP}>", call_id="laptop"),
                               FROM_PHONE, "alice", T0 + 100))
    assert [b.contact for b in result.removed] == [PHONE]
    assert listed(result.reply) == [f"<{LAPTOP}>;expires=3600"]


def test_restore_loads_live_bindings_and_returns_the_rest() -> None:
    def binding(aor: str, contact: str, expires_at: float) -> Binding:
        return Binding(aor, contact, expires_at, "c", 1, FROM_PHONE, T0 - 100)

    live = binding(ALICE_AOR, PHONE, T0 + 100)
    expired = binding(ALICE_AOR, LAPTOP, T0)
    unknown = binding(f"sip:zed@{DOMAIN}", PHONE, T0 + 100)
    old_domain = binding("sip:bob@old.example.com", PHONE, T0 + 100)
    static_user = binding(f"sip:carol@{DOMAIN}", PHONE, T0 + 100)
    table = registrar()
    dropped = table.restore([live, expired, unknown, old_domain, static_user], T0)
    assert dropped == [expired, unknown, old_domain, static_user]
    assert table.bindings_for("alice", T0) == [live]
    # A restored binding is refreshed like any other.
    result = ok(table.register(register(f"<{PHONE}>", call_id="c", cseq=2),
                               FROM_PHONE, "alice", T0 + 1))
    assert [b.expires_at for b in result.saved] == [T0 + 3601]


# --- whose address of record ------------------------------------------------------------


@pytest.mark.parametrize("to", [
    "sip:1000@example.com",
    "sip:+14155550100@example.com",
    "sip:4155550100@EXAMPLE.com",
    "sip:alice@192.0.2.1",  # the proxy's own address
])
def test_a_line_number_or_own_address_names_the_canonical_aor(to: str) -> None:
    table = registrar()
    result = ok(table.register(register(f"<{PHONE}>", to=to), FROM_PHONE, "alice", T0))
    assert [b.aor for b in result.saved] == [ALICE_AOR]
    for who in ("alice", ALICE_AOR, "sip:+14155550100@example.com", "tel:+1-415-555-0100",
                "1000"):
        assert len(table.bindings_for(who, T0)) == 1, who
    assert table.bindings_for("bob", T0) == []
    assert table.bindings_for("sip:alice@elsewhere.example.net", T0) == []


@pytest.mark.parametrize("to", [ALICE_AOR, "sip:1000@example.com"])
def test_another_users_address_of_record_is_403(to: str) -> None:
    table = registrar()
    result = table.register(register(f"<{PHONE}>", to=to), FROM_PHONE, "bob", T0)
    assert result.reply.status == 403
    assert result.reply.reason == "Forbidden (bob may register only their own address)"
    assert table.bindings_for("alice", T0) == []


def test_an_address_of_record_nobody_has_gets_the_same_403_as_another_users() -> None:
    # A user learns nothing of the others by registering their names.
    result = registrar().register(register(f"<{PHONE}>", to=f"sip:zed@{DOMAIN}"),
                                  FROM_PHONE, "bob", T0)
    assert (result.reply.status, result.reply.reason) == (
        403, "Forbidden (bob may register only their own address)")


def test_past_the_contact_limit_the_oldest_bindings_make_room() -> None:
    table = registrar(max_contacts=2)
    for index in range(3):  # a phone that moved twice: each address is a new contact
        ok(table.register(register(f"<sip:alice@192.0.2.{20 + index}:5062>",
                                   call_id=f"moved-{index}"), FROM_PHONE, "alice", T0 + index))
    assert {binding.contact for binding in table.bindings_for("alice", T0 + 3)} == {
        "sip:alice@192.0.2.21:5062", "sip:alice@192.0.2.22:5062"}
    assert len(table) == 2


def test_a_register_asking_for_more_contacts_than_the_limit_is_403() -> None:
    table = registrar(max_contacts=2)
    many = [f"<sip:alice@192.0.2.{20 + index}:5062>" for index in range(3)]
    result = table.register(register(*many), FROM_PHONE, "alice", T0)
    assert (result.reply.status, result.reply.reason) == (
        403, "Forbidden (at most 2 contacts per address of record)")
    assert len(table) == 0


def test_a_user_without_registered_endpoints_is_403() -> None:
    result = registrar().register(register(f"<{PHONE}>", to=f"sip:carol@{DOMAIN}"),
                                  FROM_PHONE, "carol", T0)
    assert result.reply.status == 403


@pytest.mark.parametrize("to, uri", [
    ("sip:alice@elsewhere.example.net", f"sip:{DOMAIN}"),  # not our domain
    ("tel:+14155550100", f"sip:{DOMAIN}"),  # not a SIP AOR
    (ALICE_AOR, "sip:elsewhere.example.net"),  # §10.3 step 1: not our registrar
])
def test_not_an_address_of_record_here_is_404(to: str, uri: str) -> None:
    result = registrar().register(register(f"<{PHONE}>", to=to, uri=uri),
                                  FROM_PHONE, "alice", T0)
    assert result.reply.status == 404


def test_an_unsupported_required_extension_is_420() -> None:
    result = registrar().register(register(f"<{PHONE}>", extra=[("Require", "path, gruu")]),
                                  FROM_PHONE, "alice", T0)
    assert (result.reply.status, header(result.reply, "Unsupported")) == (420, "gruu")


# --- the Service port -------------------------------------------------------------------


def test_the_service_answers_and_hands_changes_to_persistence() -> None:
    written: list[RegistrarResult] = []
    service = RegistrarService(registrar(), lambda request, source: source.user,
                               written.append)
    phone = Source(Hop("TCP", "192.0.2.10", 50123), SourceKind.PHONE, "alice")
    reply = service.handle(register(f"<{PHONE}>"), phone, T0)
    assert reply.status == 200
    assert [b.received for r in written for b in r.saved] == [
        Received("TCP", "192.0.2.10", 50123)]
    service.handle(register(cseq=2), phone, T0 + 1)  # a query changes nothing
    assert len(written) == 1
    nobody = Source(Hop("UDP", "203.0.113.9", 5060), SourceKind.UNTRUSTED)
    assert service.handle(register(f"<{PHONE}>"), nobody, T0).status == 403


# --- URI comparison (§19.1.4) -----------------------------------------------------------


def sip(text: str) -> SipUri:
    uri = parse_uri(text)
    assert isinstance(uri, SipUri)
    return uri


@pytest.mark.parametrize("a, b, same", [
    ("sip:alice@a.example.com", "sip:alice@A.EXAMPLE.COM", True),
    ("sip:%61lice@a.example.com", "sip:alice@a.example.com", True),
    ("sip:Alice@a.example.com", "sip:alice@a.example.com", False),
    ("sip:alice@a.example.com", "sip:alice@a.example.com:5060", False),
    ("sip:alice@a.example.com;transport=tcp", "sip:alice@a.example.com", True),
    ("sip:alice@a.example.com;transport=tcp", "sip:alice@a.example.com;transport=udp", False),
    ("sip:alice@a.example.com;maddr=192.0.2.1", "sip:alice@a.example.com", False),
    ("sip:alice@a.example.com?subject=x", "sip:alice@a.example.com", False),
])
def test_same_uri(a: str, b: str, same: bool) -> None:
    assert same_uri(sip(a), sip(b)) is same
    assert same_uri(sip(b), sip(a)) is same
