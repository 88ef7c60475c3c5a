"""Asking the Messages API for one section's commentary, within the report's deadline.

Our own retry loop (429/529 only, the server's ``retry-after`` or a jittered backoff,
never past the deadline), the reply cache under ``cache_dir`` and the request slots
shared by every process using it: the rules are the contract in :mod:`lib.commentary`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import mktime_tz, parsedate_tz
from pathlib import Path
from typing import TYPE_CHECKING, Any

import filelock

from lib.commentary.facts import Section, finite
from lib.commentary.prompts import system_prompt, user_prompt
from lib.commentary.settings import Settings

if TYPE_CHECKING:
    import anthropic

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 529})
# How long write() waits past the deadline for a request that is already timing out, so
# its own (more precise) reason is reported rather than a generic one.
_GRACE_SECONDS = 1.0
_SLOT_POLL_SECONDS = 0.05


@dataclass
class Outcome:
    """What asking for one section produced; judged on the main thread."""

    text: str | None = None
    stop_reason: str | None = None
    reason: str | None = None  # why there is no text
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_hit: bool = False


def ask_all(
    sections: Sequence[Section],
    audience: str,
    settings: Settings,
    subject: str,
    deadline: float,
) -> dict[str, Outcome]:
    # Imported here: the SDK costs seconds to import and most runs (no key) never need it.
    import anthropic

    system = system_prompt(audience)
    slots = _Slots(settings)
    client = anthropic.Anthropic(
        api_key=settings.api_key,
        base_url=settings.base_url,
        max_retries=0,  # our own loop: deadline-aware, 429/529 only (lib.commentary's docstring)
        timeout=settings.deadline_seconds,
    )
    pool = ThreadPoolExecutor(
        max_workers=min(settings.concurrency, max(len(sections), 1)),
        thread_name_prefix="commentary",
    )
    try:
        futures = {
            s.name: pool.submit(
                _ask, client, settings, slots, system, user_prompt(s, subject), deadline
            )
            for s in sections
        }
        wait(futures.values(), timeout=max(deadline - time.monotonic(), 0) + _GRACE_SECONDS)
        outcomes = {}
        for name, future in futures.items():
            if future.done() and not future.cancelled() and future.exception() is None:
                outcomes[name] = future.result()
            elif future.done() and not future.cancelled():
                # A bug in _ask must cost one section its commentary, never the report.
                err = future.exception()
                outcomes[name] = Outcome(reason=f"unexpected error: {err!r}")
            else:
                outcomes[name] = Outcome(reason="the report's commentary deadline passed")
        return outcomes
    finally:
        # Abandon anything still running at the deadline: closing the client fails its
        # request, and the report goes on without it.
        pool.shutdown(wait=False, cancel_futures=True)
        client.close()


def _ask(
    client: anthropic.Anthropic,
    settings: Settings,
    slots: _Slots,
    system: str,
    prompt: str,
    deadline: float,
) -> Outcome:
    """One section: the cache, else the API with 429/529 retries, within the deadline."""
    import anthropic

    key = hashlib.sha256(json.dumps([settings.model, system, prompt]).encode()).hexdigest()
    cached = _cache_get(settings.cache_dir, key)
    if cached is not None:
        return Outcome(text=cached["text"], stop_reason=cached.get("stop_reason"), cache_hit=True)

    outcome = Outcome()
    with slots.hold(deadline) as got_slot:
        if not got_slot:
            outcome.reason = "the deadline passed waiting for a free request slot"
            return outcome
        for attempt in range(settings.max_retries + 1):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                outcome.reason = "the deadline passed before the request"
                return outcome
            outcome.requests += 1
            try:
                message = client.messages.create(
                    model=settings.model,
                    max_tokens=settings.max_tokens,
                    system=system,
                    messages=[{"role": "user", "content": prompt}],
                    timeout=remaining,
                )
            except anthropic.APITimeoutError:
                outcome.reason = (
                    f"no reply within the deadline ({settings.deadline_seconds:g}s for the report)"
                )
                return outcome
            except anthropic.APIStatusError as err:
                what = f"HTTP {err.status_code} {_error_type(err.body)}".rstrip()
                if err.status_code not in RETRY_STATUSES:
                    outcome.reason = f"{what} from the API"
                    return outcome
                if attempt == settings.max_retries:
                    outcome.reason = f"{what} on all {outcome.requests} requests"
                    return outcome
                pause = _retry_wait(err.response.headers, attempt, settings)
                if time.monotonic() + pause >= deadline:
                    outcome.reason = (
                        f"{what}; waiting {pause:.1f}s to retry would pass the deadline"
                    )
                    return outcome
                log.info("commentary: %s, retrying in %.2fs", what, pause)
                time.sleep(pause)
                continue
            except anthropic.APIConnectionError as err:
                outcome.reason = f"could not reach the API ({type(err.__cause__ or err).__name__})"
                return outcome
            except (anthropic.APIError, ValueError, TypeError) as err:
                # An unparseable 200: the SDK raises while decoding it.
                outcome.reason = f"malformed reply ({type(err).__name__})"
                return outcome
            return _read_message(message, outcome, settings.cache_dir, key)
    raise AssertionError("unreachable")  # pragma: no cover


def _read_message(message: Any, outcome: Outcome, cache_dir: Path | None, key: str) -> Outcome:
    """Fill ``outcome`` from a Messages API reply, distrusting its shape."""
    usage = getattr(message, "usage", None)
    outcome.input_tokens = _int(getattr(usage, "input_tokens", 0))
    outcome.output_tokens = _int(getattr(usage, "output_tokens", 0))
    content = getattr(message, "content", None)
    texts = []
    if isinstance(content, list):
        texts = [
            b.text
            for b in content
            if getattr(b, "type", None) == "text" and isinstance(getattr(b, "text", None), str)
        ]
    if not texts or not "".join(texts).strip():
        outcome.reason = "malformed reply (no text block)"
        return outcome
    outcome.text = "".join(texts)
    stop = getattr(message, "stop_reason", None)
    outcome.stop_reason = stop if isinstance(stop, str) else None
    _cache_put(cache_dir, key, {"text": outcome.text, "stop_reason": outcome.stop_reason})
    return outcome


def _error_type(body: object) -> str:
    """``error.type`` of an API error body (``overloaded_error``...), or ""."""
    error = body.get("error") if isinstance(body, dict) else None
    kind = error.get("type") if isinstance(error, dict) else None
    return kind if isinstance(kind, str) else ""


def _int(x: Any) -> int:
    return x if isinstance(x, int) and not isinstance(x, bool) else 0


def _retry_wait(headers: Mapping[str, str], attempt: int, settings: Settings) -> float:
    """Seconds to wait before retry ``attempt + 1``: the server's word, else backoff."""
    ms = finite(headers.get("retry-after-ms"))
    if ms is not None:
        return max(ms / 1000, 0.0)
    raw = headers.get("retry-after")
    if raw is not None:
        seconds = finite(raw)
        if seconds is None and (parsed := parsedate_tz(raw)) is not None:
            seconds = mktime_tz(parsed) - time.time()  # an HTTP date
        if seconds is not None:
            return max(seconds, 0.0)
    pause = min(settings.backoff_seconds * 2**attempt, settings.max_backoff_seconds)
    # Jitter so workers that were refused together do not come back together.
    return pause * random.uniform(0.75, 1.0)


