"""Table blocks built from published figures: period and comparison tables, lender and
product splits, pipeline ageing and as-at values, the pipeline view, the league table and
the methodology table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from markupsafe import Markup

from lib import formatting as fmt
from lib import metrics as metrics_mod
from lib.blocks.base import (
    STAGES,
    Block,
    Cell,
    Table,
    metric_value,
    prev_key,
    render_macro,
    sort_key,
    window_label,
)

# --- Period table ------------------------------------------------------------------


def period_table(
    figures_metrics: Mapping[str, Any],
    metric_ids: Sequence[str],
    windows: Sequence[str] = ("LW", "MTD", "QTD", "YTD"),
    *,
    limits: fmt.Thresholds = fmt.DEFAULT_THRESHOLDS,
    title: str = "Period summary",
    compare: Mapping[str, str] | None = None,
) -> Block:
    """Metrics down, windows across; each cell the value, its previous value and a light."""
    columns = ["Metric"]
    for w in windows:
        columns += [window_label(w), window_label((compare or {}).get(w, prev_key(w))), "Change"]
    rows = []
    for metric_id in metric_ids:
        m = metrics_mod.get(metric_id)
        row = [Cell(m.label)]
        for w in windows:
            pw = (compare or {}).get(w, prev_key(w))
            cur, prev = (
                metric_value(figures_metrics, metric_id, w),
                metric_value(figures_metrics, metric_id, pw),
            )
            light = fmt.traffic_light(
                cur, prev, m.unit, limits, higher_is_better=m.higher_is_better
            )
            row += [
                Cell(fmt.value(cur, m.unit), sort_key(cur)),
                Cell(fmt.value(prev, m.unit), sort_key(prev)),
                Cell(fmt.delta(cur, prev, m.unit), None, light),
            ]
        rows.append(row)
    table = Table(title, columns, rows)
    # The email form shows the first two windows only: 640 px holds seven columns.
    email_windows = list(windows[:2])
    email_table = Table(
        title,
        ["Metric", *[h for w in email_windows for h in (window_label(w), "Change")]],
        [
            [
                row[0],
                *[c for i, _ in enumerate(email_windows) for c in (row[1 + 3 * i], row[3 + 3 * i])],
            ]
            for row in rows
        ],
    )
    return Block(
        render_macro("table", table), render_macro("table", email_table), table, text=title
    )


# --- Lender split ------------------------------------------------------------------


def lender_split(
    figures_metrics: Mapping[str, Any],
    window: str,
    *,
    limits: fmt.Thresholds = fmt.DEFAULT_THRESHOLDS,
    title: str | None = None,
    compare: str | None = None,
) -> Block:
    """Paid value and share per lender in ``window`` against the previous window."""
    return split_table(
        figures_metrics,
        "lender",
        window,
        compare=compare,
        limits=limits,
        title=title or f"Lender split · {window_label(window)}",
    )


# --- Pipeline view -----------------------------------------------------------------


def pipeline_view(
    items: Mapping[str, Sequence[Mapping[str, Any]]],
    *,
    group: str = "pipeline",
    show_retailer: Mapping[str, str] | None = None,
    email_rows: int = 10,
) -> Block:
    """ "Approved but not signed" and "Signed but not paid", with a stage filter.

    Args:
        items: ``figures["pipeline"]``: ``{"ans": [...], "snp": [...]}`` of
            ``{ref, lender, amount, days, bucket[, retailer]}``.
        group: the switch group (unique per page).
        show_retailer: retailer id → name, to add a Retailer column (roll-ups only).
        email_rows: the email lists the oldest items only.
    """
    panels = []
    email_parts = []
    for stage, stage_title in STAGES.items():
        rows_data = sorted(
            items.get(stage, []), key=lambda r: (-(r.get("days") or 0), r.get("ref", ""))
        )
        table = _pipeline_table(stage_title, rows_data, show_retailer)
        total = sum(r.get("amount") or 0 for r in rows_data)
        caption = f"{fmt.counted(len(rows_data), 'application')}, {fmt.money(total)}"
        panels.append((stage, render_macro("table", _with_caption(table, caption), sortable=True)))
        oldest = _pipeline_table(stage_title, rows_data[:email_rows], show_retailer)
        more = f" (oldest {email_rows} shown)" if len(rows_data) > email_rows else ""
        email_parts.append(render_macro("table", _with_caption(oldest, caption + more)))
    controls = render_macro(
        "switch", group, "Pipeline stage", [(k, v) for k, v in STAGES.items()], selected="ans"
    )
    html = controls + render_macro("panels", group, panels, "ans")
    return Block(html, Markup("").join(email_parts), text="Pipeline")


def _with_caption(table: Table, caption: str) -> Table:
    return Table(table.title, table.columns, table.rows, caption=caption, empty=table.empty)


def _pipeline_table(
    title: str, rows: Sequence[Mapping[str, Any]], retailers: Mapping[str, str] | None
) -> Table:
    columns = [
        "Reference",
        *(["Retailer"] if retailers else []),
        "Lender",
        "Amount",
        "Days waiting",
        "Age",
    ]
    body = [
        [
            Cell(str(r.get("ref", ""))),
            *([Cell(retailers.get(r.get("retailer"), "–"))] if retailers else []),
            Cell(str(r.get("lender", ""))),
            Cell(fmt.money(r.get("amount")), sort_key(r.get("amount"))),
            Cell(fmt.count(r.get("days")), sort_key(r.get("days"))),
            Cell(str(r.get("bucket", ""))),
        ]
        for r in rows
    ]
    return Table(title, columns, body, empty="Nothing waiting at this stage.")


# --- League table ------------------------------------------------------------------


def league_table(
    retailers: Mapping[str, Mapping[str, Any]],
    metric_ids: Sequence[str],
    windows: Sequence[str] = ("LW", "MTD", "QTD", "YTD"),
    *,
    group: str = "league",
    title: str = "Retailer league table",
    extra_columns: Mapping[str, Mapping[str, str]] | None = None,
    email_top: int = 10,
    name_column: str = "Retailer",
) -> Block:
    """Every retailer, sortable by every column, with a period switch.

    Args:
        retailers: ``figures["retailers"]``: ``{id: {"name", "metrics": {...}}}``.
        metric_ids: the columns.
        windows: the period switch's choices.
        group: the switch group (unique per page).
        title: the heading.
        extra_columns: column title → {retailer id → text} (e.g. BDM, status).
        email_top: the email lists the top retailers by the first metric only.
        name_column: the first column's heading (``BDM`` for a league of BDMs).
    """
    extra_columns = extra_columns or {}
    panels = []
    tables = {}
    for w in windows:
        columns = [name_column, *extra_columns, *[metrics_mod.get(m).label for m in metric_ids]]
        rows = []
        for rid, entry in sorted(retailers.items(), key=lambda kv: kv[1]["name"]):
            cells = [Cell(entry["name"], entry["name"])]
            cells += [Cell(col.get(rid, "–"), col.get(rid, "")) for col in extra_columns.values()]
            for m in metric_ids:
                v = metric_value(entry["metrics"], m, w)
                cells.append(Cell(fmt.value(v, metrics_mod.get(m).unit), sort_key(v)))
            rows.append(cells)
        tables[w] = Table(f"{title} · {window_label(w)}", columns, rows)
        panels.append((w, render_macro("table", tables[w], sortable=True)))
    controls = render_macro(
        "switch", group, "Period", [(w, window_label(w)) for w in windows], selected=windows[0]
    )
    html = controls + render_macro("panels", group, panels, windows[0])
    first = tables[windows[0]]
    lead = len(extra_columns) + 1  # the first metric's column
    top = sorted(
        first.rows, key=lambda r: -(r[lead].sort if isinstance(r[lead].sort, float) else -1)
    )
    email = Table(
        f"Top {email_top} retailers · {window_label(windows[0])}", first.columns, top[:email_top]
    )
    return Block(html, render_macro("table", email), first, text=title)


# --- Board pack: comparison tables, splits, ageing, methodology ----------------------


def comparison_table(
    figures_metrics: Mapping[str, Any],
    metric_ids: Sequence[str],
    comparisons: Sequence[tuple[str, str]] = (("M", "M_prev"), ("M", "M_ly"), ("YTD", "YTD_prev")),
    *,
    limits: fmt.Thresholds = fmt.DEFAULT_THRESHOLDS,
    title: str = "Month summary",
    email_comparisons: int = 2,
) -> Block:
    """Metrics down; each window once, then each comparison's value and change across.

    Unlike :func:`period_table`, one window may be compared with several (the board month
    against the month before *and* the same month last year).

    Args:
        figures_metrics: ``figures["metrics"]``.
        metric_ids: windowed registry metrics (not ``map`` or as-at ones).
        comparisons: ``(window, compared_with)`` pairs, in column order.
        limits: traffic-light thresholds.
        title: the heading.
        email_comparisons: how many comparisons the email form keeps (640 px is narrow).
    """

    def layout(pairs: Sequence[tuple[str, str]]) -> list[tuple[str, str | None]]:
        # ("value", window) for a window's first appearance, then ("value", c), ("change", w|c).
        cols: list[tuple[str, str | None]] = []
        shown: set[str] = set()
        for w, c in pairs:
            if w not in shown:
                cols.append(("value", w))
                shown.add(w)
            cols += [("value", c), ("change", f"{w}|{c}")]
        return cols

    def build(pairs: Sequence[tuple[str, str]]) -> Table:
        cols = layout(pairs)
        header = ["Metric"] + [window_label(k) if kind == "value" else "Change" for kind, k in cols]
        rows = []
        for metric_id in metric_ids:
            m = metrics_mod.get(metric_id)
            row = [Cell(m.label)]
            for kind, key in cols:
                if kind == "value":
                    v = metric_value(figures_metrics, metric_id, key)
                    row.append(Cell(fmt.value(v, m.unit), sort_key(v)))
                    continue
                w, c = key.split("|")
                cur, prev = (
                    metric_value(figures_metrics, metric_id, w),
                    metric_value(figures_metrics, metric_id, c),
                )
                light = fmt.traffic_light(
                    cur, prev, m.unit, limits, higher_is_better=m.higher_is_better
                )
                row.append(Cell(fmt.delta(cur, prev, m.unit), None, light))
            rows.append(row)
        return Table(title, header, rows)

    table = build(comparisons)
    email = build(comparisons[:email_comparisons])
    return Block(render_macro("table", table), render_macro("table", email), table, text=title)


_DIMENSIONS = {"lender": "Lender", "product": "Product family"}


def split_table(
    figures_metrics: Mapping[str, Any],
    dimension: str,
    window: str,
    *,
    compare: str | None = None,
    limits: fmt.Thresholds = fmt.DEFAULT_THRESHOLDS,
    title: str | None = None,
    email_rows: int = 10,
) -> Block:
    """Paid value and share per lender or product family against a comparison window.

    One table for any ``<dimension>_paid_value`` / ``<dimension>_share`` pair of the
    registry; :func:`lender_split` is its lender form.

    Args:
        figures_metrics: ``figures["metrics"]``.
        dimension: ``lender`` or ``product``.
        window: the window shown.
        compare: the comparison window (default ``<window>_prev``).
        limits: traffic-light thresholds.
        title: the heading.
        email_rows: the email lists the largest this many only.
    """
    name = _DIMENSIONS[dimension]
    pw = compare or prev_key(window)
    value_now = metric_value(figures_metrics, f"{dimension}_paid_value", window) or {}
    value_prev = metric_value(figures_metrics, f"{dimension}_paid_value", pw) or {}
    share_now = metric_value(figures_metrics, f"{dimension}_share", window) or {}
    share_prev = metric_value(figures_metrics, f"{dimension}_share", pw) or {}
    names = sorted(set(value_now) | set(value_prev), key=lambda n: (-(value_now.get(n) or 0), n))
    rows = []
    for n in names:
        v, pv = value_now.get(n), value_prev.get(n)
        s, ps = share_now.get(n), share_prev.get(n)
        rows.append(
            [
                Cell(n),
                Cell(fmt.money(v), sort_key(v)),
                Cell(fmt.money(pv), sort_key(pv)),
                Cell(fmt.percent(s), sort_key(s)),
                Cell(fmt.percent(ps), sort_key(ps)),
                Cell(fmt.delta(s, ps, "share"), None, fmt.traffic_light(s, ps, "share", limits)),
            ]
        )
    table = Table(
        title or f"{name} split · {window_label(window)} against {window_label(pw).lower()}",
        [
            name,
            "Paid value",
            window_label(pw),
            "Share",
            f"Share, {window_label(pw).lower()}",
            "Share change",
        ],
        rows,
        empty="No payouts in this period or the one compared.",
    )
    # The email lists the largest only: free-text lender names can run to hundreds.
    email = table
    if len(rows) > email_rows:
        more = f"The largest {email_rows} of {fmt.count(len(rows))} shown."
        email = Table(table.title, table.columns, rows[:email_rows], caption=more)
    return Block(
        render_macro("table", table, sortable=True),
        render_macro("table", email),
        table,
        text=table.title,
    )


def ageing_table(
    ageing: Mapping[str, Mapping[str, Mapping[str, Any]]],
    figures_metrics: Mapping[str, Any],
    *,
    title: str = "Pipeline by age",
) -> Block:
    """Count and value of each pipeline stage per age bucket, with the as-at totals.

    Args:
        ageing: ``figures["pipeline_ageing"]`` (see ``lib.report.pipeline_ageing``).
        figures_metrics: ``figures["metrics"]``, for the totals row.
        title: the heading.
    """
    columns = ["Days waiting"] + [
        f"{STAGES[s]} ({part})" for s in STAGES for part in ("number", "value")
    ]
    buckets = list(dict.fromkeys(b for s in STAGES for b in (ageing.get(s) or {})))
    rows = []
    for b in buckets:
        row = [Cell(b)]
        for s in STAGES:
            entry = (ageing.get(s) or {}).get(b) or {}
            row += [
                Cell(fmt.count(entry.get("count")), sort_key(entry.get("count"))),
                Cell(fmt.money(entry.get("value")), sort_key(entry.get("value"))),
            ]
        rows.append(row)
    total = [Cell("Total")]
    for s in STAGES:
        n = metric_value(figures_metrics, f"pipeline_{s}_count", "as_at")
        v = metric_value(figures_metrics, f"pipeline_{s}_value", "as_at")
        total += [Cell(fmt.count(n), sort_key(n)), Cell(fmt.money(v), sort_key(v))]
    rows.append(total)
    table = Table(title, columns, rows)
    return Block(render_macro("table", table), render_macro("table", table), table, text=title)


def methodology(
    rows: Sequence[tuple[str, str, str, str]], *, title: str = "Metric definitions"
) -> Block:
    """The metric registry as a table (id, label, unit, definition), verbatim.

    Args:
        rows: ``lib.metrics.registry_rows()``.
        title: the heading.
    """
    table = Table(
        title, ["Id", "Metric", "Unit", "Definition"], [[Cell(c) for c in r] for r in rows]
    )
    return Block(render_macro("table", table), render_macro("table", table), table, text=title)


def as_at_table(
    figures_metrics: Mapping[str, Any], metric_ids: Sequence[str], *, title: str, as_of: str = ""
) -> Block:
    """As-at metrics (pipeline, inactive retailers): one value each, no comparison.

    Args:
        figures_metrics: ``figures["metrics"]``.
        metric_ids: registry metrics with the ``as_at`` basis.
        title: the heading.
        as_of: the date the values hold at, for the column heading.
    """
    column = f"As at {as_of}" if as_of else window_label("as_at")
    rows = []
    for metric_id in metric_ids:
        m = metrics_mod.get(metric_id)
        v = metric_value(figures_metrics, metric_id, "as_at")
        rows.append([Cell(m.label), Cell(fmt.value(v, m.unit), sort_key(v))])
    table = Table(title, ["Metric", column], rows)
    return Block(render_macro("table", table), render_macro("table", table), table, text=title)
