"""Approvals in a real Chromium: a rep submits a discounted quote from its page, which then says why it cannot be
edited; the sales manager follows the bell's notification to the quote and approves it with a comment, which the
timeline shows. Screenshots at desktop (1280) and phone (390) widths, in English and Chinese."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from test_ui_browser import ARTIFACTS, serving, sign_in

from access_world import PASSWORD, build_world
from core.auth import Accounts
from core.records import Actor

SYSTEM = Actor.system()


@pytest.fixture
def world(make_runtime):
    world = build_world(make_runtime(plugins=("sales",)))
    accounts = Accounts(world.runtime)
    for name, permission_set, language in (("sam", "sales_rep", None), ("lin", "sales_manager", "zh_cn")):
        user, _teams = accounts.add_user(name, PASSWORD, permission_set, ["East"], full_name=name.title())
        world.users[name] = user["id"]
        if language:
            version = world.runtime.records.get(SYSTEM, "user", user["id"])["version"]
            world.runtime.records.update(SYSTEM, "user", user["id"], {"language": language}, version=version)
    return world


@pytest.fixture
def server(world):
    with serving(world.runtime) as base:
        yield base


def tab(browser, server, width: int):
    context = browser.new_context(base_url=server, viewport={"width": width, "height": 900}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(10_000)
    return context, page


def shot(page, name: str, request) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    database = request.node.callspec.params.get("database_url", "db")
    page.screenshot(path=ARTIFACTS / f"approval-{name}-{database}.png", full_page=True)


def test_a_rep_submits_a_quote_and_the_manager_approves_it_from_the_bell(browser, server, world, request):
    deal = world.runtime.records.create(SYSTEM, "opportunity", {
        "name": "Plant upgrade", "account": world.accounts["alice"], "close_date": "2026-12-31", "stage": "proposal",
        "owner": world.users["sam"]})
    quote = world.runtime.records.create(SYSTEM, "quote", {"name": "Plant upgrade offer", "opportunity": deal["id"],
                                                           "discount_percent": 25, "owner": world.users["sam"]})
    context, page = tab(browser, server, 1280)
    sign_in(page, "sam")
    page.goto(f"/r/quote/{quote['id']}")
    panel = page.locator("#approval")
    expect(panel.get_by_role("heading", name="Approval")).to_be_visible()
    shot(page, "submit-desktop", request)
    panel.get_by_label("Comment").fill("Strategic customer: the discount wins the framework deal.")
    panel.get_by_role("button", name="Submit for approval").click()
    expect(page.locator(".done")).to_have_text("Submitted for approval.")
    expect(page.locator("#record-locked")).to_contain_text("This record awaits approval in Quote discount approval since")
    expect(page.get_by_role("link", name="Edit")).to_have_count(0)
    expect(panel.locator(".badge").first).to_have_text("Awaiting approval")
    expect(panel.locator(".approvers")).to_contain_text("Lin")
    expect(panel.get_by_role("button", name="Approve")).to_have_count(0)  # not the submitter's to decide
    expect(panel.get_by_role("button", name="Recall")).to_be_visible()
    shot(page, "pending-desktop", request)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"/r/quote/{quote['id']}")  # drawn afresh at a phone's width
    expect(page.locator("#approval .badge").first).to_have_text("Awaiting approval")
    shot(page, "pending-phone", request)
    context.close()

    context, page = tab(browser, server, 390)
    sign_in(page, "lin")  # reads Chinese
    page.goto("/")
    page.locator("#notifications > summary").click()
    page.locator("#notif-panel").get_by_role("link", name=re.compile("Sam 请你审批")).click()
    expect(page).to_have_url(re.compile(rf"/r/quote/{quote['id']}$"))
    panel = page.locator("#approval")
    expect(panel.locator(".badge").first).to_have_text("待审批")
    shot(page, "decide-phone-zh", request)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"/r/quote/{quote['id']}")
    shot(page, "decide-desktop-zh", request)
    panel.get_by_label("意见").fill("同意，仅此一次。")
    panel.get_by_role("button", name="批准").click()
    expect(page.locator(".done")).to_have_text("你已批准。")
    expect(page.locator("#approval .badge").first).to_have_text("已批准")
    expect(page.locator("#record-locked")).to_have_count(0)
    expect(page.locator("#timeline")).to_contain_text("同意，仅此一次。")
    shot(page, "approved-desktop-zh", request)
    context.close()
    assert world.runtime.records.get(SYSTEM, "quote", quote["id"])["status"] == "approved"
