"""Who receives each target's message, under each recipient policy and the admin's lists."""

from __future__ import annotations

from pathlib import Path

from runner.declarations import load
from runner.delivery.plan import recipients_for
from runner.state.view import RunnerView
from runner.targets import Target

PARAMETERS = Path(__file__).resolve().parents[3] / "parameters"


def test_policies():
    retailer = Target("retailer", "001A", "Harbour & Sons", "owner@harbour.example")
    bdm = Target("bdm", "005B", "Ada Lovelace", "ada@larkspur.example")
    view = RunnerView(
        extras={"001A": ("finance@harbour.example",)},
        lists={"board": (), "smt": ("cfo@x.example",), "admin": ()},
    )
    assert recipients_for(load(PARAMETERS / "retailer_weekly.yaml"), retailer, view) == [
        "owner@harbour.example",
        "finance@harbour.example",
    ]
    assert recipients_for(load(PARAMETERS / "bdm_portfolio.yaml"), bdm, view) == [
        "ada@larkspur.example"
    ]
    # The admin's SMT list replaces the declared one; the unset board list falls back to it.
    everyone = Target("none", "all", "All retailers")
    assert recipients_for(load(PARAMETERS / "smt_dashboard.yaml"), everyone, view) == [
        "cfo@x.example"
    ]
    assert recipients_for(load(PARAMETERS / "board_pack.yaml"), everyone, view) == [
        "board@larkspur-finance.example",
        "company.secretary@larkspur-finance.example",
    ]


def test_envelope_attaches_the_rendered_files_in_order(tmp_path):
    from datetime import date

    from runner.delivery.plan import envelope_for

    names = ["email.html", "email.txt", "pipeline.csv", "report.html", "pipeline.xlsx", "x.png"]
    files = [str(tmp_path / n) for n in names]
    retailer = Target("retailer", "001A", "Harbour & Sons", "owner@harbour.example")
    env = envelope_for(
        load(PARAMETERS / "retailer_weekly.yaml"),
        retailer,
        files,
        ["owner@harbour.example"],
        as_of=date(2026, 11, 22),
        period="week ending 22 Nov 2026",
        sender="r@x.example",
    )
    assert [p.name for p in env.attachments] == ["report.html", "pipeline.xlsx", "pipeline.csv"]


def test_a_subject_is_one_line_whatever_the_name() -> None:
    from email.message import EmailMessage

    from runner.delivery.plan import one_line

    subject = one_line("Weekly report: Bell\x07 & Sons\nKitchens\r\n, week ending 22 Nov")
    assert subject == "Weekly report: Bell & Sons Kitchens , week ending 22 Nov"
    msg = EmailMessage()
    msg["Subject"] = subject  # the email package refuses a line break in a header
    assert msg["Subject"] == subject
