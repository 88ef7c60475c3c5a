"""The "since the last report" block: pipeline movements and restated figures, in words.

Built from ``figures["since_last"]`` (see :mod:`lib.report.since`) and the pipeline lists
of the same figures, so every count it prints can be checked against ``figures.json``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from lib import formatting as fmt
from lib import metrics as metrics_mod
from lib.blocks.base import STAGES, Block, Cell, Table, render_macro, sort_key, window_label
from lib.contract import TEXT_MIME
from lib.report.since import counts

#: How a destination reads after a count: "2 signed", "1 no longer listed".
DESTINATION_WORDS = {
    "signed": "signed",
    "paid": "paid out",
    "cancelled": "cancelled",
    "declined": "declined",
    "gone": "no longer listed",
}
# Possessive phrases of the windows a report publishes, as a reader says them.
_LAST = {"LW": "last week's", "M": "last month's"}
RESTATED_SHOWN = 8


@dataclass(frozen=True)
class SinceText:
    """The block's words: a heading, a line saying what it compares, and the lines."""

    heading: str
    compared: str
    moves: list[str]
    restated: list[str]


def _day(iso: str) -> str:
    d = date.fromisoformat(iso)
    return f"{d.day} {d:%b %Y}"


def heading(previous_as_of: str | None, as_of: str) -> str:
    """``Since last week`` when the last report was a week earlier, else a general form."""
    if previous_as_of:
        gap = (date.fromisoformat(as_of) - date.fromisoformat(previous_as_of)).days
        if gap == 7:
            return "Since last week"
        prev, now = date.fromisoformat(previous_as_of), date.fromisoformat(as_of)
        if (now.year * 12 + now.month) - (prev.year * 12 + prev.month) == 1 and now.day >= 28:
            return "Since last month"
    return "Since the last report"


def stage_line(stage: str, moves: Mapping[str, Any], current: int) -> str:
    """``Approved but not signed: 12 → 14 (5 new; 2 signed, 1 cancelled)``.

    The previous count is derived (current − new + left), so the line restates the
    identity previous − left + new = current that ``figures.json`` holds.
    """
    new = len(moves.get("new") or ())
    left = counts(moves)
    previous = current - new + sum(left.values())
    out = ", ".join(f"{fmt.count(n)} {DESTINATION_WORDS[d]}" for d, n in left.items())
    return (
        f"{STAGES[stage]}: {fmt.count(previous)} → {fmt.count(current)} "
        f"({fmt.count(new) + ' new' if new else 'none new'}; {out or 'none left'})"
    )


def restated_line(item: Mapping[str, Any], previous_as_of: str) -> str:
    """``Restated: last week's paid value £68,485 → £69,120``."""
    metric = metrics_mod.get(item["metric"])
    window = item["window"]
    whose = _LAST.get(window) or f"{window_label(window).lower()} to {_day(previous_as_of)}:"
    return (
        f"Restated: {whose} {metric.label.lower()} {fmt.value(item['published'], metric.unit)} "
        f"→ {fmt.value(item['now'], metric.unit)}"
    )


def since_text(
    since: Mapping[str, Any], pipeline: Mapping[str, Sequence[Any]], as_of: str
) -> SinceText:
    """The words of the block (see :func:`since_last`)."""
    previous_as_of = since.get("previous_as_of")
    if not previous_as_of:
        return SinceText(
            "Since the last report",
            "This is the first report: there is no earlier one to compare with.",
            [],
            [],
        )
    moves = [
        stage_line(s, since["pipeline"].get(s) or {}, len(pipeline.get(s) or ())) for s in STAGES
    ]
    items = list(since.get("restated") or ())
    restated = [restated_line(i, previous_as_of) for i in items[:RESTATED_SHOWN]]
    if len(items) > RESTATED_SHOWN:
        restated.append(f"and {len(items) - RESTATED_SHOWN} more restated figures")
    if not items:
        restated = ["No figure of the last report has been restated."]
    return SinceText(
        heading(previous_as_of, as_of),
        f"Compared with the report to {_day(previous_as_of)}; pipeline counts are as at "
        "each report's date. Restated figures changed with late or corrected records.",
        moves,
        restated,
    )


def since_last(
    since: Mapping[str, Any], pipeline: Mapping[str, Sequence[Any]], *, as_of: str
) -> Block:
    """A short block: what entered and left each pipeline stage, and restated figures.

    Args:
        since: ``figures["since_last"]``.
        pipeline: ``figures["pipeline"]`` (the current counts per stage).
        as_of: ``figures["as_of"]``.
    """
    words = since_text(since, pipeline, as_of)
    html = render_macro("since_last", words)
    text = "\n".join([words.heading, words.compared, *words.moves, *words.restated])
    word = {"kind": "note", "text": text}
    return Block(html, html, text=text, extra={TEXT_MIME: word})


def window_name(key: str, previous_as_of: str) -> str:
    """The period a previous report published under ``key``, as a reader names it.

    ``M`` of a pack to 30 Sep 2026 is ``September 2026``; ``LW`` of a report to 15 Nov is
    ``Week to 15 Nov 2026``; any other window reads ``<label> to <day>``.
    """
    day = date.fromisoformat(previous_as_of)
    if key == "M":
        return f"{day:%B %Y}"
    if key == "LW":
        return f"Week to {_day(previous_as_of)}"
    return f"{window_label(key)} to {_day(previous_as_of)}"


def restated_table(
    since: Mapping[str, Any], *, noun: str = "report", title: str | None = None
) -> Block:
    """Every restated figure: what the last report published, what it is now, the change.

    Args:
        since: ``figures["since_last"]``.
        noun: what the report is called (``pack`` for the board pack).
        title: the heading; default "Restated since the last <noun>".
    """
    title = title or f"Restated since the last {noun}"
    previous_as_of = since.get("previous_as_of")
    rows = []
    for item in since.get("restated") or ():
        metric = metrics_mod.get(item["metric"])
        published, now = item["published"], item["now"]
        rows.append(
            [
                Cell(metric.label),
                Cell(window_name(item["window"], previous_as_of)),
                Cell(fmt.value(published, metric.unit), sort_key(published)),
                Cell(fmt.value(now, metric.unit), sort_key(now)),
                Cell(fmt.delta(now, published, metric.unit)),
            ]
        )
    empty = (
        f"No figure the last {noun} published has been restated."
        if previous_as_of
        else f"There is no earlier {noun} to compare with."
    )
    caption = (
        f"Against the {noun} to {_day(previous_as_of)}: the figures it published for its own "
        "period, recomputed on today's data."
        if previous_as_of
        else None
    )
    table = Table(title, ["Metric", "Period", "Published", "Now", "Change"], rows, caption, empty)
    return Block(render_macro("table", table), render_macro("table", table), table, text=title)
