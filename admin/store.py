"""The admin's state: report toggles, recipient lists, retailers, discoveries, test sends.

The tables live in the state database next to the delivery ledger (``admin/state.py``),
created by the Alembic revision ``0002``. The runner reads them through one function,
:func:`runner_view`, and never through the models, so the admin may change its tables
without touching ``runner/``.

Retailer enablement (the retailer weekly only): a retailer the admin has never decided
on is *enabled*, so the demo and a fresh install just work; discovery marks the retailers
onboarded since the previous discovery *pending* (not sent until approved); approving
enables it; an admin may also disable one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from types import MappingProxyType
from typing import Any, Literal

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import JSON, Boolean, Date, DateTime, Engine, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from admin.state import Base
from lib.errors import InputError

log = logging.getLogger(__name__)

LIST_NAMES = ("board", "smt", "admin")
ListName = Literal["board", "smt", "admin"]
Enablement = Literal["enabled", "pending", "disabled"]
ENABLEMENTS: tuple[str, ...] = ("enabled", "pending", "disabled")
BLOCKING = ("pending", "disabled")

# Which admin list replaces which declaration's addresses (policy "list"). The admin list
# replaces settings.admin_emails for failure alerts. A `recipients.list` field in the
# declarations would make this table unnecessary; until then it is the one place to edit.


def utcnow() -> datetime:
    """Now, in UTC (every time in the state database is UTC)."""
    return datetime.now(UTC)


class ReportToggle(Base):
    """An admin's decision on one report; no row means the declaration decides alone."""

    __tablename__ = "admin_report_toggles"

    report: Mapped[str] = mapped_column(String(100), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RecipientList(Base):
    """One named list of addresses (``board``, ``smt``, ``admin``), in the admin's order."""

    __tablename__ = "admin_lists"

    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    addresses: Mapped[list[str]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Retailer(Base):
    """What the admin knows of one retailer (a Salesforce Account).

    ``enablement`` is None until discovery or an admin decides: None counts as enabled.
    ``name`` and ``onboarded`` are copies from the snapshot that discovery saw, kept so a
    pending retailer can be shown even when no snapshot is at hand.
    """

    __tablename__ = "admin_retailers"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(255))
    onboarded: Mapped[date | None] = mapped_column(Date)
    enablement: Mapped[str | None] = mapped_column(String(10))
    opted_out: Mapped[bool] = mapped_column(Boolean, default=False)
    extras: Mapped[list[str]] = mapped_column(JSON, default=list)
    discovery_id: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Discovery(Base):
    """One discovery: which snapshot it read and how many retailers it queued."""

    __tablename__ = "admin_discoveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    as_of: Mapped[date] = mapped_column(Date)
    source: Mapped[str] = mapped_column(Text)
    snapshot: Mapped[str] = mapped_column(Text)
    baseline: Mapped[bool] = mapped_column(Boolean)
    found: Mapped[int] = mapped_column(Integer)


class TestSend(Base):
    """A test send job: one report, one target, one address; its progress and result."""

    __tablename__ = "admin_test_sends"
    __test__ = False  # not a pytest test class, whatever its name says

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report: Mapped[str] = mapped_column(String(100))
    target: Mapped[str | None] = mapped_column(String(100))
    address: Mapped[str] = mapped_column(String(320))
    deliver: Mapped[str] = mapped_column(String(20))
    as_of: Mapped[date | None] = mapped_column(Date)
    source: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10))  # queued, running, done, failed
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int | None] = mapped_column(Integer)
    run_json: Mapped[str | None] = mapped_column(Text)
    exit_status: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)


# --- addresses -----------------------------------------------------------------------------


class AddressError(InputError):
    """Some addresses are not valid; ``problems`` names each with the reason."""

    def __init__(self, problems: list[dict[str, str]], *, field: str = "addresses") -> None:
        self.problems = problems
        self.field = field
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"{first['address']!r} is not a valid address: {first['reason']}{more}")


def clean_addresses(addresses: Iterable[str], *, field: str = "addresses") -> list[str]:
    """Validate and normalise addresses; duplicates (any case) are dropped silently.

    Only the syntax is checked, as the runner does (``runner/recipients.py``): a DNS
    lookup would make saving a list depend on the network.

    Raises:
        AddressError: naming every bad address and why, so the page can show them all.
    """
    valid: list[str] = []
    problems: list[dict[str, str]] = []
    seen: set[str] = set()
    for i, raw in enumerate(addresses):
        text = raw.strip()
        if not text:
            problems.append({"field": f"{field}[{i}]", "address": raw, "reason": "empty address"})
            continue
        try:
            address = validate_email(text, check_deliverability=False).normalized
        except EmailNotValidError as err:
            problems.append({"field": f"{field}[{i}]", "address": raw, "reason": str(err)})
            continue
        if address.lower() not in seen:
            seen.add(address.lower())
            valid.append(address)
    if problems:
        raise AddressError(problems, field=field)
    return valid


# --- reading and writing -------------------------------------------------------------------


