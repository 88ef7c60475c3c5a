"""Deterministic commentary from a section's figures, used whenever Claude's is not.

The text is built from the facts alone, with every number shown as the report shows it,
so it always passes :func:`lib.commentary.check.fact_check`, and ends with
:data:`AUTOMATIC_MARK` so a reader can tell it was written automatically.
"""

from __future__ import annotations

from typing import Any

from lib import formatting as fmt
from lib.commentary.facts import Fact, Section, finite
from lib.commentary.prompts import DEFAULT_WINDOW, WINDOWS, check_audience

AUTOMATIC_MARK = "(Automatic summary.)"

_LIGHT_ORDER = ("green", "amber", "red")


def _change(fact: Fact) -> float | None:
    """The change lights judge: a pp difference for rates, relative otherwise."""
    v, p = finite(fact.value), finite(fact.previous)
    if v is None or p is None or fact.unit not in fmt.UNITS or fact.unit == "map":
        return None
    if fact.unit in ("rate", "share"):
        return v - p
    return None if p == 0 else (v - p) / abs(p)


def _size(fact: Fact) -> float:
    """How big a change is, in thresholds, so rates and counts rank together."""
    change = _change(fact)
    if change is None:
        return -1.0
    t = fmt.DEFAULT_THRESHOLDS
    limit = t.pp if fact.unit in ("rate", "share") else t.pct
    return abs(change) / limit if limit else abs(change)


def _mover(fact: Fact, audience: str) -> str:
    now = WINDOWS.get(fact.window or "", DEFAULT_WINDOW)
    value, previous = fmt.headline(fact.value, fact.unit), fmt.headline(fact.previous, fact.unit)
    change = fmt.delta(fact.value, fact.previous, fact.unit)
    formal = audience in ("smt", "board")
    if change.startswith("▲"):
        verb = "increased to" if formal else "rose to"
    elif change.startswith("▼"):
        verb = "decreased to" if formal else "fell to"
    else:
        verb = "was unchanged at" if formal else "held at"
    light = f", {fact.light}" if fact.light else ""
    return f"{fact.label} {verb} {value} {now}, from {previous} in the previous period ({change}{light})."


def _standing(fact: Fact) -> str:
    text = f"{fact.label} {fmt.headline(fact.value, fact.unit)}"
    if finite(fact.previous) is not None:
        text += f" (previous period {fmt.headline(fact.previous, fact.unit)})"
    return text


def _has(section: Section, metric_id: str, test: Any) -> bool:
    return any(f.metric_id == metric_id and test(f) for f in section.facts)


def _positive(f: Fact) -> bool:
    return (finite(f.value) or 0) > 0


def _worse(f: Fact) -> bool:
    return f.light == "red"


def _better(f: Fact) -> bool:
    return f.light == "green"


def _nudges(section: Section, audience: str, lights: dict[str, int]) -> list[str]:
    """Audience-specific advice keyed on which registry metrics the section holds."""
    out: list[str] = []
    if audience == "retailer":
        if _has(section, "submissions", _worse):
            out.append(
                "Offering finance to more customers at checkout is the quickest way to lift "
                "submissions."
            )
        elif _has(section, "submissions", _better):
            out.append("Keep offering finance at checkout to build on the rise in submissions.")
        if _has(section, "approval_rate", _worse):
            out.append("Complete, accurate applications give lenders the best chance to approve.")
        if _has(section, "pipeline_ans_count", _positive):
            out.append(
                "Some approved applications are still waiting for the customer to sign: a "
                "reminder could turn them into sales."
            )
        if _has(section, "pipeline_snp_count", _positive):
            out.append(
                "Check that no signed application waiting for payout is held up on your side."
            )
    elif audience == "bdm":
        if any(_has(section, m, _worse) for m in ("submissions", "paid_value", "submitted_value")):
            out.append(
                "Volume is down on the previous period: worth a conversation with the retailers "
                "behind the drop."
            )
        if _has(section, "inactive_retailers", _positive):
            out.append("Retailers with no recent submissions are worth a call this week.")
        if _has(section, "pipeline_ans_count", _positive):
            out.append(
                "Approved applications not yet signed are an opportunity: help the retailers "
                "follow them up with their customers."
            )
    elif sum(lights.values()):
        good, bad = lights.get("green", 0), lights.get("red", 0)
        if good > bad:
            mood = "more measures improved than worsened"
        elif bad > good:
            mood = "more measures worsened than improved"
        else:
            mood = "improvements and declines were evenly balanced"
        if audience == "board":
            out.append(f"Against the previous period, {mood} in this section.")
        else:
            out.append(f"Across the business, {mood}.")
    return out


def fallback(section: Section, audience: str) -> str:
    """Deterministic commentary from the section's figures, ending :data:`AUTOMATIC_MARK`.

    It leads with the biggest mover against the previous window (changes measured in
    light thresholds, so a 3 pp rate move and a 10 % volume move compare), then the
    next-biggest if it also crossed a threshold, lists the other lights by colour, states
    as-at figures (the pipeline), says which figures are unavailable, repeats the notes
    (pipeline ageing, inactive retailers), and ends with the audience's nudges. Every
    number in it is shown as the report shows it, so it passes :func:`fact_check`.

    Raises:
        UnknownNameError: ``audience`` is not one of :data:`AUDIENCES`.
    """
    check_audience(audience)
    sentences: list[str] = []
    compared = sorted((f for f in section.facts if _change(f) is not None), key=lambda f: -_size(f))
    told = compared[:1] + [f for f in compared[1:2] if _size(f) >= 1]
    sentences += [_mover(f, audience) for f in told]

    by_light: dict[str, list[str]] = {}
    lights: dict[str, int] = {}
    for f in section.facts:
        if f.light in _LIGHT_ORDER:
            lights[f.light] = lights.get(f.light, 0) + 1
            if f not in told:
                by_light.setdefault(f.light, []).append(f.label)
    if by_light:
        parts = [f"{c} for {', '.join(by_light[c])}" for c in _LIGHT_ORDER if c in by_light]
        lead = "Other lights" if told else "Lights"
        sentences.append(f"{lead}: {'; '.join(parts)}.")

    standing = [f for f in section.facts if f not in compared and finite(f.value) is not None]
    if standing:
        listed = "; ".join(_standing(f) for f in standing)
        now = "As at the report date" if all(f.window == "as_at" for f in standing) else "Now"
        sentences.append(f"{now}: {listed}.")
    missing = [f.label for f in section.facts if finite(f.value) is None]
    if missing:
        sentences.append(f"Not available this period: {', '.join(missing)}.")
    notes = [n.strip() for n in section.notes if n.strip()]
    sentences += [n if n.endswith((".", "!", "?")) else f"{n}." for n in notes]
    sentences += _nudges(section, audience, lights)
    if not sentences:
        sentences.append(f"No figures are available for {section.title} this period.")
    sentences.append(AUTOMATIC_MARK)
    return " ".join(sentences)
