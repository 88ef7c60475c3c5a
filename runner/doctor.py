"""``broadsheet doctor``: everything a Monday 07:00 run depends on, checked now.

Each check answers ``ok``, ``warn`` or ``fail`` with one line of why and, unless all is
well, one line of what to do. An integration that is not configured is ``ok`` and says
so (the demo needs none of them); one that is configured is exercised for real with the
cheapest call that proves it works: a Salesforce ``SELECT COUNT() FROM Account``, a Graph
token and one read of the sender's Sent Items, an SMTP connect + STARTTLS + login + QUIT,
an Anthropic token count (free, and it checks the model name too).

Nothing here prints a secret: messages are built from names and server replies, and every
configured secret is masked out of them once more before they leave (:func:`run_checks`).
The admin dashboard shows the same list (``GET /api/doctor``).
"""

from __future__ import annotations

import logging
import shutil
import smtplib
import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import SecretStr

from lib.errors import BroadsheetError, ConfigError
from lib.settings import ROOT, Settings

log = logging.getLogger(__name__)

Status = Literal["ok", "warn", "fail"]
STATUSES: tuple[Status, ...] = ("ok", "warn", "fail")
LOW_DISK = 2 * 1000**3
"""Free space under which the outputs check warns (bytes)."""
WEEKS_OF_HEADROOM = 4
"""The outputs check warns when the disk would fill within this many weeks at the projected rate."""
PASSWORD_FLOW_RETIREMENT = "Summer '27"


@dataclass(frozen=True)
class Check:
    """One check's verdict."""

    name: str
    status: Status
    why: str
    action: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _ok(name: str, why: str, **details: Any) -> Check:
    return Check(name, "ok", why, "", details)


def _warn(name: str, why: str, action: str, **details: Any) -> Check:
    return Check(name, "warn", why, action, details)


def _fail(name: str, why: str, action: str, **details: Any) -> Check:
    return Check(name, "fail", why, action, details)


# --- outputs and disk --------------------------------------------------------------------


