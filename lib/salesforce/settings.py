"""How to reach Salesforce: ``SALESFORCE_*`` settings from the environment or ``.env``.

Secrets are held as ``SecretStr`` and never logged; :meth:`Settings.check` refuses
missing or half-set configuration, naming the variables to set.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from lib.errors import ConfigError

DEFAULT_API_VERSION = "62.0"


class Settings(BaseSettings):
    """How to reach Salesforce: an access token, or a username and password, or both.

    With both, the token is used first and the password only to log in again when the
    session expires.
    """

    model_config = SettingsConfigDict(env_prefix="SALESFORCE_", env_file=".env", extra="ignore")

    instance_url: str | None = None
    access_token: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
    security_token: SecretStr | None = None  # may be empty: orgs with trusted IP ranges
    domain: str = "login"
    api_version: str = DEFAULT_API_VERSION

    @classmethod
    def from_env(cls, *, env_file: str | Path | None = ".env") -> Settings:
        """Read ``SALESFORCE_*`` from the environment (and ``env_file``) and check them.

        Raises:
            ConfigError: nothing configured, or a half-configured method, naming the
                missing variables (exit status 2).
        """
        settings = cls(_env_file=env_file)  # type: ignore[call-arg]
        settings.check()
        return settings

    @property
    def has_token(self) -> bool:
        return bool(self.instance_url) and bool(
            self.access_token and self.access_token.get_secret_value()
        )

    @property
    def can_login(self) -> bool:
        return bool(self.username) and bool(self.password) and self.security_token is not None

    def check(self) -> None:
        """Refuse missing or partial configuration, naming what to set."""
        token = {
            "SALESFORCE_INSTANCE_URL": bool(self.instance_url),
            "SALESFORCE_ACCESS_TOKEN": bool(
                self.access_token and self.access_token.get_secret_value()
            ),
        }
        login = {
            "SALESFORCE_USERNAME": bool(self.username),
            "SALESFORCE_PASSWORD": bool(self.password and self.password.get_secret_value()),
            "SALESFORCE_SECURITY_TOKEN": self.security_token is not None,
        }
        if not any(token.values()) and not any(login.values()):
            raise ConfigError(
                "Salesforce is not configured: set SALESFORCE_INSTANCE_URL and "
                "SALESFORCE_ACCESS_TOKEN, or SALESFORCE_USERNAME, SALESFORCE_PASSWORD and "
                "SALESFORCE_SECURITY_TOKEN (in the environment or .env)"
            )
        # A half-set method is a mistake even when the other one is complete: it would
        # silently leave the run without the re-login (or token) the operator meant to give.
        for group in (token, login):
            missing = [name for name, present in group.items() if not present]
            if any(group.values()) and missing:
                given = [name for name, present in group.items() if present]
                raise ConfigError(
                    f"Salesforce is partly configured: {', '.join(missing)} missing "
                    f"(set alongside {', '.join(given)})"
                )
        if self.instance_url and not re.match(r"^https://[^/\s]+/?$", self.instance_url):
            raise ConfigError(
                "must look like https://yourorg.my.salesforce.com", field="SALESFORCE_INSTANCE_URL"
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
                f"{self.api_version!r} is not an API version such as '62.0'",
                field="SALESFORCE_API_VERSION",
            )
