"""``scripts/system-deps`` and the test plumbing that refuses to skip system-dependent tests."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

from tests.fixtures.system import PACKAGES

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "system-deps"


def test_every_package_the_tests_name_is_installed_by_the_script() -> None:
    text = SCRIPT.read_text()
    table = dict(re.findall(r"\[([a-z0-9-]+)\]=\"([^\"]+)\"", text))
    assert set(PACKAGES.values()) <= set(table)
    wanted = re.search(r"test\) wanted=\(([^)]*)\)", text)
    assert wanted and set(PACKAGES.values()) <= set(wanted.group(1).split())


def test_demo_needs_nothing_and_a_bad_purpose_is_bad_usage() -> None:
    assert subprocess.run(["bash", str(SCRIPT), "demo"], capture_output=True).returncode == 0
    bad = subprocess.run(["bash", str(SCRIPT), "nightly"], capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown purpose 'nightly'" in bad.stderr


@pytest.mark.system("chromium", "soffice", "initdb", "crontab", "pdftotext")
def test_with_everything_present_it_does_nothing() -> None:
    done = subprocess.run(["bash", str(SCRIPT), "test"], capture_output=True, text=True)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_without_root_or_sudo_it_prints_the_one_command() -> None:
    # A PATH holding nothing but `id`: every package looks missing and there is no sudo.
    # pytest's tmp_path is private to root, so the unprivileged user gets its own folder.
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        folder.chmod(0o755)
        (folder / "id").symlink_to("/usr/bin/id")
        script = folder / "system-deps"
        script.write_text(SCRIPT.read_text())
        script.chmod(0o755)
        as_user = ["runuser", "-u", "nobody", "--"] if os.geteuid() == 0 else []
        done = subprocess.run(
            [*as_user, "/usr/bin/env", f"PATH={folder}", "/bin/bash", str(script), "test"],
            capture_output=True,
            text=True,
        )
    assert done.returncode == 1, done.stderr
    assert "missing Debian packages: chromium libreoffice-writer-nogui" in done.stderr
    assert (
        "  sudo apt-get update && sudo apt-get install -y -qq chromium libreoffice-writer-nogui "
        in done.stderr
    )


PLUGIN_TESTS = """
import pytest

@pytest.mark.system("no-such-program-anywhere")
def test_needs_a_missing_program():
    pass

@pytest.mark.system("sh")
def test_skipped_after_all():
    pytest.skip("someone added a skip")

def test_plain():
    pass
"""


def _pytest(folder: Path, body: str, *, ci: bool) -> subprocess.CompletedProcess:
    (folder / "test_x.py").write_text(textwrap.dedent(body))
    (folder / "pytest.ini").write_text("[pytest]\n")
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    # Only our plugin: the installed ones (nbval, schemathesis, ...) cost seconds to load.
    env |= {"PYTHONPATH": str(ROOT), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.fixtures.system", "-rs", str(folder)],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
    )


def test_a_missing_program_fails_with_the_install_command(tmp_path: Path) -> None:
    done = _pytest(tmp_path, PLUGIN_TESTS, ci=False)
    assert "no-such-program-anywhere not installed: run scripts/system-deps test" in done.stdout
    assert "1 passed, 1 skipped, 1 error" in done.stdout
    assert "skipped in CI" not in done.stdout


def test_in_ci_a_skipped_system_test_fails_the_run(tmp_path: Path) -> None:
    done = _pytest(tmp_path, PLUGIN_TESTS.replace('"no-such-program-anywhere"', '"sh"'), ci=True)
    assert "2 passed, 1 skipped" in done.stdout
    assert done.returncode == 1, done.stdout
    assert "system-dependent tests skipped in CI" in done.stdout
    assert "SKIPPED test_x.py::test_skipped_after_all" in done.stdout
