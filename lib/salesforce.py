"""Extract Broadsheet's three tables from Salesforce (domain §2) with few API calls.

One extraction serves every report of a run: users and accounts in full (a page or two),
applications in full or, given an earlier snapshot of the same org, only those changed
since it. Pages are fetched one at a time (``query``, then ``query_more`` on
``nextRecordsUrl``, the walk ``query_all_iter`` does) so that a retry resumes at the page
that failed, and each page is converted to a small typed frame straight away so memory
stays bounded by the result, not by the JSON.

Configuration comes from ``SALESFORCE_*`` variables (environment or ``.env``); secrets
are held as ``SecretStr`` and never logged.

Typical use (what ``runner/extract.py`` does for ``--source salesforce``)::

    settings = Settings.from_env()                     # ConfigError names what is missing
    root = snapshot.default_dir(outputs, "salesforce", as_of).parent
    previous = None if full else previous_snapshot(root, as_of)
    tables, api = extract_tables(settings, as_of=as_of, previous=previous, full=full)
    snapshot.write(tables, out, source="salesforce", as_of=as_of, extra={"api": api})
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any

import pandas as pd
import requests
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from simple_salesforce import Salesforce, SalesforceLogin, format_soql
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceError,
    SalesforceExpiredSession,
)
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_any,
    wait_exponential_jitter,
)

from lib import snapshot
from lib.errors import ConfigError, SnapshotError, SourceError
from lib.periods import LONDON

log = logging.getLogger(__name__)

SOURCE = "salesforce"
DEFAULT_API_VERSION = "62.0"
BATCH_SIZE = 2000
"""Records per page asked for with ``Sforce-Query-Options``; 2,000 is Salesforce's maximum."""
OVERLAP = timedelta(hours=1)
"""Incremental refresh re-reads this much before the previous snapshot's newest change:
``SystemModstamp`` is stamped when a transaction starts, so a long one can commit a record
stamped earlier than others the previous extraction already saw."""
USAGE_WARNING = 0.8
"""Warn when the org has used more than this share of its daily API requests."""

_SOBJECTS = {"users": "User", "accounts": "Account", "applications": "Application__c"}
_KINDS = {"id": "str", "string": "str", "email": "str", "picklist": "str", "currency": "float"}
TABLES: dict[str, tuple[str, dict[str, str]]] = {
    table: (_SOBJECTS[table], {col: _KINDS.get(t, t) for col, t in columns.items()})
    for table, columns in snapshot.SCHEMA.items()
}
"""Table -> (Salesforce object, field -> conversion): exactly the snapshot's columns."""
PICKLISTS: dict[tuple[str, str], frozenset[str]] = {
    ("accounts", "Retailer_Status__c"): frozenset({"Onboarding", "Live", "Suspended", "Closed"}),
    ("applications", "Status__c"): frozenset(
        {"Submitted", "Referred", "Approved", "Declined", "Signed", "Paid", "Cancelled"}
    ),
    ("applications", "Decision__c"): frozenset({"Approved", "Declined"}),
}
# Business events after Submitted_Date__c, latest stage last (the order Status__c follows).
LATER_EVENTS = ("Decision_Date__c", "Signed_Date__c", "Paid_Date__c", "Cancelled_Date__c")
_SF_DATETIME = "%Y-%m-%dT%H:%M:%S.%f%z"
_TRANSIENT_STATUS = frozenset({500, 502, 503, 504})


