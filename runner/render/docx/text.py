"""Text as Word's XML allows it: the boundary where a notebook's strings enter the pack.

XML 1.0 forbids most control characters (a retailer named with a stray BEL, a lender
pasted with a form feed) and python-docx refuses them outright, which would cost the board
its pack. They carry nothing a reader could see, so they are removed here, once, before
any string reaches python-docx; tabs, newlines and everything printable pass.
"""

from __future__ import annotations

import re
from typing import Any

_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(text: str) -> str:
    """``text`` without the characters XML 1.0 forbids."""
    return _FORBIDDEN.sub("", text)


def xml_values(value: Any) -> Any:
    """``value`` (JSON: dicts, lists, strings, numbers) with every string made XML-safe."""
    if isinstance(value, str):
        return xml_text(value)
    if isinstance(value, dict):
        return {k: xml_values(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [xml_values(v) for v in value]
    return value
