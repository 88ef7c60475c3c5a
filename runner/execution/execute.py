"""Execute a report notebook for one target with Papermill.

Failure is a product feature: Papermill writes the executed notebook with its error
banner before raising, and we keep that notebook and report the failing cell by its
index in the *source* notebook (the injected-parameters cell does not count).
"""

from __future__ import annotations

import ast
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import nbformat
import papermill
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from papermill.exceptions import PapermillExecutionError

from lib.errors import ConfigError, TargetError
from runner.execution.engines import ENGINE

log = logging.getLogger(__name__)

KERNEL = "python3"


def notebook_parameters(notebook: Path) -> dict[str, dict[str, Any]]:
    """The parameters a notebook declares in its ``parameters`` cell.

    Raises:
        ConfigError: the notebook is missing or has no cell tagged ``parameters``.
    """
    if not notebook.is_file():
        raise ConfigError("notebook not found", file=notebook)
    nb = nbformat.read(notebook, as_version=4)
    if not any("parameters" in c.get("metadata", {}).get("tags", []) for c in nb.cells):
        raise ConfigError(
            "has no cell tagged 'parameters'; tag the cell of literal defaults", file=notebook
        )
    return papermill.inspect_notebook(str(notebook))


def notebook_imports(notebook: Path | nbformat.NotebookNode) -> list[str]:
    """The modules a notebook's code cells import at their top level, in order.

    ``from lib import report`` gives ``lib`` and ``lib.report`` (a name imported from a
    package may be a module). What a warm kernel imports ahead (``preload``); a name that
    is not a module is simply not found there. Cells that are not Python (magics) are
    skipped.
    """
    nb = notebook if isinstance(notebook, nbformat.NotebookNode) else nbformat.read(notebook, 4)
    names: dict[str, None] = {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, ast.Import):
                names.update(dict.fromkeys(alias.name for alias in node.names))
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names[node.module] = None
                names.update(dict.fromkeys(f"{node.module}.{a.name}" for a in node.names))
    return [n for n in names if not n.endswith(".*")]


def check_parameters(notebook: Path, passed: Mapping[str, Any], *, declaration: Path) -> None:
    """Refuse unknown or missing parameters before any kernel starts.

    Unknown: passed but not declared by the notebook (a typo in the YAML would otherwise
    be silently ignored). Missing: declared by the notebook but neither set by the runner
    nor by the declaration, so a scheduled run never depends on a notebook default that an
    analyst changed for an interactive session.
    """
    declared = notebook_parameters(notebook)
    unknown = sorted(set(passed) - set(declared))
    if unknown:
        raise ConfigError(
            f"parameter {unknown[0]!r} is not in the notebook's parameters cell "
            f"({notebook.name} declares: {', '.join(sorted(declared))})",
            file=declaration,
            field=f"parameters.{unknown[0]}",
        )
    missing = sorted(set(declared) - set(passed))
    if missing:
        raise ConfigError(
            f"the notebook {notebook.name} declares {missing[0]!r} but the declaration "
            "does not set it; add it under parameters:",
            file=declaration,
            field=f"parameters.{missing[0]}",
        )


def execute(
    notebook: Path | nbformat.NotebookNode,
    output: Path,
    parameters: Mapping[str, Any],
    *,
    target: str,
    timeout: int,
    cwd: Path | None = None,
    engine: str = ENGINE,
) -> nbformat.NotebookNode:
    """Run one target; the executed notebook is written to ``output`` in all cases.

    Args:
        notebook: the source notebook (a path, or a node already read by this worker).
        output: where the executed notebook goes (written atomically).
        parameters: injected as Papermill's ``injected-parameters`` cell.
        target: the target's id, for error messages.
        timeout: seconds any one cell may run.
        cwd: working directory of the kernel.
        engine: the Papermill engine name.

    Raises:
        TargetError: a cell raised, a cell timed out or the kernel died; carries the
            failing cell's index in the source notebook, the exception name and message,
            and the path of the executed notebook with Papermill's error banner.
    """
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(f".{output.stem}.{os.getpid()}.partial.ipynb")
    try:
        nb = papermill.execute_notebook(
            notebook if isinstance(notebook, nbformat.NotebookNode) else str(notebook),
            str(partial),
            parameters=dict(parameters),
            engine_name=engine,
            kernel_name=KERNEL,
            progress_bar=False,
            request_save_on_cell_execute=False,
            execution_timeout=timeout,
            cwd=str(cwd) if cwd else None,
        )
    except PapermillExecutionError as err:
        _settle(partial, output)
        raise TargetError(
            f"{err.ename}: {err.evalue}",
            target=target,
            cell=_source_index(output, err.cell_index),
            ename=err.ename,
            evalue=err.evalue,
            notebook=output,
        ) from None
    except (CellTimeoutError, DeadKernelError) as err:
        kept = getattr(err, "notebook", None)
        if kept is not None:
            nbformat.write(kept, partial)
        _settle(partial, output)
        running = getattr(err, "cell_index", None)
        ename = type(err).__name__
        evalue = str(err).strip().splitlines()[0] if str(err).strip() else ename
        raise TargetError(
            f"{ename}: {evalue}",
            target=target,
            cell=_source_index(output, running) if running is not None else None,
            ename=ename,
            evalue=evalue,
            notebook=output if output.exists() else None,
        ) from None
    os.replace(partial, output)
    return nb


def _settle(partial: Path, output: Path) -> None:
    if partial.exists():
        os.replace(partial, output)


def _source_index(executed: Path, index: int) -> int:
    """Papermill counts cells of the parameterised notebook; users count their own.

    ``index`` was computed before Papermill inserted its error banner, so banner cells
    are dropped first, then injected-parameters cells before ``index`` are discounted.
    """
    try:
        nb = nbformat.read(executed, as_version=4)
    except (OSError, ValueError):
        return index
    cells = [c for c in nb.cells if "papermill-error-cell-tag" not in _tags(c)]
    injected = sum(1 for c in cells[:index] if "injected-parameters" in _tags(c))
    return index - injected


def _tags(cell: nbformat.NotebookNode) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])
