"""The configuration schema: ``vipproxy schema``, the server sections and the keys
for registration and authentication (domain, store, auth)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import jsonschema
import pytest
import yaml

from proxy.cli import main
from proxy.config.errors import ConfigError
from proxy.config.loader import Credentials, ProxyConfig, load_config, parse_config

EXAMPLE = Path(__file__).parents[2] / "config" / "example.yaml"
LISTEN = "listen: [{host: 127.0.0.1}]\n"
USER = "users:\n  alice: {lines: ['1000'], endpoints: ['sip:alice@127.0.0.10']}\n"


def load(text: str, environ: dict[str, str] | None = None) -> ProxyConfig:
    return parse_config(textwrap.dedent(text), environ or {})


def expect_problem(text: str, path: str, fragment: str, environ: dict[str, str] | None = None
                   ) -> None:
    with pytest.raises(ConfigError) as raised:
        load(text, environ)
    problems = raised.value.problems
    assert [problem.path for problem in problems] == [path], problems
    assert fragment in problems[0].message, problems[0].message


# --- vipproxy schema ---------------------------------------------------------------


def test_schema_is_json_and_the_example_validates(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    jsonschema.Draft202012Validator.check_schema(schema)
    document = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema).validate(document)
    load_config(EXAMPLE)  # and the loader agrees


def test_schema_rejects_what_the_loader_rejects(capsys: pytest.CaptureFixture[str]) -> None:
    main(["schema"])
    validator = jsonschema.Draft202012Validator(json.loads(capsys.readouterr().out))
    assert not validator.is_valid({"listen": [{"host": "127.0.0.1"}], "colour": "red"})
    assert not validator.is_valid({"listen": []})
    assert not validator.is_valid({"listen": [{"host": "::1", "transport": "sctp"}]})


# --- the server sections -------------------------------------------------------------


def test_defaults() -> None:
    config = load(LISTEN)
    assert config.listeners[0].advertise == "127.0.0.1"
    assert (config.listeners[0].transport, config.listeners[0].port) == ("UDP", 5060)
    assert (config.timer_c, config.max_message_size, config.max_breadth) == (185.0, 65536, 60)
    assert (config.domain, config.auth_realm, config.credentials) == (None, None, {})
    assert config.database_url == f"sqlite+aiosqlite:///{config.state_dir / 'vipproxy.db'}"


def test_history_retention_defaults_to_90_days_and_is_written_in_days() -> None:
    assert load(LISTEN).history_retention == 90 * 86400.0
    assert load(LISTEN + "history: {retention: 30d}").history_retention == 30 * 86400.0
    assert load(LISTEN + "history:\n").history_retention == 90 * 86400.0


def test_durations_and_ipv6() -> None:
    config = load("listen: [{transport: tcp, host: '::1', port: 5070}]\n"
                  "timers: {t1: 200ms, t2: 2s, timer_c: 3.5m}\nshutdown_grace: 0\n")
    assert config.listeners[0].advertise == "[::1]"
    assert (config.timers.t1, config.timers.t2, config.timer_c) == (0.2, 2.0, 210.0)
    assert config.shutdown_grace == 0.0


@pytest.mark.parametrize(
    ("text", "path", "fragment"),
    [
        ("logging: {level: info}", "listen", "is required: a list of {transport, host, port}"),
        ("listen: []", "listen", "needs at least one listener"),
        ("listen: [{port: 5060}]", "listen[0].host", "is required: an IPv4 or IPv6 address"),
        ("listen: [{host: example.com}]", "listen[0].host", "is not an IP address"),
        ("listen: [{host: 0.0.0.0}]", "listen[0]", "a wildcard host needs 'advertise'"),
        ("listen: [{host: 127.0.0.1, port: 70000}]", "listen[0].port",
         "70000 is out of range; allowed: 1 to 65535"),
        ("listen: [{host: 127.0.0.1, port: '5060'}]", "listen[0].port", "must be a whole number"),
        ("listen: [{host: 127.0.0.1, transport: tls}]", "listen[0].transport",
         "'tls' is not allowed; allowed: udp, tcp"),
        (LISTEN + "timers: {timer_c: 180s}", "timers.timer_c",
         "180s is out of range; allowed: more than 180s to 3600s"),
        (LISTEN + "timers: {t1: fast}", "timers.t1", "must be a duration such as 20s"),
        (LISTEN + "limits: {max_breadth: 0}", "limits.max_breadth", "allowed: 1 to 1000"),
        (LISTEN + "logging: {format: xml}", "logging.format", "allowed: json, console"),
        (LISTEN + "untrusted_calls: everyone", "untrusted_calls",
         "allowed: refuse, local_lines"),
        (LISTEN + "colour: red", "colour",
         "unknown key; allowed: api, auth, delegations, dialogs, dns, domain, history,"),
        (LISTEN + "api: {admin_token: short}", "api.admin_token",
         "5 characters is too short; allowed: at least 16"),
        (LISTEN + "api: {listen: 'localhost:80'}", "api.listen",
         "'localhost:80' is not an API address"),
        (LISTEN + "history: {retention: 12h}", "history.retention",
         "43200s is out of range; allowed: 1d to 3650d"),
        (LISTEN + "history: {retention: forever}", "history.retention",
         "must be a duration such as 20s"),
        (LISTEN + "history: {keep: 30d}", "history.keep", "unknown key; allowed: retention"),
        ("- listen", "", "must be a mapping, got a list"),
    ],
)
def test_server_section_problems(text: str, path: str, fragment: str) -> None:
    expect_problem(text, path, fragment)


# --- domain, store, auth -------------------------------------------------------------


def test_domain_store_and_realm() -> None:
    config = load(LISTEN + "domain: Example.COM\nstore: {url: 'postgresql+asyncpg://"
                  "vip:${DB_PASSWORD}@db.example.com:5432/vipproxy'}\n"
                  "auth: {realm: example.com}\n", {"DB_PASSWORD": "s3cret"})
    assert config.domain == "example.com"
    assert config.database_url == "postgresql+asyncpg://vip:s3cret@db.example.com:5432/vipproxy"
    assert config.auth_realm == "example.com"
    assert load(LISTEN + "domain: 192.0.2.7").domain == "192.0.2.7"
    sqlite = load(LISTEN + "store: {url: 'sqlite+aiosqlite:////var/lib/vip/db.sqlite'}")
    assert sqlite.database_url == "sqlite+aiosqlite:////var/lib/vip/db.sqlite"


@pytest.mark.parametrize(
    ("text", "path", "fragment"),
    [
        ("domain: 'not a host'", "domain", "is not a host name or IP address"),
        ("domain: -bad-.example", "domain", "is not a host name or IP address"),
        ("store: {url: 'mysql://db/vip'}", "store.url", "'mysql' is not a supported database"),
        ("store: {url: 'sqlite:///vip.db'}", "store.url", "allowed: sqlite+aiosqlite:///"),
        ("store: {url: 'postgresql+asyncpg://db.example.com'}", "store.url",
         "needs a host and a database name"),
        ("store: {}", "store.url", "is required: sqlite+aiosqlite:///path/file.db or"),
        ("store: {url: 'postgresql+asyncpg://u:${NOPE}@db/vip'}", "store.url",
         "environment variable NOPE is not set"),
        ("auth: {realm: 'a\"b'}", "auth.realm", "without \" or \\"),
        ("auth: {}", "auth.realm", "is required: the digest realm"),
    ],
)
def test_domain_store_and_realm_problems(text: str, path: str, fragment: str) -> None:
    expect_problem(LISTEN + text, path, fragment)


def test_user_credentials_from_the_environment_or_as_ha1() -> None:
    config = load(
        LISTEN + "users:\n"
        "  alice: {endpoints: [registered], auth: {password: '${ALICE_PW}'}}\n"
        "  bob:\n"
        "    endpoints: ['sip:bob@127.0.0.11', registered]\n"
        f"    auth: {{username: b0b, ha1: {{md5: {'A' * 32}, sha-512-256: {'1' * 64}}}}}\n",
        {"ALICE_PW": "pw-from-env"},
    )
    assert config.credentials["alice"] == Credentials("alice", "pw-from-env")
    assert config.credentials["bob"] == Credentials(
        "b0b", None, {"MD5": "a" * 32, "SHA-512-256": "1" * 64}
    )
    assert "pw-from-env" not in repr(config.credentials)  # logs never show a secret
    alice, bob = config.directory.users["alice"], config.directory.users["bob"]
    # Registration is not routed yet: the static endpoints are what rings.
    assert (alice.endpoints, alice.registered) == ((), True)
    assert (bob.endpoints, bob.registered) == (("sip:bob@127.0.0.11",), True)
    assert load(LISTEN + USER).directory.users["alice"].registered is False


@pytest.mark.parametrize(
    ("auth", "path", "fragment"),
    [
        ("{password: '${ALICE_PW}'}", ".password",
         "environment variable ALICE_PW is not set"),
        ("{username: alice}", "", "needs exactly one of: password, ha1"),
        ("{password: x, ha1: {md5: " + "a" * 32 + "}}", "", "needs exactly one of"),
        ("{ha1: {}}", ".ha1", "needs at least one of: md5, sha-256, sha-512-256"),
        ("{ha1: {md5: abc}}", ".ha1.md5", "must be 32 hex digits"),
        ("{ha1: {sha-256: " + "g" * 64 + "}}", ".ha1.sha-256", "must be 64 hex digits"),
        ("{ha1: {sha1: abc}}", ".ha1.sha1", "unknown key; allowed: md5, sha-256, sha-512-256"),
        ("{pin: 1234}", ".pin", "unknown key; allowed: ha1, password, username"),
    ],
)
def test_user_auth_problems(auth: str, path: str, fragment: str) -> None:
    expect_problem(
        LISTEN + f"users:\n  alice: {{endpoints: [registered], auth: {auth}}}\n",
        f"users.alice.auth{path}",
        fragment,
    )


def test_a_user_whose_phones_register_needs_credentials() -> None:
    # Nothing else proves a REGISTER is the user's: not the address it comes from.
    expect_problem(
        LISTEN + "users:\n  dave: {endpoints: [registered, 'sip:dave@127.0.0.80:5060']}\n",
        "users.dave.endpoints",
        "'registered' needs the user's auth (password or ha1)",
    )


def test_a_bad_endpoint_names_both_kinds() -> None:
    expect_problem(
        LISTEN + "users:\n  alice: {endpoints: [registred]}\n",
        "users.alice.endpoints[0]",
        "must be a sip: URI with an IP address or a host name, such as sip:alice@127.0.0.10:5060",
    )
    with pytest.raises(ConfigError, match="or registered"):
        load(LISTEN + "users:\n  alice: {endpoints: [registred]}\n")
