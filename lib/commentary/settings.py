"""How commentary is written: the model, the deadline, retries, cache and concurrency."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import dotenv_values, find_dotenv

from lib.errors import ConfigError

DEFAULT_MODEL = "claude-sonnet-4-5"


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
