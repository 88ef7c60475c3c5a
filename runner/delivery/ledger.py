"""The delivery ledger: one row per report, as_of, target and recipient in the state
database (``runner.state.database.Delivery``), the record :func:`runner.delivery.send.deliver` keeps so each
message goes out once.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime

from filelock import FileLock
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from runner.state.database import engine_for, upgrade
from runner.state.models import Delivery

SENDING, SENT, FAILED, UNCERTAIN = "sending", "sent", "failed", "uncertain"


def ledger_key(recipient: str) -> str:
    """Recipients are compared case-insensitively, as every real mail system does."""
    return recipient.strip().lower()


@dataclass(frozen=True)
class Mark:
    """One ledger update: a status for some recipients of one target."""

    status: str
    transport: str
    message_id: str | None = None
    internet_message_id: str | None = None
    error: str | None = None


class Ledger:
    """The delivery ledger in the state database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def open(cls, url: str) -> Ledger:
        """The ledger of the database at ``url``, migrated to the latest schema."""
        return cls(upgrade(engine_for(url)))

    @contextmanager
    def delivering(self, report: str) -> Iterator[None]:
        """Hold the ledger's delivery lock of ``report`` for the body (waiting for it).

        Exactly once between runners that overlap (a catch-up and a cron run, two hosts
        sharing a PostgreSQL ledger): the second waits here, then reads the rows the first
        wrote and skips what was sent. A ``sending`` row seen under the lock is therefore
        always the evidence of a crashed run, never of a live one. The lock dies with its
        holder: PostgreSQL drops a session's advisory lock when its connection closes, and
        the OS an ``flock`` when the process exits, so a killed run never blocks a rerun.
        SQLite locks a file beside the database (one host, as SQLite itself needs).
        """
        url = self.engine.url
        if url.get_backend_name() == "postgresql":
            key = int.from_bytes(hashlib.sha256(report.encode()).digest()[:8], "big", signed=True)
            with self.engine.connect() as conn:
                conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
                conn.commit()
                try:
                    yield
                finally:
                    conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                    conn.commit()
        elif url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            name = re.sub(r"[^A-Za-z0-9_.-]", "_", report)
            with FileLock(f"{url.database}.deliver-{name}.lock"):
                yield
        else:
            yield

    def rows(self, report: str, as_of: date, target: str) -> dict[str, Delivery]:
        """The rows of one target, by (normalised) recipient."""
        with self._sessions() as session:
            found = session.scalars(
                select(Delivery).where(
                    Delivery.report == report, Delivery.as_of == as_of, Delivery.target == target
                )
            )
            return {row.recipient: row for row in found}

    def history(self, report: str, as_of: date | None = None) -> list[Delivery]:
        """Every row of a report (and as_of), for run summaries and the admin."""
        query = select(Delivery).where(Delivery.report == report)
        if as_of is not None:
            query = query.where(Delivery.as_of == as_of)
        with self._sessions() as session:
            return list(session.scalars(query.order_by(Delivery.id)))

    def mark(
        self, report: str, as_of: date, target: str, recipients: Iterable[str], mark: Mark
    ) -> None:
        """Record ``mark`` for each recipient, inserting or updating, in one transaction."""
        keys = [ledger_key(r) for r in recipients]
        for attempt in (1, 2):
            try:
                with self._sessions.begin() as session:
                    self._upsert(session, report, as_of, target, keys, mark)
                return
            except IntegrityError:
                # Another process inserted the same key between our select and insert
                # (only possible without the run lock); the second pass updates it.
                if attempt == 2:
                    raise

    @staticmethod
    def _upsert(
        session: Session, report: str, as_of: date, target: str, keys: list[str], mark: Mark
    ) -> None:
        now = datetime.now(UTC)
        existing = {
            row.recipient: row
            for row in session.scalars(
                select(Delivery).where(
                    Delivery.report == report,
                    Delivery.as_of == as_of,
                    Delivery.target == target,
                    Delivery.recipient.in_(keys),
                )
            )
        }
        for key in keys:
            row = existing.get(key)
            if row is None:
                row = Delivery(report=report, as_of=as_of, target=target, recipient=key)
                session.add(row)
            row.transport = mark.transport
            row.status = mark.status
            row.updated_at = now
            row.error = mark.error
            if mark.message_id is not None:
                row.message_id = mark.message_id
            if mark.internet_message_id is not None:
                row.internet_message_id = mark.internet_message_id
            if mark.status == SENT:
                row.sent_at = now
