"""The directory sections of the YAML file: one bad snippet per validation rule."""

from __future__ import annotations

import ipaddress
import textwrap

import pytest
import yaml

from proxy.config.errors import ConfigError, ConfigProblem
from proxy.config.loader import validate_document
from proxy.policy.directory import (
    Delegate,
    DelegationStatus,
    Directory,
    Policy,
    Privilege,
    User,
    VipContact,
    VipDelegation,
)
from proxy.policy.plan import RoutingPlan, Stage, Target, TargetRole

USERS = """
users:
  alice: {name: Alice, lines: ["+14155550100", "1000"], endpoints: ["sip:alice@127.0.0.10"]}
  bob: {lines: ["1001"], endpoints: ["sip:bob@127.0.0.11:5060"]}
  carl: {lines: ["1002"], endpoints: ["sip:carl@127.0.0.12:5060"]}
"""

ISSUE_EXAMPLE = """
users:
  alice:                      # a delegator
    name: Alice Chen
    lines: ["+14155550100", "1000"]
    endpoints: ["sip:alice@127.0.0.10:5060"]
  bob:
    name: Bob Diaz
    lines: ["1001"]
    endpoints: ["sip:bob@127.0.0.11:5060"]
delegations:
  alice:
    delegates:
      bob: {privileges: [answer_calls, place_calls, pickup_held_calls, manage_vip_contacts],
            status: accepted}
    vip_delegation:
      enabled: true
      vip_callers: ring_me_then_delegates
      other_callers: ring_delegates_then_me
    vip_contacts:
      - {first_name: Carol, last_name: Ng, company: Acme, email: carol@acme.example,
         numbers: ["+1 (415) 555-0199"]}
    ring_timeout: 20s
    voicemail: sip:vm-alice@127.0.0.20:5060
trusted_peers: ["10.0.0.0/8", "192.0.2.7", "fd00::/8"]
routes:
  "2000":
    stages:
      - targets: ["sip:a@127.0.0.2:5070", "sip:b@127.0.0.3:5070"]
        timeout: 20s
      - {targets: ["sip:c@127.0.0.4:5070"], timeout: 10s}
    fallback: sip:vm@127.0.0.20:5070
  "+1 415 555 0123":
    stages: [{targets: ["sip:d@127.0.0.5:5070"]}]
"""


def load(text: str) -> tuple[Directory | None, list[ConfigProblem]]:
    """Validate the directory sections of ``text`` in a file with one listener."""
    document = {"listen": [{"host": "127.0.0.1"}], **yaml.safe_load(textwrap.dedent(text))}
    try:
        config = validate_document(document, environ={})
    except ConfigError as error:
        return None, error.problems
    return config.directory, []


def expect_problem(text: str, path: str, fragment: str) -> None:
    directory, problems = load(text)
    assert directory is None
    assert [problem.path for problem in problems] == [path], problems
    assert fragment in problems[0].message, problems[0].message


def delegation(body: str) -> str:
    """``USERS`` plus a delegation for alice with ``body`` (YAML, indented 4)."""
    return USERS + "delegations:\n  alice:\n" + textwrap.indent(textwrap.dedent(body), "    ")


BOB_ANSWERS = "delegates: {bob: {privileges: [answer_calls], status: accepted}}\n"
BOB_PENDING = "delegates: {bob: {privileges: [answer_calls], status: pending}}\n"
BOB_CANNOT_ANSWER = "delegates: {bob: {privileges: [place_calls], status: accepted}}\n"
ALL_PRIVILEGES = "answer_calls, place_calls, pickup_held_calls, manage_vip_contacts"


# --- the issue's example ---------------------------------------------------------


