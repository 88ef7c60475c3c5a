"""The facts commentary is written from: :class:`Fact` and :class:`Section`.

A section's commentary may talk about its facts and notes only. :func:`facts_from_figures`
builds facts from a report's ``figures.json`` metrics, with the report's own lights.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lib import formatting as fmt


@dataclass(frozen=True)
class Fact:
    """One figure a section's text may talk about.

    Attributes:
        label: What a reader calls it (``Submissions``).
        value: The value in the window (rates as fractions, money in pounds), or None.
        previous: The value in the previous window, or None (as-at figures have none).
        unit: A registry unit: ``count``, ``money``, ``rate``, ``share``, ``hours``, ``days``.
        light: ``green``, ``amber``, ``red`` or None, as :func:`lib.formatting.traffic_light`.
        metric_id: The registry id, when the fact is a registry metric.
        window: The window key (``LW``, ``MTD``, ``M``, ``as_at``...).
    """

    label: str
    value: float | int | None
    previous: float | int | None
    unit: str
    light: str | None = None
    metric_id: str | None = None
    window: str | None = None


@dataclass(frozen=True)
class Section:
    """A section of a report and everything its commentary may use.

    Attributes:
        name: Key in ``commentary.sections`` (``summary``, ``volumes``, ``pipeline``...).
        title: The heading a reader sees.
        facts: The figures, most important first.
        notes: Extra context lines (inactive retailers' names, pipeline ageing...).
    """

    name: str
    title: str
    facts: tuple[Fact, ...]
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Notebooks build these from lists; freeze them so a Section stays hashable.
        object.__setattr__(self, "facts", tuple(self.facts))
        object.__setattr__(self, "notes", tuple(self.notes))


def facts_from_figures(
    figures_metrics: Mapping[str, Mapping[str, Any]],
    metric_ids: Sequence[str],
    window: str,
    prev_window: str,
    thresholds: fmt.Thresholds | None = None,
) -> tuple[Fact, ...]:
    """Facts for ``metric_ids`` from a ``figures.json`` ``metrics`` object.

    Labels, units and direction come from the metric registry; lights from
    :func:`lib.formatting.traffic_light`, so they match the report's. As-at metrics
    (pipeline, inactive retailers) take their ``as_at`` value and have no previous. A map
    metric (``lender_share``...) becomes one fact per name, largest first, with no light:
    a lender's share going up is neither good nor bad news.

    Args:
        figures_metrics: ``{metric_id: {window_key: value}}``.
        metric_ids: Registry ids (``growth_<id>`` too), in the order wanted.
        window: The window key the text is about (``LW``, ``M``...).
        prev_window: The key it is compared with (``LW_prev``, ``M_prev``, ``M_ly``...).
        thresholds: The report's light thresholds; the domain defaults when None.

    Raises:
        UnknownNameError: An id is not in the registry.
    """
    # Imported here: lib.metrics pulls in pandas and numpy, which prompt building and
    # the fallback do not need.
    from lib import metrics

    thresholds = thresholds or fmt.DEFAULT_THRESHOLDS
    facts: list[Fact] = []
    for metric_id in metric_ids:
        metric = metrics.get(metric_id)
        by_window = figures_metrics.get(metric_id) or {}
        item_unit = metrics.item_unit(metric_id)  # None unless a map metric
        if item_unit is not None:
            facts.extend(_map_facts(metric, item_unit, by_window, window, prev_window))
            continue
        if metric.basis == "as_at":
            value, previous, win = by_window.get("as_at"), None, "as_at"
        else:
            value, previous, win = by_window.get(window), by_window.get(prev_window), window
        light = fmt.traffic_light(
            value, previous, metric.unit, thresholds, higher_is_better=metric.higher_is_better
        )
        facts.append(
            Fact(metric.label, value, previous, metric.unit, _light_name(light), metric_id, win)
        )
    return tuple(facts)


def _map_facts(
    metric: Any, unit: str, by_window: Mapping[str, Any], window: str, prev_window: str
) -> list[Fact]:
    """One fact per name of a map metric whose items are in ``unit``, largest first."""
    current = by_window.get(window) or {}
    previous = by_window.get(prev_window) or {}
    names = sorted(set(current) | set(previous), key=lambda n: (-(current.get(n) or 0), n))
    return [
        Fact(f"{metric.label}: {n}", current.get(n), previous.get(n), unit, None, metric.id, window)
        for n in names
    ]


def _light_name(light: fmt.Light) -> str | None:
    return None if light is fmt.Light.NONE else light.value


def finite(x: Any) -> float | None:
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None
