"""Product family and term bucket (domain §5)."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lib import products

CODES = [
    # code, family, term bucket
    ("bnpl-12", "Buy Now Pay Later", "≤12"),
    ("BNPL", "Buy Now Pay Later", "Unknown"),
    ("IFC 24", "Interest Free", "13–36"),
    ("ifc_12", "Interest Free", "≤12"),
    ("IFC13", "Interest Free", "13–36"),
    ("ibc_060", "Interest Bearing", "37+"),
    ("IBC-36", "Interest Bearing", "13–36"),
    ("I B C 37", "Interest Bearing", "37+"),
    ("HP36", "Hire Purchase", "13–36"),
    ("hp", "Hire Purchase", "Unknown"),
    ("hp 1", "Hire Purchase", "≤12"),
    ("XYZ12", "Other", "≤12"),
    ("LOAN-120", "Other", "37+"),
    ("ifc-6m", "Interest Free", "Unknown"),  # the digits are not trailing
    ("HP0", "Hire Purchase", "Unknown"),  # a 0-month term is no term
    ("  b-n_p l 3 ", "Buy Now Pay Later", "≤12"),
    ("", "Other", "Unknown"),
    (None, "Other", "Unknown"),
]


@pytest.mark.parametrize(("code", "family", "bucket"), CODES)
def test_codes(code: str | None, family: str, bucket: str) -> None:
    assert products.family(code) == family
    assert products.term_bucket(code) == bucket


def test_constants() -> None:
    assert products.FAMILIES == (
        "Buy Now Pay Later",
        "Interest Free",
        "Interest Bearing",
        "Hire Purchase",
        "Other",
    )
    assert products.TERM_BUCKETS == ("≤12", "13–36", "37+", "Unknown")


def test_term_months_and_clean_code() -> None:
    assert products.clean_code(" ibc_0-60 ") == "IBC060"
    assert products.term_months("ibc_060") == 60
    assert products.term_months("HP") is None
    assert products.term_months(float("nan")) is None  # type: ignore[arg-type]


def test_series_keep_index_and_name_and_map_nulls() -> None:
    codes = [c for c, _, _ in CODES]
    s = pd.Series(codes, index=range(100, 100 + len(codes)), name="Product_Code__c")
    fam = products.family_series(s)
    term = products.term_bucket_series(s)
    assert list(fam) == [f for _, f, _ in CODES]
    assert list(term) == [b for _, _, b in CODES]
    assert fam.index.equals(s.index) and fam.name == "Product_Code__c"
    assert fam.dtype == "str" and term.dtype == "str"


@given(st.lists(st.one_of(st.none(), st.text(alphabet="bnplifchp -_0123456789XYZ", max_size=8))))
def test_series_match_scalars_and_stay_in_their_vocabularies(codes: list[str | None]) -> None:
    s = pd.Series(codes, dtype=object)
    fam = products.family_series(s)
    term = products.term_bucket_series(s)
    assert list(fam) == [products.family(c) for c in codes]
    assert list(term) == [products.term_bucket(c) for c in codes]
    assert set(fam) <= set(products.FAMILIES)
    assert set(term) <= set(products.TERM_BUCKETS)
