"""Errors quote what they were given, briefly."""

from __future__ import annotations

from lib.errors import UnknownNameError, excerpt


def test_excerpt_quotes_a_short_prefix():
    assert excerpt("board") == "'board'"
    assert excerpt("x" * 41) == "'" + "x" * 40 + "'…"
    assert excerpt("x" * 5, limit=3) == "'xxx'…"


def test_an_unknown_name_is_quoted_briefly_and_the_known_ones_listed():
    err = UnknownNameError("report", "../" * 1000, ["tiny", "board_pack"])
    assert len(str(err)) < 120
    assert str(err).endswith("did you mean one of: board_pack, tiny")
