"""The board pack's figures and chart data: the 13-month trend, comparison and split
series, rankings, pipeline ageing and the commentary notes of the monthly pack.

The monthly pack compares the month with the month before, the same month last year and
the year to date, and adds a 13-month trend. These helpers read published figures (or
compute them, for the trend), so the notebook's charts show only numbers of figures.json.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta
from typing import Any

from lib import metrics, periods
from lib import snapshot as snapshot_mod
from lib.errors import InputError


def month_key(d: date) -> str:
    """The trend key of ``d``'s calendar month: ``2026-10``."""
    return f"{d:%Y-%m}"


def month_label(key: str) -> str:
    """``2026-10`` → ``Oct 2026``, how a month reads on a chart axis."""
    return f"{date.fromisoformat(key + '-01'):%b %Y}"


def month_windows(as_of: date, months: int = 13) -> dict[str, periods.Window]:
    """The calendar months ending with ``as_of``'s month, oldest first, keyed ``YYYY-MM``.

    The last month ends at ``as_of`` (the whole month on a month end, as in the board pack).
    """
    if months < 1:
        raise InputError(f"months must be at least 1, got {months}")
    out: dict[str, periods.Window] = {}
    first = as_of.replace(day=1)
    for back in range(months - 1, -1, -1):
        index = first.year * 12 + first.month - 1 - back
        start = date(index // 12, index % 12 + 1, 1)
        nxt = date((index + 1) // 12, (index + 1) % 12 + 1, 1)
        out[month_key(start)] = periods.Window(start, min(nxt - timedelta(days=1), as_of))
    return out


def monthly_trend(
    snap: snapshot_mod.Snapshot,
    as_of: date,
    *,
    months: int = 13,
    commission_rates: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """``figures["trend"]``: every windowed metric for each of the last ``months`` months.

    One ``metrics.compute`` call with one window per month, so each value is exactly the
    registry's value for that month's window. As-at metrics have no monthly value and are
    left out.

    Returns:
        ``{"windows": {"2025-10": [start, end], ...}, "metrics": {metric_id: {"2025-10":
        value, ...}}}``, months oldest first.
    """
    wins = month_windows(as_of, months)
    book = metrics.compute(snap, wins, as_of, commission_rates=commission_rates)[metrics.ALL]
    return {
        "windows": {k: w.to_json() for k, w in wins.items()},
        "metrics": {m: v for m, v in book.items() if metrics.AS_AT not in v},
    }


def trend_series(
    trend: Mapping[str, Any], metric_ids: Sequence[str]
) -> tuple[list[str], dict[str, list]]:
    """Line-chart data from ``figures["trend"]``: month labels and one series per metric."""
    keys = list(trend["windows"])
    series = {
        metrics.get(m).label: [(trend["metrics"].get(m) or {}).get(k) for k in keys]
        for m in metric_ids
    }
    return [month_label(k) for k in keys], series


def trend_split(
    trend: Mapping[str, Any], metric_id: str, *, top: int = 8
) -> tuple[list[str], dict[str, list]]:
    """Stacked-chart data of a map metric by month: one series per name, largest first.

    Names beyond the ``top`` largest over the whole trend are left out rather than summed
    into an "Other" that figures.json does not hold; with ``top`` of 8 and the demo's
    panel of eight lenders and five product families that drops only stray names.
    """
    keys = list(trend["windows"])
    by_month = trend["metrics"].get(metric_id) or {}
    totals: dict[str, float] = {}
    for k in keys:
        for name, v in (by_month.get(k) or {}).items():
            totals[name] = totals.get(name, 0.0) + (v or 0.0)
    names = sorted(totals, key=lambda n: (-totals[n], n))[:top]
    return [month_label(k) for k in keys], {
        n: [(by_month.get(k) or {}).get(n) for k in keys] for n in names
    }


def comparison_series(
    figures_metrics: Mapping[str, Any], metric_ids: Sequence[str], window_keys: Sequence[str]
) -> tuple[list[str], dict[str, list]]:
    """Grouped-bar data: metrics as categories, one series per window (Month, Previous month...)."""
    from lib.blocks.base import window_label

    labels = [metrics.get(m).label for m in metric_ids]
    return labels, {
        window_label(w): [(figures_metrics.get(m) or {}).get(w) for m in metric_ids]
        for w in window_keys
    }


def split_series(
    figures_metrics: Mapping[str, Any], metric_id: str, window_keys: Sequence[str], *, top: int = 8
) -> tuple[list[str], dict[str, list]]:
    """Grouped-bar data of a map metric: names as categories (largest in the first window
    first, at most ``top``), one series per window."""
    from lib.blocks.base import window_label

    by_window = figures_metrics.get(metric_id) or {}
    first = by_window.get(window_keys[0]) or {}
    names = sorted(
        {n for w in window_keys for n in (by_window.get(w) or {})},
        key=lambda n: (-(first.get(n) or 0), n),
    )[:top]
    return names, {
        window_label(w): [(by_window.get(w) or {}).get(n) for n in names] for w in window_keys
    }


def split_bridge(
    figures_metrics: Mapping[str, Any], metric_id: str, total_id: str, window: str, compare: str
) -> tuple[list[str], list[float | None]]:
    """Waterfall data: the total in ``compare``, then each name's change to ``window``.

    Args:
        figures_metrics: ``figures["metrics"]``.
        metric_id: a map metric of values (``product_paid_value``).
        total_id: the metric the map adds up to (``paid_value``).
        window: the window bridged to (``M``).
        compare: the window bridged from (``M_prev``).
    """
    from lib.blocks.base import window_label

    now = (figures_metrics.get(metric_id) or {}).get(window) or {}
    before = (figures_metrics.get(metric_id) or {}).get(compare) or {}
    names = sorted(set(now) | set(before), key=lambda n: (-(now.get(n) or 0), n))
    start = (figures_metrics.get(total_id) or {}).get(compare)
    changes = [(now.get(n) or 0.0) - (before.get(n) or 0.0) for n in names]
    return [window_label(compare), *names], [start or 0.0, *changes]


def ranked(
    entries: Mapping[str, Mapping[str, Any]], metric_id: str, window: str, *, top: int | None = None
) -> list[tuple[str, str, Any]]:
    """``(id, name, value)`` of retailers or BDMs, largest ``metric_id`` in ``window`` first.

    Entries whose value is null or zero are left out: a chart of the top ten should not
    pad itself with retailers that did nothing.
    """
    rows = [
        (key, str(e["name"]), (e["metrics"].get(metric_id) or {}).get(window))
        for key, e in entries.items()
    ]
    rows = [r for r in rows if r[2]]
    rows.sort(key=lambda r: (-r[2], r[1], r[0]))
    return rows[:top] if top is not None else rows


def pipeline_ageing(
    items: Mapping[str, Sequence[Mapping[str, Any]]],
) -> dict[str, dict[str, dict[str, Any]]]:
    """``figures["pipeline_ageing"]``: count and value of each stage's items per age bucket.

    Returns:
        ``{"ans": {"0–7": {"count": n, "value": pounds}, ...}, "snp": {...}}`` over every
        bucket of ``metrics.PIPELINE_BUCKETS`` (zero when empty).
    """
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for stage in ("ans", "snp"):
        buckets = {b: {"count": 0, "value": 0.0} for b in metrics.PIPELINE_BUCKETS}
        for row in items.get(stage, []):
            entry = buckets.setdefault(str(row.get("bucket")), {"count": 0, "value": 0.0})
            entry["count"] += 1
            # Whole pence, as the metrics add money, so the buckets sum to the metric exactly.
            entry["value"] = round(entry["value"] + float(row.get("amount") or 0.0), 2)
        out[stage] = buckets
    return out


def comparison_notes(
    figures_metrics: Mapping[str, Any], metric_ids: Sequence[str], window: str = "M"
) -> list[str]:
    """Commentary notes setting ``window`` against the same period last year and the year to date.

    The commentary's facts compare with the previous window only; these lines give the
    board's other two comparisons, with every number stated as the pack's cards state it (``formatting.headline``).
    """
    from lib import formatting

    notes = []
    for metric_id in metric_ids:
        m = metrics.get(metric_id)
        by_window = figures_metrics.get(metric_id) or {}
        now, last_year = by_window.get(window), by_window.get(f"{window}_ly")
        ytd, ytd_prev = by_window.get("YTD"), by_window.get("YTD_prev")
        parts = []
        if f"{window}_ly" in by_window:
            parts.append(
                f"{formatting.headline(now, m.unit)} against {formatting.headline(last_year, m.unit)} in the "
                f"same month last year ({formatting.delta(now, last_year, m.unit)})"
            )
        if "YTD" in by_window:
            parts.append(
                f"{formatting.headline(ytd, m.unit)} year to date against "
                f"{formatting.headline(ytd_prev, m.unit)} a year earlier ({formatting.delta(ytd, ytd_prev, m.unit)})"
            )
        if parts:
            notes.append(f"{m.label}: {'; '.join(parts)}.")
    return notes


def is_empty_month(figures_metrics: Mapping[str, Any], window: str = "M") -> bool:
    """Whether nothing at all happened in ``window``: no submission, decision, signing,
    payout or cancellation (a new company, or a month before the first application)."""
    events = ("submissions", "decisions", "signed", "paid", "cancelled")
    return all(not (figures_metrics.get(e) or {}).get(window) for e in events)


def entity_series(
    entries: Mapping[str, Mapping[str, Any]], metric_id: str, window_keys: Sequence[str]
) -> tuple[list[str], dict[str, list]]:
    """Grouped-bar data for retailers or BDMs: names as categories (largest in the first
    window first), one series per window.

    Names are made unique with the entry's id only when two entries share one, since a
    chart's categories must not repeat (see :func:`chart_labels`).
    """
    from lib.blocks.base import window_label

    first = window_keys[0]
    order = sorted(
        entries,
        key=lambda k: (
            -((entries[k]["metrics"].get(metric_id) or {}).get(first) or 0),
            entries[k]["name"],
            k,
        ),
    )
    labels = chart_labels((k, str(entries[k]["name"])) for k in order)
    return labels, {
        window_label(w): [(entries[k]["metrics"].get(metric_id) or {}).get(w) for k in order]
        for w in window_keys
    }


def chart_labels(entries: Iterable[tuple[str, str]]) -> list[str]:
    """Chart categories for ``(id, name)`` pairs of retailers or BDMs: each name, with its
    id after it when another entry's name would be drawn alike.

    Salesforce does not make names unique (two branches both "Smile Dental"), and a chart's
    categories must not repeat; names that differ only in spacing or control characters
    are drawn alike too, so they are told apart the same way.
    """
    from lib.charts.text import plain

    pairs = list(entries)
    drawn = [plain(name) for _, name in pairs]
    return [
        name if drawn.count(shown) == 1 else f"{name} ({key})"
        for (key, name), shown in zip(pairs, drawn, strict=True)
    ]


def top_entries(
    entries: Mapping[str, Mapping[str, Any]], metric_id: str, window: str, top: int
) -> dict[str, Mapping[str, Any]]:
    """The ``top`` entries by ``metric_id`` in ``window`` (see :func:`ranked`), as a mapping."""
    return {key: entries[key] for key, _, _ in ranked(entries, metric_id, window, top=top)}


def ageing_series(
    ageing: Mapping[str, Mapping[str, Mapping[str, Any]]], part: str
) -> tuple[list[str], dict[str, list]]:
    """Stacked-bar data of ``figures["pipeline_ageing"]``: age buckets as categories, one
    series per stage; ``part`` is ``count`` or ``value``."""
    from lib.blocks.base import STAGES

    buckets = list(dict.fromkeys(b for s in STAGES for b in (ageing.get(s) or {})))
    return buckets, {
        title: [((ageing.get(s) or {}).get(b) or {}).get(part) for b in buckets]
        for s, title in STAGES.items()
    }


def named_facts(
    entries: Mapping[str, Mapping[str, Any]],
    metric_ids: Sequence[str],
    window: str,
    prev_window: str,
    thresholds: Any = None,
    *,
    top: int | None = None,
) -> list[Any]:
    """Commentary facts for each retailer or BDM, labelled with its name.

    Args:
        entries: ``figures["bdms"]`` or ``figures["retailers"]``.
        metric_ids: registry ids, the first one ranking the entries.
        window: the window the text is about.
        prev_window: the window it is compared with.
        thresholds: the report's light thresholds.
        top: only the largest ``top`` entries by the first metric.
    """
    import dataclasses

    from lib import commentary

    keys = [k for k, _, _ in ranked(entries, metric_ids[0], window, top=top)]
    facts = []
    for key in keys:
        name = entries[key]["name"]
        for fact in commentary.facts_from_figures(
            entries[key]["metrics"], metric_ids, window, prev_window, thresholds
        ):
            facts.append(dataclasses.replace(fact, label=f"{name}: {fact.label}"))
    return facts


def rates_note(rates: Mapping[str, float]) -> str:
    """How commission is charged, as one line: ``Commission rates: Interest Free 3.0%, …``."""
    from lib import formatting

    if not rates:
        return "No commission rates are set, so commission is not available."
    listed = ", ".join(f"{family} {formatting.percent(rate, 2)}" for family, rate in rates.items())
    return f"Commission rates applied to paid value: {listed}."


def names_note(title: str, names: Sequence[str], *, limit: int = 8) -> str | None:
    """``title: A, B and 3 more.`` for commentary notes; None when there are no names."""
    if not names:
        return None
    shown = list(names[:limit])
    more = len(names) - len(shown)
    return f"{title}: {', '.join(shown)}" + (f" and {more} more." if more else ".")
