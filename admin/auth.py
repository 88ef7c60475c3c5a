"""Who may use the admin: the admin key, sessions for the page, CSRF, and slowing guessers.

Two ways in, both ending in :func:`Auth.require`:

- API clients send the key in ``X-Admin-Key`` on every request.
- The page logs in once with the key (``POST /api/session``) and gets a session cookie:
  signed with a secret derived from the key (itsdangerous), ``HttpOnly`` and
  ``SameSite=Strict``, naming a server-side session that logging out deletes, so a copied
  cookie dies with the session. State-changing requests made with the cookie must carry
  the session's CSRF token in ``X-CSRF-Token`` (a header a cross-site form cannot set).

Keys are compared in constant time. A request with the right key is always let in: nobody
can lock the key's owner out. Wrong keys are throttled per client (a few free, then twice
as long after every further one, answered 429 while the client waits), which keeps a
guesser's noise in the log bounded; what makes guessing hopeless is the key's length (at
least 32 characters, refused otherwise). The client is the peer's address, or, when the
peer is a trusted proxy (``BROADSHEET_TRUSTED_PROXIES``), the address that proxy forwards
(``admin/app.py`` installs uvicorn's proxy-headers middleware for exactly those peers).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import HTTPException, Request
from fastapi.security import APIKeyHeader
from itsdangerous import BadSignature, URLSafeTimedSerializer

from lib.errors import ConfigError

log = logging.getLogger(__name__)

KEY_ENV = "BROADSHEET_ADMIN_KEY"
COOKIE = "broadsheet_admin"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SESSION_SECONDS = 8 * 3600
MIN_KEY_LENGTH = 32
MAKE_KEY = 'python -c "import secrets; print(secrets.token_urlsafe(32))"'

# Declared for OpenAPI (so clients and schemathesis know the scheme); checked by Auth.
api_key_header = APIKeyHeader(name="X-Admin-Key", auto_error=False, description="the admin key")


def check_key(key: str | None) -> str:
    """The admin key, or a ConfigError saying how to set one.

    Raises:
        ConfigError: no key, or one shorter than :data:`MIN_KEY_LENGTH` (the admin refuses
            to start with either; the message says how to make a good one, never the key).
    """
    if not key or not key.strip():
        raise ConfigError(
            f"{KEY_ENV} is not set; the admin refuses to start without a key. Make one with "
            f"{MAKE_KEY}"
        )
    if len(key) < MIN_KEY_LENGTH:
        raise ConfigError(
            f"{KEY_ENV} has {len(key)} characters; the admin needs a random key of at least "
            f"{MIN_KEY_LENGTH}. Make one with {MAKE_KEY}"
        )
    return key


class Throttle:
    """Per-client exponential back-off after repeated failures.

    ``free`` failures cost nothing; the next waits ``base`` seconds, then twice as long
    after each further failure, up to ``cap``. Success forgets the client. At most
    ``clients`` addresses are remembered (the oldest forgotten first), so a flood of
    addresses cannot exhaust memory.
    """

    def __init__(
        self,
        *,
        free: int = 3,
        base: float = 1.0,
        cap: float = 300.0,
        clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.free, self.base, self.cap, self.clients, self.clock = free, base, cap, clients, clock
        self._state: OrderedDict[str, tuple[int, float]] = OrderedDict()  # failures, until
        self._lock = threading.Lock()

    def wait(self, client: str) -> float:
        """Seconds ``client`` must still wait before it may try again (0: go ahead)."""
        with self._lock:
            _, until = self._state.get(client, (0, 0.0))
        return max(0.0, until - self.clock())

    def fail(self, client: str) -> float:
        """Record a failure; returns how long the client must now wait."""
        with self._lock:
            failures, _ = self._state.pop(client, (0, 0.0))
            failures += 1
            delay = (
                0.0
                if failures <= self.free
                else min(self.cap, self.base * 2 ** (failures - self.free - 1))
            )
            self._state[client] = (failures, self.clock() + delay)
            while len(self._state) > self.clients:
                self._state.popitem(last=False)
        log.warning("admin: failed authentication from %s (%d in a row)", client, failures)
        return delay

    def succeed(self, client: str) -> None:
        """Forget the client's failures."""
        with self._lock:
            self._state.pop(client, None)


