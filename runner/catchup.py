"""Catch-up: run now what a scheduled slot missed (the machine was down at 07:00).

Cron does not catch up, and ``--scheduled`` lets a run start only minutes late. So
``broadsheet catch-up`` (from cron at boot and every hour) looks at each enabled report's
most recent scheduled slot, London time, and the ``as_of`` that slot's run would have
used; if no ``outputs/<report>/<as_of>/run.json`` exists, it runs the report for that
``as_of`` exactly as the scheduled run would have (the same :class:`~runner.spec.RunSpec`
path, delivery and ledger). A second call finds the ``run.json`` and does nothing.

How late is too late is the declaration's ``catch_up``: a duration, ``false`` for never,
or by default until the report's next slot is due, at most 7 days
(:data:`runner.declarations.DEFAULT_CATCH_UP_CAP`): a weekly report missed on Monday still
goes out on Tuesday, while a month-old board pack is reported and left to a person.

Never twice: the run lock (:func:`runner.schedule.run_lock`) keeps a catch-up and a
scheduled run of the same report from running together, and the delivery ledger keeps a
message from going out twice whatever happens. A slot that is due right now (within
:data:`runner.schedule.GRACE`) is left to its scheduled run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal

from lib import periods
from runner import schedule
from runner.declarations import DEFAULT_CATCH_UP_CAP, Declaration, before

Action = Literal["run", "done", "too-late", "off", "due-now", "no-slot"]


@dataclass(frozen=True)
class Decision:
    """What catch-up makes of one report at ``now``."""

    report: str
    action: Action
    slot: datetime | None = None
    as_of: date | None = None
    reason: str = ""

    def describe(self) -> str:
        """One line for the log: the report, its slot and what happens."""
        slot = f" slot {self.slot:%a %d %b %Y %H:%M}" if self.slot else ""
        data = f", data to {self.as_of}" if self.as_of else ""
        return f"{self.report}:{slot}{data}: {self.reason}"


def _candidates(spec: Any, day: date) -> list[datetime]:
    """The scheduled London times on ``day``, latest first."""
    if isinstance(spec, schedule.FirstWorkingDay):
        if day != periods.first_working_day(day.year, day.month):
            return []
        return [datetime.combine(day, time(spec.hour, spec.minute), schedule.LONDON)]
    out = [
        datetime.combine(day, time(h, m), schedule.LONDON)
        for h in sorted(spec.hours, reverse=True)
        for m in sorted(spec.minutes, reverse=True)
    ]
    return [t for t in out if spec.matches(t)]


def previous_slot(schedule_text: str, now: datetime, *, horizon: int = 400) -> datetime | None:
    """The latest scheduled London time at or before ``now`` (within ``horizon`` days)."""
    spec = schedule.parse_schedule(schedule_text)
    local = now.astimezone(schedule.LONDON)
    for back in range(horizon):
        for t in _candidates(spec, local.date() - timedelta(days=back)):
            if t <= local:
                return t
    return None


def next_slot(schedule_text: str, after: datetime, *, horizon: int = 400) -> datetime | None:
    """The first scheduled London time strictly after ``after``."""
    spec = schedule.parse_schedule(schedule_text)
    local = after.astimezone(schedule.LONDON)
    for ahead in range(horizon):
        for t in reversed(_candidates(spec, local.date() + timedelta(days=ahead))):
            if t > local:
                return t
    return None


def slot_as_of(decl: Declaration, slot: datetime) -> date:
    """The ``as_of`` the run at ``slot`` uses: yesterday, or last month's end for a monthly."""
    local = slot.astimezone(schedule.LONDON)
    if decl.monthly:
        return periods.board_month_as_of(local.date())
    return periods.default_as_of(local)


def deadline(decl: Declaration, slot: datetime) -> datetime | None:
    """Until when a missed ``slot`` is still caught up; None when catch-up is off."""
    if decl.catch_up is False:
        return None
    if isinstance(decl.catch_up, str):
        # "36 hours" after the slot: before() subtracts, so go the other way round.
        return slot + (slot - before(slot, decl.catch_up))
    following = next_slot(decl.schedule, slot)
    cap = slot + DEFAULT_CATCH_UP_CAP
    return min(following, cap) if following else cap


def decide(decl: Declaration, now: datetime, outputs: Path) -> Decision:
    """Whether ``decl``'s most recent slot before ``now`` needs running now."""
    slot = previous_slot(decl.schedule, now)
    if slot is None:
        return Decision(decl.name, "no-slot", reason="no scheduled time in the past year")
    as_of = slot_as_of(decl, slot)
    if (outputs / decl.name / as_of.isoformat() / "run.json").is_file():
        return Decision(decl.name, "done", slot, as_of, "ran (run.json present): nothing to do")
    if now - slot < schedule.GRACE:
        return Decision(decl.name, "due-now", slot, as_of, "due now: left to the scheduled run")
    until = deadline(decl, slot)
    if until is None:
        return Decision(decl.name, "off", slot, as_of, "missed; catch_up is false: not run")
    if now > until:
        return Decision(
            decl.name,
            "too-late",
            slot,
            as_of,
            f"missed, and past its catch-up window (until {until:%a %d %b %H:%M}): not run; "
            f"to send it anyway: broadsheet run {decl.name} --as-of {as_of}",
        )
    return Decision(decl.name, "run", slot, as_of, "missed: running it now")


def plan(declarations: list[Declaration], now: datetime, outputs: Path) -> list[Decision]:
    """A decision for each enabled, scheduled report, in name order."""
    return [
        decide(d, now, outputs)
        for d in sorted(declarations, key=lambda d: d.name)
        if d.enabled and d.schedule
    ]
