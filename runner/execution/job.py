"""One target's work, as it runs on a worker: execute, render, publish figures.

Everything a worker needs travels in a picklable :class:`TargetJob`, so the same
function runs in-process, on a ``LocalCluster`` or on a remote Dask worker that reaches
the snapshot and the outputs through a shared path.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nbformat

from lib import figures as figures_mod
from lib.errors import TargetError
from lib.registry import Registry
from runner.execution import execute
from runner.execution.engines import ENGINE, register_engines
from runner.outputs import target_dir, write_json

if TYPE_CHECKING:
    from runner.render import formats as render

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TargetJob:
    """Everything needed to produce one target's outputs."""

    report: str
    notebook: Path
    parameters: dict[str, Any]
    target_id: str
    target_name: str
    target_kind: str
    as_of: str
    outputs: Path
    formats: tuple[str, ...]
    timeout: int
    title: str
    period: str
    generated_at: str
    company: str = "Broadsheet"
    engine: str = ENGINE
    folder: str = ""  # the run's folder under outputs/<report>/; default as_of
    cwd: Path | None = None

    def render_context(self, out_dir: Path) -> render.RenderContext:
        """What the output formats need besides the executed notebook."""
        from runner.render import formats as render

        return render.RenderContext(
            target_dir=out_dir,
            report=self.report,
            title=self.title,
            target_name=self.target_name,
            as_of=self.as_of,
            period=self.period,
            generated_at=self.generated_at,
            company=self.company,
        )


@dataclass
class TargetResult:
    """What happened to one target; one entry of ``run.json``'s ``targets``."""

    id: str
    name: str
    kind: str
    status: str  # "ok" or "failed"
    duration: float
    files: list[str] = field(default_factory=list)
    error: dict[str, Any] | None = None
    timings: dict[str, float] = field(default_factory=dict)
    commentary: dict[str, Any] | None = None
    # When the target began on its worker (seconds since the epoch): the run's
    # ``before_first_target`` is measured to the earliest one.
    started: float | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def run_target(job: TargetJob, output_formats: Registry | None = None) -> TargetResult:
    """Execute and render one target. Never raises for the target's own failure.

    A failing cell, a timeout or a dead kernel is returned as a failed result naming the
    cell, so one target never stops the others.
    """
    # nbconvert and the output formats are imported here, not with this module: a run
    # imports this module before it starts its kernel ahead, which should boot meanwhile.
    from runner.render import formats as render

    began = time.time()
    register_engines()
    registry = output_formats or render.formats()
    started = time.perf_counter()
    out_dir = target_dir(job.outputs, job.report, job.folder or job.as_of, job.target_id)
    notebook_path = out_dir / "notebook.ipynb"
    timings: dict[str, float] = {}
    try:
        t0 = time.perf_counter()
        nb = execute.execute(
            job.notebook,
            notebook_path,
            job.parameters,
            target=job.target_id,
            timeout=job.timeout,
            cwd=job.cwd,
            engine=job.engine,
        )
        timings["execute"] = time.perf_counter() - t0
        cells = sum(float(c.metadata.get("papermill", {}).get("duration") or 0) for c in nb.cells)
        timings["kernel"] = max(0.0, timings["execute"] - cells)
        files = [str(notebook_path)]
        t0 = time.perf_counter()
        published = figures_mod.read(nb)
        if published is None:
            raise TargetError(
                "the notebook published no figures; call lib.figures.publish(...)",
                target=job.target_id,
                notebook=notebook_path,
            )
        ctx = job.render_context(out_dir)
        for name in job.formats:
            files += [str(p) for p in registry.get(name).render(nb, ctx)]
        timings["render"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        files.append(str(write_json(out_dir / "figures.json", published)))
        timings["write"] = time.perf_counter() - t0
        commentary = published.get("commentary") if isinstance(published, dict) else None
        return TargetResult(
            id=job.target_id,
            name=job.target_name,
            kind=job.target_kind,
            status="ok",
            duration=time.perf_counter() - started,
            files=files,
            timings=timings,
            commentary=_commentary_summary(commentary),
            started=began,
        )
    except TargetError as err:
        log.error("%s", err)
        return _failed(
            job,
            started,
            notebook_path,
            timings,
            began=began,
            cell=err.cell,
            ename=err.ename,
            evalue=err.evalue,
            # Without the "target …, cell …" prefix: the record names both already.
            message=f"{err.ename}: {err.evalue}" if err.ename else err.message,
            notebook=err.notebook,
        )
    except Exception as err:  # noqa: BLE001 - a render bug in one target must not stop the run
        log.exception("target %s failed while rendering", job.target_id)
        return _failed(
            job,
            started,
            notebook_path,
            timings,
            began=began,
            cell=None,
            ename=type(err).__name__,
            evalue=str(err),
            message=f"rendering failed: {type(err).__name__}: {err}",
            notebook=str(notebook_path) if notebook_path.exists() else None,
        )


def _failed(
    job: TargetJob,
    started: float,
    notebook_path: Path,
    timings: dict[str, float],
    *,
    began: float | None = None,
    **error: Any,
) -> TargetResult:
    """A failed target's result: its error, and the executed notebook when it was written."""
    return TargetResult(
        id=job.target_id,
        name=job.target_name,
        kind=job.target_kind,
        status="failed",
        duration=time.perf_counter() - started,
        files=[str(notebook_path)] if notebook_path.exists() else [],
        error=error,
        timings=timings,
        started=began,
    )


def _commentary_summary(commentary: Any) -> dict[str, Any] | None:
    if not isinstance(commentary, dict):
        return None
    return {"source": commentary.get("source"), "usage": commentary.get("usage")}


def read_notebook(path: Path) -> nbformat.NotebookNode:
    """Read a notebook once per worker (callers cache it)."""
    return nbformat.read(path, as_version=4)
