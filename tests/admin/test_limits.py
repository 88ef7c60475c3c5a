"""What the admin accepts from a request: JSON that is Unicode text, integers the database
can hold, bodies up to a megabyte, and errors that quote only a short prefix of a value."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.routing import APIRoute, iter_route_contexts

from tests.fixtures.admin import ADMIN_KEY

SURROGATE = "\ud800"
SAMPLE = {
    "name": "tiny",
    "retailer_id": "0018d00003Zot0SAAR",
    "job_id": "1",
    "report": "tiny",
    "as_of": "2026-11-22",
}


def concrete(path: str) -> str:
    path = path.replace("/lists/{name}", "/lists/board")
    return re.sub(r"{(\w+)(:\w+)?}", lambda m: SAMPLE[m.group(1)], path)


def api_routes(app) -> list:
    return [r for r in iter_route_contexts(app.routes) if isinstance(r.original_route, APIRoute)]


def json_routes(app) -> list[tuple[str, str, type]]:
    """(method, concrete path, body model) of every route that takes a JSON body."""
    found = []
    for route in api_routes(app):
        if route.body_field is not None:
            for method in sorted(route.methods):
                found.append((method, concrete(route.path), route.body_field.field_info.annotation))
    return found


def int_path_params(app) -> list[tuple[str, str, str]]:
    """(method, path template, parameter) of every integer path parameter."""
    found = []
    for route in api_routes(app):
        for param in route.dependant.path_params:
            if param.field_info.annotation is int:
                found += [(m, route.path, param.name) for m in sorted(route.methods)]
    return found


def example(schema: dict, defs: dict) -> object:
    """A value for ``schema`` with every string the lone surrogate."""
    if "$ref" in schema:
        return example(defs[schema["$ref"].split("/")[-1]], defs)
    options = [o for o in schema.get("anyOf", [schema]) if o.get("type") != "null"]
    option = options[0]
    if "enum" in option or "const" in option:
        return option.get("enum", [option.get("const")])[0]
    kind = option.get("type")
    if kind == "string":
        return "2026-11-22" if option.get("format") == "date" else SURROGATE
    if kind == "array":
        return [example(option["items"], defs)]
    if kind == "boolean":
        return True
    if kind == "object":
        return {k: example(v, defs) for k, v in option.get("properties", {}).items()}
    raise AssertionError(f"no example for {option}")


def send_raw(client, method: str, path: str, body: object):
    # json.dumps escapes the surrogate as \ud800: valid JSON text, not Unicode text.
    return client.request(
        method,
        path,
        content=json.dumps(body),
        headers={"X-Admin-Key": ADMIN_KEY, "Content-Type": "application/json"},
    )


def test_a_lone_surrogate_in_any_json_body_is_422(admin_app, admin_client):
    # Finding 4: "\ud800" in any JSON string (even the login body, no key needed) was a 500.
    routes = json_routes(admin_app)
    assert {path for _, path, _ in routes} >= {
        "/api/session",
        "/api/lists/board",
        "/api/retailers/0018d00003Zot0SAAR",
        "/api/test-sends",
        "/api/reports/tiny/enabled",
        "/api/discovery",
    }
    for method, path, model in routes:
        schema = model.model_json_schema()
        body = example(schema, schema.get("$defs", {}))
        for sent in (body, {SURROGATE: SURROGATE}, [SURROGATE]):
            if "\\ud800" not in json.dumps(sent):
                continue  # a body without strings (ToggleIn): the other two carry one
            response = send_raw(admin_client, method, path, sent)
            assert response.status_code == 422, (method, path, sent, response.status_code)
            assert "lone surrogate" in response.json()["message"], response.text
    login = admin_client.post(
        "/api/session",
        content=json.dumps({"key": SURROGATE}),
        headers={"Content-Type": "application/json"},
    )
    assert login.status_code == 422


def test_invalid_utf8_in_a_json_body_is_422(admin_client):
    response = admin_client.post(
        "/api/session", content=b'{"key": "\xff\xfe"}', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422 and "UTF-8" in response.json()["message"]


@pytest.mark.parametrize("value", [2**64, 2**63, 2**63 - 1, 2**31, -(2**63) - 1, -1, 0])
def test_a_huge_integer_in_any_integer_path_parameter_is_404_or_422(
    admin_app, admin_client, keyed, value
):
    # Finding 4: GET /api/test-sends/<huge integer> was a 500 (OverflowError).
    params = int_path_params(admin_app)
    assert ("GET", "/api/test-sends/{job_id}", "job_id") in params
    for method, template, name in params:
        path = concrete(template.replace("{" + name + "}", str(value)))
        response = admin_client.request(method, path, headers=keyed)
        assert response.status_code in (404, 422), (method, path, response.status_code)


def test_a_body_over_a_megabyte_is_refused_unread(admin_client, keyed):
    # Finding 10: a 5 MB address was echoed twice in a 10 MB 422.
    big = {"addresses": ["a" * 5_000_000 + "@example.com"]}
    response = admin_client.put("/api/lists/board", json=big, headers=keyed)
    assert response.status_code == 413 and len(response.content) < 500
    assert response.json()["message"] == "request body over 1 MB (1048576 bytes)"

    def chunks():  # no Content-Length: counted as it arrives
        yield b'{"addresses": ["'
        for _ in range(50):
            yield b"a" * 100_000
        yield b'@example.com"]}'

    streamed = admin_client.put(
        "/api/lists/board", content=chunks(), headers={**keyed, "Content-Type": "application/json"}
    )
    assert streamed.status_code == 413


def test_errors_quote_only_a_short_prefix_of_the_value(admin_client, keyed):
    # Finding 10: under the body limit, the value is still not echoed whole.
    address = "b" * 900_000 + "@example.com"
    response = admin_client.put("/api/lists/board", json={"addresses": [address]}, headers=keyed)
    assert response.status_code == 422 and len(response.content) < 2_000, len(response.content)
    body = response.json()
    assert body["message"].startswith("'" + "b" * 40) and "…" in body["message"]
    assert body["errors"][0]["value"].startswith("b" * 40) and len(body["errors"][0]["value"]) < 100
    long_id = "R" * 5_000
    for path in (f"/api/retailers/{long_id}", f"/api/reports/{long_id}/enabled", "/api/runs"):
        method = "PUT" if path.endswith("enabled") else "GET"
        response = admin_client.request(
            method,
            path,
            headers=keyed,
            json={"enabled": True} if method == "PUT" else None,
            params={"report": "R" * 100} if path == "/api/runs" else None,
        )
        assert response.status_code in (404, 422) and len(response.content) < 1_000, path
