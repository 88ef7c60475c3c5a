"""The admin API in-process: reports, lists, retailers, test sends, run history, outputs."""

from __future__ import annotations

import os

import pytest

from runner.state.view import runner_view
from tests.fixtures.runner import WORKING_CELLS, make_notebook

LIVE = "0018d00003Zot34AAB"  # Beacon Home Store: Live in the 30-retailer demo


def test_reports_list_schedule_fan_out_toggle_and_last_run(
    admin_client, keyed, write_run, admin_env
):
    write_run(
        "tiny", "2026-11-15", [{"id": "a", "status": "ok"}], started_at="2026-11-16T07:00:00+00:00"
    )
    write_run(
        "tiny",
        "2026-11-22",
        [{"id": "a", "status": "ok"}],
        test_to="me@example.com",
        started_at="2026-11-23T07:00:00+00:00",
    )
    (report,) = admin_client.get("/api/reports", headers=keyed).json()
    assert (
        report["name"] == "tiny"
        and report["schedule"] == "0 7 * * 1"
        and report["fan_out"] == "retailer"
    )
    assert report["enabled"] is True
    assert report["last_run"] == {
        "as_of": "2026-11-22",
        "started_at": "2026-11-23T07:00:00+00:00",
        "status": "ok",
        "exit_status": 0,
        "test": True,
        "ok": 1,
        "failed": 0,
        "targets": 1,
    }

    off = admin_client.put(
        "/api/reports/tiny/enabled", json={"enabled": False}, headers=keyed
    ).json()
    assert (
        off["enabled"] is False
        and off["admin_enabled"] is False
        and off["declared_enabled"] is True
    )
    assert runner_view(admin_env.engine).disabled_reports == {"tiny"}
    admin_client.put("/api/reports/tiny/enabled", json={"enabled": True}, headers=keyed)
    assert runner_view(admin_env.engine).disabled_reports == frozenset()


def test_toggling_an_unknown_report_names_the_known_ones(admin_client, keyed):
    response = admin_client.put(
        "/api/reports/weekly/enabled", json={"enabled": False}, headers=keyed
    )
    assert response.status_code == 404
    assert response.json()["message"] == "unknown report 'weekly'; did you mean one of: tiny"


def test_a_report_disabled_in_its_file_cannot_be_switched_on_here(admin_client, keyed, admin_env):
    path = admin_env.settings.parameters_dir / "tiny.yaml"
    path.write_text(path.read_text() + "enabled: false\n")
    response = admin_client.put("/api/reports/tiny/enabled", json={"enabled": True}, headers=keyed)
    assert response.status_code == 409 and "parameters/tiny.yaml" in response.json()["message"]


def test_lists_reject_each_bad_address_with_its_reason(admin_client, keyed, admin_env):
    bad = admin_client.put(
        "/api/lists/board",
        headers=keyed,
        json={"addresses": ["ceo@example.com", "not-an-address", "cfo@", " "]},
    )
    assert bad.status_code == 422
    errors = bad.json()["errors"]
    assert [(e["field"], e["value"]) for e in errors] == [
        ("addresses[1]", "not-an-address"),
        ("addresses[2]", "cfo@"),
        ("addresses[3]", " "),
    ]
    assert "@-sign" in errors[0]["reason"] and errors[2]["reason"] == "empty address"
    assert "'not-an-address' is not a valid address" in bad.json()["message"]
    assert (
        admin_client.get("/api/lists/board", headers=keyed).json()["addresses"] == []
    )  # nothing saved

    good = admin_client.put(
        "/api/lists/board",
        headers=keyed,
        json={"addresses": ["CEO@Example.com", "ceo@example.com", "cfo@example.com"]},
    )
    assert good.status_code == 200 and good.json()["addresses"] == [
        "CEO@example.com",
        "cfo@example.com",
    ]
    lists = runner_view(admin_env.engine).lists
    assert (
        lists["board"] == ("CEO@example.com", "cfo@example.com")
        and lists["smt"] == ()
        and lists["admin"] == ()
    )


def test_lists_show_who_receives_while_empty(admin_client, keyed):
    lists = {entry["name"]: entry for entry in admin_client.get("/api/lists", headers=keyed).json()}
    assert set(lists) == {"board", "smt", "admin"}
    assert lists["admin"]["fallback"] == ["reports-admin@larkspur-finance.example"]
    assert admin_client.get("/api/lists/nobody", headers=keyed).status_code == 422


