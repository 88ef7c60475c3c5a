"""Commentary for report sections: Claude when it can, a useful automatic summary when not.

:func:`write` takes a report's sections (each a handful of :class:`Fact` plus context
notes) and returns the ``commentary`` object of ``figures.json``. For every section it
builds one prompt from that section's facts only, answers it from the disk cache or the
Messages API, checks every number in the reply against the facts, and uses
:func:`fallback` for the section whenever any of that fails. A report is never blocked
and never shows a number the model invented.

Rules this module applies (the contract the notebooks and the runner rely on):

Retry policy
    The SDK's own retries are switched off (``max_retries=0``): they also retry timeouts,
    408/409 and every 5xx, and would sleep out any ``retry-after`` whatever the report's
    deadline. Instead a 429 (rate limit) or 529 (overloaded) is retried up to
    ``Settings.max_retries`` times (3: at most four requests per section). The wait is the
    server's ``retry-after-ms`` / ``retry-after`` (seconds or an HTTP date) when sent,
    else ``backoff_seconds * 2**n`` (capped at ``max_backoff_seconds``, jittered down by up
    to a quarter). A wait that would end past the deadline is not taken: the section falls
    back at once. Every other error, a timeout or a connection failure falls back without
    retrying. Each request's timeout is the time left before the deadline, and
    :func:`write` stops waiting at the deadline (plus a second's grace), so the whole
    report takes at most ``deadline_seconds``.
Fact check
    See :func:`fact_check`: every number in the reply must be one of the figures given,
    their change, or a number in the section's labels, title or notes, at the precision
    written (the model may round); dates, years and numbers up to ten written as words
    are ignored.
Fallback marking
    Automatic text always ends with :data:`AUTOMATIC_MARK` (``(Automatic summary.)``), and
    ``commentary.sources[name]`` says ``fallback``; the reason is in ``commentary.log``
    and logged as a warning.
Cache and concurrency
    Replies are cached as JSON under ``cache_dir`` keyed by sha256 of model, system prompt
    and prompt, so a rerun on the same data makes no request. At most ``concurrency``
    requests are in flight across every process sharing ``cache_dir`` (lock files under
    ``cache_dir/slots``); without a ``cache_dir`` there is no cache and the limit is per
    call.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import random
import re
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import mktime_tz, parsedate_tz
from pathlib import Path
from typing import Any

import anthropic
import filelock
from dotenv import dotenv_values, find_dotenv

from lib import formatting as fmt
from lib.errors import ConfigError, UnknownNameError

log = logging.getLogger(__name__)

AUDIENCES = ("retailer", "bdm", "smt", "board")
DEFAULT_MODEL = "claude-sonnet-4-5"
AUTOMATIC_MARK = "(Automatic summary.)"
RETRY_STATUSES = frozenset({429, 529})
# How long write() waits past the deadline for a request that is already timing out, so
# its own (more precise) reason is reported rather than a generic one.
_GRACE_SECONDS = 1.0
_SLOT_POLL_SECONDS = 0.05


# ------------------------------------------------------------------------------ inputs


@dataclass(frozen=True)
class Fact:
    """One figure a section's text may talk about.

    Attributes:
        label: What a reader calls it (``Submissions``).
        value: The value in the window (rates as fractions, money in pounds), or None.
        previous: The value in the previous window, or None (as-at figures have none).
        unit: A registry unit: ``count``, ``money``, ``rate``, ``share``, ``hours``, ``days``.
        light: ``green``, ``amber``, ``red`` or None, as :func:`lib.formatting.traffic_light`.
        metric_id: The registry id, when the fact is a registry metric.
        window: The window key (``LW``, ``MTD``, ``M``, ``as_at``...).
    """

    label: str
    value: float | int | None
    previous: float | int | None
    unit: str
    light: str | None = None
    metric_id: str | None = None
    window: str | None = None


@dataclass(frozen=True)
class Section:
    """A section of a report and everything its commentary may use.

    Attributes:
        name: Key in ``commentary.sections`` (``summary``, ``volumes``, ``pipeline``...).
        title: The heading a reader sees.
        facts: The figures, most important first.
        notes: Extra context lines (inactive retailers' names, pipeline ageing...).
    """

    name: str
    title: str
    facts: tuple[Fact, ...]
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Notebooks build these from lists; freeze them so a Section stays hashable.
        object.__setattr__(self, "facts", tuple(self.facts))
        object.__setattr__(self, "notes", tuple(self.notes))


@dataclass(frozen=True)
class Settings:
    """How commentary is written. Build with :meth:`from_env` in reports.

    Attributes:
        api_key: The Anthropic key; None means every section falls back, with no request.
        base_url: The Messages API base URL (``ANTHROPIC_BASE_URL``); None for the SDK's.
        model: The model (``BROADSHEET_COMMENTARY_MODEL``).
        deadline_seconds: Time budget of one :func:`write` call (the whole report).
        max_retries: Retries of a 429/529 per section (so ``max_retries + 1`` requests).
        cache_dir: Where replies are cached and the request slots live; None for neither.
        concurrency: Requests in flight at once, across processes sharing ``cache_dir``.
        max_tokens: The reply's token limit.
        backoff_seconds: First wait after a 429/529 that sent no ``retry-after``.
        max_backoff_seconds: Longest such wait.
    """

    api_key: str | None = field(default=None, repr=False)  # repr=False: never in a log
    base_url: str | None = None
    model: str = DEFAULT_MODEL
    deadline_seconds: float = 60.0
    max_retries: int = 3
    cache_dir: Path | None = None
    concurrency: int = 2
    max_tokens: int = 400
    backoff_seconds: float = 1.0
    max_backoff_seconds: float = 8.0

    def __post_init__(self) -> None:
        checks = {
            "deadline_seconds": self.deadline_seconds > 0,
            "max_retries": self.max_retries >= 0,
            "concurrency": self.concurrency >= 1,
            "max_tokens": self.max_tokens >= 1,
            "backoff_seconds": self.backoff_seconds >= 0,
            "max_backoff_seconds": self.max_backoff_seconds >= 0,
        }
        for name, ok in checks.items():
            if not ok:
                value = getattr(self, name)
                raise ConfigError(f"out of range: {value!r}", field=f"commentary.{name}")
        if self.cache_dir is not None:
            object.__setattr__(self, "cache_dir", Path(self.cache_dir))

    @classmethod
    def from_env(cls, cache_dir: Path | str | None = None) -> Settings:
        """Settings from ``ANTHROPIC_API_KEY``, ``ANTHROPIC_BASE_URL`` and
        ``BROADSHEET_COMMENTARY_MODEL``.

        The environment wins over a ``.env`` file (found from the working directory
        upwards); ``.env`` is read, never loaded into the environment. Blank values count
        as unset.

        Args:
            cache_dir: The reply cache and request-slot directory, or None.
        """
        dotenv_path = find_dotenv(usecwd=True)
        from_file = dotenv_values(dotenv_path) if dotenv_path else {}

        def get(name: str) -> str | None:
            raw = os.environ.get(name)
            if raw is None or not raw.strip():
                raw = from_file.get(name)
            return raw.strip() if raw and raw.strip() else None

        return cls(
            api_key=get("ANTHROPIC_API_KEY"),
            base_url=get("ANTHROPIC_BASE_URL"),
            model=get("BROADSHEET_COMMENTARY_MODEL") or DEFAULT_MODEL,
            cache_dir=Path(cache_dir) if cache_dir is not None else None,
        )


def facts_from_figures(
    figures_metrics: Mapping[str, Mapping[str, Any]],
    metric_ids: Sequence[str],
    window: str,
    prev_window: str,
    thresholds: fmt.Thresholds | None = None,
) -> tuple[Fact, ...]:
    """Facts for ``metric_ids`` from a ``figures.json`` ``metrics`` object.

    Labels, units and direction come from the metric registry; lights from
    :func:`lib.formatting.traffic_light`, so they match the report's. As-at metrics
    (pipeline, inactive retailers) take their ``as_at`` value and have no previous. A map
    metric (``lender_share``...) becomes one fact per name, largest first, with no light:
    a lender's share going up is neither good nor bad news.

    Args:
        figures_metrics: ``{metric_id: {window_key: value}}``.
        metric_ids: Registry ids (``growth_<id>`` too), in the order wanted.
        window: The window key the text is about (``LW``, ``M``...).
        prev_window: The key it is compared with (``LW_prev``, ``M_prev``, ``M_ly``...).
        thresholds: The report's light thresholds; the domain defaults when None.

    Raises:
        UnknownNameError: An id is not in the registry.
    """
    # Imported here: lib.metrics pulls in pandas and numpy, which prompt building and
    # the fallback do not need.
    from lib import metrics

    thresholds = thresholds or fmt.DEFAULT_THRESHOLDS
    facts: list[Fact] = []
    for metric_id in metric_ids:
        metric = metrics.get(metric_id)
        by_window = figures_metrics.get(metric_id) or {}
        if metric.unit == "map":
            facts.extend(_map_facts(metric, by_window, window, prev_window))
            continue
        if metric.basis == "as_at":
            value, previous, win = by_window.get("as_at"), None, "as_at"
        else:
            value, previous, win = by_window.get(window), by_window.get(prev_window), window
        light = fmt.traffic_light(
            value, previous, metric.unit, thresholds, higher_is_better=metric.higher_is_better
        )
        facts.append(
            Fact(metric.label, value, previous, metric.unit, _light_name(light), metric_id, win)
        )
    return tuple(facts)


def _map_facts(
    metric: Any, by_window: Mapping[str, Any], window: str, prev_window: str
) -> list[Fact]:
    current = by_window.get(window) or {}
    previous = by_window.get(prev_window) or {}
    # Map metrics hold shares, pounds or counts per name; the id says which.
    if metric.id.endswith("_share"):
        unit = "share"
    elif metric.id.endswith("_value"):
        unit = "money"
    else:
        unit = "count"
    names = sorted(set(current) | set(previous), key=lambda n: (-(current.get(n) or 0), n))
    return [
        Fact(f"{metric.label}: {n}", current.get(n), previous.get(n), unit, None, metric.id, window)
        for n in names
    ]


def _light_name(light: fmt.Light) -> str | None:
    return None if light is fmt.Light.NONE else light.value


# ----------------------------------------------------------------------------- prompts

# How a window reads in a sentence. The previous window is always "the previous period":
# a fact does not record which window it was compared with (the board pack compares the
# month with both the month before and the same month last year).
_WINDOWS = {
    "LW": "last week",
    "MTD": "this month to date",
    "QTD": "this quarter to date",
    "YTD": "this year to date",
    "M": "in the month",
    "as_at": "as at the report date",
}
_DEFAULT_WINDOW = "this period"

_AUDIENCE_BRIEF = {
    "retailer": (
        "the staff of the retailer named below, reading their weekly report on the finance "
        "they offer their customers through us",
        "Friendly, direct and practical; address them as 'you'. Nudge where it helps: "
        "submitting more applications, a better approval rate (complete, accurate "
        "applications) and moving the pipeline on (approved applications waiting for the "
        "customer to sign, signed ones waiting for payout).",
    ),
    "bdm": (
        "the business development manager named below, who looks after the retailers in "
        "this portfolio",
        "Written for a relationship manager planning their week: call out volume drops, "
        "inactive retailers worth a call and pipeline opportunities to chase. Concise and "
        "action-oriented.",
    ),
    "smt": (
        "the senior management team, looking at the whole business",
        "Put business-wide trends in context: what moved, by how much, and how it compares "
        "with the previous period. Neutral and analytical; no advice to individual retailers.",
    ),
    "board": (
        "the board of directors, reading the monthly board pack",
        "Formal and measured, in the third person, as in a board paper: summarise this "
        "section's performance against the previous period. No exclamation marks and no "
        "operational instructions.",
    ),
}

_RULES = """\
Rules:
- Write 2 to 4 sentences of plain text: no markdown, headings, lists, greeting or sign-off.
- Use only the figures listed, as they are shown (rounding them is fine, e.g. £12,345 as \
£12.3k). Do not calculate, estimate or invent any other number, and do not mention dates.
- Write about the subject named; mention no retailer, lender, person or company that the \
message does not name.
- A figure shown as "–" is not available: you may say so, never guess it.
- The light compares the period with the previous one: green is good news, red is bad \
news, amber is little change. Where lower is better (such as time to decision) a fall is \
green."""


def _check_audience(audience: str) -> None:
    if audience not in AUDIENCES:
        raise UnknownNameError("audience", audience, list(AUDIENCES))


def system_prompt(audience: str) -> str:
    """The system prompt for ``audience``: who reads, the tone, and the rules."""
    _check_audience(audience)
    reader, tone = _AUDIENCE_BRIEF[audience]
    return (
        "You write the commentary for one section of a business report from a point-of-sale "
        "consumer-finance platform: retailers offer their customers finance at checkout, "
        "lenders approve or decline each application, the customer signs and the lender "
        f"pays out.\nReader: {reader}.\nTone: {tone}\n{_RULES}"
    )


def _fact_line(fact: Fact) -> str:
    now = _WINDOWS.get(fact.window or "", _DEFAULT_WINDOW)
    line = f"- {fact.label} ({now}): {fmt.value(fact.value, fact.unit)}"
    if fact.window != "as_at":
        change = fmt.delta(fact.value, fact.previous, fact.unit)
        line += (
            f"; previous period: {fmt.value(fact.previous, fact.unit)}; change: {change}"
            f"; light: {fact.light or 'none'}"
        )
    return line


def user_prompt(section: Section, subject: str) -> str:
    """The message for one section: subject, title, that section's facts and notes only."""
    lines = [f"Subject: {subject}", f"Section: {section.title}", "", "Figures:"]
    lines += [_fact_line(f) for f in section.facts] or ["- (none)"]
    if section.notes:
        lines += ["", "Notes:"] + [f"- {n}" for n in section.notes]
    lines += ["", "Write the commentary for this section."]
    return "\n".join(lines)


# ------------------------------------------------------------------------------- write


@dataclass
class _Outcome:
    """What asking for one section produced; judged on the main thread."""

    text: str | None = None
    stop_reason: str | None = None
    reason: str | None = None  # why there is no text
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_hit: bool = False


def write(
    sections: Sequence[Section], audience: str, *, settings: Settings, subject: str
) -> dict[str, Any]:
    """Write every section's commentary; the ``commentary`` object of ``figures.json``.

    Args:
        sections: The report's sections, in display order; names must be unique.
        audience: One of :data:`AUDIENCES`.
        settings: Key, model, deadline, cache...; see :class:`Settings`.
        subject: The report target's display name (the retailer, the BDM, the business).

    Returns:
        ``{"source": "anthropic"|"fallback"|"mixed", "sections": {name: text},
        "sources": {name: "anthropic"|"fallback"}, "model": str | None,
        "usage": {"input_tokens", "output_tokens", "requests", "cache_hits"},
        "log": [why each fallen-back section fell back]}``. ``model`` is None when no
        key is configured.

    Raises:
        UnknownNameError: ``audience`` is not one of :data:`AUDIENCES`.
        ValueError: Two sections share a name.
    """
    _check_audience(audience)
    names = [s.name for s in sections]
    if len(set(names)) != len(names):
        raise ValueError(f"section names must be unique, got {names}")
    deadline = time.monotonic() + settings.deadline_seconds

    if not settings.api_key:
        log.info("commentary: no ANTHROPIC_API_KEY set, automatic summaries for %s", subject)
        outcomes = {s.name: _Outcome(reason="no ANTHROPIC_API_KEY set") for s in sections}
    else:
        outcomes = _ask_all(sections, audience, settings, subject, deadline)

    texts: dict[str, str] = {}
    sources: dict[str, str] = {}
    problems: list[str] = []
    usage = {"input_tokens": 0, "output_tokens": 0, "requests": 0, "cache_hits": 0}
    for section in sections:
        outcome = outcomes[section.name]
        usage["input_tokens"] += outcome.input_tokens
        usage["output_tokens"] += outcome.output_tokens
        usage["requests"] += outcome.requests
        usage["cache_hits"] += int(outcome.cache_hit)
        text, reason = _judge(outcome, section, subject)
        if text is not None:
            texts[section.name], sources[section.name] = text, "anthropic"
            continue
        texts[section.name], sources[section.name] = fallback(section, audience), "fallback"
        problems.append(f"{section.name}: {reason}")
        if settings.api_key:  # without a key falling back is the expected path
            log.warning(
                "commentary for %s, section %s fell back: %s", subject, section.name, reason
            )

    kinds = set(sources.values())
    source = kinds.pop() if len(kinds) == 1 else ("mixed" if kinds else "fallback")
    return {
        "source": source,
        "sections": texts,
        "sources": sources,
        "model": settings.model if settings.api_key else None,
        "usage": usage,
        "log": problems,
    }


def _judge(outcome: _Outcome, section: Section, subject: str) -> tuple[str | None, str | None]:
    """The text to publish, or None and why not."""
    if outcome.text is None:
        return None, outcome.reason or "no reply"
    text = " ".join(outcome.text.split())
    if not text:
        return None, "the reply had no text"
    if outcome.stop_reason == "max_tokens":
        return None, "the reply was cut off at max_tokens"
    unmatched = _fact_check(text, section, extra=(subject,))
    if unmatched:
        listed = ", ".join(repr(u) for u in unmatched)
        return None, f"fact check: {listed} match no figure given"
    return text, None


def _ask_all(
    sections: Sequence[Section],
    audience: str,
    settings: Settings,
    subject: str,
    deadline: float,
) -> dict[str, _Outcome]:
    system = system_prompt(audience)
    slots = _Slots(settings)
    client = anthropic.Anthropic(
        api_key=settings.api_key,
        base_url=settings.base_url,
        max_retries=0,  # our own loop: deadline-aware, 429/529 only (module docstring)
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
                outcomes[name] = _Outcome(reason=f"unexpected error: {err!r}")
            else:
                outcomes[name] = _Outcome(reason="the report's commentary deadline passed")
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
) -> _Outcome:
    """One section: the cache, else the API with 429/529 retries, within the deadline."""
    key = hashlib.sha256(json.dumps([settings.model, system, prompt]).encode()).hexdigest()
    cached = _cache_get(settings.cache_dir, key)
    if cached is not None:
        return _Outcome(text=cached["text"], stop_reason=cached.get("stop_reason"), cache_hit=True)

    outcome = _Outcome()
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


def _read_message(message: Any, outcome: _Outcome, cache_dir: Path | None, key: str) -> _Outcome:
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
    ms = _finite(headers.get("retry-after-ms"))
    if ms is not None:
        return max(ms / 1000, 0.0)
    raw = headers.get("retry-after")
    if raw is not None:
        seconds = _finite(raw)
        if seconds is None and (parsed := parsedate_tz(raw)) is not None:
            seconds = mktime_tz(parsed) - time.time()  # an HTTP date
        if seconds is not None:
            return max(seconds, 0.0)
    pause = min(settings.backoff_seconds * 2**attempt, settings.max_backoff_seconds)
    # Jitter so workers that were refused together do not come back together.
    return pause * random.uniform(0.75, 1.0)


# ----------------------------------------------------------------- cache and slots


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


# ---------------------------------------------------------------------------- fallback

_LIGHT_ORDER = ("green", "amber", "red")


def _change(fact: Fact) -> float | None:
    """The change lights judge: a pp difference for rates, relative otherwise."""
    v, p = _finite(fact.value), _finite(fact.previous)
    if v is None or p is None or fact.unit not in fmt.UNITS or fact.unit == "map":
        return None
    if fact.unit in ("rate", "share"):
        return v - p
    return None if p == 0 else (v - p) / abs(p)


def _size(fact: Fact) -> float:
    """How big a change is, in thresholds, so rates and counts rank together."""
    change = _change(fact)
    if change is None:
        return -1.0
    t = fmt.DEFAULT_THRESHOLDS
    limit = t.pp if fact.unit in ("rate", "share") else t.pct
    return abs(change) / limit if limit else abs(change)


def _finite(x: Any) -> float | None:
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _mover(fact: Fact, audience: str) -> str:
    now = _WINDOWS.get(fact.window or "", _DEFAULT_WINDOW)
    value, previous = fmt.value(fact.value, fact.unit), fmt.value(fact.previous, fact.unit)
    change = fmt.delta(fact.value, fact.previous, fact.unit)
    formal = audience in ("smt", "board")
    if change.startswith("▲"):
        verb = "increased to" if formal else "rose to"
    elif change.startswith("▼"):
        verb = "decreased to" if formal else "fell to"
    else:
        verb = "was unchanged at" if formal else "held at"
    light = f", {fact.light}" if fact.light else ""
    return f"{fact.label} {verb} {value} {now}, from {previous} in the previous period ({change}{light})."


def _standing(fact: Fact) -> str:
    text = f"{fact.label} {fmt.value(fact.value, fact.unit)}"
    if _finite(fact.previous) is not None:
        text += f" (previous period {fmt.value(fact.previous, fact.unit)})"
    return text


def _has(section: Section, metric_id: str, test: Any) -> bool:
    return any(f.metric_id == metric_id and test(f) for f in section.facts)


def _positive(f: Fact) -> bool:
    return (_finite(f.value) or 0) > 0


def _worse(f: Fact) -> bool:
    return f.light == "red"


def _better(f: Fact) -> bool:
    return f.light == "green"


def _nudges(section: Section, audience: str, lights: dict[str, int]) -> list[str]:
    """Audience-specific advice keyed on which registry metrics the section holds."""
    out: list[str] = []
    if audience == "retailer":
        if _has(section, "submissions", _worse):
            out.append(
                "Offering finance to more customers at checkout is the quickest way to lift "
                "submissions."
            )
        elif _has(section, "submissions", _better):
            out.append("Keep offering finance at checkout to build on the rise in submissions.")
        if _has(section, "approval_rate", _worse):
            out.append("Complete, accurate applications give lenders the best chance to approve.")
        if _has(section, "pipeline_ans_count", _positive):
            out.append(
                "Some approved applications are still waiting for the customer to sign: a "
                "reminder could turn them into sales."
            )
        if _has(section, "pipeline_snp_count", _positive):
            out.append(
                "Check that no signed application waiting for payout is held up on your side."
            )
    elif audience == "bdm":
        if any(_has(section, m, _worse) for m in ("submissions", "paid_value", "submitted_value")):
            out.append(
                "Volume is down on the previous period: worth a conversation with the retailers "
                "behind the drop."
            )
        if _has(section, "inactive_retailers", _positive):
            out.append("Retailers with no recent submissions are worth a call this week.")
        if _has(section, "pipeline_ans_count", _positive):
            out.append(
                "Approved applications not yet signed are an opportunity: help the retailers "
                "follow them up with their customers."
            )
    elif sum(lights.values()):
        good, bad = lights.get("green", 0), lights.get("red", 0)
        if good > bad:
            mood = "more measures improved than worsened"
        elif bad > good:
            mood = "more measures worsened than improved"
        else:
            mood = "improvements and declines were evenly balanced"
        if audience == "board":
            out.append(f"Against the previous period, {mood} in this section.")
        else:
            out.append(f"Across the business, {mood}.")
    return out


def fallback(section: Section, audience: str) -> str:
    """Deterministic commentary from the section's figures, ending :data:`AUTOMATIC_MARK`.

    It leads with the biggest mover against the previous window (changes measured in
    light thresholds, so a 3 pp rate move and a 10 % volume move compare), then the
    next-biggest if it also crossed a threshold, lists the other lights by colour, states
    as-at figures (the pipeline), says which figures are unavailable, repeats the notes
    (pipeline ageing, inactive retailers), and ends with the audience's nudges. Every
    number in it is shown as the report shows it, so it passes :func:`fact_check`.

    Raises:
        UnknownNameError: ``audience`` is not one of :data:`AUDIENCES`.
    """
    _check_audience(audience)
    sentences: list[str] = []
    compared = sorted((f for f in section.facts if _change(f) is not None), key=lambda f: -_size(f))
    told = compared[:1] + [f for f in compared[1:2] if _size(f) >= 1]
    sentences += [_mover(f, audience) for f in told]

    by_light: dict[str, list[str]] = {}
    lights: dict[str, int] = {}
    for f in section.facts:
        if f.light in _LIGHT_ORDER:
            lights[f.light] = lights.get(f.light, 0) + 1
            if f not in told:
                by_light.setdefault(f.light, []).append(f.label)
    if by_light:
        parts = [f"{c} for {', '.join(by_light[c])}" for c in _LIGHT_ORDER if c in by_light]
        lead = "Other lights" if told else "Lights"
        sentences.append(f"{lead}: {'; '.join(parts)}.")

    standing = [f for f in section.facts if f not in compared and _finite(f.value) is not None]
    if standing:
        listed = "; ".join(_standing(f) for f in standing)
        now = "As at the report date" if all(f.window == "as_at" for f in standing) else "Now"
        sentences.append(f"{now}: {listed}.")
    missing = [f.label for f in section.facts if _finite(f.value) is None]
    if missing:
        sentences.append(f"Not available this period: {', '.join(missing)}.")
    notes = [n.strip() for n in section.notes if n.strip()]
    sentences += [n if n.endswith((".", "!", "?")) else f"{n}." for n in notes]
    sentences += _nudges(section, audience, lights)
    if not sentences:
        sentences.append(f"No figures are available for {section.title} this period.")
    sentences.append(AUTOMATIC_MARK)
    return " ".join(sentences)


# -------------------------------------------------------------------------- fact check

_MONTHS = (
    "Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
    "Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?"
)
# Dates and times carry no figure; removed before numbers are read. Month names are
# matched capitalised only, so "12 may rise" is still read as a number.
_DATES = re.compile(
    rf"\b\d{{4}}-\d{{2}}-\d{{2}}\b"
    rf"|\b\d{{1,2}}/\d{{1,2}}(?:/\d{{2,4}})?\b"
    rf"|\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{_MONTHS})\b"
    rf"|\b(?:{_MONTHS})\s+\d{{1,2}}(?:st|nd|rd|th)?\b"
    rf"|\b\d{{1,2}}[:.]\d{{2}}\s*(?:am|pm)\b|\b\d{{1,2}}:\d{{2}}\b"
)
_NUMBER = re.compile(
    r"(?<![\w.£])"
    r"(?P<cur>£\s?)?"
    r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
    r"(?P<mult>\s?(?:k|m|bn|thousand|million|billion)\b)?"
    r"(?P<unit>\s?(?:%|per\s?cent\b|percent\b|pp\b|percentage[\s-]points?\b"
    r"|hours?\b|hrs?\b|h\b|days?\b|d\b))?"
    r"(?!\w)",
    re.IGNORECASE,
)
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
         "eighty": 80, "ninety": 90}  # fmt: skip
