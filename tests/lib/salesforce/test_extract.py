"""Salesforce extraction against the HTTPS stand-in, with the real simple_salesforce client."""

from __future__ import annotations

import logging
import math
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from simple_salesforce import format_soql

from lib import salesforce, snapshot
from lib.errors import ConfigError, SourceError
from lib.salesforce import RetryPolicy
from lib.salesforce import schema as salesforce_schema
from tests.fixtures.salesforce import (
    FAST,
    SALESFORCE_AS_OF,
    assert_same_tables,
    full_calls,
    page_count,
    sf_extract,
    sf_settings,
)
from tests.standins.salesforce import (
    ACCESS_TOKEN,
    PASSWORD,
    SECURITY_TOKEN,
    USERNAME,
    SalesforceStandin,
    SoqlError,
    parse_soql,
    utc,
)

AS_OF = SALESFORCE_AS_OF


def _login_env(monkeypatch: pytest.MonkeyPatch, *, token: bool) -> None:
    monkeypatch.setenv("SALESFORCE_USERNAME", USERNAME)
    monkeypatch.setenv("SALESFORCE_PASSWORD", PASSWORD)
    monkeypatch.setenv("SALESFORCE_SECURITY_TOKEN", SECURITY_TOKEN)
    if not token:
        monkeypatch.delenv("SALESFORCE_INSTANCE_URL")
        monkeypatch.delenv("SALESFORCE_ACCESS_TOKEN")


# --------------------------------------------------------------------------- the data
def test_full_extraction_equals_the_demo_source_row_for_row(
    salesforce_standin: SalesforceStandin, salesforce_tables, tmp_path: Path, caplog
) -> None:
    salesforce_standin.api_used = 600_000  # of 705,000: above the 80 % warning line
    caplog.set_level(logging.WARNING, logger="lib.salesforce")

    tables, api = sf_extract()

    assert_same_tables(tables, salesforce_tables)
    # And after the snapshot's own type conversion: the very same bytes.
    ours = snapshot.write(tables, tmp_path / "sf", source="salesforce", as_of=AS_OF)
    theirs = snapshot.write(salesforce_tables, tmp_path / "demo", source="demo", as_of=AS_OF)
    assert (
        snapshot.load(ours).manifest["content_hash"]
        == snapshot.load(theirs).manifest["content_hash"]
    )
    assert api["calls"] == salesforce_standin.calls == full_calls(salesforce_tables)
    assert (api["used"], api["limit"]) == (600_000 + api["calls"], 705_000)
    assert "of the org's daily limit" in caplog.text
    assert api["refresh"] == "full" and api["logins"] == 0


def test_queries_select_exactly_the_schema_fields() -> None:
    for table, columns in snapshot.SCHEMA.items():
        query = parse_soql(salesforce.soql(table))
        assert query.fields == list(columns)
        assert query.obj == salesforce.TABLES[table][0]


def test_batch_size_header_sets_the_page_size(
    salesforce_standin: SalesforceStandin, salesforce_tables
) -> None:
    since = datetime(2026, 10, 1, tzinfo=UTC)
    apps = salesforce_tables["applications"]
    expected = apps[apps["Submitted_Date__c"] >= since]
    client = salesforce.connect(sf_settings(env_file=None), FAST)
    where = format_soql("Submitted_Date__c >= {}", since)
    got = salesforce.fetch(client, "applications", where, batch_size=200)
    assert client.calls == math.ceil(len(expected) / 200) > 2
    assert sorted(got["Id"]) == sorted(expected["Id"])


def test_quotes_backslashes_and_soql_in_a_name_survive(
    salesforce_standin: SalesforceStandin, salesforce_tables, caplog
) -> None:
    account = salesforce_tables["accounts"]["Id"].iloc[3]
    name = "O'Brien \\ Sons x' OR Name != '"
    salesforce_standin.update("Account", account, Name=name)
    # And a stage Broadsheet does not know: kept, with a warning.
    app = salesforce_tables["applications"]["Id"].iloc[10]
    salesforce_standin.update("Application__c", app, Status__c="On Hold")
    caplog.set_level(logging.WARNING, logger="lib.salesforce")

    tables, _ = sf_extract()
    row = tables["accounts"].set_index("Id").loc[account]
    assert row["Name"] == name
    assert tables["applications"].set_index("Id").loc[app, "Status__c"] == "On Hold"
    assert "Application__c.Status__c" in caplog.text and "'On Hold' (1)" in caplog.text

    # The same value as a filter, quoted by format_soql, finds exactly that account.
    client = salesforce.connect(sf_settings(env_file=None), FAST)
    found = salesforce.fetch(client, "accounts", format_soql("Name = {}", name))
    assert found["Id"].tolist() == [account]