@dataclass(frozen=True)
class Principal:
    """Who made a request: ``via`` is ``key`` or ``session``."""

    via: str
    csrf_token: str | None = None
    session_id: str | None = None


class Auth:
    """The admin key, the sessions of logged-in pages and the failure throttle."""

    def __init__(
        self,
        key: str,
        *,
        throttle: Throttle | None = None,
        max_age: int = SESSION_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        key = check_key(key)
        # Keys are compared as digests: equal lengths, so compare_digest leaks nothing.
        self._digest = hashlib.sha256(key.encode()).digest()
        secret = hmac.new(key.encode(), b"broadsheet admin session", hashlib.sha256).hexdigest()
        self._signer = URLSafeTimedSerializer(secret, salt="broadsheet-admin-session")
        self._sessions: dict[str, tuple[str, float]] = {}  # id -> (csrf token, expires)
        self._lock = threading.Lock()
        self.max_age, self.clock = max_age, clock
        self.throttle = throttle or Throttle()

    def key_matches(self, presented: str) -> bool:
        """Constant-time comparison of a presented key with the admin key."""
        return hmac.compare_digest(hashlib.sha256(presented.encode()).digest(), self._digest)

    def login(self, request: Request, presented: str) -> tuple[str, str]:
        """Check a key from the login form; returns ``(cookie value, csrf token)``.

        Raises:
            HTTPException: 429 while the client must wait, 401 for a wrong key.
        """
        self.check_key(request, presented)
        session_id, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        with self._lock:
            now = self.clock()
            self._sessions = {k: v for k, v in self._sessions.items() if v[1] > now}
            self._sessions[session_id] = (csrf, now + self.max_age)
        log.info("admin: session started from %s", client_of(request))
        return self._signer.dumps(session_id), csrf

    def logout(self, principal: Principal) -> None:
        """End the principal's session (a no-op for the key)."""
        if principal.session_id:
            with self._lock:
                self._sessions.pop(principal.session_id, None)

    def check_key(self, request: Request, presented: str) -> None:
        """Raise unless ``presented`` is the key; wrong keys are throttled per client.

        The right key is let in whatever the client's failures: a throttle that refused it
        would let anyone who shares the address (a proxy, an office) lock the owner out.
        """
        client = client_of(request)
        if self.key_matches(presented):
            self.throttle.succeed(client)
            return
        wait = self.throttle.wait(client)
        if wait > 0:
            raise too_many(wait)
        wait = self.throttle.fail(client)
        if wait > 0:
            raise too_many(wait)
        raise HTTPException(401, "wrong admin key")

    def session(self, cookie: str) -> Principal | None:
        """The live session a cookie names, or None (bad signature, expired, logged out)."""
        try:
            session_id = self._signer.loads(cookie, max_age=self.max_age)
        except BadSignature:
            return None
        with self._lock:
            found = self._sessions.get(session_id)
        if found is None or found[1] <= self.clock():
            return None
        return Principal("session", csrf_token=found[0], session_id=session_id)

    def require(self, request: Request, key: str | None) -> Principal:
        """The dependency behind every protected route.

        Raises:
            HTTPException: 401 without a valid key or session, 403 for a cookie request that
                changes state without the session's CSRF token, 429 while throttled.
        """
        if key is not None:
            self.check_key(request, key)
            return Principal("key")
        cookie = request.cookies.get(COOKIE)
        principal = self.session(cookie) if cookie else None
        if principal is None:
            raise HTTPException(401, "log in, or send the admin key in X-Admin-Key")
        if request.method not in SAFE_METHODS:
            token = request.headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(token.encode(), (principal.csrf_token or "").encode()):
                raise HTTPException(403, f"missing or wrong {CSRF_HEADER}; reload the page")
        return principal


def client_of(request: Request) -> str:
    """The client's address: the peer's, or the one a trusted proxy forwarded for it."""
    return request.client.host if request.client else "unknown"


def too_many(wait: float) -> HTTPException:
    """429 with ``Retry-After`` in whole seconds."""
    seconds = max(1, int(wait + 0.999))
    return HTTPException(
        429,
        f"too many failed attempts; try again in {seconds} s",
        headers={"Retry-After": str(seconds)},
    )
