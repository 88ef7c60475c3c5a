"""The goldens were made from today's notebooks and declarations.

nbval re-runs a golden's *own* code, so it catches a change in ``lib/`` but not a change
in a notebook or its declaration; these tests catch those. A golden's code cells must be
exactly what Papermill makes of its source notebook with the parameters ``make golden``
injects now: the notebook's code cells, plus the injected-parameters cell.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import papermill
import pytest

from runner.execution.execute import KERNEL
from tests.integration.golden.make import GOLDENS, ROOT, Golden, golden_parameters

FIX = (
    "run `make golden`, check what moved with `git diff --stat tests/integration/golden` and nbdiff, "
    "and commit the goldens with the change"
)


def _code(nb: nbformat.NotebookNode) -> list[tuple[str, list[str]]]:
    """Source and tags of each code cell (tags steer nbval and the renderers)."""
    return [
        (c.source, list(c.get("metadata", {}).get("tags", [])))
        for c in nb.cells
        if c.cell_type == "code"
    ]


def _expected(golden: Golden, tmp_path: Path) -> nbformat.NotebookNode:
    """What Papermill makes of the source notebook today, before running it."""
    return papermill.execute_notebook(
        str(ROOT / "notebooks" / f"{golden.report}.ipynb"),
        str(tmp_path / "prepared.ipynb"),
        parameters=golden_parameters(golden),
        kernel_name=KERNEL,
        prepare_only=True,
        progress_bar=False,
    )


@pytest.mark.parametrize("golden", GOLDENS, ids=lambda g: g.report)
def test_golden_code_is_its_notebook_plus_the_injected_parameters(
    golden: Golden, tmp_path: Path
) -> None:
    notebook = f"notebooks/{golden.report}.ipynb"
    assert golden.path.is_file(), f"{golden.path.relative_to(ROOT)} is missing: run `make golden`"
    made = _code(nbformat.read(golden.path, as_version=4))
    expected = _code(_expected(golden, tmp_path))
    where = golden.path.relative_to(ROOT)

    injected = [i for i, (_, tags) in enumerate(expected) if "injected-parameters" in tags]
    (at,) = injected
    if len(made) > at and made[at] != expected[at]:
        changed = (
            "the parameters make golden injects changed (the declaration "
            f"parameters/{golden.report}.yaml, or the fixture)"
            if "injected-parameters" in made[at][1]
            else "it has no injected-parameters cell after the parameters cell"
        )
        pytest.fail(f"{where} is stale: {changed}. To update the golden, {FIX}.", pytrace=False)
    own = len(expected) - 1  # the notebook's own code cells
    for i, (got, want) in enumerate(zip(made, expected, strict=False)):
        if got != want:
            which = "source" if got[0] != want[0] else "tags"
            n = i if i > at else i + 1  # 1-based, among the notebook's own code cells
            first = (want[0].splitlines() or [""])[0][:60]
            pytest.fail(
                f"{where} is stale: code cell {n} of {own} in {notebook} (starting "
                f"{first!r}) differs in {which} from the golden's. To update the golden, {FIX}.",
                pytrace=False,
            )
    if len(made) != len(expected):
        pytest.fail(
            f"{where} is stale: it has {len(made)} code cells, {notebook} makes "
            f"{len(expected)} with the injected parameters. To update the golden, {FIX}.",
            pytrace=False,
        )