def test_the_issue_example_loads() -> None:
    directory, problems = load(ISSUE_EXAMPLE)
    assert problems == []
    assert directory is not None
    assert directory.default_country_code == "1"
    assert directory.users["alice"] == User(
        "alice", "Alice Chen", ("+14155550100", "1000"), ("sip:alice@127.0.0.10:5060",)
    )
    alice = directory.delegations["alice"]
    assert alice.delegates == (Delegate("bob", frozenset(Privilege), DelegationStatus.ACCEPTED),)
    assert alice.vip_delegation == VipDelegation(
        Policy.RING_ME_THEN_DELEGATES, Policy.RING_DELEGATES_THEN_ME
    )
    assert alice.vip_contacts == (
        VipContact("Carol", "Ng", "Acme", "carol@acme.example", ("+14155550199",)),
    )
    assert alice.ring_timeout == 20.0
    assert alice.voicemail == "sip:vm-alice@127.0.0.20:5060"
    assert (alice.vip_display_prefix, alice.other_display_prefix) == ("[VIP] ", "")
    assert directory.trusted_peers == (
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("192.0.2.7/32"),
        ipaddress.ip_network("fd00::/8"),
    )
    assert directory.routes["2000"] == RoutingPlan(
        (
            Stage(
                (
                    Target("sip:a@127.0.0.2:5070", TargetRole.ROUTE),
                    Target("sip:b@127.0.0.3:5070", TargetRole.ROUTE),
                ),
                20.0,
            ),
            Stage((Target("sip:c@127.0.0.4:5070", TargetRole.ROUTE),), 10.0),
        ),
        # The fallback rings for the last stage's timeout.
        fallback=Stage((Target("sip:vm@127.0.0.20:5070", TargetRole.ROUTE),), 10.0),
    )
    # A stage without a timeout rings 20s; the route is found by any spelling.
    assert directory.routes["+1 415 555 0123"].stages[0].timeout == 20.0
    assert directory.route("4155550123") is directory.routes["+1 415 555 0123"]


def test_no_sections_is_an_empty_directory() -> None:
    directory, problems = load("{}")
    assert problems == []
    assert directory == Directory(users={}, delegations={}, routes={})


def test_default_country_code_is_configurable() -> None:
    directory, problems = load(
        """
        numbering: {default_country_code: "44"}
        users:
          ann: {lines: ["020 7946 0000"], endpoints: ["sip:ann@127.0.0.10"]}
        """
    )
    assert problems == []
    assert directory is not None
    assert directory.users["ann"].lines == ("+442079460000",)
    assert directory.line_owner("+44 20 7946 0000") == directory.users["ann"]


def test_vip_delegation_absent_or_disabled_is_none() -> None:
    for body in (
        BOB_ANSWERS,
        BOB_ANSWERS + "vip_delegation: {enabled: false, other_callers: ring_all}\n",
    ):
        directory, problems = load(delegation(body))
        assert problems == []
        assert directory is not None
        alice = directory.delegations["alice"]
        assert alice.vip_delegation is None
        assert (alice.ring_timeout, alice.voicemail) == (20.0, None)  # the defaults


def test_display_prefixes_are_configurable() -> None:
    directory, problems = load(
        delegation(BOB_ANSWERS + "display_prefix: {vip_callers: '* ', other_callers: '[A] '}\n")
    )
    assert problems == []
    assert directory is not None
    alice = directory.delegations["alice"]
    assert (alice.vip_display_prefix, alice.other_display_prefix) == ("* ", "[A] ")


# --- every referenced user exists; privileges and statuses are known --------------


