"""The shared parts of every display block: window labels, the Cell/Table/Block types and
the Jinja macro renderer.

:mod:`lib.blocks` and :mod:`lib.blocks.tables` build on these; notebooks reach them through
``lib.blocks``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from lib import formatting as fmt
from lib.contract import EMAIL_MIME, TABLE_MIME

WINDOW_LABELS = {
    "LW": "Last week",
    "MTD": "Month to date",
    "QTD": "Quarter to date",
    "YTD": "Year to date",
    "M": "Month",
    "as_at": "As at",
}
PREV_LABELS = {"M_prev": "Previous month", "M_ly": "Same month last year"}
STAGES = {"ans": "Approved but not signed", "snp": "Signed but not paid"}
# The Jinja macros every block renders with; the runner's nbconvert templates import them too.
TEMPLATES = Path(__file__).resolve().parent / "templates"


def window_label(key: str) -> str:
    """``LW`` → ``Last week``; ``LW_prev`` → ``Last week (previous)``."""
    if key in PREV_LABELS:
        return PREV_LABELS[key]
    if key.endswith("_prev"):
        return f"{WINDOW_LABELS.get(key[:-5], key[:-5])} (previous)"
    return WINDOW_LABELS.get(key, key)


def prev_key(window: str) -> str:
    """The previous window's key of ``window``."""
    return f"{window}_prev"


@functools.cache
def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )


def render_macro(name: str, *args: Any, **kwargs: Any) -> Markup:
    module = _env().get_template("blocks.html.j2").module
    # Markup: rendered HTML nested in panels and tabs must not be escaped a second time.
    return Markup(str(getattr(module, name)(*args, **kwargs)))


@dataclass(frozen=True)
class Cell:
    """One table cell: display text, an optional sort key and traffic light."""

    text: str
    sort: float | str | None = None
    light: fmt.Light | None = None


@dataclass(frozen=True)
class Table:
    """A table as data; rendered to HTML here and to a native Word table by the DOCX format."""

    title: str
    columns: Sequence[str]
    rows: Sequence[Sequence[Cell]]
    caption: str | None = None
    empty: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "columns": list(self.columns),
            "rows": [[c.text for c in row] for row in self.rows],
            "lights": [[c.light.value if c.light else None for c in row] for row in self.rows],
            "caption": self.caption,
            "empty": self.empty,
        }


@dataclass(frozen=True)
class Block:
    """One displayed output with its interactive, email and table forms."""

    html: str
    email: str | None = None
    table: Table | None = None
    text: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    def _repr_mimebundle_(self, include=None, exclude=None) -> tuple[dict, dict]:
        data: dict[str, Any] = {"text/html": self.html, "text/plain": self.text or "[block]"}
        if self.email is not None:
            data[EMAIL_MIME] = self.email
        if self.table is not None:
            data[TABLE_MIME] = self.table.to_json()
        data.update(self.extra)
        return data, {}


def html_of(item: Any) -> Markup:
    """The interactive HTML of a block or chart (anything with a text/html form)."""
    if isinstance(item, Block):
        return Markup(item.html)
    if isinstance(item, str):
        return Markup(item)
    data, _ = item._repr_mimebundle_(include=["text/html"])
    return Markup(data["text/html"])


def thresholds(params: Mapping[str, float] | None) -> fmt.Thresholds:
    """Traffic-light thresholds from a report's parameters."""
    return fmt.Thresholds(**dict(params or {}))


def metric_value(metric_figures: Mapping[str, Any], metric_id: str, window: str) -> Any:
    return (metric_figures.get(metric_id) or {}).get(window)


def sort_key(v: Any) -> float | str:
    return "" if v is None else float(v) if isinstance(v, (int, float)) else str(v)
