"""A Salesforce session that counts, retries and renews its REST requests.

Every request of an extraction goes through :meth:`Client.call`: transient failures are
retried under a :class:`RetryPolicy`, an expired session is renewed once by signing in
again (a new OAuth grant, or a SOAP login), and the org's API usage is read from each
response. How to sign in is :mod:`lib.salesforce.auth`'s business.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
from simple_salesforce import Salesforce, SalesforceLogin
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

from lib.errors import SourceError
from lib.salesforce import auth
from lib.settings import SalesforceSection as Settings

log = logging.getLogger(__name__)

USAGE_WARNING = 0.8
"""Warn when the org has used more than this share of its daily API requests."""
_TRANSIENT_STATUS = frozenset({500, 502, 503, 504})


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
    if isinstance(exc, requests.HTTPError):  # the token endpoint's 5xx
        return exc.response is not None and exc.response.status_code in _TRANSIENT_STATUS
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


class InvalidField(SourceError):
    """A query named a field Salesforce does not show us; :func:`lib.salesforce.fetch` lists them all."""


class Client:
    """A Salesforce session and the bookkeeping an extraction needs.

    Every REST request goes through :meth:`call`, which counts it, retries it under the
    :class:`RetryPolicy`, signs in again once when the session has expired (a new grant
    for the OAuth flows, a SOAP login for the password flow) and keeps the latest
    ``Sforce-Limit-Info``.

    Attributes:
        method: how it signs in (see :func:`lib.salesforce.auth.method`).
        calls: REST requests sent, failed ones and retries included.
        token_requests: OAuth 2.0 token requests sent, failed ones and retries included
            (they do not count against the org's API limit, so apart from ``calls``).
        logins: SOAP logins made.
        usage: ``(used, limit)`` of the org's daily API requests from the last response.
    """

    def __init__(self, settings: Settings, policy: RetryPolicy | None = None) -> None:
        self.settings = settings
        self.policy = policy or RetryPolicy()
        self.method = auth.check(settings)
        self.calls = 0
        self.token_requests = 0
        self.logins = 0
        self.usage: tuple[int, int] | None = None
        self._deadline = time.monotonic() + self.policy.deadline
        self._session = _TimeoutSession(self.policy.timeout)
        # Read before any request: a bad key is a configuration error, not a refusal.
        self._key = (
            auth.load_private_key(settings.private_key_file)  # type: ignore[arg-type]
            if self.method == "jwt"
            else None
        )
        notice = auth.warning(self.method)
        if notice:
            log.warning("%s", notice)
        if self.method == "token":
            self.sf = _compact(
                Salesforce(
                    instance_url=settings.instance_url,
                    session_id=settings.access_token.get_secret_value(),  # type: ignore[union-attr]
                    version=settings.api_version,
                    session=self._session,
                )
            )
        else:
            self.sf = self._sign_in()

    @property
    def instance(self) -> str:
        """Host (and port) of the org's instance, e.g. ``acme.my.salesforce.com``."""
        return self.sf.sf_instance

    def _sign_in(self) -> Salesforce:
        """A new session by the configured method (never for a fixed token)."""
        return self._grant() if self.method in auth.OAUTH else self._login()

    def _grant(self) -> Salesforce:
        s = self.settings

        def grant() -> auth.Token:
            self.token_requests += 1
            return auth.request_token(s, self.method, self._session, self._key)

        token = self._retrying("token request", grant)
        log.info(
            "signed in to Salesforce instance %s (%s)", token.instance_url, auth.LABELS[self.method]
        )
        return _compact(
            Salesforce(
                instance_url=token.instance_url,
                session_id=token.access_token.get_secret_value(),
                version=s.api_version,
                session=self._session,
            )
        )

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
                if self.method == "token":
                    raise SourceError(
                        "Salesforce rejected the access token (INVALID_SESSION_ID: session "
                        "expired or invalid). Set a fresh SALESFORCE_ACCESS_TOKEN, or let "
                        "Broadsheet sign in by itself with the JWT bearer flow "
                        "(SALESFORCE_CLIENT_ID, SALESFORCE_USERNAME, SALESFORCE_PRIVATE_KEY_FILE) "
                        "or client credentials (SALESFORCE_CLIENT_ID, SALESFORCE_CLIENT_SECRET)"
                    ) from None
                # Once: a session that is refused right after a fresh sign-in will not be
                # accepted by signing in yet again. The same request is repeated, so a
                # walk through pages resumes at the page that was refused.
                log.info("Salesforce session expired during %s; signing in again", what)
                self.sf = self._sign_in()
                self.calls += 1
                try:
                    result = fn(self.sf)
                except SalesforceExpiredSession:
                    raise SourceError(
                        "Salesforce refused a fresh session straight after signing in again "
                        f"({auth.LABELS[self.method]}; INVALID_SESSION_ID); check the "
                        "integration user's API Enabled permission"
                        + (
                            " and the connected app's OAuth scopes (api)"
                            if self.method in auth.OAUTH
                            else ""
                        )
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
                raise InvalidField(_describe_failure(exc)) from None
            raise SourceError(f"Salesforce {what} failed: {_describe_failure(exc)}") from None
        except requests.exceptions.SSLError as exc:
            raise SourceError(
                f"TLS verification failed talking to Salesforce ({exc}); if a proxy "
                "intercepts TLS, point REQUESTS_CA_BUNDLE at its CA bundle"
            ) from None

    def api_report(self) -> dict[str, Any]:
        """``{"auth", "calls", "token_requests", "logins", "used", "limit", "instance"}``
        for the manifest and run.json (no secret among them)."""
        used, limit = self.usage or (None, None)
        if used is not None and limit and used > USAGE_WARNING * limit:
            log.warning(
                "Salesforce API usage is at %.0f%% of the org's daily limit (%s of %s)",
                100 * used / limit,
                f"{used:,}",
                f"{limit:,}",
            )
        return {
            "auth": self.method,
            "calls": self.calls,
            "token_requests": self.token_requests,
            "logins": self.logins,
            "used": used,
            "limit": limit,
            "instance": self.instance,
        }


def connect(settings: Settings, policy: RetryPolicy | None = None) -> Client:
    """Open a session by the configured method (see :mod:`lib.salesforce.auth`).

    Raises:
        ConfigError: nothing configured, a half-configured method or a bad key file,
            naming the variables or the file; or credentials Salesforce refused.
        SourceError: the login was refused or the login host unreachable.
    """
    return Client(settings, policy)