def runs_per_week(schedule: str, *, start: datetime | None = None) -> tuple[float, set[str]]:
    """How often a schedule fires in a week, and on which London days (ISO dates).

    The monthly ``first-working-day`` counts as 12/52 a week.
    """
    from runner import schedule as schedule_mod

    spec = schedule_mod.parse_schedule(schedule)
    if isinstance(spec, schedule_mod.FirstWorkingDay):
        return 12 / 52, set()
    monday = (start or datetime.now(schedule_mod.LONDON)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    monday -= timedelta(days=monday.weekday())
    fired = [
        t for t in (monday + timedelta(minutes=m) for m in range(7 * 24 * 60)) if spec.matches(t)
    ]
    return float(len(fired)), {t.date().isoformat() for t in fired}


def weekly_growth(settings: Settings, declarations: Iterable[Any]) -> tuple[int, list[str]]:
    """Projected bytes a week: each report's last runs (folder and outbox files) times its
    runs a week, plus a snapshot for each day a report runs. Also what it was based on."""
    from runner.outputs import folder_size

    outputs = settings.outputs
    outbox = outputs / "outbox"
    total = 0.0
    basis: list[str] = []
    days: set[str] = set()
    for decl in declarations:
        if not decl.enabled or not decl.schedule:
            continue
        runs = sorted(
            (p for p in (outputs / decl.name).glob("????-??-??") if p.is_dir()), reverse=True
        )[:3]
        if not runs:
            continue
        sizes = [
            folder_size(run)
            + sum(f.stat().st_size for f in outbox.glob(f"{decl.name}_{run.name}_*"))
            for run in runs
        ]
        per_week, fired_on = runs_per_week(decl.schedule)
        days |= fired_on
        total += sum(sizes) / len(sizes) * per_week
        basis.append(f"{decl.name} {len(runs)} run(s)")
    snapshots = sorted(
        (p for p in (outputs / "snapshots").glob("*/????-??-??") if p.is_dir()), reverse=True
    )[:3]
    if snapshots and days:
        total += sum(folder_size(s) for s in snapshots) / len(snapshots) * len(days)
    return int(total), basis


def check_outputs(settings: Settings, declarations: list[Any]) -> Check:
    """The outputs folder is writable, and the disk has room for the coming weeks."""
    from runner.outputs import human_size

    name = "outputs"
    outputs = settings.outputs
    try:
        outputs.mkdir(parents=True, exist_ok=True)
        probe = outputs / f".doctor-{uuid.uuid4().hex}"
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as err:
        return _fail(
            name,
            f"{outputs} is not writable: {err.strerror or err}",
            "give the service user write access, or set BROADSHEET_OUTPUTS",
        )
    free = shutil.disk_usage(outputs).free
    growth, basis = weekly_growth(settings, declarations)
    details = {"path": str(outputs.resolve()), "free_bytes": free, "weekly_growth_bytes": growth}
    projection = (
        f"; projected growth {human_size(growth)} a week ({', '.join(basis)})"
        if growth
        else "; no runs yet to project growth from"
    )
    weeks = free / growth if growth else None
    why = f"{human_size(free)} free under {outputs}{projection}"
    if weeks is not None:
        why += f", about {weeks:.0f} weeks of room" if weeks < 520 else ", years of room"
    if free < LOW_DISK or (weeks is not None and weeks < WEEKS_OF_HEADROOM):
        return _warn(
            name,
            why,
            "run `broadsheet prune` (and check each report's retention), or add disk",
            **details,
        )
    return _ok(name, why, **details)


# --- state database ----------------------------------------------------------------------


def check_database(settings: Settings) -> Check:
    """Reachable, and at the newest migration (read only: nothing is created here)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from sqlalchemy import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from runner.state.database import alembic_config, engine_for

    name = "database"
    url = make_url(settings.state_url())
    shown = url.render_as_string(hide_password=True)
    if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).exists():
        return _warn(
            name,
            f"{shown} does not exist yet",
            "nothing to do: the first run creates it",
        )
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    engine = engine_for(settings.state_url())
    try:
        with engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
    except SQLAlchemyError as err:
        return _fail(
            name,
            f"cannot reach {shown}: {type(err.orig or err).__name__}: "
            f"{str(err.orig or err).splitlines()[0]}",
            "check BROADSHEET_DB_URL, the server and its credentials",
        )
    finally:
        engine.dispose()
    if current != head:
        return _warn(
            name,
            f"{shown} is at migration {current or 'none'}, not {head}",
            "nothing to do: the next run or admin start migrates it",
        )
    return _ok(name, f"{shown} reachable, migrated to {head}", backend=url.get_backend_name())


# --- integrations --------------------------------------------------------------------------


def check_salesforce(settings: Settings) -> Check:
    """Sign in, count the Accounts (one API call), report the method and API usage left."""
    from lib import salesforce

    name = "salesforce"
    section = settings.salesforce
    if not section.configured:
        return _ok(name, "not configured: runs use the demo data")
    try:
        client = salesforce.connect(section)
        found = client.call("count of Account", lambda sf: sf.query("SELECT COUNT() FROM Account"))
    except BroadsheetError as err:
        return _fail(name, str(err), "fix the SALESFORCE_* settings named above")
    from lib.salesforce import auth

    accounts = int(found["totalSize"])
    method = getattr(client, "method", None) or ("token" if section.has_token else "password")
    label = auth.LABELS.get(method, method)
    why = f"signed in to {client.instance} with {label}; {accounts:,} Accounts"
    details: dict[str, Any] = {"method": method, "accounts": accounts}
    if client.usage:
        used, limit = client.usage
        details |= {"api_used": used, "api_limit": limit}
        why += f"; API requests used today {used:,} of {limit:,} ({limit - used:,} left)"
        if limit and used > salesforce.USAGE_WARNING * limit:
            return _warn(
                name,
                why,
                "the org is near its daily API limit: runs may be refused; ask for more",
                **details,
            )
    notice = auth.warning(method)
    if notice:
        return _warn(
            name,
            f"{why}; SOAP login() is retired in {PASSWORD_FLOW_RETIREMENT}",
            notice,
            **details,
        )
    return _ok(name, why, **details)


def check_graph(settings: Settings) -> Check:
    """A token for the app, and the sender's mailbox exists (its Sent Items can be read)."""
    from lib.errors import DeliveryError
    from runner.delivery.transports.graph import GraphError, GraphSettings, GraphTransport

    name = "graph"
    section = settings.graph
    if not (section.tenant_id or section.client_id or section.client_secret or section.sender):
        return _ok(name, "not configured (needed only for --deliver graph)")
    try:
        graph = GraphSettings.from_section(section)
        GraphTransport(graph, max_retries=1, timeout=30).probe()
    except ConfigError as err:
        return _fail(name, str(err), "set every GRAPH_* variable named")
    except GraphError as err:
        if err.status == 404:
            return _fail(
                name,
                f"token accepted, but the mailbox {graph.sender} was not found ({err})",
                "set GRAPH_SENDER to an existing mailbox the app may send as",
            )
        if err.status == 403:
            return _warn(
                name,
                f"token accepted; the app may not read {graph.sender}'s Sent Items ({err})",
                "grant Mail.ReadBasic.All (crash recovery checks Sent Items) or scope the "
                "app's access policy to include the mailbox",
            )
        return _fail(name, str(err), "check the app registration's Mail.Send permission")
    except DeliveryError as err:
        return _fail(name, str(err), "check GRAPH_TENANT_ID, GRAPH_CLIENT_ID, GRAPH_CLIENT_SECRET")
    return _ok(name, f"token accepted; mailbox {graph.sender} found", sender=graph.sender)


def check_smtp(settings: Settings) -> Check:
    """Connect, STARTTLS (or implicit TLS), log in, QUIT."""
    from lib.errors import DeliveryError
    from runner.delivery.transports.smtp import SMTPSettings, SMTPTransport

    name = "smtp"
    if not settings.smtp.host:
        return _ok(name, "not configured (needed only for --deliver smtp)")
    try:
        smtp = SMTPSettings.from_section(settings.smtp)
        done = SMTPTransport(replace(smtp, timeout=20.0)).probe()
    except ConfigError as err:
        return _fail(name, str(err), "fix the SMTP_* variable named")
    except DeliveryError as err:
        return _fail(name, str(err), "fix the SMTP_* settings named above")
    except (OSError, smtplib.SMTPException) as err:
        return _fail(
            name,
            f"{smtp.host}:{smtp.port}: {type(err).__name__}: {err}",
            "check SMTP_HOST, SMTP_PORT and SMTP_STARTTLS, and that the server is reachable",
        )
    if smtp.security == "none" and smtp.host not in ("localhost", "127.0.0.1", "::1"):
        return _warn(
            name, done, "SMTP_STARTTLS=false sends in clear text: use it for a local relay only"
        )
    return _ok(name, done)


def check_anthropic(settings: Settings) -> Check:
    """The key is accepted and the model exists: a token count, which costs nothing."""
    name = "anthropic"
    section = settings.anthropic
    if not section.api_key:
        return _ok(name, "not configured: commentary is the labelled fallback")
    import anthropic

    client = anthropic.Anthropic(
        api_key=section.api_key.get_secret_value(),
        base_url=section.base_url,
        max_retries=1,
        timeout=30,
    )
    try:
        client.messages.count_tokens(
            model=section.model, messages=[{"role": "user", "content": "ping"}]
        )
    except anthropic.AuthenticationError:
        return _fail(name, "the API key was refused (401)", "set a valid ANTHROPIC_API_KEY")
    except anthropic.NotFoundError as err:
        return _fail(
            name,
            f"model {section.model!r} not found: {err.message}",
            "set BROADSHEET_COMMENTARY_MODEL to a model the key may use",
        )
    except anthropic.APIStatusError as err:
        return _fail(name, f"{err.status_code}: {err.message}", "check the key and the model")
    except anthropic.APIConnectionError as err:
        return _fail(
            name,
            f"cannot reach {client.base_url}: {err}",
            "check ANTHROPIC_BASE_URL and the network (commentary falls back meanwhile)",
        )
    return _ok(name, f"key accepted; model {section.model}", model=section.model)


# --- cron ----------------------------------------------------------------------------------


def expected_crontab(settings: Settings, declarations: list[Any]) -> str:
    """The block ``broadsheet sync-cron`` writes now (admin toggles included)."""
    from sqlalchemy import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from runner import schedule
    from runner.state.database import engine_for
    from runner.state.view import RunnerView, runner_view

    # Read only: a database not created or migrated yet holds no admin toggle.
    url = make_url(settings.state_url())
    view = RunnerView()
    if url.get_backend_name() != "sqlite" or (url.database and Path(url.database).exists()):
        engine = engine_for(settings.state_url())
        try:
            view = runner_view(engine)
        except SQLAlchemyError:
            log.debug("no admin tables yet", exc_info=True)
        finally:
            engine.dispose()
    decls = [
        d.model_copy(update={"enabled": d.enabled and view.report_enabled(d.name)})
        for d in declarations
    ]
    return schedule.crontab_block(decls, root=ROOT, outputs=settings.outputs.resolve())


def check_crontab(
    settings: Settings, declarations: list[Any], *, read: Callable[[], str] | None = None
) -> Check:
    """The user's crontab holds the block ``sync-cron`` would write, unchanged."""
    from runner import schedule

    name = "crontab"
    try:
        installed = schedule.installed_block((read or schedule.read_crontab)())
    except ConfigError as err:
        return _warn(name, str(err), "apt-get install cron (scripts/system-deps run)")
    expected = expected_crontab(settings, declarations)
    if installed is None:
        return _warn(
            name,
            "no broadsheet block in this user's crontab: nothing runs on schedule",
            "run `broadsheet sync-cron --write` as the service user",
        )
    if installed != expected:
        return _fail(
            name,
            "the installed block differs from what sync-cron would write now",
            "run `broadsheet sync-cron --write` (after any change to parameters/ or admin toggles)",
        )
    jobs = sum(1 for line in expected.splitlines() if line and not line.startswith("#"))
    return _ok(name, f"installed and current ({jobs} lines)")


# --- declarations --------------------------------------------------------------------------


def check_declarations(settings: Settings) -> tuple[list[Check], list[Any]]:
    """Each ``parameters/*.yaml`` loads and matches its notebook's parameters cell."""
    from runner import declarations
    from runner.execution import execute
    from runner.render import system as render_system
    from runner.run import injected

    checks: list[Check] = []
    loaded: list[Any] = []
    paths = sorted(settings.parameters_dir.glob("*.yaml"))
    if not paths:
        return [
            _fail(
                "reports",
                f"no declarations in {settings.parameters_dir}",
                "set BROADSHEET_PARAMETERS_DIR, or add one with `broadsheet new`",
            )
        ], loaded
    for path in paths:
        name = f"report {path.stem}"
        try:
            decl = declarations.load(path)
            notebook = settings.notebooks_dir / decl.notebook
            if not notebook.is_file():
                raise ConfigError(f"notebook {notebook} not found", file=path, field="notebook")
            declared = execute.notebook_parameters(notebook)
            execute.check_parameters(
                notebook,
                {**decl.parameters, **dict.fromkeys(injected(declared), "")},
                declaration=path,
            )
            try:
                render_system.check(decl.outputs)
            except ConfigError as err:
                raise ConfigError(err.detail, file=path, field=err.field) from None
        except BroadsheetError as err:
            checks.append(_fail(name, str(err), "fix the declaration or the notebook named"))
            continue
        loaded.append(decl)
        state = "" if decl.enabled else " (disabled)"
        checks.append(_ok(name, f"{decl.schedule}, fan-out {decl.fan_out}{state}"))
    return checks, loaded


# --- all together --------------------------------------------------------------------------


def _secrets(settings: Settings) -> list[str]:
    values: list[str] = []
    for section in (
        settings.salesforce,
        settings.anthropic,
        settings.smtp,
        settings.graph,
        settings.admin,
    ):
        for value in section.__dict__.values():
            if isinstance(value, SecretStr) and len(value.get_secret_value()) >= 4:
                values.append(value.get_secret_value())
    return values


def _masked(check: Check, secrets: list[str]) -> Check:
    text = [check.why, check.action]
    for secret in secrets:
        text = [t.replace(secret, "***") for t in text]
    return Check(check.name, check.status, text[0], text[1], check.details)


def run_checks(settings: Settings, *, read_crontab: Callable[[], str] | None = None) -> list[Check]:
    """Every check, in order; a check that crashes is reported as failed, not raised."""
    reports, decls = check_declarations(settings)
    steps: list[tuple[str, Callable[[], Check]]] = [
        ("outputs", lambda: check_outputs(settings, decls)),
        ("database", lambda: check_database(settings)),
        ("salesforce", lambda: check_salesforce(settings)),
        ("graph", lambda: check_graph(settings)),
        ("smtp", lambda: check_smtp(settings)),
        ("anthropic", lambda: check_anthropic(settings)),
        ("crontab", lambda: check_crontab(settings, decls, read=read_crontab)),
    ]
    checks = [_ok("settings", "read from the environment and ./.env")]
    for name, step in steps:
        try:
            checks.append(step())
        except Exception as err:  # a doctor reports a broken check; it must not crash
            log.debug("check %s crashed", name, exc_info=True)
            checks.append(
                _fail(name, f"the check itself failed: {type(err).__name__}: {err}", "see -vv")
            )
    checks.extend(reports)
    secrets = _secrets(settings)
    return [_masked(c, secrets) for c in checks]


def settings_failure(err: Exception) -> Check:
    """The check that reports settings that do not parse (the others cannot run)."""
    first = str(err).splitlines()
    return _fail("settings", " ".join(first[:3]), "fix the variable named (environment or .env)")


def exit_status(checks: Iterable[Check]) -> int:
    """1 when any check failed, else 0."""
    return 1 if any(c.status == "fail" for c in checks) else 0


def render(checks: Iterable[Check]) -> str:
    """The text report: one line per check, the action indented under it."""
    checks = list(checks)
    width = max((len(c.name) for c in checks), default=0)
    lines = []
    for c in checks:
        lines.append(f"{c.status:<4}  {c.name:<{width}}  {c.why}")
        if c.action:
            lines.append(f"{'':<4}  {'':<{width}}  → {c.action}")
    counts = {s: sum(1 for c in checks if c.status == s) for s in STATUSES}
    lines.append(
        f"{counts['ok']} ok, {counts['warn']} warn, {counts['fail']} fail "
        f"({datetime.now(UTC).isoformat(timespec='seconds')})"
    )
    return "\n".join(lines)
