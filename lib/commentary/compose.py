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

The work is split by job: :mod:`lib.commentary.facts` (the inputs),
:mod:`lib.commentary.settings`, :mod:`lib.commentary.prompts`,
:mod:`lib.commentary.client` (requests, retries, cache and slots), :mod:`lib.commentary.check`
and :mod:`lib.commentary.fallback`. Import commentary from here: this module is the
public API and re-exports their public names.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from lib.commentary.check import check_sections
from lib.commentary.client import Outcome, ask_all
from lib.commentary.facts import Section
from lib.commentary.fallback import fallback
from lib.commentary.prompts import check_audience
from lib.commentary.settings import Settings

log = logging.getLogger(__name__)


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
    check_audience(audience)
    names = [s.name for s in sections]
    if len(set(names)) != len(names):
        raise ValueError(f"section names must be unique, got {names}")
    deadline = time.monotonic() + settings.deadline_seconds

    if not settings.api_key:
        log.info("commentary: no ANTHROPIC_API_KEY set, automatic summaries for %s", subject)
        outcomes = {s.name: Outcome(reason="no ANTHROPIC_API_KEY set") for s in sections}
    else:
        outcomes = ask_all(sections, audience, settings, subject, deadline)

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


def _judge(outcome: Outcome, section: Section, subject: str) -> tuple[str | None, str | None]:
    """The text to publish, or None and why not."""
    if outcome.text is None:
        return None, outcome.reason or "no reply"
    text = " ".join(outcome.text.split())
    if not text:
        return None, "the reply had no text"
    if outcome.stop_reason == "max_tokens":
        return None, "the reply was cut off at max_tokens"
    unmatched = check_sections(text, section, extra=(subject,))
    if unmatched:
        listed = ", ".join(repr(u) for u in unmatched)
        return None, f"fact check: {listed} match no figure given"
    return text, None
