"""The one settings tree: every variable the README documents is read, and read the same
from ``./.env`` as from the environment."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from lib import settings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def readme_variables() -> list[str]:
    """Every variable named in the first column of the README's configuration table."""
    section = README.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    found: list[str] = []
    for line in section.splitlines():
        if line.startswith("| `"):
            found += re.findall(r"`([A-Z][A-Z0-9_]+)`", line.split("|")[1])
    return found


SAMPLES = {
    "BROADSHEET_ADMIN_EMAILS": json.dumps(["ops@example.test"]),
    "BROADSHEET_TRUSTED_PROXIES": "10.0.0.7",
    "SMTP_PORT": "2525",
    "SALESFORCE_API_VERSION": "61.0",
    "SALESFORCE_DOMAIN": "test",
    "BROADSHEET_WARM": "off",
    "BROADSHEET_WARM_IDLE_MINUTES": "5",
}


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in settings.variables():
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_readme_documents_variables_the_tree_reads() -> None:
    documented = readme_variables()
    assert len(documented) > 25
    unknown = sorted(set(documented) - set(settings.variables()))
    assert not unknown, f"documented but never read: {unknown}"


@pytest.mark.parametrize("variable", readme_variables())
def test_dotenv_and_environment_agree(
    variable: str, clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    value = SAMPLES.get(variable, f"sample-{variable.lower()}")
    default = settings.load(env_file=None).model_dump()

    (clean_env / ".env").write_text(f"{variable}={value}\n")
    from_file = settings.load().model_dump()

    (clean_env / ".env").unlink()
    monkeypatch.setenv(variable, value)
    from_environment = settings.load().model_dump()

    assert from_environment != default, f"{variable} is not read at all"
    assert from_file == from_environment


def test_the_environment_wins_and_only_the_working_directorys_dotenv_counts(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (clean_env / ".env").write_text("SMTP_HOST=from-file\nMAIL_FROM=reports@example.test\n")
    child = clean_env / "elsewhere"
    child.mkdir()
    monkeypatch.setenv("SMTP_HOST", "from-env")
    here = settings.load()
    assert (here.smtp.host, here.smtp.mail_from) == ("from-env", "reports@example.test")
    monkeypatch.chdir(child)  # a parent's .env is not this directory's
    assert settings.load().smtp.mail_from is None


def test_secrets_are_masked_and_reach_a_child_only_through_its_environment(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (clean_env / ".env").write_text("SMTP_PASSWORD=hunter2-secret\nGRAPH_CLIENT_SECRET=g-secret\n")
    tree = settings.load()
    assert "hunter2-secret" not in repr(tree) and "g-secret" not in repr(tree)
    env = tree.environment()
    assert env["SMTP_PASSWORD"] == "hunter2-secret"
    assert env["GRAPH_CLIENT_SECRET"] == "g-secret"


def test_dotenv_outputs_reach_the_outbox_the_database_and_the_sender(
    clean_env: Path,
) -> None:
    """The day-one bug: BROADSHEET_OUTPUTS, MAIL_FROM and SMTP_HOST in .env honoured everywhere."""
    from runner.delivery.message import default_sender
    from runner.delivery.send import TRANSPORTS, make_transport, register_builtin_transports
    from runner.delivery.transports.smtp import SMTPTransport

    (clean_env / ".env").write_text(
        "BROADSHEET_OUTPUTS=elsewhere\nMAIL_FROM=Reports <reports@example.test>\n"
        "SMTP_HOST=mail.example.test\n"
    )
    tree = settings.load()
    if not TRANSPORTS.names():
        register_builtin_transports()
    assert make_transport("outbox", tree).directory == Path("elsewhere") / "outbox"
    assert tree.state_url() == f"sqlite:///{(clean_env / 'elsewhere' / 'state.db').resolve()}"
    assert default_sender(tree, "smtp") == "Reports <reports@example.test>"
    smtp = make_transport("smtp", tree)
    assert isinstance(smtp, SMTPTransport) and smtp.settings.host == "mail.example.test"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("10.0.0.7", ["10.0.0.7"]),
        ("10.0.0.7, 10.0.0.0/24 ,", ["10.0.0.7", "10.0.0.0/24"]),
        ('["10.0.0.7", "::1"]', ["10.0.0.7", "::1"]),
    ],
)
def test_trusted_proxies_are_a_comma_list_or_json(
    value: str, expected: list[str], clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A comma list from the environment was refused (pydantic-settings parsed it as JSON).
    monkeypatch.setenv("BROADSHEET_TRUSTED_PROXIES", value)
    assert settings.load().admin.trusted_proxies == expected
    monkeypatch.delenv("BROADSHEET_TRUSTED_PROXIES")
    (clean_env / ".env").write_text(f"BROADSHEET_TRUSTED_PROXIES={value}\n")
    assert settings.load().admin.trusted_proxies == expected
