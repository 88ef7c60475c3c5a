"""The ``broadsheet`` command line (``interfaces.md``).

Exit status: 0 every target succeeded; 1 some targets failed (the others were still
rendered and delivered); 2 bad usage, configuration or input, with one line naming the
file, field or value at fault.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import click

from lib.errors import BroadsheetError, ConfigError, NothingToDo

if TYPE_CHECKING:
    from lib.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])


def handle_errors(func: F) -> F:
    """Turn a :class:`BroadsheetError` into one line on stderr and its exit status."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except BroadsheetError as err:
            click.echo(f"broadsheet: {err}", err=True)
            sys.exit(err.exit_status)

    return wrapper  # type: ignore[return-value]


def _date(ctx: click.Context, param: click.Parameter, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


def _settings() -> Settings:
    """The settings tree, read once per command from the environment and ./.env."""
    from lib import settings

    tree = settings.load()
    tree.apply_tls()
    return tree


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def main(verbose: int) -> None:
    """Broadsheet: scheduled business reports as parameterised notebooks."""
    level = logging.WARNING - 10 * verbose if verbose else logging.INFO
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in (
        "traitlets",
        "papermill",
        "distributed",
        "asyncio",
        "httpx",
        "urllib3",
        "msal",
        "alembic",
    ):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


@main.command("list")
@handle_errors
def list_reports() -> None:
    """Reports with schedule, fan-out, outputs and whether they are enabled."""
    from runner import declarations

    settings = _settings()
    registry = declarations.discover(settings.parameters_dir)
    rows = [("REPORT", "SCHEDULE", "FAN-OUT", "OUTPUTS", "ENABLED")]
    for name in registry:
        d = registry.get(name)
        rows.append(
            (name, d.schedule, d.fan_out, ",".join(d.outputs), "yes" if d.enabled else "no")
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def _run_options(func: F) -> F:
    options = [
        click.option(
            "--as-of",
            callback=_date,
            help="Last complete day of data (default: yesterday, Europe/London).",
        ),
        click.option(
            "--source",
            default=None,
            help="demo, salesforce or a snapshot directory (default: demo without Salesforce credentials).",
        ),
        click.option(
            "--target", "targets", multiple=True, help="Only this retailer/BDM id (repeatable)."
        ),
        click.option(
            "--deliver",
            type=click.Choice(["none", "outbox", "smtp", "graph"]),
            default="outbox",
            show_default=True,
        ),
        click.option(
            "--test-to", default=None, help="Send every output to this address only, marked [TEST]."
        ),
        click.option("--resend", is_flag=True, help="Deliver even if the ledger says it was sent."),
        click.option(
            "--workers",
            type=click.IntRange(min=1),
            default=None,
            help="Worker processes (default: one per core).",
        ),
        click.option(
            "--scheduler", default=None, help="A Dask scheduler address (default: a local cluster)."
        ),
        click.option(
            "--isolated", is_flag=True, help="A fresh kernel per target instead of a warm one."
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _default_source(settings: Settings) -> str:
    """``salesforce`` when Salesforce sign-in is configured (environment or ``.env``), else ``demo``."""
    return "salesforce" if settings.salesforce.configured else "demo"


@main.command()
@click.argument("report")
@_run_options
@click.option(
    "--scheduled",
    default=None,
    metavar="SCHEDULE",
    help="Run from cron with the declared schedule: exit quietly unless it is due now "
    "(Europe/London), or if the report is already running.",
)
@handle_errors
def run(report: str, scheduled: str | None, **options: Any) -> None:
    """Run one REPORT (a parameter file's stem) for every target of its fan-out."""
    from datetime import UTC, datetime

    from runner import resident, schedule
    from runner.spec import RunSpec

    settings = _settings()
    options["source"] = options["source"] or _default_source(settings)
    spec = RunSpec(report=report, targets=tuple(options.pop("targets")), **options)
    warm = resident.wanted(settings, spec, interactive=sys.stdin.isatty() and sys.stderr.isatty())
    if not warm:
        _check_declared(settings, report)  # before any file is touched
    if scheduled and not schedule.should_run(scheduled, datetime.now(UTC)):
        logging.getLogger(__name__).info("%s: %r is not due now; nothing to do", report, scheduled)
        sys.exit(0)
    if warm:
        status = _run_warm(spec, settings)  # the runner checks the name itself
        if status is not None:
            sys.exit(status)
        _check_declared(settings, report)  # running here after all
    with schedule.run_lock(report, settings.outputs) as mine:
        if not mine:
            sys.exit(0)
        result = _run_with_progress(spec, settings, process_started=_process_started())
    _summarise(result)
    sys.exit(result.exit_status)


def _check_declared(settings: Settings, report: str) -> None:
    from runner import declarations

    declarations.discover(settings.parameters_dir).get(report)


def _run_warm(spec, settings) -> int | None:
    """The run, handed to the warm runner (``runner/resident.py``); None: run it here."""
    from runner import resident
    from runner.progress import ProgressReporter

    reporter = ProgressReporter(0, spec.report)
    try:
        return resident.submit(
            spec,
            settings,
            verbosity=click.get_current_context().find_root().params.get("verbose") or 0,
            process_started=_process_started(),
            progress=_counting(reporter),
            echo=lambda line, err: click.echo(line, err=err),
        )
    finally:
        reporter.close()


@main.command()
@click.option("--stop", is_flag=True, help="Stop this user's warm runners (each after its run).")
@click.option("--status", is_flag=True, help="List this user's warm runners.")
@handle_errors
def warm(stop: bool, status: bool) -> None:
    """Start a warm runner for this configuration, so the next runs start at once.

    `broadsheet run` from a terminal starts one by itself (BROADSHEET_WARM=auto); this
    starts it ahead, for instance when JupyterLab opens.
    """
    from runner import resident

    if stop:
        for info in resident.stop():
            click.echo(f"stopping warm runner {info['key']} (pid {info['pid']}, {info['cwd']})")
        return
    if status:
        for info in resident.runners():
            click.echo(
                f"{info['key']}  pid {info['pid']}  {info['cwd']}  outputs {info['outputs']}  "
                f"log {info['log']}"
            )
        return
    settings = _settings()
    info = resident.start(settings)
    if info is None:
        raise ConfigError("the warm runner did not start; see <outputs>/logs/warm-runner.log")
    click.echo(
        f"warm runner up (pid {info['pid']}; {info['runs']} run(s) so far, "
        f"{info['kernels_started']} kernel(s) started); it stops after "
        f"{settings.warm_idle_minutes:g} idle minutes or `broadsheet warm --stop`"
    )


@main.command("sync-cron")
@click.option("--write", is_flag=True, help="Install the block in the current user's crontab.")
@handle_errors
def sync_cron(write: bool) -> None:
    """Print (or install) the crontab block generated from the declared schedules."""
    from lib.settings import ROOT
    from runner import declarations, schedule
    from runner.run import admin_view

    settings = _settings()
    registry = declarations.discover(settings.parameters_dir)
    view = admin_view(settings)
    # A report switched off in admin leaves the crontab at the next sync.
    decls = [
        registry.get(name).model_copy(
            update={"enabled": registry.get(name).enabled and view.report_enabled(name)}
        )
        for name in registry
    ]
    block = schedule.crontab_block(decls, root=ROOT, outputs=settings.outputs.resolve())
    click.echo(block.rstrip("\n"))
    if write:
        changed = schedule.install(block)
        click.echo("crontab updated" if changed else "crontab unchanged", err=True)


def _run_with_progress(spec, settings, *, process_started: float | None = None):
    from runner.progress import ProgressReporter
    from runner.run import run as run_report

    reporter = ProgressReporter(0, spec.report)
    try:
        return run_report(
            spec, settings, progress=_counting(reporter), process_started=process_started
        )
    finally:
        reporter.close()


def _process_started() -> float:
    """When this process started (seconds since the epoch): run.json's ``startup`` counts
    the interpreter and the imports too."""
    import psutil

    return psutil.Process().create_time()


def _counting(reporter):
    def progress(result, done, total):
        reporter.total = total
        reporter(result, done, total)

    return progress


def _summarise(result) -> None:
    for line in result.summary():
        click.echo(line)


@main.command()
@click.option("--retailers", type=click.IntRange(min=1), default=150, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--as-of", callback=_date, help="Default: yesterday, Europe/London.")
@click.option("--workers", type=click.IntRange(min=1), default=None)
@click.option(
    "--edge-cases",
    is_flag=True,
    help="Add awkward retailers, BDMs and applications (long and odd names, none at all, "
    "all suspended, clock changes, 29 February, a lender spelled five ways).",
)
@handle_errors
def demo(
    retailers: int, seed: int, as_of: date | None, workers: int | None, edge_cases: bool = False
) -> None:
    """Demo snapshot, then all four reports, delivered to the file outbox."""
    from lib import periods, snapshot
    from runner import declarations, schedule
    from runner import extract as extract_mod
    from runner.outputs import writable
    from runner.spec import RunSpec

    settings = _settings()
    writable(settings.outputs)
    as_of = as_of or periods.default_as_of()
    out = snapshot.default_dir(settings.outputs, extract_mod.demo_folder(edge_cases), as_of)
    if not (out / "manifest.json").is_file():
        extract_mod.extract(
            "demo", as_of, out, retailers=retailers, seed=seed, edge_cases=edge_cases
        )
    click.echo(f"demo snapshot: {out}")
    registry = declarations.discover(settings.parameters_dir)
    status = 0
    for name in registry:
        # One snapshot serves every report; a monthly pack covers the last whole month.
        monthly = "M" in registry.get(name).windows
        report_as_of = periods.board_month_as_of(as_of + timedelta(days=1)) if monthly else as_of
        spec = RunSpec(
            report=name, as_of=report_as_of, source=str(out), deliver="outbox", workers=workers
        )
        with schedule.run_lock(name, settings.outputs) as mine:
            if not mine:  # a scheduled run of it is under way: leave it alone, like `run`
                click.echo(f"{name}: already running; skipped")
                continue
            try:
                result = _run_with_progress(spec, settings)
            except NothingToDo as err:
                click.echo(f"{name}: {err}")
                continue
        _summarise(result)
        status = max(status, result.exit_status)
    click.echo(f"outbox: {settings.outputs / 'outbox'}")
    sys.exit(status)


@main.command()
@click.argument("name")
@click.option("--fan-out", type=click.Choice(["retailer", "bdm", "none"]), required=True)
@click.option("--force", is_flag=True, help="Overwrite an existing notebook or parameter file.")
@handle_errors
def new(name: str, fan_out: str, force: bool) -> None:
    """Scaffold a runnable notebook and its parameter file for a new report NAME."""
    from runner import scaffold

    settings = _settings()
    notebook, params = scaffold.create(name, fan_out, settings, force=force)
    click.echo(f"created {notebook}\ncreated {params}")


@main.command()
@click.option("--source", required=True, help="demo or salesforce.")
@click.option(
    "--as-of", callback=_date, help="Last complete day of data (default: yesterday, Europe/London)."
)
@click.option(
    "--out",
    type=click.Path(),
    default=None,
    help="Snapshot directory (default: <outputs>/snapshots/<source>/<as_of>).",
)
@click.option(
    "--retailers",
    type=click.IntRange(min=1),
    default=150,
    show_default=True,
    help="Demo only: number of retailers.",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=7,
    show_default=True,
    help="Demo only: random seed.",
)
@click.option(
    "--full",
    is_flag=True,
    help="Salesforce only: read every application, not just those changed since the last snapshot.",
)
@click.option(
    "--edge-cases", is_flag=True, help="Demo only: add the awkward cases of `demo --edge-cases`."
)
@handle_errors
def extract(
    source: str,
    as_of: date | None,
    out: str | None,
    retailers: int,
    seed: int,
    full: bool = False,
    edge_cases: bool = False,
) -> None:
    """Write a snapshot of SOURCE and print its directory."""
    from pathlib import Path

    from lib import periods
    from runner.extract import extract as extract_snapshot

    settings = _settings()
    as_of = as_of or periods.default_as_of()
    out_dir = Path(out) if out else None
    path = extract_snapshot(
        source,
        as_of,
        out_dir,
        retailers=retailers,
        seed=seed,
        outputs=settings.outputs,
        full=full,
        salesforce=settings.salesforce,
        edge_cases=edge_cases,
    )
    click.echo(str(path))


@main.command("admin")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=8765,
    show_default=True,
    help="Port to listen on.",
)
@click.option(
    "--source",
    default=None,
    help="Data for test sends and discovery: demo, salesforce or a snapshot directory (default: as for run).",
)
@handle_errors
def admin_command(host: str, port: int, source: str | None) -> None:
    """Serve the admin dashboard and its JSON API (needs BROADSHEET_ADMIN_KEY)."""
    from admin.app import serve

    settings = _settings()
    key = settings.admin.key.get_secret_value() if settings.admin.key else None
    serve(settings, key, host=host, port=port, source=source or _default_source(settings))


@main.command("discover")
@click.option(
    "--source", default=None, help="demo, salesforce or a snapshot directory (default: as for run)."
)
@click.option(
    "--as-of", callback=_date, help="Last complete day of data (default: yesterday, Europe/London)."
)
@handle_errors
def discover_command(source: str | None, as_of: date | None) -> None:
    """Find retailers onboarded since the last discovery and queue them in admin as pending."""
    from admin.retailers import run_discovery

    settings = _settings()
    discovery, new = run_discovery(settings, source or _default_source(settings), as_of)
    kind = (
        "baseline: every onboarded retailer seen is enabled"
        if discovery.baseline
        else f"{len(new)} pending approval"
    )
    click.echo(
        f"discovery {discovery.id} (data up to {discovery.as_of}, {discovery.snapshot}): {kind}"
    )
    for r in new:
        click.echo(f"  PENDING {r['id']} {r['name']} (onboarded {r['onboarded']})")


def _now(ctx: click.Context, param: click.Parameter, value: str | None):
    from datetime import UTC, datetime

    from lib.periods import LONDON

    if value is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a date and time (YYYY-MM-DDTHH:MM, London unless it has an offset)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=LONDON)


@main.command("catch-up")
@click.option(
    "--now",
    callback=_now,
    metavar="ISO_DATETIME",
    help="Act as if it were this moment (London time unless an offset is given); for tests "
    "and for replaying a day.",
)
@click.option(
    "--source",
    default=None,
    help="demo, salesforce or a snapshot directory (default: as for run).",
)
@click.option(
    "--deliver",
    type=click.Choice(["none", "outbox", "smtp", "graph"]),
    default="outbox",
    show_default=True,
    help="As the scheduled runs deliver.",
)
@click.option("--workers", type=click.IntRange(min=1), default=None)
@click.option(
    "--retailers",
    type=click.IntRange(min=1),
    default=None,
    help="Demo source only: the size of the demo book.",
)
@handle_errors
def catch_up_command(
    now: Any, source: str | None, deliver: str, workers: int | None, retailers: int | None
) -> None:
    """Run each enabled report whose most recent scheduled slot has no completed run, as
    that slot's run would have; missed slots past the report's catch_up window are only
    reported. Cron calls it at boot and hourly."""
    from runner import catchup, declarations, schedule
    from runner.run import admin_view
    from runner.spec import RunSpec

    settings = _settings()
    registry = declarations.discover(settings.parameters_dir)
    view = admin_view(settings)
    decls = [
        registry.get(n) for n in registry if view.report_enabled(n) and registry.get(n).enabled
    ]
    status = 0
    for decision in catchup.plan(decls, now, settings.outputs):
        click.echo(decision.describe())
        if decision.action != "run":
            continue
        spec = RunSpec(
            report=decision.report,
            as_of=decision.as_of,
            source=source or _default_source(settings),
            deliver=deliver,
            workers=workers,
            retailers=retailers,
        )
        with schedule.run_lock(decision.report, settings.outputs) as mine:
            if not mine:
                click.echo(f"{decision.report}: running already; left to that run")
                continue
            # Whoever held the lock a moment ago may have just written the run.
            if catchup.decide(registry.get(decision.report), now, settings.outputs).action != "run":
                continue
            try:
                result = _run_with_progress(spec, settings)
            except NothingToDo as err:
                click.echo(f"{decision.report}: {err}")
                continue
            except BroadsheetError as err:
                # One report's bad input (Salesforce down at boot) must not keep the
                # others from their catch-up; the next hourly call tries it again.
                click.echo(f"broadsheet: {decision.report}: {err}", err=True)
                status = max(status, err.exit_status)
                continue
        _summarise(result)
        status = max(status, result.exit_status)
    sys.exit(status)


@main.command("prune")
@click.option("--dry-run", is_flag=True, help="Say what would be removed; remove nothing.")
@handle_errors
def prune_command(dry_run: bool) -> None:
    """Delete run folders (keeping each run.json), test sends, outbox files, snapshots and
    cache entries older than each report's retention; print what went and the space freed."""
    from datetime import datetime

    from lib.periods import LONDON
    from runner import declarations
    from runner import prune as prune_mod
    from runner.outputs import human_size

    settings = _settings()
    registry = declarations.discover(settings.parameters_dir)
    for name in registry:
        click.echo(f"{name}: keeps {registry.get(name).kept_for}")
    outcome = prune_mod.prune(
        settings.outputs,
        [registry.get(n) for n in registry],
        today=datetime.now(LONDON).date(),
        dry_run=dry_run,
        echo=click.echo,
    )
    click.echo(
        f"{'would remove' if dry_run else 'removed'} {len(outcome.removed)} item(s), "
        f"{'would free' if dry_run else 'freed'} {human_size(outcome.freed)}"
        + (f"; skipped (running): {', '.join(outcome.skipped)}" if outcome.skipped else "")
    )


@main.command("backup")
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--keep", type=click.IntRange(min=1), default=14, show_default=True)
@handle_errors
def backup_command(directory: str, keep: int) -> None:
    """Back up the state database into DIRECTORY (SQLite backup API or pg_dump), keeping
    the newest --keep backups; prints the new file."""
    from pathlib import Path

    from runner.state.backup import backup

    settings = _settings()
    made = backup(
        settings.state_url(), Path(directory), keep=keep, environment=settings.environment()
    )
    click.echo(str(made))


@main.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="One JSON document instead of text.")
def doctor_command(as_json: bool) -> None:
    """Check everything a scheduled run needs: settings, disk, database, Salesforce, Graph,
    SMTP, Anthropic, the crontab and every declaration (exit 1 when a check fails)."""
    import json

    from pydantic import ValidationError

    from runner import doctor

    try:
        checks = doctor.run_checks(_settings())
    except (ValidationError, BroadsheetError) as err:
        checks = [doctor.settings_failure(err)]
    if as_json:
        click.echo(
            json.dumps(
                {
                    "status": "fail" if doctor.exit_status(checks) else "ok",
                    "checks": [c.to_json() for c in checks],
                },
                indent=2,
            )
        )
    else:
        click.echo(doctor.render(checks))
    sys.exit(doctor.exit_status(checks))


if __name__ == "__main__":  # pragma: no cover
    main()