@pytest.mark.parametrize(
    ("text", "path", "fragment"),
    [
        (
            USERS + "delegations: {zed: {}}",
            "delegations.zed",
            "'zed' is not a user; users: alice, bob, carl",
        ),
        (
            delegation("delegates: {zed: {privileges: [], status: accepted}}"),
            "delegations.alice.delegates.zed",
            "'zed' is not a user; users: alice, bob, carl",
        ),
        (
            delegation("delegates: {alice: {privileges: [], status: accepted}}"),
            "delegations.alice.delegates.alice",
            "a user cannot be their own delegate",
        ),
        (
            delegation(
                "delegates: {bob: {privileges: [answer_calls, place_calls, fly], status: accepted}}"
            ),
            "delegations.alice.delegates.bob.privileges[2]",
            f"'fly' is not allowed; allowed: {ALL_PRIVILEGES}",
        ),
        (
            delegation(
                "delegates: {bob: {privileges: [answer_calls, answer_calls], status: accepted}}"
            ),
            "delegations.alice.delegates.bob.privileges[1]",
            "answer_calls is listed twice",
        ),
        (
            delegation("delegates: {bob: {privileges: answer_calls, status: accepted}}"),
            "delegations.alice.delegates.bob.privileges",
            "must be a list",
        ),
        (
            delegation("delegates: {bob: {status: accepted}}"),
            "delegations.alice.delegates.bob.privileges",
            f"is required: a list of: {ALL_PRIVILEGES} (may be empty)",
        ),
        (
            delegation("delegates: {bob: {privileges: [], status: maybe}}"),
            "delegations.alice.delegates.bob.status",
            "'maybe' is not allowed; allowed: pending, accepted, declined",
        ),
        (
            delegation("delegates: {bob: {privileges: []}}"),
            "delegations.alice.delegates.bob.status",
            "is required: one of: pending, accepted, declined",
        ),
        (
            delegation("delegates: {bob: {privileges: [], status: accepted, colour: red}}"),
            "delegations.alice.delegates.bob.colour",
            "unknown key; allowed: privileges, status",
        ),
        (
            delegation("delegates: [bob]"),
            "delegations.alice.delegates",
            "must be a mapping",
        ),
        (
            delegation("assistants: {}"),
            "delegations.alice.assistants",
            "unknown key; allowed: delegates, display_prefix, locked, ring_timeout, vip_contacts,"
            " vip_delegation, voicemail",
        ),
    ],
)
def test_references_privileges_and_statuses(text: str, path: str, fragment: str) -> None:
    expect_problem(text, path, fragment)


# --- at most 15 delegates per delegator and 15 delegators per delegate -------------


def many_users(count: int) -> str:
    return "users:\n" + "".join(
        f"  u{n}: {{lines: ['{2000 + n}'], endpoints: ['sip:u{n}@127.0.0.10']}}\n"
        for n in range(count)
    )


def test_at_most_15_delegates_per_delegator() -> None:
    delegates = ", ".join(f"u{n}: {{privileges: [], status: accepted}}" for n in range(1, 17))
    text = many_users(17) + f"delegations:\n  u0: {{delegates: {{{delegates}}}}}\n"
    expect_problem(text, "delegations.u0.delegates", "16 delegates; at most 15 allowed")


def test_15_delegates_are_allowed() -> None:
    delegates = ", ".join(f"u{n}: {{privileges: [], status: accepted}}" for n in range(1, 16))
    _, problems = load(many_users(16) + f"delegations:\n  u0: {{delegates: {{{delegates}}}}}\n")
    assert problems == []


def test_at_most_15_delegators_per_delegate() -> None:
    delegations = "".join(
        f"  u{n}: {{delegates: {{u0: {{privileges: [], status: accepted}}}}}}\n"
        for n in range(1, 17)
    )
    expect_problem(
        many_users(17) + "delegations:\n" + delegations,
        "delegations.u16.delegates.u0",
        "u0 is a delegate of 16 delegators (u1, u2,",
    )


# --- the policies need an answering delegate; voicemail needs a mailbox ------------


@pytest.mark.parametrize("delegates", [BOB_PENDING, BOB_CANNOT_ANSWER, "delegates: {}\n", ""])
def test_vip_ring_me_then_delegates_needs_an_answering_delegate(delegates: str) -> None:
    expect_problem(
        delegation(
            delegates + "vip_delegation: {enabled: true, vip_callers: ring_me_then_delegates,"
            " other_callers: ring_me_only}\n"
        ),
        "delegations.alice.vip_delegation.vip_callers",
        "ring_me_then_delegates needs at least one delegate with status accepted and the"
        " answer_calls privilege, and there is none; without one allowed: ring_me_only",
    )


@pytest.mark.parametrize(
    "policy",
    ["ring_all", "ring_delegates_then_me", "ring_me_then_delegates", "ring_delegates_only"],
)
@pytest.mark.parametrize("delegates", [BOB_PENDING, BOB_CANNOT_ANSWER])
def test_other_callers_without_answering_delegate(policy: str, delegates: str) -> None:
    expect_problem(
        delegation(
            delegates + "vip_delegation: {enabled: true, vip_callers: ring_me_only,"
            f" other_callers: {policy}}}\n"
        ),
        "delegations.alice.vip_delegation.other_callers",
        f"{policy} needs at least one delegate with status accepted and the answer_calls"
        " privilege, and there is none; without one allowed: ring_me_only, voicemail",
    )


