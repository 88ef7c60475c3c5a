"""The admin's writes to the state database: toggles, lists, retailers, discoveries.

The tables are the runner's (``runner/state/models.py``); this module is the admin's side of
them: validated writes and the reads its pages need. The runner reads the same rows
through ``runner.state.view.runner_view``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import Engine, select
from sqlalchemy.orm import sessionmaker

from lib.errors import InputError, excerpt
from runner.state.models import (
    LIST_NAMES,
    Discovery,
    RecipientList,
    ReportToggle,
    Retailer,
    new_retailer,
    utcnow,
)

log = logging.getLogger(__name__)

# --- addresses -----------------------------------------------------------------------------


class AddressError(InputError):
    """Some addresses are not valid; ``problems`` names each with the reason."""

    def __init__(self, problems: list[dict[str, str]], *, field: str = "addresses") -> None:
        self.problems = problems
        self.field = field
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(
            f"{excerpt(first['address'])} is not a valid address: {first['reason']}{more}"
        )


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
            row = s.get(Retailer, retailer_id) or new_retailer(retailer_id)
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


# --- what the runner reads -----------------------------------------------------------------


def row_dict(row: Any) -> dict[str, Any]:
    """A model row as a plain dict of its columns (for API responses), times in UTC.

    SQLite keeps no time zone, so a time read back is naive; every time stored is UTC.
    """
    out = {c.key: getattr(row, c.key) for c in row.__table__.columns}
    for key, value in out.items():
        if isinstance(value, datetime) and value.tzinfo is None:
            out[key] = value.replace(tzinfo=UTC)
    return out
