"""Run history: only declared reports, only paths inside the outputs folder, and a day's
record merged across the runs that made it."""

from __future__ import annotations

import json

import pytest

SECRET = "TOPSECRET-run-json"


@pytest.fixture
def elsewhere(admin_env):
    """A run.json beside the outputs folder, as another tool's might be."""
    folder = admin_env.project.root / "elsewhere" / "2026-11-22"
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(
        json.dumps({"report": SECRET, "started_at": "2026-11-22T07:00:00+00:00", "targets": []})
    )
    return folder.parent


@pytest.mark.parametrize(
    "report", ["../elsewhere", "../../elsewhere", "/etc", "/", "..", "*", "tiny/..", "nope"]
)
def test_the_report_filter_must_name_a_declared_report(
    admin_client, keyed, write_run, elsewhere, report
):
    # Finding 2: report=../../elsewhere read another folder's run.json; report=/etc was a 500.
    write_run("tiny", "2026-11-22", [{"id": "a", "status": "ok"}])
    response = admin_client.get("/api/runs", params={"report": report}, headers=keyed)
    assert response.status_code == 404, response.text
    assert response.json()["message"].startswith("unknown report")
    assert SECRET not in response.text
    listed = admin_client.get("/api/runs", params={"report": "tiny"}, headers=keyed).json()
    assert [(r["report"], r["as_of"]) for r in listed] == [("tiny", "2026-11-22")]


def test_a_report_folder_linked_out_of_outputs_is_not_served(
    admin_client, keyed, admin_env, write_run, elsewhere
):
    # Finding 2: every path the admin reads for a request is resolved and must stay inside.
    from tests.fixtures.runner import WORKING_CELLS, make_notebook

    admin_env.project.add("linked", make_notebook(WORKING_CELLS))
    (admin_env.outputs / "linked").symlink_to(elsewhere, target_is_directory=True)
    write_run("tiny", "2026-11-22", [{"id": "a", "status": "ok"}])
    (admin_env.outputs / "tiny" / "2026-11-21").symlink_to(
        elsewhere / "2026-11-22", target_is_directory=True
    )
    for params in ({"report": "linked"}, {}, {"report": "tiny"}):
        response = admin_client.get("/api/runs", params=params, headers=keyed)
        assert response.status_code == 200 and SECRET not in response.text, params
    assert admin_client.get("/api/runs/linked/2026-11-22", headers=keyed).status_code == 404
    assert admin_client.get("/api/runs/tiny/2026-11-21", headers=keyed).status_code == 404
    reports = admin_client.get("/api/reports", headers=keyed).json()
    assert SECRET not in json.dumps(reports)


def test_a_run_of_an_undeclared_report_is_404(admin_client, keyed, write_run):
    write_run("gone", "2026-11-22", [{"id": "a", "status": "ok"}])
    response = admin_client.get("/api/runs/gone/2026-11-22", headers=keyed)
    assert response.status_code == 404 and "did you mean one of: tiny" in response.text
