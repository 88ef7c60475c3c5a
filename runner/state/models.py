"""The tables of the state database: the delivery ledger and the admin's choices.

Every table hangs off one declarative :class:`Base`; the Alembic revisions in
``runner/state/migrations/`` create them (``0001`` the ledger, ``0002`` the admin's tables),
and their names never change, so an existing database upgrades in place. The runner writes
the ledger; the admin writes the rest; the runner reads the admin's choices only through
:func:`runner.state.view.runner_view`.

Retailer enablement (the retailer weekly only): a retailer the admin has never decided on is
*enabled*, so the demo and a fresh install just work; discovery marks the retailers
onboarded since the previous discovery *pending* (not sent until approved); approving
enables it; an admin may also disable one.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Literal

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Named constraints let Alembic's batch mode rebuild SQLite tables in later revisions.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every table in the state database."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Delivery(Base):
    """One recipient of one target's message: the exactly-once ledger of ``runner/deliver.py``.

    ``status`` is ``sending`` (written before the transport is called, so a crash leaves
    evidence), ``sent`` (the transport accepted it), ``failed`` (it refused, definitely) or
    ``uncertain`` (the connection broke while handing the message over). ``message_id`` is
    the transport's delivery id (the outbox file, the SMTP queue id, the Graph
    internetMessageId); ``internet_message_id`` the RFC 5322 Message-ID, reused when a
    message is retried so receivers that deduplicate by it can. Times are UTC.
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("report", "as_of", "target", "recipient", name="uq_deliveries_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report: Mapped[str] = mapped_column(String(100))
    as_of: Mapped[date] = mapped_column(Date)
    target: Mapped[str] = mapped_column(String(100))
    recipient: Mapped[str] = mapped_column(String(320))
    transport: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    message_id: Mapped[str | None] = mapped_column(Text)
    internet_message_id: Mapped[str | None] = mapped_column(String(998))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    error: Mapped[str | None] = mapped_column(Text)


LIST_NAMES = ("board", "smt", "admin")
ListName = Literal["board", "smt", "admin"]
Enablement = Literal["enabled", "pending", "disabled"]
ENABLEMENTS: tuple[str, ...] = ("enabled", "pending", "disabled")
BLOCKING = ("pending", "disabled")


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


def new_retailer(retailer_id: str) -> Retailer:
    """A retailer row the admin has not decided on yet (counts as enabled)."""
    return Retailer(
        id=retailer_id, enablement=None, opted_out=False, extras=[], updated_at=utcnow()
    )


def effective_enablement(row: Retailer | None) -> str:
    """``enabled`` / ``pending`` / ``disabled`` as the runner will see it."""
    return (row.enablement if row is not None else None) or "enabled"
