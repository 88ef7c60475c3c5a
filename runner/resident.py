"""The warm runner: ``broadsheet run`` handed to a long-lived process that keeps its kernels.

Why: a run in a process of its own pays about four seconds before its first output exists
(the interpreter and its imports, a kernel and the notebook's imports in it, the snapshot
read in it). Over a fan-out of 150 that is noise; for the runs people wait for (an analyst
rerunning one retailer while editing a report, a rerun of one target) it is all of the
wait. A warm runner pays it once and keeps a warm kernel in its own process (one-target
runs) and a Dask cluster whose workers keep theirs (fan-outs). Each run goes through
``runner.run.run`` exactly as in the CLI: the same run lock, ledger, ``run.json`` record,
and per-target isolation (the warm kernel's reset between targets, a failed target's
kernel replaced, ``runner/execution/engines.py``).

When: ``BROADSHEET_WARM``. ``auto`` (the default) hands a run over when ``broadsheet run``
is typed at a terminal, starting a runner if none is up; cron and anything else without a
terminal run in their own process, as before. ``on`` always, ``off`` never. A run with
``--scheduler`` (an existing Dask cluster) is never handed over. A runner stops after
``BROADSHEET_WARM_IDLE_MINUTES`` without a run, or with ``broadsheet warm --stop``.

Which runner: one per configuration and code. Its name is a digest of the settings
(``lib.settings.fingerprint``: every setting, secrets included, the variables that shape
a child process, the working directory) and of the code (every file under ``lib/`` and
``runner/``, Python modules beside the notebooks, the lock file, the interpreter). A run
whose settings or code differ starts a runner of its own and stops the ones started from
the same directory for other digests, so an edited ``.env`` or ``lib/`` module never runs
in a stale process.

Where: sockets in ``<tmp>/broadsheet-<uid>/``, a directory only this user may enter (a
directory of the right name owned by someone else, or open to others, means no warm
runner); the runner also checks each peer's user id. Its log is
``<outputs>/logs/warm-runner.log``.

Protocol: one JSON object per line. The client sends ``{"op": "run", "spec": ...,
"verbosity": N, "process_started": T}`` (or ``stop``, ``ping``). The runner answers
``{"busy": true}`` at once when a run is in progress (the client then runs in its own
process rather than queue), else ``{"started": true}``, ``{"log": line}`` and
``{"progress": ...}`` while it runs, then ``{"done": {"exit": N, "lines": [...], "error":
...}}``. A connection that ends before ``started`` (a runner stopping as the run came in)
means the client runs it itself.

A client that goes away mid-run (Ctrl-C) does not stop the run: the runner finishes it,
delivery included, as cron would, and ``run.json`` has the result. A runner that dies
mid-run is an error for the client (exit 1, naming the log); what was delivered is in the
ledger, so running again sends only the rest.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import queue
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import IO, TYPE_CHECKING, Any

from lib.settings import ROOT, fingerprint

if TYPE_CHECKING:
    from lib.settings import Settings
    from runner.execution.fanout import LocalWorkers
    from runner.spec import RunSpec

log = logging.getLogger("runner.resident")  # also when run as __main__

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Seconds a client waits for a runner it started to listen (its own imports, on a busy host).
START_TIMEOUT = 120
# Seconds a new runner waits for a stopping one of the same name to let go of its lock.
STOP_WAIT = 60
# Seconds between the runner's looks at its idle time.
IDLE_POLL = 5.0
CODE = ("lib", "runner")


# --- client side: light imports only (the CLI imports this before anything heavy) -----


def wanted(settings: Settings, spec: RunSpec, *, interactive: bool) -> bool:
    """Whether this run goes to a warm runner (see the module docstring)."""
    if spec.scheduler or settings.warm == "off":
        return False
    return settings.warm == "on" or interactive


def code_digest(notebooks: Path | None = None) -> str:
    """A digest of the code a runner has imported: a changed file means another runner.

    Every file under ``lib/`` and ``runner/`` (modules, templates), the lock file, the
    interpreter, and the Python modules beside the notebooks (``notebooks``), which a
    notebook may import and a warm kernel would otherwise keep as first imported.
    """
    h = hashlib.sha256(sys.executable.encode())
    files = [p for top in CODE for p in (ROOT / top).rglob("*") if "__pycache__" not in p.parts]
    files += [ROOT / "uv.lock", ROOT / "pyproject.toml"]
    if notebooks is not None:
        files += [p for p in Path(notebooks).rglob("*.py") if "__pycache__" not in p.parts]
    for path in sorted(files):
        with contextlib.suppress(FileNotFoundError):
            st = path.stat()
            if stat.S_ISREG(st.st_mode):
                h.update(f"{path}\0{st.st_mtime_ns}\0{st.st_size}\n".encode())
    return h.hexdigest()


def key(settings: Settings) -> str:
    """The name of the runner for these settings and this code."""
    both = f"{fingerprint(settings)}:{code_digest(Path(settings.notebooks_dir))}"
    return hashlib.sha256(both.encode()).hexdigest()[:24]


def runtime_dir(*, create: bool = True) -> Path | None:
    """``<tmp>/broadsheet-<uid>``, private to this user; None when it is not (another
    user made it, or it is open to others): then no warm runner is used."""
    path = Path(tempfile.gettempdir()) / f"broadsheet-{os.getuid()}"
    if create:
        with contextlib.suppress(FileExistsError):
            path.mkdir(mode=0o700)
    try:
        st = path.lstat()
    except FileNotFoundError:
        return None
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
        log.warning("%s is not private to this user: no warm runner", path)
        return None
    return path


def runners() -> list[dict[str, Any]]:
    """The runners this user has up: what each wrote about itself, with ``key``."""
    where = runtime_dir(create=False)
    out = []
    for info in sorted(where.glob("*.json")) if where else ():
        with contextlib.suppress(OSError, ValueError):
            data = json.loads(info.read_text())
            if _alive(data.get("pid")):
                out.append(data)
    return out


def submit(
    spec: RunSpec,
    settings: Settings,
    *,
    verbosity: int,
    process_started: float | None,
    progress: Callable[[Any, int, int], None],
    echo: Callable[[str, bool], None],
) -> int | None:
    """Run ``spec`` in the warm runner for ``settings``, starting one if none is up.

    Args:
        spec: the run.
        settings: this process's settings (they name the runner).
        verbosity: the CLI's ``-v`` count, for the runner's log lines.
        process_started: when this process started, for ``run.json``'s ``startup``.
        progress: called with each finished target (``id``, ``status``, ``duration``),
            the count done and the total.
        echo: writes one line for the user, to stderr when the flag is set (log lines,
            errors) or else to stdout (the summary).

    Returns:
        The run's exit status; None when this process should run it itself (the runner
        is busy with another run, or could not be started: the reason is logged).
    """
    name = key(settings)
    conn = _connect(name) or _start(settings, name)
    if conn is None:
        return None
    with conn, conn.makefile("rw", encoding="utf-8", newline="\n") as stream:
        _send(
            stream,
            {
                "op": "run",
                "spec": spec.to_json(),
                "verbosity": verbosity,
                "process_started": process_started,
            },
        )
        started = False
        try:
            for message in _messages(stream):
                started = started or bool(message.get("started"))
                if message.get("busy"):
                    log.info("the warm runner is busy with another run; running here")
                    return None
                if "log" in message:
                    echo(message["log"], True)
                elif "progress" in message:
                    p = message["progress"]
                    progress(SimpleNamespace(**p["result"]), p["done"], p["total"])
                elif "done" in message:
                    done = message["done"]
                    for line in done.get("lines", ()):
                        echo(line, False)
                    if done.get("error"):
                        echo(done["error"], True)
                    return int(done["exit"])
        except KeyboardInterrupt:
            echo(
                f"broadsheet: the warm runner finishes this run on its own "
                f"(its log: {_log_path(settings)}; the result: run.json)",
                True,
            )
            return 130
    if not started:
        log.info("the warm runner stopped before the run began; running here")
        return None
    echo(
        f"broadsheet: the warm runner stopped during the run; see {_log_path(settings)} "
        "(what was delivered is in the ledger: running again sends only the rest)",
        True,
    )
    return 1


def start(settings: Settings) -> dict[str, Any] | None:
    """Make sure a warm runner for ``settings`` is up (``broadsheet warm``): its info."""
    name = key(settings)
    conn = _connect(name) or _start(settings, name)
    if conn is None:
        return None
    with conn, conn.makefile("rw", encoding="utf-8", newline="\n") as stream:
        _send(stream, {"op": "ping"})
        for message in _messages(stream):
            return message.get("pong")
    return None


def stop(*, cwd: str | None = None, keep: str | None = None) -> list[dict[str, Any]]:
    """Ask runners to stop when idle (all of this user's, or those started from ``cwd``
    but for ``keep``); the ones asked."""
    asked = []
    for info in runners():
        if (cwd is not None and info.get("cwd") != cwd) or info.get("key") == keep:
            continue
        conn = _connect(info["key"])
        if conn is None:
            continue
        with conn, conn.makefile("rw", encoding="utf-8", newline="\n") as stream:
            _send(stream, {"op": "stop"})
        asked.append(info)
    return asked


def _socket_path(name: str) -> Path | None:
    where = runtime_dir()
    if where is None:
        return None
    path = where / f"{name}.sock"
    if len(os.fsencode(path)) > 100:  # AF_UNIX paths end at 107 bytes
        log.warning("%s is too long a socket path (TMPDIR): no warm runner", path)
        return None
    return path


def _log_path(settings: Settings) -> Path:
    return Path(settings.outputs).resolve() / "logs" / "warm-runner.log"


def _connect(name: str) -> socket.socket | None:
    path = _socket_path(name)
    if path is None or not path.exists():
        return None
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(str(path))
    except OSError:  # a socket left by a runner that died: nobody listens
        conn.close()
        return None
    return conn


def _start(settings: Settings, name: str) -> socket.socket | None:
    """Start a runner for ``name`` in the background and connect to it."""
    if _socket_path(name) is None:
        return None
    stop(cwd=os.getcwd(), keep=name)  # runners of this directory's older code or settings
    logs = _log_path(settings).parent
    logs.mkdir(parents=True, exist_ok=True)
    with _log_path(settings).open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "runner.resident", name],
            env=settings.environment(),  # the settings, .env included; never on argv
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # outlives this command and its terminal's signals
        )
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        conn = _connect(name)
        if conn is not None:
            return conn
        if proc.poll() is not None and _connect(name) is None:
            log.warning(
                "the warm runner did not start (exit status %s; see %s); running here",
                proc.returncode,
                _log_path(settings),
            )
            return None
        time.sleep(0.05)
    log.warning("the warm runner did not answer within %d s; running here", START_TIMEOUT)
    return None


def _send(stream: IO[str], message: dict[str, Any]) -> None:
    stream.write(json.dumps(message) + "\n")
    stream.flush()


def _messages(stream: IO[str]) -> Iterator[dict[str, Any]]:
    for line in stream:
        yield json.loads(line)


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# --- runner side ---------------------------------------------------------------------


class _Forward(logging.Handler):
    """The run's log lines, to the client that asked for the run."""

    def __init__(self, send: Callable[[dict[str, Any]], None]) -> None:
        super().__init__()
        self.send = send
        self.setFormatter(logging.Formatter(LOG_FORMAT))

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith("runner.resident"):
            return  # the runner's own housekeeping stays in its log
        self.send({"log": self.format(record)})


