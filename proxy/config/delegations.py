"""Read the ``delegations`` section: delegates, VIP delegation, VIP contacts.

Shape of one entry (every key optional; inside ``vip_delegation``, ``enabled`` is
required, and both policies are when it is true)::

    alice:
      delegates:
        bob: {privileges: [answer_calls], status: accepted}
      vip_delegation: {enabled: true, vip_callers: ring_me_then_delegates,
                       other_callers: ring_delegates_then_me}
      vip_contacts: [{first_name: Carol, numbers: ["+1 (415) 555-0199"]}]
      ring_timeout: 20s
      voicemail: sip:vm-alice@127.0.0.20:5060
      display_prefix: {vip_callers: "[VIP] ", other_callers: ""}
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from proxy.config.fields import (
    items_of,
    mapping_of,
    non_empty_items,
    phone_number,
    required,
    ring_timeout,
    sip_uri,
)
from proxy.config.reader import Node
from proxy.policy.directory import (
    DEFAULT_RING_TIMEOUT,
    DEFAULT_VIP_DISPLAY_PREFIX,
    POLICIES_WITHOUT_DELEGATES,
    VIP_POLICIES,
    Delegate,
    Delegation,
    DelegationStatus,
    Policy,
    Privilege,
    User,
    VipContact,
    VipDelegation,
)

MAX_DELEGATES_PER_DELEGATOR = 15
MAX_DELEGATORS_PER_DELEGATE = 15
_DELEGATION_KEYS = (
    "delegates",
    "vip_delegation",
    "vip_contacts",
    "ring_timeout",
    "voicemail",
    "display_prefix",
)
_CONTACT_TEXT_KEYS = ("first_name", "last_name", "company", "email")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


def read_delegations(
    node: Node | None, users: dict[str, User], default_country_code: str
) -> dict[str, Delegation]:
    """``delegations``: delegator id -> their delegation, checked against ``users``."""
    delegations: dict[str, Delegation] = {}
    delegators_of: dict[str, list[str]] = {}
    for delegator, delegation_node in mapping_of(node).items():
        if delegator not in users:
            delegation_node.problem(_not_a_user(delegator, users))
            continue
        delegation = _delegation(
            delegator, delegation_node, users, default_country_code, delegators_of
        )
        if delegation is not None:
            delegations[delegator] = delegation
    return delegations


def _delegation(
    delegator: str,
    node: Node,
    users: dict[str, User],
    default_country_code: str,
    delegators_of: dict[str, list[str]],
) -> Delegation | None:
    fields = node.mapping(_DELEGATION_KEYS)
    if fields is None:
        return None
    delegates = _delegates(delegator, fields.get("delegates"), users, delegators_of)
    # Only judge "has an answering delegate" when every delegate could be read, so a
    # typo in one delegate's status is reported once, not again as a policy problem.
    valid = [delegate for delegate in delegates if delegate is not None]
    answering = any(d.answers_calls for d in valid) if len(valid) == len(delegates) else None
    voicemail_node = fields.get("voicemail")
    timeout_node = fields.get("ring_timeout")
    timeout = ring_timeout(timeout_node) if timeout_node else DEFAULT_RING_TIMEOUT
    vip_prefix, other_prefix = _display_prefixes(fields.get("display_prefix"))
    return Delegation(
        delegator=delegator,
        delegates=tuple(valid),
        vip_delegation=_vip_delegation(
            fields.get("vip_delegation"), node, answering, voicemail_node is not None
        ),
        vip_contacts=_vip_contacts(fields.get("vip_contacts"), default_country_code),
        ring_timeout=timeout or DEFAULT_RING_TIMEOUT,  # None only with a problem recorded
        voicemail=sip_uri(voicemail_node) if voicemail_node else None,
        vip_display_prefix=vip_prefix,
        other_display_prefix=other_prefix,
    )


def _delegates(
    delegator: str,
    node: Node | None,
    users: dict[str, User],
    delegators_of: dict[str, list[str]],
) -> list[Delegate | None]:
    """The delegates in configuration order; None for one that could not be read."""
    children = mapping_of(node)
    if node is not None and len(children) > MAX_DELEGATES_PER_DELEGATOR:
        node.problem(
            f"{len(children)} delegates; at most {MAX_DELEGATES_PER_DELEGATOR} allowed"
            " per delegator"
        )
    delegates: list[Delegate | None] = []
    for user_id, delegate_node in children.items():
        if user_id not in users:
            delegate_node.problem(_not_a_user(user_id, users))
            delegates.append(None)
            continue
        if user_id == delegator:
            delegate_node.problem("a user cannot be their own delegate")
            delegates.append(None)
            continue
        delegators = delegators_of.setdefault(user_id, [])
        delegators.append(delegator)
        if len(delegators) > MAX_DELEGATORS_PER_DELEGATE:
            delegate_node.problem(
                f"{user_id} is a delegate of {len(delegators)} delegators"
                f" ({', '.join(delegators)}); at most {MAX_DELEGATORS_PER_DELEGATE} allowed"
                " per delegate"
            )
        delegates.append(_delegate(user_id, delegate_node))
    return delegates


def _delegate(user_id: str, node: Node) -> Delegate | None:
    fields = node.mapping(("privileges", "status")) or {}
    privileges_node = required(
        fields, "privileges", node, f"a list of: {_choices(Privilege)} (may be empty)"
    )
    privileges = _privileges(privileges_node) if privileges_node else None
    status_node = required(fields, "status", node, f"one of: {_choices(DelegationStatus)}")
    status = status_node.string(_choices_list(DelegationStatus)) if status_node else None
    if privileges is None or status is None:
        return None
    return Delegate(user_id, privileges, DelegationStatus(status))


def _privileges(node: Node) -> frozenset[Privilege] | None:
    items = node.items()
    if items is None:
        return None
    privileges: set[Privilege] = set()
    complete = True
    for item in items:
        name = item.string(_choices_list(Privilege))
        if name is None:
            complete = False
        elif Privilege(name) in privileges:
            item.problem(f"{name} is listed twice")
        else:
            privileges.add(Privilege(name))
    return frozenset(privileges) if complete else None


def _vip_delegation(
    node: Node | None, delegation_node: Node, answering: bool | None, has_voicemail: bool
) -> VipDelegation | None:
    """``vip_delegation``; None when absent or disabled (the line rings everyone then)."""
    if node is None:
        return None
    fields = node.mapping(("enabled", "vip_callers", "other_callers"))
    if fields is None:
        return None
    enabled_node = required(fields, "enabled", node, "true or false")
    enabled = enabled_node.boolean() if enabled_node else None
    policies: list[Policy | None] = []
    for key, allowed in (("vip_callers", VIP_POLICIES), ("other_callers", tuple(Policy))):
        # Both policies must be chosen explicitly when enabled; when disabled they are
        # optional but still checked, so switching VIP delegation on cannot break.
        policy_node = (
            required(fields, key, node, f"one of: {_choices(allowed)}")
            if enabled
            else fields.get(key)
        )
        policies.append(
            _policy(policy_node, allowed, answering, has_voicemail, delegation_node)
            if policy_node
            else None
        )
    vip_callers, other_callers = policies
    if enabled and vip_callers is not None and other_callers is not None:
        return VipDelegation(vip_callers, other_callers)
    return None


def _policy(
    node: Node,
    allowed: tuple[Policy, ...],
    answering: bool | None,
    has_voicemail: bool,
    delegation_node: Node,
) -> Policy | None:
    name = node.string(_choices_list(allowed))
    if name is None:
        return None
    policy = Policy(name)
    if answering is False and policy not in POLICIES_WITHOUT_DELEGATES:
        without = [p for p in allowed if p in POLICIES_WITHOUT_DELEGATES]
        node.problem(
            f"{name} needs at least one delegate with status accepted and the answer_calls"
            f" privilege, and there is none; without one allowed: {_choices(without)}"
        )
    if policy is Policy.VOICEMAIL and not has_voicemail:
        node.problem(f"voicemail needs a mailbox: set {delegation_node.path}.voicemail")
    return policy


def _vip_contacts(node: Node | None, default_country_code: str) -> tuple[VipContact, ...]:
    contacts: list[VipContact] = []
    owner_of_number: dict[str, str] = {}  # E.164 number -> path of its contact
    for contact_node in items_of(node):
        fields = contact_node.mapping((*_CONTACT_TEXT_KEYS, "numbers"))
        if fields is None:
            continue
        texts = {key: _text(fields.get(key)) for key in _CONTACT_TEXT_KEYS}
        email_node = fields.get("email")
        if email_node is not None and texts["email"] and not _EMAIL.match(texts["email"]):
            email_node.problem("must be an email address such as carol@acme.example")
        numbers_node = required(fields, "numbers", contact_node, "a list of phone numbers")
        numbers: list[str] = []
        for number_node in non_empty_items(numbers_node, "number") if numbers_node else []:
            number = phone_number(number_node, default_country_code)
            if number is None:
                continue
            if number in owner_of_number:
                number_node.problem(f"{number} is already a number of {owner_of_number[number]}")
                continue
            owner_of_number[number] = contact_node.path
            numbers.append(number)
        contacts.append(VipContact(numbers=tuple(numbers), **texts))
    return tuple(contacts)


def _display_prefixes(node: Node | None) -> tuple[str, str]:
    """``display_prefix``: (for VIP callers, for other callers) on INVITEs to delegates."""
    fields = mapping_of(node, ("vip_callers", "other_callers"))
    vip = fields.get("vip_callers")
    other = fields.get("other_callers")
    return (
        _text(vip) if vip is not None else DEFAULT_VIP_DISPLAY_PREFIX,
        _text(other),
    )


def _text(node: Node | None) -> str:
    """An optional string; absent reads as empty."""
    return (node.string() or "") if node is not None else ""


def _not_a_user(user_id: str, users: dict[str, User]) -> str:
    return f"{user_id!r} is not a user; users: {', '.join(sorted(users)) or 'none defined'}"


def _choices_list(choices: Iterable[Policy | Privilege | DelegationStatus]) -> list[str]:
    return [choice.value for choice in choices]


def _choices(choices: Iterable[Policy | Privilege | DelegationStatus]) -> str:
    return ", ".join(_choices_list(choices))
