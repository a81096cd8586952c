"""The bell in a real Chromium: its badge counts the unread notifications, its panel opens with the latest ones,
"Mark all read" there hides the badge without reloading the page, and a notification's link opens its record."""

from __future__ import annotations

import re

from playwright.sync_api import expect
from test_ui_browser import page, server, sign_in

from core import notifications
from core.db import write_transaction


def test_the_bell_opens_its_panel_marks_all_read_and_leads_to_the_record(page, world):
    account = world.accounts["alice"]
    with write_transaction(world.runtime.engine) as conn:
        notifications.notify(conn, [world.users["alice"]], "reminder", text="Call Alice Industries back today", object="account",
                             record_id=account)
        notifications.notify(conn, [world.users["alice"]], "rule", text="A rule moved your deal")
    sign_in(page, "alice")
    badge = page.locator("#notif-count .count-badge")
    expect(badge).to_have_text("2")
    page.locator("#notifications > summary").click()
    panel = page.locator("#notif-panel")
    expect(panel.locator(".notif-item")).to_have_count(2)
    expect(panel.locator(".notif-item.unread")).to_have_count(2)
    panel.get_by_role("button", name="Mark all read").click()
    expect(panel.locator(".notif-item.unread")).to_have_count(0)
    expect(badge).to_have_count(0)  # hidden at zero, without a reload
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    page.locator("#notifications > summary").click()
    panel.get_by_role("link", name="Call Alice Industries back today").click()
    expect(page).to_have_url(re.compile(rf"/r/account/{account}$"))


def test_typing_at_offers_people_and_enter_puts_the_login_in_the_note(page, world):  # noqa: F811
    sign_in(page, "root")
    page.goto(f"/r/account/{world.accounts['alice']}?compose=note#composer")
    text = page.locator("#compose-description")
    text.click()
    text.press_sequentially("Please check, @ali")
    offered = page.locator("[data-mention-options] [role=option]")
    expect(offered).to_have_count(1)
    expect(offered.first).to_contain_text("Alice")
    text.press("ArrowDown")
    expect(offered.first).to_have_attribute("aria-selected", "true")
    text.press("Enter")
    expect(text).to_have_value("Please check, @alice ")
    expect(page.locator("[data-mention-options]")).to_be_hidden()
