"""A run's progress on the terminal: a bar on a TTY, plain log lines for cron.

Its own module, light on imports, because the CLI reports the progress of a run that a
warm runner (``runner/resident.py``) executes, without importing the execution stack.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

log = logging.getLogger(__name__)


class ProgressReporter:
    """A progress bar on a terminal; plain log lines when not a TTY (cron)."""

    def __init__(self, total: int, label: str, *, stream=None) -> None:
        self.stream = stream or sys.stderr
        self.total = total
        self.label = label
        self.failed = 0
        self.started = time.monotonic()
        self.bar = None
        if self.stream.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=label, unit="target", file=self.stream)

    def __call__(self, result: Any, done: int, total: int) -> None:
        """Count one finished target (anything with ``id``, ``status`` and ``duration``)."""
        if result.status != "ok":
            self.failed += 1
        if self.bar is not None:
            if self.bar.total != total:  # the CLI learns the target count from the first result
                self.bar.total = total
            self.bar.set_postfix(failed=self.failed)
            self.bar.update(1)
            return
        elapsed = time.monotonic() - self.started
        eta = elapsed / done * (total - done) if done else 0.0
        log.info(
            "%s: %d/%d done, %d failed, ETA %.0fs — %s %s (%.1fs)",
            self.label,
            done,
            total,
            self.failed,
            eta,
            result.id,
            result.status,
            result.duration,
        )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
