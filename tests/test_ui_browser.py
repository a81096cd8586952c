"""The web UI in a real browser: Playwright driving Debian's Chromium against a real server.

The server is uvicorn on 127.0.0.1 serving the test's database (SQLite and PostgreSQL).
Screenshots of the main pages are saved under test-artifacts/ for people to look at.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Page, expect

from access_world import PASSWORD
from core.api.app import create_app
from core.auth import Accounts
from core.records import Actor

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run", "--disable-dev-shm-usage"]


# The ``browser`` fixture (one Chromium for the session) is in conftest.py, shared with test_ui_import_browser.py:
# Playwright's sync API allows one running instance per thread.


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def serving(runtime):
    """The application on a real port, in a thread of this process, over the test's database."""
    config = uvicorn.Config(create_app(runtime, run_jobs=True), host="127.0.0.1", port=free_port(), log_level="warning")
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not running.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert running.started, "the server did not start"
    try:
        yield f"http://127.0.0.1:{config.port}"
    finally:
        running.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def server(world):
    with serving(world.runtime) as base:
        yield base


@pytest.fixture
def page(browser, server, request):
    context = browser.new_context(base_url=server, viewport={"width": 1360, "height": 900}, locale="en-US")
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    yield tab
    context.close()


def sign_in(page: Page, username: str) -> None:
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/$"))


def shot(page: Page, name: str, request) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    database = request.node.callspec.params.get("database_url", "db")
    page.screenshot(path=ARTIFACTS / f"{name}-{database}.png", full_page=True)


def test_create_a_record_fix_a_mistake_and_find_it_in_the_list(page, request):
    sign_in(page, "alice")
    shot(page, "home", request)
    page.goto("/r/account")
    page.get_by_role("button", name="New").click()
    page.get_by_label("Account Name").fill("")
    page.get_by_label("Employees").fill("-3")
    page.get_by_label("Billing City").fill("Hangzhou")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#field-name-error")).to_be_visible()
    expect(page.get_by_label("Billing City")).to_have_value("Hangzhou")  # nothing typed is lost
    shot(page, "form-with-errors", request)
    page.get_by_label("Account Name").fill("West Lake Tea")
    page.get_by_label("Employees").fill("35")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="West Lake Tea")).to_be_visible()
    shot(page, "detail", request)
    page.goto("/r/account")
    page.get_by_label("Search", exact=True).fill("West Lake")
    expect(page.locator("#records")).to_contain_text("West Lake Tea")
    expect(page.locator("#records")).not_to_contain_text("Alice Industries")
    shot(page, "list-search", request)


def test_drag_a_card_to_another_column_and_move_one_with_the_keyboard(page, world, request):
    system = Actor.system()
    first = world.runtime.records.create(system, "activity", {"subject": "Prepare the demo", "activity_type": "task", "owner": world.users["alice"]})
    second = world.runtime.records.create(system, "activity", {"subject": "Book the room", "activity_type": "task", "owner": world.users["alice"]})
    sign_in(page, "alice")
    page.goto("/r/activity/kanban")
    page.locator(f"#card-{first['id']}").drag_to(page.locator(".column[data-value='in_progress']"))
    expect(page.locator(".column[data-value='in_progress']")).to_contain_text("Prepare the demo")
    assert world.runtime.records.get(system, "activity", first["id"])["status"] == "in_progress"
    expect(page.locator(".htmx-added, .htmx-settling, .htmx-swapping")).to_have_count(0)  # the new board is wired up
    menu = page.get_by_label("Move Book the room to")
    menu.focus()
    menu.select_option("done")
    expect(page.locator(".column[data-value='done']")).to_contain_text("Book the room")
    assert world.runtime.records.get(system, "activity", second["id"])["status"] == "done"
    shot(page, "board", request)


def test_switch_to_simplified_chinese(page, request):
    sign_in(page, "alice")
    page.locator(".user-menu > summary").click()  # the language is in the user's menu
    page.get_by_label("Language").select_option("zh-CN")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    page.goto("/r/account")
    expect(page.get_by_role("heading", name="客户")).to_be_visible()
    expect(page.get_by_role("button", name="新建")).to_be_visible()
    expect(page.locator("table.records thead")).to_contain_text("客户名称")
    shot(page, "list-zh-CN", request)


