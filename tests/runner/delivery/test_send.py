"""Delivery: the ledger and its migrations, the outbox, SMTP against aiosmtpd, exactly once
across a killed run, and the failure alert."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections import Counter
from dataclasses import replace
from datetime import date
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from lib.errors import ConfigError, TargetError, UnknownNameError
from lib.registry import Registry
from lib.settings import SmtpSection
from lib.settings import load as load_settings
from runner.delivery import (
    SENDING,
    Ledger,
    Mark,
    OutboxTransport,
    deliver,
    delivery_failures,
    make_transport,
    register_builtin_transports,
    safe_error,
    send_alert,
)
from runner.delivery.message import build_message, message_parts, referenced_cids
from runner.delivery.transports.smtp import SMTPSettings, SMTPTransport
from runner.state.database import alembic_config, upgrade
from runner.state.models import Base, Delivery
from tests.fixtures.mail import SMTP_PASSWORD, make_envelope

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def ledger(state_url: str) -> Ledger:
    """The ledger on SQLite, then on PostgreSQL (``state_url`` is parametrised)."""
    return Ledger.open(state_url)


@pytest.fixture
def outbox(tmp_path: Path) -> OutboxTransport:
    return OutboxTransport(tmp_path / "outputs" / "outbox")


def envelopes(mail_target, n: int, **kwargs) -> list:
    return [
        make_envelope(
            mail_target(f"001TARGET{i:09d}", name=f"Retailer {i}"),
            recipients=(f"owner{i}@example.test", f"extra{i}@example.test"),
            **kwargs,
        )
        for i in range(n)
    ]


def stored_text(ledger: Ledger) -> str:
    """Everything the ledger's database holds, as text (the file itself for SQLite)."""
    if ledger.engine.url.get_backend_name() == "sqlite":
        return Path(ledger.engine.url.database).read_bytes().decode("utf-8", "replace")
    with ledger.engine.connect() as conn:
        return repr(conn.exec_driver_sql("select * from deliveries").all())


def statuses(results: list[dict]) -> list[tuple[str, str, str]]:
    return [(r["target"], r["recipient"], r["status"]) for r in results]


# --- the state database ------------------------------------------------------------------


def test_migrations_build_exactly_the_models(state_url: str) -> None:
    engine = upgrade(state_url)
    upgrade(engine)  # a second upgrade is a no-op
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    assert len(heads) == 1
    with engine.connect() as conn:
        assert conn.exec_driver_sql("select version_num from alembic_version").scalar() == heads[0]
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


def test_default_database_lives_under_outputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BROADSHEET_DB_URL", raising=False)
    monkeypatch.setenv("BROADSHEET_OUTPUTS", str(tmp_path / "out"))
    ledger = Ledger.open(load_settings(env_file=None).state_url())
    assert Path(ledger.engine.url.database) == (tmp_path / "out" / "state.db").resolve()
    assert (tmp_path / "out" / "state.db").exists()


def test_ledger_is_unique_per_report_as_of_target_recipient(ledger: Ledger) -> None:
    key = ("retailer_weekly", date(2026, 11, 22), "T1")
    ledger.mark(*key, ["A@Example.test"], Mark(SENDING, "outbox", "planned"))
    ledger.mark(*key, ["a@example.test"], Mark("sent", "outbox", "done"))
    (row,) = ledger.history("retailer_weekly")
    assert (row.recipient, row.status, row.message_id) == ("a@example.test", "sent", "done")
    assert row.sent_at is not None


# --- registry ------------------------------------------------------------------------------


