"""The outputs tree of ``interfaces.md`` and atomic writes into it."""

from __future__ import annotations

import json
import os
import tempfile
from datetime import date
from pathlib import Path
from typing import Any


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
