"""What the admin accepts from a request, before any handler sees it.

- Bodies: at most :data:`MAX_BODY` bytes (:class:`BodyLimit`): 413 beyond, the rest never
  read, so a client cannot make the admin buffer or echo megabytes.
- JSON bodies must be Unicode text (:class:`StrictJSONRoute`). JSON can spell a lone
  surrogate (``"\\ud800"``), which is no character at all: it breaks every later encode
  (the key comparison, the database, the JSON response), so it is a 422 at the door, as
  are bodies that are not UTF-8.
- Integer path parameters lie between 1 and :data:`MAX_ID`, the largest id the state
  database holds (PostgreSQL's ``integer``), so a huge number is a 422, never an overflow.

Error messages quote at most a short prefix of a value (``lib.errors.excerpt``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY = 1024 * 1024
TOO_LARGE = f"request body over 1 MB ({MAX_BODY} bytes)"
MAX_ID = 2**31 - 1


def lone_surrogate(value: Any) -> str | None:
    """The first lone surrogate in any string (key or value) of parsed JSON, or None."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError as err:
                return item[err.start]
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


class StrictJSONRequest(Request):
    """A request whose JSON body must be UTF-8 and hold only Unicode text."""

    async def json(self) -> Any:
        """The parsed body.

        Raises:
            json.JSONDecodeError: not UTF-8, not JSON, or a lone surrogate in a string
                (FastAPI answers each with a 422 naming the reason).
        """
        if not hasattr(self, "_json"):
            body = await self.body()
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError as err:
                raise json.JSONDecodeError(
                    "the body is not UTF-8 text", body.decode("latin-1"), err.start
                ) from None
            data = json.loads(text)
            bad = lone_surrogate(data)
            if bad is not None:
                raise json.JSONDecodeError(
                    f"a string holds a lone surrogate ({bad!a}), which is not Unicode text",
                    text,
                    0,
                )
            self._json = data
        return self._json


class StrictJSONRoute(APIRoute):
    """An API route that parses its body with :class:`StrictJSONRequest`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(StrictJSONRequest(request.scope, request.receive))

        return strict


class BodyLimit:
    """ASGI middleware: refuse a request body over ``max_body`` bytes with a 413.

    A declared ``Content-Length`` over the limit is answered at once, unread; a body sent
    without one is counted as it arrives, and the handler reading it gets the 413 (which
    the app's one exception handler renders) as soon as it goes over.
    """

    def __init__(self, app: ASGIApp, max_body: int = MAX_BODY) -> None:
        self.app, self.max_body = app, max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body:
            body = {"status": 413, "message": TOO_LARGE, "errors": []}
            await JSONResponse(body, status_code=413)(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise HTTPException(413, TOO_LARGE)
            return message

        await self.app(scope, counted, send)
