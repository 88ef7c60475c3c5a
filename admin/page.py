"""The browser side: the one page, error pages, and the read-only outputs route.

The page (``/``) is a shell with no data in it: its script logs in through the API and
draws everything from the API, so it needs no key to be served. Error pages are rendered
here for the central exception handler in ``admin/app.py``.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from admin import history
from admin.api import Admin, Ctx
from lib.errors import excerpt

HERE = Path(__file__).parent
STATIC = HERE / "static"
_templates = Environment(
    loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"])
)

# The page runs only our own script and style: no inline code, nothing from elsewhere.
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
# Outputs are reports with their own scripts (plotly): a sandbox gives them an opaque
# origin, so nothing in a report can call the API with the admin's cookie.
OUTPUT_CSP = "sandbox allow-scripts allow-popups allow-downloads"
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}

router = APIRouter(include_in_schema=False)


def error_page(status: int, message: str, errors: list[dict] | None = None) -> HTMLResponse:
    """An error as a page, for a browser that asked for one."""
    html = _templates.get_template("error.html").render(
        status=status, message=message, errors=errors or []
    )
    return HTMLResponse(
        html, status_code=status, headers={**SECURITY_HEADERS, "Content-Security-Policy": PAGE_CSP}
    )


@router.get("/", response_class=HTMLResponse)
def page() -> HTMLResponse:
    """The dashboard (it shows the login form until the API says who you are)."""
    html = _templates.get_template("index.html").render()
    return HTMLResponse(
        html,
        headers={
            **SECURITY_HEADERS,
            "Content-Security-Policy": PAGE_CSP,
            "Cache-Control": "no-store",
        },
    )


@router.get("/outputs/{path:path}")
def output_file(path: str, _: Admin, ctx: Ctx) -> FileResponse:
    """A file under outputs/, read-only; anything else is 404, whatever the path says."""
    found = history.resolve_output(ctx.outputs, path)
    if found is None:
        raise HTTPException(404, f"no output {excerpt(path)}")
    media = history.MEDIA_TYPES.get(found.suffix.lower())
    if found.suffix.lower() == ".html":
        media = "text/html; charset=utf-8"
    return FileResponse(
        found,
        media_type=media,
        headers={
            **SECURITY_HEADERS,
            "Content-Security-Policy": OUTPUT_CSP,
            "Cache-Control": "private, no-cache",
        },
        content_disposition_type="inline",
    )


@router.get("/openapi.json")
def openapi(_: Admin, request: Request) -> dict:
    """The API's OpenAPI description (behind the key, like everything but logging in)."""
    return request.app.openapi()
