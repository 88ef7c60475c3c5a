"""Plain text from an email's HTML: the ``text/plain`` alternative of every message."""

from __future__ import annotations

import re
from html.parser import HTMLParser


class _TextParser(HTMLParser):
    _BLOCK = {"p", "div", "tr", "h1", "h2", "h3", "h4", "li", "br", "table", "section"}

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in ("style", "script", "head"):
            self._skip += 1
        elif tag in self._BLOCK:
            self.parts.append("\n")
        elif tag in ("td", "th"):
            self.parts.append("  ")
        elif tag == "img":
            alt = dict(attrs).get("alt")
            if alt:
                self.parts.append(f"[{alt}]")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script", "head"):
            self._skip = max(0, self._skip - 1)
        elif tag in self._BLOCK:
            # A closed block ends its line; blank lines between blocks are collapsed to one.
            self.parts.append("\n\n" if tag in ("p", "h1", "h2", "h3", "h4", "table") else "\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


# Control characters have no place in a text/plain body (a terminal would act on an escape
# sequence); the whitespace ones, and the Unicode line separators, read as spaces, so a
# name keeps to its line.
_CONTROLS = {
    c: " " if chr(c).isspace() else None
    for c in (*range(0x00, 0x20), *range(0x7F, 0xA0), 0x2028, 0x2029)
    if chr(c) not in "\n\t"
}


def html_to_text(body: str) -> str:
    """A readable plain-text alternative of an email body: blocks on their own lines,
    table cells side by side, images by their alt text, scripts and styles dropped."""
    parser = _TextParser()  # unescapes text and attributes (convert_charrefs): exactly once
    parser.feed(body)
    parser.close()
    text = "".join(parser.parts).translate(_CONTROLS)
    lines = [re.sub(r"[ \t\u00a0]+", " ", line).strip() for line in text.split("\n")]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip() + "\n"