# --------------------------------------------------------------------------- settings
class Settings(BaseSettings):
    """How to reach Salesforce: an access token, or a username and password, or both.

    With both, the token is used first and the password only to log in again when the
    session expires.
    """

    model_config = SettingsConfigDict(env_prefix="SALESFORCE_", env_file=".env", extra="ignore")

    instance_url: str | None = None
    access_token: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
    security_token: SecretStr | None = None  # may be empty: orgs with trusted IP ranges
    domain: str = "login"
    api_version: str = DEFAULT_API_VERSION

    @classmethod
    def from_env(cls, *, env_file: str | Path | None = ".env") -> Settings:
        """Read ``SALESFORCE_*`` from the environment (and ``env_file``) and check them.

        Raises:
            ConfigError: nothing configured, or a half-configured method, naming the
                missing variables (exit status 2).
        """
        settings = cls(_env_file=env_file)  # type: ignore[call-arg]
        settings.check()
        return settings

    @property
    def has_token(self) -> bool:
        return bool(self.instance_url) and bool(
            self.access_token and self.access_token.get_secret_value()
        )

    @property
    def can_login(self) -> bool:
        return bool(self.username) and bool(self.password) and self.security_token is not None

    def check(self) -> None:
        """Refuse missing or partial configuration, naming what to set."""
        token = {
            "SALESFORCE_INSTANCE_URL": bool(self.instance_url),
            "SALESFORCE_ACCESS_TOKEN": bool(
                self.access_token and self.access_token.get_secret_value()
            ),
        }
        login = {
            "SALESFORCE_USERNAME": bool(self.username),
            "SALESFORCE_PASSWORD": bool(self.password and self.password.get_secret_value()),
            "SALESFORCE_SECURITY_TOKEN": self.security_token is not None,
        }
        if not any(token.values()) and not any(login.values()):
            raise ConfigError(
                "Salesforce is not configured: set SALESFORCE_INSTANCE_URL and "
                "SALESFORCE_ACCESS_TOKEN, or SALESFORCE_USERNAME, SALESFORCE_PASSWORD and "
                "SALESFORCE_SECURITY_TOKEN (in the environment or .env)"
            )
        # A half-set method is a mistake even when the other one is complete: it would
        # silently leave the run without the re-login (or token) the operator meant to give.
        for group in (token, login):
            missing = [name for name, present in group.items() if not present]
            if any(group.values()) and missing:
                given = [name for name, present in group.items() if present]
                raise ConfigError(
                    f"Salesforce is partly configured: {', '.join(missing)} missing "
                    f"(set alongside {', '.join(given)})"
                )
        if self.instance_url and not re.match(r"^https://[^/\s]+/?$", self.instance_url):
            raise ConfigError(
                "must look like https://yourorg.my.salesforce.com", field="SALESFORCE_INSTANCE_URL"
            )
        if not re.fullmatch(
            r"[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*", self.domain
        ) or self.domain.endswith("salesforce.com"):
            raise ConfigError(
                f"{self.domain!r} is not a login domain: use 'login', 'test' or your My "
                "Domain prefix such as 'acme.my'",
                field="SALESFORCE_DOMAIN",
            )
        if not re.fullmatch(r"\d+\.0", self.api_version):
            raise ConfigError(
                f"{self.api_version!r} is not an API version such as '62.0'",
                field="SALESFORCE_API_VERSION",
            )


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try before giving up; the defaults suit a 07:00 cron run.

    Attributes:
        attempts: tries per request, the first included.
        wait_initial: first back-off in seconds; doubles each time, plus jitter.
        wait_max: longest single back-off.
        deadline: seconds from the start of the extraction after which no retry starts.
        timeout: seconds to wait for a response before treating the request as failed.
    """

    attempts: int = 5
    wait_initial: float = 2.0
    wait_max: float = 60.0
    deadline: float = 900.0
    timeout: float = 120.0


# --------------------------------------------------------------------------- client
class _TimeoutSession(requests.Session):
    """A session with a default timeout: ``simple_salesforce`` sets none, not even on login."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self._timeout = timeout

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", self._timeout)
        return super().request(method, url, *args, **kwargs)


def _compact(sf: Salesforce) -> Salesforce:
    """Ask for compact JSON: simple_salesforce sends ``X-PrettyPrint: 1``, about a third
    more bytes on every page for nobody to read."""
    sf.headers.pop("X-PrettyPrint", None)
    return sf


def _errors(exc: SalesforceError) -> list[tuple[str, str]]:
    """``(errorCode, message)`` pairs of a Salesforce error body (a JSON list)."""
    content = exc.content
    if isinstance(content, list):
        return [
            (str(e.get("errorCode", "")), str(e.get("message", "")))
            for e in content
            if isinstance(e, dict)
        ]
    return [("", content.decode(errors="replace") if isinstance(content, bytes) else str(content))]


