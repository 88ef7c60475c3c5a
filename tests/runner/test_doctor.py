"""``broadsheet doctor``: each check against real servers and stand-ins, and the command."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from lib.settings import ROOT, Settings
from lib.settings import load as load_settings
from runner import doctor
from runner.schedule import LONDON
from tests.fixtures.mail import SMTP_PASSWORD, SMTP_USER, free_port
from tests.fixtures.runner import Project
from tests.standins import anthropic_api, graph
from tests.standins import salesforce as sf_standin

INTEGRATION_PREFIXES = ("SALESFORCE_", "ANTHROPIC_", "GRAPH_", "SMTP_", "MAIL_FROM", "BROADSHEET_")


@pytest.fixture
def demo_project(project: Project, monkeypatch: pytest.MonkeyPatch) -> Project:
    """The shipped reports, outputs in a temporary folder, no integration configured."""
    import os

    for name in list(os.environ):
        if name.startswith(INTEGRATION_PREFIXES):
            monkeypatch.delenv(name)
    project.env["BROADSHEET_PARAMETERS_DIR"] = str(ROOT / "parameters")
    project.env["BROADSHEET_NOTEBOOKS_DIR"] = str(ROOT / "notebooks")
    for name in ("OUTPUTS", "PARAMETERS_DIR", "NOTEBOOKS_DIR"):
        monkeypatch.setenv(f"BROADSHEET_{name}", project.env[f"BROADSHEET_{name}"])
    monkeypatch.chdir(project.root)  # no stray ./.env
    # This user's real crontab is none of the test's business: a crontab program that
    # answers "no crontab", as cron does for a user who never installed one.
    fake = project.root / "crontab"
    fake.write_text('#!/bin/sh\necho "no crontab for $(id -un)" >&2\nexit 1\n')
    fake.chmod(0o755)
    monkeypatch.setattr("crontab.CRON_COMMAND", str(fake))
    return project


def by_name(checks: list[doctor.Check]) -> dict[str, doctor.Check]:
    return {c.name: c for c in checks}


def no_crontab() -> str:
    return ""


def test_demo_configuration_has_no_failure(demo_project: Project) -> None:
    done = demo_project.invoke("doctor")
    assert done.returncode == 0, done.stdout
    lines = done.stdout.splitlines()
    assert lines[0].split() == [
        "ok",
        "settings",
        "read",
        "from",
        "the",
        "environment",
        "and",
        "./.env",
    ]
    text = done.stdout
    assert "ok    salesforce              not configured: runs use the demo data" in text
    assert "ok    smtp                    not configured" in text
    assert (
        "ok    anthropic               not configured: commentary is the labelled fallback" in text
    )
    for report in ("board_pack", "retailer_weekly", "bdm_portfolio", "smt_dashboard"):
        assert f"ok    report {report}" in text
    assert "does not exist yet" in text  # the state database: the first run makes it
    assert "warn  crontab                 no broadsheet block in this user's crontab" in text
    assert lines[-1].startswith("10 ok, 2 warn, 0 fail")

    as_json = json.loads(demo_project.invoke("doctor", "--json").stdout)
    assert as_json["status"] == "ok"
    assert [c["name"] for c in as_json["checks"]][:3] == ["settings", "outputs", "database"]
    assert {c["status"] for c in as_json["checks"]} <= {"ok", "warn"}
    assert not (demo_project.settings.outputs / "state.db").exists()  # doctor wrote nothing


def test_bad_usage_exits_2(demo_project: Project) -> None:
    assert demo_project.invoke("doctor", "--jsn").returncode == 2


def test_broken_smtp_fails_without_printing_the_password(
    demo_project: Project, smtp_starttls_server, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = "not-the-password-" + SMTP_PASSWORD
    for name, value in {**smtp_starttls_server.env(), "SMTP_PASSWORD": wrong}.items():
        monkeypatch.setenv(name, value)
    done = demo_project.invoke("doctor")
    assert done.returncode == 1
    (line,) = [line for line in done.stdout.splitlines() if line.startswith("fail")]
    assert line.split()[:2] == ["fail", "smtp"]
    assert f"SMTP login as {SMTP_USER} refused (535)" in line
    assert "check SMTP_USERNAME and SMTP_PASSWORD" in line
    assert wrong not in done.stdout and SMTP_PASSWORD not in done.stdout

    monkeypatch.setenv("SMTP_PASSWORD", SMTP_PASSWORD)
    check = doctor.check_smtp(load_settings(env_file=None))
    port = smtp_starttls_server.port
    assert (check.status, check.why) == (
        "ok",
        f"connected to 127.0.0.1:{port}, STARTTLS, logged in as {SMTP_USER}",
    )
    assert len(smtp_starttls_server.messages) == 0  # nothing was sent


def test_smtp_server_down_and_starttls_missing(smtp_server, monkeypatch) -> None:
    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SMTP_PORT", str(free_port()))
    down = doctor.check_smtp(load_settings(env_file=None))
    assert down.status == "fail" and "ConnectionRefusedError" in down.why
    assert "SMTP_HOST, SMTP_PORT" in down.action
    monkeypatch.setenv("SMTP_PORT", str(smtp_server.port))
    monkeypatch.setenv("SMTP_STARTTLS", "true")  # a plain relay offers no STARTTLS
    plain = doctor.check_smtp(load_settings(env_file=None))
    assert plain.status == "fail" and "does not offer STARTTLS" in plain.why


def test_salesforce_token_and_password_flows(salesforce_standin, monkeypatch) -> None:
    salesforce_standin.api_used = 1_234
    check = doctor.check_salesforce(load_settings(env_file=None))
    assert check.status == "ok", check.why
    assert check.why.startswith(
        f"signed in to 127.0.0.1:{salesforce_standin.port} with fixed access token"
    )
    assert "20 Accounts" in check.why and "used today 1,235 of 705,000 (703,765 left)" in check.why
    assert check.details["api_limit"] == 705_000

    monkeypatch.delenv("SALESFORCE_INSTANCE_URL")
    monkeypatch.delenv("SALESFORCE_ACCESS_TOKEN")
    monkeypatch.setenv("SALESFORCE_USERNAME", sf_standin.USERNAME)
    monkeypatch.setenv("SALESFORCE_PASSWORD", sf_standin.PASSWORD)
    monkeypatch.setenv("SALESFORCE_SECURITY_TOKEN", sf_standin.SECURITY_TOKEN)
    with salesforce_standin.route_login_hosts():
        check = doctor.check_salesforce(load_settings(env_file=None))
        assert check.status == "warn", check.why
        assert check.details["method"] == "password"
        assert "with SOAP username and password" in check.why
        assert "SOAP login() is retired in Summer '27" in check.why
        assert "Move to the JWT bearer flow" in check.action

        monkeypatch.setenv("SALESFORCE_PASSWORD", "wrong")
        bad = doctor.check_salesforce(load_settings(env_file=None))
    assert bad.status == "fail" and "login failed" in bad.why and "wrong" not in bad.why


def test_graph_token_and_mailbox(graph_standin, monkeypatch) -> None:
    check = doctor.check_graph(load_settings(env_file=None))
    assert (check.status, check.why) == ("ok", f"token accepted; mailbox {graph.SENDER} found")
    assert graph_standin.sent == []

    monkeypatch.setenv("GRAPH_SENDER", "nobody@contoso.test")
    missing = doctor.check_graph(load_settings(env_file=None))
    assert missing.status == "fail" and "mailbox nobody@contoso.test was not found" in missing.why
    assert "ErrorInvalidUser" in missing.why

    monkeypatch.setenv("GRAPH_CLIENT_SECRET", "stale-secret-value")
    refused = doctor.check_graph(load_settings(env_file=None))
    assert refused.status == "fail" and "invalid_client" in refused.why
    assert "stale-secret-value" not in refused.why + refused.action

    monkeypatch.delenv("GRAPH_TENANT_ID")
    partial = doctor.check_graph(load_settings(env_file=None))
    assert partial.status == "fail" and "GRAPH_TENANT_ID" in partial.why


def test_anthropic_key_checked_by_a_token_count(anthropic_standin, monkeypatch) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", anthropic_standin.base_url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", anthropic_api.API_KEY)
    check = doctor.check_anthropic(load_settings(env_file=None))
    assert check.status == "ok" and check.why.startswith("key accepted; model ")
    (request,) = anthropic_standin.requests
    assert request.path == "/v1/messages/count_tokens"  # free: no message is generated

    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-wrong-key")
    bad = doctor.run_checks(load_settings(env_file=None), read_crontab=no_crontab)
    refused = by_name(bad)["anthropic"]
    assert (refused.status, refused.why) == ("fail", "the API key was refused (401)")


def test_declaration_that_does_not_match_its_notebook(project: Project) -> None:
    from tests.fixtures.runner import WORKING_CELLS, make_notebook

    project.add("tiny", make_notebook(WORKING_CELLS))
    project.add(
        "typo",
        make_notebook(WORKING_CELLS),
        declaration=(project.settings.parameters_dir / "tiny.yaml")
        .read_text()
        .replace("greeting:", "greting:")
        .replace("tiny.ipynb", "typo.ipynb"),
    )
    checks, loaded = doctor.check_declarations(project.settings)
    assert [c.status for c in checks] == ["ok", "fail"]
    assert "parameter 'greting' is not in the notebook's parameters cell" in checks[1].why
    assert [d.name for d in loaded] == ["tiny"]


def test_crontab_installed_current_stale_or_missing(project: Project) -> None:
    from tests.fixtures.runner import WORKING_CELLS, make_notebook

    project.add("tiny", make_notebook(WORKING_CELLS))
    _, decls = doctor.check_declarations(project.settings)
    block = doctor.expected_crontab(project.settings, decls)
    mine = "MAILTO=ops@example.com\n5 4 * * * /usr/local/bin/backup\n"

    def check(text: str) -> doctor.Check:
        return doctor.check_crontab(project.settings, decls, read=lambda: text)

    assert check(mine + block).status == "ok"
    assert check(mine).status == "warn" and "sync-cron --write" in check(mine).action
    stale = block.replace("0 7 * * 1", "0 9 * * 1")
    assert check(mine + stale).status == "fail"
    # What `sync-cron` prints is exactly what the doctor expects.
    printed = project.invoke("sync-cron").stdout
    assert printed == block


def test_database_reachable_migrated_or_not(postgres_server, tmp_path, monkeypatch) -> None:
    from runner.state.database import upgrade

    url = postgres_server.create_database()
    fresh = doctor.check_database(Settings(outputs=tmp_path, db_url=url))
    assert fresh.status == "warn" and "is at migration none" in fresh.why
    upgrade(url)
    ok = doctor.check_database(Settings(outputs=tmp_path, db_url=url))
    assert ok.status == "ok" and ok.details["backend"] == "postgresql"
    gone = f"postgresql://broadsheet:s3cret-pw@127.0.0.1:{free_port()}/nothing"
    down = doctor.check_database(Settings(outputs=tmp_path, db_url=gone))
    assert down.status == "fail" and "cannot reach" in down.why
    assert "s3cret-pw" not in down.why and "***" in down.why


def test_projected_growth_from_the_last_runs(project: Project) -> None:
    monday = datetime(2026, 11, 23, 12, tzinfo=LONDON)
    assert doctor.runs_per_week("0 7 * * 1", start=monday) == (1.0, {"2026-11-23"})
    assert doctor.runs_per_week("0 7 * * 1-5", start=monday)[0] == 5.0
    assert doctor.runs_per_week("first-working-day 07:00")[0] == pytest.approx(12 / 52)

    from tests.fixtures.runner import WORKING_CELLS, make_notebook

    project.add("tiny", make_notebook(WORKING_CELLS))  # weekly, Monday 07:00
    out = project.settings.outputs
    for i, day in enumerate(("2026-11-08", "2026-11-15", "2026-11-22")):
        (out / "tiny" / day / "T1").mkdir(parents=True)
        (out / "tiny" / day / "T1" / "report.html").write_bytes(b"x" * (1000 * (i + 1)))
    (out / "tiny" / "2026-11-22-test").mkdir()  # test sends do not count
    (out / "outbox").mkdir()
    (out / "outbox" / "tiny_2026-11-22_T1_abc.eml").write_bytes(b"y" * 3000)
    (out / "snapshots" / "demo" / "2026-11-22").mkdir(parents=True)
    (out / "snapshots" / "demo" / "2026-11-22" / "a.parquet").write_bytes(b"z" * 500)
    _, decls = doctor.check_declarations(project.settings)
    growth, basis = doctor.weekly_growth(project.settings, decls)
    # (1000 + 2000 + 3000 + 3000 outbox) / 3 runs x 1 a week, plus one snapshot day.
    assert growth == 3000 + 500
    assert basis == ["tiny 3 run(s)"]
    check = doctor.check_outputs(project.settings, decls)
    assert check.status == "ok" and "projected growth 3.5 kB a week (tiny 3 run(s))" in check.why


def test_a_missing_libreoffice_fails_the_board_pack(
    demo_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    from runner.render import pdf

    monkeypatch.setattr(pdf, "soffice", lambda: None)
    done = demo_project.invoke("doctor")
    assert done.returncode == 1
    (line,) = [line for line in done.stdout.splitlines() if line.startswith("fail")]
    assert line.split()[:3] == ["fail", "report", "board_pack"]
    assert "outputs" in line and "libreoffice-writer-nogui" in line
