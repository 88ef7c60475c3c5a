"""The JSON API under ``/api/``: sessions, reports, lists, retailers, discovery, test sends,
runs. Every route but logging in requires the admin key or a session (``admin/auth.py``).

Handlers are plain functions (FastAPI runs them in its thread pool), since most of them
read files or the database; errors are raised, and ``admin/app.py``'s one handler turns
them into responses.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi import Path as PathParam

from admin import history, retailers, testsend
from admin.auth import COOKIE, Auth, Principal, api_key_header
from admin.limits import MAX_ID, StrictJSONRoute
from admin.schemas import (
    DiscoveryIn,
    DiscoveryResultOut,
    DiscoveryStateOut,
    DoctorOut,
    ErrorOut,
    ListIn,
    ListOut,
    LoginIn,
    PreviewIn,
    PreviewOut,
    ReportOut,
    RetailerIn,
    RetailerOut,
    RetailersOut,
    RunDetailOut,
    RunOut,
    SessionOut,
    TestSendIn,
    TestSendOut,
    ToggleIn,
)
from admin.store import Store, clean_addresses, row_dict
from admin.worker import WarmWorker, WorkerError
from lib import periods
from lib.errors import excerpt
from runner.state.models import LIST_NAMES

ListName = Literal["board", "smt", "admin"]


@dataclass
class AdminContext:
    """What every handler needs, built once by ``create_app``."""

    settings: Any
    store: Store
    auth: Auth
    launcher: testsend.Launcher
    source: str
    worker: WarmWorker

    @property
    def outputs(self) -> Path:
        """The outputs directory (run history, outbox, logs)."""
        return Path(self.settings.outputs)


def context(request: Request) -> AdminContext:
    """The app's :class:`AdminContext` (a dependency)."""
    return request.app.state.admin


Ctx = Annotated[AdminContext, Depends(context)]


def require_admin(
    request: Request, ctx: Ctx, key: Annotated[str | None, Depends(api_key_header)]
) -> Principal:
    """The dependency of every protected route."""
    return ctx.auth.require(request, key)


Admin = Annotated[Principal, Depends(require_admin)]


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorOut} for code in codes}


# Every protected route may answer these; documenting them keeps the schema honest.
router = APIRouter(
    prefix="/api", route_class=StrictJSONRoute, responses=_errors(400, 401, 403, 413, 422, 429)
)
public = APIRouter(
    prefix="/api", route_class=StrictJSONRoute, responses=_errors(400, 401, 413, 422, 429)
)


# --- session -------------------------------------------------------------------------------


