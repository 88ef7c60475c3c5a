"""The fact check: every number in a reply must be one of the figures it was given.

Numbers are read with their units (money, percentages, percentage points, hours, days)
and compared at the precision written, so rounding passes and invention does not.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from lib.commentary.facts import Fact, Section, finite

_MONTHS = (
    "Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
    "Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?"
)
# Dates and times carry no figure; removed before numbers are read. Month names are
# matched capitalised only, so "12 may rise" is still read as a number.
_DATES = re.compile(
    rf"\b\d{{4}}-\d{{2}}-\d{{2}}\b"
    rf"|\b\d{{1,2}}/\d{{1,2}}(?:/\d{{2,4}})?\b"
    rf"|\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{_MONTHS})\b"
    rf"|\b(?:{_MONTHS})\s+\d{{1,2}}(?:st|nd|rd|th)?\b"
    rf"|\b\d{{1,2}}[:.]\d{{2}}\s*(?:am|pm)\b|\b\d{{1,2}}:\d{{2}}\b"
)
_NUMBER = re.compile(
    r"(?<![\w.£])"
    r"(?P<cur>£\s?)?"
    r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
    r"(?P<mult>\s?(?:k|m|bn|thousand|million|billion)\b)?"
    r"(?P<unit>\s?(?:%|per\s?cent\b|percent\b|pp\b|percentage[\s-]points?\b"
    r"|hours?\b|hrs?\b|h\b|days?\b|d\b))?"
    r"(?!\w)",
    re.IGNORECASE,
)
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
         "eighty": 80, "ninety": 90}  # fmt: skip
_TEENS = {"eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
          "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19}  # fmt: skip
_UNITS_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                "eight": 8, "nine": 9}  # fmt: skip
_WORD_NUMBER = re.compile(
    rf"\b(?:(?P<tens>{'|'.join(_TENS)})(?:[\s-](?P<unit>{'|'.join(_UNITS_WORDS)}))?"
    rf"|(?P<teen>{'|'.join(_TEENS)}))\b",
    re.IGNORECASE,
)
_MULTIPLIERS = {"k": 1e3, "thousand": 1e3, "m": 1e6, "million": 1e6, "bn": 1e9, "billion": 1e9}


@dataclass(frozen=True)
class _Token:
    raw: str
    value: float  # as written, times any k/m/bn: pounds, percent, points, hours, days
    tolerance: float  # half the precision written
    kind: str  # money, percent, pp, hours, days or plain


def _tokens(text: str) -> list[_Token]:
    text = _DATES.sub(" ", text)
    out = []
    for m in _NUMBER.finditer(text):
        digits = m["num"].replace(",", "")
        whole, _, decimals = digits.partition(".")
        mult = _MULTIPLIERS[m["mult"].strip().lower()] if m["mult"] else 1.0
        unit = (m["unit"] or "").strip().lower()
        if m["cur"]:
            kind = "money"
        elif unit.startswith(("pp", "percentage")):  # before "per": "percentage points"
            kind = "pp"
        elif unit.startswith(("%", "per")):
            kind = "percent"
        elif unit.startswith("h"):
            kind = "hours"
        elif unit.startswith("d"):
            kind = "days"
        else:
            kind = "plain"
        value = float(digits) * mult
        if (
            kind == "plain"
            and mult == 1
            and not decimals
            and 1900 <= value <= 2100
            and "," not in m["num"]
        ):
            continue  # a year
        if decimals:
            precision = 10.0 ** -len(decimals)
        else:
            # Trailing zeros of a whole number may be rounding ("about 12,000"), but at
            # least two significant figures must stand: "10" is 10, "12,000" is 11,500-12,500.
            zeros = len(whole) - len(whole.rstrip("0")) if whole.strip("0") else 0
            precision = 10.0 ** min(zeros, max(len(whole.lstrip("0")) - 2, 0))
        out.append(_Token(m.group(0).strip(), value, precision * mult / 2, kind))
    for m in _WORD_NUMBER.finditer(text):
        if m["teen"]:
            value = _TEENS[m["teen"].lower()]
        else:
            value = _TENS[m["tens"].lower()] + (_UNITS_WORDS[m["unit"].lower()] if m["unit"] else 0)
        out.append(_Token(m.group(0), float(value), 0.0, "plain"))
    return out


def _candidates(facts: Sequence[Fact]) -> dict[str, list[float]]:
    """Every number a fact allows, by the kind of token that may state it."""
    cands: dict[str, list[float]] = {
        k: [] for k in ("money", "percent", "pp", "hours", "days", "plain")
    }
    for f in facts:
        v, p = finite(f.value), finite(f.previous)
        points = f.unit in ("rate", "share")
        scale = 100.0 if points else 1.0
        base = [abs(x) * scale for x in (v, p) if x is not None]
        diff = [abs(v - p) * scale] if v is not None and p is not None else []
        if points:
            cands["percent"] += base
            cands["pp"] += diff
        else:
            if f.unit == "money":
                cands["money"] += base + diff
            elif f.unit in ("hours", "days"):
                cands[f.unit] += base + diff
            if v is not None and p is not None and p != 0:
                cands["percent"].append(abs((v - p) / p) * 100)
        cands["plain"] += base + diff
    return cands


def check_sections(text: str, section: Section, extra: Sequence[str] = ()) -> list[str]:
    cands = _candidates(section.facts)
    # Numbers that are part of names and context (a "Top-10" label, a note's "31–90
    # days", a retailer called "Studio 54") may be repeated in any form.
    literal_texts = [section.title, *section.notes, *(f.label for f in section.facts), *extra]
    literals = [t.value for s in literal_texts for t in _tokens(s)]
    bad: list[str] = []
    for tok in _tokens(text):
        allowed = cands[tok.kind] + literals
        slack = tok.tolerance + 1e-9 * max(1.0, tok.value)
        if not any(abs(tok.value - c) <= slack for c in allowed) and tok.raw not in bad:
            bad.append(tok.raw)
    return bad


def fact_check(text: str, section: Section) -> list[str]:
    """The numbers in ``text`` that match none of the section's figures.

    A number is read with its unit: ``£`` (with ``k``/``m``/``bn``) is money; ``%`` or
    ``per cent`` a percentage; ``pp`` or ``percentage points`` a difference of rates;
    ``hours``/``h`` and ``days``/``d`` durations; anything else a plain number. It passes
    if, at the precision it is written with, it equals (signs ignored, so "down 3.2 pp"
    matches a fall):

    - money: a money fact's value, previous value or their difference;
    - a percentage: a rate or share's value or previous value, or the relative change of
      any other fact (``▲ 33.3%``);
    - pp: the difference of a rate or share's value and previous value;
    - hours / days: a fact in that unit, or its difference;
    - a plain number: any fact's value, previous value or difference (rates in percent);
    - any kind: a number written in the section's title, labels or notes.

    "At the precision written" allows rounding: ``41%`` matches 41.3 %, ``£12.3k``
    matches £12,345, and a whole number's trailing zeros count as rounding while two
    significant figures remain (``£12,000`` matches £11,500–£12,500; ``10`` must be 10).
    Ignored: dates and times (``2026-11-22``, ``22 November``, ``07:00``), years
    1900–2100, ordinals (``3rd``), numbers inside words (``Q3``) and numbers up to ten
    written as words (``two weeks``); words from eleven to ninety-nine are checked.
    Directions ("rose" for a fall) are not checked.

    Returns:
        The offending numbers as written, in order, without repeats; empty if it passes.
    """
    return check_sections(text, section)
