"""Signing in to Salesforce: the method chosen, the OAuth 2.0 grants against the stand-in's
token endpoint (which verifies them), renewal mid-pagination, and the refusals."""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path

import jwt
import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from lib import salesforce, snapshot
from lib.errors import ConfigError, SourceError
from lib.salesforce import auth
from lib.settings import DEFAULT_API_VERSION, SalesforceSection
from runner import cli
from tests.fixtures.salesforce import (
    SALESFORCE_AS_OF,
    assert_same_tables,
    full_calls,
    sf_extract,
    write_key,
)
from tests.standins.salesforce import (
    ACCESS_TOKEN,
    CLIENT_ID,
    CLIENT_SECRET,
    JWT_GRANT,
    PASSWORD,
    SECURITY_TOKEN,
    USERNAME,
    SalesforceStandin,
)

AS_OF = SALESFORCE_AS_OF.isoformat()


@pytest.fixture
def no_salesforce_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("SALESFORCE_"):
            monkeypatch.delenv(name)


def section(**values: str) -> SalesforceSection:
    return SalesforceSection(_env_file=None, **values)  # type: ignore[call-arg]


JWT = {"client_id": CLIENT_ID, "username": USERNAME, "private_key_file": "/keys/app.key"}
CC = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
PW = {"username": USERNAME, "password": PASSWORD, "security_token": SECURITY_TOKEN}
TOKEN = {"instance_url": "https://acme.my.salesforce.com", "access_token": ACCESS_TOKEN}


# --------------------------------------------------------------------------- which method
@pytest.mark.usefixtures("no_salesforce_env")
@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({**TOKEN, **PW, **CC, **JWT}, "jwt"),
        ({**TOKEN, **PW, **CC}, "client_credentials"),
        ({**TOKEN, **PW}, "password"),
        (TOKEN, "token"),
        ({**JWT, "auth": "token", **TOKEN}, "token"),
        ({**JWT, **CC, "auth": "client-credentials"}, "client_credentials"),
        ({**PW, "security_token": ""}, "password"),  # trusted IP ranges: no token
    ],
)
def test_the_first_complete_method_is_chosen_unless_forced(values, expected) -> None:
    assert auth.method(section(**values)) == expected


@pytest.mark.usefixtures("no_salesforce_env")
@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"private_key_file": "/keys/app.key"},
            "SALESFORCE_CLIENT_ID, SALESFORCE_USERNAME missing (set alongside "
            "SALESFORCE_PRIVATE_KEY_FILE for the OAuth 2.0 JWT bearer sign-in)",
        ),
        ({"client_secret": "s3cr3t"}, "SALESFORCE_CLIENT_ID missing"),
        # A complete method does not excuse a half-set one: the operator meant something.
        ({**JWT, "instance_url": TOKEN["instance_url"]}, "SALESFORCE_ACCESS_TOKEN missing"),
        ({**CC, "password": "pw"}, "SALESFORCE_USERNAME, SALESFORCE_SECURITY_TOKEN missing"),
        (
            {"client_id": CLIENT_ID},
            "add SALESFORCE_USERNAME, SALESFORCE_PRIVATE_KEY_FILE (OAuth 2.0 JWT bearer) or "
            "SALESFORCE_CLIENT_SECRET (OAuth 2.0 client credentials)",
        ),
        ({**PW, "auth": "jwt"}, "SALESFORCE_AUTH=jwt (OAuth 2.0 JWT bearer) needs "),
        ({**PW, "auth": "saml"}, "SALESFORCE_AUTH: 'saml' is not a sign-in method"),
        ({**JWT, "login_url": "login.salesforce.com"}, "SALESFORCE_LOGIN_URL: "),
    ],
)
def test_half_configured_names_what_is_missing(values, message) -> None:
    with pytest.raises(ConfigError) as err:
        auth.method(section(**values))
    assert message in str(err.value)
    assert err.value.exit_status == 2
    assert "s3cr3t" not in str(err.value) and PASSWORD not in str(err.value)


