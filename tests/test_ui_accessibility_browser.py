"""axe-core (vendored from npm: tests/vendor/axe-core-4.14.1.min.js) checks the main pages in a real Chromium, in
English and in Chinese, at desktop and phone width: no serious or critical violation of WCAG 2 A/AA."""

from __future__ import annotations

from pathlib import Path

import pytest

from access_world import PASSWORD
from core.records import Actor
from test_ui_browser import server  # noqa: F401 - the browser tests' server fixture

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


@pytest.mark.parametrize("lang,width", [("en-US", 1360), ("zh-CN", 1360), ("en-US", 390)])
def test_the_main_pages_have_no_serious_accessibility_violation(browser, server, world, lang, width):  # noqa: F811
    system = Actor.system()
    account = world.accounts["alice"]
    world.runtime.records.create(system, "activity", {"subject": "Call back", "activity_type": "call", "owner": world.users["mike"],
                                                      "assigned_to": world.users["mike"], "due_date": "2026-01-05"})
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
                 "/setup/navigation", "/setup/objects/account"]
        problems = {}
        for path in pages:
            tab.goto(path)
            tab.wait_for_load_state("load")
            found = violations(tab)
            if found:
                problems[path] = found
        assert problems == {}
    finally:
        context.close()
