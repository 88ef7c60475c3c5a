"""Alembic environment of the state database, configured in code by ``runner.state.database``.

``runner.state.database.upgrade`` hands over an open connection in ``config.attributes``; run any
other way (``alembic_config(url)`` with ``command.*``) it connects to ``sqlalchemy.url``
(``alembic_config(url)`` sets it). Logging is left to the caller:
there is no ini file to configure it from, and the runner's own logging must survive.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from runner.state.database import engine_for
from runner.state.models import Base

config = context.config
target_metadata = Base.metadata


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds tables instead.
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    """Emit SQL for ``--sql`` runs without connecting."""
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Migrate over the caller's connection, or a fresh one."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        return
    engine = engine_for(config.get_main_option("sqlalchemy.url"))
    try:
        with engine.begin() as fresh:
            _configure(fresh)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