def test_retailers_come_from_the_snapshot_with_the_admin_settings(admin_client, keyed, admin_env):
    data = admin_client.get("/api/retailers", headers=keyed).json()
    assert data["snapshot"]["as_of"] == "2026-11-22" and len(data["retailers"]) == 30
    beacon = next(r for r in data["retailers"] if r["id"] == LIVE)
    assert beacon == {
        "id": LIVE,
        "name": "Beacon Home Store",
        "status": "Live",
        "onboarded": "2026-04-13",
        "primary_contact": "office@beacon-home-store.example",
        "extras": [],
        "opted_out": False,
        "enablement": "enabled",
        "in_snapshot": True,
    }

    bad = admin_client.patch(
        f"/api/retailers/{LIVE}", json={"extras": ["ops@beacon.example", "x@@y"]}, headers=keyed
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "extras[1]"
    updated = admin_client.patch(
        f"/api/retailers/{LIVE}",
        headers=keyed,
        json={"extras": ["ops@beacon.example"], "opted_out": True},
    ).json()
    assert updated["extras"] == ["ops@beacon.example"] and updated["opted_out"] is True
    assert updated["primary_contact"] == "office@beacon-home-store.example"  # read-only
    view = runner_view(admin_env.engine)
    assert view.extras == {LIVE: ("ops@beacon.example",)} and view.opted_out == {LIVE}
    assert view.blocked_retailers == frozenset()

    disabled = admin_client.patch(
        f"/api/retailers/{LIVE}", json={"enablement": "disabled"}, headers=keyed
    ).json()
    assert disabled["enablement"] == "disabled" and disabled["extras"] == ["ops@beacon.example"]
    assert runner_view(admin_env.engine).blocked_retailers == {LIVE}


def test_the_primary_contact_cannot_be_set_and_unknown_retailers_are_404(admin_client, keyed):
    sneaky = admin_client.patch(
        f"/api/retailers/{LIVE}", json={"primary_contact": "me@evil.example"}, headers=keyed
    )
    assert sneaky.status_code == 422 and sneaky.json()["errors"][0]["field"] == "primary_contact"
    assert (
        admin_client.patch(
            "/api/retailers/nope", json={"opted_out": True}, headers=keyed
        ).status_code
        == 404
    )
    assert admin_client.get("/api/retailers/nope", headers=keyed).status_code == 404


def test_a_test_send_is_queued_and_launched(admin_client, keyed, admin_env):
    job = admin_client.post(
        "/api/test-sends",
        headers=keyed,
        json={"report": "tiny", "target": LIVE, "address": "Me@Example.com", "as_of": "2026-11-22"},
    )
    assert job.status_code == 202
    body = job.json()
    assert (
        body["status"] == "queued"
        and body["address"] == "Me@example.com"
        and body["deliver"] == "outbox"
    )
    assert admin_env.launcher.launched == [body["id"]]
    got = admin_client.get(f"/api/test-sends/{body['id']}", headers=keyed).json()
    assert (
        got["target"] == LIVE and got["as_of"] == "2026-11-22" and got["created_at"].endswith("Z")
    )
    assert [j["id"] for j in admin_client.get("/api/test-sends", headers=keyed).json()] == [
        body["id"]
    ]
    assert admin_client.get("/api/test-sends/999", headers=keyed).status_code == 404


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"report": "nope", "address": "me@example.com"}, 404, "unknown report 'nope'"),
        ({"report": "tiny", "address": "me@"}, 422, "'me@' is not a valid address"),
        ({"report": "tiny", "address": "me@example.com", "as_of": "2999-01-01"}, 422, "future"),
        ({"report": "tiny", "address": "me@example.com", "deliver": "fax"}, 422, "deliver"),
    ],
)
def test_a_bad_test_send_is_refused_before_anything_runs(
    admin_client, keyed, admin_env, body, status, message
):
    response = admin_client.post("/api/test-sends", json=body, headers=keyed)
    assert response.status_code == status and message in response.json()["message"]
    assert admin_env.launcher.launched == []


