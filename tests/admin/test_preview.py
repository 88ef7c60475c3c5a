"""Previews in the admin: one target rendered by the warm worker, nothing sent; the second
preview, of another retailer, reuses the first one's kernel."""

from __future__ import annotations

import pytest

from tests.fixtures.runner import live_retailers

pytestmark = pytest.mark.slow


def test_a_second_preview_of_another_retailer_reuses_the_warm_kernel(
    admin_client, keyed, admin_env, demo_snapshot
):
    first_id, second_id = live_retailers(demo_snapshot, 2)
    apps = demo_snapshot.applications
    seen = []
    for retailer in (first_id, second_id):
        response = admin_client.post(
            "/api/previews",
            json={"report": "tiny", "target": retailer, "as_of": "2026-11-22"},
            headers=keyed,
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["target"], body["status"], body["error"]) == (retailer, "ok", None)
        expected = int((apps["Retailer__c"] == retailer).sum())
        report = admin_client.get(body["links"]["report.html"], headers=keyed)
        assert f"hi: {expected} applications" in report.text
        assert (
            body["links"]["report.html"]
            == f"/outputs/tiny/2026-11-22-preview/{retailer}/report.html"
        )
        assert "email.html" in body["links"]
        seen.append(body["kernel"])
    first, second = seen
    assert first["reused"] is False and second["reused"] is True
    assert len(first["pids"]) == 1 and second["pids"] == first["pids"]
    # Nothing was sent, and a preview is not a run.
    assert not (admin_env.outputs / "outbox").exists()
    assert not list(admin_env.outputs.glob("tiny/*/run.json"))
    assert admin_client.get("/api/runs", headers=keyed).json() == []


def test_a_preview_names_what_is_wrong_before_or_in_the_worker(admin_client, keyed):
    unknown = admin_client.post("/api/previews", json={"report": "weekly"}, headers=keyed)
    assert unknown.status_code == 404 and "did you mean one of: tiny" in unknown.json()["message"]
    no_target = admin_client.post("/api/previews", json={"report": "tiny"}, headers=keyed)
    assert no_target.status_code == 422
    assert no_target.json()["message"] == "a preview of tiny shows one retailer: give its id"
