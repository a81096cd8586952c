"""The sales dashboard in a real Chromium, in English and in Chinese, on a desktop and on a phone: every chart tile is
drawn by Chart.js, the big-number tiles show their figure, no serious accessibility violation, no sideways scroll on a
phone, the tiles one a row there; the filter bar narrows the tiles in place and keeps the choice in the address."""

from __future__ import annotations

import re

import pytest
from access_world import build_world
from playwright.sync_api import expect
from test_ui_accessibility_browser import sideways, squeezed, violations
from test_ui_browser import ARTIFACTS, serving, sign_in
from test_ui_dashboards import DEALS, OPEN, SALES_TILES, add_deals

from core.records import Actor

SYSTEM = Actor.system()


@pytest.fixture
def world(make_runtime):
    world = build_world(make_runtime(plugins=("sales",)))
    add_deals(world)
    return world


@pytest.fixture
def server(world):
    with serving(world.runtime) as base:
        yield base


DRAWN = """() => Array.from(document.querySelectorAll('.dashboard-tile canvas[data-chart]')).map(c => {
    const chart = Chart.getChart(c);
    return chart ? {id: c.id, type: chart.config.type, labels: chart.data.labels.length, width: c.width} : {id: c.id, missing: true};
})"""


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_the_sales_dashboard_is_drawn_and_readable_on_a_desktop_and_a_phone(browser, server, world, request, lang):
    if lang == "zh-CN":
        root = world.users["root"]
        world.runtime.records.update(SYSTEM, "user", root, {"language": "zh_cn"},
                                     version=world.runtime.records.get(SYSTEM, "user", root)["version"])
    database = request.node.callspec.params.get("database_url", "db")
    context = browser.new_context(base_url=server, viewport={"width": 1280, "height": 900}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(10_000)
    sign_in(page, "root")
    ARTIFACTS.mkdir(exist_ok=True)
    pipeline = sum(a for _n, _o, s, a, _c in DEALS if s in OPEN)
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto("/dashboards/sales")
        expect(page.locator(".dashboard-tile")).to_have_count(SALES_TILES)
        page.wait_for_function("() => document.querySelectorAll('.dashboard-tile canvas[data-chart]').length > 0 && "
                               "Array.from(document.querySelectorAll('.dashboard-tile canvas[data-chart]')).every(c => Chart.getChart(c))")
        drawn = page.evaluate(DRAWN)
        assert page.locator(".dashboard-tile .tile-empty").count() == 1  # no lead: the conversion tile says so, undrawn
        assert len(drawn) == 6 and all(not d.get("missing") and d["width"] > 0 and d["labels"] > 0 for d in drawn), drawn
        kpis = page.locator(".dashboard-tile .report-kpi strong")
        assert kpis.count() == 3
        assert re.sub(r"[^\d.]", "", kpis.first.inner_text()) == f"{pipeline:.2f}"
        assert all(kpis.nth(i).inner_text().strip() for i in range(3))
        problems = violations(page) + sideways(page) + squeezed(page)
        assert problems == [], (width, problems)
        boxes = [page.locator(".dashboard-tile").nth(i).bounding_box() for i in range(SALES_TILES)]
        if width == 390:  # one tile a row
            assert all(b["x"] == boxes[0]["x"] for b in boxes) and all(b2["y"] > b1["y"] for b1, b2 in zip(boxes, boxes[1:]))
        else:  # the three big numbers side by side
            assert boxes[0]["y"] == boxes[1]["y"] == boxes[2]["y"] and boxes[0]["x"] < boxes[1]["x"] < boxes[2]["x"]
        page.screenshot(path=ARTIFACTS / f"dashboard-sales-{width}-{lang}-{database}.png", full_page=True)
        page.goto("/")  # the home page shows the same tiles under the day's blocks
        expect(page.locator("#home-dashboard .dashboard-tile")).to_have_count(SALES_TILES)
        page.wait_for_function("() => Array.from(document.querySelectorAll('#home-dashboard canvas[data-chart]')).every(c => Chart.getChart(c))")
        assert page.locator("#home-dashboard .report-kpi strong").count() == 3
        problems = violations(page) + sideways(page) + squeezed(page)
        assert problems == [], ("home", width, problems)
        page.screenshot(path=ARTIFACTS / f"home-dashboard-{width}-{lang}-{database}.png", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto("/dashboards/sales")
    page.locator("#dashboard-owner").select_option(str(world.users["sam"]))
    page.locator(".dashboard-filters button[type=submit]").click()
    expect(page).to_have_url(re.compile(rf"owner={world.users['sam']}"))
    mine = sum(a for _n, o, s, a, _c in DEALS if s in OPEN and o == "sam")
    expect(page.locator(".dashboard-tile .report-kpi strong").first).to_have_text(re.compile(re.escape(f"{mine:,.2f}")))
    page.wait_for_function("() => Array.from(document.querySelectorAll('.dashboard-tile canvas[data-chart]')).every(c => Chart.getChart(c))")
    context.close()


def test_a_progress_widget_is_drawn_with_labelled_bars(browser, make_runtime, request):
    from fake_plugins import pi_progress  # noqa: PLC0415 - only this test runs with the plugin

    world = build_world(make_runtime(plugins=("sales", "pi"), extra_plugins=[pi_progress]))
    world.runtime.import_changeset({"format": "tessera-changeset/1", "dashboards": [
        {"name": "targets", "label": {"en": "Targets"}, "roles": [], "tiles": [{"widget": "pi_quota", "width": 6}]}]}, "test", "test")
    database = request.node.callspec.params.get("database_url", "db")
    with serving(world.runtime) as base:
        context = browser.new_context(base_url=base, viewport={"width": 390, "height": 900}, locale="en-US")
        page = context.new_page()
        page.set_default_timeout(10_000)
        sign_in(page, "root")
        for width in (390, 1280):
            page.set_viewport_size({"width": width, "height": 900})
            page.goto("/dashboards/targets")
            bars = page.get_by_role("progressbar")
            expect(bars).to_have_count(3)
            assert bars.first.get_attribute("aria-valuetext") == "$1,200.00 of $5,000.00 (24%)"
            expect(page.get_by_role("progressbar", name="Calls")).to_have_count(1)
            problems = violations(page) + sideways(page) + squeezed(page)
            assert problems == [], (width, problems)
            page.screenshot(path=ARTIFACTS / f"dashboard-targets-{width}-{database}.png", full_page=True)
        context.close()
