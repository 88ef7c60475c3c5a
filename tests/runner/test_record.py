"""The day's run.json across runs: a --target rerun merges, a full run replaces."""

from __future__ import annotations

import json

from runner import record


def run(started: str, targets: dict[str, str], *, only=(), deliveries=(), skipped=()):
    failed = any(s != "ok" for s in targets.values())
    return {
        "report": "tiny",
        "as_of": "2026-11-22",
        "started_at": started,
        "duration": 2.0,
        "targets": [{"id": i, "name": i, "status": s} for i, s in targets.items()],
        "deliveries": [{"target": t, "recipient": r, "status": s} for t, r, s in deliveries],
        "skipped_recipients": [
            {"target": t, "address": None, "reason": "missing"} for t in skipped
        ],
        "spec": {"targets": list(only)},
        "exit_status": 1 if failed else 0,
    }


def test_a_target_rerun_keeps_every_other_target_and_stamps_when_each_ran(tmp_path):
    path = tmp_path / "run.json"
    first = run(
        "T1",
        {"a": "ok", "b": "failed", "c": "ok"},
        deliveries=[("a", "a@x", "sent"), ("c", "c@x", "sent"), ("_alert", "ops@x", "sent")],
        skipped=["b"],
    )
    record.write(path, first, partial=False)
    second = run("T2", {"b": "ok"}, only=["b"], deliveries=[("b", "b@x", "sent")])
    day = record.write(path, second, partial=True)
    assert day == json.loads(path.read_text())
    assert [(t["id"], t["status"], t["ran_at"]) for t in day["targets"]] == [
        ("a", "ok", "T1"),
        ("b", "ok", "T2"),
        ("c", "ok", "T1"),
    ]
    assert day["summary"] == {"targets": 3, "ok": 3, "failed": 0} and day["exit_status"] == 0
    assert {(d["target"], d["status"]) for d in day["deliveries"]} == {
        ("a", "sent"),
        ("b", "sent"),
        ("c", "sent"),
        ("_alert", "sent"),
    }
    assert day["skipped_recipients"] == []
    assert day["started_at"] == "T2"
    assert [
        (r["started_at"], r["targets"], r["ran"], r["ok"], r["failed"]) for r in day["runs"]
    ] == [
        ("T1", None, 3, 2, 1),
        ("T2", ["b"], 1, 1, 0),
    ]


def test_already_sent_keeps_the_row_that_says_it_was_sent(tmp_path):
    path = tmp_path / "run.json"
    record.write(path, run("T1", {"a": "ok"}, deliveries=[("a", "a@x", "sent")]), partial=False)
    again = run("T2", {"a": "ok"}, only=["a"], deliveries=[("a", "a@x", "skipped-already-sent")])
    day = record.write(path, again, partial=True)
    assert [d["status"] for d in day["deliveries"]] == ["sent"]
    full = run("T3", {"a": "ok"}, deliveries=[("a", "a@x", "skipped-already-sent")])
    day = record.write(path, full, partial=False)
    assert [d["status"] for d in day["deliveries"]] == ["sent"]


def test_a_full_run_replaces_the_targets_but_keeps_the_days_runs(tmp_path):
    path = tmp_path / "run.json"
    record.write(path, run("T1", {"a": "failed", "gone": "ok"}), partial=False)
    day = record.write(path, run("T2", {"a": "ok"}), partial=False)
    assert [t["id"] for t in day["targets"]] == ["a"] and day["exit_status"] == 0
    assert [r["started_at"] for r in day["runs"]] == ["T1", "T2"]


def test_a_record_written_before_runs_were_kept_counts_as_one_run(tmp_path):
    path = tmp_path / "run.json"
    path.write_text(json.dumps(run("T0", {"a": "ok", "b": "failed"})))
    day = record.write(path, run("T1", {"b": "ok"}, only=["b"]), partial=True)
    assert [(t["id"], t["ran_at"]) for t in day["targets"]] == [("a", "T0"), ("b", "T1")]
    assert [r["started_at"] for r in day["runs"]] == ["T0", "T1"]


def test_an_unreadable_record_starts_the_day_afresh(tmp_path):
    path = tmp_path / "run.json"
    path.write_text("{not json")
    day = record.write(path, run("T1", {"b": "ok"}, only=["b"]), partial=True)
    assert [t["id"] for t in day["targets"]] == ["b"] and len(day["runs"]) == 1