def _has_code(exc: BaseException, code: str, text: str = "") -> bool:
    return isinstance(exc, SalesforceError) and any(
        c == code and text in m for c, m in _errors(exc)
    )


def _is_transient(exc: BaseException) -> bool:
    """Worth retrying: the same request may well succeed in a moment."""
    if isinstance(exc, requests.exceptions.SSLError):
        return False  # a certificate problem does not fix itself
    if isinstance(exc, requests.ConnectionError | requests.Timeout):
        return True
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return True
    if isinstance(exc, SalesforceAuthenticationFailed):
        return exc.code in _TRANSIENT_STATUS  # login host briefly down: code is the status
    if isinstance(exc, SalesforceError):
        if exc.status in _TRANSIENT_STATUS:
            return True
        # Too many long-running requests at once org-wide: they finish within seconds.
        return _has_code(exc, "REQUEST_LIMIT_EXCEEDED", "ConcurrentPerOrgLongTxn")
    return False


def _describe_failure(exc: BaseException) -> str:
    if isinstance(exc, SalesforceAuthenticationFailed):
        return str(exc)
    if isinstance(exc, SalesforceError):
        detail = "; ".join(f"{c}: {m.strip()}" if c else m.strip() for c, m in _errors(exc))
        return f"HTTP {exc.status} {detail}"
    return f"{type(exc).__name__}: {exc}"


class _InvalidField(SourceError):
    """A query named a field Salesforce does not show us; :func:`fetch` lists them all."""


