"""Product family and term bucket of a ``Product_Code__c`` (domain §5).

Codes arrive as ``bnpl-12``, ``IFC 24``, ``ibc_060``…: upper-cased with spaces, ``-`` and
``_`` removed, the family is the first matching prefix and the term (in months) is the
trailing digits.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

FAMILIES = ("Buy Now Pay Later", "Interest Free", "Interest Bearing", "Hire Purchase", "Other")
TERM_BUCKETS = ("≤12", "13–36", "37+", "Unknown")

OTHER = FAMILIES[-1]
UNKNOWN_TERM = TERM_BUCKETS[-1]

# Checked in this order; the first prefix that matches wins.
_PREFIXES = (
    ("BNPL", "Buy Now Pay Later"),
    ("IFC", "Interest Free"),
    ("IBC", "Interest Bearing"),
    ("HP", "Hire Purchase"),
)
_REMOVED = re.compile(r"[\s\-_]+")
# ASCII only: \d would also take Arabic-Indic and other digits that are no term.
_TRAILING_DIGITS = re.compile(r"[0-9]+$")


def _is_null(code: object) -> bool:
    return (
        code is None
        or code is pd.NA
        or code is pd.NaT
        or (isinstance(code, float) and math.isnan(code))
    )


def clean_code(code: str | None) -> str:
    """Upper-case a product code and remove whitespace, ``-`` and ``_``; null gives ``""``."""
    if _is_null(code):
        return ""
    return _REMOVED.sub("", str(code).upper())


def family(code: str | None) -> str:
    """The product family of a raw code, one of :data:`FAMILIES` (``Other`` if none fits)."""
    cleaned = clean_code(code)
    for prefix, name in _PREFIXES:
        if cleaned.startswith(prefix):
            return name
    return OTHER


def term_months(code: str | None) -> int | None:
    """The term in months: the code's trailing digits, or None when there are none.

    A term of 0 months is no term, so it is None too.
    """
    match = _TRAILING_DIGITS.search(clean_code(code))
    months = int(match.group()) if match else 0
    return months or None


def term_bucket(code: str | None) -> str:
    """The term bucket of a raw code, one of :data:`TERM_BUCKETS`."""
    months = term_months(code)
    if months is None:
        return UNKNOWN_TERM
    if months <= 12:
        return "≤12"
    if months <= 36:
        return "13–36"
    return "37+"


def _per_unique(s: pd.Series, func: Callable[[str | None], str]) -> pd.Series:
    # Few distinct codes, many rows: classify each distinct code once.
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    labels = np.array([func(u) for u in uniques] + [func(None)], dtype=object)
    return pd.Series(labels[codes], index=s.index, name=s.name, dtype="str")


def family_series(s: pd.Series) -> pd.Series:
    """:func:`family` over a series of raw codes; keeps its index and name."""
    return _per_unique(s, family)


def term_bucket_series(s: pd.Series) -> pd.Series:
    """:func:`term_bucket` over a series of raw codes; keeps its index and name."""
    return _per_unique(s, term_bucket)
