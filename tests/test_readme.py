"""The README documents every command, option and setting (as datasette's tests insist)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from lib import settings
from runner.cli import main

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_every_command_and_option_is_documented():
    for name, command in main.commands.items():
        assert f"broadsheet {name}" in README, name
        for param in command.params:
            for opt in param.opts:
                if opt.startswith("--") and opt not in ("--help",):
                    assert opt in README, f"{name} {opt}"


def test_every_command_has_help():
    runner = CliRunner()
    for name in main.commands:
        result = runner.invoke(main, [name, "--help"])
        assert result.exit_code == 0 and "Usage:" in result.output, name


def test_every_setting_is_documented():
    missing = [name for name in settings.variables() if f"`{name}`" not in README]
    assert not missing, f"settings the README's configuration table does not name: {missing}"


def test_interfaces_configuration_table_is_in_the_readme():
    spec = Path(__file__).resolve().parents[2] / "shared" / "spec" / "interfaces.md"
    if not spec.exists():  # CI has shared/ beside the clone; a bare checkout may not
        return
    rows = [line for line in spec.read_text().splitlines() if line.startswith("| `")]
    for row in rows:
        for var in [p.strip(" `") for p in row.split("|")[1].split(",")]:
            if var.isupper():
                assert var in README, var
