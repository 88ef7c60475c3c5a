"""Catch-up decisions: the most recent slot, its as_of, the window, and what was run."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from lib.errors import ConfigError
from runner import catchup
from runner.declarations import Declaration, before, load, parse_duration
from runner.schedule import LONDON


def decl(name: str = "weekly", schedule: str = "0 7 * * 1", **extra) -> Declaration:
    return Declaration(
        name=name,
        title="t",
        notebook="n.ipynb",
        schedule=schedule,
        fan_out="none",
        subject="{title}",
        recipients={"policy": "list"},
        **extra,
    )


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=LONDON)


def test_previous_and_next_slots_in_london_time() -> None:
    assert catchup.previous_slot("0 7 * * 1", at("2026-11-23T10:30")) == at("2026-11-23T07:00")
    assert catchup.previous_slot("0 7 * * 1", at("2026-11-23T06:59")) == at("2026-11-16T07:00")
    assert catchup.previous_slot("30 7 * * 1-5", at("2026-11-22T12:00")) == at("2026-11-20T07:30")
    # Across the clock change (29 March 2026): still 07:00 on the London wall clock.
    assert catchup.previous_slot("0 7 * * 1", at("2026-03-31T09:00")) == at("2026-03-30T07:00")
    fwd = "first-working-day 07:00"
    assert catchup.previous_slot(fwd, at("2026-11-23T10:30")) == at("2026-11-02T07:00")
    assert catchup.previous_slot(fwd, at("2027-01-04T08:00")) == at(
        "2027-01-04T07:00"
    )  # 1st: bank holiday
    assert catchup.next_slot("0 7 * * 1", at("2026-11-23T07:00")) == at("2026-11-30T07:00")


def test_the_slots_as_of_is_what_that_run_would_have_used() -> None:
    assert catchup.slot_as_of(decl(), at("2026-11-23T07:00")) == date(2026, 11, 22)
    monthly = decl(windows=("M",), schedule="first-working-day 07:00")
    assert catchup.slot_as_of(monthly, at("2026-11-02T07:00")) == date(2026, 10, 31)


def test_decisions(tmp_path: Path) -> None:
    weekly = decl()
    monday = at("2026-11-23T10:30")
    assert catchup.decide(weekly, monday, tmp_path).action == "run"
    assert catchup.decide(weekly, at("2026-11-23T07:05"), tmp_path).action == "due-now"
    # By default until the next slot: Sunday night still catches up, the next Monday not.
    assert catchup.decide(weekly, at("2026-11-29T23:00"), tmp_path).action == "run"
    assert catchup.decide(weekly, at("2026-11-30T06:59"), tmp_path).action == "run"
    daily = decl(schedule="0 7 * * *")
    assert catchup.decide(daily, at("2026-11-23T10:30"), tmp_path).action == "run"
    # A monthly pack is caught up for a week at most.
    pack = decl("pack", "first-working-day 07:00", windows=("M",))
    assert catchup.decide(pack, at("2026-11-06T09:00"), tmp_path).action == "run"
    late = catchup.decide(pack, monday, tmp_path)
    assert late.action == "too-late" and late.as_of == date(2026, 10, 31)
    assert "broadsheet run pack --as-of 2026-10-31" in late.describe()
    # An explicit window, and none at all.
    short = decl(catch_up="36 hours")
    assert catchup.decide(short, at("2026-11-24T18:59"), tmp_path).action == "run"
    assert catchup.decide(short, at("2026-11-24T19:01"), tmp_path).action == "too-late"
    assert catchup.decide(decl(catch_up=False), monday, tmp_path).action == "off"
    # A completed run of that as_of (whatever its outcome) is done.
    run_json = tmp_path / "weekly" / "2026-11-22" / "run.json"
    run_json.parent.mkdir(parents=True)
    run_json.write_text(json.dumps({"exit_status": 1}))
    done = catchup.decide(weekly, monday, tmp_path)
    assert (done.action, done.slot, done.as_of) == (
        "done",
        at("2026-11-23T07:00"),
        date(2026, 11, 22),
    )
    # A test send of the same day is not a run.
    test_send = tmp_path / "other" / "2026-11-22-test" / "run.json"
    test_send.parent.mkdir(parents=True)
    test_send.write_text("{}")
    assert catchup.decide(decl("other"), monday, tmp_path).action == "run"


def test_durations_and_their_validation(tmp_path: Path) -> None:
    assert parse_duration("26 weeks") == (26, "weeks")
    assert parse_duration("36h") == (36, "hours")
    assert parse_duration("25 months") == (25, "months")
    assert before(date(2026, 3, 31), "1 month") == date(2026, 2, 28)
    assert before(date(2028, 3, 31), "1 month") == date(2028, 2, 29)
    assert before(at("2026-11-23T10:30"), "2 days") == at("2026-11-21T10:30")
    assert decl().kept_for == "26 weeks"
    assert decl(windows=("M",)).kept_for == "25 months"
    for field, bad in (("catch_up", "soon"), ("catch_up", "true"), ("retention", "forever")):
        path = tmp_path / "r.yaml"
        path.write_text(
            "title: t\nnotebook: n.ipynb\nschedule: '0 7 * * 1'\nfan_out: none\n"
            f"subject: s\nrecipients: {{policy: list}}\n{field}: {bad}\n"
        )
        with pytest.raises(ConfigError, match=f"r.yaml: {field}: "):
            load(path)
    assert timedelta(hours=36) == at("2026-11-23T12:00") - before(at("2026-11-23T12:00"), "36 h")


def test_one_report_that_cannot_start_does_not_stop_the_others(project) -> None:
    from tests.fixtures.runner import WORKING_CELLS, make_notebook

    project.add("first", make_notebook(WORKING_CELLS))
    project.add("second", make_notebook(WORKING_CELLS))
    done = project.invoke(
        "catch-up", "--now", "2026-11-23T10:30", "--source", str(project.root / "no-snapshot")
    )
    assert done.returncode == 2
    assert done.stdout.count("missed: running it now") == 2
    for report in ("first", "second"):
        assert (
            f"broadsheet: {report}: --source {project.root / 'no-snapshot'}: not demo"
            in done.stderr
        )
