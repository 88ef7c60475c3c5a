"""Test sends: a job row, a worker process running the report, and its progress.

A test send is ``runner.run.run(RunSpec(report, targets=(target,), test_to=address,
deliver=...))``: the same entry point as ``broadsheet run --test-to``. It runs in a child
process, not in the server: a kernel crash or a long render can neither take the dashboard
down nor hold its event loop, and the worker records its own progress in the database,
where the page reads it. A test send of one target runs on the admin's warm worker
(``admin/worker.py``), which keeps its kernel between test sends and previews; one of
every target runs in a process of its own (``python -m admin.testsend JOB_ID``).
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import threading
from datetime import date
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Engine, select

from admin.store import Store
from lib.errors import BroadsheetError
from runner.state.models import TestSend, utcnow

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[1]


def create(
    store: Store,
    *,
    report: str,
    target: str | None,
    address: str,
    deliver: str,
    as_of: date | None,
    source: str,
) -> TestSend:
    """Queue a test send and return its row."""
    with store.sessions.begin() as s:
        job = TestSend(
            report=report,
            target=target or None,
            address=address,
            deliver=deliver,
            as_of=as_of,
            source=source,
            status="queued",
            created_at=utcnow(),
            done=0,
        )
        s.add(job)
    log.info(
        "test send %d queued: %s %s → %s (%s)",
        job.id,
        report,
        target or "every target",
        address,
        deliver,
    )
    return job


def get(store: Store, job_id: int) -> TestSend | None:
    """One job, or None."""
    with store.sessions() as s:
        return s.get(TestSend, job_id)


def recent(store: Store, limit: int = 20) -> list[TestSend]:
    """The latest jobs, newest first."""
    with store.sessions() as s:
        return list(s.scalars(select(TestSend).order_by(TestSend.id.desc()).limit(limit)))


def update(store: Store, job_id: int, **fields: Any) -> None:
    """Set some fields of a job, in one transaction."""
    with store.sessions.begin() as s:
        job = s.get(TestSend, job_id)
        if job is not None:
            for name, value in fields.items():
                setattr(job, name, value)


def deliveries(job: TestSend) -> list[dict[str, str | None]]:
    """The deliveries the job's run recorded (from its run.json)."""
    if not job.run_json:
        return []
    try:
        data = json.loads(Path(job.run_json).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    keys = ("target", "recipient", "status", "id", "error", "transport")
    return [
        {k: None if d.get(k) is None else str(d.get(k)) for k in keys}
        for d in data.get("deliveries") or []
    ]


class Launcher(Protocol):
    """Starts the work of a queued job (tests substitute one that does not run reports)."""

    def launch(self, job_id: int) -> None:
        """Start the job and return at once."""
        ...


class SubprocessLauncher:
    """Runs each job in ``python -m admin.testsend`` with the admin's settings.

    The child gets the settings through the environment (``BROADSHEET_*``, which
    ``lib.settings.Settings`` reads), never on its command line, where ``ps`` would
    show a database password. Its log goes to ``<outputs>/logs/test-send-<id>.log``. A
    thread waits for it and marks the job failed if the child died without saying so.
    """

    def __init__(self, settings: Any, engine: Engine) -> None:
        self.settings, self.engine = settings, engine
        self.store = Store(engine)

    def environment(self) -> dict[str, str]:
        """The worker's environment: ours, with the admin's settings as ``BROADSHEET_*``."""
        s = self.settings
        return {
            **s.environment(),
            "BROADSHEET_OUTPUTS": str(Path(s.outputs).resolve()),
            "BROADSHEET_PARAMETERS_DIR": str(Path(s.parameters_dir).resolve()),
            "BROADSHEET_NOTEBOOKS_DIR": str(Path(s.notebooks_dir).resolve()),
            "BROADSHEET_DB_URL": self.engine.url.render_as_string(hide_password=False),
            "BROADSHEET_ADMIN_EMAILS": json.dumps(list(s.admin_emails)),
            "BROADSHEET_COMPANY": s.company,
        }

    def command(self, job_id: int) -> list[str]:
        """The worker's command line (the job id only: settings travel in the environment)."""
        return [sys.executable, "-m", "admin.testsend", str(job_id)]

    def launch(self, job_id: int) -> None:
        """Start the worker and a thread that watches it."""
        logs = Path(self.settings.outputs) / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        log_path = logs / f"test-send-{job_id}.log"
        with log_path.open("ab") as out:
            proc = subprocess.Popen(
                self.command(job_id),
                env=self.environment(),
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        threading.Thread(
            target=self._watch,
            args=(job_id, proc, log_path),
            name=f"test-send-{job_id}",
            daemon=True,
        ).start()

    def _watch(self, job_id: int, proc: subprocess.Popen, log_path: Path) -> None:
        code = proc.wait()
        job = get(self.store, job_id)
        if job is not None and job.status in ("queued", "running"):
            tail = log_path.read_text(errors="replace").strip().splitlines()[-3:]
            update(
                self.store,
                job_id,
                status="failed",
                finished_at=utcnow(),
                error=f"the worker exited with status {code}: " + " / ".join(tail),
            )


def work(job_id: int, settings: Any, engine: Engine, *, keep_kernels: bool = False) -> str:
    """Run one queued job to the end; returns its final status. Never raises.

    ``keep_kernels``: leave the warm kernel running for the next job (the admin's warm
    worker, ``admin/worker.py``).
    """
    from runner import schedule
    from runner.run import run
    from runner.spec import RunSpec

    store = Store(engine)
    job = get(store, job_id)
    if job is None:
        log.error("test send %d: no such job", job_id)
        return "failed"
    update(store, job_id, status="running", started_at=utcnow())
    spec = RunSpec(
        report=job.report,
        as_of=job.as_of,
        source=job.source,
        targets=(job.target,) if job.target else (),
        deliver=job.deliver,
        test_to=job.address,
        # Every test send is a request to send again, whatever the ledger remembers.
        resend=True,
    )

    def progress(result: Any, done: int, total: int) -> None:
        update(store, job_id, done=done, total=total)

    try:
        with schedule.run_lock(job.report, settings.outputs) as mine:
            if not mine:
                raise BroadsheetError(
                    f"{job.report} is running now; try the test send when it ends"
                )
            result = run(spec, settings, progress=progress, keep_kernels=keep_kernels)
    except BroadsheetError as err:
        update(store, job_id, status="failed", finished_at=utcnow(), error=str(err))
        return "failed"
    except Exception as err:  # noqa: BLE001 - the job records any failure; the page shows it
        log.exception("test send %d failed", job_id)
        update(
            store,
            job_id,
            status="failed",
            finished_at=utcnow(),
            error=f"{type(err).__name__}: {err}",
        )
        return "failed"
    problems = [f"{t.id}: {(t.error or {}).get('message')}" for t in result.failed]
    problems += [
        f"{d.get('recipient')}: {d.get('error')}"
        for d in result.deliveries
        if d.get("status") == "failed"
    ]
    if not result.deliveries and spec.deliver != "none":
        problems.append("nothing was delivered (no successful target with an email output)")
    status = "failed" if problems else "done"
    update(
        store,
        job_id,
        status=status,
        finished_at=utcnow(),
        run_json=result.path,
        exit_status=result.exit_status,
        error="; ".join(problems) or None,
        done=len(result.targets),
        total=len(result.targets),
    )
    return status


def main(argv: list[str] | None = None) -> int:
    """``python -m admin.testsend JOB_ID``: the worker process of one test send."""
    parser = argparse.ArgumentParser(prog="python -m admin.testsend")
    parser.add_argument("job_id", type=int)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from lib import settings as settings_tree
    from runner.state.database import engine_for, upgrade

    settings = settings_tree.load()
    engine = upgrade(engine_for(settings.state_url()))
    return 0 if work(args.job_id, settings, engine) == "done" else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
