"""The outputs tree of ``interfaces.md`` and atomic writes into it."""

from __future__ import annotations

import json
import os
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

from lib.errors import ConfigError


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


def write_atomic(path: Path, data: str | bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary name, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; outputs are read by mail and the admin
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json(path: Path, obj: Any) -> Path:
    """Pretty JSON, atomically; NaN is refused rather than written."""
    return write_atomic(path, json.dumps(obj, indent=2, ensure_ascii=False, allow_nan=False) + "\n")