@pytest.mark.parametrize("policy", ["ring_me_only", "voicemail"])
def test_other_callers_allowed_without_answering_delegate(policy: str) -> None:
    _, problems = load(
        delegation(
            BOB_PENDING + "voicemail: sip:vm@127.0.0.20\n"
            f"vip_delegation: {{enabled: true, vip_callers: ring_me_only, other_callers: {policy}}}"
        )
    )
    assert problems == []


def test_a_bad_delegate_is_reported_once_not_again_as_a_policy_problem() -> None:
    expect_problem(
        delegation(
            "delegates: {bob: {privileges: [answer_calls], status: acepted}}\n"
            "vip_delegation: {enabled: true, vip_callers: ring_me_only, other_callers: ring_all}"
        ),
        "delegations.alice.delegates.bob.status",
        "'acepted' is not allowed",
    )


@pytest.mark.parametrize(
    ("vip_delegation", "path", "fragment"),
    [
        (
            "{enabled: true, vip_callers: ring_all, other_callers: ring_all}",
            "vip_callers",
            "'ring_all' is not allowed; allowed: ring_me_only, ring_me_then_delegates",
        ),
        (
            "{enabled: true, vip_callers: voicemail, other_callers: ring_all}",
            "vip_callers",
            "'voicemail' is not allowed; allowed: ring_me_only, ring_me_then_delegates",
        ),
        (
            "{enabled: true, vip_callers: ring_me_only, other_callers: ring_nobody}",
            "other_callers",
            "'ring_nobody' is not allowed; allowed: ring_me_only, ring_all,"
            " ring_me_then_delegates, ring_delegates_then_me, ring_delegates_only, voicemail",
        ),
        (
            "{enabled: true, vip_callers: ring_me_only}",
            "other_callers",
            "is required: one of: ring_me_only, ring_all,",
        ),
        (
            "{enabled: true, other_callers: ring_all}",
            "vip_callers",
            "is required: one of: ring_me_only, ring_me_then_delegates",
        ),
        (
            "{vip_callers: ring_me_only, other_callers: ring_all}",
            "enabled",
            "is required: true or false",
        ),
        (
            "{enabled: yes please, vip_callers: ring_me_only, other_callers: ring_all}",
            "enabled",
            "must be true or false",
        ),
        (
            "{enabled: true, vip_callers: ring_me_only, other_callers: ring_all, when: always}",
            "when",
            "unknown key; allowed: enabled, other_callers, vip_callers",
        ),
        # Disabled, the policies are optional but still checked.
        (
            "{enabled: false, other_callers: ring_everyone}",
            "other_callers",
            "'ring_everyone' is not allowed",
        ),
    ],
)
def test_vip_delegation_settings(vip_delegation: str, path: str, fragment: str) -> None:
    expect_problem(
        delegation(BOB_ANSWERS + f"vip_delegation: {vip_delegation}\n"),
        f"delegations.alice.vip_delegation.{path}",
        fragment,
    )


def test_voicemail_policy_needs_a_voicemail_uri() -> None:
    expect_problem(
        delegation(
            BOB_ANSWERS
            + "vip_delegation: {enabled: true, vip_callers: ring_me_only, other_callers: voicemail}"
        ),
        "delegations.alice.vip_delegation.other_callers",
        "voicemail needs a mailbox: set voicemail (a sip: URI) in this delegation",
    )


# --- VIP contacts: at least one number, numbers normalise --------------------------


