"""The ``delegations`` section: delegates, VIP delegation, VIP contacts.

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

Rules that relate delegations to each other (nobody delegates to themselves, 15
delegators per delegate) are in ``proxy.config.document``.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StrictBool, field_validator, model_validator
from pydantic_core import InitErrorDetails, ValidationError

from proxy.config.addresses import (
    ContactNumber,
    Email,
    LabelledPhoneNumber,
    SipTarget,
    UserRef,
)
from proxy.config.checks import (
    Loc,
    OneOf,
    Seconds,
    Section,
    Text,
    at_least_one,
    fail,
    min_items,
    problems_at,
)
from proxy.policy.directory import (
    DEFAULT_RING_TIMEOUT,
    DEFAULT_VIP_DISPLAY_PREFIX,
    POLICIES_WITHOUT_DELEGATES,
    VIP_POLICIES,
    DelegationStatus,
    Policy,
    Privilege,
)

MAX_DELEGATES_PER_DELEGATOR = 15
# Seconds a stage may ring: long enough for a person, short enough that the
# caller hears an outcome before RFC 3261 Timer C (> 3 min) cancels the branch.
RING_TIMEOUT = Seconds(0.5, 180.0)

_PRIVILEGES = OneOf(Privilege)
_STATUSES = OneOf(DelegationStatus)
# The policies each key of ``vip_delegation`` may name.
POLICY_CHOICES: dict[str, tuple[Policy, ...]] = {"vip_callers": VIP_POLICIES,
                                                 "other_callers": tuple(Policy)}
_VIP_POLICIES = OneOf(VIP_POLICIES)
_POLICIES = OneOf(Policy)


class Delegate(Section):
    privileges: Annotated[
        tuple[Annotated[Privilege, _PRIVILEGES], ...],
        Field(description=f"a list of: {_PRIVILEGES.allowed()} (may be empty)"),
    ]
    status: Annotated[
        DelegationStatus, _STATUSES, Field(description=f"one of: {_STATUSES.allowed()}")
    ]

    @field_validator("privileges")
    @classmethod
    def _listed_once(cls, privileges: tuple[Privilege, ...]) -> tuple[Privilege, ...]:
        twice = [
            ((index,), f"{privilege} is listed twice")
            for index, privilege in enumerate(privileges)
            if privilege in privileges[:index]
        ]
        if twice:
            raise problems_at(twice)
        return privileges


class VipDelegation(Section):
    enabled: Annotated[StrictBool, Field(description="true or false")]
    # Both policies must be chosen explicitly when enabled; when disabled they are
    # optional but still checked, so switching VIP delegation on cannot break.
    vip_callers: Annotated[
        Policy | None,
        _VIP_POLICIES,
        Field(description=f"one of: {_VIP_POLICIES.allowed()}"),
    ] = None
    other_callers: Annotated[
        Policy | None, _POLICIES, Field(description=f"one of: {_POLICIES.allowed()}")
    ] = None

    @model_validator(mode="after")
    def _policies_when_enabled(self) -> VipDelegation:
        if not self.enabled:
            return self
        missing = [
            InitErrorDetails(type="missing", loc=(key,), input=None)
            for key in ("vip_callers", "other_callers")
            if getattr(self, key) is None
        ]
        if missing:
            raise ValidationError.from_exception_data("vip_delegation", missing)
        return self


class VipContact(Section):
    first_name: Annotated[str, Text()] = ""
    last_name: Annotated[str, Text()] = ""
    company: Annotated[str, Text()] = ""
    email: Annotated[str, Email()] = ""
    numbers: Annotated[
        tuple[Annotated[ContactNumber, LabelledPhoneNumber()], ...],
        at_least_one("number"),
        Field(description="a list of phone numbers, each a number or {number, label}",
              json_schema_extra=min_items(1)),
    ]


class DisplayPrefix(Section):
    """Put before the caller's name on INVITEs to delegates' phones."""

    vip_callers: Annotated[str, Text()] = DEFAULT_VIP_DISPLAY_PREFIX
    other_callers: Annotated[str, Text()] = ""


class Delegation(Section):
    delegates: Annotated[
        dict[Annotated[str, UserRef()], Delegate],
        Field(
            description=f"user id -> {{privileges, status}}; at most"
            f" {MAX_DELEGATES_PER_DELEGATOR}",
            json_schema_extra={"maxProperties": MAX_DELEGATES_PER_DELEGATOR},
            default_factory=dict,
        ),
    ]
    vip_delegation: Annotated[
        VipDelegation | None,
        Field(description="absent or disabled: the line rings everyone together"),
    ] = None
    vip_contacts: Annotated[
        tuple[VipContact, ...], Field(description="callers treated as VIPs")
    ] = ()
    ring_timeout: Annotated[
        float, RING_TIMEOUT, Field(description="how long each stage rings")
    ] = DEFAULT_RING_TIMEOUT
    voicemail: Annotated[str | None, SipTarget(), Field(description="the shared mailbox")] = None
    display_prefix: Annotated[DisplayPrefix, Field(default_factory=DisplayPrefix)]
    locked: Annotated[
        StrictBool,
        Field(description="true: this entry of the file is the delegation, and the users'"
                          " changes through the API are refused (403)"),
    ] = False

    @field_validator("delegates")
    @classmethod
    def _at_most_15(cls, delegates: dict[str, Delegate]) -> dict[str, Delegate]:
        if len(delegates) > MAX_DELEGATES_PER_DELEGATOR:
            raise fail(
                f"{len(delegates)} delegates; at most {MAX_DELEGATES_PER_DELEGATOR} allowed"
                " per delegator"
            )
        return delegates

    @field_validator("vip_contacts")
    @classmethod
    def _numbers_once(cls, contacts: tuple[VipContact, ...]) -> tuple[VipContact, ...]:
        owner: dict[str, int] = {}  # E.164 number -> index of its contact
        problems: list[tuple[Loc, str]] = []
        for index, contact in enumerate(contacts):
            for position, entry in enumerate(contact.numbers):
                if entry.number in owner:
                    problems.append(((index, "numbers", position),
                                     f"{entry.number} is already a number of"
                                     f" vip_contacts[{owner[entry.number]}]"))
                else:
                    owner[entry.number] = index
        if problems:
            raise problems_at(problems)
        return contacts

    @model_validator(mode="after")
    def _policies_can_ring(self) -> Delegation:
        """The policies need someone to ring: an answering delegate, a mailbox."""
        if self.vip_delegation is None:
            return self
        answering = any(
            d.status is DelegationStatus.ACCEPTED and Privilege.ANSWER_CALLS in d.privileges
            for d in self.delegates.values()
        )
        problems: list[tuple[Loc, str]] = []
        for key, choices in POLICY_CHOICES.items():
            policy = getattr(self.vip_delegation, key)
            if policy is not None:
                problems.extend((("vip_delegation", key), why) for why in policy_refusals(
                    policy, choices, answering=answering, mailbox=self.voicemail is not None))
        if problems:
            raise problems_at(problems)
        return self


def policy_refusals(policy: Policy, choices: tuple[Policy, ...], *, answering: bool,
                    mailbox: bool) -> list[str]:
    """Why ``policy`` (one of ``choices``) cannot ring anyone in a delegation with
    (``answering``) or without an accepted delegate holding ``answer_calls``, and
    with or without a ``mailbox``; empty when it can. The file's check and the
    console's list of choices (``GET /me``) both ask here."""
    refusals = []
    if not answering and policy not in POLICIES_WITHOUT_DELEGATES:
        without = ", ".join(p for p in choices if p in POLICIES_WITHOUT_DELEGATES)
        refusals.append(f"{policy} needs at least one delegate with status accepted and the"
                        f" answer_calls privilege, and there is none; without one allowed:"
                        f" {without}")
    if policy is Policy.VOICEMAIL and not mailbox:
        refusals.append("voicemail needs a mailbox: set voicemail (a sip: URI) in this"
                        " delegation")
    return refusals
