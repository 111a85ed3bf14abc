"""Read the directory sections of the YAML file into a validated ``Directory``.

Top-level keys read here (``DIRECTORY_SECTIONS``): ``numbering``, ``users``,
``trusted_peers``, ``delegations`` and ``routes``. The loader owns the other
top-level keys and reports unknown ones; it hands the directory sections to
``read_directory``. Every problem names its path and what is allowed there.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

from proxy.config.delegations import read_delegations
from proxy.config.fields import (
    items_of,
    mapping_of,
    non_empty_items,
    phone_number,
    required,
    sip_uri,
)
from proxy.config.reader import Node
from proxy.config.routes import read_routes
from proxy.policy.directory import DEFAULT_COUNTRY_CODE, Directory, IpNetwork, User
from proxy.policy.numbers import is_country_code

DIRECTORY_SECTIONS = ("numbering", "users", "trusted_peers", "delegations", "routes")


def read_directory(sections: Mapping[str, Node]) -> Directory | None:
    """The directory from the top-level nodes named in ``DIRECTORY_SECTIONS``.

    Missing sections are empty (``numbering.default_country_code`` defaults to
    "1"). Returns None when any problem was found; the problems are on the nodes'
    shared list.
    """
    problems = next(iter(sections.values())).problems if sections else []
    problems_before = len(problems)
    country_code = _country_code(sections.get("numbering"))
    line_owners: dict[str, str] = {}
    users = _users(sections.get("users"), country_code, line_owners)
    trusted_peers = _trusted_peers(sections.get("trusted_peers"))
    delegations = read_delegations(sections.get("delegations"), users, country_code)
    routes = read_routes(sections.get("routes"), line_owners, country_code)
    if len(problems) > problems_before:
        return None
    return Directory(users, delegations, routes, trusted_peers, country_code)


def _country_code(node: Node | None) -> str:
    """``numbering.default_country_code``: the code for numbers written without one."""
    code_node = mapping_of(node, ("default_country_code",)).get("default_country_code")
    if code_node is None:
        return DEFAULT_COUNTRY_CODE
    code = code_node.string()
    if code is None:
        return DEFAULT_COUNTRY_CODE
    if not is_country_code(code):
        code_node.problem(
            f"{code!r} is not a country code; allowed: 1 to 3 digits without +, such as 1 or 44"
        )
        return DEFAULT_COUNTRY_CODE
    return code


def _users(node: Node | None, country_code: str, line_owners: dict[str, str]) -> dict[str, User]:
    """``users``: id -> name, lines, endpoints. Fills ``line_owners`` (E.164 line -> id).

    A user with problems is still returned, so that references to them from
    ``delegations`` do not add a second, misleading problem.
    """
    users: dict[str, User] = {}
    for user_id, user_node in mapping_of(node).items():
        fields = user_node.mapping(("name", "lines", "endpoints"))
        if fields is None:
            users[user_id] = User(user_id, user_id, (), ())
            continue
        name_node = fields.get("name")
        name = name_node.string() if name_node is not None else None
        lines = _lines(fields.get("lines"), user_id, country_code, line_owners)
        endpoints_node = required(
            fields, "endpoints", user_node, "a list of sip: URIs where the user's phones ring"
        )
        endpoints = non_empty_items(endpoints_node, "endpoint") if endpoints_node else []
        users[user_id] = User(
            id=user_id,
            name=name or user_id,
            lines=lines,
            endpoints=tuple(uri for uri in map(sip_uri, endpoints) if uri is not None),
        )
    return users


def _lines(
    node: Node | None, user_id: str, country_code: str, line_owners: dict[str, str]
) -> tuple[str, ...]:
    """A user's lines, normalised; a line may belong to one user only."""
    lines: list[str] = []
    for line_node in items_of(node):
        number = phone_number(line_node, country_code)
        if number is None:
            continue
        owner = line_owners.get(number)
        if owner is not None:
            line_node.problem(f"{number} is already a line of {owner}; lines are unique")
            continue
        line_owners[number] = user_id
        lines.append(number)
    return tuple(lines)


def _trusted_peers(node: Node | None) -> tuple[IpNetwork, ...]:
    """``trusted_peers``: networks whose P-Asserted-Identity is believed (RFC 3325)."""
    networks: list[IpNetwork] = []
    for peer_node in items_of(node):
        text = peer_node.string()
        if text is None:
            continue
        try:
            networks.append(ipaddress.ip_network(text.strip()))
        except ValueError as error:
            peer_node.problem(
                f"must be an IP address or network such as 192.0.2.7 or 10.0.0.0/24 ({error})"
            )
    return tuple(networks)
