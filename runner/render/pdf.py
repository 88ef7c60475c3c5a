"""The PDF output format: ``report.pdf`` from the Word board pack, by LibreOffice headless.

The PDF is the Word file as LibreOffice lays it out (``soffice --headless --convert-to
pdf``), tagged for accessibility (``UseTaggedPDF``: headings, reading order and the
pictures' alt text travel into the PDF's structure tree), so it needs the ``docx`` format
listed before it. Each conversion runs with its own LibreOffice profile directory: two
workers, or a user's open LibreOffice, would otherwise fight over one profile lock.

LibreOffice is a system package, not a Python one; :meth:`Pdf.check` says so before any
kernel starts, rather than after every target has been executed.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lib.errors import ConfigError
from runner.outputs import write_atomic

if TYPE_CHECKING:
    import nbformat

log = logging.getLogger(__name__)

PACKAGE = "libreoffice-writer-nogui"
# LibreOffice's export filter options as JSON (7.4 and later).
FILTER = "pdf:writer_pdf_Export:" + json.dumps(
    {"UseTaggedPDF": {"type": "boolean", "value": "true"}}, separators=(",", ":")
)
TIMEOUT = 300


def soffice() -> str | None:
    """The LibreOffice executable on ``PATH`` (``soffice``, or ``libreoffice``), if any."""
    return shutil.which("soffice") or shutil.which("libreoffice")


def require_libreoffice() -> None:
    """Refuse, before any kernel starts, a run whose pdf output could never be made.

    Raises:
        ConfigError: ``soffice`` is not on ``PATH``, naming the package to install.
    """
    if soffice() is None:
        raise ConfigError(
            f"the pdf output needs LibreOffice, and soffice is not on PATH; install "
            f"{PACKAGE} (apt-get install {PACKAGE})",
            field="outputs",
        )


def convert(source: Path, out_dir: Path, *, target: str = FILTER, timeout: int = TIMEOUT) -> Path:
    """Convert ``source`` with LibreOffice headless into ``out_dir``; return the new file.

    Args:
        source: the document (``report.docx``).
        out_dir: where LibreOffice writes its result (named like ``source``).
        target: the ``--convert-to`` argument (default: tagged PDF).
        timeout: seconds before the conversion is abandoned.

    Raises:
        ConfigError: LibreOffice is not installed.
        RuntimeError: LibreOffice failed or wrote nothing (its output is in the message).
    """
    exe = soffice()
    if exe is None:
        raise ConfigError(f"LibreOffice (soffice) is not on PATH; install {PACKAGE}")
    extension = target.split(":", 1)[0]
    with tempfile.TemporaryDirectory(prefix="broadsheet-lo-") as profile:
        proc = subprocess.run(
            [
                exe,
                f"-env:UserInstallation={Path(profile).as_uri()}",
                "--headless",
                "--norestore",
                "--convert-to",
                target,
                "--outdir",
                str(out_dir),
                str(source),
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    result = out_dir / f"{source.stem}.{extension}"
    if proc.returncode != 0 or not result.is_file():
        detail = " ".join((proc.stderr or proc.stdout or "no output").split())[:300]
        raise RuntimeError(f"LibreOffice could not convert {source.name}: {detail}")
    return result


class Pdf:
    """``report.pdf``: the Word pack as a tagged PDF (see the module docstring)."""

    name = "pdf"
    filename = "report.pdf"
    source = "report.docx"

    def check(self) -> None:
        """Refuse a run that declares this format on a machine without LibreOffice."""
        require_libreoffice()

    def render(self, nb: nbformat.NotebookNode, ctx: Any) -> list[Path]:
        """Convert ``report.docx`` beside it into ``report.pdf`` (written atomically)."""
        source = ctx.target_dir / self.source
        if not source.is_file():
            raise RuntimeError(f"{source} is missing: list docx before pdf in outputs")
        with tempfile.TemporaryDirectory(prefix="broadsheet-pdf-", dir=ctx.target_dir) as tmp:
            pdf = convert(source, Path(tmp))
            path = ctx.target_dir / self.filename
            write_atomic(path, pdf.read_bytes())
        log.debug("pdf: %s (%d bytes)", path, path.stat().st_size)
        return [path]