def test_a_sales_user_sees_neither_anothers_records_nor_a_hidden_field(page, world, request):
    sign_in(page, "alice")
    page.goto("/r/account")
    table = page.locator("table.records")
    expect(table).to_contain_text("Alice Industries")
    expect(table).not_to_contain_text("Bob Industries")
    expect(page.locator("body")).not_to_contain_text("Account Number")
    page.goto(f"/r/account/{world.accounts['bob']}")
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    page.goto(f"/r/account/{world.accounts['alice']}")
    expect(page.locator("main")).not_to_contain_text("SECRET")
    page.goto("/r/contact")
    page.get_by_role("button", name="New").click()
    page.get_by_role("searchbox", name="Account").fill("Industries")
    expect(page.locator(".lookup .options")).to_contain_text("Alice Industries")
    expect(page.locator(".lookup .options")).not_to_contain_text("Bob Industries")
    shot(page, "lookup-picker", request)


def test_a_lookup_is_picked_by_typing_and_saved(page, world):
    sign_in(page, "alice")
    page.goto("/r/contact/new")
    page.get_by_label("Last Name").fill("Xu")
    page.get_by_role("searchbox", name="Account").fill("Alice")
    page.locator(".lookup .options button", has_text="Alice Industries").click()
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#value-account").get_by_role("link", name="Alice Industries")).to_be_visible()  # also in the head


def test_forms_are_usable_with_the_keyboard(page):
    sign_in(page, "alice")
    page.goto("/r/account/new")
    page.get_by_label("Account Name").focus()
    page.keyboard.type("Keyboard Co")
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.type") == "submit":
            break
    assert page.evaluate("document.activeElement.textContent.trim()") == "Save"
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Keyboard Co")).to_be_visible()
    unlabeled = page.evaluate("""() => Array.from(document.querySelectorAll('input:not([type=hidden]), select, textarea'))
        .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')).map(el => el.name || el.id)""")
    assert unlabeled == []



def test_a_picklist_field_added_in_setup_shows_on_the_form_list_filters_and_api(page, server, request):
    sign_in(page, "root")
    page.get_by_role("link", name="Setup").click()
    page.locator(".setup-nav").get_by_role("link", name="Objects and fields").click()
    page.locator(".setup-main").get_by_role("link", name="Accounts", exact=True).click()
    form = page.locator("#new-field")
    form.get_by_label("Label (English)").fill("Customer Tier")
    form.get_by_label("Label (Simplified Chinese)").fill("客户等级")
    form.get_by_label("Type").select_option("picklist")
    form.get_by_label("Picklist values, one per line: English | Chinese").fill("Gold | 金牌\nSilver | 银牌")
    form.get_by_label("Show as a list column").check()
    form.get_by_role("button", name="Add field").click()
    expect(page.get_by_role("status")).to_contain_text("Field added.")
    page.get_by_label("Colour of gold").fill("#d4af37")
    page.get_by_label("silver is the default").check()
    page.get_by_role("button", name="Save values").click()
    expect(page.get_by_role("status")).to_contain_text("Picklist values saved.")
    shot(page, "setup-field", request)

    page.goto("/r/account/new")
    expect(page.get_by_label("Customer Tier")).to_have_value("silver")
    page.get_by_label("Account Name").fill("Golden Tea House")
    page.get_by_label("Customer Tier").select_option("gold")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="Golden Tea House")).to_be_visible()

    page.goto("/r/account")
    expect(page.locator("table.records thead")).to_contain_text("Customer Tier")
    page.locator("summary", has_text="Customer Tier").click()
    page.locator("#filters").get_by_label("Gold", exact=True).check()
    expect(page.locator("#records")).to_contain_text("Golden Tea House")
    shot(page, "list-with-new-field", request)

    answer = page.request.post(f"{server}/api/auth/token", data={"username": "root", "password": PASSWORD, "name": "browser test"})
    bearer = {"Authorization": f"Bearer {answer.json()['token']}"}
    found = page.request.get(f"{server}/api/records/account?customer_tier=gold", headers=bearer).json()["items"]
    assert [r["name"] for r in found] == ["Golden Tea House"]