@pytest.mark.usefixtures("no_salesforce_env")
def test_password_sign_in_stops_at_api_version_64() -> None:
    assert DEFAULT_API_VERSION == "64.0"
    assert auth.check(section(**PW)) == "password"
    with pytest.raises(ConfigError, match=r"^SALESFORCE_API_VERSION: 65\.0 has no SOAP login"):
        auth.check(section(**PW, api_version="65.0"))
    # The OAuth flows and a token do not care.
    assert auth.check(section(**JWT, api_version="66.0")) == "jwt"
    assert auth.check(section(**TOKEN, api_version="66.0")) == "token"
    assert auth.warning("password") and "Summer '27" in auth.PASSWORD_RETIREMENT
    assert auth.warning("jwt") is None


@pytest.mark.usefixtures("no_salesforce_env")
@pytest.mark.parametrize(
    ("values", "url", "aud"),
    [
        ({}, "https://login.salesforce.com", "https://login.salesforce.com"),
        ({"domain": "test"}, "https://test.salesforce.com", "https://test.salesforce.com"),
        (
            {"login_url": "https://test.salesforce.com/"},
            "https://test.salesforce.com",
            "https://test.salesforce.com",
        ),
        (
            {"login_url": "https://acme--uat.sandbox.my.salesforce.com"},
            "https://acme--uat.sandbox.my.salesforce.com",
            "https://test.salesforce.com",
        ),
        (
            {"login_url": "https://acme.my.salesforce.com"},
            "https://acme.my.salesforce.com",
            "https://login.salesforce.com",
        ),
        (
            {
                "login_url": "https://acme.my.site.com",
                "jwt_audience": "https://acme.my.site.com/partners",
            },
            "https://acme.my.site.com",
            "https://acme.my.site.com/partners",
        ),
    ],
)
def test_login_url_and_audience(values, url, aud) -> None:
    s = section(**JWT, **values)
    assert auth.login_url(s) == url
    assert auth.audience(s) == aud


@pytest.mark.usefixtures("no_salesforce_env")
def test_the_assertion_is_rs256_with_the_documented_claims(tmp_path: Path) -> None:
    key = auth.load_private_key(write_key(tmp_path / "app.key"))
    s = section(**{**JWT, "private_key_file": str(tmp_path / "app.key")})
    token = auth.assertion(s, key, now=1_800_000_000)
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    claims = jwt.decode(
        token,
        key.public_key(),
        algorithms=["RS256"],
        audience="https://login.salesforce.com",
        options={"verify_exp": False},
    )
    assert claims == {
        "iss": CLIENT_ID,
        "sub": USERNAME,
        "aud": "https://login.salesforce.com",
        "exp": 1_800_000_000 + 180,
    }


def test_a_bad_key_file_is_named(tmp_path: Path, salesforce_jwt: SalesforceStandin) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a key\n")
    encrypted = tmp_path / "locked.key"
    encrypted.write_bytes(
        rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"passphrase"),
        )
    )
    cases = {
        tmp_path / "missing.key": "no such file",
        text: "is not a PEM private key",
        salesforce_jwt.jwt_certificate: "is a certificate, not a private key",
        write_key(tmp_path / "ec.key", "ec"): "holds an EC key, not RSA",
        encrypted: "is encrypted",
        tmp_path: "cannot be read",
    }
    for path, why in cases.items():
        with pytest.raises(ConfigError) as err:
            auth.load_private_key(path)
        assert str(err.value).startswith(f"{path}: {why}"), str(err.value)
        assert "SALESFORCE_PRIVATE_KEY_FILE" in str(err.value)


# --------------------------------------------------------------------------- the flows
def test_jwt_bearer_extraction_equals_the_fixture_row_for_row(
    salesforce_jwt: SalesforceStandin, salesforce_tables
) -> None:
    tables, api = sf_extract()
    assert_same_tables(tables, salesforce_tables)
    assert salesforce_jwt.grants == [(JWT_GRANT, 200, "")]
    assert api["auth"] == "jwt"
    assert api["token_requests"] == salesforce_jwt.token_requests == 1
    assert api["calls"] == salesforce_jwt.calls == full_calls(salesforce_tables)
    assert api["logins"] == salesforce_jwt.logins == 0
    # Token requests do not count against the org's daily API requests.
    assert api["used"] == 1000 + api["calls"]


