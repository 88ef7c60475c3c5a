"""The one settings tree: read once from the environment and ``.env``, then passed down.

Every variable Broadsheet understands is a field here, under the section it belongs to:
:class:`Settings` (outputs, state database, reports, company) with the sections
``salesforce``, ``anthropic``, ``smtp``, ``graph`` and ``admin``. Each entry point builds
it once with :func:`load` (the CLI, the admin app, an admin test-send worker, and a
notebook's kernel, which calls :func:`load` through ``lib.commentary``) and hands it down;
no other module reads ``os.environ``.

The tree lives in ``lib/`` rather than ``runner/`` because a notebook's kernel is an entry
point too, and notebooks may import only ``lib``.

Precedence: the environment wins over ``.env``; the ``.env`` read is the one in the working
directory (never a parent's: a report run from another checkout must not pick up this
one's secrets). ``.env`` is read, never loaded into the environment. Blank values count as
unset. Secrets are ``SecretStr``: their ``repr`` is masked, so a settings object can be
logged, and :meth:`Settings.environment` is the only way they leave the tree (to a child
process that needs them, never on a command line or into a notebook parameter).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, Field, SecretStr, ValidationInfo, field_validator
from pydantic_core import PydanticUseDefault
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from lib.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
# The newest version every sign-in method works with: SOAP login() (the password flow) is
# not available from 65.0, so 64.0 until that flow is retired (Summer '27).
DEFAULT_API_VERSION = "64.0"
DEFAULT_COMMENTARY_MODEL = "claude-sonnet-4-5"
DEFAULT_GRAPH_AUTHORITY = "https://login.microsoftonline.com"
DEFAULT_GRAPH_BASE_URL = "https://graph.microsoft.com"
# Variables outside the tree that still shape what a child process does (where programs
# and modules are found, time zone, locale, proxies, Jupyter's own paths): a long-lived
# runner started under other values must not serve this process (see fingerprint()).
RUNTIME_VARIABLES = (
    "PATH",
    "PYTHONPATH",
    "TZ",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "HOME",
    "TMPDIR",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "JUPYTER_PATH",
    "JUPYTER_CONFIG_DIR",
    "JUPYTER_DATA_DIR",
    "IPYTHONDIR",
)


def _config(prefix: str = "", *, ignore_empty: bool = True) -> SettingsConfigDict:
    return SettingsConfigDict(
        env_prefix=prefix,
        env_file=".env",
        extra="ignore",
        env_ignore_empty=ignore_empty,  # blank means unset, in the environment and in .env
        populate_by_name=True,
    )


class SalesforceSection(BaseSettings):
    """How to reach Salesforce (``SALESFORCE_*``); which method is used is decided by
    ``lib.salesforce`` from what is complete here."""

    # An empty security token is meaningful (orgs with trusted IP ranges), so blanks stay.
    model_config = _config("SALESFORCE_", ignore_empty=False)

    instance_url: str | None = None
    access_token: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
    security_token: SecretStr | None = None
    domain: str = "login"
    api_version: str = DEFAULT_API_VERSION
    login_url: str | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    private_key_file: Path | None = None
    auth: str | None = None
    jwt_audience: str | None = None

    @property
    def has_token(self) -> bool:
        return bool(self.instance_url) and bool(
            self.access_token and self.access_token.get_secret_value()
        )

    @property
    def can_login(self) -> bool:
        return bool(self.username) and bool(self.password) and self.security_token is not None

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any, info: ValidationInfo) -> Any:
        # Blanks must stay for the security token only; elsewhere a blank (say
        # SALESFORCE_PRIVATE_KEY_FILE=) would become a value such as Path(".").
        if info.field_name != "security_token" and isinstance(value, str) and not value.strip():
            raise PydanticUseDefault()
        return value

    def check(self) -> None:
        """Refuse a malformed value, naming its variable.

        Which sign-in method these settings give, and whether it is complete, is decided
        by :func:`lib.salesforce.auth.method`, which calls this first.
        """
        if self.instance_url and not re.match(r"^https://[^/\s]+/?$", self.instance_url):
            raise ConfigError(
                "must look like https://yourorg.my.salesforce.com", field="SALESFORCE_INSTANCE_URL"
            )
        if self.login_url and not re.match(r"^https://[^/\s]+/?$", self.login_url):
            raise ConfigError(
                f"{self.login_url!r} must look like https://login.salesforce.com, "
                "https://test.salesforce.com or https://yourorg.my.salesforce.com",
                field="SALESFORCE_LOGIN_URL",
            )
        # An Experience Cloud site's audience may carry a path, so only the scheme is checked.
        if self.jwt_audience and not re.match(r"^https://\S+$", self.jwt_audience):
            raise ConfigError(
                f"{self.jwt_audience!r} must be an https:// URL", field="SALESFORCE_JWT_AUDIENCE"
            )
        if not re.fullmatch(
            r"[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*", self.domain
        ) or self.domain.endswith("salesforce.com"):
            raise ConfigError(
                f"{self.domain!r} is not a login domain: use 'login', 'test' or your My "
                "Domain prefix such as 'acme.my'",
                field="SALESFORCE_DOMAIN",
            )
        if not re.fullmatch(r"\d+\.0", self.api_version):
            raise ConfigError(
                f"{self.api_version!r} is not an API version such as '{DEFAULT_API_VERSION}'",
                field="SALESFORCE_API_VERSION",
            )

    @property
    def configured(self) -> bool:
        """Whether any sign-in method has been started (so the default source is Salesforce)."""
        return bool(self.instance_url or self.username or self.client_id)


class AnthropicSection(BaseSettings):
    """Commentary by the Anthropic API; no key means the labelled fallback commentary."""

    model_config = _config()

    api_key: SecretStr | None = Field(None, validation_alias="ANTHROPIC_API_KEY")
    base_url: str | None = Field(None, validation_alias="ANTHROPIC_BASE_URL")
    model: str = Field(DEFAULT_COMMENTARY_MODEL, validation_alias="BROADSHEET_COMMENTARY_MODEL")


class SmtpSection(BaseSettings):
    """SMTP delivery (``SMTP_*``) and the From address of every transport but Graph."""

    model_config = _config("SMTP_")

    host: str | None = None
    port: str | None = None  # checked by the transport, which names the variable
    username: str | None = None
    password: SecretStr | None = None
    starttls: str | None = None
    mail_from: str | None = Field(None, validation_alias=AliasChoices("MAIL_FROM"))


class GraphSection(BaseSettings):
    """Microsoft Graph delivery, app-only (``GRAPH_*``)."""

    model_config = _config("GRAPH_")

    tenant_id: str | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    sender: str | None = None
    authority: str = DEFAULT_GRAPH_AUTHORITY
    base_url: str = DEFAULT_GRAPH_BASE_URL


class AdminSection(BaseSettings):
    """The admin dashboard: its key and the reverse proxies it believes."""

    model_config = _config("BROADSHEET_")

    key: SecretStr | None = Field(None, validation_alias="BROADSHEET_ADMIN_KEY")
    # NoDecode: a comma-separated list is not JSON; the validator below splits it.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        # A comma-separated list is what people write; JSON works too.
        if isinstance(value, str) and value.lstrip().startswith("["):
            try:
                return json.loads(value)
            except ValueError:
                return value  # pydantic then names the field and the bad value
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value


class Settings(BaseSettings):
    """Where Broadsheet finds its reports and keeps its outputs and state, and the
    integrations it talks to (one section each)."""

    model_config = _config("BROADSHEET_")

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
    ca_bundle: Path | None = Field(
        None,
        validation_alias="REQUESTS_CA_BUNDLE",
        description="certificate bundle for TLS (Salesforce, Graph, Anthropic)",
    )
    warm: Literal["auto", "on", "off"] = Field(
        "auto",
        description="hand `broadsheet run` to a warm runner: auto (from a terminal), on, off",
    )
    warm_idle_minutes: float = Field(
        30, gt=0, description="minutes a warm runner waits for a run before it stops"
    )
    # Sections: built by :func:`load` from the same sources; a bare ``Settings(...)`` (tests)
    # reads them from the environment alone.
    salesforce: SalesforceSection = Field(
        default_factory=lambda: SalesforceSection(_env_file=None)  # type: ignore[call-arg]
    )
    anthropic: AnthropicSection = Field(
        default_factory=lambda: AnthropicSection(_env_file=None)  # type: ignore[call-arg]
    )
    smtp: SmtpSection = Field(default_factory=lambda: SmtpSection(_env_file=None))  # type: ignore[call-arg]
    graph: GraphSection = Field(default_factory=lambda: GraphSection(_env_file=None))  # type: ignore[call-arg]
    admin: AdminSection = Field(default_factory=lambda: AdminSection(_env_file=None))  # type: ignore[call-arg]

    def state_url(self) -> str:
        """The state database URL; a SQLite file under outputs/ unless configured."""
        return self.db_url or f"sqlite:///{(self.outputs / 'state.db').resolve()}"

    def apply_tls(self) -> None:
        """Make a ``REQUESTS_CA_BUNDLE`` given in ``.env`` count for this process.

        ``requests`` (simple-salesforce, msal) reads it from the environment only; the
        environment's own value, if any, already counts and is left alone.
        """
        if self.ca_bundle is not None and "REQUESTS_CA_BUNDLE" not in os.environ:
            os.environ["REQUESTS_CA_BUNDLE"] = str(self.ca_bundle)

    def environment(self) -> dict[str, str]:
        """This process's environment plus every setting as its variable, for a child.

        A child process (an admin test send, a cron job's worker) then sees exactly the
        settings its parent resolved, ``.env`` included, without a secret on its command
        line.
        """
        env = dict(os.environ)
        for section, fields in _VARIABLES.items():
            model: BaseModel = self if section == "" else getattr(self, section)
            for name, variable in fields.items():
                value = getattr(model, name)
                if value is None:
                    continue
                if isinstance(value, SecretStr):
                    value = value.get_secret_value()
                elif isinstance(value, list):
                    value = json.dumps(value)
                elif isinstance(value, Path):
                    value = str(value.resolve())
                env[variable] = str(value)
        return env


def fingerprint(settings: Settings) -> str:
    """A digest of everything a long-lived child started with ``settings`` would run with:
    every setting as :meth:`Settings.environment` passes it (secrets included: a changed
    key must not reach a runner that holds the old one; only the digest is ever kept), the
    :data:`RUNTIME_VARIABLES` and the working directory (relative paths, ``./.env``)."""
    env = settings.environment()
    mine = {
        name: env[name] for fields in _VARIABLES.values() for name in fields.values() if name in env
    }
    mine |= {name: os.environ.get(name) for name in RUNTIME_VARIABLES}
    mine["cwd"] = os.getcwd()
    return hashlib.sha256(json.dumps(mine, sort_keys=True).encode()).hexdigest()


def _variables() -> dict[str, dict[str, str]]:
    """Section -> field -> environment variable, derived from the models themselves."""
    out: dict[str, dict[str, str]] = {}
    sections: dict[str, type[BaseSettings]] = {
        "": Settings,
        "salesforce": SalesforceSection,
        "anthropic": AnthropicSection,
        "smtp": SmtpSection,
        "graph": GraphSection,
        "admin": AdminSection,
    }
    for section, model in sections.items():
        prefix = model.model_config.get("env_prefix", "")
        names: dict[str, str] = {}
        for name, info in model.model_fields.items():
            if section == "" and name in sections:
                continue
            alias = info.validation_alias
            if isinstance(alias, str):
                names[name] = alias
            elif isinstance(alias, AliasChoices):
                names[name] = str(alias.choices[0])
            else:
                names[name] = f"{prefix}{name}".upper()
        out[section] = names
    return out


_VARIABLES = _variables()


def variables() -> list[str]:
    """Every environment variable the tree reads (for the README check and ``doctor``)."""
    return sorted(v for fields in _VARIABLES.values() for v in fields.values())


def load(env_file: str | Path | None = ".env", **overrides: Any) -> Settings:
    """Read the whole tree once: the environment, then ``env_file`` (default ``./.env``).

    Args:
        env_file: The dotenv file, relative to the working directory; None for none.
        overrides: Top-level fields to set explicitly (they win over both sources).
    """
    kw: dict[str, Any] = {"_env_file": env_file}
    return Settings(
        **kw,
        salesforce=SalesforceSection(**kw),
        anthropic=AnthropicSection(**kw),
        smtp=SmtpSection(**kw),
        graph=GraphSection(**kw),
        admin=AdminSection(**kw),
        **overrides,
    )
