"""The JSON shapes of the admin API: what ``/openapi.json`` promises, request and response."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Deliver = Literal["none", "outbox", "smtp", "graph"]
JobStatus = Literal["queued", "running", "done", "failed"]


class _In(BaseModel):
    # Unknown fields are refused, so a typo never silently does nothing.
    model_config = ConfigDict(extra="forbid")


class ErrorItem(BaseModel):
    """One thing wrong with a request: where, the value at fault, and why."""

    field: str | None = None
    value: str | None = None
    reason: str


class ErrorOut(BaseModel):
    """Every error response of the API."""

    status: int
    message: str
    errors: list[ErrorItem] = Field(default_factory=list)


class LoginIn(_In):
    """Logging in from the page."""

    key: str = Field(description="the admin key (BROADSHEET_ADMIN_KEY)")


class SessionOut(BaseModel):
    """How a request is authenticated; a session's CSRF token."""

    via: Literal["key", "session"]
    csrf_token: str | None = Field(None, description="send as X-CSRF-Token with changes")


class LastRun(BaseModel):
    """The latest run of a report, in brief."""

    as_of: str
    started_at: str | None
    status: Literal["ok", "failed"]
    exit_status: int
    test: bool
    ok: int
    failed: int
    targets: int


class ReportOut(BaseModel):
    """A declared report with its toggle and last run."""

    name: str
    title: str
    schedule: str
    fan_out: str
    declared_enabled: bool = Field(description="enabled: in parameters/<name>.yaml")
    admin_enabled: bool = Field(description="the admin's toggle (true unless switched off)")
    enabled: bool = Field(description="whether it runs: both of the above")
    last_run: LastRun | None


class ToggleIn(_In):
    """Switch a report on or off."""

    enabled: bool


class ListOut(BaseModel):
    """A recipient list."""

    name: Literal["board", "smt", "admin"]
    addresses: list[str]
    fallback: list[str] = Field(description="who receives while the list is empty")


class ListIn(_In):
    """A recipient list's new addresses, in order."""

    addresses: list[str] = Field(max_length=500)


class RetailerOut(BaseModel):
    """A retailer: the snapshot's facts and the admin's settings."""

    id: str
    name: str | None
    status: str | None = Field(description="Retailer_Status__c in the snapshot")
    onboarded: date | None
    primary_contact: str | None = Field(description="Salesforce's primary contact (read-only)")
    extras: list[str]
    opted_out: bool
    enablement: Literal["enabled", "pending", "disabled"]
    in_snapshot: bool


class SnapshotOut(BaseModel):
    """The snapshot the retailers come from."""

    path: str
    source: str
    as_of: date


class RetailersOut(BaseModel):
    """Every retailer, and the snapshot they come from."""

    snapshot: SnapshotOut | None
    retailers: list[RetailerOut]


class RetailerIn(_In):
    """Changes to a retailer; a field left out is left alone."""

    extras: list[str] | None = Field(None, max_length=50)
    opted_out: bool | None = None
    enablement: Literal["enabled", "pending", "disabled"] | None = None


class DiscoveryIn(_In):
    """Run discovery on the data up to ``as_of``."""

    as_of: date | None = Field(None, description="default: yesterday, Europe/London")


class DiscoveryOut(BaseModel):
    """One discovery."""

    id: int
    run_at: datetime
    as_of: date
    source: str
    snapshot: str
    baseline: bool = Field(description="the first discovery: everyone seen is enabled")
    found: int


class DiscoveryResultOut(BaseModel):
    """A discovery and the retailers it queued for approval."""

    discovery: DiscoveryOut
    new: list[RetailerOut]


class DiscoveryStateOut(BaseModel):
    """The last discovery and the retailers waiting for approval."""

    last: DiscoveryOut | None
    pending: list[RetailerOut]


class TestSendIn(_In):
    """A test send: one report, one target, one address."""

    __test__ = False  # not a pytest test class

    report: str = Field(max_length=100)
    target: str | None = Field(
        None, max_length=100, description="a retailer or BDM id; empty: every target"
    )
    address: str = Field(max_length=320)
    as_of: date | None = None
    deliver: Deliver = "outbox"


class PreviewIn(_In):
    """A preview: one report for one target, rendered and shown, sent to nobody."""

    report: str = Field(max_length=100)
    target: str | None = Field(
        None, max_length=100, description="a retailer or BDM id; empty for a report without fan-out"
    )
    as_of: date | None = None


class PreviewKernel(BaseModel):
    """The warm worker's kernel: the first preview starts it, later ones reuse it."""

    reused: bool
    pids: list[int]


class PreviewOut(BaseModel):
    """A rendered preview: its outputs (links under /outputs/), or the failing cell."""

    report: str
    target: str
    name: str
    status: Literal["ok", "failed"]
    duration: float = Field(description="seconds, in the warm worker")
    error: str | None
    cell: int | None
    links: dict[str, str]
    kernel: PreviewKernel


class TestSendOut(BaseModel):
    """A test send's progress and result."""

    __test__ = False

    id: int
    report: str
    target: str | None
    address: str
    deliver: str
    as_of: date | None
    status: JobStatus
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    done: int
    total: int | None
    run_json: str | None
    run_link: str | None
    exit_status: int | None
    error: str | None
    deliveries: list[dict[str, str | None]] = Field(default_factory=list)


class TargetOut(BaseModel):
    """One target of a run."""

    id: str
    name: str | None
    ran_at: str | None = Field(None, description="when the run that gave this result started")
    status: str
    duration: float | None
    cell: int | None = Field(None, description="the failing cell")
    error: str | None
    links: dict[str, str] = Field(description="output file name -> URL")


class RunPartOut(BaseModel):
    """One run of a day: when, which targets it was asked for, how it went."""

    started_at: str | None
    duration: float | None
    targets: list[str] | None = Field(description="the targets asked for (--target); null: all")
    ran: int
    ok: int
    failed: int
    exit_status: int | None


class RunOut(BaseModel):
    """A report's day from its run.json (each target's latest result across the day's
    runs), with the failed targets and the runs themselves."""

    report: str
    as_of: str = Field(description="the run's folder: <as_of>, or <as_of>-test for a test send")
    data_as_of: str = Field(description="the last complete day of data the run included")
    started_at: str | None
    duration: float | None
    source: str | None
    status: Literal["ok", "failed"]
    exit_status: int
    test_to: str | None
    targets: int
    ok: int
    failed: int
    delivered: int
    delivery_failures: int
    held_back: int = Field(0, description="targets not sent under send_when: activity")
    failures: list[TargetOut] = Field(description="the failed targets")
    link: str | None = Field(description="URL of run.json")
    runs: list[RunPartOut] = Field(description="the runs of the day, oldest first")


class RunDetailOut(RunOut):
    """A run with every target, delivery and skipped recipient."""

    all_targets: list[TargetOut]
    deliveries: list[dict[str, str | None]]
    skipped_recipients: list[dict[str, str | None]]
    skipped_targets: list[dict[str, str | None]] = Field(
        default_factory=list, description="targets held back, each with the reason"
    )


class CheckOut(BaseModel):
    """One check of ``broadsheet doctor``."""

    name: str
    status: Literal["ok", "warn", "fail"]
    why: str = Field(description="one line: what was found")
    action: str = Field(description="one line: what to do (empty when ok)")
    details: dict[str, Any] = Field(default_factory=dict)


class DoctorOut(BaseModel):
    """Every check, run now; ``status`` is ``fail`` when any check failed."""

    status: Literal["ok", "fail"]
    checks: list[CheckOut]
