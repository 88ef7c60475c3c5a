"""Every display block renders whatever the figures hold: hostile names, degenerate values,
no rows or hundreds of them, through each of its forms (interactive HTML, email HTML, the
table payload the Word pack reads).

Invariants: nothing raises; the same figures give the same bytes; no text of the data
reaches the HTML unescaped (only the blocks' own tags and attributes appear); every table
payload holds the cells shown; the email form keeps to a few rows and kilobytes whatever
the number of retailers, lenders or applications.
"""

from __future__ import annotations

import html
from html.parser import HTMLParser
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lib import blocks
from lib import formatting as fmt
from lib.report import pipeline_ageing
from tests.fixtures.hostile import (
    AS_AT,
    SCALAR,
    WEEKLY,
    figure_metrics,
    names_of,
    pipeline_items,
    texts,
)

PROPERTY = settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
EMAIL_ROWS = 10  # the most rows a list in an email form shows
EMAIL_BLOCK_BYTES = 40_000  # one block's email form, before CSS is inlined (budget 102 KB)

TAGS = {
    "div", "span", "table", "thead", "tbody", "tr", "th", "td", "h3", "caption", "p",
    "strong", "br", "label", "select", "option", "section", "button",
}  # fmt: skip
ATTRIBUTES = {
    "class", "role", "title", "width", "cellpadding", "cellspacing", "scope", "colspan",
    "data-sortable", "data-sort-value", "data-switch", "data-switch-group", "data-switch-value",
    "data-tabgroup", "data-tabs", "data-tab", "data-tab-panel", "aria-selected", "type", "id",
    "for", "value", "selected", "hidden",
}  # fmt: skip


class _Page(HTMLParser):
    """Tags, attribute names and text of an HTML fragment."""

    def __init__(self, fragment: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.attributes: set[str] = set()
        self.text: list[str] = []
        self.feed(fragment)
        self.close()

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.add(tag)
        self.attributes.update(name for name, _ in attrs)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def check_html(fragment: str, shown: list[str] = ()) -> _Page:
    """Only the blocks' own tags and attributes, and ``shown`` texts among the page's text."""
    page = _Page(fragment)
    assert page.tags <= TAGS, page.tags - TAGS
    assert page.attributes <= ATTRIBUTES, page.attributes - ATTRIBUTES
    text = "".join(page.text)
    for s in shown:
        assert s in text, s
    return page


def check_block(make: Any, *, shown: list[str] = (), rows: bool = False) -> blocks.Block:
    """Build a block twice: same bytes; its forms escape the data; its email stays small."""
    block, again = make(), make()
    assert (block.html, block.email, block.text) == (again.html, again.email, again.text)
    check_html(block.html, shown)
    if block.email is not None:
        check_html(block.email)
        assert len(block.email.encode()) <= EMAIL_BLOCK_BYTES
        if rows:
            assert block.email.count("<tr>") <= 2 * (EMAIL_ROWS + 1) + 1
    if block.table is not None:
        payload = block.table.to_json()
        assert payload == again.table.to_json()
        assert all(len(r) == len(payload["columns"]) for r in payload["rows"])
    return block


@given(data=st.data())
@PROPERTY
def test_tables_of_figures(data: st.DataObject) -> None:
    names = data.draw(names_of())
    m = data.draw(figure_metrics(names))
    ids = data.draw(st.lists(st.sampled_from(SCALAR), unique=True))
    title = data.draw(texts())
    check_block(lambda: blocks.period_table(m, ids, WEEKLY, title=title), shown=[title.strip()])
    check_block(lambda: blocks.comparison_table(m, ids, title=title))
    check_block(lambda: blocks.as_at_table(m, AS_AT, title=title, as_of="2026-11-22"))
    for window in ("LW", "M"):
        for dimension in ("lender", "product"):
            split = check_block(
                lambda d=dimension, w=window: blocks.split_table(m, d, w), rows=True
            )
            assert {r[0].text for r in split.table.rows} == set(names)
    kpis = data.draw(
        st.lists(
            st.sampled_from([*[(i, "LW") for i in SCALAR], *[(i, "as_at") for i in AS_AT]]),
            max_size=6,
        )
    )
    check_block(lambda: blocks.kpi_bar(m, kpis, as_of="2026-11-22"))


@given(data=st.data())
@PROPERTY
def test_pipeline_view_and_ageing(data: st.DataObject) -> None:
    names = data.draw(names_of())
    ids = [f"001{i:015d}" for i in range(len(names))]
    items = data.draw(pipeline_items(ids))
    show = dict(zip(ids, names, strict=True)) if data.draw(st.booleans()) else None
    view = check_block(lambda: blocks.pipeline_view(items, show_retailer=show), rows=True)
    check_html(view.html, [r["ref"].strip() for r in items["ans"][:3] if r["ref"].strip()])
    m = data.draw(figure_metrics([]))
    ageing = pipeline_ageing(items)
    table = check_block(lambda: blocks.ageing_table(ageing, m)).table
    total = table.rows[-1]
    assert total[0].text == "Total"
    assert total[2].text == fmt.money(m["pipeline_ans_value"]["as_at"])
    assert total[4].text == fmt.money(m["pipeline_snp_value"]["as_at"])


@given(data=st.data())
@PROPERTY
def test_league_table(data: st.DataObject) -> None:
    names = data.draw(names_of(most=300))
    ids = [f"001{i:015d}" for i in range(len(names))]
    retailers = {
        rid: {"name": name, "metrics": data.draw(figure_metrics([]))}
        for rid, name in zip(ids, names, strict=True)
    }
    bdms = {rid: data.draw(texts()) for rid in ids}
    status = {rid: "Live" for rid in ids}
    league = check_block(
        lambda: blocks.league_table(
            retailers,
            ["submissions", "paid_value", "approval_rate"],
            WEEKLY,
            extra_columns={"BDM": bdms, "Status": status},
        ),
        rows=True,
    )
    assert [r[0].text for r in league.table.rows] == sorted(names)


@given(data=st.data())
@PROPERTY
def test_text_blocks(data: st.DataObject) -> None:
    title, text, label = data.draw(texts()), data.draw(texts()), data.draw(texts())
    sections = {
        "sections": {"summary": text},
        "source": data.draw(st.sampled_from(["fallback", "anthropic", None])),
    }
    shown = [p.strip() for p in text.split("\n\n") if p.strip()][:1]
    note = check_block(lambda: blocks.commentary(sections, "summary", title=title), shown=shown)
    assert note.text == text
    check_block(lambda: blocks.note(text), shown=[text.strip()] if text.strip() else [])
    options = [(f"o{i}", data.draw(texts())) for i in range(data.draw(st.integers(0, 4)))]
    switch = check_block(lambda: blocks.switch("group", label, options))
    check_html(switch.html, [o for _, o in options if o.strip()])
    rows = data.draw(st.lists(st.tuples(texts(), texts(), texts(), texts()), max_size=5))
    check_block(lambda: blocks.methodology(rows, title=title))
    panel = blocks.note(text)
    check_block(lambda: blocks.panels("group", {"a": [panel], "b": []}, selected="a"))
    check_block(lambda: blocks.tabs("tabs", [("a", title, [panel]), ("b", label, [])]))


def test_escaping_is_not_doubled() -> None:
    """An ampersand shows as one: escaped once, in every form."""
    block = blocks.note("Harbour & Sons <Dent>")
    assert html.unescape(block.html).count("Harbour & Sons <Dent>") == 1
    assert "&amp;amp;" not in block.html
