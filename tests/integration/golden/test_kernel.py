"""nbval runs the goldens on the runner's kernel, and that kernel is this venv's Python."""

from __future__ import annotations

import sys

import pytest
from jupyter_client.manager import KernelManager

from runner.execution.execute import KERNEL


def test_golden_kernel_is_this_venvs_python(pytestconfig: pytest.Config) -> None:
    if pytestconfig.option.nbval_current_env:
        return  # nbval was told to use this interpreter directly
    name = pytestconfig.option.nbval_kernel_name
    assert name == KERNEL, f"goldens run on {name!r}, reports on {KERNEL!r}"
    km = KernelManager(kernel_name=name)
    km.connection_file = "kernel.json"  # only to format the command line
    python = km.format_kernel_cmd()[0]
    assert python == sys.executable, (
        f"the {name!r} kernel runs {python}, not this venv's {sys.executable}: a kernelspec "
        "outside the venv shadows it (see `.venv/bin/jupyter kernelspec list`)"
    )
