"""The admin dashboard: ``create_app`` builds the FastAPI app; ``serve`` runs it.

One app serves the JSON API (``/api/``, described at ``/openapi.json``), the one page
(``/``, with ``/static/``) and the outputs (``/outputs/``, read-only). One exception
handler answers every error: JSON for the API and for clients that do not ask for HTML,
a page for the browser.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from starlette.exceptions import HTTPException
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from admin import api, limits, page
from admin.auth import Auth, Throttle
from admin.problems import status_of
from admin.store import Store
from admin.testsend import Launcher, SubprocessLauncher
from admin.worker import WarmLauncher, WarmWorker
from lib.errors import BroadsheetError
from runner.state.database import engine_for, upgrade

log = logging.getLogger(__name__)


def create_app(
    settings: Any,
    admin_key: str | None,
    engine: Engine | None = None,
    *,
    source: str = "demo",
    launcher: Launcher | None = None,
    throttle: Throttle | None = None,
) -> FastAPI:
    """The admin app.

    Args:
        settings: ``lib.settings.Settings`` (outputs, parameters, state database).
        admin_key: ``BROADSHEET_ADMIN_KEY``; without one the app refuses to exist.
        engine: the state database; default ``settings.state_url()``. Migrated on start.
        source: where test sends and discovery read data: ``demo``, ``salesforce`` or a
            snapshot directory (the CLI decides, so the admin never reads credentials).
        launcher: runs test-send jobs; default the warm worker for one target, a worker
            process per job for every target.
        throttle: the failed-login throttle (tests pass one with a fake clock).

    Raises:
        ConfigError: no admin key.
    """
    auth = Auth(admin_key or "", throttle=throttle)  # first: no key, no app
    engine = upgrade(engine or engine_for(settings.state_url()))
    # Previews and one-target test sends share one warm worker, stopped with the app.
    worker = WarmWorker(settings, engine)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        worker.close()

    app = FastAPI(
        lifespan=lifespan,
        title="Broadsheet admin",
        version="1",
        description="Report toggles, recipients, test sends, discovery and run history.",
        # Served by our own route, behind the key; no docs pages (they load from a CDN).
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.admin = api.AdminContext(
        settings=settings,
        store=Store(engine),
        auth=auth,
        source=source,
        launcher=launcher or WarmLauncher(worker, SubprocessLauncher(settings, engine)),
        worker=worker,
    )
    app.include_router(api.public)
    app.include_router(api.router)
    app.include_router(page.router)
    app.mount("/static", StaticFiles(directory=page.STATIC), name="static")
    app.add_middleware(limits.BodyLimit)
    trusted = list(settings.admin.trusted_proxies)
    if trusted:
        # The client's address and scheme come from X-Forwarded-For/-Proto only when the
        # peer is a proxy we were told to believe; in the app rather than in uvicorn's
        # options, so it holds under any server and uvicorn's default (trust 127.0.0.1)
        # never applies.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=trusted)
    # One handler for everything; Starlette dispatches by class, and answers Exception
    # (the unexpected) in its outermost middleware, so each family is named.
    for family in (HTTPException, RequestValidationError, BroadsheetError, Exception):
        app.add_exception_handler(family, handle_error)
    return app


def wants_json(request: Request) -> bool:
    """JSON for the API and for clients that do not ask for HTML; a page otherwise."""
    path = request.url.path
    if path.startswith("/api/") or path == "/openapi.json":
        return True
    return "text/html" not in request.headers.get("accept", "")


async def handle_error(request: Request, err: Exception) -> Response:
    """The one exception handler: JSON for the API, a page for the browser."""
    status, message, items, headers = status_of(err)
    if status >= 500:
        log.error("%s %s: %s", request.method, request.url.path, message, exc_info=err)
    if wants_json(request):
        body = {"status": status, "message": message, "errors": items}
        return JSONResponse(body, status_code=status, headers=headers or None)
    response = page.error_page(status, message, items)
    response.headers.update(headers)
    return response


def serve(
    settings: Any,
    admin_key: str | None,
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    source: str = "demo",
) -> None:
    """Run the admin with uvicorn until interrupted.

    Raises:
        ConfigError: no admin key (before anything listens).
    """
    import uvicorn

    app = create_app(settings, admin_key, source=source)
    log.info("admin on http://%s:%d/ (source %s)", host, port, source)
    # Proxy headers are the app's business (``create_app``), for the trusted proxies only.
    uvicorn.run(app, host=host, port=port, log_level="info", proxy_headers=False)
