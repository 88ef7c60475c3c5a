"""The board pack notebook, executed once by the real runner on the 30-retailer demo data.

Every number of ``figures.json`` is checked against the metric registry recomputed here,
independently of the notebook: the month and year windows, every retailer and BDM, and
each month of the 13-month trend.
"""

from __future__ import annotations

import html
import re

import pytest

from lib import metrics, periods, snapshot
from lib.contract import TABLE_MIME, TEXT_MIME
from lib.settings import Settings
from runner import declarations
from tests.fixtures.reports import BOARD_AS_OF, RESTATED, month_windows, same

pytestmark = pytest.mark.slow

SECTIONS = (
    "summary",
    "volumes",
    "funnel",
    "lenders",
    "products",
    "retailers",
    "bdms",
    "pipeline",
    "operations",
    "commission",
)


@pytest.fixture(scope="module")
def declaration() -> declarations.Declaration:
    return declarations.discover(Settings().parameters_dir).get("board_pack")


@pytest.fixture(scope="module")
def rates(declaration) -> dict[str, float]:
    return declaration.parameters["commission_rates"]


@pytest.fixture(scope="module")
def snap(board_pack_run) -> snapshot.Snapshot:
    return snapshot.load(board_pack_run.snapshot_dir)


def test_windows_are_the_board_month_and_year(board_pack_run):
    fig = board_pack_run.figures
    expected = periods.windows(BOARD_AS_OF, ("M", "YTD"))
    assert fig["windows"] == {k: w.to_json() for k, w in expected.items()}
    assert fig["windows"]["M"] == ["2026-10-01", "2026-10-31"]
    assert fig["windows"]["M_ly"] == ["2025-10-01", "2025-10-31"]
    assert fig["as_of"] == "2026-10-31" and fig["report"] == "board_pack"


def test_book_figures_equal_the_registry(board_pack_run, snap, rates):
    fig = board_pack_run.figures
    wins = periods.windows(BOARD_AS_OF, ("M", "YTD"))
    expected = metrics.compute(snap, wins, BOARD_AS_OF, commission_rates=rates)["all"]
    same(fig["metrics"], expected, "metrics")
    # The month was a busy one: the comparison is not vacuous.
    assert fig["metrics"]["paid_value"]["M"] > 0 and fig["metrics"]["submissions"]["M_ly"] > 0


def test_retailer_and_bdm_figures_equal_the_registry(board_pack_run, snap, rates):
    fig = board_pack_run.figures
    wins = periods.windows(BOARD_AS_OF, ("M", "YTD"))
    by_retailer = metrics.compute(snap, wins, BOARD_AS_OF, by="retailer", commission_rates=rates)
    assert set(fig["retailers"]) == set(snap.accounts["Id"])
    for rid, entry in fig["retailers"].items():
        same(entry["metrics"], by_retailer[rid], f"retailers.{rid}")
    by_bdm = metrics.compute(snap, wins, BOARD_AS_OF, by="bdm", commission_rates=rates)
    assert fig["bdms"], "the demo has BDMs"
    for uid, entry in fig["bdms"].items():
        same(entry["metrics"], by_bdm[uid], f"bdms.{uid}")


def test_trend_equals_the_registry_month_by_month(board_pack_run, snap, rates, declaration):
    trend = board_pack_run.figures["trend"]
    months = declaration.parameters["trend_months"]
    wins = month_windows(BOARD_AS_OF, months)
    assert trend["windows"] == {k: w.to_json() for k, w in wins.items()}
    assert list(trend["windows"])[0] == "2025-10" and len(trend["windows"]) == 13
    expected = metrics.compute(snap, wins, BOARD_AS_OF, commission_rates=rates)["all"]
    windowed = {m: v for m, v in expected.items() if metrics.get(m).basis == "window"}
    same(trend["metrics"], windowed, "trend")
    # The trend's last month is the board month itself.
    assert (
        trend["metrics"]["paid_value"]["2026-10"]
        == board_pack_run.figures["metrics"]["paid_value"]["M"]
    )


def test_pipeline_ageing_adds_up_to_the_pipeline_metrics(board_pack_run):
    fig = board_pack_run.figures
    for stage in ("ans", "snp"):
        buckets = fig["pipeline_ageing"][stage]
        assert list(buckets) == list(metrics.PIPELINE_BUCKETS)
        assert (
            sum(b["count"] for b in buckets.values())
            == fig["metrics"][f"pipeline_{stage}_count"]["as_at"]
        )
        total = sum(b["value"] for b in buckets.values())
        assert total == pytest.approx(fig["metrics"][f"pipeline_{stage}_value"]["as_at"], abs=0.005)
        assert (
            sum(1 for _ in fig["pipeline"][stage])
            == fig["metrics"][f"pipeline_{stage}_count"]["as_at"]
        )


def test_at_least_17_charts_and_25_metrics(board_pack_run):
    charts = [
        out
        for cell in board_pack_run.notebook.cells
        for out in cell.get("outputs", [])
        if "image/png" in out.get("data", {})
    ]
    assert len(charts) >= 17
    assert all(out.metadata["image/png"]["alt"].strip() for out in charts), (
        "every chart has alt text"
    )
    ids = set(board_pack_run.figures["metrics"])
    for metric_id in ids:
        metrics.get(metric_id)  # every id is a registry metric (or its growth)
    assert len(ids) >= 25
    assert len(ids & set(metrics.REGISTRY)) >= 25, (
        "25 metrics of the registry itself, not only growths"
    )


