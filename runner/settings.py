"""Settings read once at the edge (environment and ``.env``) and passed down explicitly."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parents[1]


class Settings(BaseSettings):
    """Where Broadsheet finds its reports and keeps its outputs and state.

    Credentials of Salesforce, Anthropic, Graph and SMTP are read by the module that uses
    them (``lib/salesforce.py``, ``lib/commentary.py``, ``runner/deliver.py``), never here,
    so they can never leak into a notebook parameter or a run summary.
    """

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", env_prefix="BROADSHEET_")

    outputs: Path = Field(Path("outputs"), description="the outputs directory")
    db_url: str | None = Field(None, description="SQLAlchemy URL of the state database")
    parameters_dir: Path = Field(ROOT / "parameters", description="report declarations")
    notebooks_dir: Path = Field(ROOT / "notebooks", description="report notebooks")
    admin_emails: list[str] = Field(
        ["reports-admin@larkspur-finance.example"],
        description="who is alerted when a run has failed targets (JSON list)",
    )
    company: str = Field(
        "Larkspur Retail Finance", description="the company named in report headers"
    )

    def state_url(self) -> str:
        """The state database URL; a SQLite file under outputs/ unless configured."""
        return self.db_url or f"sqlite:///{(self.outputs / 'state.db').resolve()}"
