"""Text as the charts draw it: one line, nothing invisible, cut when it cannot fit.

Names arrive as typed into Salesforce: control characters, newlines, bidirectional
overrides. Drawn, they are boxes (matplotlib) or reorder the text around them (a browser),
so both drawings show :func:`plain` text. The data keep every character: alt text, hover
and tables show names in full.
"""

from __future__ import annotations

ELLIPSIS = "…"

# C0 and C1 controls, and the bidirectional embeddings, overrides and isolates, which would
# reverse the text that follows them on screen. Whitespace controls become spaces first.
_INVISIBLE = dict.fromkeys(
    [*range(0x00, 0x20), *range(0x7F, 0xA0), *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
)


def plain(text: str) -> str:
    """``text`` as one line to draw: whitespace runs (newlines too) as one space, control
    characters and bidirectional overrides dropped."""
    return " ".join(text.split()).translate(_INVISIBLE).strip()


def shorten(text: str, chars: int) -> str:
    """``text`` cut to at most ``chars`` characters, ending in an ellipsis when cut."""
    if len(text) <= chars:
        return text
    return text[: max(chars - 1, 0)].rstrip() + ELLIPSIS
