"""Text that breaks out of HTML, attributes and script blocks runs nothing, on any page, in either language.

Every label an implementer, a changeset or a plugin can set (object, field, picklist value,
layout section and tab, permission set) and the values of records carry markup and
script-breaking text. An admin then walks every page of the web UI and the API
documentation page (/schema) in a real Chromium, in English and in Simplified Chinese,
with the four plugins installed. Playwright listens for dialogs (what an injected alert()
would open) and console errors (what the Content-Security-Policy reports when it blocks an
injected script or style): both must stay silent.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import pytest

from access_world import PASSWORD
from core.auth import Accounts
from core.records import Actor
from test_ui_browser import serving

PLUGINS = ("sales", "marketing", "service", "manufacturing_bom")
HOSTILE = "\"'><script>alert(1)</script><img src=x onerror=alert(2)></textarea>"
HOSTILE_ZH = "客户" + HOSTILE.replace("alert(", "alert(10")
MAX_PAGES = 80  # distinct page kinds per language
HOSTILE_OBJECTS = {"probe", "account", "contact", "activity", "user", "team", "role"}  # walked object by object


def hostile(tag: str) -> dict:
    return {"en": f"{tag}{HOSTILE}", "zh-CN": f"{tag}{HOSTILE_ZH}"}


def hostile_changeset() -> dict:
    choice = {"name": "probe_choice", "type": "picklist", "label": hostile("Choice"),
              "values": [{"value": "a", "label": hostile("A")}, {"value": "b", "label": hostile("B")}]}
    return {
        "format": "tessera-changeset/1",
        "objects": [{
            "name": "probe", "label": hostile("Probe"), "plural_label": hostile("Probes"), "title_field": "title",
            "fields": [
                {"name": "title", "type": "text", "label": hostile("Title"), "help": hostile("Help"), "searchable": True},
                {**choice, "default": "a"},
                {"name": "customer", "type": "lookup", "target": "account", "label": hostile("Customer")},
                {"name": "notes", "type": "long_text", "label": hostile("Notes")},
            ],
        }],
        "extensions": [{"object": "account", "fields": [
            {"name": "probe_note", "type": "text", "label": hostile("Note"), "help": hostile("Help")}, choice]}],
        "layouts": [
            {"object": "probe", "kind": "list", "columns": ["title", "probe_choice", "customer"], "sort": "title"},
            {"object": "probe", "kind": "detail", "sections": [
                {"label": hostile("Section"), "tab": hostile("Tab"), "columns": 2, "fields": ["title", "probe_choice", "customer"]},
                {"label": hostile("Other"), "fields": ["notes"]}]},
        ],
        "permission_sets": [{"name": "probe_role", "label": hostile("Role"), "objects": {"probe": {"read": "all"}}}],
    }


@pytest.fixture
def hostile_world(make_runtime):
    runtime = make_runtime(plugins=PLUGINS)
    runtime.import_changeset(hostile_changeset(), "test", "test")
    system = Actor.system()
    accounts = Accounts(runtime)
    admin, _ = accounts.add_user("root", PASSWORD, "admin", ["Team" + HOSTILE], full_name="Root" + HOSTILE)
    accounts.add_user("probe_user", PASSWORD, "probe_role", full_name="Probe" + HOSTILE)
    account = runtime.records.create(system, "account", {"name": "Acme" + HOSTILE, "probe_note": HOSTILE, "probe_choice": "b",
                                                         "owner": admin["id"]})
    runtime.records.create(system, "contact", {"last_name": "Li" + HOSTILE, "first_name": HOSTILE, "account": account["id"]})
    runtime.records.create(system, "probe", {"title": "Probe" + HOSTILE, "customer": account["id"], "notes": HOSTILE})
    runtime.records.create(system, "activity", {"subject": "Call" + HOSTILE, "activity_type": "task", "owner": admin["id"]})
    runtime.records.update(system, "account", account["id"], {"probe_note": "second " + HOSTILE}, version=account["version"])  # a history row too
    return runtime


def shape(path: str, objects: set[str]) -> str:
    """A page kind: the same page of another record, of another object without hostile labels, or with
    other query values is not walked again."""
    parts = urlsplit(path)
    segments = ["N" if s.isdigit() else "*" if s in objects and s not in HOSTILE_OBJECTS else s for s in parts.path.split("/")]
    return "/".join(segments) + ("?" + ",".join(sorted(k.split("=")[0] for k in parts.query.split("&"))) if parts.query else "")


def walk(page, base: str, objects: set[str]) -> tuple[list[str], list[str]]:
    noticed: list[str] = []
    page.on("dialog", lambda dialog: (noticed.append(f"{page.url}: dialog {dialog.message!r}"), dialog.dismiss()))
    page.on("console", lambda message: noticed.append(f"{page.url}: console {message.text}") if message.type == "error" else None)
    page.on("pageerror", lambda error: noticed.append(f"{page.url}: script error {error}"))
    visited, shapes, queue = [], set(), ["/", "/schema", "/setup", "/import"]
    while queue and len(visited) < MAX_PAGES:
        path = queue.pop(0)
        if shape(path, objects) in shapes:
            continue
        shapes.add(shape(path, objects))
        response = page.goto(path)  # waits for the load event: the page's own scripts have run
        if path == "/schema":
            page.wait_for_load_state("networkidle")  # Swagger UI fetches the document, then draws it
        assert response is not None and response.status < 500, f"{path}: {response and response.status}"
        visited.append(path)
        for href in page.eval_on_selector_all("a[href]", "links => links.map(a => a.getAttribute('href'))"):
            target = urlsplit(urljoin(base + path, href))
            local = target.path + (f"?{target.query}" if target.query else "")
            if target.netloc == urlsplit(base).netloc and not re.search(r"/(logout|delete|export)\b|^/api/", local):
                queue.append(local)
    return visited, noticed


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_no_page_runs_script_from_labels_or_records(browser, hostile_world, language):
    with serving(hostile_world) as base:
        context = browser.new_context(base_url=base, viewport={"width": 1360, "height": 900}, locale=language)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto("/login")
        page.locator("input[name=username]").fill("root")
        page.locator("input[name=password]").fill(PASSWORD)
        page.locator("button[type=submit]").click()
        page.wait_for_url(re.compile(r"/$"))
        page.locator(".user-menu > summary").click()
        page.locator("#language-choice").select_option(language)
        page.wait_for_load_state("networkidle")
        visited, noticed = walk(page, base, set(hostile_world.current_metadata().objects))
        # A form refused and shown again with what was typed, and a search that echoes its text.
        page.goto("/r/probe/new")
        page.locator("input[name=title]").fill("")
        page.locator("textarea[name=notes]").fill(HOSTILE)
        page.locator("main form[method=post] button[type=submit]").last.click()
        page.wait_for_load_state("networkidle")
        page.goto("/r/account?q=" + HOSTILE)
        page.wait_for_load_state("networkidle")
        context.close()
    assert any(p.startswith("/r/probe/") for p in visited) and any(p.startswith("/setup/") for p in visited), visited
    assert len(visited) >= 30, visited
    assert noticed == []