def _cache_get(cache_dir: Path | None, key: str) -> dict[str, Any] | None:
    if cache_dir is None:
        return None
    path = cache_dir / f"{key}.json"
    try:
        entry = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:
        log.debug("commentary cache: ignoring unreadable %s (%s)", path, err)
        return None
    return entry if isinstance(entry, dict) and isinstance(entry.get("text"), str) else None


def _cache_put(cache_dir: Path | None, key: str, entry: dict[str, Any]) -> None:
    if cache_dir is None:
        return
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        # Temporary file then rename, so a reader in another worker never sees half a file.
        fd, tmp = tempfile.mkstemp(dir=cache_dir, prefix=f".{key[:12]}-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(entry, f)
        os.replace(tmp, cache_dir / f"{key}.json")
    except OSError as err:
        # A cache that cannot be written costs a rerun money, not this run its text.
        log.warning("commentary cache: could not write %s: %s", cache_dir, err)


class _Slots:
    """At most ``concurrency`` requests in flight: lock files shared by every process
    using the same ``cache_dir``, or a semaphore within this call without one."""

    def __init__(self, settings: Settings) -> None:
        self.count = settings.concurrency
        self.dir = settings.cache_dir / "slots" if settings.cache_dir is not None else None
        self._local = threading.BoundedSemaphore(self.count)

    @contextmanager
    def hold(self, deadline: float) -> Iterator[bool]:
        """Yield True holding a slot, or False if none came free before ``deadline``."""
        if self.dir is None:
            got = self._local.acquire(timeout=max(deadline - time.monotonic(), 0))
            try:
                yield got
            finally:
                if got:
                    self._local.release()
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        lock = self._acquire(deadline)
        try:
            yield lock is not None
        finally:
            if lock is not None:
                lock.release()

    def _acquire(self, deadline: float) -> filelock.BaseFileLock | None:
        assert self.dir is not None
        while True:
            for i in range(self.count):
                lock = filelock.FileLock(self.dir / f"slot-{i}.lock")
                try:
                    lock.acquire(timeout=0)
                    return lock
                except filelock.Timeout:
                    continue
            if time.monotonic() + _SLOT_POLL_SECONDS >= deadline:
                return None
            time.sleep(_SLOT_POLL_SECONDS)
