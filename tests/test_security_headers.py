"""Every answer carries the security headers, and no page needs an inline script, handler or style.

The Content-Security-Policy runs scripts from this site only (and an inline script with the
request's nonce, which no page of the UI needs), refuses framing, and keeps styles to this
site's files. The pages are parsed to check that nothing they hold would need more: a
script, handler or style inside the HTML would be blocked in the browser.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from litestar.testing import TestClient

from core.api.app import create_app
from test_ui_pages import signed_in

LABEL = "Acct</script><script>alert(1)</script>"


class InlineCode(HTMLParser):
    """Collects what a strict policy would block: inline scripts, on* handlers, style attributes and elements."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        names = {name for name, _ in attrs}
        if tag == "script" and "src" not in names:
            self.found.append("inline <script>")
        if tag == "style":
            self.found.append("<style> element")
        self.found += [f"<{tag} {name}=...>" for name in names if name.startswith("on") or name == "style"]
        self.found += [f"<{tag} {name}='javascript:...'>" for name, value in attrs if (value or "").strip().lower().startswith("javascript:")]


def inline_code(html: str) -> list[str]:
    parser = InlineCode()
    parser.feed(html)
    return parser.found


def policy(response) -> dict[str, str]:
    header = response.headers.get("content-security-policy", "")
    return {part.split()[0]: part for part in (p.strip() for p in header.split(";")) if part}


def assert_protected(response) -> None:
    directives = policy(response)
    assert directives["frame-ancestors"] == "frame-ancestors 'none'", response.url
    script = directives["script-src"]
    assert "'unsafe-inline'" not in script and "'unsafe-eval'" not in script and re.search(r"'nonce-[\w-]{20,}'", script), script
    assert "'unsafe-inline'" not in directives["style-src"]
    assert directives["object-src"] == "object-src 'none'" and directives["base-uri"] == "base-uri 'none'"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"


@pytest.fixture
def ui(world):
    with TestClient(create_app(world.runtime)) as client:
        yield client


def test_every_kind_of_answer_carries_the_headers_with_a_new_nonce_each_time(ui, api):
    anonymous = [ui.get("/login"), ui.get("/no/such/page"), ui.get("/api/records/account"), ui.get("/static/tessera/js/tessera.js"),
                 ui.get("/schema"), ui.get("/schema/openapi.json"), ui.options("/api/meta/objects")]
    signed_in(ui, "root")
    pages = [ui.get("/"), ui.get("/r/account"), ui.get("/setup"), ui.get("/r/nothing")]
    tokens = [api.get("root", "/api/records/account"), api.get("root", "/api/records/account/999999"), api.get("root", "/schema/openapi.json")]
    for response in anonymous + pages + tokens:
        assert_protected(response)
    nonces = {policy(r)["script-src"] for r in pages}
    assert len(nonces) == len(pages)


def test_the_api_documentation_page_loads_the_document_instead_of_embedding_it(ui, api):
    changed = api.patch("root", "/api/meta/objects/account", json={"label": {"en": LABEL, "zh-CN": LABEL}})
    assert changed.status_code == 200, changed.text
    signed_in(ui, "root")
    page = ui.get("/schema")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert inline_code(page.text) == []
    assert "alert" not in page.text and "Acct" not in page.text
    assert 'data-document="/schema/openapi.json"' in page.text
    document = ui.get("/schema/openapi.json")
    assert document.headers["content-type"].startswith("application/vnd.oai.openapi+json")  # never rendered as HTML
    assert LABEL in document.text  # the label is data, served as JSON, and Swagger UI shows it as text


@pytest.mark.parametrize("person", ["root", "alice"])
def test_no_page_holds_inline_code(ui, world, person):
    account = world.accounts["alice"]
    signed_in(ui, person)
    paths = ["/", "/r/account", f"/r/account/{account}", f"/r/account/{account}/edit", "/r/account/new", "/r/activity/kanban",
             "/r/contact", "/import", "/login"]
    if person == "root":
        paths += ["/setup", "/setup/objects", "/setup/objects/account", "/setup/roles", "/setup/roles/rep", "/setup/users",
                  "/setup/layouts/account", "/setup/changesets"]
    for path in paths:
        response = ui.get(path)
        assert response.status_code < 500, path
        assert inline_code(response.text) == [], path


def test_a_bearer_requests_pages_show_no_placeholder_for_a_csrf_token(ui, api):
    for path, status in [("/r/account/999999", 404), ("/r/account", 200)]:
        response = ui.get(path, headers=api.headers("root"))
        assert response.status_code == status
        assert """hx-headers='{"X-CSRFToken": ""}'""" in response.text and "EMPTY" not in response.text