@public.post("/session", response_model=SessionOut, tags=["session"])
def login(body: LoginIn, request: Request, response: Response, ctx: Ctx) -> dict[str, Any]:
    """Log in with the admin key: sets the session cookie, returns the CSRF token."""
    cookie, csrf = ctx.auth.login(request, body.key)
    response.set_cookie(
        COOKIE,
        cookie,
        max_age=ctx.auth.max_age,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return {"via": "session", "csrf_token": csrf}


@router.get("/session", response_model=SessionOut, tags=["session"])
def whoami(principal: Admin) -> dict[str, Any]:
    """How this request is authenticated, with the session's CSRF token."""
    return {"via": principal.via, "csrf_token": principal.csrf_token}


@router.delete("/session", status_code=204, tags=["session"])
def logout(principal: Admin, response: Response, ctx: Ctx) -> Response:
    """Log out: the session ends on the server, and the cookie is cleared."""
    ctx.auth.logout(principal)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    response.status_code = 204
    return response


# --- reports -------------------------------------------------------------------------------


def _registry(ctx: AdminContext):
    from runner import declarations

    return declarations.discover(Path(ctx.settings.parameters_dir))


def _report_out(decl: Any, toggles: dict[str, bool], last: dict[str, dict]) -> dict[str, Any]:
    admin_enabled = toggles.get(decl.name, True)
    run = last.get(decl.name)
    return {
        "name": decl.name,
        "title": decl.title,
        "schedule": decl.schedule,
        "fan_out": decl.fan_out,
        "declared_enabled": decl.enabled,
        "admin_enabled": admin_enabled,
        "enabled": decl.enabled and admin_enabled,
        "last_run": run
        and {
            "as_of": run["as_of"],
            "started_at": run["started_at"],
            "status": run["status"],
            "exit_status": run["exit_status"],
            "test": run["test_to"] is not None,
            "ok": run["ok"],
            "failed": run["failed"],
            "targets": run["targets"],
        },
    }


@router.get("/reports", response_model=list[ReportOut], tags=["reports"])
def list_reports(_: Admin, ctx: Ctx) -> list[dict[str, Any]]:
    """Every declared report with its schedule, toggle and last run."""
    registry, toggles = _registry(ctx), ctx.store.toggles()
    last = history.last_runs(ctx.outputs, registry)
    return [_report_out(registry.get(name), toggles, last) for name in registry]


@router.put(
    "/reports/{name}/enabled",
    response_model=ReportOut,
    tags=["reports"],
    responses=_errors(404, 409),
)
def toggle_report(name: str, body: ToggleIn, _: Admin, ctx: Ctx) -> dict[str, Any]:
    """Switch a report on or off. Off: it leaves the crontab at the next sync-cron and
    scheduled runs skip it."""
    decl = _registry(ctx).get(name)  # UnknownNameError: 404 listing the known reports
    if body.enabled and not decl.enabled:
        raise HTTPException(
            409, f"{name} is disabled in parameters/{name}.yaml (enabled: false); enable it there"
        )
    ctx.store.set_toggle(name, body.enabled)
    return _report_out(decl, ctx.store.toggles(), history.last_runs(ctx.outputs, [name]))


# --- lists ---------------------------------------------------------------------------------


def _list_out(ctx: AdminContext, name: str, addresses: list[str]) -> dict[str, Any]:
    if name == "admin":
        fallback = list(ctx.settings.admin_emails)
    else:
        # The declarations say which admin list they follow (recipients.list).
        registry = _registry(ctx)
        fallback = [
            address
            for report in registry
            if registry.get(report).recipients.list == name
            for address in registry.get(report).recipients.addresses
        ]
    return {"name": name, "addresses": addresses, "fallback": fallback}


@router.get("/lists", response_model=list[ListOut], tags=["lists"])
def get_lists(_: Admin, ctx: Ctx) -> list[dict[str, Any]]:
    """The board, SMT and admin lists (empty: the declaration's addresses apply)."""
    stored = ctx.store.lists()
    return [_list_out(ctx, name, stored[name]) for name in LIST_NAMES]


@router.get("/lists/{name}", response_model=ListOut, tags=["lists"])
def get_list(name: ListName, _: Admin, ctx: Ctx) -> dict[str, Any]:
    """One list, with who receives while it is empty."""
    return _list_out(ctx, name, ctx.store.lists()[name])


@router.put("/lists/{name}", response_model=ListOut, tags=["lists"])
def put_list(name: ListName, body: ListIn, _: Admin, ctx: Ctx) -> dict[str, Any]:
    """Replace a list. Every address is checked; a bad one is named with the reason (422)."""
    return _list_out(ctx, name, ctx.store.set_list(name, body.addresses))


# --- retailers and discovery ---------------------------------------------------------------


def _snapshot(ctx: AdminContext) -> Path | None:
    return retailers.latest_snapshot(ctx.outputs, ctx.source)


@router.get("/retailers", response_model=RetailersOut, tags=["retailers"])
def list_retailers(_: Admin, ctx: Ctx) -> dict[str, Any]:
    """Retailers of the latest snapshot with the admin's extras, opt-out and enablement."""
    snap = _snapshot(ctx)
    return {
        "snapshot": retailers.snapshot_info(snap) if snap else None,
        "retailers": retailers.listing(ctx.store, snap),
    }


def _retailer(ctx: AdminContext, retailer_id: str) -> dict[str, Any]:
    found = retailers.find(ctx.store, _snapshot(ctx), retailer_id)
    if found is None:
        raise HTTPException(
            404, f"no retailer {excerpt(retailer_id)} in the latest snapshot or the admin"
        )
    return found


@router.get(
    "/retailers/{retailer_id}",
    response_model=RetailerOut,
    tags=["retailers"],
    responses=_errors(404),
)
def get_retailer(retailer_id: str, _: Admin, ctx: Ctx) -> dict[str, Any]:
    """One retailer: the snapshot's facts and the admin's settings."""
    return _retailer(ctx, retailer_id)


@router.patch(
    "/retailers/{retailer_id}",
    response_model=RetailerOut,
    tags=["retailers"],
    responses=_errors(404),
)
def update_retailer(retailer_id: str, body: RetailerIn, _: Admin, ctx: Ctx) -> dict[str, Any]:
    """Set a retailer's extra addresses, opt-out or enablement (only what is sent changes)."""
    current = _retailer(ctx, retailer_id)
    ctx.store.update_retailer(
        retailer_id,
        name=current["name"],
        extras=body.extras,
        opted_out=body.opted_out,
        enablement=body.enablement,
    )
    return _retailer(ctx, retailer_id)


@router.post(
    "/retailers/{retailer_id}/approve",
    response_model=RetailerOut,
    tags=["discovery"],
    responses=_errors(404),
)
def approve(retailer_id: str, _: Admin, ctx: Ctx) -> dict[str, Any]:
    """Approve a pending retailer: it gets the retailer weekly from the next run."""
    current = _retailer(ctx, retailer_id)
    ctx.store.update_retailer(retailer_id, name=current["name"], enablement="enabled")
    return _retailer(ctx, retailer_id)


@router.get("/discovery", response_model=DiscoveryStateOut, tags=["discovery"])
def discovery_state(_: Admin, ctx: Ctx) -> dict[str, Any]:
    """The last discovery and the retailers waiting for approval."""
    last = ctx.store.last_discovery()
    return {
        "last": last and row_dict(last),
        "pending": retailers.pending(ctx.store, _snapshot(ctx)),
    }


@router.post("/discovery", response_model=DiscoveryResultOut, tags=["discovery"])
def run_discovery(body: DiscoveryIn, _: Admin, ctx: Ctx) -> dict[str, Any]:
    """Find the retailers onboarded since the last discovery, from a fresh snapshot, and
    queue them as pending."""
    discovery, new = retailers.run_discovery(ctx.settings, ctx.source, body.as_of, store=ctx.store)
    return {"discovery": row_dict(discovery), "new": new}


# --- test sends ----------------------------------------------------------------------------


def _job_out(ctx: AdminContext, job: Any) -> dict[str, Any]:
    out = row_dict(job)
    out["run_link"] = history.output_link(ctx.outputs, Path(job.run_json)) if job.run_json else None
    out["deliveries"] = testsend.deliveries(job)
    return out


@router.post(
    "/test-sends",
    response_model=TestSendOut,
    status_code=202,
    tags=["test sends"],
    responses=_errors(404),
)
def start_test_send(body: TestSendIn, _: Admin, ctx: Ctx) -> dict[str, Any]:
    """Run a report for one target, delivered only to ``address`` and marked as a test."""
    _registry(ctx).get(body.report)  # 404 for an unknown report, before any process starts
    (address,) = clean_addresses([body.address], field="address")
    as_of = periods.check_as_of(body.as_of) if body.as_of else None
    job = testsend.create(
        ctx.store,
        report=body.report,
        target=body.target,
        address=address,
        deliver=body.deliver,
        as_of=as_of,
        source=ctx.source,
    )
    ctx.launcher.launch(job.id)
    return _job_out(ctx, testsend.get(ctx.store, job.id))


@router.get("/test-sends", response_model=list[TestSendOut], tags=["test sends"])
def list_test_sends(_: Admin, ctx: Ctx) -> list[dict[str, Any]]:
    """The 20 most recent test sends."""
    return [_job_out(ctx, job) for job in testsend.recent(ctx.store)]


@router.get(
    "/test-sends/{job_id}", response_model=TestSendOut, tags=["test sends"], responses=_errors(404)
)
def get_test_send(
    job_id: Annotated[int, PathParam(ge=1, le=MAX_ID)], _: Admin, ctx: Ctx
) -> dict[str, Any]:
    """One test send: its progress (targets done of total) and result."""
    job = testsend.get(ctx.store, job_id)
    if job is None:
        raise HTTPException(404, f"no test send {job_id}")
    return _job_out(ctx, job)


# --- previews ------------------------------------------------------------------------------


PREVIEWED = ("report.html", "email.html", "email.txt", "report.docx", "report.pdf")


@router.post(
    "/previews",
    response_model=PreviewOut,
    tags=["previews"],
    responses=_errors(404, 500, 502),
)
def preview(body: PreviewIn, _: Admin, ctx: Ctx) -> dict[str, Any]:
    """Render one report for one target and link its outputs; nothing is sent. The first
    preview starts the warm worker and its kernel; later ones reuse them."""
    _registry(ctx).get(body.report)  # 404 for an unknown report, before the worker
    as_of = periods.check_as_of(body.as_of) if body.as_of else None
    try:
        reply = ctx.worker.call(
            {
                "kind": "preview",
                "report": body.report,
                "target": body.target,
                "as_of": as_of and as_of.isoformat(),
                "source": ctx.source,
            }
        )
    except WorkerError as err:
        raise HTTPException(500, str(err)) from err
    if not reply["ok"]:
        raise HTTPException(reply["status"], reply["message"])
    result = reply["result"]
    target = result["target"]
    files = [Path(f) for f in target["files"]]
    error = target.get("error") or {}
    return {
        "report": body.report,
        "target": target["id"],
        "name": target["name"],
        "status": target["status"],
        "duration": result["duration"],
        "error": error.get("message"),
        "cell": error.get("cell"),
        "links": {
            f.name: link
            for f in files
            if f.name in PREVIEWED and (link := history.output_link(ctx.outputs, f))
        },
        "kernel": result["kernel"],
    }


# --- runs ----------------------------------------------------------------------------------


@router.get("/runs", response_model=list[RunOut], tags=["runs"], responses=_errors(404))
def list_runs(
    _: Admin,
    ctx: Ctx,
    report: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[dict[str, Any]]:
    """Runs of the declared reports (``outputs/<report>/*/run.json``), newest first, with
    their failed targets; ``report`` must be a declared report (404 otherwise)."""
    registry = _registry(ctx)
    reports = [registry.get(report).name] if report is not None else list(registry)
    return history.runs(ctx.outputs, reports, limit=limit)


@router.get(
    "/runs/{report}/{as_of}", response_model=RunDetailOut, tags=["runs"], responses=_errors(404)
)
def get_run(
    report: str,
    as_of: Annotated[str, PathParam(pattern=r"^\d{4}-\d{2}-\d{2}(-test)?$")],
    _: Admin,
    ctx: Ctx,
) -> dict[str, Any]:
    """One run (``<as_of>``, or ``<as_of>-test`` for a test send): every target with its
    status, failing cell, error and output links."""
    _registry(ctx).get(report)  # UnknownNameError: 404 naming the declared reports
    found = history.run_detail(ctx.outputs, report, as_of)
    if found is None:
        raise HTTPException(404, f"no run of {excerpt(report)} for {as_of}")
    return found


# --- health --------------------------------------------------------------------------------


@router.get("/doctor", response_model=DoctorOut, tags=["health"])
def run_doctor(_: Admin, ctx: Ctx) -> dict[str, Any]:
    """Run every check of ``broadsheet doctor`` now (a few seconds: it signs in to each
    configured service). Secrets are never part of the answer."""
    from runner import doctor

    checks = doctor.run_checks(ctx.settings)
    return {
        "status": "fail" if doctor.exit_status(checks) else "ok",
        "checks": [c.to_json() for c in checks],
    }
