"""Test-send jobs: the worker's outcomes, and a worker that dies without a word."""

from __future__ import annotations

import sys
import time

from admin import testsend
from admin.testsend import SubprocessLauncher
from runner import schedule


def queue(admin_env, report: str = "tiny"):
    return testsend.create(
        admin_env.store,
        report=report,
        target=None,
        address="me@example.com",
        deliver="outbox",
        as_of=None,
        source=admin_env.source,
    )


def test_a_bad_run_fails_the_job_with_the_runner_message(admin_env):
    job = queue(admin_env, "nope")
    assert testsend.work(job.id, admin_env.settings, admin_env.engine) == "failed"
    done = testsend.get(admin_env.store, job.id)
    assert done.status == "failed" and done.started_at and done.finished_at
    assert done.error == "unknown report 'nope'; did you mean one of: tiny"


def test_a_test_send_is_refused_while_the_report_runs(admin_env):
    job = queue(admin_env)
    with schedule.run_lock("tiny", admin_env.outputs) as mine:
        assert mine
        assert testsend.work(job.id, admin_env.settings, admin_env.engine) == "failed"
    assert (
        testsend.get(admin_env.store, job.id).error
        == "tiny is running now; try the test send when it ends"
    )


class DyingLauncher(SubprocessLauncher):
    def command(self, job_id: int) -> list[str]:
        return [sys.executable, "-c", "import sys; print('kernel fell over'); sys.exit(3)"]


def test_a_worker_that_dies_fails_its_job_with_its_last_words(admin_env):
    job = queue(admin_env)
    DyingLauncher(admin_env.settings, admin_env.engine).launch(job.id)
    deadline = time.monotonic() + 30
    while testsend.get(admin_env.store, job.id).status == "queued":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    failed = testsend.get(admin_env.store, job.id)
    assert failed.status == "failed"
    assert failed.error == "the worker exited with status 3: kernel fell over"
    assert (
        admin_env.outputs / "logs" / f"test-send-{job.id}.log"
    ).read_text() == "kernel fell over\n"


def test_the_worker_gets_the_settings_through_its_environment_only(admin_env):
    launcher = SubprocessLauncher(admin_env.settings, admin_env.engine)
    env = launcher.environment()
    assert env["BROADSHEET_OUTPUTS"] == str(admin_env.outputs.resolve())
    assert env["BROADSHEET_DB_URL"] == admin_env.settings.state_url()
    assert launcher.command(7)[-3:] == ["-m", "admin.testsend", "7"]
