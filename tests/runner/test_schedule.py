"""Schedules: first working days, London time on any machine, the crontab block, the lock."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from lib.errors import ConfigError
from runner.schedule import (
    BEGIN,
    END,
    LONDON,
    check_schedule,
    cron_timings,
    crontab_block,
    first_working_day,
    install,
    merge_block,
    parse_cron,
    run_lock,
    should_run,
)

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Decl:
    name: str
    schedule: str
    enabled: bool = True


DECLS = [
    Decl("retailer_weekly", "0 7 * * 1"),
    Decl("bdm_portfolio", "30 7 * * 1"),
    Decl("smt_dashboard", "0 8 * * 1"),
    Decl("board_pack", "first-working-day 07:00"),
    Decl("retired_report", "0 9 * * *", enabled=False),
]


# --- first working days --------------------------------------------------------------------

# Worked out by hand from the calendar and the England & Wales bank holidays.
FIRST_WORKING_DAYS = {
    (2021, 1): date(2021, 1, 4),  # New Year's Day a Friday, then the weekend
    (2022, 1): date(2022, 1, 4),  # 1 Jan a Saturday: the substitute holiday is Monday 3rd
    (2023, 1): date(2023, 1, 3),  # 1 Jan a Sunday: substitute Monday 2nd
    (2024, 1): date(2024, 1, 2),
    (2025, 1): date(2025, 1, 2),
    (2027, 1): date(2027, 1, 4),
    (2028, 1): date(2028, 1, 4),  # Saturday, substitute Monday 3rd
    (1994, 4): date(1994, 4, 5),  # Good Friday the 1st, Easter Monday the 4th
    (2018, 4): date(2018, 4, 3),  # Easter Sunday the 1st, Easter Monday the 2nd
    (2021, 4): date(2021, 4, 1),  # Good Friday is the 2nd: the 1st still works
    (2024, 4): date(2024, 4, 2),  # Easter Monday the 1st
    (2029, 4): date(2029, 4, 3),  # Easter Monday the 2nd
    (2030, 4): date(2030, 4, 1),
    (2020, 5): date(2020, 5, 1),  # the early May holiday moved to VE Day, the 8th
    (2023, 5): date(2023, 5, 2),  # early May bank holiday the 1st
    (2027, 5): date(2027, 5, 4),
    (2022, 8): date(2022, 8, 1),  # Scotland's first-Monday holiday does not count
    (2026, 12): date(2026, 12, 1),
}


@pytest.mark.parametrize(("year", "month"), sorted(FIRST_WORKING_DAYS))
def test_first_working_day_known_months(year: int, month: int) -> None:
    assert first_working_day(year, month) == FIRST_WORKING_DAYS[(year, month)]


def test_board_pack_runs_once_a_month_on_its_first_working_day() -> None:
    for year in range(2021, 2031):
        for month in range(1, 13):
            runs = [
                d
                for d in (date(year, month, day) for day in range(1, 8))
                if should_run("first-working-day 07:00", datetime.combine(d, time(7, 2), LONDON))
            ]
            assert runs == [first_working_day(year, month)], (year, month)
            assert runs[0].weekday() < 5


# --- London time whatever the machine's zone ----------------------------------------------


def test_should_run_uses_the_london_wall_clock() -> None:
    monday_jan, monday_jul = date(2026, 1, 5), date(2026, 7, 6)
    at = lambda d, h, m=0: datetime.combine(d, time(h, m), UTC)  # noqa: E731
    assert should_run("0 7 * * 1", at(monday_jan, 7))  # GMT: 07:00 UTC is 07:00 London
    assert not should_run("0 7 * * 1", at(monday_jan, 6))
    assert should_run("0 7 * * 1", at(monday_jul, 6))  # BST: 06:00 UTC is 07:00 London
    assert not should_run("0 7 * * 1", at(monday_jul, 7))
    assert should_run("0 7 * * 1", at(monday_jan, 7, 9))  # a slow start is still on time
    assert not should_run("0 7 * * 1", at(monday_jan, 7, 10))
    assert not should_run("0 7 * * 1", at(monday_jan, 6, 59))
    assert not should_run("0 7 * * 1", at(monday_jan + timedelta(days=1), 7))
    assert should_run("0 7 * * 1", datetime(2026, 1, 5, 7, 0, 30))  # naive means UTC


def firings(timing: str, zone, start: date, end: date):
    """Every instant cron, running in ``zone``, starts the job with ``timing``."""
    cron = parse_cron(timing)
    d = start
    while d <= end:
        for hour in sorted(cron.hours):
            for minute in sorted(cron.minutes):
                local = datetime.combine(d, time(hour, minute), zone)
                if cron.matches(local):
                    yield local
        d += timedelta(days=1)


@pytest.mark.parametrize(
    "zone",
    [
        UTC,
        LONDON,
        ZoneInfo("America/New_York"),
        ZoneInfo("Australia/Sydney"),
        ZoneInfo("Asia/Kolkata"),
    ],
    ids=str,
)
def test_each_report_runs_exactly_at_its_london_times_all_year(zone) -> None:
    start, end = date(2026, 1, 1), date(2026, 12, 31)
    expected = {
        "0 7 * * 1": lambda d: d.weekday() == 0 and time(7, 0),
        "30 7 * * 1": lambda d: d.weekday() == 0 and time(7, 30),
        "first-working-day 07:00": lambda d: d == first_working_day(d.year, d.month) and time(7),
    }
    for schedule, when in expected.items():
        ran = []
        for timing in cron_timings(schedule, zone, start=start):
            for fired in firings(timing, zone, start - timedelta(days=1), end + timedelta(days=1)):
                if should_run(schedule, fired):
                    ran.append(fired.astimezone(LONDON))
        wanted = [
            datetime.combine(d, when(d), LONDON)
            for d in (start + timedelta(days=n) for n in range((end - start).days + 1))
            if when(d)
        ]
        assert sorted(r.replace(tzinfo=None) for r in ran if start <= r.date() <= end) == [
            w.replace(tzinfo=None) for w in wanted
        ], (schedule, zone)


def test_timings_for_a_utc_machine_cover_gmt_and_bst() -> None:
    assert cron_timings("0 7 * * 1", UTC, start=date(2026, 1, 1)) == ["0 6-7 * * 1"]
    assert cron_timings("first-working-day 07:00", UTC, start=date(2026, 1, 1)) == ["0 6-7 1-7 * *"]
    assert cron_timings("0 7 * * 1", LONDON, start=date(2026, 1, 1)) == ["0 7 * * 1"]
    # Crossing midnight loses the day fields; should_run then does the filtering.
    assert cron_timings("30 0 * * 1", UTC, start=date(2026, 1, 1)) == ["30 0,23 * * *"]


@pytest.mark.parametrize(
    "bad",
    [
        "61 7 * * 1",
        "0 7 * *",
        "0 7 * * funday",
        "first-working-day 7:00",
        "first-working-day",
        "0 7 L * *",
        "*/0 7 * * *",
    ],
)
def test_bad_schedules_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        check_schedule(bad)


def test_cron_names_ranges_and_sunday_as_seven() -> None:
    cron = parse_cron("0 7 * jan-mar mon-fri")
    assert cron.months == {1, 2, 3} and cron.weekdays == {1, 2, 3, 4, 5}
    assert parse_cron("0 7 * * 7").weekdays == {0}
    # Vixie cron: both day fields restricted means either may match.
    either = parse_cron("0 7 1 * 1")
    assert either.matches(datetime(2026, 6, 1, 7, 0)) and either.matches(datetime(2026, 6, 8, 7, 0))


# --- the crontab block ---------------------------------------------------------------------


def test_crontab_block_lines(tmp_path: Path) -> None:
    block = crontab_block(DECLS, root=tmp_path, zone=UTC, start=date(2026, 1, 1))
    lines = block.splitlines()
    assert lines[0] == BEGIN and lines[-1] == END
    jobs = [line for line in lines if not line.startswith("#") and " run " in line]
    assert len(jobs) == 4  # one per enabled report; the disabled one is left out
    board = next(j for j in jobs if "board_pack" in j)
    venv = tmp_path / ".venv" / "bin" / "broadsheet"
    logs = tmp_path / "outputs" / "logs"
    assert board == (
        f"0 6-7 1-7 * * cd {tmp_path} && mkdir -p {logs} && {venv} run board_pack "
        f"--scheduled 'first-working-day 07:00' >> {logs}/board_pack.log 2>&1"
    )
    assert any(j.startswith("30 6-7 * * 1 ") and "bdm_portfolio" in j for j in jobs)
    assert "retired_report" not in block
    assert crontab_block(DECLS, root=tmp_path, zone=UTC, start=date(2026, 1, 1)) == block


def test_crontab_block_quotes_paths_and_escapes_percent(tmp_path: Path) -> None:
    odd = tmp_path / "my reports 100%"
    block = crontab_block([DECLS[0]], root=odd, zone=LONDON, outputs=Path("/srv/out"))
    (job,) = [line for line in block.splitlines() if " run " in line]
    assert job.startswith("0 7 * * 1 cd '")
    assert "100\\%" in job and "100%" not in job.replace("100\\%", "")
    assert ">> /srv/out/logs/retailer_weekly.log 2>&1" in job


def test_crontab_block_catches_up_at_boot_and_hourly_and_prunes_nightly(tmp_path: Path) -> None:
    block = crontab_block(DECLS, root=tmp_path, zone=UTC, start=date(2026, 1, 1))
    venv = tmp_path / ".venv" / "bin" / "broadsheet"
    logs = tmp_path / "outputs" / "logs"
    housekeeping = [line for line in block.splitlines() if "catch-up" in line or "prune" in line]
    assert housekeeping[1:] == [
        f"@reboot cd {tmp_path} && mkdir -p {logs} && {venv} catch-up >> {logs}/catch-up.log 2>&1",
        f"50 * * * * cd {tmp_path} && mkdir -p {logs} && {venv} catch-up >> {logs}/catch-up.log 2>&1",
        f"40 3 * * * cd {tmp_path} && mkdir -p {logs} && {venv} prune >> {logs}/prune.log 2>&1",
    ]
    # Nothing scheduled, nothing to catch up or prune: the block stays empty.
    empty = crontab_block([], root=tmp_path, zone=UTC)
    assert [line for line in empty.splitlines() if not line.startswith("#")] == []


def test_a_bad_declared_schedule_names_the_report(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"parameters/oops\.yaml: schedule"):
        crontab_block([Decl("oops", "0 25 * * *")], root=tmp_path, zone=UTC)


EXISTING = (
    "# my own jobs\n"
    "SHELL=/bin/bash\n"
    'MAILTO=""\n'
    "\n"
    "0 2 * * * /usr/bin/backup   --all  >/dev/null 2>&1\n"
    "*/5  *  * * *   echo hi   # trailing comment\n"
)


def test_install_leaves_every_other_line_alone_and_is_idempotent(tmp_path: Path) -> None:
    tab = tmp_path / "crontab"
    tab.write_text(EXISTING)
    block = crontab_block(DECLS, root=tmp_path, zone=UTC, start=date(2026, 1, 1))
    assert install(block, tabfile=tab) is True
    text = tab.read_text()
    assert text.startswith(EXISTING) and text.endswith(block)
    assert install(block, tabfile=tab) is False
    assert tab.read_text() == text

    # A changed schedule replaces the block where it stands; lines after it survive.
    tab.write_text(text + "15 3 * * * /usr/bin/after\n")
    changed = crontab_block([Decl("retailer_weekly", "0 6 * * 1")], root=tmp_path, zone=LONDON)
    assert install(changed, tabfile=tab) is True
    assert tab.read_text() == EXISTING + changed + "15 3 * * * /usr/bin/after\n"


def test_merge_refuses_a_broken_block() -> None:
    with pytest.raises(ConfigError, match="no '# END broadsheet'"):
        merge_block(f"{BEGIN}\n0 7 * * 1 x\n", f"{BEGIN}\n{END}\n")
    assert merge_block("no newline", f"{BEGIN}\n{END}\n") == f"no newline\n{BEGIN}\n{END}\n"


def test_install_for_the_user_goes_through_the_crontab_program(tmp_path: Path) -> None:
    store = tmp_path / "stored"
    fake = tmp_path / "crontab"
    fake.write_text(
        textwrap.dedent(f"""\
        #!/bin/sh
        if [ "$1" = "-l" ]; then
          if [ -f {store} ]; then cat {store}; exit 0; fi
          echo "no crontab for $(id -un)" >&2; exit 1
        fi
        cp "$1" {store}
        """)
    )
    fake.chmod(0o755)
    block = crontab_block(DECLS, root=tmp_path, zone=UTC, start=date(2026, 1, 1))
    assert install(block, cron_command=str(fake)) is True
    assert store.read_text() == block
    assert install(block, cron_command=str(fake)) is False
    store.write_text(EXISTING)
    assert install(block, cron_command=str(fake)) is True
    assert store.read_text() == EXISTING + block


def test_missing_crontab_program_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no crontab program"):
        install(f"{BEGIN}\n{END}\n", cron_command=str(tmp_path / "nope"))


# --- one run at a time ---------------------------------------------------------------------

HOLDER = """
import sys, time
from pathlib import Path
from runner.schedule import run_lock
with run_lock("retailer_weekly", Path(sys.argv[1])) as mine:
    assert mine
    Path(sys.argv[2]).write_text("held")
    time.sleep(60)
"""


def test_a_second_run_of_the_same_report_exits_quietly(tmp_path: Path, caplog) -> None:
    marker = tmp_path / "held"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path / "outputs"), str(marker)], cwd=ROOT
    )
    try:
        for _ in range(200):
            if marker.exists() or holder.poll() is not None:
                break
            subprocess.run(["sleep", "0.05"])
        assert marker.exists(), "the holder never took the lock"
        with (
            caplog.at_level(logging.WARNING),
            run_lock("retailer_weekly", tmp_path / "outputs") as mine,
        ):
            assert mine is False
        assert "retailer_weekly is already running" in caplog.text
        with run_lock("smt_dashboard", tmp_path / "outputs") as other:
            assert other is True  # another report is not blocked
    finally:
        holder.kill()
        holder.wait()
    with run_lock("retailer_weekly", tmp_path / "outputs") as mine:
        assert mine is True