_TEENS = {"eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
          "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19}  # fmt: skip
_UNITS_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                "eight": 8, "nine": 9}  # fmt: skip
_WORD_NUMBER = re.compile(
    rf"\b(?:(?P<tens>{'|'.join(_TENS)})(?:[\s-](?P<unit>{'|'.join(_UNITS_WORDS)}))?"
    rf"|(?P<teen>{'|'.join(_TEENS)}))\b",
    re.IGNORECASE,
)
_MULTIPLIERS = {"k": 1e3, "thousand": 1e3, "m": 1e6, "million": 1e6, "bn": 1e9, "billion": 1e9}


@dataclass(frozen=True)
class _Token:
    raw: str
    value: float  # as written, times any k/m/bn: pounds, percent, points, hours, days
    tolerance: float  # half the precision written
    kind: str  # money, percent, pp, hours, days or plain


def _tokens(text: str) -> list[_Token]:
    text = _DATES.sub(" ", text)
    out = []
    for m in _NUMBER.finditer(text):
        digits = m["num"].replace(",", "")
        whole, _, decimals = digits.partition(".")
        mult = _MULTIPLIERS[m["mult"].strip().lower()] if m["mult"] else 1.0
        unit = (m["unit"] or "").strip().lower()
        if m["cur"]:
            kind = "money"
        elif unit.startswith(("pp", "percentage")):  # before "per": "percentage points"
            kind = "pp"
        elif unit.startswith(("%", "per")):
            kind = "percent"
        elif unit.startswith("h"):
            kind = "hours"
        elif unit.startswith("d"):
            kind = "days"
        else:
            kind = "plain"
        value = float(digits) * mult
        if (
            kind == "plain"
            and mult == 1
            and not decimals
            and 1900 <= value <= 2100
            and "," not in m["num"]
        ):
            continue  # a year
        if decimals:
            precision = 10.0 ** -len(decimals)
        else:
            # Trailing zeros of a whole number may be rounding ("about 12,000"), but at
            # least two significant figures must stand: "10" is 10, "12,000" is 11,500-12,500.
            zeros = len(whole) - len(whole.rstrip("0")) if whole.strip("0") else 0
            precision = 10.0 ** min(zeros, max(len(whole.lstrip("0")) - 2, 0))
        out.append(_Token(m.group(0).strip(), value, precision * mult / 2, kind))
    for m in _WORD_NUMBER.finditer(text):
        if m["teen"]:
            value = _TEENS[m["teen"].lower()]
        else:
            value = _TENS[m["tens"].lower()] + (_UNITS_WORDS[m["unit"].lower()] if m["unit"] else 0)
        out.append(_Token(m.group(0), float(value), 0.0, "plain"))
    return out


