"""The outputs tree of ``interfaces.md`` and atomic writes into it."""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from lib.errors import ConfigError

log = logging.getLogger(__name__)

TEMP_SUFFIX = ".tmp"
STALE_SECONDS = 86400
_HOST = re.sub(r"[^A-Za-z0-9_]", "_", socket.gethostname()) or "host"
_SIGNED = re.compile(r"^\..+\.(?P<host>[A-Za-z0-9_]+)-(?P<pid>\d+)\.[^.]+\.tmp$")


def writable(folder: Path) -> Path:
    """``folder``, created if need be, once a file could be written in it.

    Raises:
        ConfigError: naming the folder and ``BROADSHEET_OUTPUTS`` (under a regular file,
            read-only, full...), before a run touches anything.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".writable.", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise ConfigError(
            f"cannot write to the outputs folder {folder}: {err.strerror or err}; "
            "point it at a writable folder",
            field="BROADSHEET_OUTPUTS",
        ) from None
    return folder


def run_dir(outputs: Path, report: str, as_of: date | str) -> Path:
    """``outputs/<report>/<as_of>/``."""
    return outputs / report / str(as_of)


def target_dir(outputs: Path, report: str, as_of: date | str, target: str) -> Path:
    """``outputs/<report>/<as_of>/<target>/``."""
    return run_dir(outputs, report, as_of) / target


def temporary_prefix(path: Path) -> str:
    """The start of a temporary's name for writing ``path``: hidden, and signed with this
    host and process, so a later run can tell a killed writer's leftovers from a live
    writer's file (:func:`sweep_temporaries`)."""
    return f".{path.name}.{_HOST}-{os.getpid()}."


def write_atomic(path: Path, data: str | bytes, *, durable: bool = False) -> Path:
    """Write ``data`` to ``path`` through a temporary name, so readers never see half a file.

    Args:
        path: the file to (re)place.
        data: its content; text is written as UTF-8.
        durable: also fsync the file and its folder, so the file survives a power cut
            once this returns (the outbox: a message file is the ledger's evidence).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=temporary_prefix(path), suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; outputs are read by mail and the admin
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if durable:
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    return path


def sweep_temporaries(folder: Path, *, recursive: bool = False) -> list[Path]:
    """Remove the temporaries writers killed mid-write (``kill -9``, a power cut) left.

    A temporary is a leftover when the process that signed it, on this host, no longer
    runs; or, whoever wrote it (another host sharing the folder, a name from before
    writers signed theirs), when it is older than a day, which no write takes.

    Returns:
        The files removed.
    """
    if not folder.is_dir():
        return []
    found = folder.rglob(f".*{TEMP_SUFFIX}") if recursive else folder.glob(f".*{TEMP_SUFFIX}")
    removed = []
    cutoff = time.time() - STALE_SECONDS
    for path in found:
        signed = _SIGNED.match(path.name)
        try:
            if signed and signed["host"] == _HOST:
                orphan = not _running(int(signed["pid"]))
            else:
                orphan = path.stat().st_mtime < cutoff
            if orphan and path.is_file():
                path.unlink()
                removed.append(path)
        except FileNotFoundError:
            continue  # its writer finished (renamed it) meanwhile
    if removed:
        log.info(
            "removed %d temporary file(s) left by interrupted writes in %s", len(removed), folder
        )
    return removed


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def write_json(path: Path, obj: Any) -> Path:
    """Pretty JSON, atomically; NaN is refused rather than written."""
    return write_atomic(path, json.dumps(obj, indent=2, ensure_ascii=False, allow_nan=False) + "\n")


def folder_size(path: Path) -> int:
    """Bytes of the files under ``path`` (0 when it does not exist); links not followed."""
    if path.is_file():
        return path.stat().st_size
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += (Path(root) / name).lstat().st_size
            except FileNotFoundError:  # removed while we walked: nothing to count
                continue
    return total


def human_size(n: float) -> str:
    """``1.2 GB``, ``340.0 MB``, ``3.5 kB``, ``12 B`` (decimal units, as ``df -H`` prints)."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} B" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def previous_figures(outputs: Path, report: str, as_of: date) -> dict[str, Path]:
    """Each target's ``figures.json`` from the latest earlier completed run of ``report``.

    Runs are the ``outputs/<report>/<YYYY-MM-DD>/`` folders with a ``run.json`` (test sends,
    ``<as_of>-test``, are never compared with); a target counts where that run records it
    as ``ok`` and its ``figures.json`` is there. A target missing from the latest earlier
    run (failed, or not a target then) is taken from the run before, and so on.

    Args:
        outputs: the outputs directory.
        report: the report's name.
        as_of: this run's ``as_of``; only strictly earlier runs count.

    Returns:
        target id → path of its previous ``figures.json``.
    """
    runs = []
    for folder in (outputs / report).glob("*"):
        try:
            day = date.fromisoformat(folder.name)
        except ValueError:
            continue  # test sends and anything else that is not a run folder
        if day < as_of and (folder / "run.json").is_file():
            runs.append((day, folder))
    found: dict[str, Path] = {}
    for _, folder in sorted(runs, reverse=True):
        try:
            summary = json.loads((folder / "run.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            log.warning("%s: unreadable, not compared with (%s)", folder / "run.json", err)
            continue
        for target in summary.get("targets") or ():
            figures = folder / str(target.get("id")) / "figures.json"
            if target.get("status") == "ok" and target["id"] not in found and figures.is_file():
                found[target["id"]] = figures
    return found