def test_every_section_has_commentary(board_pack_run):
    commentary = board_pack_run.figures["commentary"]
    assert tuple(commentary["sections"]) == SECTIONS
    assert all(text.strip() for text in commentary["sections"].values())
    assert commentary["source"] == "fallback"  # no key in tests: the labelled fallback
    shown = [
        out["data"][TEXT_MIME]["section"]
        for cell in board_pack_run.notebook.cells
        for out in cell.get("outputs", [])
        if out.get("data", {}).get(TEXT_MIME, {}).get("kind") == "commentary"
    ]
    assert tuple(shown) == SECTIONS


def test_report_html_is_self_contained_and_under_5_mb(board_pack_run):
    path = board_pack_run.path("report.html")
    assert path.stat().st_size < 5 * 1024 * 1024
    page = path.read_text(encoding="utf-8")
    for title in ("Summary", "Volumes", "Funnel and conversion", "Appendix: methodology"):
        assert f">{title}<" in page
    assert not re.search(
        r"<(?:script|link|img)[^>]+(?:src|href)=\"https?:", page
    )  # nothing fetched
    assert "Traceback" not in page and "UserWarning" not in page


def test_methodology_prints_every_definition_verbatim(board_pack_run):
    page = html.unescape(board_pack_run.path("report.html").read_text(encoding="utf-8"))
    for metric_id, label, _unit, definition in metrics.registry_rows():
        assert f">{metric_id}<" in page and label in page and definition in page, metric_id
    for rule in metrics.GENERAL_RULES:
        assert rule in page


def test_tables_show_only_published_numbers(board_pack_run):
    """Every money amount or count in a table payload is one of figures.json, formatted."""
    from lib import formatting

    fig = board_pack_run.figures
    known: set[str] = set()

    def collect(value) -> None:
        if isinstance(value, dict):
            for v in value.values():
                collect(v)
        elif isinstance(value, list):
            for v in value:
                collect(v)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            known.update({formatting.money(value), formatting.count(value)})

    collect(fig)
    money = re.compile(r"^-?£[\d,]+$")
    seen = 0
    for cell in board_pack_run.notebook.cells:
        for out in cell.get("outputs", []):
            payload = out.get("data", {}).get(TABLE_MIME)
            for row in (payload or {}).get("rows", []):
                for text in row[1:]:
                    if money.match(text):
                        seen += 1
                        assert text in known, (payload["title"], text)
    assert seen > 100


def test_restated_since_the_last_pack(board_pack_run):
    """September's pack published two figures that today's data gives differently."""
    from lib import formatting

    fig = board_pack_run.figures
    since = fig["since_last"]
    assert since["previous_as_of"] == "2026-09-30"
    now = fig["metrics"]
    assert fig["windows"]["M_prev"] == ["2026-09-01", "2026-09-30"]
    assert since["restated"] == [
        {"metric": m, "window": "M", "published": now[m]["M_prev"] + delta, "now": now[m]["M_prev"]}
        for m, delta in RESTATED.items()
    ]
    page = html.unescape(board_pack_run.path("report.html").read_text(encoding="utf-8"))
    assert "Restated since the last pack" in page
    paid = now["paid_value"]["M_prev"]
    row = (
        f"September 2026</td><td data-sort-value=\"{paid + 1000.0}\">{formatting.money(paid + 1000.0)}"
        f"</td><td data-sort-value=\"{paid}\">{formatting.money(paid)}</td>"
    )
    assert row in page
    assert "Restated since the last pack" not in board_pack_run.path("email.html").read_text()
    # The appendix says why figures move.
    assert "records arrive late" in page and "corrected in Salesforce" in page


def test_email_is_a_short_summary(board_pack_run):
    email = board_pack_run.path("email.html").read_text(encoding="utf-8")
    assert "<script" not in email
    assert len(re.findall(r'src="cid:', email)) == 1, "one chart in the email body"
    assert "Summary" in email and "Volumes" not in email
    assert "attached as a Word document and a PDF" in email


def test_a_month_with_no_data_renders_and_says_so(empty_board_pack_run):
    run = empty_board_pack_run
    fig = run.figures
    assert fig["metrics"]["submissions"]["M"] == 0 and fig["metrics"]["approval_rate"]["M"] is None
    assert fig["retailers"] == {} and fig["bdms"] == {}
    for name in ("report.html", "email.html", "report.docx", "figures.json"):
        assert run.path(name).is_file(), name
    errors = [
        out
        for cell in run.notebook.cells
        for out in cell.get("outputs", [])
        if out.get("output_type") == "error"
    ]
    assert not errors
    page = html.unescape(run.path("report.html").read_text(encoding="utf-8"))
    assert (
        "No applications were submitted, decided, signed, paid or cancelled in October 2026" in page
    )
    assert "No applications were submitted" in html.unescape(
        run.path("email.html").read_text(encoding="utf-8")
    )