def test_registry_of_transports(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    registry: Registry = Registry("transport")
    register_builtin_transports(registry)
    register_builtin_transports(registry)  # idempotent: the same classes
    assert registry.names() == ["outbox", "smtp", "graph"]
    monkeypatch.setenv("BROADSHEET_OUTPUTS", str(tmp_path))
    assert make_transport("outbox", load_settings(env_file=None), registry).directory == (
        tmp_path / "outbox"
    )
    with pytest.raises(UnknownNameError, match="did you mean one of: graph, outbox, smtp"):
        make_transport("pigeon", load_settings(env_file=None), registry)
    monkeypatch.delenv("SMTP_HOST", raising=False)
    with pytest.raises(ConfigError, match="SMTP_HOST"):
        make_transport("smtp", load_settings(env_file=None), registry)


def smtp_section(variables: dict[str, str]) -> SmtpSection:
    """The ``smtp`` section as ``SMTP_*`` variables would set it."""
    return SmtpSection.model_validate(
        {name.removeprefix("SMTP_").lower(): value for name, value in variables.items()}
    )


def test_smtp_settings_from_environment() -> None:
    s = SMTPSettings.from_section(smtp_section({"SMTP_HOST": "mail.example.test"}))
    assert (s.port, s.security, s.username) == (587, "starttls", None)
    s = SMTPSettings.from_section(smtp_section({"SMTP_HOST": "h", "SMTP_PORT": "465"}))
    assert s.security == "ssl"
    s = SMTPSettings.from_section(
        smtp_section({"SMTP_HOST": "h", "SMTP_STARTTLS": "false", "SMTP_PORT": "25"})
    )
    assert (s.port, s.security) == (25, "none")
    s = SMTPSettings.from_section(
        smtp_section({"SMTP_HOST": "h", "SMTP_USERNAME": "u", "SMTP_PASSWORD": "pw-secret"})
    )
    assert "pw-secret" not in repr(s)
    with pytest.raises(ConfigError, match="SMTP_STARTTLS: refusing"):
        SMTPSettings.from_section(
            smtp_section(
                {
                    "SMTP_HOST": "h",
                    "SMTP_STARTTLS": "no",
                    "SMTP_USERNAME": "u",
                    "SMTP_PASSWORD": "p",
                }
            )
        )
    with pytest.raises(ConfigError, match="SMTP_PORT"):
        SMTPSettings.from_section(smtp_section({"SMTP_HOST": "h", "SMTP_PORT": "smtp"}))
    with pytest.raises(ConfigError, match="SMTP_STARTTLS"):
        SMTPSettings.from_section(smtp_section({"SMTP_HOST": "h", "SMTP_STARTTLS": "maybe"}))


def test_errors_never_carry_url_queries() -> None:
    err = RuntimeError("PUT https://graph.example/upload/1?authtoken=SECRET failed")
    assert "SECRET" not in safe_error(err)
    assert safe_error("x" * 2000).endswith("…") and len(safe_error("x" * 2000)) == 500


# --- outbox --------------------------------------------------------------------------------


def test_outbox_delivers_once_and_skips_on_rerun(mail_target, ledger, outbox) -> None:
    envs = envelopes(mail_target, 3)
    first = deliver(envs, outbox, ledger=ledger)
    assert [r["status"] for r in first] == ["sent"] * 6
    files = sorted(outbox.directory.glob("*.eml"))
    assert len(files) == 3
    assert files[0].name.startswith("retailer_weekly_2026-11-22_001TARGET000000000_")
    msg = BytesParser(policy=policy.default).parsebytes(files[0].read_bytes())
    assert msg["To"] == "owner0@example.test, extra0@example.test"
    assert first[0]["id"] == str(files[0])

    second = deliver(envs, outbox, ledger=ledger)
    assert [r["status"] for r in second] == ["skipped-already-sent"] * 6
    assert [r["id"] for r in second] == [r["id"] for r in first]

    # A new recipient on a later run gets its own message; the others are not resent.
    grown = [replace(envs[0], recipients=envs[0].recipients + ("new@example.test",))]
    third = deliver(grown, outbox, ledger=ledger)
    assert statuses(third)[-1] == (envs[0].target_id, "new@example.test", "sent")
    assert [r["status"] for r in third[:2]] == ["skipped-already-sent"] * 2
    newest = BytesParser(policy=policy.default).parsebytes(Path(third[-1]["id"]).read_bytes())
    assert newest["To"] == "new@example.test"


def test_resend_overrides_the_ledger(mail_target, ledger, outbox) -> None:
    envs = envelopes(mail_target, 1)
    (first, _) = deliver(envs, outbox, ledger=ledger)
    mid = BytesParser(policy=policy.default).parsebytes(Path(first["id"]).read_bytes())[
        "Message-ID"
    ]
    again = deliver(envs, outbox, ledger=ledger, resend=True)
    assert [r["status"] for r in again] == ["sent", "sent"]
    new = BytesParser(policy=policy.default).parsebytes(Path(again[0]["id"]).read_bytes())
    assert new["Message-ID"] != mid  # an explicit resend is a new message


def test_outbox_resolves_a_crash_between_write_and_record(mail_target, ledger, outbox) -> None:
    delivered, lost = envelopes(mail_target, 2)
    for env in (delivered, lost):
        msg = build_message(env)
        ledger.mark(
            env.report,
            env.as_of,
            env.target_id,
            env.recipients,
            Mark(SENDING, "outbox", outbox.pending_id(msg, env), str(msg["Message-ID"])),
        )
        if env is delivered:
            outbox.send(msg, env)  # the file was written, then the process died
    before = {p: p.stat().st_mtime_ns for p in outbox.directory.glob("*.eml")}

    results = deliver([delivered, lost], outbox, ledger=ledger)
    assert [r["status"] for r in results] == ["skipped-already-sent"] * 2 + ["sent"] * 2
    for path, mtime in before.items():
        assert path.stat().st_mtime_ns == mtime  # not rewritten
    assert {row.status for row in ledger.history("retailer_weekly")} == {"sent"}


def test_one_failure_does_not_stop_the_others(mail_target, ledger, outbox) -> None:
    envs = envelopes(mail_target, 3)
    (envs[1].html.parent / "img-1.png").unlink()
    results = deliver(envs, outbox, ledger=ledger)
    assert [r["status"] for r in results] == ["sent", "sent", "failed", "failed", "sent", "sent"]
    assert "cid:img-1.png" in results[2]["error"]
    failed = [row for row in ledger.history("retailer_weekly") if row.status == "failed"]
    assert {row.target for row in failed} == {envs[1].target_id}

    mail_target(envs[1].target_id, name="Retailer 1")  # the image is back
    retry = deliver(envs, outbox, ledger=ledger)
    assert [r["status"] for r in retry] == ["skipped-already-sent"] * 2 + ["sent"] * 2 + [
        "skipped-already-sent"
    ] * 2


def test_test_sends_bypass_the_ledger(mail_target, ledger, outbox) -> None:
    env = envelopes(mail_target, 1)[0].for_test("owner0@example.test")
    for _ in range(2):
        (row,) = deliver([env], outbox, ledger=ledger)
        assert row["status"] == "sent"
    assert ledger.history("retailer_weekly") == []
    path = Path(row["id"])
    assert "_test_" in path.name
    assert (
        BytesParser(policy=policy.default)
        .parsebytes(path.read_bytes())["Subject"]
        .startswith("[TEST] ")
    )
    # ...so the real send to the same address still happens.
    real = deliver([replace(env, test=False)], outbox, ledger=ledger)
    assert [r["status"] for r in real] == ["sent"]


def test_parallel_delivery_keeps_order(mail_target, ledger, outbox) -> None:
    envs = envelopes(mail_target, 6)
    results = deliver(envs, outbox, ledger=ledger, workers=4)
    assert [r["target"] for r in results] == [e.target_id for e in envs for _ in range(2)]
    assert {r["status"] for r in results} == {"sent"}


def test_no_recipient_sends_nothing(mail_target, ledger, outbox) -> None:
    env = replace(envelopes(mail_target, 1)[0], recipients=())
    assert deliver([env], outbox, ledger=ledger) == []
    assert not outbox.directory.exists()


# --- SMTP ----------------------------------------------------------------------------------


def assert_received_intact(received, env) -> None:
    msg = received.message
    assert msg["Subject"] == env.subject
    assert sorted(received.rcpt_tos) == sorted(env.recipients)
    assert received.mail_from == "reports@example.test"
    parts = message_parts(msg)
    cids = {p.content_id: p.data for p in parts.inline}
    for cid in referenced_cids(parts.html):
        assert cids[cid] == (env.html.parent / cid).read_bytes()
    assert len(referenced_cids(parts.html)) == 2
    sent = {p.filename: p.data for p in parts.attachments}
    expected = {f"retailer_weekly-2026-11-22{a.suffix}": a.read_bytes() for a in env.attachments}
    assert sent == expected


def test_smtp_plain_relay(mail_target, ledger, smtp_server, monkeypatch) -> None:
    for k, v in smtp_server.env().items():
        monkeypatch.setenv(k, v)
    envs = envelopes(mail_target, 3)
    envs[2] = make_envelope(
        mail_target("001TARGETDOCX", docx_bytes=300_000), recipients=("board@example.test",)
    )
    results = deliver(
        envs, SMTPTransport.from_settings(load_settings(env_file=None)), ledger=ledger
    )
    assert [r["status"] for r in results] == ["sent"] * 5
    assert [r["id"] for r in results] == ["Q00001", "Q00001", "Q00002", "Q00002", "Q00003"]
    assert len(smtp_server.messages) == 3
    for received, env in zip(smtp_server.messages, envs, strict=True):
        assert_received_intact(received, env)
    rows = ledger.history("retailer_weekly")
    assert {(r.recipient, r.message_id) for r in rows} >= {("board@example.test", "Q00003")}


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
@pytest.mark.parametrize("server", ["smtp_starttls_server", "smtps_server"])
def test_smtp_tls_and_login(server, request, mail_target, ledger, monkeypatch, caplog) -> None:
    smtp = request.getfixturevalue(server)
    for k, v in smtp.env().items():
        monkeypatch.setenv(k, v)
    caplog.set_level(logging.DEBUG)
    envs = envelopes(mail_target, 2)
    results = deliver(
        envs, SMTPTransport.from_settings(load_settings(env_file=None)), ledger=ledger
    )
    assert [r["status"] for r in results] == ["sent"] * 4
    for received, env in zip(smtp.messages, envs, strict=True):
        assert_received_intact(received, env)
    assert SMTP_PASSWORD not in caplog.text
    assert SMTP_PASSWORD not in stored_text(ledger)


def test_smtp_wrong_password_fails_every_message_without_leaking(
    mail_target, ledger, smtp_starttls_server, monkeypatch, caplog
) -> None:
    for k, v in smtp_starttls_server.env().items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("SMTP_PASSWORD", "wrong-password-xyz")
    results = deliver(
        envelopes(mail_target, 2),
        SMTPTransport.from_settings(load_settings(env_file=None)),
        ledger=ledger,
    )
    assert {r["status"] for r in results} == {"failed"}
    assert "login as reports@example.test refused (535)" in results[0]["error"]
    assert "wrong-password-xyz" not in caplog.text + json.dumps(results)
    assert smtp_starttls_server.messages == []


def test_smtp_refused_recipient_is_reported_alone(
    mail_target, ledger, smtp_server, monkeypatch
) -> None:
    for k, v in smtp_server.env().items():
        monkeypatch.setenv(k, v)
    smtp_server.handler.refuse.add("extra0@example.test")
    results = deliver(
        envelopes(mail_target, 1),
        SMTPTransport.from_settings(load_settings(env_file=None)),
        ledger=ledger,
    )
    assert statuses(results) == [
        ("001TARGET000000000", "owner0@example.test", "sent"),
        ("001TARGET000000000", "extra0@example.test", "failed"),
    ]
    assert "550" in results[1]["error"]
    assert smtp_server.messages[0].rcpt_tos == ["owner0@example.test"]
    # The rerun retries only the refused address.
    smtp_server.handler.refuse.clear()
    retry = deliver(
        envelopes(mail_target, 1),
        SMTPTransport.from_settings(load_settings(env_file=None)),
        ledger=ledger,
    )
    assert [r["status"] for r in retry] == ["skipped-already-sent", "sent"]
    assert smtp_server.messages[1].rcpt_tos == ["extra0@example.test"]


def test_smtp_server_down_is_a_failure_not_a_crash(mail_target, ledger, monkeypatch) -> None:
    from tests.fixtures.mail import free_port

    transport = SMTPTransport(SMTPSettings("127.0.0.1", free_port(), "none", timeout=2))
    results = deliver(envelopes(mail_target, 2), transport, ledger=ledger)
    assert {r["status"] for r in results} == {"failed"}
    assert "ConnectionRefusedError" in results[0]["error"]


# --- exactly once across a killed run ------------------------------------------------------

KILLED_RUN = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from lib.settings import load as load_settings
    from runner.delivery import Ledger, deliver
    from runner.delivery.transports.smtp import SMTPTransport
    from tests.fixtures.mail import make_envelope

    spec = json.loads(Path(sys.argv[1]).read_text())
    envs = [make_envelope(Path(d), recipients=tuple(r)) for d, r in spec]
    deliver(envs, SMTPTransport.from_settings(load_settings(env_file=None)), ledger=Ledger.open(load_settings(env_file=None).state_url()))
    print("finished")
    """
)


def start_killable_run(tmp_path: Path, envs, server, db_url: str) -> subprocess.Popen:
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps([[str(e.html.parent), list(e.recipients)] for e in envs]))
    script = tmp_path / "run.py"
    script.write_text(KILLED_RUN)
    env = {**os.environ, **server.env(), "BROADSHEET_DB_URL": db_url, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, str(script), str(spec)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def per_target(server) -> Counter:
    return Counter(m.message["X-Broadsheet-Target"] for m in server.messages)


def test_killed_run_then_rerun_delivers_each_message_exactly_once(
    mail_target, smtp_server, tmp_path, monkeypatch, state_url
) -> None:
    n, killed_at = 6, 4  # SIGKILL when the 4th message's MAIL FROM arrives
    envs = envelopes(mail_target, n)
    db_url = state_url
    proc_holder: dict[str, subprocess.Popen] = {}

    def kill(mail_number: int) -> None:
        if mail_number == killed_at:
            proc_holder["proc"].send_signal(signal.SIGKILL)
            proc_holder["proc"].wait()

    smtp_server.handler.on_mail = kill
    proc = proc_holder["proc"] = start_killable_run(tmp_path, envs, smtp_server, db_url)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL, err.decode()
    assert b"finished" not in out
    assert len(smtp_server.messages) == killed_at - 1

    ledger = Ledger(upgrade(db_url))
    rows = {r.target: r for r in ledger.history("retailer_weekly")}
    interrupted = rows[envs[killed_at - 1].target_id]
    assert interrupted.status == "sending"  # the evidence the crash left

    smtp_server.handler.on_mail = None
    for k, v in smtp_server.env().items():
        monkeypatch.setenv(k, v)
    results = deliver(
        envs, SMTPTransport.from_settings(load_settings(env_file=None)), ledger=ledger
    )
    by_target = {r["target"]: r["status"] for r in results}
    assert [by_target[e.target_id] for e in envs] == (
        ["skipped-already-sent"] * (killed_at - 1) + ["sent"] * (n - killed_at + 1)
    )
    assert per_target(smtp_server) == Counter({e.target_id: 1 for e in envs})
    # The interrupted message went out under the Message-ID it was first built with.
    resent = [
        m for m in smtp_server.messages if m.message["X-Broadsheet-Target"] == interrupted.target
    ]
    assert resent[0].message["Message-ID"] == interrupted.internet_message_id

    # And a third run sends nothing at all.
    again = deliver(envs, SMTPTransport.from_settings(load_settings(env_file=None)), ledger=ledger)
    assert {r["status"] for r in again} == {"skipped-already-sent"}
    assert len(smtp_server.messages) == n


def test_kill_after_the_server_accepted_resends_under_the_same_message_id(
    mail_target, smtp_server, tmp_path, monkeypatch, state_url
) -> None:
    """The one window SMTP cannot close: the server took message 2, the client died before
    recording it. The rerun sends it again with the same Message-ID, which deduplicating
    stores (Exchange Online, Gmail) collapse into one."""
    envs = envelopes(mail_target, 3)
    db_url = state_url
    holder: dict[str, subprocess.Popen] = {}

    def kill(message_number: int) -> None:
        if message_number == 2:
            holder["proc"].send_signal(signal.SIGKILL)
            holder["proc"].wait()

    smtp_server.handler.on_data = kill
    proc = holder["proc"] = start_killable_run(tmp_path, envs, smtp_server, db_url)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    smtp_server.handler.on_data = None
    for k, v in smtp_server.env().items():
        monkeypatch.setenv(k, v)
    deliver(
        envs,
        SMTPTransport.from_settings(load_settings(env_file=None)),
        ledger=Ledger(upgrade(db_url)),
    )
    ids = Counter(m.message["Message-ID"] for m in smtp_server.messages)
    assert len(ids) == 3  # three distinct messages...
    assert per_target(smtp_server)[envs[1].target_id] == 2  # ...the second seen twice
    assert ids.most_common(1)[0][1] == 2  # under one Message-ID


# --- exactly once between two runners that overlap ------------------------------------------

OVERLAPPING_RUN = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from lib.settings import load as load_settings
    from runner.delivery import Ledger, deliver
    from runner.delivery.transports.smtp import SMTPTransport
    from tests.fixtures.mail import make_envelope

    spec = json.loads(Path(sys.argv[1]).read_text())
    envs = [make_envelope(Path(d), recipients=tuple(r)) for d, r in spec]
    settings = load_settings(env_file=None)
    transport, ledger = SMTPTransport.from_settings(settings), Ledger.open(settings.state_url())
    Path(sys.argv[2]).write_text("about to deliver")
    results = deliver(envs, transport, ledger=ledger)
    print(json.dumps(sorted({r["status"] for r in results})))
    """
)