@pytest.mark.parametrize(
    ("contacts", "path", "fragment"),
    [
        ("[{first_name: Carol}]", "[0].numbers", "is required: a list of phone numbers"),
        ("[{first_name: Carol, numbers: []}]", "[0].numbers", "needs at least one number"),
        (
            "[{first_name: Carol, numbers: ['+14155550199', 'call me']}]",
            "[0].numbers[1]",
            "'call me' is not a phone number; allowed: digits with an optional leading +",
        ),
        (
            "[{first_name: Carol, numbers: ['+1 (415) 555-0199']},"
            " {first_name: Dave, numbers: ['1000', '4155550199']}]",
            "[1].numbers[1]",
            "+14155550199 is already a number of vip_contacts[0]",
        ),
        (
            "[{first_name: Carol, email: carol.acme.example, numbers: ['1000']}]",
            "[0].email",
            "must be an email address such as carol@acme.example",
        ),
        (
            "[{first_name: Carol, phone: '1000', numbers: ['1000']}]",
            "[0].phone",
            "unknown key; allowed: company, email, first_name, last_name, numbers",
        ),
        ("[Carol]", "[0]", "must be a mapping"),
        (
            "[{first_name: Carol, numbers: [{number: '1000', kind: mobile}]}]",
            "[0].numbers[0]",
            "unknown key 'kind'; allowed: label, number",
        ),
        (
            "[{first_name: Carol, numbers: [{label: mobile}]}]",
            "[0].numbers[0]",
            "number is required: the phone number",
        ),
        (
            "[{first_name: Carol, numbers: [{number: 'call me', label: mobile}]}]",
            "[0].numbers[0]",
            "'call me' is not a phone number",
        ),
        (
            "[{first_name: Carol, numbers: [{number: '1000', label: [mobile]}]}]",
            "[0].numbers[0]",
            "label must be a string, got a list",
        ),
        (
            "[{first_name: Carol, numbers: ['+14155550199']},"
            " {first_name: Dave, numbers: [{number: '4155550199', label: office}]}]",
            "[1].numbers[0]",
            "+14155550199 is already a number of vip_contacts[0]",
        ),
    ],
)
def test_vip_contacts(contacts: str, path: str, fragment: str) -> None:
    expect_problem(
        delegation(BOB_ANSWERS + f"vip_contacts: {contacts}\n"),
        f"delegations.alice.vip_contacts{path}",
        fragment,
    )


def test_vip_numbers_normalise_to_e164() -> None:
    directory, problems = load(
        delegation(
            BOB_ANSWERS + "vip_contacts: [{last_name: Ng, numbers: ['(415) 555-0199', '1234']}]"
        )
    )
    assert problems == []
    assert directory is not None
    assert directory.delegations["alice"].vip_contacts[0].numbers == ("+14155550199", "1234")
    assert directory.vip_contact("alice", "14155550199") is not None


def test_vip_numbers_may_carry_a_label_and_match_as_numbers() -> None:
    directory, problems = load(delegation(
        BOB_ANSWERS + "vip_contacts: [{last_name: Ng, numbers:"
        " [{number: '(415) 555-0199', label: mobile}, '1234']}]"))
    assert problems == []
    assert directory is not None
    assert directory.delegations["alice"].vip_contacts[0].numbers == ("+14155550199", "1234")
    assert directory.vip_contact("alice", "+14155550199") is not None


# --- the rest of a delegation: timeout, mailbox, prefixes --------------------------


@pytest.mark.parametrize(
    ("body", "path", "fragment"),
    [
        ("ring_timeout: forever", "ring_timeout", "must be a duration such as 20s"),
        ("ring_timeout: 0s", "ring_timeout", "0s is out of range; allowed: 0.5s to 180s"),
        ("ring_timeout: 10m", "ring_timeout", "600s is out of range; allowed: 0.5s to 180s"),
        ("voicemail: vm-alice", "voicemail", "must be a sip: URI with an IP address"),
        ("voicemail: 'tel:+14155550100'", "voicemail", "a tel: URI names a number"),
        ("voicemail: 'sip:vm@127.0.0.1:99999'", "voicemail", "Malformed port"),
        ("display_prefix: {vips: '* '}", "display_prefix.vips", "unknown key"),
        ("display_prefix: {vip_callers: [x]}", "display_prefix.vip_callers", "must be a string"),
    ],
)
def test_delegation_fields(body: str, path: str, fragment: str) -> None:
    expect_problem(delegation(BOB_ANSWERS + body), f"delegations.alice.{path}", fragment)


# --- users: lines unique across users, endpoints are SIP URIs ----------------------