class Client:
    """A Salesforce session and the bookkeeping an extraction needs.

    Every REST request goes through :meth:`call`, which counts it, retries it under the
    :class:`RetryPolicy`, logs in again once when the session has expired (if a username
    and password are configured) and keeps the latest ``Sforce-Limit-Info``.

    Attributes:
        calls: REST requests sent, failed ones and retries included.
        logins: SOAP logins made.
        usage: ``(used, limit)`` of the org's daily API requests from the last response.
    """

    def __init__(self, settings: Settings, policy: RetryPolicy | None = None) -> None:
        self.settings = settings
        self.policy = policy or RetryPolicy()
        self.calls = 0
        self.logins = 0
        self.usage: tuple[int, int] | None = None
        self._deadline = time.monotonic() + self.policy.deadline
        self._session = _TimeoutSession(self.policy.timeout)
        if settings.has_token:
            self.sf = _compact(
                Salesforce(
                    instance_url=settings.instance_url,
                    session_id=settings.access_token.get_secret_value(),  # type: ignore[union-attr]
                    version=settings.api_version,
                    session=self._session,
                )
            )
        else:
            self.sf = self._login()

    @property
    def instance(self) -> str:
        """Host (and port) of the org's instance, e.g. ``acme.my.salesforce.com``."""
        return self.sf.sf_instance

    def _login(self) -> Salesforce:
        s = self.settings

        def login() -> tuple[str, str]:
            self.logins += 1
            return SalesforceLogin(
                username=s.username,
                password=s.password.get_secret_value(),  # type: ignore[union-attr]
                security_token=s.security_token.get_secret_value(),  # type: ignore[union-attr]
                domain=s.domain,
                sf_version=s.api_version,
                session=self._session,
            )

        try:
            session_id, instance = self._retrying("login", login)
        except SalesforceAuthenticationFailed as exc:
            raise SourceError(
                f"Salesforce login failed ({exc}); check SALESFORCE_USERNAME, "
                "SALESFORCE_PASSWORD, SALESFORCE_SECURITY_TOKEN and SALESFORCE_DOMAIN"
            ) from None
        log.info("logged in to Salesforce instance %s", instance)
        return _compact(
            Salesforce(
                instance=instance,
                session_id=session_id,
                version=s.api_version,
                session=self._session,
            )
        )

    def _retrying(self, what: str, fn: Callable[[], Any]) -> Any:
        def past_deadline(_: RetryCallState) -> bool:
            return time.monotonic() >= self._deadline

        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            log.warning(
                "Salesforce %s failed (attempt %d of %d): %s; retrying in %.1f s",
                what,
                state.attempt_number,
                self.policy.attempts,
                _describe_failure(exc) if exc else "?",
                state.next_action.sleep if state.next_action else 0.0,
            )

        p = self.policy
        retrying = Retrying(
            retry=retry_if_exception(_is_transient),
            wait=wait_exponential_jitter(
                multiplier=p.wait_initial, max=p.wait_max, jitter=p.wait_initial
            ),
            stop=stop_any(stop_after_attempt(p.attempts), past_deadline),
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            return retrying(fn)
        except Exception as exc:
            if not _is_transient(exc):
                raise
            attempts = retrying.statistics.get("attempt_number", 1)
            raise SourceError(
                f"Salesforce {what} still failing after {attempts} attempts: "
                f"{_describe_failure(exc)}. Nothing was written; run the extraction again later"
            ) from None

    def call(self, what: str, fn: Callable[[Salesforce], Any]) -> Any:
        """Run one REST request ``fn(sf)`` with counting, retries and session renewal.

        Raises:
            SourceError: a failure that retrying cannot fix, or retries exhausted.
        """

        def attempt() -> Any:
            self.calls += 1
            try:
                result = fn(self.sf)
            except SalesforceExpiredSession as exc:
                if not _has_code(exc, "INVALID_SESSION_ID"):
                    raise
                if not self.settings.can_login:
                    raise SourceError(
                        "Salesforce rejected the access token (INVALID_SESSION_ID: session "
                        "expired or invalid). Set a fresh SALESFORCE_ACCESS_TOKEN, or set "
                        "SALESFORCE_USERNAME, SALESFORCE_PASSWORD and SALESFORCE_SECURITY_TOKEN "
                        "so Broadsheet can log in again by itself"
                    ) from None
                # Once: a session that is refused right after a fresh login will not be
                # accepted by logging in yet again.
                log.info("Salesforce session expired during %s; logging in again", what)
                self.sf = self._login()
                self.calls += 1
                try:
                    result = fn(self.sf)
                except SalesforceExpiredSession:
                    raise SourceError(
                        "Salesforce refused a fresh session straight after logging in "
                        "(INVALID_SESSION_ID); check the integration user's API access"
                    ) from None
            usage = self.sf.api_usage.get("api-usage")
            if usage is not None:
                self.usage = (usage.used, usage.total)
            return result

        try:
            return self._retrying(what, attempt)
        except SalesforceError as exc:
            if _has_code(exc, "REQUEST_LIMIT_EXCEEDED", "TotalRequests"):
                used = f" ({self.usage[0]:,}/{self.usage[1]:,})" if self.usage else ""
                raise SourceError(
                    f"Salesforce refused the {what}: the org's daily API request limit is "
                    f"used up{used} (REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded). "
                    "Not retried; run again when the rolling 24-hour usage has dropped, or "
                    "ask for a higher limit"
                ) from None
            if _has_code(exc, "INVALID_FIELD"):
                raise _InvalidField(_describe_failure(exc)) from None
            raise SourceError(f"Salesforce {what} failed: {_describe_failure(exc)}") from None
        except requests.exceptions.SSLError as exc:
            raise SourceError(
                f"TLS verification failed talking to Salesforce ({exc}); if a proxy "
                "intercepts TLS, point REQUESTS_CA_BUNDLE at its CA bundle"
            ) from None

    def api_report(self) -> dict[str, Any]:
        """``{"calls", "used", "limit", "logins", "instance"}`` for the manifest and run.json."""
        used, limit = self.usage or (None, None)
        if used is not None and limit and used > USAGE_WARNING * limit:
            log.warning(
                "Salesforce API usage is at %.0f%% of the org's daily limit (%s of %s)",
                100 * used / limit,
                f"{used:,}",
                f"{limit:,}",
            )
        return {
            "calls": self.calls,
            "used": used,
            "limit": limit,
            "logins": self.logins,
            "instance": self.instance,
        }


def connect(settings: Settings, policy: RetryPolicy | None = None) -> Client:
    """Open a session: the access token if given, else a SOAP login.

    Raises:
        SourceError: the login was refused or the login host unreachable.
    """
    return Client(settings, policy)


# --------------------------------------------------------------------------- queries
def soql(table: str, where: str = "") -> str:
    """``SELECT <the §2 fields> FROM <object>`` plus a WHERE built with ``format_soql``."""
    sobject, fields = TABLES[table]
    return f"SELECT {', '.join(fields)} FROM {sobject}" + (f" WHERE {where}" if where else "")


def _cutoff(as_of: date) -> datetime:
    """The end of ``as_of`` in London, in UTC: the first instant not in the snapshot."""
    return datetime.combine(as_of + timedelta(days=1), dtime(), tzinfo=LONDON).astimezone(UTC)


def fetch(
    client: Client, table: str, where: str = "", *, batch_size: int = BATCH_SIZE
) -> pd.DataFrame:
    """All rows of ``table`` matching ``where``, page by page, in stored types.

    Raises:
        SourceError: fields hidden by field-level security (listed), or any failure
            retrying cannot fix.
    """
    sobject, _ = TABLES[table]
    headers = {"Sforce-Query-Options": f"batchSize={batch_size}"}
    query = soql(table, where)
    frames = []
    try:
        page = client.call(f"query of {sobject}", lambda sf: sf.query(query, headers=headers))
        n = 1
        frames.append(_frame(table, page["records"]))
        while not page["done"]:
            url = page["nextRecordsUrl"]
            n += 1
            page = client.call(
                f"page {n} of {sobject}",
                lambda sf, url=url: sf.query_more(url, identifier_is_url=True, headers=headers),
            )
            frames.append(_frame(table, page["records"]))
    except _InvalidField as exc:
        _raise_hidden_fields(client, table, exc)
    log.info("fetched %d %s in %d page(s)", sum(len(f) for f in frames), table, len(frames))
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def count(client: Client, table: str, where: str = "") -> int:
    """``SELECT COUNT() FROM <object> WHERE …``: one call, no records."""
    sobject, _ = TABLES[table]
    query = f"SELECT COUNT() FROM {sobject}" + (f" WHERE {where}" if where else "")
    return int(client.call(f"count of {sobject}", lambda sf: sf.query(query))["totalSize"])


def _raise_hidden_fields(client: Client, table: str, exc: SourceError) -> None:
    """INVALID_FIELD names one field; describe the object to list every one we lack."""
    sobject, fields = TABLES[table]
    described = client.call(
        f"describe of {sobject}", lambda sf: sf.restful(f"sobjects/{sobject}/describe")
    )
    visible = {f["name"] for f in described.get("fields", [])}
    missing = [f for f in fields if f not in visible]
    if not missing:
        raise SourceError(f"Salesforce query of {sobject} failed: {exc}") from None
    raise SourceError(_missing_message(sobject, missing)) from None


def _missing_message(sobject: str, missing: list[str]) -> str:
    return (
        f"Salesforce does not return these {sobject} fields: {', '.join(missing)}. Give the "
        "integration user read access to them (field-level security) or check that they exist"
    )


# --------------------------------------------------------------------------- conversion
def _frame(table: str, records: list[dict[str, Any]]) -> pd.DataFrame:
    """One page of REST records as a frame of stored types (domain §2, architecture)."""
    sobject, types = TABLES[table]
    if records:
        missing = [f for f in types if f not in records[0]]
        if missing:
            raise SourceError(_missing_message(sobject, missing))
    columns: dict[str, Any] = {}
    for name, kind in types.items():
        values = [r[name] for r in records]
        try:
            columns[name] = _convert(values, kind)
        except (ValueError, TypeError) as exc:
            raise SourceError(f"Salesforce {sobject}.{name}: unexpected value ({exc})") from None
    return pd.DataFrame(columns)


def _convert(values: list[Any], kind: str) -> Any:
    if kind == "str":
        return pd.Series(values, dtype="str")
    if kind == "float":
        return pd.Series(values, dtype="float64")
    if kind == "bool":
        if any(v is None for v in values):
            raise ValueError("null in a checkbox field")
        return pd.Series(values, dtype="bool")
    if kind == "date":
        return pd.Series([date.fromisoformat(v) if v else None for v in values], dtype="object")
    if kind == "datetime":
        parsed = pd.to_datetime(pd.Series(values, dtype="object"), format=_SF_DATETIME, utc=True)
        return parsed.astype("datetime64[us, UTC]")
    raise AssertionError(kind)


def cut_at(applications: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """Nothing after ``as_of``: the state of the applications at the end of that day.

    Applications submitted later are dropped. Later events (decision, signing, payout,
    cancellation) are cleared, as the demo source does; ``Decision__c`` goes with its
    date, and ``Status__c`` of a row that lost an event is re-derived from the events
    left, latest stage first. Salesforce cannot say whether an undecided application
    was ``Referred`` at the time, so it becomes ``Submitted``. ``SystemModstamp`` is the
    record's version, not an event, and is kept as Salesforce reported it.
    """
    cutoff = pd.Timestamp(_cutoff(as_of))
    apps = applications[applications["Submitted_Date__c"] < cutoff].copy()
    clipped = pd.Series(False, index=apps.index)
    for col in LATER_EVENTS:
        late = apps[col] >= cutoff
        clipped |= late
        apps.loc[late, col] = pd.NaT
    if clipped.any():
        undecided = apps["Decision_Date__c"].isna() & clipped
        apps.loc[undecided, "Decision__c"] = None
        rows = apps[clipped]
        stage = pd.Series("Submitted", index=rows.index, dtype="str")
        decided = rows["Decision_Date__c"].notna()
        stage[decided] = rows.loc[decided, "Decision__c"].fillna("Submitted")
        for col, label in (
            ("Signed_Date__c", "Signed"),
            ("Paid_Date__c", "Paid"),
            ("Cancelled_Date__c", "Cancelled"),
        ):
            stage[rows[col].notna()] = label
        apps.loc[clipped, "Status__c"] = stage
        log.info(
            "%d applications had events after %s; those events are left out",
            int(clipped.sum()),
            as_of,
        )
    return apps


def _onboarded_by(accounts: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """Accounts as at ``as_of``: an onboarding date after it is not known yet (null, as
    while onboarding). The status is left as Salesforce has it: its history is not kept."""
    late = accounts["Onboarded_Date__c"].map(lambda d: d is not None and d > as_of)
    if not late.any():
        return accounts
    accounts = accounts.copy()
    accounts.loc[late, "Onboarded_Date__c"] = None
    log.info("%d accounts were onboarded after %s; their date is left out", int(late.sum()), as_of)
    return accounts


def _warn_picklists(tables: Mapping[str, pd.DataFrame]) -> None:
    for (table, column), allowed in PICKLISTS.items():
        values = tables[table][column].dropna()
        odd = values[~values.isin(allowed)]
        if len(odd):
            counts = odd.value_counts()
            shown = ", ".join(f"{v!r} ({n})" for v, n in counts.head(5).items())
            log.warning(
                "%s.%s has values outside domain §2, kept as they are: %s",
                TABLES[table][0],
                column,
                shown,
            )


# --------------------------------------------------------------------------- extraction
def previous_snapshot(root: Path, as_of: date) -> Path | None:
    """The latest snapshot directory under ``root`` with an ``as_of`` on or before ``as_of``.

    Args:
        root: ``<outputs>/snapshots/salesforce`` (directories named ``YYYY-MM-DD``).
        as_of: the date being extracted; a later snapshot is never used, since rows it
            holds may already carry events this one must leave out.
    """
    if not root.is_dir():
        return None
    candidates = []
    for child in root.iterdir():
        try:
            day = date.fromisoformat(child.name)
        except ValueError:
            continue
        if day <= as_of and (child / "manifest.json").is_file():
            candidates.append((day, child))
    return max(candidates)[1] if candidates else None


def _load_previous(previous: Path, instance: str) -> tuple[pd.DataFrame, date] | None:
    """The previous snapshot's applications and ``as_of``; None (reason logged) if unusable."""
    try:
        snap = snapshot.load(previous)
    except SnapshotError as exc:
        log.warning("previous snapshot unusable, doing a full refresh: %s", exc)
        return None
    manifest = snap.manifest
    if manifest.get("source") != SOURCE:
        log.warning("previous snapshot %s is not from Salesforce; full refresh", previous)
        return None
    if (manifest.get("api") or {}).get("instance") != instance:
        log.warning("previous snapshot %s is from another Salesforce org; full refresh", previous)
        return None
    apps = snap.applications[list(TABLES["applications"][1])]
    if apps.empty or apps["SystemModstamp"].isna().all():
        return None
    return apps, date.fromisoformat(str(manifest["as_of"]))


def extract_tables(
    settings: Settings,
    *,
    as_of: date,
    previous: Path | None = None,
    full: bool = False,
    policy: RetryPolicy | None = None,
    batch_size: int = BATCH_SIZE,
) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """Extract users, accounts and applications as at the end of ``as_of``.

    Users and accounts are read in full. Applications are read in full when ``full`` is
    set or no usable ``previous`` snapshot (same source, same org) is given; otherwise
    only those that may differ from it: changed since its newest ``SystemModstamp``
    less :data:`OVERLAP`, or carrying an event after its ``as_of`` (left out of it then,
    due now). They replace the previous rows by ``Id``. A ``COUNT()`` then checks the
    merged total; a mismatch (deleted records) falls back to a full read.

    Args:
        settings: connection settings, see :class:`Settings`.
        as_of: the last day of data; nothing later is kept (see :func:`cut_at`).
        previous: an earlier snapshot directory of this source (see
            :func:`previous_snapshot`).
        full: read everything even if ``previous`` is given.
        policy: retries, back-off, deadline and timeouts.
        batch_size: records per page (200–2,000).

    Returns:
        ``(tables, api)``: the three tables in stored types, sorted by ``Id``, and
        ``{"calls", "used", "limit", "logins", "instance", "refresh", "since"}`` for the
        snapshot manifest and ``run.json``.

    Raises:
        SourceError: Salesforce could not be read; the message says how to fix it.
    """
    client = connect(settings, policy)
    cutoff = _cutoff(as_of)
    users = fetch(client, "users", batch_size=batch_size)
    accounts = fetch(client, "accounts", batch_size=batch_size)
    in_range = format_soql("Submitted_Date__c < {}", cutoff)

    loaded = None if full or previous is None else _load_previous(previous, client.instance)
    since: datetime | None = None
    apps: pd.DataFrame | None = None
    if loaded is not None:
        prev, prev_as_of = loaded
        since = prev["SystemModstamp"].max().to_pydatetime() - OVERLAP
        # Rows whose events fell after the previous as_of were cut there; re-read them.
        prev_cutoff = _cutoff(min(prev_as_of, as_of))
        changed = format_soql(
            "(SystemModstamp > {since} OR Submitted_Date__c >= {cut} OR Decision_Date__c >= {cut}"
            " OR Signed_Date__c >= {cut} OR Paid_Date__c >= {cut} OR Cancelled_Date__c >= {cut})",
            since=since,
            cut=prev_cutoff,
        )
        fresh = fetch(client, "applications", f"{in_range} AND {changed}", batch_size=batch_size)
        kept = prev[~prev["Id"].isin(fresh["Id"])]
        apps = pd.concat([kept, fresh], ignore_index=True) if len(fresh) else kept
        expected = count(client, "applications", in_range)
        if expected != len(apps):
            log.warning(
                "incremental refresh gives %d applications but Salesforce has %d (records "
                "deleted?); reading them all",
                len(apps),
                expected,
            )
            apps, since = None, None
        else:
            log.info("incremental refresh: %d changed applications since %s", len(fresh), since)
    if apps is None:
        apps = fetch(client, "applications", in_range, batch_size=batch_size)

    tables = {
        "users": users,
        "accounts": _onboarded_by(accounts, as_of),
        "applications": cut_at(apps, as_of),
    }
    tables = {k: v.sort_values("Id", kind="stable", ignore_index=True) for k, v in tables.items()}
    _warn_picklists(tables)
    api = client.api_report()
    api["refresh"] = "incremental" if since is not None else "full"
    api["since"] = since.isoformat() if since is not None else None
    return tables, api