def test_two_overlapping_runners_deliver_each_message_once(
    mail_target, smtp_server, tmp_path, state_url
) -> None:
    """A second runner (a catch-up, or cron on another host) starts while the first is in
    the middle of its SMTP conversation: every message still goes out exactly once."""
    envs = envelopes(mail_target, 4)
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps([[str(e.html.parent), list(e.recipients)] for e in envs]))
    script = tmp_path / "run.py"
    script.write_text(OVERLAPPING_RUN)
    env = {**os.environ, **smtp_server.env(), "BROADSHEET_DB_URL": state_url}
    env["PYTHONPATH"] = str(ROOT)

    def start(name: str) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, str(script), str(spec), str(tmp_path / name)],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip

    runners: list[subprocess.Popen] = []

    def second_runner_joins(mail_number: int) -> None:
        # Hold the first runner's first message until the second is inside deliver().
        if mail_number == 1:
            runners.append(start("second.ready"))
            ready = tmp_path / "second.ready"
            for _ in range(600):
                if ready.exists() or runners[1].poll() is not None:
                    break
                threading.Event().wait(0.05)
            threading.Event().wait(0.5)

    smtp_server.handler.on_mail = second_runner_joins
    runners.append(start("first.ready"))
    first_out, first_err = runners[0].communicate(timeout=120)
    second_out, second_err = runners[1].communicate(timeout=120)
    assert runners[0].returncode == 0, first_err
    assert runners[1].returncode == 0, second_err
    assert json.loads(first_out) == ["sent"]
    assert json.loads(second_out) == ["skipped-already-sent"]
    assert per_target(smtp_server) == Counter({e.target_id: 1 for e in envs})
    rows = Ledger(upgrade(state_url)).history("retailer_weekly")
    assert len(rows) == 8 and {r.status for r in rows} == {"sent"}