def _candidates(facts: Sequence[Fact]) -> dict[str, list[float]]:
    """Every number a fact allows, by the kind of token that may state it."""
    cands: dict[str, list[float]] = {
        k: [] for k in ("money", "percent", "pp", "hours", "days", "plain")
    }
    for f in facts:
        v, p = _finite(f.value), _finite(f.previous)
        points = f.unit in ("rate", "share")
        scale = 100.0 if points else 1.0
        base = [abs(x) * scale for x in (v, p) if x is not None]
        diff = [abs(v - p) * scale] if v is not None and p is not None else []
        if points:
            cands["percent"] += base
            cands["pp"] += diff
        else:
            if f.unit == "money":
                cands["money"] += base + diff
            elif f.unit in ("hours", "days"):
                cands[f.unit] += base + diff
            if v is not None and p is not None and p != 0:
                cands["percent"].append(abs((v - p) / p) * 100)
        cands["plain"] += base + diff
    return cands


def _fact_check(text: str, section: Section, extra: Sequence[str] = ()) -> list[str]:
    cands = _candidates(section.facts)
    # Numbers that are part of names and context (a "Top-10" label, a note's "31–90
    # days", a retailer called "Studio 54") may be repeated in any form.
    literal_texts = [section.title, *section.notes, *(f.label for f in section.facts), *extra]
    literals = [t.value for s in literal_texts for t in _tokens(s)]
    bad: list[str] = []
    for tok in _tokens(text):
        allowed = cands[tok.kind] + literals
        slack = tok.tolerance + 1e-9 * max(1.0, tok.value)
        if not any(abs(tok.value - c) <= slack for c in allowed) and tok.raw not in bad:
            bad.append(tok.raw)
    return bad


