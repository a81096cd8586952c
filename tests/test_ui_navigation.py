"""The side bar as the implementer arranges it in Setup, and as each user sees it.

People come from access_world.py (root: an admin; cora: a customizer; alice: a rep who reads accounts,
contacts and activities only).
"""

from __future__ import annotations

import re

import pytest
from litestar.testing import TestClient

from core.api.app import create_app
from test_ui_pages import signed_in


@pytest.fixture
def app(world):
    return create_app(world.runtime)


def side_bar(html: str) -> tuple[list[str], list[str]]:
    """The objects of the side bar's first part, and those under More, by address."""
    bar = html.split('id="sidebar"')[1].split("</aside>")[0]
    first, _, more = bar.partition('<details class="more"')
    more = more.split("</details>")[0]
    return re.findall(r'href="/r/(\w+)"', first), re.findall(r'href="/r/(\w+)"', more)


def test_the_side_bar_shows_the_placed_objects_first_and_the_others_under_more(app):
    with TestClient(app) as client:
        signed_in(client, "root")
        first, more = side_bar(client.get("/").text)
        assert first == ["account", "contact", "activity"] and "product" in more
        assert "user" not in first + more  # users, roles and teams are managed in Setup
        assert '#building-2"' in client.get("/").text.split('id="sidebar"')[1]
    with TestClient(app) as client:
        signed_in(client, "alice")
        first, more = side_bar(client.get("/").text)
        assert first == ["account", "contact", "activity"] and more == []  # only what her role may read


def test_the_implementer_arranges_the_side_bar_and_a_wrong_entry_is_named(app):
    with TestClient(app) as client:
        csrf = signed_in(client, "cora")
        page = client.get("/setup/navigation")
        assert page.status_code == 200 and 'name="order_account" inputmode="numeric" pattern="[0-9]*" maxlength="4" value="10"' in page.text
        form = {"_csrf_token": csrf, "order_account": "20", "icon_account": "factory", "order_contact": "10", "icon_contact": "contact",
                "order_activity": "", "icon_activity": "calendar-check", "order_product": "30", "icon_product": "package"}
        saved = client.post("/setup/navigation", data=form, follow_redirects=False)
        assert saved.status_code == 303
        assert side_bar(client.get("/").text)[0] == ["account"]  # she reads accounts only
        assert '#factory"' in client.get("/").text
        wrong = client.post("/setup/navigation", data={**form, "order_account": "first", "icon_contact": "no-such-icon"})
        assert wrong.status_code == 422
        assert "Accounts: the place is a whole number from 0 to 9999, or empty for More." in wrong.text
        assert "Contacts: there is no icon called “no-such-icon”." in wrong.text
    with TestClient(app) as client:
        signed_in(client, "root")
        first, more = side_bar(client.get("/").text)
        assert first == ["contact", "account", "product"] and "activity" in more  # the refused change left it so


def test_the_arrangement_travels_in_the_configuration_changeset(app):
    with TestClient(app) as client:
        csrf = signed_in(client, "root")
        client.post("/setup/navigation", data={"_csrf_token": csrf, "order_account": "", "icon_account": "building",
                                               "order_contact": "1", "icon_contact": "contact", "order_activity": "2",
                                               "icon_activity": "calendar-check", "order_product": "", "icon_product": "package"})
        exported = client.get("/setup/config/export")
        assert exported.status_code == 200
        extensions = {e["object"]: e for e in exported.json().get("extensions", [])}
        assert extensions["account"]["nav_order"] is None and extensions["account"]["icon"] == "building"
        assert extensions["contact"]["nav_order"] == 1


def test_only_customizers_arrange_the_side_bar(app):
    with TestClient(app) as client:
        csrf = signed_in(client, "alice")
        assert client.get("/setup/navigation").status_code == 403
        assert client.post("/setup/navigation", data={"_csrf_token": csrf, "order_account": "1"}).status_code == 403