def test_nothing_after_as_of(salesforce_standin: SalesforceStandin, salesforce_tables) -> None:
    as_of = date(2026, 11, 18)  # a Wednesday: the stand-in holds four more days
    account = salesforce_tables["accounts"]["Id"].iloc[0]
    salesforce_standin.update("Account", account, Onboarded_Date__c=date(2026, 11, 20))
    tables, _ = sf_extract(as_of=as_of)
    assert tables["accounts"].set_index("Id").loc[account, "Onboarded_Date__c"] is None
    apps = tables["applications"]
    cutoff = pd.Timestamp("2026-11-19T00:00:00Z")
    source = salesforce_tables["applications"]
    assert len(apps) == (source["Submitted_Date__c"] < cutoff).sum()
    for column in ("Submitted_Date__c", *salesforce.LATER_EVENTS):
        assert not (apps[column] >= cutoff).any(), column
    # A decision made after as_of is not known yet, and the stage follows the events left.
    assert apps.loc[apps["Decision_Date__c"].isna(), "Decision__c"].isna().all()
    paid_later = source[(source["Paid_Date__c"] >= cutoff) & (source["Signed_Date__c"] < cutoff)]
    assert len(paid_later)
    cut = apps.set_index("Id").loc[paid_later["Id"]]
    assert set(cut["Status__c"]) <= {"Signed", "Cancelled"}


# --------------------------------------------------------------------------- faults
def test_503_on_the_third_page_is_retried_from_that_page(
    salesforce_standin: SalesforceStandin, salesforce_tables
) -> None:
    salesforce_standin.fail(503, "SERVER_UNAVAILABLE", "try later", obj="Application__c", page=3)

    tables, api = sf_extract()

    assert_same_tables(tables, salesforce_tables)
    # One extra call: page 3 again, not the query from the start.
    assert api["calls"] == salesforce_standin.calls == full_calls(salesforce_tables) + 1
    pages = [page for kind, obj, page, _ in salesforce_standin.log if obj == "Application__c"]
    assert pages == [1, 2, 3, 3, *range(4, page_count(salesforce_tables) + 1)]


def test_500_502_and_a_dropped_connection_are_retried(
    salesforce_standin: SalesforceStandin, salesforce_tables
) -> None:
    salesforce_standin.fail(500, "UNKNOWN_EXCEPTION", "An unexpected error occurred", obj="User")
    salesforce_standin.fail(502, "", "Bad Gateway", obj="Application__c", page=2)
    salesforce_standin.drop(obj="Application__c", page=4)

    tables, api = sf_extract()

    assert_same_tables(tables, salesforce_tables)
    assert api["calls"] == full_calls(salesforce_tables) + 3


def test_a_timeout_is_retried(salesforce_standin: SalesforceStandin) -> None:
    salesforce_standin.stall(1.0, obj="User")
    policy = RetryPolicy(attempts=3, wait_initial=0.0, wait_max=0.0, timeout=0.5)
    client = salesforce.connect(sf_settings(env_file=None), policy)
    users = salesforce.fetch(client, "users")
    assert len(users) and client.calls == 2


def test_concurrent_long_transaction_limit_is_retried(
    salesforce_standin: SalesforceStandin, salesforce_tables
) -> None:
    salesforce_standin.fail(
        403,
        "REQUEST_LIMIT_EXCEEDED",
        "ConcurrentPerOrgLongTxn Limit exceeded.",
        obj="Application__c",
        page=1,
        times=2,
    )
    tables, api = sf_extract()
    assert_same_tables(tables, salesforce_tables)
    assert api["calls"] == full_calls(salesforce_tables) + 2


def test_daily_request_limit_fails_at_once(salesforce_standin: SalesforceStandin) -> None:
    salesforce_standin.fail(
        403,
        "REQUEST_LIMIT_EXCEEDED",
        "TotalRequests Limit exceeded.",
        obj="Application__c",
        page=2,
        times=99,
    )
    with pytest.raises(SourceError, match="daily API request limit is used up") as err:
        sf_extract()
    assert err.value.exit_status == 2
    assert "TotalRequests" in str(err.value)
    assert salesforce_standin.calls == 4  # users, accounts, page 1, page 2 once: no retry


