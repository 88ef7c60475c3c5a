"""A local HTTPS stand-in of the Salesforce REST query API, its OAuth 2.0 token endpoint
and SOAP login.

The real ``simple_salesforce`` client talks to it unchanged: the server speaks TLS with a
certificate issued by a throw-away ``trustme`` CA (point ``REQUESTS_CA_BUNDLE`` at
:attr:`SalesforceStandin.ca_pem`), answers ``/services/data/vXX.X/query?q=…`` and the
``nextRecordsUrl`` pages, ``/services/data/vXX.X/sobjects/<object>/describe``, the SOAP
``login`` call and ``/services/oauth2/token``, and reports ``Sforce-Limit-Info`` on every
REST answer.

The token endpoint is a connected app with consumer key :data:`CLIENT_ID`, secret
:data:`CLIENT_SECRET` and an uploaded certificate (:attr:`SalesforceStandin.jwt_certificate`,
self-signed, as ``openssl req -x509`` makes it; its private key is
:attr:`SalesforceStandin.jwt_key_file`). It really checks what Salesforce checks: the
form encoding, the JWT bearer assertion's RS256 signature against that certificate, its
``iss`` (the consumer key), ``sub`` (a pre-authorised user), ``aud`` and ``exp`` (not past,
at most three minutes ahead, by the stand-in's clock, which a test may set wrong with
:attr:`~SalesforceStandin.clock_skew`); and the client credentials' consumer key and
secret. Refusals carry Salesforce's ``error`` codes (``invalid_grant``, ``invalid_client``,
``invalid_client_id``, ``unsupported_grant_type``) with a description modelled on its own.

It *evaluates* the SOQL it is sent instead of matching strings: the ``SELECT`` list (or
``COUNT()``), ``FROM``, a ``WHERE`` of comparisons joined by ``AND``/``OR``/``NOT`` with
parentheses, ``IN``, ``ORDER BY`` and ``LIMIT``. Unknown (or hidden) fields are answered
with ``INVALID_FIELD`` exactly as Salesforce does when field-level security hides one.

Faults on demand: an HTTP error with a Salesforce error body on a chosen page of a chosen
object (:meth:`SalesforceStandin.fail`), a dropped connection or a slow answer
(:meth:`~SalesforceStandin.drop`, :meth:`~SalesforceStandin.stall`), every session
expiring (:meth:`~SalesforceStandin.expire_sessions`), every new token expiring after N
REST calls (:meth:`~SalesforceStandin.expire_tokens_after`). It counts what it receives.
"""

from __future__ import annotations

import contextlib
import html
import itertools
import json
import math
import re
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import numpy as np
import pandas as pd
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from lib.settings import DEFAULT_API_VERSION

#: Snapshot table name -> Salesforce object it comes from.
OBJECTS = {"users": "User", "accounts": "Account", "applications": "Application__c"}

ACCESS_TOKEN = "00DSTANDIN0000001!standin-access-token"
USERNAME = "reports@broadsheet.example"
PASSWORD = "correct horse"
SECURITY_TOKEN = "standinSecurityToken"
ORG_ID = "00DSTANDIN0000001"
#: The connected app: consumer key and secret, and the JWT audience it expects.
CLIENT_ID = "3MVG9STANDIN.connected.app.consumer.key"
CLIENT_SECRET = "standin-consumer-secret-5F1E2D3C"
JWT_AUDIENCE = "https://login.salesforce.com"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
#: Salesforce accepts a JWT bearer assertion whose ``exp`` is at most this far ahead.
JWT_MAX_LIFETIME = 180

#: Salesforce's own page-size bounds for ``Sforce-Query-Options: batchSize``.
MIN_BATCH, MAX_BATCH = 200, 2000

# Hosts the certificate is valid for: the stand-in itself and the public login hosts, so a
# test can route ``login.salesforce.com`` here and keep full TLS verification.
CERT_HOSTS = ("127.0.0.1", "localhost", "login.salesforce.com", "test.salesforce.com")


