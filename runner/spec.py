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

    def to_json(self) -> dict[str, Any]:
        """The spec as JSON values (a date as ``YYYY-MM-DD``), for another process."""
        data = asdict(self)
        data["as_of"] = self.as_of.isoformat() if self.as_of else None
        data["targets"] = list(self.targets)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunSpec:
        """The inverse of :meth:`to_json`."""
        as_of = data.get("as_of")
        return cls(
            **{
                **data,
                "as_of": date.fromisoformat(as_of) if as_of else None,
                "targets": tuple(data.get("targets") or ()),
            }
        )


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

    def summary(self) -> list[str]:
        """What the CLI prints when the run is over: a line for the run, then one per
        failed target, failed delivery, skipped recipient and target held back."""
        ok = len(self.targets) - len(self.failed)
        lines = [f"{self.report} {self.as_of}: {ok}/{len(self.targets)} targets ok → {self.path}"]
        for t in self.failed:
            err = t.error or {}
            cell = f"cell {err.get('cell')}" if err.get("cell") is not None else "no cell"
            lines.append(
                f"  FAILED {t.id} ({t.name}): {cell}: {err.get('message')}  [{err.get('notebook')}]"
            )
        sent = [d for d in self.deliveries if d.get("status") == "sent"]
        if self.deliveries:
            lines.append(f"  delivered {len(sent)} message(s)")
        for d in self.deliveries:
            if d.get("status") == "failed":
                lines.append(
                    f"  DELIVERY FAILED {d.get('target')} → {d.get('recipient')}: {d.get('error')}"
                )
        for s in self.skipped_recipients:
            lines.append(
                f"  skipped recipient for {s.get('target')}: {s.get('address')!r}: {s.get('reason')}"
            )
        for s in self.skipped_targets:
            lines.append(f"  not sent {s.get('target')} ({s.get('name')}): {s.get('reason')}")
        return lines

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
