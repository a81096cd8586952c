"""Report pages in a real Chromium: a bar chart and a matrix report drawn with Chart.js, their data tables, no serious
accessibility violation, and no sideways scroll on a phone; in English and in Chinese."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from test_ui_accessibility_browser import sideways, squeezed, violations
from test_ui_browser import ARTIFACTS, serving, sign_in

from access_world import build_world
from core.records import Actor

SYSTEM = Actor.system()
DEALS = [("Press line", "prospecting", 1200, "2026-01-15"), ("Boiler", "closed_won", 2500, "2026-02-03"),
         ("Conveyor", "closed_won", 50, "2026-04-20"), ("Robot arm", "qualification", 400000, "2026-04-02"),
         ("Spare parts", "closed_lost", 75, "2026-07-30"), ("Dryer", "closed_won", 1000, "2026-10-01")]
REPORTS = [
    {"name": "pipeline", "label": {"en": "Pipeline by stage", "zh-CN": "按阶段的商机"}, "object": "opportunity",
     "description": {"en": "Every deal by its stage", "zh-CN": "按阶段统计所有商机"},
     "group_by": [{"field": "stage"}], "measures": [{"aggregate": "sum", "field": "amount"}, {"aggregate": "count"}],
     "chart": {"type": "bar"}, "prompts": [{"filter": "amount__gte", "label": {"en": "Amount at least", "zh-CN": "金额至少"}, "default": 0}],
     "period": {"field": "close_date", "range": "all_time"}},
    {"name": "stage_by_quarter", "label": {"en": "Stages by quarter", "zh-CN": "按季度的阶段"}, "object": "opportunity", "kind": "matrix",
     "group_by": [{"field": "stage"}, {"field": "close_date", "bucket": "quarter"}],
     "measures": [{"aggregate": "sum", "field": "amount"}], "chart": {"type": "stacked_bar"}},
]


@pytest.fixture
def world(make_runtime):
    world = build_world(make_runtime(plugins=("sales",)))
    for name, stage, amount, close in DEALS:
        world.runtime.records.create(SYSTEM, "opportunity", {
            "name": name, "account": world.accounts["alice"], "stage": stage, "amount": amount, "close_date": close, "probability": 50,
            **({"loss_reason": "price"} if stage == "closed_lost" else {})})
    world.runtime.import_changeset({"format": "tessera-changeset/1", "reports": REPORTS}, "test", "test")
    return world


@pytest.fixture
def server(world):
    with serving(world.runtime) as base:
        yield base


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_a_bar_chart_and_a_matrix_report_are_drawn_and_readable(browser, server, world, request, lang):
    if lang == "zh-CN":  # the pages follow the user's language
        root = world.users["root"]
        world.runtime.records.update(SYSTEM, "user", root, {"language": "zh_cn"},
                                     version=world.runtime.records.get(SYSTEM, "user", root)["version"])
    database = request.node.callspec.params.get("database_url", "db")
    context = browser.new_context(base_url=server, viewport={"width": 1280, "height": 900}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(10_000)
    sign_in(page, "root")
    ARTIFACTS.mkdir(exist_ok=True)
    for name, groups in (("pipeline", 4), ("stage_by_quarter", 4)):
        for width in (1280, 390):
            page.set_viewport_size({"width": width, "height": 900})
            page.goto(f"/reports/{name}")
            expect(page.locator("#report-table")).to_be_visible()
            drawn = page.evaluate("""() => { const c = document.querySelector('#report-chart'); const chart = c && Chart.getChart(c);
                                             return chart ? {type: chart.config.type, labels: chart.data.labels.length,
                                                             datasets: chart.data.datasets.length, width: c.width} : null; }""")
            assert drawn and drawn["type"] == "bar" and drawn["labels"] == groups and drawn["width"] > 0, drawn
            if name == "stage_by_quarter":
                assert drawn["datasets"] == 4  # one per quarter
            assert page.locator("#report-chart").get_attribute("role") == "img"
            assert page.locator("#report-chart").get_attribute("aria-label")
            assert page.locator("table.chart-data tbody tr").count() == groups
            assert page.locator("#report-table tbody tr").count() == groups
            assert page.locator("#report-table tfoot th").first.inner_text() == ("合计" if lang == "zh-CN" else "Total")
            problems = violations(page) + sideways(page) + squeezed(page)
            assert problems == [], (name, width, problems)
            page.screenshot(path=ARTIFACTS / f"report-{name}-{width}-{lang}-{database}.png", full_page=True)
    page.goto("/reports/pipeline")
    page.locator("#prompt-1").fill("1000")
    page.locator(".report-filters button[type=submit]").click()
    expect(page.locator("#report-table tbody tr")).to_have_count(3)  # prospecting, qualification and closed won remain
    expect(page).to_have_url(re.compile(r"amount__gte=1000"))
    assert page.evaluate("Chart.getChart(document.querySelector('#report-chart')).data.labels.length") == 3
    page.locator("#report-table tbody a").last.click()
    expect(page.locator("#drill-records tbody tr")).to_have_count(2)  # Boiler and Dryer: won, at least 1,000
    context.close()
