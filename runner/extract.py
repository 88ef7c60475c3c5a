"""``broadsheet extract``: build a snapshot from a source and write it to disk."""

from __future__ import annotations

import logging
import time
from datetime import date
from pathlib import Path

from lib import demo, periods, snapshot
from lib.errors import ConfigError, InputError
from lib.settings import SalesforceSection, Settings

log = logging.getLogger(__name__)

SOURCE_NAMES = ("demo", "salesforce")


def demo_folder(edge_cases: bool) -> str:
    """The folder under ``snapshots/`` of demo data: the edge cases keep to their own."""
    return "demo-edge-cases" if edge_cases else "demo"


def extract(
    source: str,
    as_of: date,
    out: Path | None,
    *,
    retailers: int = 150,
    seed: int = 7,
    outputs: Path | None = None,
    full: bool = False,
    salesforce: SalesforceSection | None = None,
    edge_cases: bool = False,
) -> Path:
    """Extract a snapshot of ``source`` up to the end of ``as_of`` and write it.

    Args:
        source: ``demo`` (the embedded synthetic company) or ``salesforce``.
        as_of: Last complete day of data; a future day is refused.
        out: The snapshot directory; default
            ``<outputs>/snapshots/<source>/<as_of>`` (see ``snapshot.default_dir``).
        retailers: Demo only: number of retailers.
        seed: Demo only: random seed (same arguments, same bytes).
        outputs: The outputs directory for the default ``out``; default the
            ``BROADSHEET_OUTPUTS`` setting (``outputs/``).
        full: Salesforce only: read every application even when an earlier snapshot
            allows an incremental refresh.
        salesforce: Salesforce only: the ``salesforce`` section of the settings.
        edge_cases: Demo only: add the awkward cases of :mod:`lib.demo.edge`; the default
            directory is then ``<outputs>/snapshots/demo-edge-cases/<as_of>``.

    Returns:
        The snapshot directory (absolute).

    Raises:
        InputError: ``as_of`` is in the future, or the source or a demo argument is unknown
            or out of range.
        ConfigError: The source is not configured.
        SnapshotError: The snapshot could not be written.
    """
    as_of = periods.check_as_of(as_of)
    if source not in SOURCE_NAMES:
        raise InputError(
            f"--source {source!r} is not a known source; did you mean one of: "
            f"{', '.join(SOURCE_NAMES)}"
        )
    if out is None:
        if outputs is None:
            outputs = Settings.model_fields["outputs"].default
        folder = demo_folder(edge_cases) if source == "demo" else source
        out = snapshot.default_dir(outputs, folder, as_of)
    snapshot.check_out_dir(out)  # before minutes of extraction, not after
    started = time.perf_counter()
    if source == "salesforce":
        # Incremental against the latest earlier snapshot beside this one (the default
        # layout keeps them side by side), unless --full.
        root = snapshot.default_dir(outputs, source, as_of).parent if outputs else out.parent
        if salesforce is None:
            raise ConfigError("no Salesforce settings were given to the extraction")
        path = _extract_salesforce(as_of, out, root, full=full, settings=salesforce)
        log.info("extracted %s snapshot in %.1f s", source, time.perf_counter() - started)
        return path
    tables = demo.generate(as_of=as_of, retailers=retailers, seed=seed, edge_cases=edge_cases)
    generator = {"name": "lib.demo", "retailers": retailers, "seed": seed}
    if edge_cases:  # the default demo's manifest keeps its bytes
        generator["edge_cases"] = True
    path = snapshot.write(tables, out, source=source, as_of=as_of, extra={"generator": generator})
    log.info("extracted %s snapshot in %.1f s", source, time.perf_counter() - started)
    return path


def _extract_salesforce(
    as_of: date, out: Path, root: Path, *, full: bool, settings: SalesforceSection
) -> Path:
    """Salesforce → snapshot, with the API usage recorded in the manifest (``api``).

    Raises:
        ConfigError: ``SALESFORCE_*`` missing or partial (the message names them).
        SourceError: Salesforce could not be read.
    """
    from lib import salesforce

    previous = None if full else salesforce.previous_snapshot(root, as_of)
    tables, api = salesforce.extract_tables(settings, as_of=as_of, previous=previous, full=full)
    return snapshot.write(tables, out, source="salesforce", as_of=as_of, extra={"api": api})
