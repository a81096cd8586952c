"""axe-core (vendored from npm: tests/vendor/axe-core-4.14.1.min.js) checks the main pages in a real Chromium, in
English and in Chinese, at desktop and phone width, the notification bell's panel open too: no serious or critical
violation of WCAG 2 A/AA, no heading, label or button squeezed to a character per line, and no page wider than the
window."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from access_world import PASSWORD
from core import notifications, queue
from core.coretables import job as job_table
from core.db import read_transaction, write_transaction
from core.records import Actor
from test_ui_browser import server  # noqa: F401 - the browser tests' server fixture
from test_ui_lists_browser import too_wide

AXE = (Path(__file__).resolve().parent / "vendor" / "axe-core-4.14.1.min.js").read_text(encoding="utf-8")
SERIOUS = ("serious", "critical")


def violations(tab) -> list[str]:
    """What axe finds on the page as it is now: serious and critical violations, each with where it is."""
    tab.evaluate(AXE)  # evaluated through the debugging protocol: the page's Content-Security-Policy does not apply
    found = tab.evaluate("""async () => {
        const result = await axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}});
        return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                            nodes: v.nodes.slice(0, 3).map(n => n.target.join(" "))}));
    }""")
    return [f"{v['id']} ({v['impact']}): {v['help']} at {v['nodes']}" for v in found if v["impact"] in SERIOUS]


def sideways(tab) -> list[str]:
    """The page scrolls sideways (a phone user would have to pan to read it)."""
    wide = tab.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    return [f"scrolls sideways by {wide}px: {too_wide(tab)}"] if wide > 0 else []


def squeezed(tab) -> list[str]:
    """Headings, labels and buttons drawn a character or so per line (a column too narrow for its words)."""
    return tab.evaluate("""() => Array.from(document.querySelectorAll(
            'h1, h2, h3, h4, h5, h6, th, legend, label, dt, summary, button, [role=button], .badge, nav a')).filter(e => {
        const chars = (e.innerText || '').replace(/\\s+/g, '').length;
        if (chars < 2 || e.getClientRects().length === 0) return false;
        const tops = new Set(), walker = document.createTreeWalker(e, NodeFilter.SHOW_TEXT);
        for (let text = walker.nextNode(); text; text = walker.nextNode()) {
            const range = document.createRange();
            range.selectNodeContents(text);
            Array.from(range.getClientRects()).filter(r => r.width > 0).forEach(r => tops.add(Math.round(r.top)));
        }
        const lines = tops.size;
        return lines >= 2 && chars / lines < 1.5;
    }).slice(0, 8).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + ' "' + e.innerText.trim().slice(0, 30) + '"')""")


def _state(world, job_id: int) -> str:
    with read_transaction(world.runtime.engine) as conn:
        return conn.execute(sa.select(job_table.c.state).where(job_table.c.id == job_id)).scalar_one()


@pytest.mark.parametrize("lang,width", [("en-US", 1360), ("zh-CN", 1360), ("en-US", 390), ("zh-CN", 390)])
def test_the_main_pages_have_no_serious_accessibility_violation_nor_squeezed_words(browser, server, world, lang, width):  # noqa: F811
    system = Actor.system()
    account = world.accounts["alice"]
    world.runtime.records.create(system, "activity", {"subject": "Call back", "activity_type": "call", "owner": world.users["mike"],
                                                      "assigned_to": world.users["mike"], "due_date": "2026-01-05"})
    with write_transaction(world.runtime.engine) as conn:  # the jobs page with a job that failed for good
        dead = queue.enqueue(conn, "mail.send", {"to": "wang@example.com"}, max_attempts=1)
    for job in queue.claim(world.runtime.engine, "a11y"):  # unless the server's own worker took it first (and failed it)
        queue.fail(world.runtime.engine, job, "a11y", "SMTPRecipientsRefused: 550 mailbox unavailable")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _state(world, dead) != "dead":
        time.sleep(0.05)
    assert _state(world, dead) == "dead"
    world.runtime.records.create(world.actor("alice"), "activity", {  # a mention for the bell, its panel and its page
        "subject": "Pricing question", "activity_type": "note", "related_object": "account", "related_id": account,
        "description": "@root can we give 10% off?"})
    with write_transaction(world.runtime.engine) as conn:
        notifications.notify(conn, [world.users["root"]], "reminder", text="Task due today: send the revised quote")
    context = browser.new_context(base_url=server, viewport={"width": width, "height": 900}, locale=lang)
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    try:
        tab.goto("/login")  # in the browser's language: the user has chosen none
        tab.locator("#username").fill("root")
        tab.locator("#password").fill(PASSWORD)
        tab.locator("form button[type=submit]").click()
        tab.wait_for_url("**/")
        pages = ["/", "/r/account", "/r/account?q=Industries&account_type__in=customer", f"/r/account/{account}",
                 f"/r/account/{account}/edit", "/r/account/new", "/r/activity/kanban", "/search?q=Alice", "/profile",
                 "/setup/navigation", "/setup/objects/account", "/setup/jobs", "/notifications"]
        problems = {}
        for path in pages:
            tab.goto(path)
            tab.wait_for_load_state("load")
            found = violations(tab) + squeezed(tab) + sideways(tab)
            if found:
                problems[path] = found
        tab.goto("/")  # the bell's panel, open
        tab.locator("#notifications > summary").click()
        tab.wait_for_selector("#notif-panel .notif-list")
        found = violations(tab) + squeezed(tab) + sideways(tab)
        if found:
            problems["the bell's panel"] = found
        assert problems == {}
    finally:
        context.close()
