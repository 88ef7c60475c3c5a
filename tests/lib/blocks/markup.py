"""Read block HTML back as a browser would: the text of every table cell, entities
decoded, so tests assert on what a reader sees rather than on markup."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class Page:
    """What :func:`parse` found: start tags with their attributes, tables and all text."""

    tags: list[tuple[str, dict[str, str | None]]] = field(default_factory=list)
    tables: list[list[list[str]]] = field(default_factory=list)
    text: str = ""

    def elements(self, tag: str) -> list[dict[str, str | None]]:
        """The attributes of every ``tag`` element, in document order."""
        return [attrs for name, attrs in self.tags if name == tag]


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self._open: list[list[list[str]]] = []  # tables being read (email KPI cards nest)
        self._cell: list[str] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.page.tags.append((tag, dict(attrs)))
        if self._cell is not None and tag in ("br", "div", "p"):
            self._cell.append(" ")  # a line break on screen
        if tag == "table":
            self._open.append([])
        elif tag == "tr" and self._open:
            self._open[-1].append([])
        elif tag in ("td", "th") and self._open:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self._open[-1][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "table" and self._open:
            self.page.tables.append(self._open.pop())

    def handle_data(self, data: str) -> None:
        self._text.append(data)
        if self._cell is not None:
            self._cell.append(data)

    def close(self) -> None:
        super().close()
        self.page.text = " ".join(" ".join(self._text).split())


def parse(html: str) -> Page:
    """Tags, tables (rows of cell texts, header row included) and text of ``html``."""
    parser = _Parser()
    parser.feed(str(html))
    parser.close()
    return parser.page
