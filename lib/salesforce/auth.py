"""How Broadsheet signs in to Salesforce: which method, and the OAuth 2.0 token grants.

Four methods, chosen from what is completely configured, in this order (or forced with
``SALESFORCE_AUTH``):

``jwt``
    OAuth 2.0 JWT bearer flow: a connected app's consumer key (``SALESFORCE_CLIENT_ID``),
    an integration user (``SALESFORCE_USERNAME``) and the RSA private key whose certificate
    is uploaded to the app (``SALESFORCE_PRIVATE_KEY_FILE``).
``client_credentials``
    OAuth 2.0 client credentials flow: consumer key and secret
    (``SALESFORCE_CLIENT_SECRET``), against the org's My Domain (``SALESFORCE_LOGIN_URL``).
``password``
    Username, password and security token sent to SOAP ``login()``: not available from
    API version 65.0 and retired for every version with Summer '27 (June 2027).
``token``
    A fixed access token (``SALESFORCE_INSTANCE_URL`` + ``SALESFORCE_ACCESS_TOKEN``); it
    cannot be renewed, so it suits a one-off run, not cron.

The OAuth flows POST a form to ``<login URL>/services/oauth2/token`` and hand the answer's
``instance_url`` and ``access_token`` to ``simple_salesforce``; renewing is simply a new
grant (there is no refresh token in either flow). Neither the secret, the key, the
assertion nor a token is ever logged or put in a message.

:func:`method` is what ``broadsheet doctor`` asks; :func:`warning` says what is wrong
with a working method.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jwt
import requests
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.dsa import DSAPrivateKey
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from pydantic import SecretStr

from lib.errors import ConfigError, SourceError
from lib.settings import SalesforceSection

METHODS = ("jwt", "client_credentials", "password", "token")
"""Every sign-in method, in the order they are preferred when several are complete."""
OAUTH = frozenset({"jwt", "client_credentials"})
"""The methods that can get a new token by themselves (a new grant)."""
LABELS = {
    "jwt": "OAuth 2.0 JWT bearer",
    "client_credentials": "OAuth 2.0 client credentials",
    "password": "SOAP username and password",
    "token": "fixed access token",
}
REQUIRED = {
    "jwt": ("SALESFORCE_CLIENT_ID", "SALESFORCE_USERNAME", "SALESFORCE_PRIVATE_KEY_FILE"),
    "client_credentials": ("SALESFORCE_CLIENT_ID", "SALESFORCE_CLIENT_SECRET"),
    "password": ("SALESFORCE_USERNAME", "SALESFORCE_PASSWORD", "SALESFORCE_SECURITY_TOKEN"),
    "token": ("SALESFORCE_INSTANCE_URL", "SALESFORCE_ACCESS_TOKEN"),
}
"""The variables each method needs."""
# Variables only one method uses: setting one means that method was meant, so it must be
# complete. SALESFORCE_CLIENT_ID and SALESFORCE_USERNAME are shared and prove nothing.
_OWN = {
    "jwt": ("SALESFORCE_PRIVATE_KEY_FILE",),
    "client_credentials": ("SALESFORCE_CLIENT_SECRET",),
    "password": ("SALESFORCE_PASSWORD", "SALESFORCE_SECURITY_TOKEN"),
    "token": ("SALESFORCE_INSTANCE_URL", "SALESFORCE_ACCESS_TOKEN"),
}

LAST_PASSWORD_VERSION = 64.0
"""SOAP ``login()`` is not available from API version 65.0."""
PASSWORD_RETIREMENT = (
    "Salesforce sign-in uses username and password (SOAP login()), which Salesforce "
    "retires for every API version with the Summer '27 release (June 2027); reports will "
    "stop then. Move to the JWT bearer flow (SALESFORCE_CLIENT_ID, SALESFORCE_USERNAME, "
    "SALESFORCE_PRIVATE_KEY_FILE) or client credentials (SALESFORCE_CLIENT_ID, "
    "SALESFORCE_CLIENT_SECRET): see the README, 'Signing in to Salesforce'"
)
TOKEN_PATH = "/services/oauth2/token"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
JWT_LIFETIME = 180
"""Seconds from now to the assertion's ``exp``: Salesforce accepts at most three minutes."""
PRODUCTION_AUDIENCE = "https://login.salesforce.com"
SANDBOX_AUDIENCE = "https://test.salesforce.com"
_TRANSIENT_STATUS = frozenset({500, 502, 503, 504})

