"""Lists and the board in a real browser: the action bar follows the selection, the count arrives after
the page, filters become chips, and on a phone rows are cards and nothing scrolls sideways."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from core.records import Actor
from test_ui_browser import page, server, shot, sign_in  # noqa: F401 - fixtures of the browser tests

SYSTEM = Actor.system()


def test_the_action_bar_appears_with_a_selection_and_counts_it(page, world, request):  # noqa: F811
    for i in range(3):
        world.runtime.records.create(SYSTEM, "account", {"name": f"Selectable {i}", "owner": world.users["mike"]})
    sign_in(page, "mike")
    page.goto("/r/account")
    expect(page.locator("#match-count")).to_have_text("6 accounts match")
    bar = page.locator("[data-mass-bar]")
    expect(bar).to_be_hidden()
    page.get_by_label("Select Selectable 0").check()
    expect(bar).to_be_visible()
    expect(bar.locator("legend")).to_contain_text("(1 selected)")
    page.get_by_label("Select Selectable 1").check()
    expect(bar.locator("legend")).to_contain_text("(2 selected)")
    page.get_by_label("Select Selectable 0").uncheck()
    page.get_by_label("Select Selectable 1").uncheck()
    expect(bar).to_be_hidden()
    page.get_by_label("Select all on this page").check()
    expect(bar.locator("legend")).to_contain_text("(6 selected)")
    shot(page, "list-selection", request)


def test_filters_become_chips_and_a_chip_removes_its_filter(page, world):  # noqa: F811
    sign_in(page, "mike")
    page.goto("/r/account?q=Alice")
    chips = page.locator("ul.chips")
    expect(chips).to_contain_text("Search: “Alice”")
    expect(page.locator("#match-count")).to_have_text("1 account match")
    chips.get_by_role("link", name="Remove the filter: Search: “Alice”").click()
    expect(page.locator("ul.chips")).to_have_count(0)
    expect(page.locator("#match-count")).not_to_have_text("1 account match")
    assert "q=" not in page.url


@pytest.mark.parametrize("lang", ["en-US", "zh-CN"])
def test_on_a_phone_lists_are_cards_and_no_page_scrolls_sideways(browser, server, world, request, lang):  # noqa: F811
    context = browser.new_context(base_url=server, viewport={"width": 390, "height": 844}, locale=lang, has_touch=True, is_mobile=True)
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    try:
        sign_in(tab, "mike") if lang == "en-US" else _sign_in_chinese(tab)
        for path in ("/r/account", "/r/contact", "/r/account?q=Industries", "/r/activity/kanban"):
            tab.goto(path)
            tab.wait_for_load_state("load")
            wide = tab.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert wide <= 0, f"{path} scrolls sideways by {wide}px at 390px ({lang}): {too_wide(tab)}"
        tab.goto("/r/account")
        header = tab.locator("table.records thead")
        expect(header).to_be_hidden()  # each row is a card, its values labelled
        shot(tab, f"list-phone-{lang}", request)
    finally:
        context.close()


def _sign_in_chinese(tab) -> None:
    tab.goto("/login")
    tab.locator("#username").fill("mike")
    tab.locator("#password").fill("correct horse battery")
    tab.locator("form button[type=submit]").click()
    tab.wait_for_url("**/")


def too_wide(tab) -> list[str]:
    """The innermost elements that reach past the window's right edge, to say what to fix."""
    return tab.evaluate("""() => Array.from(document.querySelectorAll('body *')).filter(e => {
        const r = e.getBoundingClientRect();
        return r.right > document.documentElement.clientWidth + 1 && r.width > 0 &&
               !Array.from(e.children).some(c => c.getBoundingClientRect().right > document.documentElement.clientWidth + 1);
    }).slice(0, 8).map(e => (e.parentElement ? e.parentElement.tagName.toLowerCase() + '.' + String(e.parentElement.className) + ' > ' : '') + e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className ? '.' + String(e.className).replace(/ /g, '.') : '')
                              + ' ' + Math.round(e.getBoundingClientRect().right))""")
