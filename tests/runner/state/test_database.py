"""The state database's migrations: the numbering that lets a run skip Alembic at head."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.script import ScriptDirectory

from runner.state.database import (
    MIGRATIONS,
    alembic_config,
    current_revision,
    engine_for,
    head_revision,
    upgrade,
)


def test_revisions_are_numbered_in_one_line_of_history():
    script = ScriptDirectory.from_config(alembic_config())
    files = sorted((MIGRATIONS / "versions").glob("*.py"))
    numbers = [f.name.split("_", 1)[0] for f in files]
    assert numbers == [f"{i:04d}" for i in range(1, len(files) + 1)]
    for previous, number in zip([None, *numbers], numbers, strict=False):
        assert script.get_revision(number).down_revision == previous
    assert head_revision() == script.get_current_head() == numbers[-1]


def test_a_database_at_head_is_left_alone_without_alembic(tmp_path, monkeypatch):
    engine = engine_for(f"sqlite:///{tmp_path / 'state.db'}")
    assert current_revision(engine) is None
    upgrade(engine, revision="0001")
    assert current_revision(engine) == "0001"
    upgrade(engine)
    assert current_revision(engine) == head_revision()

    def refuse(*args, **kwargs):
        raise AssertionError("Alembic ran on a database at head")

    monkeypatch.setattr(command, "upgrade", refuse)
    assert upgrade(engine) is engine
    with pytest.raises(AssertionError):
        upgrade(engine, revision="0001")  # anything but head still goes through Alembic
