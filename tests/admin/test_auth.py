"""Who gets in: every route behind the key, sessions, CSRF, throttling, no secrets out."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from admin.app import create_app
from admin.auth import Throttle
from lib.errors import ConfigError
from runner.cli import main
from tests.fixtures.admin import ADMIN_KEY

# Logging in, and what the login form itself needs, are the only public routes.
PUBLIC = {("GET", "/"), ("POST", "/api/session")}
SAMPLE_PARAMS = {
    "name": "tiny",
    "retailer_id": "0018d00003Zot0SAAR",
    "job_id": "1",
    "report": "tiny",
    "as_of": "2026-11-22",
    "path": "tiny/2026-11-22/run.json",
}


def every_route(app) -> list[tuple[str, str]]:
    """(method, concrete path) for every route the app serves, mounts aside."""
    found = []
    for route in iter_route_contexts(app.routes):
        if not route.methods:
            continue  # a mount (/static): checked separately
        path = re.sub(r"{(\w+)(:\w+)?}", lambda m: SAMPLE_PARAMS[m.group(1)], route.path)
        found += [(method, path) for method in sorted(route.methods - {"HEAD"})]
    return found


def test_every_route_but_login_needs_the_key(admin_app, admin_client, write_run):
    write_run("tiny", "2026-11-22", [{"id": "a", "status": "ok"}])  # so outputs exist
    routes = every_route(admin_app)
    assert (
        len(routes) >= 20
        and ("GET", "/openapi.json") in routes
        and ("GET", "/outputs/tiny/2026-11-22/run.json") in routes
    )
    for method, path in routes:
        if (method, path) in PUBLIC:
            continue
        response = admin_client.request(method, path, json={})
        assert response.status_code == 401, (method, path, response.status_code)
        assert response.json()["message"] == "log in, or send the admin key in X-Admin-Key"


def test_public_routes_hold_nothing_but_the_page(admin_client):
    page = admin_client.get("/")
    assert page.status_code == 200 and "Log in" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert admin_client.get("/static/admin.js").status_code == 200
    assert admin_client.post("/api/session", json={"key": "nope"}).status_code == 401


def test_a_browser_gets_an_error_page_the_api_json(admin_client):
    page = admin_client.get("/api-docs", headers={"Accept": "text/html"})
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "<h2>404</h2>" in page.text
    locked = admin_client.get("/outputs/x.html", headers={"Accept": "text/html"})
    assert locked.status_code == 401 and "log in there" in locked.text
    api = admin_client.get("/api/reports", headers={"Accept": "text/html"})
    assert api.status_code == 401 and api.json()["status"] == 401


def test_no_key_no_app(admin_env):
    for key in (None, "", "   "):
        with pytest.raises(ConfigError, match="BROADSHEET_ADMIN_KEY is not set"):
            create_app(admin_env.settings, key, admin_env.engine)


def test_wrong_keys_are_slowed_down_exponentially(admin_client, admin_env):
    wrong = {"X-Admin-Key": "wrong-key-wrong-key"}
    assert [admin_client.get("/api/reports", headers=wrong).status_code for _ in range(3)] == [
        401
    ] * 3
    fourth = admin_client.get("/api/reports", headers=wrong)
    assert fourth.status_code == 429 and fourth.headers["Retry-After"] == "1"
    admin_env.clock.advance(1.1)
    fifth = admin_client.post("/api/session", json={"key": "still-wrong"})
    assert fifth.status_code == 429 and fifth.headers["Retry-After"] == "2"
    # While it waits, a wrong key is answered 429 without extending the wait.
    assert admin_client.get("/api/reports", headers=wrong).headers["Retry-After"] == "2"
    admin_env.clock.advance(2.1)
    assert admin_client.get("/api/reports", headers=wrong).headers["Retry-After"] == "4"


def test_the_right_key_is_never_refused_however_many_wrong_ones(admin_client, admin_env, keyed):
    # Finding 1: wrong keys from an address locked out everyone at that address, the key's
    # owner included (behind a proxy: everybody).
    wrong = {"X-Admin-Key": "wrong-key-wrong-key"}
    statuses = [admin_client.get("/api/reports", headers=wrong).status_code for _ in range(8)]
    assert statuses == [401, 401, 401] + [429] * 5
    assert admin_client.get("/api/reports", headers=keyed).status_code == 200
    login = admin_client.post("/api/session", json={"key": ADMIN_KEY})
    assert login.status_code == 200 and login.json()["via"] == "session"
    # Success forgets the failures: the next typo is a plain 401 again.
    assert admin_client.get("/api/reports", headers=wrong).status_code == 401


def app_with_proxies(admin_env, proxies: list[str]):
    admin_env.settings.admin.trusted_proxies = proxies
    return create_app(
        admin_env.settings,
        ADMIN_KEY,
        admin_env.engine,
        source=admin_env.source,
        launcher=admin_env.launcher,
        throttle=Throttle(clock=admin_env.clock),
    )


def test_behind_a_trusted_proxy_each_client_is_throttled_on_its_own(admin_env, keyed):
    # Finding 1: the client is the address a trusted proxy forwards, not the proxy.
    wrong = {"X-Admin-Key": "wrong-key-wrong-key"}
    app = app_with_proxies(admin_env, ["10.0.0.2"])
    with TestClient(app, client=("10.0.0.2", 4000)) as proxy:
        mallory = {**wrong, "X-Forwarded-For": "203.0.113.66"}
        alice = {"X-Forwarded-For": "198.51.100.7"}
        assert [proxy.get("/api/reports", headers=mallory).status_code for _ in range(4)] == [
            401,
            401,
            401,
            429,
        ]
        assert proxy.get("/api/reports", headers={**alice, **wrong}).status_code == 401
        assert proxy.get("/api/reports", headers={**alice, **keyed}).status_code == 200
    # A peer that is not a trusted proxy cannot choose its address with the header.
    with TestClient(app, client=("192.0.2.9", 4000)) as direct:
        for spoof in ("203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4"):
            last = direct.get("/api/reports", headers={**wrong, "X-Forwarded-For": spoof})
        assert last.status_code == 429


def test_a_short_key_is_refused_with_how_to_make_one(admin_env, project, monkeypatch):
    # Finding 1: a long random key, not the throttle, is what makes guessing hopeless.
    short = "k" * 31
    with pytest.raises(ConfigError, match="at least 32") as refused:
        create_app(admin_env.settings, short, admin_env.engine)
    assert 'python -c "import secrets; print(secrets.token_urlsafe(32))"' in str(refused.value)
    assert short not in str(refused.value)
    create_app(admin_env.settings, "k" * 32, admin_env.engine)  # 32 is enough
    monkeypatch.chdir(project.root)
    result = CliRunner().invoke(
        main, ["admin", "--port", "1"], env={**project.env, "BROADSHEET_ADMIN_KEY": short}
    )
    assert result.exit_code == 2
    assert "BROADSHEET_ADMIN_KEY" in result.stderr and "token_urlsafe(32)" in result.stderr


@pytest.mark.parametrize(
    ("proxies", "base_url", "headers", "secure"),
    [
        ([], "http://testserver", {}, False),
        ([], "https://testserver", {}, True),
        (["10.0.0.2"], "http://testserver", {"X-Forwarded-Proto": "https"}, True),
        (["10.0.0.2"], "http://testserver", {"X-Forwarded-Proto": "http"}, False),
        (["10.0.0.3"], "http://testserver", {"X-Forwarded-Proto": "https"}, False),
    ],
    ids=["http", "https", "trusted-proxy-https", "trusted-proxy-http", "untrusted-proxy"],
)
def test_the_cookie_is_secure_whenever_the_request_came_over_https(
    admin_env, proxies, base_url, headers, secure
):
    # Finding 11: behind a TLS-terminating proxy the cookie was never Secure.
    app = app_with_proxies(admin_env, proxies)
    with TestClient(app, base_url=base_url, client=("10.0.0.2", 4000)) as client:
        response = client.post("/api/session", json={"key": ADMIN_KEY}, headers=headers)
    assert response.status_code == 200
    assert ("; secure" in response.headers["set-cookie"].lower()) is secure


def test_login_gives_a_strict_httponly_cookie_and_logout_ends_it(admin_client):
    response = admin_client.post("/api/session", json={"key": ADMIN_KEY})
    assert response.status_code == 200
    cookie = response.headers["set-cookie"]
    assert (
        cookie.startswith("broadsheet_admin=")
        and "HttpOnly" in cookie
        and "SameSite=strict" in cookie
    )
    csrf = response.json()["csrf_token"]
    assert admin_client.get("/api/reports").status_code == 200
    assert admin_client.get("/api/session").json() == {"via": "session", "csrf_token": csrf}
    stolen = admin_client.cookies.get("broadsheet_admin")

    assert admin_client.delete("/api/session", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert admin_client.get("/api/reports").status_code == 401
    # A copy of the cookie died with the session.
    admin_client.cookies.set("broadsheet_admin", stolen)
    assert admin_client.get("/api/reports").status_code == 401


def test_changes_through_the_cookie_need_the_csrf_token(admin_client):
    csrf = admin_client.post("/api/session", json={"key": ADMIN_KEY}).json()["csrf_token"]
    body = {"enabled": False}
    missing = admin_client.put("/api/reports/tiny/enabled", json=body)
    assert missing.status_code == 403 and "X-CSRF-Token" in missing.json()["message"]
    wrong = admin_client.put(
        "/api/reports/tiny/enabled", json=body, headers={"X-CSRF-Token": "x" + csrf}
    )
    assert wrong.status_code == 403
    assert (
        admin_client.put(
            "/api/reports/tiny/enabled", json=body, headers={"X-CSRF-Token": csrf}
        ).status_code
        == 200
    )


def test_a_forged_cookie_is_not_a_session(admin_client):
    admin_client.cookies.set("broadsheet_admin", "eyJhIjoxfQ.forged.signature")
    assert admin_client.get("/api/reports").status_code == 401


def test_no_credential_of_any_service_reaches_the_browser(
    admin_client, keyed, monkeypatch, write_run
):
    secrets = {
        "SALESFORCE_PASSWORD": "sf-secret-1",
        "SALESFORCE_ACCESS_TOKEN": "sf-secret-2",
        "SALESFORCE_SECURITY_TOKEN": "sf-secret-3",
        "SALESFORCE_CLIENT_SECRET": "sf-secret-4",
        "GRAPH_CLIENT_SECRET": "graph-secret",
        "SMTP_PASSWORD": "smtp-secret",
        "ANTHROPIC_API_KEY": "anthropic-secret",
    }
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    write_run("tiny", "2026-11-22", [{"id": "a", "status": "ok"}])
    paths = [
        "/",
        "/static/admin.js",
        "/openapi.json",
        "/api/session",
        "/api/reports",
        "/api/lists",
        "/api/retailers",
        "/api/discovery",
        "/api/test-sends",
        "/api/runs",
        "/api/runs/tiny/2026-11-22",
    ]
    for path in paths:
        body = admin_client.get(path, headers=keyed).text
        assert not any(value in body for value in secrets.values()), path
        assert ADMIN_KEY not in body, path


def test_the_admin_never_reads_service_credentials():
    # Secrets are read by the module that uses them (runner/, lib/), never by admin/.
    names = re.compile(r"(SALESFORCE|GRAPH|SMTP|ANTHROPIC)_[A-Z_]+")
    admin = Path(__file__).resolve().parents[2] / "admin"
    for path in admin.rglob("*"):
        if path.suffix in (".py", ".js", ".html"):
            assert not names.search(path.read_text()), path


def test_broadsheet_admin_refuses_to_start_without_a_key(project, monkeypatch):
    monkeypatch.chdir(project.root)  # no .env up from here
    env = {**project.env, "BROADSHEET_ADMIN_KEY": ""}
    result = CliRunner().invoke(main, ["admin", "--port", "1"], env=env)
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1].startswith(
        "broadsheet: BROADSHEET_ADMIN_KEY is not set; the admin refuses to start without a key."
    )
