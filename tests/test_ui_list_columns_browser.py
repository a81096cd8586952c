"""A list's columns chosen and ordered with the keyboard, kept in a saved view, and a cell changed in place
(with a stale version too), in a real browser, in English and in Chinese."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from core.records import Actor
from test_ui_browser import _field_label, _in_language, page, server, shot, sign_in  # noqa: F401 - fixtures of the browser tests

SYSTEM = Actor.system()
WORDS = {
    "en": {"choose": "Choose columns", "show": "Show columns", "up": "Move {column} up", "save_view": "Save this view",
           "view_name": "View name", "save": "Save view", "cell_save": "Save", "change": "Change {field} of {title}"},
    "zh-CN": {"choose": "选择显示列", "show": "显示所选列", "up": "将{column}上移", "save_view": "保存此视图",
              "view_name": "视图名称", "save": "保存视图", "cell_save": "保存", "change": "修改{title}的{field}"},
}


def _headers(tab) -> list[str]:
    return [t.strip(" ▲▼") for t in tab.locator("table.records thead th:not(:has(input))").all_inner_texts()]


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_choose_and_order_columns_with_the_keyboard_save_the_view_and_reopen_it(page, world, request, lang):  # noqa: F811
    words = WORDS[lang]
    label = {name: _field_label(world, "account", name, lang) for name in ("name", "phone", "industry", "billing_city", "account_type")}
    _in_language(page, world, "mike", lang)
    page.goto("/r/account")
    chooser = page.locator("details.choose-columns")
    chooser.locator("summary").focus()
    page.keyboard.press("Enter")
    for name in ("industry", "account_type", "billing_city"):  # shown now: hide them
        chooser.locator(f"#column-{name}").uncheck()
    phone_up = chooser.get_by_role("button", name=words["up"].format(column=label["phone"]))
    for _ in range(4):  # the list shows name, account_number, account_type, industry, phone, …: phone goes first
        phone_up.focus()
        page.keyboard.press("Enter")
    expect(phone_up).to_be_focused()
    shot(page, f"list-columns-chooser-{lang}", request)
    chooser.get_by_role("button", name=words["show"]).click()
    expect(page.locator("table.records thead")).not_to_contain_text(label["industry"])  # the new table is in
    headers = _headers(page)
    assert headers.index(label["phone"]) < headers.index(label["name"]) and label["industry"] not in headers
    assert "columns=" in page.url
    page.locator("details.save-view summary").click()
    page.get_by_label(words["view_name"]).fill("Phones first")
    page.get_by_role("button", name=words["save"]).click()
    page.goto("/r/account")
    assert label["industry"] in _headers(page)
    page.get_by_role("link", name="Phones first").click()
    expect(page.locator("table.records thead")).not_to_contain_text(label["industry"])
    assert _headers(page) == headers
    page.set_viewport_size({"width": 390, "height": 844})
    page.locator("details.choose-columns summary").click()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # nothing scrolls sideways on a phone
    sizes = page.locator("details.choose-columns button, details.choose-columns summary").evaluate_all(
        "els => els.filter(e => e.offsetParent).map(e => [e.getBoundingClientRect().width, e.getBoundingClientRect().height])")
    assert sizes and all(w >= 44 and h >= 44 for w, h in sizes), sizes
    shot(page, f"list-columns-phone-{lang}", request)


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_a_cell_changed_in_place_and_a_stale_one_shows_the_conflict(page, world, request, lang):  # noqa: F811
    words = WORDS[lang]
    account = world.accounts["alice"]
    phone = _field_label(world, "account", "phone", lang)
    _in_language(page, world, "mike", lang)
    page.goto("/r/account?columns=name,phone")
    pencil = page.get_by_role("link", name=words["change"].format(field=phone, title="Alice Industries"))
    pencil.focus()
    page.keyboard.press("Enter")
    field = page.locator(f"#inline-{account}-phone")
    expect(field).to_be_focused()
    field.fill("+1 555 0100")
    field.press("Enter")
    cell = page.locator(f"#cell-{account}-phone")
    expect(cell).to_contain_text("+1 555 0100")
    expect(pencil).to_be_focused()
    assert world.runtime.records.get(SYSTEM, "account", account)["phone"] == "+1 555 0100"

    cell.locator("[data-cell-value]").dblclick()  # a second change in the same row: the row holds the new version
    expect(field).to_be_focused()
    field.fill("+1 555 0111")
    field.press("Enter")
    expect(cell).to_contain_text("+1 555 0111")
    expect(pencil).to_be_focused()

    pencil.focus()
    page.keyboard.press("Enter")
    expect(field).to_be_focused()
    field.press("Escape")
    expect(field).to_have_count(0)
    expect(pencil).to_be_focused()

    current = world.runtime.records.get(SYSTEM, "account", account)
    world.runtime.records.update(SYSTEM, "account", account, {"phone": "+86 10 1234"}, version=current["version"])  # meanwhile
    pencil.click()
    field.fill("+86 571 8888")
    cell.get_by_role("button", name=words["cell_save"]).click()
    conflict = page.locator(f"#inline-{account}-phone-conflict")
    expect(conflict).to_be_visible()
    expect(conflict).to_contain_text("+86 10 1234")
    expect(field).to_have_value("+86 571 8888")  # what was typed is kept
    assert world.runtime.records.get(SYSTEM, "account", account)["phone"] == "+86 10 1234"
    shot(page, f"list-cell-conflict-{lang}", request)
    field.press("Enter")  # saving again puts the value over theirs
    expect(cell).to_contain_text("+86 571 8888")
    assert world.runtime.records.get(SYSTEM, "account", account)["phone"] == "+86 571 8888"
    page.set_viewport_size({"width": 390, "height": 844})
    pencil.click()
    expect(field).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(page, f"list-cell-phone-{lang}", request)