def test_the_permission_matrix_is_edited_in_setup(page, request):
    sign_in(page, "root")
    page.goto("/setup/roles/rep?object=account")
    page.get_by_label("Accounts: read").select_option("team")
    page.get_by_label("Phone").select_option("hidden")
    page.get_by_role("button", name="Save permissions").click()
    expect(page.get_by_role("status")).to_contain_text("Permissions saved.")
    expect(page.get_by_label("Accounts: read")).to_have_value("team")
    shot(page, "setup-permissions", request)


UNLABELED = """() => Array.from(document.querySelectorAll('input:not([type=hidden]), select, textarea'))
    .filter(el => !el.hidden && !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                  && !el.getAttribute('aria-labelledby'))
    .map(el => el.name || el.id)"""


def test_every_input_of_the_main_pages_has_a_label(page, world):
    sign_in(page, "root")
    pages = ["/", "/r/account", "/r/account/new", f"/r/account/{world.accounts['alice']}", "/r/activity/kanban",
             "/setup/objects", "/setup/objects/account", "/setup/objects/account/fields/account_type",
             "/setup/objects/account/layouts?kind=list", "/setup/objects/account/layouts?kind=form",
             "/setup/objects/account/layouts?kind=kanban", "/setup/roles", "/setup/roles/rep?object=account",
             "/setup/users", "/setup/config"]
    unlabeled = {}
    for path in pages:
        page.goto(path)
        missing = page.evaluate(UNLABELED)
        if missing:
            unlabeled[path] = missing
    assert unlabeled == {}


@contextlib.contextmanager
def one_deal(browser, make_runtime, width: int):
    """The sales plugin, an admin (sally) signed in in a browser tab of ``width``, and one deal in prospecting."""
    runtime = make_runtime(plugins=("sales",))
    system = Actor.system()
    Accounts(runtime).add_user("sally", PASSWORD, "admin")
    account = runtime.records.create(system, "account", {"name": "Lotus Build"})
    deal = runtime.records.create(system, "opportunity", {"name": "Tower B fit-out", "account": account["id"], "stage": "prospecting",
                                                          "amount": 120000, "close_date": "2027-03-31"})
    with serving(runtime) as base:
        context = browser.new_context(base_url=base, viewport={"width": width, "height": 900}, locale="en-US")
        tab = context.new_page()
        tab.set_default_timeout(10_000)
        try:
            sign_in(tab, "sally")
            yield runtime, deal, tab
        finally:
            context.close()


def test_drag_a_deal_to_another_stage_and_the_column_sums_follow(browser, make_runtime, request):
    with one_deal(browser, make_runtime, 1600) as (runtime, deal, tab):
        tab.goto("/r/opportunity/kanban")
        target = tab.locator(".column[data-value='qualification']")
        tab.locator(f"#card-{deal['id']}").drag_to(target)
        expect(target).to_contain_text("Tower B fit-out")
        expect(target.locator("p.muted").first).to_contain_text("120,000")
        expect(tab.locator(".column[data-value='prospecting'] h2")).to_contain_text("0")
        assert runtime.records.get(Actor.system(), "opportunity", deal["id"])["stage"] == "qualification"
        shot(tab, "deal-board", request)


def test_delete_asks_first_and_a_no_keeps_the_record(page, world):
    sign_in(page, "root")
    account = world.accounts["alice"]
    page.goto(f"/r/account/{account}")
    asked: list[str] = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.get_by_role("button", name="Delete").click()
    expect(page).to_have_url(re.compile(rf"/r/account/{account}$"))
    assert asked == ["Delete this record?"]
    assert world.runtime.records.get(Actor.system(), "account", account)["id"] == account
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete").click()
    expect(page).to_have_url(re.compile(r"/r/account$"))


