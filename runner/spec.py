"""The one typed entry point of a run: a frozen :class:`RunSpec` in, a :class:`RunResult` out.

The CLI, cron (``--scheduled``) and the admin's test sends all build a ``RunSpec``, so
their options cannot drift apart; ``run.json`` is a ``RunResult``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    # A type only: building a RunSpec must not import Papermill and nbconvert.
    from runner.execution.job import TargetResult


@dataclass(frozen=True)
class RunSpec:
    """Everything that decides what a run does."""

    report: str
    as_of: date | None = None
    source: str = "demo"
    targets: tuple[str, ...] = ()
    deliver: str = "outbox"
    test_to: str | None = None
    resend: bool = False
    workers: int | None = None
    scheduler: str | None = None
    isolated: bool = False
    retailers: int | None = None  # demo source only: size of the demo book
    preview: bool = False  # rendered into <as_of>-preview for the admin; never delivered


@dataclass
class RunResult:
    """What a run did; written as ``run.json``."""

    report: str
    as_of: str
    source: str
    snapshot: str
    started_at: str
    duration: float
    targets: list[TargetResult]
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    skipped_recipients: list[dict[str, Any]] = field(default_factory=list)
    skipped_targets: list[dict[str, Any]] = field(default_factory=list)
    api: dict[str, Any] | None = None
    commentary: dict[str, Any] = field(default_factory=dict)
    spec: dict[str, Any] = field(default_factory=dict)
    # Where the run's time went, in seconds: ``startup`` (process start to the run: imports,
    # settings; None when the process was already running), ``snapshot`` (finding and
    # reading it), ``targets`` (declaration, admin choices, parameters, fan-out),
    # ``before_first_target`` (process start, or the run's start, to the first target's
    # start: all the above plus starting workers and kernels), ``fan_out`` (the first
    # target's start to the last one's end) and ``deliver``. Per target: ``targets[].timings``.
    timings: dict[str, float | None] = field(default_factory=dict)
    path: str | None = None

    @property
    def failed(self) -> list[TargetResult]:
        return [t for t in self.targets if t.status != "ok"]

    @property
    def exit_status(self) -> int:
        failed_deliveries = [d for d in self.deliveries if d.get("status") == "failed"]
        return 1 if self.failed or failed_deliveries else 0

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["targets"] = [t.to_json() for t in self.targets]
        data["exit_status"] = self.exit_status
        data["summary"] = {
            "targets": len(self.targets),
            "ok": len(self.targets) - len(self.failed),
            "failed": len(self.failed),
        }
        data.pop("path", None)
        return data
