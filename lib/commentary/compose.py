"""Writing one report's commentary: a request per section, judged, checked and cached;
the package docstring (``lib.commentary``) tells the whole contract.
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
