"""The report builder in a real Chromium: an administrator builds a report by clicking (the object, a grouping, a measure),
previews it and saves it, in English and in Chinese; the builder has no serious accessibility violation and does not
scroll sideways on a phone."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from test_ui_accessibility_browser import sideways, violations
from test_ui_browser import serving, sign_in

from access_world import build_world
from core.records import Actor

SYSTEM = Actor.system()
DEALS = [("Press line", "prospecting", 1200), ("Boiler", "closed_won", 2500), ("Conveyor", "closed_won", 50),
         ("Robot arm", "qualification", 400000)]
WORDS = {"en": {"new": "New report", "add": "Add a measure", "preview": "Preview", "save": "Save", "total": "Total"},
         "zh-CN": {"new": "新建报表", "add": "添加度量", "preview": "预览", "save": "保存", "total": "合计"}}


@pytest.fixture
def world(make_runtime):
    world = build_world(make_runtime(plugins=("sales",)))
    for name, stage, amount in DEALS:
        world.runtime.records.create(SYSTEM, "opportunity", {"name": name, "account": world.accounts["alice"], "stage": stage,
                                                              "amount": amount, "close_date": "2026-03-01", "probability": 50})
    return world


@pytest.fixture
def server(world):
    with serving(world.runtime) as base:
        yield base


def redrawn(page, act) -> None:
    """Do something that redraws the builder, and wait for it to come back, as a person waits for it."""
    with page.expect_response(lambda r: r.url.endswith("/setup/reports/editor")):
        act()
    expect(page.locator("#report-form.htmx-request")).to_have_count(0)


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_an_administrator_builds_a_report_by_clicking(browser, server, world, lang):
    if lang == "zh-CN":
        root = world.users["root"]
        world.runtime.records.update(SYSTEM, "user", root, {"language": "zh_cn"},
                                     version=world.runtime.records.get(SYSTEM, "user", root)["version"])
    words = WORDS[lang]
    context = browser.new_context(base_url=server, viewport={"width": 1280, "height": 900}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(10_000)
    sign_in(page, "root")
    page.goto("/setup/reports")
    page.get_by_role("button", name=words["new"]).click()
    redrawn(page, lambda: page.locator("#object").select_option("opportunity"))
    expect(page.locator("#g0_field")).to_be_visible()  # the object chosen, the form offers its fields
    page.locator("#label_en").fill("Deals by stage")
    page.locator("#label_zh").fill("各阶段商机")
    page.locator("#name").fill(f"deals_by_stage_{lang.replace('-', '_').lower()}")
    redrawn(page, lambda: page.locator("#g0_field").select_option("stage"))
    redrawn(page, lambda: page.get_by_role("button", name=words["add"]).click())
    redrawn(page, lambda: page.locator("#m1_aggregate").select_option("sum"))
    expect(page.locator("#m1_field option[value=name]")).to_have_count(0)  # a sum offers numbers only
    redrawn(page, lambda: page.locator("#m1_field").select_option("amount"))
    expect(page.locator("#label_en")).to_have_value("Deals by stage")  # redrawing the form kept what was typed
    redrawn(page, lambda: page.get_by_role("button", name=words["preview"]).click())
    table = page.locator("#report-preview #report-table")
    expect(table).to_be_visible()
    expect(table.locator("tbody tr")).to_have_count(3)  # prospecting, qualification, closed won
    expect(table.locator("tfoot tr")).to_contain_text(words["total"])
    expect(table.locator("tfoot tr")).to_contain_text("403,750.00")
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        problems = violations(page) + sideways(page)
        assert problems == [], (width, problems)
        page.screenshot(path=f"/tmp/rbuild_{lang}_{width}.png", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.get_by_role("button", name=words["save"], exact=True).last.click()
    expect(page).to_have_url(re.compile(r"/reports/deals_by_stage_"))
    expect(page.locator("#report-table tbody tr")).to_have_count(3)
    expect(page.locator("#edit-report")).to_be_visible()
    context.close()
