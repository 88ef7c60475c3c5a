"""How numbers, changes and traffic lights read."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lib import formatting as fmt
from lib.errors import ConfigError, UnknownNameError
from lib.formatting import Light, Thresholds

NULLS = [None, float("nan"), np.nan, pd.NA, pd.NaT, math.inf]


@pytest.mark.parametrize(
    ("v", "compact", "expected"),
    [
        (1234, False, "£1,234"),
        (1234.4, False, "£1,234"),
        (1234567.89, False, "£1,234,568"),
        (0, False, "£0"),
        (-1234, False, "-£1,234"),
        (-0.4, False, "£0"),
        (np.int64(950), False, "£950"),
        (950, True, "£950"),
        (999.4, True, "£999"),
        (999.6, True, "£1.0k"),
        (12_345, True, "£12.3k"),
        (-12_345, True, "-£12.3k"),
        (999_940, True, "£999.9k"),
        (999_960, True, "£1.0m"),
        (1_234_567, True, "£1.2m"),
        (3_400_000_000, True, "£3.4bn"),
    ],
)
def test_money(v: float, compact: bool, expected: str) -> None:
    assert fmt.money(v, compact=compact) == expected


@pytest.mark.parametrize(
    ("func", "v", "expected"),
    [
        (fmt.count, 1234, "1,234"),
        (fmt.count, 1234567, "1,234,567"),
        (fmt.count, 0, "0"),
        (fmt.count, -45, "-45"),
        (fmt.percent, 0.4134, "41.3%"),
        (fmt.percent, 1.25, "125.0%"),
        (fmt.percent, 0, "0.0%"),
        (fmt.percent, -0.032, "-3.2%"),
        (fmt.percent, -0.00001, "0.0%"),
        (fmt.pp, 0.032, "+3.2 pp"),
        (fmt.pp, -0.032, "-3.2 pp"),
        (fmt.pp, 0, "0.0 pp"),
        (fmt.pp, 0.0001, "0.0 pp"),
        (fmt.hours, 5.24, "5.2 h"),
        (fmt.hours, 1234.5, "1,234.5 h"),
        (fmt.days, 3, "3.0 d"),
        (fmt.days, 0.26, "0.3 d"),
    ],
)
def test_helpers(func: Callable[[Any], str], v: float, expected: str) -> None:
    assert func(v) == expected


def test_decimals() -> None:
    assert fmt.percent(0.41337, decimals=2) == "41.34%"
    assert fmt.percent(0.4134, decimals=0) == "41%"
    assert fmt.pp(0.03215, decimals=2) == "+3.21 pp"


@pytest.mark.parametrize("null", NULLS)
@pytest.mark.parametrize("func", [fmt.money, fmt.count, fmt.percent, fmt.pp, fmt.hours, fmt.days])
def test_null_is_a_dash(func: Callable[[Any], str], null: object) -> None:
    assert func(null) == "–"


def test_text_is_not_a_number() -> None:
    with pytest.raises(TypeError, match="1234"):
        fmt.money("1234")


@pytest.mark.parametrize(
    ("v", "unit", "expected"),
    [
        (1234, "count", "1,234"),
        (12_345, "money", "£12,345"),
        (0.413, "rate", "41.3%"),
        (0.5, "share", "50.0%"),
        (5.24, "hours", "5.2 h"),
        (3, "days", "3.0 d"),
        (None, "rate", "–"),
        ({"Oakfield Bank": 0.2, "Northwind Bank": 0.5, "Kestrel Money": None}, "map",
         "Northwind Bank 50.0%, Oakfield Bank 20.0%, Kestrel Money –"),
        ({}, "map", "–"),
        (None, "map", "–"),
    ],
)  # fmt: skip
def test_value_dispatches_on_unit(v: object, unit: str, expected: str) -> None:
    assert fmt.value(v, unit) == expected


def test_value_compact_money_only() -> None:
    assert fmt.value(12_345, "money", compact=True) == "£12.3k"
    assert fmt.value(12_345, "count", compact=True) == "12,345"


def test_unknown_unit_lists_the_known_ones() -> None:
    for call in (
        lambda: fmt.value(1, "pounds"),
        lambda: fmt.delta(1, 2, "pounds"),
        lambda: fmt.traffic_light(1, 2, "pounds"),
    ):
        with pytest.raises(UnknownNameError, match="did you mean one of: count, days"):
            call()


@pytest.mark.parametrize(
    ("current", "previous", "unit", "expected"),
    [
        (112, 100, "count", "▲ 12.0%"),
        (88, 100, "count", "▼ 12.0%"),
        (100, 100, "count", "▶ 0.0%"),
        (100.04, 100, "money", "▶ 0.0%"),
        (3_000, 1_000, "money", "▲ 200.0%"),
        (26_000, 100, "money", "▲ 25,900.0%"),
        (4.0, 5.0, "hours", "▼ 20.0%"),
        (0.45, 0.418, "rate", "▲ 3.2 pp"),
        (0.386, 0.418, "share", "▼ 3.2 pp"),
        (0.05, 0.0, "rate", "▲ 5.0 pp"),
        (5, 0, "count", "–"),
        (None, 100, "count", "–"),
        (100, None, "count", "–"),
        (float("nan"), 0.4, "rate", "–"),
        ({"a": 1.0}, {"a": 0.5}, "map", "–"),
    ],
)
def test_delta(current: object, previous: object, unit: str, expected: str) -> None:
    assert fmt.delta(current, previous, unit) == expected


def test_light_says_it_in_words_and_arrows_as_well_as_colour() -> None:
    assert [(light.word, light.arrow) for light in Light] == [
        ("Better", "●"),
        ("Steady", "●"),
        ("Worse", "●"),
        ("n/a", "–"),
    ]
    assert Light.GREEN.label == "● Better"
    colours = [light.colour for light in Light]
    assert len(set(colours)) == 4 and all(c.startswith("#") and len(c) == 7 for c in colours)
    assert Light("green") is Light.GREEN


@pytest.mark.parametrize(
    ("current", "previous", "unit", "expected"),
    [
        # Counts and values: +/-5 % of the previous value.
        (105, 100, "count", Light.GREEN),
        (104.99, 100, "count", Light.AMBER),
        (100, 100, "count", Light.AMBER),
        (95.01, 100, "money", Light.AMBER),
        (95, 100, "money", Light.RED),
        (0, 100, "money", Light.RED),
        (2.1, 2.0, "count", Light.GREEN),  # +5 % again, through float noise
        (1.9, 2.0, "count", Light.RED),
        # Rates and shares: +/-2 percentage points.
        (0.12, 0.10, "rate", Light.GREEN),  # 0.12 - 0.10 is 0.01999... in floats
        (0.10, 0.12, "rate", Light.RED),
        (0.1199, 0.10, "rate", Light.AMBER),
        (0.0801, 0.10, "share", Light.AMBER),
        (0.08, 0.10, "share", Light.RED),
        (0.02, 0.0, "rate", Light.GREEN),  # a previous rate of 0 still compares
        # No comparison.
        (5, 0, "count", Light.NONE),
        (None, 100, "count", Light.NONE),
        (100, None, "money", Light.NONE),
        (float("nan"), 0.1, "rate", Light.NONE),
        (0.1, pd.NA, "rate", Light.NONE),
        ({"a": 1.0}, {"a": 0.5}, "map", Light.NONE),
    ],
)
def test_traffic_light_at_and_around_the_thresholds(
    current: object, previous: object, unit: str, expected: Light
) -> None:
    assert fmt.traffic_light(current, previous, unit) == expected


@pytest.mark.parametrize(
    ("current", "previous", "expected"),
    [
        (4.75, 5.0, Light.GREEN),  # hours to decision fell 5 %: good news
        (5.25, 5.0, Light.RED),
        (5.1, 5.0, Light.AMBER),
        (None, 5.0, Light.NONE),
    ],
)
def test_lower_is_better_swaps_green_and_red(
    current: object, previous: float, expected: Light
) -> None:
    assert fmt.traffic_light(current, previous, "hours", higher_is_better=False) == expected


def test_thresholds_are_parameters() -> None:
    loose = Thresholds(pct=0.10, pp=0.05)
    assert fmt.traffic_light(108, 100, "count", loose) == Light.AMBER
    assert fmt.traffic_light(110, 100, "count", loose) == Light.GREEN
    assert fmt.traffic_light(0.44, 0.40, "rate", loose) == Light.AMBER
    assert fmt.traffic_light(0.35, 0.40, "rate", loose) == Light.RED
    assert Thresholds() == Thresholds(pct=0.05, pp=0.02)


@pytest.mark.parametrize(("field", "bad"), [("pct", -0.01), ("pp", float("nan")), ("pct", True)])
def test_bad_thresholds_are_config_errors(field: str, bad: object) -> None:
    with pytest.raises(ConfigError) as info:
        Thresholds(**{field: bad})  # type: ignore[arg-type]
    assert info.value.field == f"thresholds.{field}"


finite = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False)


@given(current=finite, previous=finite, unit=st.sampled_from(["count", "money", "rate", "hours"]))
def test_light_agrees_with_delta_and_inverts_exactly(
    current: float, previous: float, unit: str
) -> None:
    up = fmt.traffic_light(current, previous, unit)
    down = fmt.traffic_light(current, previous, unit, higher_is_better=False)
    swap = {Light.GREEN: Light.RED, Light.RED: Light.GREEN}
    assert down == swap.get(up, up)
    text = fmt.delta(current, previous, unit)
    assert (up == Light.NONE) == (text == "–")
    if up == Light.GREEN:
        assert text.startswith("▲")
    if up == Light.RED:
        assert text.startswith("▼")


@given(v=finite)
def test_money_round_trips_to_the_pound(v: float) -> None:
    text = fmt.money(v)
    number = float(text.replace("£", "").replace(",", ""))
    assert abs(number - v) <= 0.5
    assert text.startswith("-£") == (number < 0)


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (0, "0 applications"),
        (1, "1 application"),
        (2, "2 applications"),
        (1234, "1,234 applications"),
    ],
)
def test_a_count_takes_the_singular_for_one(n, expected):
    assert fmt.counted(n, "application") == expected


def test_an_irregular_plural_is_given():
    assert fmt.counted(3, "BDM", "BDMs") == "3 BDMs"
    assert fmt.counted(2, "company", "companies") == "2 companies"
