"""Backups of the state database (the delivery ledger and the admin's choices).

SQLite: the online backup API (a consistent copy while the runner and admin write, which
copying the file is not). PostgreSQL: ``pg_dump --format=custom`` (restore with
``pg_restore``); the password goes to pg_dump through ``PGPASSWORD``, never its command
line. Each backup is written under a temporary name and renamed, and only the newest
``keep`` are kept.
"""

from __future__ import annotations

import glob
import shutil
import sqlite3
import subprocess
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import make_url

from lib.errors import ConfigError

PREFIX = "state-"


def pg_dump_program() -> str:
    """``pg_dump`` on PATH, else the newest in Debian's ``/usr/lib/postgresql/*/bin``.

    Raises:
        ConfigError: not installed.
    """
    found = shutil.which("pg_dump")
    if found:
        return found
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_dump"),
        key=lambda p: int(p.split("/")[-3]) if p.split("/")[-3].isdigit() else 0,
    )
    if not candidates:
        raise ConfigError("pg_dump not found: apt-get install postgresql-client")
    return candidates[-1]


def backup(
    url: str,
    directory: Path,
    *,
    keep: int = 14,
    now: datetime | None = None,
    environment: Mapping[str, str] | None = None,
) -> Path:
    """Write a backup of the database at ``url`` into ``directory``; return its path.

    ``environment`` is pg_dump's (``Settings.environment()``; default this process's),
    to which the password is added.

    Raises:
        ConfigError: an unsupported database, or pg_dump missing or failing.
    """
    parsed = make_url(url)
    directory.mkdir(parents=True, exist_ok=True)
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if not parsed.database or not Path(parsed.database).is_file():
            raise ConfigError(f"no SQLite database at {parsed.database}", field="BROADSHEET_DB_URL")
        target = directory / f"{PREFIX}{stamp}.db"
        partial = target.with_suffix(".db.partial")
        source = sqlite3.connect(f"file:{parsed.database}?mode=ro", uri=True)
        copy = sqlite3.connect(partial)
        try:
            source.backup(copy)
        finally:
            copy.close()
            source.close()
    elif backend == "postgresql":
        target = directory / f"{PREFIX}{stamp}.dump"
        partial = target.with_suffix(".dump.partial")
        libpq = parsed.set(drivername="postgresql", password=None)
        env = dict(environment) if environment is not None else None
        if parsed.password:
            env = {**(env or {}), "PGPASSWORD": str(parsed.password)}
        done = subprocess.run(
            [pg_dump_program(), "--format=custom", "--no-owner", f"--file={partial}",
             f"--dbname={libpq.render_as_string(hide_password=False)}"],
            env=env, capture_output=True, text=True,
        )  # fmt: skip
        if done.returncode != 0:
            partial.unlink(missing_ok=True)
            raise ConfigError(f"pg_dump failed: {done.stderr.strip().splitlines()[-1:]}")
    else:
        raise ConfigError(
            f"backups support SQLite and PostgreSQL, not {backend}", field="BROADSHEET_DB_URL"
        )
    partial.chmod(0o600)  # the ledger holds recipients' addresses
    partial.replace(target)
    for old in sorted(directory.glob(f"{PREFIX}*"), reverse=True)[keep:]:
        if not old.name.endswith(".partial"):
            old.unlink()
    return target