def test_retries_stop_after_the_policy_attempts(salesforce_standin: SalesforceStandin) -> None:
    salesforce_standin.fail(503, "SERVER_UNAVAILABLE", "down", obj="Application__c", times=99)
    with pytest.raises(SourceError, match="still failing after 4 attempts: HTTP 503"):
        sf_extract()
    assert salesforce_standin.calls == 2 + FAST.attempts


def test_retries_stop_at_the_deadline(salesforce_standin: SalesforceStandin) -> None:
    salesforce_standin.fail(503, "SERVER_UNAVAILABLE", "down", obj="User", times=99)
    policy = RetryPolicy(attempts=50, wait_initial=0.0, wait_max=0.0, deadline=0.0)
    with pytest.raises(SourceError, match="still failing after 1 attempts"):
        sf_extract(policy=policy)
    assert salesforce_standin.calls == 1


def test_expired_token_without_credentials_is_a_clear_error(
    salesforce_standin: SalesforceStandin,
) -> None:
    salesforce_standin.expire_sessions()
    with pytest.raises(SourceError, match="SALESFORCE_ACCESS_TOKEN") as err:
        sf_extract()
    assert "INVALID_SESSION_ID" in str(err.value)
    assert salesforce_standin.calls == 1


def test_expired_session_logs_in_again_once_and_resumes(
    salesforce_standin: SalesforceStandin, salesforce_tables, monkeypatch, caplog
) -> None:
    # Token and password both complete: the password flow comes first, and can renew.
    _login_env(monkeypatch, token=True)
    salesforce_standin.expire_sessions(obj="Application__c", page=3)
    caplog.set_level(logging.DEBUG)

    with salesforce_standin.route_login_hosts():
        tables, api = sf_extract()

    assert_same_tables(tables, salesforce_tables)
    assert salesforce_standin.logins == api["logins"] == 2
    assert api["auth"] == "password" and api["token_requests"] == 0
    assert api["calls"] == full_calls(salesforce_tables) + 1
    # Secrets never reach the log: not the token, the password, or the new session.
    for secret in (ACCESS_TOKEN, PASSWORD, SECURITY_TOKEN, "standin-session-"):
        assert secret not in caplog.text


def test_session_refused_after_a_fresh_login_is_not_retried_forever(
    salesforce_standin: SalesforceStandin, monkeypatch
) -> None:
    _login_env(monkeypatch, token=True)
    salesforce_standin.expire_sessions(obj="User", times=99)  # every session dies at once
    with salesforce_standin.route_login_hosts(), pytest.raises(SourceError, match="fresh session"):
        sf_extract()
    assert salesforce_standin.logins == 2  # the first, and one more: not a loop
    assert salesforce_standin.calls == 2


def test_username_password_login(
    salesforce_standin: SalesforceStandin, salesforce_tables, monkeypatch
) -> None:
    _login_env(monkeypatch, token=False)
    with salesforce_standin.route_login_hosts():
        tables, api = sf_extract()
    assert_same_tables(tables, salesforce_tables)
    assert api["logins"] == 1 and api["calls"] == full_calls(salesforce_tables)


def test_wrong_password_names_the_variables(
    salesforce_standin: SalesforceStandin, monkeypatch
) -> None:
    _login_env(monkeypatch, token=False)
    monkeypatch.setenv("SALESFORCE_PASSWORD", "wrong")
    with salesforce_standin.route_login_hosts(), pytest.raises(SourceError) as err:
        sf_extract()
    assert "INVALID_LOGIN" in str(err.value) and "SALESFORCE_PASSWORD" in str(err.value)
    assert "wrong" not in str(err.value)


def test_hidden_fields_are_listed(salesforce_standin: SalesforceStandin) -> None:
    salesforce_standin.hide_field("Application__c", "Loan_Amount__c")
    salesforce_standin.hide_field("Application__c", "Decision_Date__c")
    with pytest.raises(SourceError) as err:
        sf_extract()
    message = str(err.value)
    assert "Loan_Amount__c" in message and "Decision_Date__c" in message
    assert "field-level security" in message
    assert salesforce_standin.calls == 4  # users, accounts, the refused query, describe


def test_fields_missing_from_the_response_are_listed() -> None:
    with pytest.raises(SourceError, match="User fields: Email, IsActive"):
        salesforce_schema.to_frame("users", [{"attributes": {}, "Id": "005x", "Name": "A"}])


# --------------------------------------------------------------------------- incremental
def _write(tables, api, root: Path, as_of: date) -> Path:
    out = snapshot.default_dir(root, "salesforce", as_of)
    return snapshot.write(tables, out, source="salesforce", as_of=as_of, extra={"api": api})


