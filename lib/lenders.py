"""Lender name normalisation (domain §5).

``Lender_Name__c`` is typed by hand in several systems, so one lender arrives under many
spellings. Canonical names and their known aliases live in ``lenders.yaml`` next to this
module; this module reads that file (once) and maps raw names onto it.
"""

from __future__ import annotations

import functools
import logging
import math
import re
from dataclasses import dataclass
from importlib import resources

import numpy as np
import pandas as pd
import yaml

from lib.errors import ConfigError

log = logging.getLogger(__name__)

UNKNOWN = "Unknown"
LEGAL_SUFFIXES = frozenset({"ltd", "limited", "plc", "llp", "uk"})

_DATA_FILE = "lenders.yaml"
_DROPPED = str.maketrans("", "", ".,")
# Title Case starts a capital after a space, hyphen, slash or bracket but not after an
# apostrophe, so "kestrel's" stays "Kestrel's" rather than str.title()'s "Kestrel'S".
_WORD_START = re.compile(r"(^|[\s\-/(])(\w)")


def _is_null(raw: object) -> bool:
    return (
        raw is None or raw is pd.NA or raw is pd.NaT or (isinstance(raw, float) and math.isnan(raw))
    )


def clean(raw: str | None) -> str:
    """Clean a lender name by the rule of domain §5.

    Trim, collapse internal whitespace, drop ``.`` and ``,``, case-fold, then strip the
    trailing legal-suffix words ``ltd``, ``limited``, ``plc``, ``llp``, ``uk`` for as long
    as one is last.

    Args:
        raw: A raw ``Lender_Name__c``; null gives ``""``.

    Returns:
        The cleaned name; ``""`` when nothing but suffixes, punctuation or space is left.
    """
    if _is_null(raw):
        return ""
    # Splitting after dropping punctuation also collapses the gap "Northwind , Ltd" leaves.
    words = str(raw).translate(_DROPPED).casefold().split()
    while words and words[-1] in LEGAL_SUFFIXES:
        words.pop()
    return " ".join(words)


def _title(cleaned: str) -> str:
    return _WORD_START.sub(lambda m: m.group(1) + m.group(2).upper(), cleaned)


@dataclass(frozen=True)
class _Table:
    canonical: tuple[str, ...]
    aliases: dict[str, tuple[str, ...]]
    lookup: dict[str, str]  # cleaned canonical name or alias -> canonical name


@functools.cache
def _table() -> _Table:
    source = resources.files(__package__).joinpath(_DATA_FILE)
    where = str(source)
    try:
        doc = yaml.safe_load(source.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read lender table: {exc}", file=where) from exc
    lenders = doc.get("lenders") if isinstance(doc, dict) else None
    if not isinstance(lenders, dict) or not lenders:
        raise ConfigError(
            "expected a mapping of canonical name -> aliases", file=where, field="lenders"
        )

    aliases: dict[str, tuple[str, ...]] = {}
    lookup: dict[str, str] = {}
    for name, listed in lenders.items():
        field = f"lenders.{name}"
        names = listed or []
        if not isinstance(name, str) or not clean(name):
            raise ConfigError("a canonical name must be non-empty text", file=where, field=field)
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ConfigError("aliases must be a list of text", file=where, field=field)
        aliases[name] = tuple(names)
        for spelling in (name, *names):
            key = clean(spelling)
            if not key:
                raise ConfigError(f"alias {spelling!r} cleans to nothing", file=where, field=field)
            if lookup.setdefault(key, name) != name:
                raise ConfigError(
                    f"{spelling!r} cleans to {key!r}, which already means {lookup[key]!r}; "
                    f"keep it under one lender only",
                    file=where,
                    field=field,
                )
    log.debug("loaded %d lenders, %d spellings from %s", len(aliases), len(lookup), where)
    return _Table(canonical=tuple(aliases), aliases=aliases, lookup=lookup)


def aliases() -> dict[str, tuple[str, ...]]:
    """The lender table: canonical name -> its aliases as written in ``lenders.yaml``.

    Returns:
        A fresh dict in file order; changing it does not change the table.
    """
    return dict(_table().aliases)


def normalise(raw: str | None) -> str:
    """The canonical lender for a raw ``Lender_Name__c``.

    Args:
        raw: The raw name.

    Returns:
        The canonical name when the cleaned name is a canonical name or alias; otherwise
        the cleaned name in Title Case; ``"Unknown"`` for null, empty or only whitespace,
        punctuation and legal suffixes.
    """
    key = clean(raw)
    if not key:
        return UNKNOWN
    return _table().lookup.get(key) or _title(key)


def normalise_series(s: pd.Series) -> pd.Series:
    """:func:`normalise` over a series, computed once per distinct value.

    Args:
        s: Raw lender names; nulls allowed.

    Returns:
        A ``str`` series of canonical names with the index and name of ``s``.
    """
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    # Null values get code -1, which picks the trailing "Unknown".
    labels = np.array([normalise(u) for u in uniques] + [UNKNOWN], dtype=object)
    return pd.Series(labels[codes], index=s.index, name=s.name, dtype="str")


CANONICAL: tuple[str, ...] = _table().canonical