def fact_check(text: str, section: Section) -> list[str]:
    """The numbers in ``text`` that match none of the section's figures.

    A number is read with its unit: ``£`` (with ``k``/``m``/``bn``) is money; ``%`` or
    ``per cent`` a percentage; ``pp`` or ``percentage points`` a difference of rates;
    ``hours``/``h`` and ``days``/``d`` durations; anything else a plain number. It passes
    if, at the precision it is written with, it equals (signs ignored, so "down 3.2 pp"
    matches a fall):

    - money: a money fact's value, previous value or their difference;
    - a percentage: a rate or share's value or previous value, or the relative change of
      any other fact (``▲ 33.3%``);
    - pp: the difference of a rate or share's value and previous value;
    - hours / days: a fact in that unit, or its difference;
    - a plain number: any fact's value, previous value or difference (rates in percent);
    - any kind: a number written in the section's title, labels or notes.

    "At the precision written" allows rounding: ``41%`` matches 41.3 %, ``£12.3k``
    matches £12,345, and a whole number's trailing zeros count as rounding while two
    significant figures remain (``£12,000`` matches £11,500–£12,500; ``10`` must be 10).
    Ignored: dates and times (``2026-11-22``, ``22 November``, ``07:00``), years
    1900–2100, ordinals (``3rd``), numbers inside words (``Q3``) and numbers up to ten
    written as words (``two weeks``); words from eleven to ninety-nine are checked.
    Directions ("rose" for a fall) are not checked.

    Returns:
        The offending numbers as written, in order, without repeats; empty if it passes.
    """
    return _fact_check(text, section)