@pytest.mark.parametrize(
    ("users", "path", "fragment"),
    [
        (
            "alice: {lines: ['+14155550100'], endpoints: ['sip:a@127.0.0.10']}\n"
            "bob: {lines: ['1 (415) 555-0100'], endpoints: ['sip:b@127.0.0.11']}",
            "users.bob.lines[0]",
            "+14155550100 is already a line of alice; lines are unique",
        ),
        (
            "alice: {lines: ['1000', '1000'], endpoints: ['sip:a@127.0.0.10']}",
            "users.alice.lines[1]",
            "1000 is already a line of this user; lines are unique",
        ),
        (
            "alice: {lines: ['1000', 'front desk'], endpoints: ['sip:a@127.0.0.10']}",
            "users.alice.lines[1]",
            "'front desk' is not a phone number",
        ),
        ("alice: {lines: ['1000']}", "users.alice.endpoints", "is required: a list of sip: URIs"),
        (
            "alice: {lines: ['1000'], endpoints: []}",
            "users.alice.endpoints",
            "needs at least one endpoint",
        ),
        (
            "alice: {endpoints: ['sip:a@127.0.0.10', 'alice@127.0.0.10']}",
            "users.alice.endpoints[1]",
            "must be a sip: URI with an IP address or a host name, such as sip:alice@127.0.0.10",
        ),
        (
            "alice: {endpoints: ['http://127.0.0.10/']}",
            "users.alice.endpoints[0]",
            "Unsupported URI scheme",
        ),
        (
            "alice: {endpoints: ['sip:a@127.0.0.10'], phone: 4155550100}",
            "users.alice.phone",
            "unknown key; allowed: auth, email, endpoints, lines, name",
        ),
        ("alice: [sip:a@127.0.0.10]", "users.alice", "must be a mapping"),
    ],
)
def test_users(users: str, path: str, fragment: str) -> None:
    expect_problem("users:\n" + textwrap.indent(users, "  "), path, fragment)


# --- trusted peers and numbering ---------------------------------------------------


@pytest.mark.parametrize(
    ("text", "path", "fragment"),
    [
        ("trusted_peers: ['10.0.0.1/8']", "trusted_peers[0]", "has host bits set"),
        (
            "trusted_peers: ['10.0.0.0/8', 'the office']",
            "trusted_peers[1]",
            "must be an IP address or network such as 192.0.2.7 or 10.0.0.0/24",
        ),
        ("trusted_peers: 10.0.0.0/8", "trusted_peers", "must be a list"),
        (
            "numbering: {default_country_code: '+44'}",
            "numbering.default_country_code",
            "'+44' is not a country code; allowed: 1 to 3 digits without +",
        ),
        (
            "numbering: {default_country_code: 4444}",
            "numbering.default_country_code",
            "'4444' is not a country code",
        ),
        ("numbering: {country: 44}", "numbering.country", "allowed: default_country_code"),
    ],
)
def test_trusted_peers_and_numbering(text: str, path: str, fragment: str) -> None:
    expect_problem(text, path, fragment)


# --- routes ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("routes", "path", "fragment"),
    [
        (
            "'4155550100': {stages: [{targets: ['sip:x@127.0.0.2']}]}",
            "routes.4155550100",
            "'4155550100' is also a line of alice",
        ),
        (
            "'+14155550123': {stages: [{targets: ['sip:x@127.0.0.2']}]}\n"
            "'415 555 0123': {stages: [{targets: ['sip:y@127.0.0.3']}]}",
            "routes.415 555 0123",
            "'415 555 0123' is the same number as route '+14155550123'",
        ),
        (
            "'front desk': {stages: [{targets: ['sip:x@127.0.0.2']}]}",
            "routes.front desk",
            "must be a phone number or a user name without spaces",
        ),
        ("'2000': {}", "routes.2000.stages", "is required: a list of {targets:"),
        ("'2000': {stages: []}", "routes.2000.stages", "needs at least one stage"),
        ("'2000': {stages: [{timeout: 5s}]}", "routes.2000.stages[0].targets", "is required"),
        (
            "'2000': {stages: [{targets: []}]}",
            "routes.2000.stages[0].targets",
            "needs at least one target",
        ),
        (
            "'2000': {stages: [{targets: ['sip:x@127.0.0.2']}, {targets: ['x@127.0.0.3']}]}",
            "routes.2000.stages[1].targets[0]",
            "must be a sip: URI with an IP address",
        ),
        (
            "'2000': {stages: [{targets: ['sip:x@127.0.0.2'], timeout: soon}]}",
            "routes.2000.stages[0].timeout",
            "must be a duration",
        ),
        (
            "'2000': {stages: [{targets: ['sip:x@127.0.0.2']}], fallback: 'tel:2001'}",
            "routes.2000.fallback",
            "a tel: URI names a number",
        ),
        (
            "'2000': {stages: [{targets: ['sip:x@127.0.0.2'], weight: 2}]}",
            "routes.2000.stages[0].weight",
            "unknown key; allowed: targets, timeout",
        ),
        (
            "'2000': {stages: [{targets: ['sip:x@127.0.0.2']}], backup: 'sip:y@127.0.0.3'}",
            "routes.2000.backup",
            "unknown key; allowed: fallback, stages",
        ),
    ],
)
def test_routes(routes: str, path: str, fragment: str) -> None:
    expect_problem(USERS + "routes:\n" + textwrap.indent(routes, "  "), path, fragment)