@pytest.mark.parametrize("target", ["/\\evil.example/", "/\\/evil.example/", "/\t/evil.example/", "//evil.example/", "https://evil.example/"])
def test_signing_in_never_leads_to_another_host(page, target):
    from urllib.parse import quote, urlsplit  # noqa: PLC0415

    page.goto("/login?next=" + quote(target, safe=""))
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    assert urlsplit(page.url).hostname == "127.0.0.1", page.url


def test_a_lookups_text_changed_without_choosing_saves_what_it_names_or_says_why(page, world):
    system = Actor.system()
    gamma = world.runtime.records.create(system, "account", {"name": "Gamma Works", "owner": world.users["alice"]})
    contact = world.runtime.records.list(system, "contact", {"last_name": "Contact of alice"}).items[0]
    sign_in(page, "alice")
    page.goto(f"/r/contact/{contact['id']}/edit")
    box = page.get_by_role("searchbox", name="Account")
    expect(box).to_have_value("Alice Industries")
    box.fill("Zzz")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#field-account-error")).to_have_text("no account called 'Zzz'")
    expect(page.get_by_role("searchbox", name="Account")).to_have_value("Zzz")
    assert world.runtime.records.get(system, "contact", contact["id"])["account"]["id"] == world.accounts["alice"]
    page.get_by_role("searchbox", name="Account").fill("gamma")  # typed, no suggestion chosen
    expect(page.locator(".lookup .options")).to_contain_text("Gamma Works")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#value-account").get_by_role("link", name="Gamma Works")).to_be_visible()
    assert world.runtime.records.get(system, "contact", contact["id"])["account"]["id"] == gamma["id"]


def test_a_field_added_in_setup_leaves_one_lifecycle_stage_menu_that_saves(browser, make_runtime):
    runtime = make_runtime(plugins=("sales",))
    system = Actor.system()
    Accounts(runtime).add_user("sally", PASSWORD, "admin")
    account = runtime.records.create(system, "account", {"name": "Lotus Build"})
    with serving(runtime) as base:
        context = browser.new_context(base_url=base, viewport={"width": 1360, "height": 900}, locale="en-US")
        tab = context.new_page()
        tab.set_default_timeout(10_000)
        try:
            sign_in(tab, "sally")
            tab.goto("/setup/objects/account")
            form = tab.locator("#new-field")
            form.get_by_label("Label (English)").fill("Visit Note")
            form.get_by_label("Type").select_option("text")
            form.get_by_role("button", name="Add field").click()
            expect(tab.get_by_role("status")).to_contain_text("Field added.")
            tab.goto(f"/r/account/{account['id']}/edit")
            expect(tab.get_by_label("Lifecycle Stage")).to_have_count(1)
            expect(tab.locator("legend", has_text="Sales relationship")).to_have_count(1)
            tab.get_by_label("Lifecycle Stage").select_option("customer")
            tab.get_by_label("Visit Note").fill("Met the CFO")
            tab.get_by_role("button", name="Save").click()
            expect(tab.get_by_role("heading", name="Lotus Build")).to_be_visible()
            stored = runtime.records.get(system, "account", account["id"])
            assert (stored["lifecycle_stage"], stored["visit_note"]) == ("customer", "Met the CFO")
        finally:
            context.close()


def test_saving_a_form_untouched_changes_nothing(page, world):
    """What the browser sends back (a textarea's line breaks as CRLF, empty inputs as "") is what the record holds."""
    records, system = world.runtime.records, Actor.system()
    account = records.create(system, "account", {"name": "Quiet Ltd", "description": "First line\nsecond line", "annual_revenue": "2500.50",
                                                 "employees": 0, "owner": world.users["mike"]})["id"]
    sign_in(page, "mike")
    page.goto(f"/r/account/{account}/edit")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("p.done")).to_have_text("Nothing to save: no value was changed.")
    assert records.get(system, "account", account)["version"] == 1
    assert records.history(system, "account", account) == []