# What to check for each refusal, by flow: Salesforce's description says what, these where.
_CHECK = {
    ("jwt", "invalid_client_id"): "SALESFORCE_CLIENT_ID (the connected app's consumer key) "
    "and SALESFORCE_LOGIN_URL (the org it belongs to)",
    ("jwt", "invalid_grant"): "SALESFORCE_USERNAME (a user pre-authorised for the app), "
    "SALESFORCE_PRIVATE_KEY_FILE (the key of the certificate uploaded to the app), "
    "SALESFORCE_LOGIN_URL and SALESFORCE_JWT_AUDIENCE, and this machine's clock",
    ("jwt", "invalid_client"): "SALESFORCE_CLIENT_ID and SALESFORCE_PRIVATE_KEY_FILE",
    ("client_credentials", "invalid_client_id"): "SALESFORCE_CLIENT_ID (the connected app's "
    "consumer key) and SALESFORCE_LOGIN_URL (the org's My Domain)",
    ("client_credentials", "invalid_client"): "SALESFORCE_CLIENT_ID and SALESFORCE_CLIENT_SECRET",
    ("client_credentials", "invalid_grant"): "SALESFORCE_LOGIN_URL (must be the org's My "
    "Domain, not login.salesforce.com) and the app's client credentials flow run-as user",
}


# --------------------------------------------------------------------------- which method
def _given(section: SalesforceSection) -> set[str]:
    """The sign-in variables that are set (a blank security token counts: it means none)."""
    values: dict[str, Any] = {
        "SALESFORCE_CLIENT_ID": section.client_id,
        "SALESFORCE_USERNAME": section.username,
        "SALESFORCE_PRIVATE_KEY_FILE": section.private_key_file,
        "SALESFORCE_CLIENT_SECRET": _secret(section.client_secret),
        "SALESFORCE_PASSWORD": _secret(section.password),
        "SALESFORCE_INSTANCE_URL": section.instance_url,
        "SALESFORCE_ACCESS_TOKEN": _secret(section.access_token),
    }
    given = {name for name, value in values.items() if value}
    if section.security_token is not None:
        given.add("SALESFORCE_SECURITY_TOKEN")
    return given


def _secret(value: SecretStr | None) -> str:
    return value.get_secret_value() if value is not None else ""


def _forced(section: SalesforceSection) -> str | None:
    if not section.auth:
        return None
    name = section.auth.strip().lower().replace("-", "_")
    if name not in METHODS:
        raise ConfigError(
            f"{section.auth!r} is not a sign-in method: use one of {', '.join(METHODS)}",
            field="SALESFORCE_AUTH",
        )
    return name