def _previous(
    standin: SalesforceStandin, tables, root: Path, *, instance: str | None = None
) -> Path:
    """What a full extraction of the untouched stand-in writes (the first test shows it)."""
    api = {"calls": 0, "instance": instance or f"127.0.0.1:{standin.port}"}
    return _write(tables, api, root, AS_OF)


def _application_pages(standin: SalesforceStandin) -> list[tuple[str, int | None]]:
    return [(kind, page) for kind, obj, page, _ in standin.log if obj == "Application__c"]


def test_incremental_refresh_reads_only_the_changes(
    salesforce_standin: SalesforceStandin, salesforce_tables, tmp_path: Path
) -> None:
    previous = _previous(salesforce_standin, salesforce_tables, tmp_path)
    full_count = full_calls(salesforce_tables)

    # Three applications change after the previous extraction (the next morning).
    apps = salesforce_tables["applications"]
    approved = apps[(apps["Status__c"] == "Approved")]["Id"].iloc[:2].tolist()
    other = apps["Id"].iloc[100]
    when = utc("2026-11-23T06:30:00")
    salesforce_standin.touch(other, when, Loan_Amount__c=1234.56, Lender_Name__c="Kestrel Money")
    salesforce_standin.touch(
        approved[0], when, Status__c="Signed", Signed_Date__c=utc("2026-11-22T16:00:00")
    )
    salesforce_standin.touch(approved[1], when, Status__c="Cancelled", Cancelled_Date__c=when)

    incremental, inc_api = sf_extract(previous=salesforce.previous_snapshot(previous.parent, AS_OF))
    assert inc_api["refresh"] == "incremental"
    # users, accounts, one page of changed applications, and the COUNT() check.
    assert inc_api["calls"] == salesforce_standin.calls == 4
    assert _application_pages(salesforce_standin) == [("query", 1), ("query", 1)]
    assert full_count >= 2 * inc_api["calls"]

    salesforce_standin.reset_counters()
    full, _ = sf_extract(previous=previous, full=True)
    assert salesforce_standin.calls == full_count
    assert_same_tables(incremental, full)
    changed = incremental["applications"].set_index("Id")
    assert changed.loc[other, "Loan_Amount__c"] == 1234.56
    assert changed.loc[approved[0], "Status__c"] == "Signed"
    # The cancellation happened after as_of: it is cut, the approval stays.
    assert changed.loc[approved[1], "Status__c"] == "Approved"

    a = _write(incremental, inc_api, tmp_path / "a", AS_OF)
    b = _write(full, inc_api, tmp_path / "b", AS_OF)
    assert snapshot.load(a).manifest["content_hash"] == snapshot.load(b).manifest["content_hash"]


def test_incremental_from_the_day_before_catches_up_on_later_events(
    salesforce_standin: SalesforceStandin, salesforce_tables, tmp_path: Path
) -> None:
    day_before = AS_OF - timedelta(days=1)
    tables, api = sf_extract(as_of=day_before)
    _write(tables, api, tmp_path, day_before)

    previous = salesforce.previous_snapshot(tmp_path / "snapshots" / "salesforce", AS_OF)
    incremental, inc_api = sf_extract(previous=previous)

    assert inc_api["refresh"] == "incremental"
    assert inc_api["calls"] == 4
    assert_same_tables(incremental, salesforce_tables)  # what a full refresh reads


def test_deleted_records_make_the_incremental_refresh_read_everything(
    salesforce_standin: SalesforceStandin, salesforce_tables, tmp_path: Path, caplog
) -> None:
    previous = _previous(salesforce_standin, salesforce_tables, tmp_path)
    gone = salesforce_tables["applications"]["Id"].iloc[5]
    salesforce_standin.delete("Application__c", gone)

    caplog.set_level(logging.WARNING, logger="lib.salesforce")
    refreshed, inc_api = sf_extract(previous=previous)

    assert inc_api["refresh"] == "full"
    assert gone not in set(refreshed["applications"]["Id"])
    assert len(refreshed["applications"]) == len(salesforce_tables["applications"]) - 1
    assert "deleted" in caplog.text


def test_a_snapshot_of_another_org_is_not_used(
    salesforce_standin: SalesforceStandin, salesforce_tables, tmp_path: Path
) -> None:
    previous = _previous(
        salesforce_standin, salesforce_tables, tmp_path, instance="other.my.salesforce.com"
    )
    _, inc_api = sf_extract(previous=previous)
    assert inc_api["refresh"] == "full"


