"""nbval over the goldens: which kernel, which sanitize file, which environment.

``--nbval`` (in pyproject's ``addopts``) makes pytest collect every ``.ipynb`` it meets
under ``tests/`` as one test per code cell; the goldens in this directory are the only
notebooks there. nbval re-runs each golden's code in a fresh kernel whose working
directory is this one, against today's ``lib/``, and compares every output except images
with the stored one. This file supplies what nbval would otherwise need on the command
line, so ``make test``, ``pytest tests/integration/golden`` and ``pytest tests/integration/golden/board_pack.ipynb``
behave alike from any directory.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from nbval.plugin import IPyNbCell

from runner.execution.execute import KERNEL
from tests.integration.golden.make import COMMENTARY_ENV, GOLDEN, api_key_in_dotenv

SANITIZE = GOLDEN / "sanitize.cfg"

MOVED = """\
This golden's output moved. If you meant to change the report:
  make golden                                  # regenerate tests/integration/golden/*.ipynb
  git diff --stat tests/integration/golden                 # which goldens moved
  .venv/bin/nbdiff HEAD tests/integration/golden/{name}    # what moved, output by output
and commit the goldens with your change. If you did not, the line above shows what broke."""


def pytest_configure(config: pytest.Config) -> None:
    """The sanitize file and the runner's kernel, unless given on the command line."""
    option = config.option
    if getattr(option, "nbval_sanitize_with", None) is None:
        option.nbval_sanitize_with = str(SANITIZE)
    if not getattr(option, "nbval_kernel_name", None) and not getattr(
        option, "nbval_current_env", False
    ):
        # The kernel Papermill runs reports on: ``python3`` resolves to this venv's
        # interpreter (its kernelspec says "python", which jupyter_client maps to
        # sys.executable).
        option.nbval_kernel_name = KERNEL


def _golden(item: pytest.Item) -> bool:
    return isinstance(item, IPyNbCell) and Path(item.path).parent == GOLDEN


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Golden cells execute notebooks in kernels: ``slow``, like the other report tests.

    Skipped, with the reason, where a ``.env`` would hand the kernels an Anthropic key:
    the goldens hold the deterministic fallback commentary, and a real key would both
    call the API and change every commentary output.
    """
    dotenv_key = None
    for item in items:
        if not _golden(item):
            continue
        item.add_marker(pytest.mark.slow)
        if dotenv_key is None:
            dotenv_key = api_key_in_dotenv()
        if dotenv_key:
            item.add_marker(
                pytest.mark.skip(
                    reason="a .env file sets ANTHROPIC_API_KEY, which the golden kernels "
                    "would use; run the goldens where no .env sets it"
                )
            )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    """Start the golden's kernel (in its first cell's setup) without the Anthropic variables.

    A kernel inherits the environment once, when it starts, so the variables are removed
    for that moment only and the rest of the session keeps its environment.
    """
    if not _golden(item):
        return (yield)
    saved = {name: os.environ.pop(name) for name in COMMENTARY_ENV if name in os.environ}
    try:
        return (yield)
    finally:
        os.environ.update(saved)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator:
    """A golden cell whose outputs differ says how to look at the change and accept it."""
    report = yield
    if _golden(item) and report.failed and call.when == "call":
        report.sections.append(("golden", MOVED.format(name=Path(item.path).name)))
    return report