# --- the failure alert ---------------------------------------------------------------------


def test_alert_names_targets_cells_and_errors(mail_target, ledger, outbox, tmp_path) -> None:
    failures = [
        TargetError("cell failed", target="001A", cell=7, ename="KeyError", evalue="'Lender'"),
        {"target": "001B", "name": "<Bad> & Co", "error": "timed out after 600 s"},
    ] + delivery_failures(
        [
            {
                "target": "001C",
                "recipient": "x@example.test",
                "status": "failed",
                "error": "550 no",
            },
            {"target": "001D", "recipient": "y@example.test", "status": "sent", "error": None},
        ]
    )
    run_dir = tmp_path / "outputs" / "retailer_weekly" / "2026-11-22"
    results = send_alert(
        failures,
        report="retailer_weekly",
        as_of=date(2026, 11, 22),
        admins=["ops@example.com", "not an address"],
        transport=outbox,
        sender="Broadsheet <reports@example.test>",
        run_dir=run_dir,
    )
    assert statuses(results) == [("_alert", "ops@example.com", "sent")]
    msg = BytesParser(policy=policy.default).parsebytes(Path(results[0]["id"]).read_bytes())
    assert msg["Subject"] == "Broadsheet: retailer_weekly 2026-11-22: 3 target(s) failed"
    text = msg.get_body(("plain",)).get_content()
    assert "- 001A, cell 7: KeyError: 'Lender'" in text
    assert "- 001B (<Bad> & Co): timed out after 600 s" in text
    assert "- 001C: delivery to x@example.test failed: 550 no" in text
    assert "&lt;Bad&gt; &amp; Co" in msg.get_body(("html",)).get_content()
    assert (run_dir / "alert.html").exists() and (run_dir / "alert.txt").exists()
    assert ledger.history("retailer_weekly") == []


def test_no_failures_no_alert_and_a_broken_transport_never_raises(mail_target) -> None:
    class Broken:
        name = "broken"

        def send(self, msg, env):
            raise OSError("relay down")

    assert (
        send_alert(
            [],
            report="r",
            as_of=date(2026, 1, 1),
            admins=["a@example.com"],
            transport=Broken(),
            sender="s@example.test",
        )
        == []
    )
    (row,) = send_alert(
        [{"target": "T", "error": "boom"}],
        report="r",
        as_of=date(2026, 1, 1),
        admins=["a@example.com"],
        transport=Broken(),
        sender="s@example.test",
    )
    assert row["status"] == "failed" and "relay down" in row["error"]


def test_delivery_rows_reach_the_database_as_the_model(ledger, mail_target, outbox) -> None:
    deliver(envelopes(mail_target, 1), outbox, ledger=ledger)
    rows = ledger.history("retailer_weekly", date(2026, 11, 22))
    assert all(isinstance(r, Delivery) and r.transport == "outbox" for r in rows)
    assert all(r.internet_message_id and r.internet_message_id.startswith("<") for r in rows)
