"""Publishing a report's numbers from inside its notebook.

Every number a reader sees comes from one object in the ``figures.json`` shape of
``interfaces.md``. The notebook builds it with ``lib/`` and calls :func:`publish`, which
displays it under a MIME type that no template renders; the runner reads it back from
the executed notebook. In JupyterLab the same call simply returns the figures, so the
helper works the same interactively and under the runner.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lib.contract import FIGURES_MIME
from lib.errors import InputError

if TYPE_CHECKING:
    # Only a type here: a kernel that publishes figures never needs nbformat (nor the
    # JSON-schema validation it imports), so it does not pay for importing it.
    import nbformat


def jsonable(value: Any) -> Any:
    """Plain JSON values: numpy scalars to Python, NaN to None, dates to ISO strings."""
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy / pandas scalars
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, (int, float)):
        return value
    return str(value)


def publish(figures: Mapping[str, Any]) -> dict:
    """Hand the report's figures to the runner and return them.

    Args:
        figures: the ``figures.json`` object.

    Returns:
        The same figures as plain JSON values.
    """
    clean = jsonable(figures)
    # Round-trip now so a value JSON cannot hold fails in the notebook, at its cell.
    json.dumps(clean, allow_nan=False)
    try:
        from IPython.display import display
    except ImportError:  # pragma: no cover - IPython is always there in a kernel
        return clean
    display({FIGURES_MIME: clean, "text/plain": "<figures published>"}, raw=True)
    return clean


def load(path: str | Path) -> dict | None:
    """A ``figures.json`` written by an earlier run; ``""`` (none given) is None.

    The runner passes the previous report's figures as a path (the ``previous_figures``
    parameter), so a notebook can say what changed since then.

    Raises:
        InputError: the file is missing or is not a figures object.
    """
    if not path:
        return None
    file = Path(path)
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise InputError(f"{file}: cannot read the previous figures ({err})") from None
    if not isinstance(data, dict) or "as_of" not in data:
        raise InputError(f"{file}: not a figures.json (no as_of)")
    return data


def read(nb: nbformat.NotebookNode) -> dict | None:
    """The figures a notebook published (the last ones, if it published twice)."""
    found = None
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            data = out.get("data", {})
            if FIGURES_MIME in data:
                found = data[FIGURES_MIME]
    if isinstance(found, str):
        found = json.loads(found)
    return found
