"""schemathesis against ``/openapi.json``, with the key: no 5xx, every response as promised.

The app is the real one with its throttle as configured (the default ``Throttle`` on the
real clock, nothing relaxed): the fuzzer sends wrong keys in login bodies too, and must
still never be refused with the right one. Bounded so the suite stays fast: a few
examples per operation, positive and negative, then the stateful phase (sequences along
the links schemathesis infers, e.g. a test send created then read back), no deadline.
Test sends are only recorded (``admin_env.launcher``), so fuzzing never starts a report.
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from admin.app import create_app
from tests.fixtures.admin import ADMIN_KEY

KEYED = {"X-Admin-Key": ADMIN_KEY}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
BOUNDED = {
    "deadline": None,
    "derandomize": True,
    "database": None,
    "suppress_health_check": list(HealthCheck),
}


def test_the_api_keeps_its_schema(admin_env, write_run):
    # Something in every listing, so responses have bodies worth checking.
    write_run(
        "tiny",
        "2026-11-22",
        [
            {"id": "a", "status": "ok"},
            {"id": "b", "status": "failed", "error": {"cell": 1, "message": "boom"}},
        ],
    )
    app = create_app(
        admin_env.settings,
        ADMIN_KEY,
        admin_env.engine,
        source=admin_env.source,
        launcher=admin_env.launcher,
    )
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, headers=KEYED)
    # One test walking the operations: schemathesis' lazy pytest loader (from_fixture)
    # does not run under pytest 9, and the app needs this test's fixtures.
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 18
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(max_examples=8, **BOUNDED)
            @given(case=operation.as_strategy(generation_mode=mode))
            def check(case):
                case.call_and_validate(headers=KEYED, checks=CHECKS)

            check()

    class Workflow(schema.as_state_machine()):
        def get_call_kwargs(self, case):
            return {"headers": KEYED}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs or None)

    assert schema.statistic.transitions.total >= 10  # links to follow, not random calls only
    Workflow.run(settings=settings(max_examples=25, stateful_step_count=8, **BOUNDED))
    # However many wrong keys the fuzzer sent, the right one still gets in.
    from fastapi.testclient import TestClient

    with TestClient(app) as client:
        assert client.get("/api/reports", headers=KEYED).status_code == 200
        assert client.post("/api/session", json={"key": ADMIN_KEY}).status_code == 200


def test_the_schema_is_behind_the_key_and_documents_it(admin_client, keyed):
    assert admin_client.get("/openapi.json").status_code == 401
    spec = admin_client.get("/openapi.json", headers=keyed).json()
    assert spec["components"]["securitySchemes"]["APIKeyHeader"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-Admin-Key",
        "description": "the admin key",
    }
    assert "/outputs/{path}" not in spec["paths"] and "/" not in spec["paths"]
    assert {
        "/api/reports",
        "/api/lists/{name}",
        "/api/retailers/{retailer_id}",
        "/api/discovery",
        "/api/test-sends/{job_id}",
        "/api/runs/{report}/{as_of}",
    } <= set(spec["paths"])
