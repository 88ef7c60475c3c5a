"""Lender normalisation (domain §5)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lib import lenders

DOMAIN_LENDERS = (
    "Northwind Bank",
    "Blue Heron Credit",
    "Castlegate Finance",
    "Meridian Consumer Lending",
    "Oakfield Bank",
    "Silverline Credit",
    "Tidewater Finance",
    "Kestrel Money",
)

EVERY_ALIAS = [
    (canonical, alias) for canonical, names in lenders.aliases().items() for alias in names
]


def test_canonical_lenders_are_the_domains() -> None:
    assert lenders.CANONICAL == DOMAIN_LENDERS
    assert tuple(lenders.aliases()) == DOMAIN_LENDERS


def test_aliases_returns_a_copy() -> None:
    table = lenders.aliases()
    table.clear()
    assert tuple(lenders.aliases()) == DOMAIN_LENDERS


def test_every_lender_has_aliases() -> None:
    assert all(len(names) >= 3 for names in lenders.aliases().values())


@pytest.mark.parametrize(("canonical", "alias"), EVERY_ALIAS)
def test_every_alias_maps_to_its_lender(canonical: str, alias: str) -> None:
    assert lenders.normalise(alias) == canonical
    # And stays mapped through the kinds of mess the cleaning rule absorbs.
    assert lenders.normalise(f"  {alias.upper()}  ") == canonical
    assert lenders.normalise(alias.lower().replace(" ", "   ") + " Ltd.") == canonical
    assert lenders.normalise(alias + " Limited UK,") == canonical


@pytest.mark.parametrize("canonical", DOMAIN_LENDERS)
def test_canonical_names_map_to_themselves(canonical: str) -> None:
    assert lenders.normalise(canonical) == canonical


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("NORTHWIND BANK PLC", "Northwind Bank"),
        ("Northwind", "Northwind Bank"),
        ("N'wind Bank", "Northwind Bank"),
        ("northwind   bank\tltd.", "Northwind Bank"),
        ("Northwind Bank, PLC.", "Northwind Bank"),
        ("Northwind Bank Ltd Limited UK", "Northwind Bank"),
        ("Blue Heron", "Blue Heron Credit"),
        ("BlueHeron Credit Ltd", "Blue Heron Credit"),
        ("Castlegate Fin.", "Castlegate Finance"),
        ("Meridian CL", "Meridian Consumer Lending"),
        ("Oakfield", "Oakfield Bank"),
        ("Silverline", "Silverline Credit"),
        ("Tidewater", "Tidewater Finance"),
        ("Kestrel Money Limited", "Kestrel Money"),
        ("KESTREL MONEY LLP", "Kestrel Money"),
        ("\u00a0Kestrel\u00a0Money\u00a0", "Kestrel Money"),
    ],
)
def test_messy_variants(raw: str, expected: str) -> None:
    assert lenders.normalise(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("acme finance ltd", "Acme Finance"),
        ("  ZEPHYR   CAPITAL PLC. ", "Zephyr Capital"),
        ("o'brien-smith credit", "O'brien-Smith Credit"),
        ("Kestrel's Loans", "Kestrel's Loans"),
        ("Ltd Lending Ltd", "Ltd Lending"),  # only trailing suffixes go
        ("UK Credit", "Uk Credit"),
    ],
)
def test_unknown_lender_is_the_cleaned_name_in_title_case(raw: str, expected: str) -> None:
    assert lenders.normalise(raw) == expected


@pytest.mark.parametrize("raw", [None, "", "  ", "\t\n", float("nan"), pd.NA, "Ltd.", ", ."])
def test_null_or_empty_is_unknown(raw: object) -> None:
    assert lenders.normalise(raw) == "Unknown"  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Northwind   Bank  ", "northwind bank"),
        ("Castlegate Fin.", "castlegate fin"),
        ("Northwind , Ltd", "northwind"),
        ("KESTREL MONEY UK LIMITED", "kestrel money"),
        ("Straße Bank", "strasse bank"),
        (None, ""),
        ("plc", ""),
    ],
)
def test_clean(raw: str | None, expected: str) -> None:
    assert lenders.clean(raw) == expected


@given(st.text(max_size=40))
def test_clean_is_idempotent_and_tidy(raw: str) -> None:
    cleaned = lenders.clean(raw)
    assert lenders.clean(cleaned) == cleaned
    assert cleaned == cleaned.strip() and "  " not in cleaned
    assert "." not in cleaned and "," not in cleaned
    assert not cleaned or cleaned.split()[-1] not in lenders.LEGAL_SUFFIXES


@given(st.lists(st.one_of(st.none(), st.sampled_from([a for _, a in EVERY_ALIAS]), st.text())))
def test_normalise_series_matches_normalise(raws: list[str | None]) -> None:
    s = pd.Series(raws, dtype=object, index=np.arange(len(raws)) * 2, name="Lender_Name__c")
    got = lenders.normalise_series(s)
    assert list(got) == [lenders.normalise(r) for r in raws]
    assert got.index.equals(s.index) and got.name == "Lender_Name__c"


def test_normalise_series_on_str_dtype_with_nulls() -> None:
    s = pd.Series(["Northwind", None, "Blue Heron", "Northwind", "acme"], dtype="str")
    got = lenders.normalise_series(s)
    assert got.dtype == "str"
    assert list(got) == ["Northwind Bank", "Unknown", "Blue Heron Credit", "Northwind Bank", "Acme"]
    assert len(lenders.normalise_series(pd.Series([], dtype="str"))) == 0