class SoqlError(Exception):
    """A query Salesforce would refuse; ``code`` is its ``errorCode``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# --------------------------------------------------------------------------- SOQL
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^'\\]|\\.)*')
      | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))
      | (?P<date>\d{4}-\d{2}-\d{2})
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<op><=|>=|!=|<>|=|<|>|\(|\)|,)
      | (?P<word>[A-Za-z_][A-Za-z0-9_.]*)
    )""",
    re.VERBOSE,
)
_UNESCAPES = {"\\": "\\", "'": "'", '"': '"', "n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f"}
_KEYWORDS = {"SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "IN", "ORDER", "BY", "ASC", "DESC"}
_KEYWORDS |= {"LIMIT", "NULLS", "FIRST", "LAST", "TRUE", "FALSE", "NULL", "COUNT"}


@dataclass(frozen=True)
class Tok:
    kind: str  # string, datetime, date, number, op, word, end
    value: Any
    text: str


def _unescape(body: str) -> str:
    out, chars = [], iter(body)
    for ch in chars:
        if ch != "\\":
            out.append(ch)
            continue
        nxt = next(chars, "")
        if nxt not in _UNESCAPES:
            raise SoqlError("MALFORMED_QUERY", f"Invalid string literal escape: \\{nxt}")
        out.append(_UNESCAPES[nxt])
    return "".join(out)


def _parse_datetime(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value.astimezone(UTC)


def tokenize(soql: str) -> list[Tok]:
    """Split SOQL into tokens; literals are decoded into Python values."""
    tokens, pos = [], 0
    while pos < len(soql):
        if soql[pos:].strip() == "":
            break
        m = _TOKEN.match(soql, pos)
        if not m:
            raise SoqlError("MALFORMED_QUERY", f"unexpected token at: {soql[pos : pos + 20]!r}")
        kind = m.lastgroup
        text = m.group(kind)
        value: Any = text
        if kind == "string":
            value = _unescape(text[1:-1])
        elif kind == "datetime":
            value = _parse_datetime(text)
        elif kind == "date":
            value = date.fromisoformat(text)
        elif kind == "number":
            value = float(text)
        tokens.append(Tok(kind, value, text))
        pos = m.end()
    tokens.append(Tok("end", None, ""))
    return tokens


@dataclass
class Query:
    """A parsed SOQL query: what to select, from where, which rows, in what order."""

    obj: str
    fields: list[str]  # empty for COUNT()
    count: bool
    where: Callable[[Mapping[str, Any]], bool] | None
    where_fields: list[str]
    order: list[tuple[str, bool]]  # (field, descending)
    limit: int | None


class _Parser:
    """Recursive descent over the token list. Field names are resolved later."""

    def __init__(self, soql: str) -> None:
        self.toks = tokenize(soql)
        self.i = 0
        self.where_fields: list[str] = []

    def peek(self) -> Tok:
        return self.toks[self.i]

    def take(self) -> Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def is_kw(self, *words: str) -> bool:
        tok = self.peek()
        return tok.kind == "word" and tok.text.upper() in words

    def expect_kw(self, word: str) -> None:
        if not self.is_kw(word):
            raise SoqlError("MALFORMED_QUERY", f"expecting '{word}', found '{self.peek().text}'")
        self.take()

    def expect_op(self, op: str) -> None:
        if self.peek().kind != "op" or self.peek().text != op:
            raise SoqlError("MALFORMED_QUERY", f"expecting '{op}', found '{self.peek().text}'")
        self.take()

    def name(self) -> str:
        tok = self.take()
        if tok.kind != "word" or tok.text.upper() in _KEYWORDS:
            raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{tok.text}'")
        return tok.text

    def parse(self) -> Query:
        self.expect_kw("SELECT")
        fields: list[str] = []
        count = False
        if self.is_kw("COUNT"):
            self.take()
            self.expect_op("(")
            self.expect_op(")")
            count = True
        else:
            fields.append(self.name())
            while self.peek().text == ",":
                self.take()
                fields.append(self.name())
        self.expect_kw("FROM")
        obj = self.name()
        where = None
        if self.is_kw("WHERE"):
            self.take()
            where = self.expr()
        order: list[tuple[str, bool]] = []
        if self.is_kw("ORDER"):
            self.take()
            self.expect_kw("BY")
            while True:
                name = self.name()
                desc = False
                if self.is_kw("ASC", "DESC"):
                    desc = self.take().text.upper() == "DESC"
                if self.is_kw("NULLS"):
                    self.take()
                    if not self.is_kw("FIRST", "LAST"):
                        raise SoqlError("MALFORMED_QUERY", "expecting FIRST or LAST")
                    self.take()
                order.append((name, desc))
                if self.peek().text != ",":
                    break
                self.take()
        limit = None
        if self.is_kw("LIMIT"):
            self.take()
            tok = self.take()
            if tok.kind != "number":
                raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{tok.text}'")
            limit = int(tok.value)
        if self.peek().kind != "end":
            raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{self.peek().text}'")
        return Query(obj, fields, count, where, self.where_fields, order, limit)

    # expr := term (OR term)* ; term := factor (AND factor)* ; factor := NOT factor | (expr) | cmp
    def expr(self) -> Callable[[Mapping[str, Any]], bool]:
        parts = [self.term()]
        while self.is_kw("OR"):
            self.take()
            parts.append(self.term())
        return parts[0] if len(parts) == 1 else (lambda r, ps=parts: any(p(r) for p in ps))

    def term(self) -> Callable[[Mapping[str, Any]], bool]:
        parts = [self.factor()]
        while self.is_kw("AND"):
            self.take()
            parts.append(self.factor())
        return parts[0] if len(parts) == 1 else (lambda r, ps=parts: all(p(r) for p in ps))

    def factor(self) -> Callable[[Mapping[str, Any]], bool]:
        if self.is_kw("NOT"):
            self.take()
            inner = self.factor()
            return lambda r: not inner(r)
        if self.peek().text == "(":
            self.take()
            inner = self.expr()
            self.expect_op(")")
            return inner
        return self.comparison()

    def literal(self) -> Any:
        tok = self.take()
        if tok.kind in ("string", "datetime", "date", "number"):
            return tok.value
        if tok.kind == "word" and tok.text.upper() in ("TRUE", "FALSE", "NULL"):
            return {"TRUE": True, "FALSE": False, "NULL": None}[tok.text.upper()]
        raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{tok.text}'")

    def comparison(self) -> Callable[[Mapping[str, Any]], bool]:
        name = self.name()
        self.where_fields.append(name)
        key = name.lower()
        if self.is_kw("IN", "NOT"):
            negate = self.take().text.upper() == "NOT"
            if negate:
                self.expect_kw("IN")
            self.expect_op("(")
            values = [self.literal()]
            while self.peek().text == ",":
                self.take()
                values.append(self.literal())
            self.expect_op(")")
            return lambda r: (r[key] in values) != negate
        op = self.take()
        if op.kind != "op" or op.text in ("(", ")", ","):
            raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{op.text}'")
        value = self.literal()
        return _comparator(key, op.text, value)


def _comparator(key: str, op: str, value: Any) -> Callable[[Mapping[str, Any]], bool]:
    def check(record: Mapping[str, Any]) -> bool:
        current = record[key]
        if op in ("=", "!=", "<>"):
            return (current == value) == (op == "=")
        if current is None or value is None:
            return False  # SOQL: an ordering comparison with null matches nothing
        if type(current) is not type(value) and not (
            isinstance(current, int | float) and isinstance(value, int | float)
        ):
            raise SoqlError(
                "INVALID_FIELD",
                f"value of filter criterion for field '{key}' must be of type "
                f"{type(current).__name__} and should not be enclosed in quotes",
            )
        return {
            "<": current < value,
            "<=": current <= value,
            ">": current > value,
            ">=": current >= value,
        }[op]

    return check


def parse_soql(soql: str) -> Query:
    """Parse the subset of SOQL Broadsheet uses (and a little more)."""
    return _Parser(soql).parse()


# --------------------------------------------------------------------------- data
def _python_value(value: Any, kind: str) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if kind == "datetime":
        ts = pd.Timestamp(value)
        ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
        return ts.to_pydatetime()
    if kind == "date":
        return pd.Timestamp(value).date() if not isinstance(value, date) else value
    if kind == "boolean":
        return bool(value)
    if kind == "double":
        return float(value)
    return str(value)


def _column_kind(series: pd.Series) -> str:
    dtype = series.dtype
    if isinstance(dtype, pd.DatetimeTZDtype):
        return "datetime"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "date"
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_float_dtype(dtype) or pd.api.types.is_integer_dtype(dtype):
        return "double"
    sample = series.dropna()
    if (
        len(sample)
        and isinstance(sample.iloc[0], date)
        and not isinstance(sample.iloc[0], datetime)
    ):
        return "date"
    if str(dtype).startswith("date32") or str(dtype).startswith("timestamp"):
        return "date" if str(dtype).startswith("date32") else "datetime"
    return "string"


def to_json_value(value: Any, kind: str) -> Any:
    """A Python value as the REST API writes it (datetimes with milliseconds, +0000)."""
    if value is None:
        return None
    if kind == "datetime":
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"
    if kind == "date":
        return value.isoformat()
    return value


@dataclass
class SObject:
    """One object's records; field names keep Salesforce's case, lookups ignore it."""

    name: str
    fields: list[str]
    kinds: dict[str, str]
    records: dict[str, dict[str, Any]]  # Id -> {lower-case field: python value}
    wire: dict[str, dict[str, Any]]  # Id -> {field: value as the REST API writes it}
    hidden: set[str] = field(default_factory=set)

    def copy(self) -> SObject:
        """An independent copy (records are flat dicts of immutable values)."""
        return SObject(
            self.name,
            list(self.fields),
            dict(self.kinds),
            {k: dict(v) for k, v in self.records.items()},
            {k: dict(v) for k, v in self.wire.items()},
            set(self.hidden),
        )

    def encode(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """One record's fields as JSON values (computed once, not per query)."""
        return {f: to_json_value(record[f.lower()], self.kinds[f]) for f in self.fields}

    def resolve(self, name: str) -> str:
        """The canonical name of a visible field, or INVALID_FIELD as Salesforce says it."""
        for f in self.fields:
            if f.lower() == name.lower() and f not in self.hidden:
                return f
        raise SoqlError(
            "INVALID_FIELD",
            f"\n{name}\n^\nERROR at Row:1:Column:1\nNo such column '{name}' on entity "
            f"'{self.name}'. If you are attempting to use a custom field, be sure to append "
            "the '__c' after the custom field name. Please reference your WSDL or the "
            "describe call for the appropriate names.",
        )


def _column(series: pd.Series, kind: str) -> tuple[list[Any], list[Any]]:
    """A column as Python values and as REST JSON values, vectorised where it matters."""
    if kind == "datetime":
        naive = pd.to_datetime(series, utc=True).dt.tz_localize(None).to_numpy("datetime64[us]")
        wire = np.datetime_as_string(naive, unit="ms").astype(object) + "+0000"
        missing = np.isnat(naive)
        wire[missing] = None
        python = [None if v is None else v.replace(tzinfo=UTC) for v in naive.astype(object)]
        return python, wire.tolist()
    python = [_python_value(v, kind) for v in series.astype(object).tolist()]
    return python, [to_json_value(v, kind) for v in python]


def objects_from_tables(tables: Mapping[str, pd.DataFrame]) -> dict[str, SObject]:
    """Turn snapshot-shaped frames (stored types) into the stand-in's Salesforce objects."""
    out: dict[str, SObject] = {}
    for table, obj in OBJECTS.items():
        frame = tables[table]
        fields = list(frame.columns)
        kinds = {c: _column_kind(frame[c]) for c in fields}
        python, wire = {}, {}
        for c in fields:
            python[c], wire[c] = _column(frame[c], kinds[c])
        lower = [c.lower() for c in fields]
        records: dict[str, dict[str, Any]] = {}
        wires: dict[str, dict[str, Any]] = {}
        for row, row_wire in zip(
            zip(*(python[c] for c in fields), strict=True),
            zip(*(wire[c] for c in fields), strict=True),
            strict=True,
        ):
            rec = dict(zip(lower, row, strict=True))
            records[rec["id"]] = rec
            wires[rec["id"]] = dict(zip(fields, row_wire, strict=True))
        out[obj] = SObject(obj, fields, kinds, records, wires)
    return out


# --------------------------------------------------------------------------- faults
@dataclass
class Fault:
    """What to do instead of answering one matching request."""

    action: str  # "error", "expire", "drop", "stall"
    obj: str | None = None  # match requests for this object (None: any)
    page: int | None = None  # match this page of a query (1 = the query call itself)
    times: int = 1  # how many matching requests it hits
    status: int = 503
    body: Any = None
    seconds: float = 0.0

    def matches(self, obj: str | None, page: int | None) -> bool:
        return (
            self.times > 0
            and (self.obj is None or self.obj == obj)
            and (self.page is None or self.page == page)
        )


@dataclass
class Cursor:
    obj: str
    records: list[dict[str, Any]]
    batch: int
    total: int


# --------------------------------------------------------------------------- the app's certificate
def self_signed(key: rsa.RSAPrivateKey, common_name: str = "broadsheet-jwt") -> x509.Certificate:
    """What ``openssl req -x509 -key key.pem -days 730`` makes: the certificate to upload."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now.replace(year=now.year - 1))
        .not_valid_after(now.replace(year=now.year + 2))
        .sign(key, hashes.SHA256())
    )


def pem(key: Any) -> bytes:
    """A private key as unencrypted PKCS#8 PEM (a ``PRIVATE KEY`` block)."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


class TokenRefusal(Exception):
    """An OAuth error answer: ``status``, ``error`` and ``error_description``."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status


# --------------------------------------------------------------------------- server
class SalesforceStandin:
    """The stand-in server. Start it once, reset it between tests.

    Attributes:
        calls: REST requests received since the last reset (what counts against the
            org's API limit), including those answered with a fault.
        logins: SOAP logins received since the last reset.
        token_requests: requests to ``/services/oauth2/token`` since the last reset.
        grants: one ``(grant_type, status, error)`` per token request.
        issued: every access token handed out since the last reset (tests look for them
            where they must not be).
        clock_skew: seconds added to the stand-in's clock when it checks an assertion's
            ``exp`` (as if this machine's clock were that far behind).
        token_outage: how many of the next token requests are answered 503.
        log: one ``(kind, object, page, status)`` tuple per REST request.
        api_used: the org's running API usage reported in ``Sforce-Limit-Info``.
        api_limit: the org's daily limit reported in ``Sforce-Limit-Info``.
    """

    def __init__(
        self, tables: Mapping[str, pd.DataFrame], *, api_version: str = DEFAULT_API_VERSION
    ) -> None:
        self.api_version = api_version
        self._tables = dict(tables)
        self._lock = threading.RLock()
        self._ca = trustme.CA()
        self._cert = self._ca.issue_cert(*CERT_HOSTS)
        self._tmp = tempfile.TemporaryDirectory(prefix="sf-standin-")
        self.ca_pem = Path(self._tmp.name) / "ca.pem"
        self._ca.cert_pem.write_to_path(str(self.ca_pem))
        # The connected app's certificate, and the private key the integration keeps.
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.app_certificate = self_signed(key)
        self.jwt_key_file = Path(self._tmp.name) / "broadsheet-jwt.key"
        self.jwt_key_file.write_bytes(pem(key))
        self.jwt_certificate = Path(self._tmp.name) / "broadsheet-jwt.crt"
        self.jwt_certificate.write_bytes(
            self.app_certificate.public_bytes(serialization.Encoding.PEM)
        )
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._locators = itertools.count(1)
        self._pristine: dict[str, SObject] | None = None
        self.reset()

    # ----------------------------------------------------------------- lifecycle
    def start(self) -> SalesforceStandin:
        """Listen on a free local port (TLS) in a daemon thread."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._cert.configure_cert(ctx)
        server = _QuietServer(("127.0.0.1", 0), _handler_for(self))
        server.daemon_threads = True
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and remove the CA file."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self._tmp.cleanup()

    def __enter__(self) -> SalesforceStandin:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "start() the stand-in first"
        return self._server.server_address[1]

    @property
    def instance_url(self) -> str:
        """What goes into ``SALESFORCE_INSTANCE_URL``."""
        return f"https://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        """Environment for a client using the stand-in's access token."""
        return {
            "SALESFORCE_INSTANCE_URL": self.instance_url,
            "SALESFORCE_ACCESS_TOKEN": ACCESS_TOKEN,
            "SALESFORCE_API_VERSION": self.api_version,
            "REQUESTS_CA_BUNDLE": str(self.ca_pem),
        }

    def jwt_env(self) -> dict[str, str]:
        """Environment for the JWT bearer flow (the stand-in is the login URL)."""
        return {
            "SALESFORCE_LOGIN_URL": self.instance_url,
            "SALESFORCE_CLIENT_ID": CLIENT_ID,
            "SALESFORCE_USERNAME": USERNAME,
            "SALESFORCE_PRIVATE_KEY_FILE": str(self.jwt_key_file),
            "SALESFORCE_API_VERSION": self.api_version,
            "REQUESTS_CA_BUNDLE": str(self.ca_pem),
        }

    def client_credentials_env(self) -> dict[str, str]:
        """Environment for the client credentials flow (the stand-in is the My Domain)."""
        return {
            "SALESFORCE_LOGIN_URL": self.instance_url,
            "SALESFORCE_CLIENT_ID": CLIENT_ID,
            "SALESFORCE_CLIENT_SECRET": CLIENT_SECRET,
            "SALESFORCE_API_VERSION": self.api_version,
            "REQUESTS_CA_BUNDLE": str(self.ca_pem),
        }

    # ----------------------------------------------------------------- state
    def reset(self, tables: Mapping[str, pd.DataFrame] | None = None) -> None:
        """Forget faults, counters, sessions and changes; serve ``tables`` (or the same)."""
        with self._lock:
            if tables is not None or self._pristine is None:
                self._tables = dict(tables) if tables is not None else self._tables
                self._pristine = objects_from_tables(self._tables)
            self.objects = {name: o.copy() for name, o in self._pristine.items()}
            self.faults: list[Fault] = []
            self.cursors: dict[str, Cursor] = {}
            # Valid tokens -> REST calls each has left (None: until expired otherwise).
            self.tokens: dict[str, int | None] = {ACCESS_TOKEN: None}
            self.token_life: int | None = None
            self.calls = 0
            self.logins = 0
            self.token_requests = 0
            self.grants: list[tuple[str, int, str]] = []
            self.issued: list[str] = []
            self.clock_skew = 0.0
            self.token_outage = 0
            self.users = {USERNAME}  # pre-authorised for the connected app
            self.jwt_audience = JWT_AUDIENCE
            self.log: list[tuple[str, str | None, int | None, int]] = []
            self.api_used = 1000
            self.api_limit = 705_000

    def reset_counters(self) -> None:
        """Zero the counters and the request log; keep records, faults and sessions."""
        with self._lock:
            self.calls = 0
            self.logins = 0
            self.token_requests = 0
            self.grants = []
            self.log = []

    def fail(
        self,
        status: int,
        error_code: str,
        message: str,
        *,
        obj: str | None = None,
        page: int | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` matching requests with an HTTP error and SF error body."""
        body = [{"message": message, "errorCode": error_code}]
        self.faults.append(Fault("error", obj, page, times, status=status, body=body))

    def drop(self, *, obj: str | None = None, page: int | None = None, times: int = 1) -> None:
        """Close the connection without answering (the client sees a connection error)."""
        self.faults.append(Fault("drop", obj, page, times))

    def stall(
        self, seconds: float, *, obj: str | None = None, page: int | None = None, times: int = 1
    ) -> None:
        """Wait ``seconds`` before answering normally (the client should time out first)."""
        self.faults.append(Fault("stall", obj, page, times, seconds=seconds))

    def expire_sessions(
        self, *, obj: str | None = None, page: int | None = None, times: int = 1
    ) -> None:
        """Invalidate every session: REST calls get 401 INVALID_SESSION_ID until a login.

        With ``obj`` or ``page``, the sessions expire when that request arrives (so the
        request itself is refused), as when a session times out in the middle of a run.
        """
        if obj is None and page is None:
            with self._lock:
                self.tokens.clear()
            return
        body = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
        self.faults.append(Fault("expire", obj, page, times, status=401, body=body))

    def expire_tokens_after(self, calls: int | None) -> None:
        """Every session issued from now on (grant or login) serves ``calls`` REST requests;
        the next one is refused with 401 INVALID_SESSION_ID. None: no such limit."""
        self.token_life = calls

    def delete(self, obj: str, record_id: str) -> None:
        """Delete a record (it goes to the recycle bin: plain queries no longer see it)."""
        with self._lock:
            del self.objects[obj].records[record_id]
            del self.objects[obj].wire[record_id]

    def hide_field(self, obj: str, name: str) -> None:
        """Field-level security: the field disappears from queries and describe."""
        self.objects[obj].hidden.add(name)

    def update(self, obj: str, record_id: str, **values: Any) -> None:
        """Change a record in place (values given as Python objects, datetimes UTC-aware)."""
        with self._lock:
            sobj = self.objects[obj]
            record = sobj.records[record_id]
            for name, value in values.items():
                record[sobj.resolve(name).lower()] = value
            sobj.wire[record_id] = sobj.encode(record)

    def touch(self, record_id: str, when: datetime, **values: Any) -> None:
        """Change an application and stamp ``SystemModstamp`` as Salesforce would."""
        self.update("Application__c", record_id, SystemModstamp=when, **values)

    def records(self, obj: str) -> dict[str, dict[str, Any]]:
        """The stored records of ``obj`` (Id -> lower-cased field -> Python value)."""
        return self.objects[obj].records

    # ----------------------------------------------------------------- routing for tests
    @contextlib.contextmanager
    def route_login_hosts(self) -> Iterator[None]:
        """Resolve ``login``/``test.salesforce.com:443`` to the stand-in, in this process.

        ``simple_salesforce`` builds the SOAP login URL from the domain
        (``https://{domain}.salesforce.com/...``), so a host:port cannot be given. Rather
        than teach our code about the stand-in, the test re-points name resolution at
        socket level; TLS is still verified against the real host name.
        """
        import urllib3.util.connection as conn

        real = conn.create_connection

        def create_connection(address: tuple[str, int], *args: Any, **kwargs: Any) -> Any:
            host, port = address
            if host in ("login.salesforce.com", "test.salesforce.com") and port == 443:
                address = ("127.0.0.1", self.port)
            return real(address, *args, **kwargs)

        conn.create_connection = create_connection
        try:
            yield
        finally:
            conn.create_connection = real

    # ----------------------------------------------------------------- request handling
    def _take_fault(self, obj: str | None, page: int | None) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.matches(obj, page):
                    fault.times -= 1
                    return fault
        return None

    def _query(self, soql: str, batch: int) -> tuple[dict[str, Any], str]:
        q = parse_soql(soql)
        sobj = self.objects.get(q.obj) or next(
            (o for n, o in self.objects.items() if n.lower() == q.obj.lower()), None
        )
        if sobj is None:
            raise SoqlError(
                "INVALID_TYPE",
                f"\nFROM {q.obj}\n^\nERROR at Row:1:Column:1\nsObject type '{q.obj}' is not "
                "supported. If you are attempting to use a custom object, be sure to append "
                "the '__c' after the entity name.",
            )
        fields = [sobj.resolve(f) for f in q.fields]
        for f in q.where_fields:
            sobj.resolve(f)
        order = [(sobj.resolve(f).lower(), desc) for f, desc in q.order]
        with self._lock:
            rows = [r for r in sobj.records.values() if q.where is None or q.where(r)]
        for key, desc in reversed(order):
            # Salesforce sorts nulls first ascending; keep that so ORDER BY is faithful.
            rows.sort(key=lambda r, k=key: (r[k] is not None, r[k] or 0), reverse=desc)
        if q.limit is not None:
            rows = rows[: q.limit]
        if q.count:
            return {"totalSize": len(rows), "done": True, "records": []}, sobj.name
        url = f"/services/data/v{self.api_version}/sobjects/{sobj.name}/"
        records = []
        for r in rows:
            wire = sobj.wire[r["id"]]
            record = {"attributes": {"type": sobj.name, "url": url + r["id"]}}
            record.update((f, wire[f]) for f in fields)
            records.append(record)
        locator = f"01gSB{next(self._locators):013d}"
        self.cursors[locator] = Cursor(sobj.name, records, batch, len(records))
        return self._page(locator, 0), sobj.name

    def _page(self, locator: str, offset: int) -> dict[str, Any]:
        cursor = self.cursors[locator]
        end = offset + cursor.batch
        body: dict[str, Any] = {
            "totalSize": cursor.total,
            "done": end >= cursor.total,
            "records": cursor.records[offset:end],
        }
        if end < cursor.total:
            body["nextRecordsUrl"] = f"/services/data/v{self.api_version}/query/{locator}-{end}"
        return body

    def _describe(self, obj: str) -> dict[str, Any]:
        sobj = self.objects.get(obj)
        if sobj is None:
            raise SoqlError("NOT_FOUND", "The requested resource does not exist")
        type_names = {"datetime": "datetime", "date": "date", "boolean": "boolean"}
        return {
            "name": sobj.name,
            "queryable": True,
            "fields": [
                {"name": f, "type": type_names.get(sobj.kinds[f], "string")}
                for f in sobj.fields
                if f not in sobj.hidden
            ],
        }

    def _login(self, body: str) -> tuple[int, str, str | None]:
        """Answer a SOAP login: ``(status, xml, token or None)``."""
        with self._lock:
            self.logins += 1
        user = re.search(r"<n1:username>(.*?)</n1:username>", body, re.S)
        secret = re.search(r"<n1:password>(.*?)</n1:password>", body, re.S)
        given_user = html.unescape(user.group(1)) if user else None
        given_secret = html.unescape(secret.group(1)) if secret else None
        if given_user != USERNAME or given_secret != PASSWORD + SECURITY_TOKEN:
            return 500, _LOGIN_FAULT, None
        token = f"{ORG_ID}!standin-session-{self.logins}"
        with self._lock:
            self.tokens[token] = self.token_life
            self.issued.append(token)
        server_url = f"{self.instance_url}/services/Soap/u/{self.api_version}/{ORG_ID}"
        return 200, _LOGIN_OK.format(server_url=server_url, session_id=token), token


def _use_token(standin: SalesforceStandin, token: str) -> bool:
    """Whether ``token`` is valid now; spends one of its calls if they are counted."""
    with standin._lock:
        if token not in standin.tokens:
            return False
        left = standin.tokens[token]
        if left is None:
            return True
        if left <= 0:
            del standin.tokens[token]
            return False
        standin.tokens[token] = left - 1
        return True


def _verify_assertion(standin: SalesforceStandin, assertion: str) -> str:
    """The user a JWT bearer assertion signs in, or :class:`TokenRefusal` as Salesforce says it."""
    try:
        header = jwt.get_unverified_header(assertion)
        claims = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise TokenRefusal("invalid_grant", "invalid assertion") from None
    if claims.get("iss") != CLIENT_ID:
        raise TokenRefusal("invalid_client_id", "client identifier invalid")
    if header.get("alg") != "RS256":
        raise TokenRefusal("invalid_grant", "invalid assertion: algorithm must be RS256")
    try:
        jwt.decode(
            assertion,
            standin.app_certificate.public_key(),  # type: ignore[arg-type]
            algorithms=["RS256"],
            audience=standin.jwt_audience,
            options={"require": ["iss", "sub", "aud", "exp"], "verify_exp": False},
        )
    except jwt.InvalidSignatureError:
        raise TokenRefusal("invalid_grant", "invalid assertion") from None
    except jwt.InvalidAudienceError:
        raise TokenRefusal("invalid_grant", "audience is invalid") from None
    except jwt.PyJWTError as exc:
        raise TokenRefusal("invalid_grant", f"invalid assertion: {exc}") from None
    now = time.time() + standin.clock_skew
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or exp <= now:
        raise TokenRefusal("invalid_grant", "expired assertion: exp is in the past")
    if exp > now + JWT_MAX_LIFETIME:
        raise TokenRefusal("invalid_grant", "invalid assertion: exp more than 3 minutes ahead")
    if claims.get("sub") not in standin.users:
        raise TokenRefusal("invalid_grant", "user hasn't approved this consumer")
    return str(claims["sub"])


def token_form(content_type: str, body: str) -> dict[str, str]:
    """The fields of a token request; Salesforce reads a form-encoded body only."""
    if content_type.split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
        return {}
    return {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}


def _grant(standin: SalesforceStandin, form: Mapping[str, str]) -> dict[str, Any]:
    """Answer a token request: the token response, or :class:`TokenRefusal`."""
    grant_type = form.get("grant_type", "")
    if grant_type == JWT_GRANT:
        _verify_assertion(standin, form.get("assertion", ""))
    elif grant_type == "client_credentials":
        if form.get("client_id") != CLIENT_ID:
            raise TokenRefusal("invalid_client_id", "client identifier invalid")
        if form.get("client_secret") != CLIENT_SECRET:
            raise TokenRefusal("invalid_client", "invalid client credentials")
    else:
        raise TokenRefusal("unsupported_grant_type", "grant type not supported")
    with standin._lock:
        token = f"{ORG_ID}!standin-oauth-{len(standin.issued) + 1}"
        standin.tokens[token] = standin.token_life
        standin.issued.append(token)
    return {
        "access_token": token,
        "instance_url": standin.instance_url,
        "id": f"{standin.instance_url}/id/{ORG_ID}/005SB0000000001AAA",
        "token_type": "Bearer",
        "scope": "api",
        "issued_at": str(int(time.time() * 1000)),
    }


_LOGIN_OK = (
    '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
    'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
    'xmlns="urn:partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
    "<soapenv:Body><loginResponse><result>"
    "<metadataServerUrl>{server_url}</metadataServerUrl><passwordExpired>false</passwordExpired>"
    "<sandbox>false</sandbox><serverUrl>{server_url}</serverUrl>"
    "<sessionId>{session_id}</sessionId><userId>005SB0000000001AAA</userId>"
    "</result></loginResponse></soapenv:Body></soapenv:Envelope>"
)
_LOGIN_FAULT = (
    '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
    'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
    'xmlns:sf="urn:fault.partner.soap.sforce.com" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><soapenv:Fault>'
    "<faultcode>sf:INVALID_LOGIN</faultcode><faultstring>INVALID_LOGIN: Invalid username, "
    "password, security token; or user locked out.</faultstring><detail>"
    '<sf:LoginFault xsi:type="sf:LoginFault"><sf:exceptionCode>INVALID_LOGIN</sf:exceptionCode>'
    "<sf:exceptionMessage>Invalid username, password, security token; or user locked out."
    "</sf:exceptionMessage></sf:LoginFault></detail></soapenv:Fault></soapenv:Body>"
    "</soapenv:Envelope>"
)


class _QuietServer(ThreadingHTTPServer):
    """No tracebacks on stderr when a client gives up on a stalled or dropped request."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


_QUERY_PATH = re.compile(r"^/services/data/v(?P<ver>\d+\.\d)/query/?$")
_MORE_PATH = re.compile(r"^/services/data/v(?P<ver>\d+\.\d)/query/(?P<loc>01g\w+)-(?P<off>\d+)$")
_DESCRIBE_PATH = re.compile(r"^/services/data/v(?P<ver>\d+\.\d)/sobjects/(?P<obj>\w+)/describe/?$")
_LOGIN_PATH = re.compile(r"^/services/Soap/u/(?P<ver>\d+\.\d)/?$")
_TOKEN_PATH = "/services/oauth2/token"
_BATCH = re.compile(r"batchSize\s*=\s*(\d+)", re.I)


def _handler_for(standin: SalesforceStandin) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as Salesforce does

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass  # quiet: tests read standin.log instead

        def _send(self, status: int, body: Any, content_type: str = "application/json") -> None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", f"{content_type};charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            if content_type == "application/json":
                self.send_header(
                    "Sforce-Limit-Info", f"api-usage={standin.api_used}/{standin.api_limit}"
                )
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode()
            path = urlsplit(self.path).path
            if path == _TOKEN_PATH:
                self._token(body)
                return
            if not _LOGIN_PATH.match(path):
                self._send(404, [{"errorCode": "NOT_FOUND", "message": "no such resource"}])
                return
            status, xml, _ = standin._login(body)
            self._send(status, xml.encode(), "text/xml")

        def _token(self, body: str) -> None:
            with standin._lock:
                standin.token_requests += 1
            form = token_form(self.headers.get("Content-Type") or "", body)
            grant_type = form.get("grant_type", "")
            with standin._lock:
                down = standin.token_outage > 0
                standin.token_outage -= down
            if down:
                standin.grants.append((grant_type, 503, ""))
                self._send(503, b"Service Unavailable", "text/plain")
                return
            try:
                answer = _grant(standin, form)
            except TokenRefusal as refusal:
                standin.grants.append((grant_type, refusal.status, refusal.error))
                payload = {"error": refusal.error, "error_description": refusal.description}
                self._send(refusal.status, payload)
                return
            standin.grants.append((grant_type, 200, ""))
            self._send(200, answer)

        def do_GET(self) -> None:  # noqa: N802
            url = urlsplit(self.path)
            obj: str | None = None
            page: int | None = None
            kind = "other"
            more = _MORE_PATH.match(url.path)
            if more:
                kind = "query_more"
                cursor = standin.cursors.get(more["loc"])
                if cursor is not None:
                    obj = cursor.obj
                    page = int(more["off"]) // cursor.batch + 1
            elif _QUERY_PATH.match(url.path):
                kind = "query"
                page = 1
                soql = parse_qs(url.query).get("q", [""])[0]
                m = re.search(r"\bFROM\s+(\w+)", soql, re.I)
                obj = m.group(1) if m else None
            elif m := _DESCRIBE_PATH.match(url.path):
                kind = "describe"
                obj = m["obj"]
            with standin._lock:
                standin.calls += 1
                standin.api_used += 1
            status = self._answer(url, kind, obj, page, more)
            standin.log.append((kind, obj, page, status))

        def _answer(self, url: Any, kind: str, obj: str | None, page: int | None, more) -> int:
            auth = self.headers.get("Authorization", "")
            if not _use_token(standin, auth.removeprefix("Bearer ")):
                body = [
                    {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
                ]
                self._send(401, body)
                return 401
            fault = standin._take_fault(obj, page)
            if fault is not None:
                if fault.action == "drop":
                    self.close_connection = True
                    with contextlib.suppress(OSError):
                        self.connection.shutdown(2)
                    return 0
                if fault.action == "stall":
                    time.sleep(fault.seconds)
                else:
                    if fault.action == "expire":
                        standin.tokens.clear()
                    self._send(fault.status, fault.body)
                    return fault.status
            try:
                if kind == "query":
                    options = self.headers.get("Sforce-Query-Options", "")
                    m = _BATCH.search(options)
                    batch = min(max(int(m.group(1)), MIN_BATCH), MAX_BATCH) if m else MAX_BATCH
                    soql = parse_qs(url.query).get("q", [""])[0]
                    body, _ = standin._query(soql, batch)
                elif kind == "query_more":
                    if more["loc"] not in standin.cursors:
                        raise SoqlError("INVALID_QUERY_LOCATOR", "invalid query locator")
                    body = standin._page(more["loc"], int(more["off"]))
                elif kind == "describe":
                    body = standin._describe(obj or "")
                else:
                    self._send(404, [{"errorCode": "NOT_FOUND", "message": "no such resource"}])
                    return 404
            except SoqlError as exc:
                status = 404 if exc.code == "NOT_FOUND" else 400
                self._send(status, [{"message": exc.message, "errorCode": exc.code}])
                return status
            self._send(200, body)
            return 200

    return Handler


def utc(text: str) -> datetime:
    """A UTC datetime from ``YYYY-MM-DDTHH:MM:SS`` (helper for tests changing records)."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


__all__ = [
    "ACCESS_TOKEN",
    "CLIENT_ID",
    "CLIENT_SECRET",
    "JWT_AUDIENCE",
    "OBJECTS",
    "PASSWORD",
    "SECURITY_TOKEN",
    "USERNAME",
    "SalesforceStandin",
    "SoqlError",
    "TokenRefusal",
    "parse_soql",
    "pem",
    "self_signed",
    "utc",
]
