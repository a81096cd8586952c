"""The formula editor in a real Chromium: an implementer types an expression with a typo and sees the problem marked at
its column, picks fields (following a lookup) and a function into the expression, previews it on a record, saves it, and
sees the value on the list; at desktop and phone widths, in English and Chinese."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from test_ui_browser import ARTIFACTS, serving, sign_in

from access_world import build_world
from core.records import Actor

SYSTEM = Actor.system()


@pytest.fixture
def world(make_runtime):
    world = build_world(make_runtime(plugins=("sales",)))
    account = world.runtime.records.update(SYSTEM, "account", world.accounts["alice"], {"industry": "energy"},
                                           version=world.runtime.records.get(SYSTEM, "account", world.accounts["alice"])["version"])
    world.deal = world.runtime.records.create(SYSTEM, "opportunity", {
        "name": "Press line", "account": account["id"], "amount": 5000, "probability": 40, "stage": "prospecting",
        "close_date": "2027-01-10"})
    return world


@pytest.fixture
def server(world):
    with serving(world.runtime) as base:
        yield base


@pytest.mark.parametrize("width, locale", [(1280, "en-US"), (390, "zh-CN")])
def test_an_implementer_builds_a_formula_field_with_the_editor(browser, server, world, request, width, locale):
    if locale == "zh-CN":  # the pages follow the user's language
        root = world.users["root"]
        world.runtime.records.update(SYSTEM, "user", root, {"language": "zh_cn"},
                                     version=world.runtime.records.get(SYSTEM, "user", root)["version"])
    context = browser.new_context(base_url=server, viewport={"width": width, "height": 900}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(10_000)
    sign_in(page, "root")
    page.goto("/setup/objects/opportunity/formulas/new")
    page.locator("#label_en").fill("Weighted")
    page.locator("#label_zh").fill("加权")
    page.locator("#formula-expression").fill("amount * probabilty")
    expect(page.locator(".formula-problems")).to_contain_text("“probabilty”不是" if locale == "zh-CN" else "'probabilty' is not")
    expect(page.locator(".formula-caret")).to_have_text("         ^")  # under column 10
    page.locator("#formula-expression").fill("amount * ")
    page.locator("#formula-field").select_option("probability")
    page.locator("[data-insert-from=formula-field]").click()
    page.locator("#formula-expression").press("End")
    page.keyboard.type(" / 100")
    expect(page.locator("#formula-expression")).to_have_value("amount * probability / 100")
    page.locator("#formula-result").select_option("currency")
    page.locator("#formula-record").select_option(str(world.deal["id"]))
    expect(page.locator(".formula-ok strong")).to_contain_text("2,000.00")
    page.locator("#formula-fields a", has_text="→").first.click()  # follow the account lookup
    expect(page.locator("#formula-field")).to_contain_text("account.industry")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"formula-editor-{width}-{locale}.png", full_page=True)
    page.locator("#formula-in-list").check()
    page.locator("#formula-form button[type=submit]").click()
    expect(page.locator(".formula-summary")).to_contain_text("amount * probability / 100")
    expect(page.locator("h1")).to_contain_text("加权" if locale == "zh-CN" else "Weighted")
    page.goto("/r/opportunity")
    expect(page.locator("main")).to_contain_text("2,000.00")
    context.close()