class Store:
    """The admin's tables behind small, named operations (one transaction each)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessions = sessionmaker(engine, expire_on_commit=False)

    def toggles(self) -> dict[str, bool]:
        """The admin's explicit report toggles."""
        with self.sessions() as s:
            return {t.report: t.enabled for t in s.scalars(select(ReportToggle))}

    def set_toggle(self, report: str, enabled: bool) -> None:
        """Switch a report on or off in the admin."""
        with self.sessions.begin() as s:
            row = s.get(ReportToggle, report) or ReportToggle(report=report)
            row.enabled, row.updated_at = enabled, utcnow()
            s.add(row)
        log.info("report %s %s in admin", report, "enabled" if enabled else "disabled")

    def lists(self) -> dict[str, list[str]]:
        """Every list by name; an unset list is empty."""
        with self.sessions() as s:
            stored = {r.name: list(r.addresses) for r in s.scalars(select(RecipientList))}
        return {name: stored.get(name, []) for name in LIST_NAMES}

    def set_list(self, name: str, addresses: Sequence[str]) -> list[str]:
        """Replace a list with validated addresses and return them.

        Raises:
            AddressError: some address is not valid (nothing is saved).
        """
        clean = clean_addresses(addresses)
        with self.sessions.begin() as s:
            row = s.get(RecipientList, name) or RecipientList(name=name)
            row.addresses, row.updated_at = clean, utcnow()
            s.add(row)
        return clean

    def retailers(self) -> dict[str, Retailer]:
        """Every retailer the admin has a row for, by id."""
        with self.sessions() as s:
            return {r.id: r for r in s.scalars(select(Retailer))}

    def retailer(self, retailer_id: str) -> Retailer | None:
        """The admin's row of one retailer, if any."""
        with self.sessions() as s:
            return s.get(Retailer, retailer_id)

    def update_retailer(
        self,
        retailer_id: str,
        *,
        name: str | None = None,
        extras: Sequence[str] | None = None,
        opted_out: bool | None = None,
        enablement: str | None = None,
    ) -> Retailer:
        """Change what is given (None leaves a field alone) and return the row.

        Raises:
            AddressError: an extra address is not valid (nothing is saved).
        """
        clean = clean_addresses(extras, field="extras") if extras is not None else None
        with self.sessions.begin() as s:
            row = s.get(Retailer, retailer_id) or _new_retailer(retailer_id)
            if row.name is None and name:
                row.name = name
            if clean is not None:
                row.extras = clean
            if opted_out is not None:
                row.opted_out = opted_out
            if enablement is not None:
                row.enablement = enablement
            row.updated_at = utcnow()
            s.add(row)
        log.info("retailer %s updated in admin", retailer_id)
        return row

    def last_discovery(self) -> Discovery | None:
        """The most recent discovery (by when it ran)."""
        with self.sessions() as s:
            return s.scalars(
                select(Discovery).order_by(Discovery.run_at.desc(), Discovery.id.desc())
            ).first()


def _new_retailer(retailer_id: str) -> Retailer:
    return Retailer(
        id=retailer_id, enablement=None, opted_out=False, extras=[], updated_at=utcnow()
    )


# --- what the runner reads -----------------------------------------------------------------


def _frozen_map(data: Mapping[str, tuple[str, ...]]) -> Mapping[str, tuple[str, ...]]:
    return MappingProxyType(dict(data))


@dataclass(frozen=True)
class RunnerView:
    """Everything the runner honours from the admin, read once at the start of a run.

    Attributes:
        disabled_reports: reports switched off in the admin (the declaration's own
            ``enabled: false`` is separate, and also wins).
        blocked_retailers: retailers pending approval or disabled: no retailer weekly.
        opted_out: retailers that asked for no email: their message is not sent.
        extras: retailer id → extra addresses, besides the Salesforce primary contact.
        lists: ``board``, ``smt`` and ``admin`` → addresses; empty when unset, in which
            case the declaration's addresses (or ``settings.admin_emails``) apply.
    """

    disabled_reports: frozenset[str] = frozenset()
    blocked_retailers: frozenset[str] = frozenset()
    opted_out: frozenset[str] = frozenset()
    extras: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: _frozen_map({}))
    lists: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: _frozen_map(dict.fromkeys(LIST_NAMES, ()))
    )

    def report_enabled(self, report: str) -> bool:
        """Whether the admin leaves ``report`` on."""
        return report not in self.disabled_reports

    def admins(self, configured: Sequence[str]) -> tuple[str, ...]:
        """Who gets failure alerts: the admin list if set, else ``configured``."""
        return tuple(self.lists.get("admin", ())) or tuple(configured)


def runner_view(engine: Engine) -> RunnerView:
    """Read the admin's decisions for a run, in one transaction.

    Args:
        engine: the state database, migrated to the latest revision
            (``admin.state.upgrade`` returns such an engine).
    """
    with Session(engine) as s, s.begin():
        disabled = s.scalars(select(ReportToggle.report).where(ReportToggle.enabled.is_(False)))
        rows = list(s.scalars(select(Retailer)))
        stored = {r.name: tuple(r.addresses) for r in s.scalars(select(RecipientList))}
        return RunnerView(
            disabled_reports=frozenset(disabled),
            blocked_retailers=frozenset(r.id for r in rows if r.enablement in BLOCKING),
            opted_out=frozenset(r.id for r in rows if r.opted_out),
            extras=_frozen_map({r.id: tuple(r.extras) for r in rows if r.extras}),
            lists=_frozen_map({name: stored.get(name, ()) for name in LIST_NAMES}),
        )


def effective_enablement(row: Retailer | None) -> str:
    """``enabled`` / ``pending`` / ``disabled`` as the runner will see it."""
    return (row.enablement if row is not None else None) or "enabled"


def row_dict(row: Any) -> dict[str, Any]:
    """A model row as a plain dict of its columns (for API responses), times in UTC.

    SQLite keeps no time zone, so a time read back is naive; every time stored is UTC.
    """
    out = {c.key: getattr(row, c.key) for c in row.__table__.columns}
    for key, value in out.items():
        if isinstance(value, datetime) and value.tzinfo is None:
            out[key] = value.replace(tzinfo=UTC)
    return out
