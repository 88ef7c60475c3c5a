"""The admin's warm worker: one long-lived process that keeps a warm kernel for previews
and single-target test sends.

A report's fixed cost (imports, the kernel's start and its imports, the snapshot read in
the kernel) is paid once, by the first preview or test send; later ones reuse the
``broadsheet-warm`` kernel (``runner/execution/engines.py``), reset between targets as on
a Dask worker. The work runs in this child process, never in the server: papermill
changes the working directory of the process it runs in, a crash in a renderer must not
take the dashboard down, and the server's event loop stays free.

The server talks to it over two pipes of its own (JSON, one message a line), not over
stdout, which the kernel shares; the worker's output goes to
``<outputs>/logs/admin-worker.log``. Its settings travel in its environment, as for a
test-send worker (``admin/testsend.py``). It handles one request at a time; a worker that
died is started again by the next request, and the request it was serving fails.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Engine

from admin.store import Store
from admin.testsend import ROOT, SubprocessLauncher, get, update
from runner.state.models import utcnow

log = logging.getLogger(__name__)


class WorkerError(RuntimeError):
    """The worker died or could not be started; the request it was serving is lost."""


class WarmWorker:
    """The server's handle on the worker process: started on first use, one call at a time."""

    def __init__(self, settings: Any, engine: Engine) -> None:
        self.settings, self.engine = settings, engine
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._send: IO[str] | None = None
        self._receive: IO[str] | None = None
        self._calls = 0

    def call(self, request: dict[str, Any]) -> dict[str, Any]:
        """Send one request and wait for its reply (requests queue behind each other).

        Raises:
            WorkerError: the worker died before replying (it is started afresh next time).
        """
        with self._lock:
            self._ensure_started()
            assert self._send is not None and self._receive is not None
            self._calls += 1
            try:
                self._send.write(json.dumps({"id": self._calls, **request}) + "\n")
                self._send.flush()
                line = self._receive.readline()
            except OSError as err:
                line, error = "", err
            else:
                error = None
            if not line:
                code = self._stop()
                raise WorkerError(
                    f"the admin worker stopped (exit status {code}"
                    + (f", {error}" if error else "")
                    + "); see logs/admin-worker.log"
                )
            return json.loads(line)

    @property
    def pid(self) -> int | None:
        """The worker's process id while it runs."""
        return self._proc.pid if self._proc and self._proc.poll() is None else None

    def _ensure_started(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            return
        self._stop()
        to_worker_r, to_worker_w = os.pipe()
        from_worker_r, from_worker_w = os.pipe()
        logs = Path(self.settings.outputs) / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        environment = SubprocessLauncher(self.settings, self.engine).environment()
        with (logs / "admin-worker.log").open("ab") as out:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "admin.worker", str(to_worker_r), str(from_worker_w)],
                env=environment,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                pass_fds=(to_worker_r, from_worker_w),
            )
        os.close(to_worker_r)
        os.close(from_worker_w)
        self._send = os.fdopen(to_worker_w, "w", encoding="utf-8")
        self._receive = os.fdopen(from_worker_r, "r", encoding="utf-8")

    def _stop(self) -> int | None:
        """Close the pipes (the worker exits at end of input) and reap the process."""
        for stream in (self._send, self._receive):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    log.debug("pipe to the admin worker already closed")
        self._send = self._receive = None
        proc, self._proc = self._proc, None
        if proc is None:
            return None
        try:
            return proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait()

    def close(self) -> None:
        """Stop the worker (and its kernel); the next call starts a new one."""
        with self._lock:
            self._stop()


class WarmLauncher:
    """Test sends: one target on the warm worker; every target in a process of its own.

    A test send of every target fans out over Dask like a real run; on the warm worker it
    would hold up every preview behind it.
    """

    def __init__(self, worker: WarmWorker, fallback: SubprocessLauncher) -> None:
        self.worker, self.fallback = worker, fallback
        self.store = Store(worker.engine)

    def launch(self, job_id: int) -> None:
        """Start the job and return at once."""
        job = get(self.store, job_id)
        if job is None or not job.target:
            self.fallback.launch(job_id)
            return
        threading.Thread(
            target=self._run, args=(job_id,), name=f"test-send-{job_id}", daemon=True
        ).start()

    def _run(self, job_id: int) -> None:
        try:
            self.worker.call({"kind": "test-send", "job": job_id})
        except WorkerError as err:
            job = get(self.store, job_id)
            if job is not None and job.status in ("queued", "running"):
                update(self.store, job_id, status="failed", finished_at=utcnow(), error=str(err))


# --- the worker process --------------------------------------------------------------------


def preview(request: dict[str, Any], settings: Any) -> dict[str, Any]:
    """Render one target (``runner.run.preview``) and say whether the kernel was reused."""
    from datetime import date

    from runner.execution.engines import WarmEngine
    from runner.run import preview as render_preview
    from runner.spec import RunSpec

    spec = RunSpec(
        report=request["report"],
        targets=(request["target"],) if request.get("target") else (),
        as_of=date.fromisoformat(request["as_of"]) if request.get("as_of") else None,
        source=request["source"],
    )
    started = WarmEngine.started
    t0 = time.perf_counter()
    result = render_preview(spec, settings)
    return {
        "target": result.to_json(),
        "duration": time.perf_counter() - t0,
        "kernel": {"reused": WarmEngine.started == started, "pids": WarmEngine.kernel_pids()},
    }


def serve(receive: IO[str], send: IO[str], settings: Any, engine: Engine) -> None:
    """Answer requests until the server closes the pipe."""
    from admin import testsend
    from admin.problems import status_of
    from lib.errors import BroadsheetError
    from runner.execution.engines import WarmEngine

    try:
        for line in receive:
            request = json.loads(line)
            reply: dict[str, Any] = {"id": request.get("id"), "ok": True}
            try:
                if request["kind"] == "preview":
                    reply["result"] = preview(request, settings)
                elif request["kind"] == "test-send":
                    reply["status"] = testsend.work(
                        request["job"], settings, engine, keep_kernels=True
                    )
                else:
                    raise ValueError(f"unknown request {request['kind']!r}")
            except BroadsheetError as err:
                status, message, _, _ = status_of(err)
                reply |= {"ok": False, "status": status, "message": message}
            except Exception as err:  # noqa: BLE001 - one bad request must not stop the worker
                log.exception("admin worker: %s failed", request.get("kind"))
                reply |= {"ok": False, "status": 500, "message": f"{type(err).__name__}: {err}"}
            send.write(json.dumps(reply) + "\n")
            send.flush()
    finally:
        WarmEngine.discard()


def main(argv: list[str] | None = None) -> int:
    """``python -m admin.worker READ_FD WRITE_FD``: the worker process."""
    parser = argparse.ArgumentParser(prog="python -m admin.worker")
    parser.add_argument("read_fd", type=int)
    parser.add_argument("write_fd", type=int)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from lib import settings as settings_tree
    from runner.execution.engines import register_engines
    from runner.state.database import engine_for, upgrade

    settings = settings_tree.load()
    engine = upgrade(engine_for(settings.state_url()))
    register_engines()
    with (
        os.fdopen(args.read_fd, "r", encoding="utf-8") as receive,
        os.fdopen(args.write_fd, "w", encoding="utf-8") as send,
    ):
        serve(receive, send, settings, engine)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