def test_a_mass_update_asks_to_confirm_and_empties_a_field_only_when_told_to(page, world):
    records, system = world.runtime.records, Actor.system()
    mine = [world.accounts[n] for n in ("alice", "bob", "mike")]
    for account in mine:
        records.update(system, "account", account, {"phone": "+1 555 0100"}, version=1)
    phones = lambda: [records.get(system, "account", a)["phone"] for a in mine]  # noqa: E731
    sign_in(page, "mike")
    page.goto("/r/account")
    page.get_by_label("Select all on this page").check()
    page.get_by_label("Field to set").select_option("phone")
    expect(page.locator("#mass-value-input")).to_be_visible()  # the bar's input for the field, drawn by htmx
    page.get_by_role("button", name="Set on selected").click()
    expect(page.locator("#mass-value-input-error")).to_contain_text("no value given")
    assert phones() == ["+1 555 0100"] * 3
    page.get_by_label("Clear this field").check()
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Clear Phone on 3 accounts")
    assert phones() == ["+1 555 0100"] * 3
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator("p.outcome")).to_contain_text("3 changed.")
    assert phones() == [None, None, None]


def test_ctrl_k_focuses_the_search_box_and_the_keyboard_opens_a_suggestion(page, world, request):
    contact = world.runtime.records.create(Actor.system(), "contact", {"last_name": "诸葛亮", "first_name": "孔明", "owner": world.users["alice"]})
    sign_in(page, "alice")
    page.goto("/r/account")
    page.locator("main").click()
    page.keyboard.press("Control+K")
    box = page.get_by_role("combobox", name="Search every object")
    expect(box).to_be_focused()
    page.keyboard.type("诸葛")
    option = page.get_by_role("option", name=re.compile("诸葛亮"))
    expect(option).to_be_visible()
    expect(box).to_have_attribute("aria-expanded", "true")
    shot(page, "search-suggestions", request)
    page.keyboard.press("ArrowDown")
    expect(option).to_have_attribute("aria-selected", "true")
    expect(box).to_have_attribute("aria-activedescendant", f"search-option-contact-{contact['id']}")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/r/contact/{contact['id']}$"))
    expect(page.get_by_role("heading", name="诸葛亮")).to_be_visible()
    page.keyboard.press("Control+K")
    page.keyboard.type("孔明")
    expect(page.get_by_role("option", name=re.compile("诸葛亮"))).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("#top-search-results")).to_be_hidden()
    expect(box).to_have_attribute("aria-expanded", "false")
    page.keyboard.press("Enter")  # no suggestion chosen: the results page
    expect(page).to_have_url(re.compile(r"/search\?q=%E5%AD%94%E6%98%8E$"))
    expect(page.get_by_role("heading", name="Contacts")).to_be_visible()


# --- the record page a rep works on -----------------------------------------------------------

RECORD_PAGE_WORDS = {
    "en": {"log": "Log a call", "save": "Save", "call": "Call"},
    "zh-CN": {"log": "记录电话", "save": "保存", "call": "电话"},
}


def _in_language(page: Page, world, username: str, lang: str) -> None:
    if lang != "en":
        Accounts(world.runtime).set_language(world.users[username], "zh_cn")
    sign_in(page, username)
    expect(page.locator("html")).to_have_attribute("lang", lang)


