"""The runner's view of the admin's choices: read once at the start of a run."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from runner.state.models import BLOCKING, LIST_NAMES, RecipientList, ReportToggle, Retailer


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
            (``runner.state.database.upgrade`` returns such an engine).
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