def method(section: SalesforceSection) -> str:
    """The sign-in method these settings give: ``jwt``, ``client_credentials``,
    ``password`` or ``token``.

    ``SALESFORCE_AUTH`` forces one; otherwise the first complete one in :data:`METHODS`.
    A method that was started (one of its own variables is set) but not finished is an
    error even when another is complete: the operator meant something else.

    Args:
        section: the ``salesforce`` section of the settings.

    Raises:
        ConfigError: a malformed value, nothing configured, or a half-configured method,
            naming the variables to set.
    """
    section.check()
    given = _given(section)
    forced = _forced(section)
    if forced is not None:
        missing = [v for v in REQUIRED[forced] if v not in given]
        if missing:
            raise ConfigError(
                f"SALESFORCE_AUTH={forced} ({LABELS[forced]}) needs {', '.join(missing)}: "
                "set them in the environment or .env"
            )
        return forced
    if not given:
        ways = "; or ".join(
            f"{', '.join(REQUIRED[m])} ({LABELS[m]})" for m in ("jwt", "client_credentials")
        )
        raise ConfigError(
            f"Salesforce is not configured: set {ways}; or SALESFORCE_USERNAME, "
            "SALESFORCE_PASSWORD and SALESFORCE_SECURITY_TOKEN (password, retiring in 2027); "
            "or SALESFORCE_INSTANCE_URL and SALESFORCE_ACCESS_TOKEN (a fixed token), "
            "in the environment or .env"
        )
    for m in METHODS:
        if any(v in given for v in _OWN[m]):
            missing = [v for v in REQUIRED[m] if v not in given]
            if missing:
                present = [v for v in REQUIRED[m] if v in given]
                raise ConfigError(
                    f"Salesforce is partly configured: {', '.join(missing)} missing "
                    f"(set alongside {', '.join(present)} for the {LABELS[m]} sign-in)"
                )
    for m in METHODS:
        if all(v in given for v in REQUIRED[m]):
            return m
    # Only shared variables are set (a client id, a username): say what each could become.
    options = [
        f"{', '.join(v for v in REQUIRED[m] if v not in given)} ({LABELS[m]})"
        for m in METHODS
        if given & set(REQUIRED[m])
    ]
    raise ConfigError(
        f"Salesforce is partly configured: {', '.join(sorted(given))} set but no sign-in "
        f"method is complete; add {' or '.join(options)}"
    )


def check(section: SalesforceSection) -> str:
    """:func:`method`, plus what that method cannot work with. Returns the method.

    Raises:
        ConfigError: as :func:`method`; or the password flow with an API version from
            65.0, where SOAP ``login()`` does not exist.
    """
    chosen = method(section)
    if chosen == "password" and float(section.api_version) > LAST_PASSWORD_VERSION:
        raise ConfigError(
            f"{section.api_version} has no SOAP login(), which the username and password "
            f"sign-in uses: set {LAST_PASSWORD_VERSION:.1f} or lower, or sign in with the JWT "
            "bearer or client credentials flow",
            field="SALESFORCE_API_VERSION",
        )
    return chosen


def warning(chosen: str) -> str | None:
    """What an operator should know about a method that works today (for logs and doctor)."""
    return PASSWORD_RETIREMENT if chosen == "password" else None


# --------------------------------------------------------------------------- where to
def login_url(section: SalesforceSection) -> str:
    """Where to ask for a token: ``SALESFORCE_LOGIN_URL``, else the ``SALESFORCE_DOMAIN``
    host (``https://login.salesforce.com`` unless set otherwise)."""
    url = section.login_url or f"https://{section.domain}.salesforce.com"
    return url.rstrip("/")


def audience(section: SalesforceSection) -> str:
    """The JWT ``aud``: ``SALESFORCE_JWT_AUDIENCE``, else as Salesforce documents it,
    ``https://test.salesforce.com`` for a sandbox and ``https://login.salesforce.com``
    otherwise (a My Domain URL is not an audience)."""
    if section.jwt_audience:
        return section.jwt_audience.rstrip("/")
    host = (urlsplit(login_url(section)).hostname or "").lower()
    if host == "test.salesforce.com" or host.endswith(".sandbox.my.salesforce.com"):
        return SANDBOX_AUDIENCE
    return PRODUCTION_AUDIENCE