def test_every_problem_is_collected() -> None:
    directory, problems = load(
        """
        numbering: {default_country_code: x}
        users:
          alice: {lines: ['nope'], endpoints: []}
        trusted_peers: ['nowhere']
        delegations: {zed: {}}
        routes: {'2000': {}}
        """
    )
    assert directory is None
    assert [problem.path for problem in problems] == [
        "numbering.default_country_code",
        "users.alice.lines[0]",
        "users.alice.endpoints",
        "trusted_peers[0]",
        "delegations.zed",
        "routes.2000.stages",
    ]


# --- outbound ----------------------------------------------------------------------


OUTBOUND = """
outbound:
  - {pattern: '^\\+44\\d{10}$', gateway: "sip:127.0.0.6:5060;transport=tcp"}
  - {prefix: "+1 ", gateway: "sip:127.0.0.5:5060"}
  - {prefix: 9, gateway: "sip:[::1]:5070"}
"""


def test_the_outbound_table_keeps_its_order_and_trusts_its_gateways() -> None:
    directory, problems = load(USERS + OUTBOUND)
    assert directory is not None, problems
    assert [(r.index, r.prefix, r.pattern.pattern if r.pattern else None, r.gateway)
            for r in directory.outbound] == [
        (0, None, r"^\+44\d{10}$", "sip:127.0.0.6:5060;transport=tcp"),
        (1, "+1", None, "sip:127.0.0.5:5060"),
        (2, "9", None, "sip:[::1]:5070"),
    ]
    assert all(directory.is_trusted_peer(peer) for peer in ("127.0.0.5", "127.0.0.6", "::1"))
    assert not directory.is_trusted_peer("127.0.0.7")
    rule = directory.outbound_rule("+1 (212) 555-0147")
    assert rule is not None and rule.index == 1


@pytest.mark.parametrize(
    ("rows", "path", "fragment"),
    [
        ("[{gateway: 'sip:127.0.0.5'}]", "outbound[0]",
         "write either a prefix or a pattern (first match wins), not both"),
        ("[{prefix: '+1', pattern: '^1', gateway: 'sip:127.0.0.5'}]", "outbound[0]",
         "not both"),
        ("[{prefix: '+1x', gateway: 'sip:127.0.0.5'}]", "outbound[0].prefix",
         "'+1x' is not a number prefix; allowed: + and digits"),
        ("[{pattern: '^(+1', gateway: 'sip:127.0.0.5'}]", "outbound[0].pattern",
         "'^(+1' is not a regular expression"),
        ("[{prefix: '+1'}]", "outbound[0].gateway", "is required"),
        ("[{prefix: '+1', gateway: 'sip:trunk@127.0.0.5'}]", "outbound[0].gateway",
         "no user, such as sip:10.0.0.5:5060 or sip:pbx.example.com; the called number"),
        ("[{prefix: '+1', gateway: 'sip:trunk_1.example.net'}]", "outbound[0].gateway",
         "'trunk_1.example.net' is neither an IP address nor a host name"),
        ("[{prefix: '+1', gateway: 'sip:127.0.0.5', weight: 2}]", "outbound[0].weight",
         "allowed: gateway, pattern, prefix"),
        ("{prefix: '+1', gateway: 'sip:127.0.0.5'}", "outbound", "must be a list"),
    ],
)
def test_outbound_rows(rows: str, path: str, fragment: str) -> None:
    expect_problem(USERS + f"outbound: {rows}\n", path, fragment)
