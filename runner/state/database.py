"""The state database: its engine and its migrations (the tables are in ``models``).

SQLite at ``<outputs>/state.db`` unless ``BROADSHEET_DB_URL`` names another database
(``Settings.state_url()``; the caller passes the URL in).
The schema is owned by Alembic revisions in ``runner/state/migrations/``; :func:`upgrade` applies
them in code, so there is no ``alembic.ini`` to keep in step. To add a table, declare the
model on :class:`Base` here (or in a module imported by ``admin/migrations/env.py``), then
write the next revision, e.g.::

    from alembic import command
    from runner.state.database import alembic_config
    command.revision(alembic_config("sqlite:///scratch.db"), "admin tables", autogenerate=True)

(against a scratch database upgraded to head, so autogenerate sees only the new table).
Revisions are numbered in one line of history: ``versions/0003_name.py`` holds revision
``"0003"`` revising ``"0002"`` (a test holds every file to it), which lets
:func:`upgrade` see that a database is up to date without loading Alembic.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from filelock import FileLock
from sqlalchemy import (
    Engine,
    create_engine,
    event,
    inspect,
    make_url,
    text,
)

if TYPE_CHECKING:
    from alembic.config import Config

logger = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")


def engine_for(url: str) -> Engine:
    """An engine for ``url`` (``Settings.state_url()``: SQLite or PostgreSQL).

    SQLite files get their directory created, a 30 s busy timeout (the runner, cron and
    the admin share the file) and write-ahead logging so readers never block the runner.
    """
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        # The driver we ship (psycopg 3); SQLAlchemy's default for a bare URL is psycopg2.
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine


def alembic_config(engine_or_url: Engine | str | None = None) -> Config:
    """An Alembic ``Config`` built in code: our script location and, if given, the URL."""
    # Imported here: Alembic costs most of a second, and reading the models needs none of it.
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if isinstance(engine_or_url, Engine):
        engine_or_url = engine_or_url.url.render_as_string(hide_password=False)
    if engine_or_url:
        # ConfigParser interpolates '%', which URL-encoded passwords contain.
        cfg.set_main_option("sqlalchemy.url", engine_or_url.replace("%", "%%"))
    return cfg


def head_revision() -> str:
    """The newest revision in ``migrations/versions`` (by the numbering convention)."""
    return max(p.name.split("_", 1)[0] for p in (MIGRATIONS / "versions").glob("[0-9]*_*.py"))


MIGRATE_LOCK = 0x62726F6164  # "broad": the advisory lock key of migrations on PostgreSQL


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at; None before its first migration."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def upgrade(engine_or_url: Engine | str, revision: str = "head") -> Engine:
    """Apply the migrations up to ``revision`` and return the engine.

    Safe to call on every start: a database already at head is seen to be so with one
    query, without loading Alembic (which costs most of a second of every run). For a
    SQLite file a lock next to it serialises the first creation, which two cron jobs
    starting at the same minute would otherwise race.

    Args:
        engine_or_url: an engine or a SQLAlchemy URL.
        revision: the Alembic revision to reach.
    """
    engine = engine_or_url if isinstance(engine_or_url, Engine) else engine_for(engine_or_url)
    if revision == "head" and current_revision(engine) == head_revision():
        return engine
    from alembic import command

    cfg = alembic_config()
    database = engine.url.database if engine.url.get_backend_name() == "sqlite" else None
    lock = FileLock(f"{database}.migrate.lock") if database and database != ":memory:" else None
    if lock is not None:
        lock.acquire()
    try:
        with engine.begin() as connection:
            if engine.url.get_backend_name() == "postgresql":
                # The PostgreSQL counterpart of the SQLite lock: two hosts' first runs
                # against a fresh database migrate one after the other (the lock ends
                # with this transaction), the second finding it done.
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATE_LOCK}
                )
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, revision)
    finally:
        if lock is not None:
            lock.release()
    return engine
