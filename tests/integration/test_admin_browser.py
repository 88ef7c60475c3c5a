"""The dashboard in a real browser: what a person clicks, end to end.

uvicorn serves the app on 127.0.0.1 (``live_admin``); Playwright drives Debian's
Chromium (``chromium`` of ``tests/fixtures/browser.py``). The test send is real: a worker
process runs the tiny report for one retailer of the demo snapshot into the outbox.
"""

from __future__ import annotations

import json
import re

import pytest

from runner.state.view import runner_view
from tests.fixtures.admin import ADMIN_KEY

pytestmark = pytest.mark.browser

BEACON = "0018d00003Zot34AAB"  # a Live retailer of the 30-retailer demo


def test_the_dashboard_in_a_real_browser(live_admin, chromium, screenshots):
    from playwright.sync_api import expect

    env, url = live_admin.env, live_admin.url
    # Generous waits: CI machines run other suites beside this one.
    expect.set_options(timeout=20_000)
    context = chromium.new_context()
    context.set_default_timeout(20_000)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda err: problems.append(str(err)))
    # Refused requests (401s) are logged by Chromium as errors; anything else is a problem
    # (a Content-Security-Policy violation, a script error).
    page.on(
        "console",
        lambda msg: (
            msg.type == "error"
            and "Failed to load resource" not in msg.text
            and problems.append(msg.text)
        ),
    )
    try:
        # Log in: a wrong key is refused, the right one opens the dashboard.
        page.goto(url + "/")
        expect(page.locator("#login")).to_be_visible()
        page.fill("#login-key", "not-the-key-at-all")
        page.click("#login-form button")
        expect(page.locator("#login-message")).to_have_text("wrong admin key")
        page.fill("#login-key", ADMIN_KEY)
        page.click("#login-form button")
        expect(page.locator("#dashboard")).to_be_visible()
        (cookie,) = [c for c in context.cookies() if c["name"] == "broadsheet_admin"]
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"

        # Toggle a report off and on again.
        box = page.locator('tr[data-report="tiny"] input[type="checkbox"]')
        expect(box).to_be_checked()
        box.uncheck()
        expect(page.locator("#reports-message")).to_have_text("Tiny report is off.")
        assert runner_view(env.engine).disabled_reports == {"tiny"}
        box.check()
        expect(page.locator("#reports-message")).to_have_text("Tiny report is on.")
        assert runner_view(env.engine).disabled_reports == frozenset()

        # A recipient: an invalid address is named with the reason; a valid one is saved.
        page.click('#tabs button[data-tab="recipients"]')
        page.fill("#list-board", "not-an-address")
        page.click('[data-list="board"] button')
        error = page.locator("#list-board-message")
        expect(error).to_contain_text("'not-an-address' is not a valid address")
        expect(error.locator("li.bad-address")).to_contain_text("not-an-address: ")
        page.fill("#list-board", "chair@example.com")
        page.click('[data-list="board"] button')
        expect(page.locator("#list-board-message")).to_have_text("Saved 1 address(es).")
        assert runner_view(env.engine).lists["board"] == ("chair@example.com",)

        # Retailers come from the snapshot; names are shown as text, never as markup.
        page.click('#tabs button[data-tab="retailers"]')
        dent = page.locator('tr[data-retailer="0018d00003Zot0SAAR"] td').first
        expect(dent).to_contain_text("<Dent> Studio")

        # A test send to the outbox, watched until it finishes.
        page.click('#tabs button[data-tab="test-send"]')
        page.select_option("#ts-report", "tiny")
        page.fill("#ts-target", BEACON)
        page.fill("#ts-address", "tester@example.com")
        page.fill("#ts-as-of", "2026-11-22")
        page.click("#test-send-form button[type=submit]")
        job = page.locator("#test-send-status .job")
        expect(job).to_have_attribute("data-status", re.compile("queued|running"))
        expect(job).to_have_attribute("data-status", "done", timeout=150_000)
        expect(job).to_contain_text("sent → tester@example.com")
        (eml,) = (env.outputs / "outbox").glob(f"tiny_2026-11-22_{BEACON}_test_*.eml")
        assert "tester@example.com" in eml.read_text()

        # A preview of the same target: rendered on the engine the test send warmed up,
        # linked, and sent to nobody.
        page.click("#ts-preview")
        preview = page.locator("#preview-status .job")
        expect(preview).to_have_attribute("data-status", "ok", timeout=150_000)
        expect(preview).to_contain_text("(warm engine)")
        shown = page.request.get(
            url + preview.locator("a", has_text="report.html").get_attribute("href")
        )
        assert shown.status == 200 and "applications" in shown.text()
        assert len(list((env.outputs / "outbox").glob("*.eml"))) == 1

        # The run is in the history, with its outputs one click away.
        page.click('#tabs button[data-tab="runs"]')
        row = page.locator(
            'tr[data-run="tiny/2026-11-22-test"]'
        )  # a test send sits beside real runs
        expect(row).to_contain_text("1/1 ok")
        expect(row.locator(".tag")).to_have_text("test")
        row.locator("button").click()
        link = page.locator(f'#run-detail tr[data-target="{BEACON}"] a', has_text="report.html")
        expect(link).to_be_visible()
        report = page.request.get(url + link.get_attribute("href"))
        assert report.status == 200 and "applications" in report.text()
        page.screenshot(path=str(screenshots / "admin-dashboard.png"), full_page=True)

        # A target held back by send_when: activity is listed with its reason.
        held = env.outputs / "tiny" / "2026-11-15"
        held.mkdir(parents=True)
        (held / "run.json").write_text(
            json.dumps({
                "report": "tiny", "as_of": "2026-11-15", "started_at": "2026-11-16T07:00:00+00:00",
                "exit_status": 0, "targets": [{"id": BEACON, "name": "Beacon", "status": "ok"}],
                "skipped_targets": [{"target": BEACON, "name": "Beacon", "reason": "no activity"}],
            })
        )  # fmt: skip
        page.click("#runs-refresh")
        quiet = page.locator('tr[data-run="tiny/2026-11-15"]')
        expect(quiet).to_contain_text("1 held back")
        quiet.locator("button").click()
        expect(page.locator(f'#run-detail .held-back li[data-target="{BEACON}"]')).to_have_text(
            "Beacon: no activity"
        )

        # The doctor's checks, on demand.
        page.click('#tabs button[data-tab="health"]')
        page.click("#health-run")
        expect(page.locator("#health-status")).to_have_text(re.compile(r"check"))
        expect(page.locator('#health-table tr[data-check="report tiny"] td.ok')).to_have_text("ok")
        expect(page.locator('#health-table tr[data-check="smtp"]')).to_contain_text(
            "not configured"
        )
        page.screenshot(path=str(screenshots / "admin-health.png"), full_page=True)

        # Log out: the page asks for the key again, and the API no longer answers.
        page.click("#logout")
        expect(page.locator("#login")).to_be_visible()
        expect(page.locator("#login-message")).to_have_text("You are logged out.")
        assert page.request.get(url + "/api/reports").status == 401
        page.reload()
        expect(page.locator("#login")).to_be_visible()
        expect(page.locator("#dashboard")).to_be_hidden()
        assert problems == []
    except Exception:
        page.screenshot(path=str(screenshots / "admin-failure.png"), full_page=True)
        raise
    finally:
        expect.set_options(timeout=5_000)
        context.close()
