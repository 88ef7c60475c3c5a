"""Hand a run's rendered outputs to delivery: recipients, envelopes, the transport."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runner.declarations import Declaration
    from runner.run import RunResult, RunSpec
    from runner.settings import Settings

log = logging.getLogger(__name__)


def deliver_run(decl: Declaration, spec: RunSpec, settings: Settings, snap, chosen, result: RunResult) -> None:
    """Deliver every successful target's outputs (filled in by the delivery issue)."""
    if spec.deliver == "none":
        return
