"""The interactive reports in a real browser: dropdowns, tabs, sorting, period switch, filter."""

from __future__ import annotations

import json

import pytest

from lib import formatting as fmt

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def page(chromium):
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    requests: list[str] = []

    def block_network(route):
        requests.append(route.request.url)
        route.abort()

    context.route("http*://**", block_network)
    pg = context.new_page()
    pg.requests = requests
    yield pg
    context.close()


def _open(page, folder, screenshots, name):
    page.goto((folder / "report.html").as_uri())
    page.wait_for_load_state("load")
    page.screenshot(path=str(screenshots / f"{name}.png"), full_page=True)
    assert page.requests == [], f"report.html asked the network for {page.requests[:3]}"
    return json.loads((folder / "figures.json").read_text())


def test_retailer_report_draws_offline(weekly_runs, page, screenshots):
    target = weekly_runs.results["retailer_weekly"].targets[0]
    fig = _open(page, weekly_runs.dir("retailer_weekly", target.id), screenshots, "retailer_weekly")
    assert page.locator(".bs-chart .main-svg").count() >= 2  # plotly drew the charts
    kpi = page.locator(".bs-kpi").first
    assert fmt.count(fig["metrics"]["submissions"]["LW"]) in kpi.inner_text()


def test_bdm_dropdown_shows_the_chosen_retailer(weekly_runs, page, screenshots):
    target = weekly_runs.results["bdm_portfolio"].targets[0]
    folder = weekly_runs.dir("bdm_portfolio", target.id)
    fig = _open(page, folder, screenshots, "bdm_portfolio")
    total = page.locator('[data-switch-group="portfolio"][data-switch-value="all"]')
    assert total.is_visible()
    assert fmt.count(fig["metrics"]["submissions"]["LW"]) in total.locator(".bs-kpi-value").first.inner_text()
    options = page.locator('select[data-switch="portfolio"] option').all()
    retailer = options[1].get_attribute("value")
    page.select_option('select[data-switch="portfolio"]', retailer)
    panel = page.locator(f'[data-switch-group="portfolio"][data-switch-value="{retailer}"]')
    assert panel.is_visible() and not total.is_visible()
    expected = fig["retailers"][retailer]["metrics"]
    values = panel.locator(".bs-kpi-value").all_inner_texts()
    assert values[0] == fmt.count(expected["submissions"]["LW"])
    assert values[2] == fmt.money(expected["paid_value"]["LW"], compact=True)
    page.screenshot(path=str(screenshots / "bdm_portfolio_drilldown.png"), full_page=True)


def test_smt_tabs_sorting_period_switch_and_pipeline_filter(weekly_runs, page, screenshots):
    fig = _open(page, weekly_runs.dir("smt_dashboard", "all"), screenshots, "smt_overview")
    table_tab = page.locator('[data-tab-panel="table"]')
    assert not table_tab.is_visible()
    page.click('button[data-tab="table"]')
    assert table_tab.is_visible() and not page.locator('[data-tab-panel="overview"]').is_visible()

    # Period switch: the visible league table is the chosen period's.
    page.select_option('select[data-switch="league"]', "MTD")
    mtd = page.locator('[data-switch-group="league"][data-switch-value="MTD"] table')
    assert mtd.is_visible()
    headers = mtd.locator("thead th").all_inner_texts()
    col = headers.index("Paid value")
    some = next(r for r, e in fig["retailers"].items() if e["metrics"]["paid_value"]["MTD"])
    row = mtd.locator("tbody tr", has_text=fig["retailers"][some]["name"]).first
    assert row.locator("th, td").nth(col).inner_text() == fmt.money(fig["retailers"][some]["metrics"]["paid_value"]["MTD"])

    # Sorting: a click orders the rows by that column.
    mtd.locator("thead th").nth(col).click()
    keys = [float(v) if v else float("-inf") for v in mtd.locator(f"tbody tr > :nth-child({col + 1})").evaluate_all(
        "cells => cells.map(c => c.getAttribute('data-sort-value'))")]
    assert keys == sorted(keys)
    mtd.locator("thead th").nth(col).click()
    keys = [float(v) if v else float("-inf") for v in mtd.locator(f"tbody tr > :nth-child({col + 1})").evaluate_all(
        "cells => cells.map(c => c.getAttribute('data-sort-value'))")]
    assert keys == sorted(keys, reverse=True)
    page.screenshot(path=str(screenshots / "smt_table.png"), full_page=True)

    # Pipeline filter: only the chosen stage's applications are listed.
    page.click('button[data-tab="overview"]')
    page.select_option('select[data-switch="pipeline"]', "snp")
    visible = page.locator('[data-switch-group="pipeline"]:visible tbody tr th').all_inner_texts()
    snp = {i["ref"] for i in fig["pipeline"]["snp"]}
    assert visible and set(visible) <= snp
    assert page.locator('[data-switch-group="pipeline"][data-switch-value="ans"]').is_hidden()

    # The BDM and retailer dropdowns are independent of each other.
    bdm = next(iter(fig["bdms"]))
    page.select_option('select[data-switch="bdm"]', bdm)
    retailer = next(iter(sorted(fig["retailers"], key=lambda r: fig["retailers"][r]["name"])))
    page.select_option('select[data-switch="retailer"]', retailer)
    assert page.locator(f'[data-switch-group="bdm"][data-switch-value="{bdm}"]').is_visible()
    assert page.locator(f'[data-switch-group="retailer"][data-switch-value="{retailer}"]').is_visible()
