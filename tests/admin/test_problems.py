"""How each family of exception answers over HTTP (``admin/problems.py``)."""

from __future__ import annotations

import pytest
from starlette.exceptions import HTTPException

from admin.problems import status_of
from admin.store import AddressError
from lib.errors import ConfigError, InputError, SourceError, UnknownNameError


@pytest.mark.parametrize(
    ("err", "status", "message"),
    [
        (HTTPException(404, "no such run"), 404, "no such run"),
        (UnknownNameError("report", "nosuch", ["board_pack"]), 404, "nosuch"),
        (InputError("as_of 2026-13-01 is not a date"), 422, "2026-13-01"),
        (SourceError("Salesforce refused the token request"), 502, "refused"),
        (ConfigError("BROADSHEET_ADMIN_KEY is not set"), 500, "BROADSHEET_ADMIN_KEY"),
        (RuntimeError("secret detail"), 500, "internal error"),
    ],
)
def test_each_family_has_its_status_and_message(err, status, message):
    got, text, items, _ = status_of(err)
    assert got == status and message in text and items == []


def test_the_unexpected_never_shows_its_own_message():
    assert "secret detail" not in status_of(RuntimeError("secret detail"))[1]


def test_bad_addresses_are_itemised_and_long_ones_shortened():
    long = "x" * 300 + "@example.com"
    err = AddressError(
        [
            {"field": "to", "address": "not-an-address", "reason": "no @"},
            {"field": "cc", "address": long, "reason": "too long"},
        ]
    )
    status, _, items, _ = status_of(err)
    assert status == 422
    assert items[0] == {"field": "to", "value": "not-an-address", "reason": "no @"}
    assert items[1]["value"].endswith("…") and len(items[1]["value"]) == 61
