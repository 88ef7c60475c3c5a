"""The import rule holds: the import-linter contracts of pyproject.toml are all kept."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_linter_contracts_are_kept() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BROKEN" not in result.stdout
    assert result.stdout.count("KEPT") >= 4


# The warm kernel's reset code (text executed inside the kernel) restores the environment
# the kernel started with, so a report cannot leak a variable into the next target's run:
# isolation, not a settings read.
KERNEL_RESET = ROOT / "runner" / "execution" / "engines.py"


def test_only_the_settings_module_reads_the_environment() -> None:
    readers = [
        str(path.relative_to(ROOT))
        for package in ("lib", "runner", "admin")
        for path in (ROOT / package).rglob("*.py")
        if path not in (ROOT / "lib" / "settings.py", KERNEL_RESET)
        and re.search(r"os\.environ|getenv\(|dotenv", path.read_text())
    ]
    assert readers == []
