"""The Office files (the Word pack, the pipeline spreadsheet): text their XML allows, and
the same document as the same bytes.

XML 1.0 forbids most control characters (a retailer named with a stray BEL, a lender
pasted with a form feed), and python-docx and openpyxl refuse them outright, which would
cost the board its pack or a BDM their list. They carry nothing a reader could see, so they
are removed where strings enter those files; tabs, newlines and everything printable pass.
Both libraries stamp the zip (and openpyxl the document properties) with the time of
saving: :func:`stable_zip` writes the parts again with one fixed time.
"""

from __future__ import annotations

import io
import re
import zipfile
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


def stable_zip(data: bytes) -> bytes:
    """``data`` (a zip: ``.docx``, ``.xlsx``) with every part stamped 1 January 1980."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = info.external_attr
            dst.writestr(fixed, src.read(info.filename))
    return out.getvalue()
