"""lib/commentary.py against the real anthropic SDK and a local stand-in of the Messages API."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import filelock
import pytest

from lib import commentary
from lib.commentary import AUTOMATIC_MARK, Fact, Section, Settings
from lib.errors import ConfigError, UnknownNameError
from tests.standins.anthropic_api import API_KEY, AnthropicStandin, Reply

# ----------------------------------------------------------------------------- helpers


@pytest.fixture
def settings(anthropic_standin: AnthropicStandin, tmp_path: Path) -> Settings:
    """Settings aimed at the stand-in, with waits short enough for a fast test file."""
    return Settings(
        api_key=API_KEY,
        base_url=anthropic_standin.base_url,
        model="claude-test",
        deadline_seconds=20.0,  # the first request pays the SDK import on a loaded machine
        cache_dir=tmp_path / "cache",
        backoff_seconds=0.01,
        max_backoff_seconds=0.05,
    )


def summary_section() -> Section:
    return Section(
        "summary",
        "Summary",
        (
            Fact("Submissions", 12, 9, "count", "green", "submissions", "LW"),
            Fact("Approval rate", 0.75, 0.7, "rate", "green", "approval_rate", "LW"),
            Fact("Paid value", 12345.0, 15000.0, "money", "red", "paid_value", "LW"),
        ),
    )


def pipeline_section() -> Section:
    return Section(
        "pipeline",
        "Pipeline",
        (
            Fact("Approved but not signed", 3, None, "count", None, "pipeline_ans_count", "as_at"),
            Fact(
                "Approved but not signed (value)",
                7500.0,
                None,
                "money",
                None,
                "pipeline_ans_value",
                "as_at",
            ),
        ),
        notes=("One approved application has waited 31–90 days.",),
    )


def sections() -> list[Section]:
    return [summary_section(), pipeline_section()]


GOOD_SUMMARY = "Submissions rose to 12 from 9 (up 33.3%) and the approval rate reached 75%."
GOOD_PIPELINE = "You have 3 approved applications worth £7.5k waiting for customers to sign."


# ----------------------------------------------------------------------------- success


def test_success_uses_the_models_text_and_reports_usage(anthropic_standin, settings):
    anthropic_standin.route("Section: Summary", Reply.text(GOOD_SUMMARY, input_tokens=100))
    anthropic_standin.route("Section: Pipeline", Reply.text(GOOD_PIPELINE, output_tokens=30))

    out = commentary.write(sections(), "retailer", settings=settings, subject="Harbour & Sons")

    assert out["source"] == "anthropic"
    assert out["sections"] == {"summary": GOOD_SUMMARY, "pipeline": GOOD_PIPELINE}
    assert out["sources"] == {"summary": "anthropic", "pipeline": "anthropic"}
    assert out["model"] == "claude-test"
    assert out["usage"] == {
        "input_tokens": 100 + 120,
        "output_tokens": 40 + 30,
        "requests": 2,
        "cache_hits": 0,
    }
    assert out["log"] == []
    json.dumps(out)  # goes into figures.json as is

    body = next(b for b in anthropic_standin.bodies if "Section: Summary" in json.dumps(b))
    assert body["model"] == "claude-test"
    assert body["max_tokens"] == settings.max_tokens
    assert "address them as 'you'" in body["system"]  # the retailer's tone
    prompt = body["messages"][0]["content"]
    # The model sees the figures as the report shows them.
    assert "- Submissions (last week): 12; previous period: 9; change: ▲ 33.3%" in prompt
    assert "Approval rate (last week): 75.0%" in prompt
    assert "Paid value (last week): £12.3k; previous period: £15.0k" in prompt
    assert "Subject: Harbour & Sons" in prompt
    pipeline_prompt = anthropic_standin.prompt_texts()
    assert any("One approved application has waited 31–90 days." in p for p in pipeline_prompt)


@pytest.mark.parametrize(
    ("audience", "phrase"),
    [
        ("retailer", "submitting more applications"),
        ("bdm", "inactive retailers worth a call"),
        ("smt", "business-wide trends in context"),
        ("board", "Formal and measured"),
    ],
)
def test_each_audience_has_its_tone(audience, phrase):
    assert phrase in commentary.system_prompt(audience)


# ----------------------------------------------------------------------------- retries


def test_529_twice_then_success_is_three_requests(anthropic_standin, settings):
    anthropic_standin.script(Reply.overloaded(), Reply.overloaded(), Reply.text(GOOD_SUMMARY))

    out = commentary.write([summary_section()], "smt", settings=settings, subject="All")

    assert len(anthropic_standin.requests) == 3
    assert out["sources"] == {"summary": "anthropic"}
    assert out["sections"]["summary"] == GOOD_SUMMARY
    assert out["usage"]["requests"] == 3


def test_429_waits_as_long_as_retry_after_says(anthropic_standin, settings):
    anthropic_standin.script(Reply.rate_limited(retry_after="0.4"), Reply.text(GOOD_SUMMARY))

    started = time.monotonic()
    out = commentary.write([summary_section()], "smt", settings=settings, subject="All")

    assert time.monotonic() - started >= 0.4
    assert len(anthropic_standin.requests) == 2
    assert out["source"] == "anthropic"


def test_retry_after_past_the_deadline_falls_back_at_once(anthropic_standin, settings):
    anthropic_standin.script(Reply.rate_limited(retry_after="30"))

    started = time.monotonic()
    out = commentary.write([summary_section()], "smt", settings=settings, subject="All")

    assert time.monotonic() - started < 2
    assert len(anthropic_standin.requests) == 1
    assert out["source"] == "fallback"
    assert "429" in out["log"][0] and "deadline" in out["log"][0]


def test_529_every_time_falls_back_after_three_retries_within_the_deadline(
    anthropic_standin, settings
):
    anthropic_standin.default = Reply.overloaded()
    settings = replace(settings, deadline_seconds=3.0)

    started = time.monotonic()
    out = commentary.write([summary_section()], "board", settings=settings, subject="Board")

    assert time.monotonic() - started < 3.0
    assert len(anthropic_standin.requests) == 4  # the first try and three retries
    assert out["source"] == "fallback"
    assert out["sections"]["summary"].endswith(AUTOMATIC_MARK)
    assert out["log"] == ["summary: HTTP 529 overloaded_error on all 4 requests"]
    assert out["usage"]["requests"] == 4


def test_other_errors_are_not_retried(anthropic_standin, settings):
    anthropic_standin.script(Reply.error(500, "api_error", "Internal server error"))

    out = commentary.write([summary_section()], "smt", settings=settings, subject="All")

    assert len(anthropic_standin.requests) == 1
    assert out["log"] == ["summary: HTTP 500 api_error from the API"]


def test_a_reply_slower_than_the_deadline_falls_back(anthropic_standin, settings):
    anthropic_standin.default = Reply.text(GOOD_SUMMARY, delay=10)
    settings = replace(settings, deadline_seconds=0.5)

    started = time.monotonic()
    out = commentary.write(sections(), "retailer", settings=settings, subject="Harbour & Sons")

    assert time.monotonic() - started < 0.5 + 1.5
    assert out["source"] == "fallback"
    assert all("deadline" in line for line in out["log"])
    assert set(out["sources"].values()) == {"fallback"}


# ------------------------------------------------------------- fact check and bad replies


def test_an_invented_number_costs_only_its_own_section(anthropic_standin, settings, caplog):
    anthropic_standin.route("Section: Summary", Reply.text(GOOD_SUMMARY))
    anthropic_standin.route(
        "Section: Pipeline", Reply.text("There are 17 approved applications worth £7.5k.")
    )

    with caplog.at_level(logging.WARNING, logger="lib.commentary"):
        out = commentary.write(sections(), "retailer", settings=settings, subject="Harbour & Sons")

    assert out["source"] == "mixed"
    assert out["sources"] == {"summary": "anthropic", "pipeline": "fallback"}
    assert out["sections"]["summary"] == GOOD_SUMMARY
    assert out["sections"]["pipeline"] == commentary.fallback(pipeline_section(), "retailer")
    assert out["log"] == ["pipeline: fact check: '17' match no figure given"]
    assert "'17' match no figure given" in caplog.text


@pytest.mark.parametrize("kind", ["not_json", "no_text", "tool_only", "wrong_shape"])
def test_a_malformed_reply_falls_back(anthropic_standin, settings, kind):
    anthropic_standin.script(Reply.malformed(kind))

    out = commentary.write([summary_section()], "bdm", settings=settings, subject="Ann Lee")

    assert out["source"] == "fallback"
    assert len(anthropic_standin.requests) == 1
    assert out["log"][0].startswith("summary: malformed reply")


def test_a_reply_cut_off_at_max_tokens_falls_back(anthropic_standin, settings):
    anthropic_standin.script(Reply.text("Submissions rose to 12 and", stop_reason="max_tokens"))

    out = commentary.write([summary_section()], "smt", settings=settings, subject="All")

    assert out["log"] == ["summary: the reply was cut off at max_tokens"]


def test_no_key_falls_back_without_a_request(anthropic_standin, settings):
    settings = replace(settings, api_key=None)

    out = commentary.write(sections(), "retailer", settings=settings, subject="Harbour & Sons")

    assert anthropic_standin.requests == []
    assert out["source"] == "fallback"
    assert out["model"] is None
    assert out["usage"] == {"input_tokens": 0, "output_tokens": 0, "requests": 0, "cache_hits": 0}
    assert out["log"] == [
        "summary: no ANTHROPIC_API_KEY set",
        "pipeline: no ANTHROPIC_API_KEY set",
    ]
    for section in sections():
        assert out["sections"][section.name] == commentary.fallback(section, "retailer")


def test_a_wrong_key_falls_back_and_the_key_is_never_logged_or_stored(
    anthropic_standin, settings, caplog
):
    wrong = "wrong-key-value-for-test"
    with caplog.at_level(logging.DEBUG):
        out = commentary.write(
            sections(), "retailer", settings=replace(settings, api_key=wrong), subject="H"
        )
        commentary.write(sections(), "retailer", settings=settings, subject="H")

    assert out["log"][0] == "summary: HTTP 401 authentication_error from the API"
    for secret in (wrong, API_KEY):
        assert secret not in caplog.text
        assert secret not in json.dumps(out)
        assert secret not in repr(replace(settings, api_key=secret))
        for path in settings.cache_dir.rglob("*"):
            if path.is_file():
                assert secret not in path.read_text(errors="replace")


# --------------------------------------------------------------------- cache and slots


def test_the_cache_makes_a_rerun_free(anthropic_standin, settings):
    anthropic_standin.route("Section: Summary", Reply.text(GOOD_SUMMARY))
    anthropic_standin.route("Section: Pipeline", Reply.text(GOOD_PIPELINE))
    first = commentary.write(sections(), "retailer", settings=settings, subject="Harbour & Sons")
    assert len(anthropic_standin.requests) == 2

    second = commentary.write(sections(), "retailer", settings=settings, subject="Harbour & Sons")

    assert len(anthropic_standin.requests) == 2  # nothing new
    assert second["sections"] == first["sections"]
    assert second["source"] == "anthropic"
    assert second["usage"] == {
        "input_tokens": 0,
        "output_tokens": 0,
        "requests": 0,
        "cache_hits": 2,
    }

    # Another model, audience or figure is another prompt: asked afresh.
    commentary.write(sections(), "retailer", settings=replace(settings, model="m2"), subject="H")
    assert len(anthropic_standin.requests) == 4


def test_a_cached_reply_is_fact_checked_again(anthropic_standin, settings):
    anthropic_standin.script(Reply.text("Submissions rose to 99."))
    first = commentary.write([summary_section()], "smt", settings=settings, subject="All")
    second = commentary.write([summary_section()], "smt", settings=settings, subject="All")

    assert len(anthropic_standin.requests) == 1
    assert first["source"] == second["source"] == "fallback"
    assert second["usage"]["cache_hits"] == 1


def test_a_busy_slot_held_by_another_worker_is_waited_for(anthropic_standin, settings):
    settings = replace(settings, concurrency=1, deadline_seconds=0.6)
    slots = settings.cache_dir / "slots"
    slots.mkdir(parents=True)
    other_worker = filelock.FileLock(slots / "slot-0.lock")

    with other_worker:
        out = commentary.write([summary_section()], "smt", settings=settings, subject="All")

    assert anthropic_standin.requests == []
    assert out["log"] == ["summary: the deadline passed waiting for a free request slot"]


def test_the_slot_is_shared_with_other_processes(anthropic_standin, settings):
    settings = replace(settings, concurrency=1)
    slot = settings.cache_dir / "slots" / "slot-0.lock"
    slot.parent.mkdir(parents=True)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import filelock, sys, time\n"
            "with filelock.FileLock(sys.argv[1]):\n"
            "    print('held', flush=True); time.sleep(0.8)\n",
            str(slot),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        out = commentary.write([summary_section()], "smt", settings=settings, subject="All")
        waited = time.monotonic() - started
    finally:
        holder.wait(timeout=10)

    assert out["source"] == "anthropic"  # it waited for the other worker, then asked
    assert waited >= 0.5
    assert len(anthropic_standin.requests) == 1


def test_concurrency_one_means_one_request_at_a_time(anthropic_standin, settings):
    anthropic_standin.default = Reply.text(GOOD_SUMMARY, delay=0.3)
    settings = replace(settings, concurrency=1)
    three = [replace(summary_section(), name=f"s{i}", title=f"Part {i}") for i in range(3)]

    started = time.monotonic()
    commentary.write(three, "smt", settings=settings, subject="All")

    assert time.monotonic() - started >= 0.9


# ------------------------------------------------------------------- prompt isolation


def retailer_figures(submissions, prev, paid, approval):
    return {
        "submissions": {"LW": submissions, "LW_prev": prev},
        "approval_rate": {"LW": approval, "LW_prev": 0.5},
        "paid_value": {"LW": paid, "LW_prev": 10000.0},
        "pipeline_ans_count": {"as_at": submissions // 10},
        "lender_share": {"LW": {"Northwind Bank": 0.25, "Oakfield Bank": 0.75}},
    }


def retailer_report(name, figures, reference):
    ids = ("submissions", "approval_rate", "paid_value")
    return [
        Section(
            "kpis", "Key figures", commentary.facts_from_figures(figures, ids, "LW", "LW_prev")
        ),
        Section(
            "pipeline",
            "Pipeline",
            commentary.facts_from_figures(figures, ["pipeline_ans_count"], "LW", "LW_prev"),
            notes=(f"{reference} has waited 45 days for {name}'s customer to sign.",),
        ),
    ]


def test_prompts_for_one_retailer_hold_nothing_of_another(anthropic_standin, settings):
    a_name, b_name = "Harbour & Sons", "Zephyr Cycles"
    a = retailer_report(a_name, retailer_figures(137, 121, 48215.5, 0.613), "APP-0012345")
    b = retailer_report(b_name, retailer_figures(264, 199, 91377.0, 0.837), "APP-0099123")

    commentary.write(a, "retailer", settings=settings, subject=a_name)
    a_prompts = anthropic_standin.prompt_texts()
    commentary.write(b, "retailer", settings=settings, subject=b_name)
    b_prompts = anthropic_standin.prompt_texts()[len(a_prompts) :]

    assert len(a_prompts) == len(b_prompts) == 2
    a_marks = [a_name, "137", "121", "£48.2k", "61.3%", "APP-0012345"]
    b_marks = [b_name, "264", "199", "£91.4k", "83.7%", "APP-0099123"]
    a_text, b_text = "\n".join(a_prompts), "\n".join(b_prompts)
    assert all(m in a_text for m in a_marks)
    assert all(m in b_text for m in b_marks)
    assert not any(m in a_text for m in b_marks)
    assert not any(m in b_text for m in a_marks)


# ---------------------------------------------------------------------------- fallback


def movers_section() -> Section:
    return Section(
        "volumes",
        "Volumes",
        (
            Fact("Submissions", 12, 10, "count", "green", "submissions", "LW"),  # +20%: 4x
            Fact("Approval rate", 0.5, 0.49, "rate", "amber", "approval_rate", "LW"),  # +1 pp
            Fact("Paid value", 1000.0, 1500.0, "money", "red", "paid_value", "LW"),  # -33%: 6.7x
            Fact("Average loan", None, 800.0, "money", None, "avg_loan", "LW"),
        ),
        notes=("Two applications have waited more than 30 days to be signed.",),
    )


def test_fallback_leads_with_the_biggest_mover_and_names_the_lights():
    text = commentary.fallback(movers_section(), "smt")

    assert text.startswith(
        "Paid value decreased to £1.0k last week, from £1.5k in the previous period (▼ 33.3%, red)."
    )
    assert (
        "Submissions increased to 12 last week, from 10 in the previous period (▲ 20.0%, green)."
        in text
    )
    assert "Other lights: amber for Approval rate." in text
    assert "Not available this period: Average loan." in text
    assert "Two applications have waited more than 30 days to be signed." in text
    assert text.endswith(AUTOMATIC_MARK)
    assert text == commentary.fallback(movers_section(), "smt")  # deterministic


def test_fallback_states_the_pipeline_as_at_the_report_date():
    text = commentary.fallback(pipeline_section(), "retailer")

    assert (
        "As at the report date: Approved but not signed 3; Approved but not signed (value) £7.5k."
        in text
    )
    assert "waiting for the customer to sign" in text  # the retailer's nudge
    assert "One approved application has waited 31–90 days." in text


def test_fallback_follows_the_audience():
    section = Section(
        "portfolio",
        "Portfolio",
        (
            Fact("Submissions", 80, 100, "count", "red", "submissions", "LW"),
            Fact("Inactive retailers", 4, None, "count", "red", "inactive_retailers", "as_at"),
        ),
        notes=("Inactive: Harbour & Sons, Zephyr Cycles.",),
    )
    retailer = commentary.fallback(section, "retailer")
    bdm = commentary.fallback(section, "bdm")
    smt = commentary.fallback(section, "smt")
    board = commentary.fallback(section, "board")

    assert "Offering finance to more customers at checkout" in retailer
    assert "Submissions fell to 80" in retailer
    assert "Volume is down on the previous period" in bdm
    assert "Retailers with no recent submissions are worth a call" in bdm
    assert "Across the business, more measures worsened than improved." in smt
    assert "Submissions decreased to 80" in board
    assert "Against the previous period, more measures worsened than improved" in board
    assert len({retailer, bdm, smt, board}) == 4
    assert all("Inactive: Harbour & Sons, Zephyr Cycles." in t for t in (retailer, bdm, board))


@pytest.mark.parametrize("audience", commentary.AUDIENCES)
@pytest.mark.parametrize(
    "section", [summary_section(), pipeline_section(), movers_section()], ids=lambda s: s.name
)
def test_the_fallback_passes_the_fact_check(section, audience):
    assert commentary.fact_check(commentary.fallback(section, audience), section) == []


def test_a_section_with_no_figures_still_reads():
    text = commentary.fallback(Section("empty", "Lenders", ()), "board")
    assert text == f"No figures are available for Lenders this period. {AUTOMATIC_MARK}"


# -------------------------------------------------------------------------- fact check


@pytest.mark.parametrize(
    "text",
    [
        "Paid value was £12,345, or £12.3k, or about £12k, down from £15,000 (£15k).",
        "Paid value fell by £2,655 and by 17.7%, or 18%.",
        "Submissions rose to 12 from 9, up 33.3% (33%), three more than last week.",
        "The approval rate was 75%, 75.0% or 75 per cent, up 5.0 pp (5 percentage points).",
        "On 22 November 2026 (2026-11-22) at 07:00, in Q3, for the 3rd week.",
        "Two weeks ago, and ten days before that.",
        "It fell by −£2,655.",
    ],
)
def test_fact_check_accepts_figures_at_any_display_rounding(text):
    assert commentary.fact_check(text, summary_section()) == []


@pytest.mark.parametrize(
    ("text", "bad"),
    [
        ("Paid value reached £99k.", ["£99k"]),
        ("There were 17 submissions.", ["17"]),
        ("The approval rate was 45%.", ["45%"]),
        ("Submissions rose by twenty-three.", ["twenty-three"]),
        ("The approval rate rose 5%.", ["5%"]),  # a 5 pp move is not a 5% rise
        ("Decisions took 4.5 hours.", ["4.5 hours"]),
        ("Paid value was £12,000 and £13,000.", ["£13,000"]),
    ],
)
def test_fact_check_rejects_numbers_not_given(text, bad):
    assert commentary.fact_check(text, summary_section()) == bad


def test_numbers_in_notes_and_labels_are_allowed():
    section = Section(
        "concentration",
        "Top-10 concentration",
        (Fact("Top-10 concentration", 0.8, 0.75, "share", "red", "top10_concentration", "M"),),
        notes=("3 applications have waited 31–90 days.",),
    )
    text = "The top 10 retailers hold 80% of paid value; 3 applications waited 31 to 90 days."
    assert commentary.fact_check(text, section) == []


# ------------------------------------------------------------------ facts from figures


def test_facts_from_figures_uses_the_registry_and_the_report_lights():
    figures = {
        "submissions": {"LW": 12, "LW_prev": 10},
        "median_hours_to_decision": {"LW": 4.0, "LW_prev": 6.0},
        "pipeline_ans_count": {"as_at": 3},
        "lender_share": {"LW": {"Oakfield Bank": 0.4, "Northwind Bank": 0.6}, "LW_prev": {}},
    }
    ids = ["submissions", "median_hours_to_decision", "pipeline_ans_count", "lender_share"]

    facts = commentary.facts_from_figures(figures, ids, "LW", "LW_prev")

    assert facts[0] == Fact("Submissions", 12, 10, "count", "green", "submissions", "LW")
    # Lower is better: a fall in hours to decision is green.
    assert facts[1].light == "green" and facts[1].unit == "hours"
    assert facts[2] == Fact(
        "Approved but not signed", 3, None, "count", None, "pipeline_ans_count", "as_at"
    )
    assert [f.label for f in facts[3:]] == [
        "Lender share: Northwind Bank",
        "Lender share: Oakfield Bank",
    ]
    assert facts[3].unit == "share" and facts[3].light is None
    with pytest.raises(UnknownNameError):
        commentary.facts_from_figures(figures, ["nope"], "LW", "LW_prev")


# ---------------------------------------------------------------------------- settings


def test_settings_from_env_reads_the_environment_then_dotenv(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "BROADSHEET_COMMENTARY_MODEL"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / ".env").write_text(
        "ANTHROPIC_API_KEY=from-dotenv\nBROADSHEET_COMMENTARY_MODEL=model-from-dotenv\n"
    )
    monkeypatch.setenv("BROADSHEET_COMMENTARY_MODEL", "model-from-env")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9")

    s = Settings.from_env(cache_dir=tmp_path / "c")

    assert (s.api_key, s.base_url, s.model) == (
        "from-dotenv",
        "http://127.0.0.1:9",
        "model-from-env",
    )
    assert s.cache_dir == tmp_path / "c"
    assert "from-dotenv" not in repr(s)


def test_settings_without_a_key(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "  ")
    monkeypatch.delenv("BROADSHEET_COMMENTARY_MODEL", raising=False)

    s = Settings.from_env()

    assert s.api_key is None and s.cache_dir is None
    assert s.model == commentary.DEFAULT_MODEL


def test_bad_settings_and_arguments_are_refused(settings):
    with pytest.raises(ConfigError, match="commentary.concurrency"):
        Settings(concurrency=0)
    with pytest.raises(UnknownNameError, match="did you mean one of: bdm, board, retailer, smt"):
        commentary.write(sections(), "investors", settings=settings, subject="x")
    with pytest.raises(ValueError, match="unique"):
        commentary.write([summary_section()] * 2, "smt", settings=settings, subject="x")
