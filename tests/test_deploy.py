"""The deployment recipe in deploy/: the systemd unit, the crontab block under Debian's
cron, the secrets file, and backups of the state database."""

from __future__ import annotations

import configparser
import os
import re
import sqlite3
import subprocess
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from lib.errors import ConfigError
from lib.settings import ROOT, variables
from runner import declarations, schedule
from runner.delivery.ledger import Ledger, Mark
from runner.state.backup import backup
from tests.fixtures.system import find, require

DEPLOY = ROOT / "deploy"
UNIT = DEPLOY / "broadsheet-admin.service"


def _unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=True, interpolation=None)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string(UNIT.read_text())
    return parser


def test_the_unit_serves_the_admin_on_loopback_as_its_own_user() -> None:
    unit = _unit()
    assert unit.sections() == ["Unit", "Service", "Install"]
    service = unit["Service"]
    assert (service["User"], service["Group"]) == ("broadsheet", "broadsheet")
    assert service["WorkingDirectory"] == "/opt/broadsheet"  # where .env (0600) is read
    assert service["ExecStart"] == (
        "/opt/broadsheet/.venv/bin/broadsheet admin --host 127.0.0.1 --port 8765"
    )
    assert service["Environment"] == "BROADSHEET_TRUSTED_PROXIES=127.0.0.1"
    assert service["ProtectSystem"] == "strict" and service["NoNewPrivileges"] == "yes"
    assert set(service["ReadWritePaths"].split()) == {
        "/opt/broadsheet/outputs",
        "/var/lib/broadsheet",
    }
    assert "EnvironmentFile" not in service  # one secrets file: the checkout's .env
    assert unit["Install"]["WantedBy"] == "multi-user.target"


def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    analyze = find("systemd-analyze")
    if analyze is None:  # containers without systemd: the strict parse above stands alone
        return
    # This checkout stands in for /opt/broadsheet; `daemon` for the service user.
    text = UNIT.read_text().replace("/opt/broadsheet", str(ROOT))
    text = re.sub(r"^(User|Group)=broadsheet$", r"\1=daemon", text, flags=re.M)
    unit = tmp_path / "broadsheet-admin.service"
    unit.write_text(text)
    done = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "broadsheet-admin.service" not in done.stderr, done.stderr  # no warning about it


def test_the_env_example_names_only_real_settings() -> None:
    text = (DEPLOY / "broadsheet.env.example").read_text()
    named = re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", text, flags=re.M)
    assert named and set(named) <= set(variables())
    assert "install -o broadsheet -g broadsheet -m 0600" in text


def test_caddy_and_logrotate_point_where_the_unit_and_cron_do() -> None:
    caddy = (DEPLOY / "Caddyfile").read_text()
    assert "reverse_proxy 127.0.0.1:8765" in caddy
    rotate = (DEPLOY / "logrotate").read_text()
    assert rotate.startswith("#") and "/opt/broadsheet/outputs/logs/*.log {" in rotate
    assert "copytruncate" in rotate and "su broadsheet broadsheet" in rotate
    cron = (DEPLOY / "broadsheet-backup.cron").read_text().splitlines()[-1].split()
    assert cron[:6] == ["15", "2", "*", "*", "*", "broadsheet"]
    assert ".venv/bin/broadsheet backup /var/backups/broadsheet" in " ".join(cron)


@pytest.mark.system("crontab")
def test_debian_cron_installs_the_generated_block_for_a_throwaway_user(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to create a throw-away user")
    useradd, userdel = require("useradd", "userdel").values()
    registry = declarations.discover(ROOT / "parameters")
    decls = [registry.get(name) for name in registry]
    block = schedule.crontab_block(decls, root=Path("/opt/broadsheet"))
    user = f"bs{uuid.uuid4().hex[:8]}"
    subprocess.run([useradd, "--system", "--no-create-home", user], check=True)
    try:
        assert schedule.install(block, user=user) is True  # Debian's crontab checks it
        installed = schedule.read_crontab(user)
        assert installed == block
        assert schedule.installed_block(installed) == block
        assert schedule.install(block, user=user) is False
        jobs = [line for line in installed.splitlines() if not line.startswith("#")]
        assert sum(" run " in j for j in jobs) >= 4
        assert jobs[-3].startswith("@reboot ") and jobs[-1].startswith("40 3 * * * ")
        # The same crontab program refuses a broken line: the check above is real.
        with pytest.raises(ConfigError, match="crontab refused"):
            schedule.install(block.replace("40 3 * * *", "61 3 * * *"), user=user)
    finally:
        subprocess.run(["crontab", "-u", user, "-r"], capture_output=True)
        subprocess.run([userdel, user], check=True)


def _ledger_with_one_row(url: str) -> None:
    Ledger.open(url).mark(
        "board_pack", date(2026, 10, 31), "all", ["chair@example.com"], Mark("sent", "outbox", "x")
    )


def test_backup_of_sqlite_keeps_the_newest(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    _ledger_with_one_row(url)
    start = datetime(2026, 11, 28, 2, 15, tzinfo=UTC)
    made = [backup(url, tmp_path / "b", keep=2, now=start + timedelta(days=i)) for i in range(3)]
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == [made[1].name, made[2].name]
    assert made[2].name == "state-20261130T021500Z.db" and made[2].stat().st_mode & 0o777 == 0o600
    with sqlite3.connect(made[2]) as copy:
        assert copy.execute("select recipient, status from deliveries").fetchall() == [
            ("chair@example.com", "sent")
        ]


def test_backup_of_postgresql_restores(postgres_server, tmp_path: Path) -> None:
    url = postgres_server.create_database()
    _ledger_with_one_row(url)
    dump = backup(url, tmp_path)
    assert dump.suffix == ".dump"
    restored = postgres_server.create_database()
    pg_restore = require("pg_restore")["pg_restore"]
    target = restored.replace("postgresql+psycopg://", "postgresql://")
    subprocess.run([pg_restore, "--no-owner", f"--dbname={target}", str(dump)], check=True)
    rows = Ledger.open(restored).history("board_pack")
    assert [(r.recipient, r.status) for r in rows] == [("chair@example.com", "sent")]


def test_backup_command(project) -> None:
    done = project.invoke("backup", str(project.root / "backups"))
    assert done.returncode == 2 and "no SQLite database" in done.stderr
    _ledger_with_one_row(project.settings.state_url())
    done = project.invoke("backup", str(project.root / "backups"), "--keep", "3")
    assert done.returncode == 0 and Path(done.stdout.strip()).is_file()
