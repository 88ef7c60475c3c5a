"""schemathesis against ``/openapi.json``, with the key: no 5xx, every response as promised.

Bounded so the suite stays fast: a few examples per operation, positive and negative,
no deadline (the first request of each operation pays for imports). Test sends are only
recorded (``admin_env.launcher``), so fuzzing never starts a report.
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

from tests.fixtures.admin import ADMIN_KEY

KEYED = {"X-Admin-Key": ADMIN_KEY}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def test_the_api_keeps_its_schema(admin_app, admin_env, write_run):
    # Something in every listing, so responses have bodies worth checking.
    write_run(
        "tiny",
        "2026-11-22",
        [
            {"id": "a", "status": "ok"},
            {"id": "b", "status": "failed", "error": {"cell": 1, "message": "boom"}},
        ],
    )
    schema = schemathesis.openapi.from_asgi("/openapi.json", admin_app, headers=KEYED)
    # One test walking the operations: schemathesis' lazy pytest loader (from_fixture)
    # does not run under pytest 9, and the app needs this test's fixtures.
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 18
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            # Failed logins earlier must not leave the client throttled for this operation.
            admin_env.clock.advance(3600)

            @settings(
                max_examples=8,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def check(case):
                case.call_and_validate(headers=KEYED, checks=CHECKS)

            check()


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
