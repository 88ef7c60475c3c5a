"""How commentary is written: the model, the deadline, retries, cache and concurrency."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lib import settings as tree
from lib.errors import ConfigError

DEFAULT_MODEL = tree.DEFAULT_COMMENTARY_MODEL


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
        """Settings from the ``anthropic`` section of the settings tree.

        ``ANTHROPIC_API_KEY``, ``ANTHROPIC_BASE_URL`` and ``BROADSHEET_COMMENTARY_MODEL``,
        from the environment or the working directory's ``.env`` (``lib.settings.load``:
        a notebook's kernel is an entry point of its own, so it reads them there).

        Args:
            cache_dir: The reply cache and request-slot directory, or None.
        """
        return cls.from_section(tree.load().anthropic, cache_dir)

    @classmethod
    def from_section(
        cls, section: tree.AnthropicSection, cache_dir: Path | str | None = None
    ) -> Settings:
        """Settings from an already read ``anthropic`` section."""
        return cls(
            api_key=section.api_key.get_secret_value().strip() or None if section.api_key else None,
            base_url=(section.base_url or "").strip() or None,
            model=(section.model or "").strip() or DEFAULT_MODEL,
            cache_dir=Path(cache_dir) if cache_dir is not None else None,
        )
