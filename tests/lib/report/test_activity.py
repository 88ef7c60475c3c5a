"""Which targets have something to report (lib.report.no_activity)."""

from __future__ import annotations

from lib.report import no_activity

EVENTS = ("submissions", "decisions", "signed", "paid", "cancelled")


def _figures(**lw):
    metrics = {e: {"LW": lw.get(e, 0), "LW_prev": 9} for e in EVENTS}
    metrics |= {"pipeline_ans_count": {"as_at": 0}, "pipeline_snp_count": {"as_at": 0}}
    return {
        "windows": {"LW": ["2026-11-16", "2026-11-22"]},
        "metrics": metrics,
        "pipeline": {"ans": [], "snp": []},
    }


def test_quiet_week_and_empty_pipeline_is_held_back_with_the_reason():
    reason = no_activity(_figures(), "LW")
    assert reason == (
        "no application activity in last week (2026-11-16 to 2026-11-22) and nothing in the "
        "pipeline (send_when: activity)"
    )


def test_any_event_or_anything_waiting_is_activity():
    for event in EVENTS:
        assert no_activity(_figures(**{event: 1}), "LW") is None, event
    waiting = _figures()
    waiting["pipeline"]["snp"] = [{"ref": "APP-1", "days": 40}]
    assert no_activity(waiting, "LW") is None
    counted = _figures()
    counted["metrics"]["pipeline_ans_count"]["as_at"] = 2
    assert no_activity(counted, "LW") is None
