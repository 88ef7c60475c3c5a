"""Progress: a bar on a terminal (done, failed, ETA), plain log lines for cron."""

from __future__ import annotations

import io
import logging

from runner.execution.job import TargetResult
from runner.progress import ProgressReporter


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _result(i: int, status: str = "ok") -> TargetResult:
    return TargetResult(
        id=f"R{i}", name=f"Retailer {i}", kind="retailer", status=status, duration=0.1
    )


def test_terminal_gets_a_bar_with_failures():
    out = _Terminal()
    progress = ProgressReporter(0, "retailer_weekly", stream=out)
    for i, status in enumerate(["ok", "failed", "ok"], 1):
        progress(_result(i, status), i, 3)
    progress.close()
    last = out.getvalue().strip().split("\r")[-1]
    assert "3/3" in last and "failed=1" in last and "retailer_weekly" in last


def test_cron_gets_log_lines(caplog):
    progress = ProgressReporter(0, "retailer_weekly", stream=io.StringIO())
    with caplog.at_level(logging.INFO, logger="runner.progress"):
        progress(_result(1), 1, 2)
        progress(_result(2, "failed"), 2, 2)
    lines = [r.getMessage() for r in caplog.records]
    assert "retailer_weekly: 1/2 done, 0 failed" in lines[0] and "ETA" in lines[0]
    assert "2/2 done, 1 failed" in lines[1] and "R2 failed" in lines[1]