def test_run_history_shows_targets_failing_cell_error_and_links(
    admin_client, keyed, write_run, admin_env
):
    admin_env.project.add("other", make_notebook(WORKING_CELLS), fan_out="none")
    error = {
        "cell": 2,
        "ename": "RuntimeError",
        "evalue": "no data",
        "message": "RuntimeError: no data",
        "notebook": None,
    }
    write_run(
        "tiny",
        "2026-11-22",
        [{"id": "a", "status": "ok"}, {"id": "b", "status": "failed", "error": error}],
        deliveries=[
            {
                "target": "a",
                "recipient": "x@example.com",
                "status": "sent",
                "id": "1",
                "error": None,
                "transport": "outbox",
            }
        ],
    )
    write_run(
        "other",
        "2026-11-01",
        [{"id": "all", "status": "ok"}],
        started_at="2026-11-02T07:00:00+00:00",
    )
    runs = admin_client.get("/api/runs", headers=keyed).json()
    assert [(r["report"], r["as_of"]) for r in runs] == [
        ("tiny", "2026-11-22"),
        ("other", "2026-11-01"),
    ]
    tiny = runs[0]
    assert tiny["data_as_of"] == "2026-11-22"
    assert (tiny["status"], tiny["ok"], tiny["failed"], tiny["delivered"]) == ("failed", 1, 1, 1)
    assert tiny["failures"] == [
        {
            "id": "b",
            "name": "b",
            "ran_at": "2026-11-22T07:00:00+00:00",
            "status": "failed",
            "duration": 1.0,
            "cell": 2,
            "error": "RuntimeError: no data",
            "links": {},
        }
    ]
    assert tiny["link"] == "/outputs/tiny/2026-11-22/run.json"
    assert [
        r["report"] for r in admin_client.get("/api/runs?report=other", headers=keyed).json()
    ] == ["other"]

    detail = admin_client.get("/api/runs/tiny/2026-11-22", headers=keyed).json()
    ok = next(t for t in detail["all_targets"] if t["id"] == "a")
    assert ok["links"] == {"report.html": "/outputs/tiny/2026-11-22/a/report.html"}
    page = admin_client.get(ok["links"]["report.html"], headers=keyed)
    assert page.status_code == 200 and page.text == "<p>a</p>"
    assert page.headers["content-security-policy"].startswith("sandbox")
    assert admin_client.get("/api/runs/tiny/2026-01-01", headers=keyed).status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "../private.html",
        "..%2Fprivate.html",
        "%2e%2e/%2e%2e/etc/passwd",
        "tiny/../../private.html",
        "/etc/passwd",
        "%2Fetc%2Fpasswd",
        "state.db",
        "snapshots/demo/2026-11-22/accounts.parquet",
        ".hidden.html",
        "tiny/2026-11-22/escape/report.html",
        "tiny/2026-11-22/a/missing.html",
        "tiny",
        "",
    ],
)
def test_the_outputs_route_refuses_anything_else(admin_client, keyed, write_run, admin_env, path):
    write_run("tiny", "2026-11-22", [{"id": "a", "status": "ok"}])
    outputs = admin_env.outputs
    (outputs.parent / "private.html").write_text("TOPSECRET")  # beside outputs/
    (outputs / "state.db").write_text("TOPSECRET")
    (outputs / ".hidden.html").write_text("TOPSECRET")
    snap = outputs / "snapshots" / "demo" / "2026-11-22"
    snap.mkdir(parents=True)
    (snap / "accounts.parquet").write_text("TOPSECRET")
    outside = outputs.parent / "elsewhere"
    outside.mkdir()
    (outside / "report.html").write_text("TOPSECRET")
    os.symlink(outside, outputs / "tiny" / "2026-11-22" / "escape")
    response = admin_client.get(f"/outputs/{path}", headers=keyed)
    assert response.status_code == 404
    assert "TOPSECRET" not in response.text


def test_health_checks_run_on_demand(admin_client, keyed, admin_env, smtp_starttls_server):
    # A broken SMTP configuration in the admin's settings: the dashboard says so, and no
    # secret (the admin key, the SMTP password) reaches the browser.
    from pydantic import SecretStr

    from lib.settings import SmtpSection

    env = smtp_starttls_server.env()
    admin_env.settings.smtp = SmtpSection(
        _env_file=None,
        host=env["SMTP_HOST"],
        port=env["SMTP_PORT"],
        starttls="true",
        username=env["SMTP_USERNAME"],
        password=SecretStr("wrong-smtp-password"),
    )
    assert admin_client.get("/api/doctor").status_code == 401
    response = admin_client.get("/api/doctor", headers=keyed)
    assert response.status_code == 200
    body = response.json()
    checks = {c["name"]: c for c in body["checks"]}
    assert body["status"] == "fail"
    assert checks["smtp"]["status"] == "fail" and "refused (535)" in checks["smtp"]["why"]
    assert checks["report tiny"]["status"] == "ok"
    assert {"settings", "outputs", "database", "salesforce", "graph", "anthropic"} <= set(checks)
    assert "wrong-smtp-password" not in response.text
    assert keyed["X-Admin-Key"] not in response.text


def test_run_history_says_which_targets_were_held_back_and_why(admin_client, keyed, write_run):
    reason = "no application activity in last week (2026-11-16 to 2026-11-22) and nothing in the pipeline (send_when: activity)"  # fmt: skip
    write_run(
        "tiny",
        "2026-11-22",
        [{"id": "a", "status": "ok"}, {"id": "q", "status": "ok", "name": "Quiet & Co"}],
        skipped_targets=[{"target": "q", "name": "Quiet & Co", "reason": reason}],
    )
    (run,) = admin_client.get("/api/runs", headers=keyed).json()
    assert run["held_back"] == 1 and run["status"] == "ok"
    detail = admin_client.get("/api/runs/tiny/2026-11-22", headers=keyed).json()
    assert detail["skipped_targets"] == [{"target": "q", "name": "Quiet & Co", "reason": reason}]