class _Reply:
    """Writes to one client; a client that went away is not an error (the run goes on)."""

    def __init__(self, conn: socket.socket) -> None:
        self.conn = conn
        self.gone = False
        self.lock = threading.Lock()

    def __call__(self, message: dict[str, Any]) -> None:
        if self.gone:
            return
        data = (json.dumps(message) + "\n").encode()
        with self.lock:
            try:
                self.conn.sendall(data)
            except OSError:
                self.gone = True


def _peer_uid(conn: socket.socket) -> int:
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", creds)[1]


def _read_line(conn: socket.socket, limit: int = 1 << 20) -> dict[str, Any] | None:
    data = b""
    while not data.endswith(b"\n") and len(data) < limit:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    try:
        return json.loads(data)
    except ValueError:
        return None


def serve(settings: Settings, name: str) -> int:
    """Be the warm runner ``name`` until idle for ``settings.warm_idle_minutes`` or asked
    to stop. Returns the exit status (0; 2 when ``name`` does not match these settings)."""
    if key(settings) != name:
        log.error("this runner's settings or code differ from the client's; not starting")
        return 2
    where = runtime_dir()
    if where is None or _socket_path(name) is None:
        return 2
    lock = (where / f"{name}.lock").open("a")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        if _connect(name) is not None:
            return 0  # a runner for the same key started a moment earlier: it serves
        # One that is stopping holds the lock until its kernels are down: wait for it.
        if not _wait_for_lock(lock, STOP_WAIT):
            log.error("another runner %s holds its lock and does not listen", name)
            return 1
    path, info = where / f"{name}.sock", where / f"{name}.json"
    path.unlink(missing_ok=True)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    path.chmod(0o600)
    server.listen(16)
    info.write_text(
        json.dumps(
            {
                "key": name,
                "pid": os.getpid(),
                "cwd": os.getcwd(),
                "started": time.time(),
                "outputs": str(Path(settings.outputs).resolve()),
                "log": str(_log_path(settings)),
            }
        )
    )
    work: queue.Queue[tuple[socket.socket, dict[str, Any]] | None] = queue.Queue()
    busy = threading.Event()
    served = [0]  # runs handled, for ping (what a test of reuse asserts on)
    threading.Thread(target=_accept, args=(server, work, busy, served), daemon=True).start()
    log.info("warm runner %s listening on %s (pid %d)", name, path, os.getpid())

    from runner.execution.engines import WarmEngine

    if threading.current_thread() is threading.main_thread():
        # systemctl stop, kill: leave through the finally below, kernels and workers down.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    from runner.execution.fanout import LocalWorkers

    cluster = LocalWorkers()  # started by the first fan-out, then kept
    _prestart(settings)
    idle = settings.warm_idle_minutes * 60
    last = time.monotonic()
    try:
        while True:
            try:
                item = work.get(timeout=min(IDLE_POLL, idle / 4))
            except queue.Empty:
                if time.monotonic() - last > idle:
                    log.info("no run for %g minutes: stopping", settings.warm_idle_minutes)
                    break
                continue
            if item is None:
                log.info("asked to stop")
                break
            conn, request = item
            try:
                _handle(conn, request, settings, cluster)
            finally:
                conn.close()
                served[0] += 1
                busy.clear()
                last = time.monotonic()
    finally:
        # The socket goes first, so no client connects to a runner that is stopping.
        path.unlink(missing_ok=True)
        info.unlink(missing_ok=True)
        server.close()
        # A run accepted while the runner decided to stop never began: its client runs it.
        while True:
            try:
                item = work.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                _Reply(item[0])({"busy": True})
                item[0].close()
        cluster.close()
        WarmEngine.discard()
        lock.close()
    return 0