# --------------------------------------------------------------------------- the key
def load_private_key(path: Path) -> RSAPrivateKey:
    """The RSA private key of ``SALESFORCE_PRIVATE_KEY_FILE`` (PEM, unencrypted).

    Raises:
        ConfigError: the file is missing or unreadable, not a PEM private key, encrypted,
            or not RSA; the message names the file.
    """

    def refuse(why: str) -> ConfigError:
        return ConfigError(f"{why} (SALESFORCE_PRIVATE_KEY_FILE)", file=path)

    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise refuse("no such file") from None
    except OSError as exc:
        raise refuse(f"cannot be read ({exc.strerror or type(exc).__name__})") from None
    if b"-----BEGIN CERTIFICATE-----" in data and b"PRIVATE KEY-----" not in data:
        raise refuse(
            "is a certificate, not a private key: the certificate goes to the connected "
            "app, the private key it was made with comes here"
        )
    if not re.search(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----", data):
        raise refuse("is not a PEM private key (no PEM block of a PRIVATE KEY in it)")
    try:
        key = load_pem_private_key(data, password=None)
    except TypeError:
        raise refuse(
            "is encrypted: give an unencrypted copy (openssl pkey -in it -out key.pem), "
            "readable by this account only"
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        raise refuse("is not a PEM private key that can be read") from None
    if not isinstance(key, RSAPrivateKey):
        raise refuse(
            f"holds {_kind(key)} key, not RSA: the JWT bearer flow signs with RS256 "
            "(openssl req -x509 -newkey rsa:2048 ...)"
        )
    return key


def _kind(key: object) -> str:
    kinds = {
        EllipticCurvePrivateKey: "an EC",
        Ed25519PrivateKey: "an Ed25519",
        DSAPrivateKey: "a DSA",
    }
    return next((label for cls, label in kinds.items() if isinstance(key, cls)), "another")


def assertion(section: SalesforceSection, key: RSAPrivateKey, now: float | None = None) -> str:
    """The signed JWT of the bearer flow: RS256, ``iss`` the consumer key, ``sub`` the
    user, ``aud`` :func:`audience`, ``exp`` three minutes from ``now``."""
    issued = int(time.time() if now is None else now)
    claims = {
        "iss": section.client_id,
        "sub": section.username,
        "aud": audience(section),
        "exp": issued + JWT_LIFETIME,
    }
    return jwt.encode(claims, key, algorithm="RS256")


# --------------------------------------------------------------------------- the grant
@dataclass(frozen=True)
class Token:
    """What a grant gives: where the org's REST API is, and the bearer token for it."""

    instance_url: str
    access_token: SecretStr


def request_token(
    section: SalesforceSection,
    chosen: str,
    session: requests.Session,
    key: RSAPrivateKey | None = None,
) -> Token:
    """One OAuth 2.0 token request (form-encoded POST to ``<login URL>/services/oauth2/token``).

    Args:
        section: the settings.
        chosen: ``jwt`` or ``client_credentials``.
        session: the HTTP session (its timeout and CA bundle apply).
        key: the private key, for ``jwt`` (see :func:`load_private_key`).

    Raises:
        ConfigError: Salesforce refused the credentials (``invalid_grant``,
            ``invalid_client``, ``invalid_client_id`` …), with its ``error_description``
            and the variables to check.
        requests.HTTPError: a 5xx answer, worth retrying.
        SourceError: an answer that is neither a token nor an OAuth error.
    """
    url = login_url(section) + TOKEN_PATH
    if chosen == "jwt":
        if key is None:
            raise ValueError("the JWT bearer flow needs the private key")
        form = {"grant_type": JWT_GRANT, "assertion": assertion(section, key)}
    elif chosen == "client_credentials":
        form = {
            "grant_type": "client_credentials",
            "client_id": section.client_id or "",
            "client_secret": _secret(section.client_secret),
        }
    else:
        raise ValueError(f"{chosen!r} is not an OAuth 2.0 flow")
    response = session.post(url, data=form, headers={"Accept": "application/json"})
    if response.status_code in _TRANSIENT_STATUS:
        response.raise_for_status()
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        body = {}
    if response.ok and body.get("access_token") and body.get("instance_url"):
        return Token(str(body["instance_url"]), SecretStr(str(body["access_token"])))
    error = str(body.get("error") or "")
    if error:
        description = " ".join(str(body.get("error_description") or "").split())
        check_these = _CHECK.get((chosen, error)) or ", ".join(REQUIRED[chosen])
        raise ConfigError(
            f"Salesforce refused the {LABELS[chosen]} token request at {url} "
            f"({error}: {description or 'no description'}); check {check_these}"
        )
    raise SourceError(
        f"Salesforce token request to {url} answered HTTP {response.status_code} without a "
        "token; check SALESFORCE_LOGIN_URL"
    )
