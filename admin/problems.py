"""How an exception answers over HTTP: status, message, itemised errors and headers.

Its own module because the app's one exception handler and the preview worker's replies
both speak it (the worker must not import the app that starts it).
"""

from __future__ import annotations

from typing import Any

from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from admin import limits
from admin.store import AddressError
from lib.errors import (
    BroadsheetError,
    ConfigError,
    InputError,
    SnapshotError,
    SourceError,
    UnknownNameError,
)


def status_of(err: Exception) -> tuple[int, str, list[dict[str, Any]], dict[str, str]]:
    """Status, message, itemised errors and headers for any exception."""
    if isinstance(err, HTTPException):
        if err.status_code == 413:
            return 413, limits.TOO_LARGE, [], {}
        return err.status_code, clip(str(err.detail)), [], dict(err.headers or {})
    if isinstance(err, RequestValidationError):
        items = [validation_item(e) for e in err.errors()]
        first = items[0] if items else {"field": None, "reason": "invalid request"}
        where = f"{first['field']}: " if first["field"] else ""
        return 422, f"{where}{first['reason']}", items, {}
    if isinstance(err, AddressError):
        items = [
            {"field": p["field"], "value": short(p["address"]), "reason": clip(p["reason"])}
            for p in err.problems
        ]
        return 422, clip(str(err)), items, {}
    if isinstance(err, UnknownNameError):
        return 404, clip(str(err)), [], {}
    if isinstance(err, (InputError, SnapshotError)):
        return 422, clip(str(err)), [], {}
    if isinstance(err, SourceError):
        return 502, clip(str(err)), [], {}
    if isinstance(err, (ConfigError, BroadsheetError)):
        return 500, clip(str(err)), [], {}
    return 500, "internal error; the admin's log has the details", [], {}


def validation_item(e: dict[str, Any]) -> dict[str, Any]:
    if e.get("type") == "json_invalid":
        reason = f"invalid JSON: {(e.get('ctx') or {}).get('error', e.get('msg'))}"
        return {"field": None, "value": None, "reason": clip(reason)}
    return {
        "field": ".".join(str(p) for p in e.get("loc", ()) if p != "body") or None,
        "value": short(e.get("input")),
        "reason": clip(str(e.get("msg"))),
    }


# How much of a value an error may quote, and how long a message may grow: a request can
# carry a megabyte, and an error must not echo it (messages quote with lib.errors.excerpt;
# these bound what they quote from elsewhere, such as a validator's reason).
SHORT, LONG = 60, 500


def short(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value)
    return text if len(text) <= SHORT else text[:SHORT] + "…"


def clip(message: str) -> str:
    return message if len(message) <= LONG else message[:LONG] + "…"