def test_client_credentials_extraction_equals_the_fixture_row_for_row(
    salesforce_client_credentials: SalesforceStandin, salesforce_tables
) -> None:
    tables, api = sf_extract()
    assert_same_tables(tables, salesforce_tables)
    assert salesforce_client_credentials.grants == [("client_credentials", 200, "")]
    assert api["auth"] == "client_credentials"
    assert api["token_requests"] == salesforce_client_credentials.token_requests == 1
    assert api["calls"] == salesforce_client_credentials.calls == full_calls(salesforce_tables)


@pytest.mark.parametrize("flow", ["salesforce_jwt", "salesforce_client_credentials"])
def test_a_token_expiring_every_3_calls_loses_and_repeats_no_row(
    flow: str, request: pytest.FixtureRequest, salesforce_tables
) -> None:
    standin: SalesforceStandin = request.getfixturevalue(flow)
    standin.expire_tokens_after(3)

    tables, api = sf_extract()

    assert_same_tables(tables, salesforce_tables)
    served = full_calls(salesforce_tables)  # requests answered with data
    grants = math.ceil(served / 3)  # each token serves three, then one 401 asks for the next
    assert api["token_requests"] == standin.token_requests == grants
    assert api["calls"] == standin.calls == served + grants - 1
    assert [status for *_, status in standin.log].count(401) == grants - 1
    # Pagination resumed at the refused page: each page once with data, in order.
    pages = [(page, status) for _, obj, page, status in standin.log if obj == "Application__c"]
    assert [page for page, status in pages if status == 200] == list(
        range(1, len(tables["applications"]) // salesforce.BATCH_SIZE + 2)
    )
    refused = [i for i, (_, status) in enumerate(pages) if status == 401]
    assert refused and all(pages[i + 1] == (pages[i][0], 200) for i in refused)


def test_a_401_straight_after_a_fresh_grant_is_an_error_not_a_loop(
    salesforce_jwt: SalesforceStandin,
) -> None:
    salesforce_jwt.expire_tokens_after(0)  # every token is refused at once
    with pytest.raises(SourceError, match="refused a fresh session") as err:
        sf_extract()
    assert "OAuth scopes" in str(err.value)
    assert salesforce_jwt.token_requests == 2 and salesforce_jwt.calls == 2


def test_a_token_endpoint_outage_is_retried(
    salesforce_client_credentials: SalesforceStandin, salesforce_tables
) -> None:
    salesforce_client_credentials.token_outage = 2
    _, api = sf_extract()
    assert api["token_requests"] == salesforce_client_credentials.token_requests == 3
    assert [status for _, status, _ in salesforce_client_credentials.grants] == [503, 503, 200]


def test_the_password_flow_still_works_and_warns_once(
    salesforce_standin: SalesforceStandin, salesforce_tables, monkeypatch, caplog
) -> None:
    monkeypatch.delenv("SALESFORCE_INSTANCE_URL")
    monkeypatch.delenv("SALESFORCE_ACCESS_TOKEN")
    monkeypatch.setenv("SALESFORCE_USERNAME", USERNAME)
    monkeypatch.setenv("SALESFORCE_PASSWORD", PASSWORD)
    monkeypatch.setenv("SALESFORCE_SECURITY_TOKEN", SECURITY_TOKEN)
    salesforce_standin.expire_sessions(obj="Application__c", page=2)  # and a re-login
    caplog.set_level(logging.INFO, logger="lib.salesforce")

    with salesforce_standin.route_login_hosts():
        tables, api = sf_extract()

    assert_same_tables(tables, salesforce_tables)
    assert api["auth"] == "password" and api["logins"] == 2 and api["token_requests"] == 0
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert [r.getMessage() for r in warnings] == [auth.PASSWORD_RETIREMENT]
    assert "Summer '27" in warnings[0].getMessage()


# --------------------------------------------------------------------------- refusals, by the CLI
def _extract_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BROADSHEET_OUTPUTS", str(tmp_path / "outputs"))
    return CliRunner().invoke(cli.main, ["extract", "--source", "salesforce", "--as-of", AS_OF])


def _bad_signature(standin, tmp_path, monkeypatch) -> None:
    # A valid RSA key, but not the one whose certificate the app holds.
    monkeypatch.setenv("SALESFORCE_PRIVATE_KEY_FILE", str(write_key(tmp_path / "other.key")))


def _wrong_secret(standin, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SALESFORCE_CLIENT_SECRET", "wrong-secret-9A8B7C")


def _unknown_client_id(standin, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SALESFORCE_CLIENT_ID", "3MVG9UNKNOWN.consumer.key")


def _expired_assertion(standin, tmp_path, monkeypatch) -> None:
    standin.clock_skew = 600.0  # this machine's clock ten minutes slow


def _not_rsa(standin, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SALESFORCE_PRIVATE_KEY_FILE", str(write_key(tmp_path / "ec.key", "ec")))


def _not_pem(standin, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SALESFORCE_PRIVATE_KEY_FILE", str(standin.jwt_certificate))


@pytest.mark.parametrize(
    ("flow", "spoil", "said", "check", "requests"),
    [
        ("salesforce_jwt", _bad_signature, "(invalid_grant: invalid assertion)",
         "SALESFORCE_PRIVATE_KEY_FILE (the key of the certificate uploaded to the app)", 1),
        ("salesforce_client_credentials", _wrong_secret,
         "(invalid_client: invalid client credentials)",
         "check SALESFORCE_CLIENT_ID and SALESFORCE_CLIENT_SECRET", 1),
        ("salesforce_jwt", _unknown_client_id, "(invalid_client_id: client identifier invalid)",
         "check SALESFORCE_CLIENT_ID (the connected app's consumer key)", 1),
        ("salesforce_client_credentials", _unknown_client_id,
         "(invalid_client_id: client identifier invalid)", "check SALESFORCE_CLIENT_ID", 1),
        ("salesforce_jwt", _expired_assertion, "(invalid_grant: expired assertion",
         "and this machine's clock", 1),
        ("salesforce_jwt", _not_rsa, "ec.key: holds an EC key, not RSA",
         "(SALESFORCE_PRIVATE_KEY_FILE)", 0),
        ("salesforce_jwt", _not_pem, "broadsheet-jwt.crt: is a certificate, not a private key",
         "(SALESFORCE_PRIVATE_KEY_FILE)", 0),
    ],
    ids=["bad-signature", "wrong-secret", "unknown-client-id-jwt", "unknown-client-id-cc",
         "expired-assertion", "not-rsa", "certificate-not-key"],
)  # fmt: skip
def test_a_refused_sign_in_is_exit_2_in_one_line(
    flow, spoil, said, check, requests, request, tmp_path: Path, monkeypatch
) -> None:
    standin: SalesforceStandin = request.getfixturevalue(flow)
    spoil(standin, tmp_path, monkeypatch)

    result = _extract_cli(tmp_path, monkeypatch)

    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("broadsheet: ")
    assert said in lines[0] and check in lines[0]
    assert "Traceback" not in result.output and result.stdout == ""
    assert "wrong-secret" not in result.stderr and CLIENT_SECRET not in result.stderr
    assert standin.token_requests == requests and standin.calls == 0
    assert not (tmp_path / "outputs" / "snapshots").exists()


@pytest.mark.parametrize("flow", ["salesforce_jwt", "salesforce_client_credentials"])
def test_no_secret_in_any_file_the_extraction_writes(
    flow: str, request, salesforce_tables, tmp_path: Path, monkeypatch, caplog
) -> None:
    standin: SalesforceStandin = request.getfixturevalue(flow)
    standin.expire_tokens_after(4)  # several tokens, to look for each
    caplog.set_level(logging.DEBUG)

    result = _extract_cli(tmp_path, monkeypatch)

    assert result.exit_code == 0, result.output
    out = Path(result.stdout.strip())
    snap = snapshot.load(out)
    assert_same_tables(
        {t: getattr(snap, t)[list(snapshot.SCHEMA[t])] for t in snapshot.SCHEMA}, salesforce_tables
    )
    api = snap.manifest["api"]
    assert api["auth"] == flow.removeprefix("salesforce_")
    assert api["token_requests"] == standin.token_requests > 1

    key_lines = [
        line
        for line in standin.jwt_key_file.read_text().splitlines()
        if line and not line.startswith("-----")
    ]
    secrets = [CLIENT_SECRET, "PRIVATE KEY", *key_lines, *standin.issued]
    assert len(standin.issued) == standin.token_requests
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "manifest.json" for p in written)
    for path in written:
        data = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in data, (path, secret[:12])
    for secret in secrets:
        assert secret not in caplog.text and secret not in result.output