def test_previous_snapshot_is_the_latest_on_or_before_as_of(tmp_path: Path) -> None:
    for name in ("2026-11-20", "2026-11-21", "2026-11-25", "latest", "2026-11-22"):
        (tmp_path / name).mkdir()
        if name != "2026-11-22":  # an unfinished one: no manifest
            (tmp_path / name / "manifest.json").write_text("{}")
    assert salesforce.previous_snapshot(tmp_path, date(2026, 11, 22)) == tmp_path / "2026-11-21"
    assert salesforce.previous_snapshot(tmp_path, date(2026, 11, 19)) is None
    assert salesforce.previous_snapshot(tmp_path / "nowhere", date(2026, 11, 22)) is None


# --------------------------------------------------------------------------- configuration
def test_missing_configuration_names_the_variables(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no .env here
    for name in ("INSTANCE_URL", "ACCESS_TOKEN", "USERNAME", "PASSWORD", "SECURITY_TOKEN"):
        monkeypatch.delenv(f"SALESFORCE_{name}", raising=False)
    with pytest.raises(ConfigError) as err:
        sf_settings()
    assert err.value.exit_status == 2
    for name in ("INSTANCE_URL", "ACCESS_TOKEN", "USERNAME", "PASSWORD", "SECURITY_TOKEN"):
        assert f"SALESFORCE_{name}" in str(err.value)

    # A username alone could be the start of the JWT bearer or the password flow.
    monkeypatch.setenv("SALESFORCE_USERNAME", USERNAME)
    with pytest.raises(ConfigError, match="no sign-in method is complete") as err:
        sf_settings()
    assert "SALESFORCE_CLIENT_ID, SALESFORCE_PRIVATE_KEY_FILE (OAuth 2.0 JWT bearer)" in str(
        err.value
    )
    assert "SALESFORCE_PASSWORD, SALESFORCE_SECURITY_TOKEN (SOAP username and password)" in str(
        err.value
    )

    monkeypatch.delenv("SALESFORCE_USERNAME")
    monkeypatch.setenv("SALESFORCE_ACCESS_TOKEN", "secret-token")
    with pytest.raises(ConfigError, match="SALESFORCE_INSTANCE_URL missing") as err:
        sf_settings()
    assert "secret-token" not in str(err.value)


def test_configuration_from_a_dotenv_file(monkeypatch, tmp_path: Path) -> None:
    for name in ("INSTANCE_URL", "ACCESS_TOKEN", "USERNAME", "PASSWORD", "SECURITY_TOKEN"):
        monkeypatch.delenv(f"SALESFORCE_{name}", raising=False)
    env = tmp_path / ".env"
    env.write_text(
        "SALESFORCE_INSTANCE_URL=https://acme.my.salesforce.com\nSALESFORCE_ACCESS_TOKEN=s3cr3t-value\n"
    )
    settings = sf_settings(env_file=env)
    assert settings.has_token and not settings.can_login
    assert "s3cr3t-value" not in repr(settings)


def test_bad_domain_is_refused(monkeypatch, salesforce_standin: SalesforceStandin) -> None:
    monkeypatch.setenv("SALESFORCE_DOMAIN", "https://login.salesforce.com")
    with pytest.raises(ConfigError, match="SALESFORCE_DOMAIN"):
        sf_settings(env_file=None)


# --------------------------------------------------------------------------- the stand-in
def test_standin_evaluates_soql(salesforce_standin: SalesforceStandin) -> None:
    q = parse_soql(
        "SELECT Id FROM Application__c WHERE (SystemModstamp > 2026-11-01T00:00:00+00:00 "
        "OR Paid_Date__c >= 2026-11-20T00:00:00Z) AND NOT Status__c IN ('Paid', 'Cancelled') "
        "ORDER BY Id DESC LIMIT 5"
    )
    assert q.obj == "Application__c" and q.limit == 5 and q.order == [("Id", True)]
    record = {
        "systemmodstamp": datetime(2026, 11, 2, tzinfo=UTC),
        "paid_date__c": None,
        "status__c": "Signed",
    }
    assert q.where is not None and q.where(record)
    assert not q.where({**record, "status__c": "Paid"})
    assert parse_soql(format_soql("SELECT Id FROM Account WHERE Name = {}", "a'\\b")).where(
        {"name": "a'\\b"}
    )
    with pytest.raises(SoqlError, match="No such column 'Nope__c'"):
        salesforce_standin._query("SELECT Id, Nope__c FROM Account", 2000)
    with pytest.raises(SoqlError) as err:
        salesforce_standin._query("SELECT Id FROM Nothing__c", 2000)
    assert err.value.code == "INVALID_TYPE"