def _field_label(world, object_name: str, field_name: str, lang: str) -> str:
    return world.runtime.current_metadata().object(object_name).fields[field_name].label(lang)


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_a_rep_logs_a_call_from_an_account_and_sees_it_on_the_timeline(page, world, request, lang):
    words = RECORD_PAGE_WORDS[lang]
    account = world.accounts["alice"]
    _in_language(page, world, "alice", lang)
    page.goto(f"/r/account/{account}")
    page.evaluate("window.stillTheSamePage = true")
    composer = page.locator("#composer")
    composer.get_by_role("button", name=words["log"]).click()
    subject = composer.get_by_label(_field_label(world, "activity", "subject", lang))
    expect(subject).to_be_focused()
    subject.fill("Asked about the spring order")
    composer.get_by_label(_field_label(world, "activity", "description", lang)).fill("Wants 40 units before March")
    shot(page, f"record-composer-{lang}", request)
    composer.get_by_role("button", name=words["save"]).click()
    timeline = page.locator("#timeline")
    expect(timeline).to_contain_text("Asked about the spring order")
    expect(timeline.locator(".entry-call").first).to_contain_text(words["call"])
    expect(composer.locator("[role=status]")).to_contain_text("Asked about the spring order")
    assert page.evaluate("window.stillTheSamePage") is True  # no page load: the timeline was swapped in place
    [call] = world.runtime.records.list(Actor.system(), "activity", {"related_object": "account", "related_id": account}).items
    assert (call["activity_type"], call["description"]) == ("call", "Wants 40 units before March")
    shot(page, f"record-timeline-{lang}", request)
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # nothing scrolls sideways on a phone
    shot(page, f"record-phone-{lang}", request)


def expect_focused(page, locator) -> None:
    """The locator has the keyboard; if not, the failure says what has it instead."""
    try:
        expect(locator).to_be_focused()
    except AssertionError as failure:
        holder = page.evaluate("[document.hasFocus(), document.activeElement ? document.activeElement.outerHTML.slice(0, 200) : null]")
        raise AssertionError(f"{failure}\nthe page has focus: {holder[0]}; the focus is on: {holder[1]}") from None


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_a_field_changed_in_place_on_a_stale_version_shows_the_conflict(page, world, request, lang):
    account = world.accounts["alice"]
    phone = _field_label(world, "account", "phone", lang)
    _in_language(page, world, "alice", lang)
    page.goto(f"/r/account/{account}")
    world.runtime.records.update(world.actor("mike"), "account", account, {"phone": "+86 10 1234"}, version=1)  # meanwhile
    pencil = page.get_by_role("link", name={"en": f"Change {phone}", "zh-CN": f"修改{phone}"}[lang])
    pencil.focus()
    page.keyboard.press("Enter")
    field = page.locator("#inline-phone")
    expect(field).to_be_focused()
    field.fill("+86 571 8888")
    page.locator("#value-phone").get_by_role("button", name=RECORD_PAGE_WORDS[lang]["save"]).click()
    conflict = page.locator("#inline-phone-conflict")
    expect(conflict).to_be_visible()
    expect(conflict).to_contain_text("+86 10 1234")
    expect(field).to_have_value("+86 571 8888")  # what was typed is kept
    assert world.runtime.records.get(Actor.system(), "account", account)["phone"] == "+86 10 1234"
    shot(page, f"record-inline-conflict-{lang}", request)
    field.press("Escape")
    expect(page.locator("#value-phone")).to_contain_text("+86 10 1234")
    expect(page.locator("#inline-phone")).to_have_count(0)
    expect_focused(page, pencil)  # Escape leaves the keyboard where it was
    page.keyboard.press("Enter")
    expect(field).to_have_value("+86 10 1234")
    field.fill("+86 571 8888")
    field.press("Enter")
    expect(page.locator("#value-phone")).to_contain_text("+86 571 8888")
    expect_focused(page, pencil)
    assert world.runtime.records.get(Actor.system(), "account", account)["phone"] == "+86 571 8888"


def test_a_deal_moves_along_its_path_in_place(browser, make_runtime, request):
    with one_deal(browser, make_runtime, 1280) as (runtime, deal, tab):
        tab.goto(f"/r/opportunity/{deal['id']}")
        tab.locator(".path").get_by_role("button", name="Proposal").click()
        expect(tab.locator(".path [aria-current=step]")).to_have_text("Proposal")
        expect(tab.locator("#timeline")).to_contain_text("Proposal")  # the change is on the timeline at once
        assert runtime.records.get(Actor.system(), "opportunity", deal["id"])["stage"] == "proposal"
        shot(tab, "deal-path", request)
        tab.set_viewport_size({"width": 390, "height": 844})
        assert tab.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        shot(tab, "deal-path-phone", request)
