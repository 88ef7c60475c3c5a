"""Text as the charts draw it: one line, nothing invisible, cut when it cannot fit.

Names arrive as typed into Salesforce: control characters, newlines, bidirectional
overrides. Drawn, they are boxes (matplotlib) or reorder the text around them (a browser),
so both drawings show :func:`plain` text. The data keep every character: alt text, hover
and tables show names in full.
"""

from __future__ import annotations

import unicodedata

ELLIPSIS = "…"

# C0 and C1 controls, and the bidirectional embeddings, overrides and isolates, which would
# reverse the text that follows them on screen; the whitespace ones among them are spaces.
_INVISIBLE = {
    c: " " if chr(c).isspace() else None
    for c in (
        *range(0x00, 0x20),
        *range(0x7F, 0xA0),
        *range(0x202A, 0x202F),
        *range(0x2066, 0x206A),
    )
}


_MARKS = 2  # combining marks kept on one letter; "Zalgo" text stacks dozens off the picture


def plain(text: str) -> str:
    """``text`` as one line to draw: composed (NFC), whitespace runs (newlines too) as one
    space, control characters and bidirectional overrides dropped, and no more than two
    combining marks on a letter."""
    text = unicodedata.normalize("NFC", " ".join(text.translate(_INVISIBLE).split()))
    out, marks = [], 0
    for ch in text:
        marks = marks + 1 if unicodedata.combining(ch) else 0
        if marks <= _MARKS:
            out.append(ch)
    return "".join(out).strip()


def shorten(text: str, chars: int) -> str:
    """``text`` cut to at most ``chars`` characters, ending in an ellipsis when cut."""
    if len(text) <= chars:
        return text
    return text[: max(chars - 1, 0)].rstrip() + ELLIPSIS