def _wait_for_lock(lock: IO[str], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            time.sleep(0.1)
        else:
            return True
    return False


def _accept(
    server: socket.socket, work: queue.Queue, busy: threading.Event, served: list[int]
) -> None:
    while True:
        try:
            conn, _ = server.accept()
        except OSError:
            return  # the runner is stopping and closed its socket
        try:
            conn.settimeout(10)  # a client that connects and says nothing must not block others
            if _peer_uid(conn) != os.getuid():
                conn.close()
                continue
            request = _read_line(conn)
            op = (request or {}).get("op")
            reply = _Reply(conn)
            if op == "ping":
                from runner.execution.engines import WarmEngine

                reply(
                    {
                        "pong": {
                            "pid": os.getpid(),
                            "busy": busy.is_set(),
                            "runs": served[0],
                            "kernels_started": WarmEngine.started,
                        }
                    }
                )
                conn.close()
            elif op == "stop":
                work.put(None)
                conn.close()
            elif op == "run" and not busy.is_set():
                busy.set()
                conn.settimeout(None)
                work.put((conn, request))
            elif op == "run":
                reply({"busy": True})
                conn.close()
            else:
                conn.close()
        except OSError:
            conn.close()


def _prestart(settings: Settings) -> None:
    """Boot the in-process warm kernel with every notebook's imports, before any run."""
    from runner.execution import execute
    from runner.execution.engines import WarmEngine

    notebooks = Path(settings.notebooks_dir)
    names: dict[str, None] = {}
    for notebook in sorted(notebooks.glob("*.ipynb")):
        with contextlib.suppress(Exception):  # a broken notebook fails in its own run
            names.update(dict.fromkeys(execute.notebook_imports(notebook)))
    WarmEngine.prestart(execute.KERNEL, notebooks.resolve(), preload=list(names))


def _handle(
    conn: socket.socket, request: dict[str, Any], settings: Settings, cluster: LocalWorkers
) -> None:
    """One run, as ``broadsheet run`` runs it, its output sent to the client."""
    from lib.errors import BroadsheetError
    from runner import declarations, schedule
    from runner.execution.engines import WarmEngine
    from runner.run import run
    from runner.spec import RunSpec

    reply = _Reply(conn)
    reply({"started": True})  # from here on the run is this runner's to finish
    root = logging.getLogger()
    level = root.level
    verbosity = int(request.get("verbosity") or 0)
    forward = _Forward(reply)
    forward.setLevel(logging.WARNING - 10 * verbosity if verbosity else logging.INFO)
    root.addHandler(forward)
    root.setLevel(min(level, forward.level))

    def progress(result: Any, done: int, total: int) -> None:
        fields = {"id": result.id, "status": result.status, "duration": result.duration}
        reply({"progress": {"result": fields, "done": done, "total": total}})

    done: dict[str, Any] = {"exit": 0, "lines": []}
    try:
        spec = RunSpec.from_json(request["spec"])
        declarations.discover(settings.parameters_dir).get(spec.report)
        with schedule.run_lock(spec.report, settings.outputs) as mine:
            if mine:
                result = run(
                    spec,
                    settings,
                    progress=progress,
                    process_started=request.get("process_started"),
                    keep_kernels=True,
                    cluster=cluster,
                )
                done = {"exit": result.exit_status, "lines": result.summary()}
    except BroadsheetError as err:
        done = {"exit": err.exit_status, "lines": [], "error": f"broadsheet: {err}"}
    except Exception as err:  # noqa: BLE001 - reported to the client; the runner goes on
        log.exception("run failed in the warm runner")
        WarmEngine.discard()  # whatever state the kernel was left in is not reused
        done = {
            "exit": 1,
            "lines": [],
            "error": f"broadsheet: the warm runner failed: {type(err).__name__}: {err} "
            f"(see {_log_path(settings)})",
        }
    finally:
        root.removeHandler(forward)
        root.setLevel(level)
    reply({"done": done})


def main(argv: list[str] | None = None) -> int:
    """``python -m runner.resident KEY``: started by :func:`submit`, never by hand."""
    from lib import settings as settings_mod

    args = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    for noisy in ("traitlets", "papermill", "distributed", "asyncio", "httpx", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    tree = settings_mod.load()
    tree.apply_tls()
    return serve(tree, args[0])


if __name__ == "__main__":
    sys.exit(main())
