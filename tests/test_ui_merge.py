"""Merging duplicates in the web UI, through real HTTP: select on the list, choose on the merge page, merge.

People come from access_world.py (mike: a manager who may merge his team's accounts; alice: a
rep who may not delete accounts); ``max`` may merge accounts but not see account_number.
"""

from __future__ import annotations

import re

import pytest
from access_world import PASSWORD
from litestar.testing import TestClient
from test_ui_pages import signed_in

from core.api.app import create_app
from core.auth import Accounts
from core.records import Actor
from helpers import label

SYSTEM = Actor.system()


@pytest.fixture
def ui(world):
    with TestClient(create_app(world.runtime, deliver_webhooks=False)) as client:
        yield client


def choices(page: str, name: str) -> dict[str, bool]:
    """The radio buttons of one group: value -> checked."""
    found = re.findall(rf'<input type="radio" name="{name}" value="(\d+)" ?(checked)?', page)
    return {value: bool(checked) for value, checked in found}


def test_select_choose_and_merge(ui, world):
    csrf = signed_in(ui, "mike")
    alice, bob = world.accounts["alice"], world.accounts["bob"]
    world.runtime.records.update(SYSTEM, "account", bob, {"phone": "555-0100"}, version=1)
    listing = ui.get("/r/account")
    assert 'formaction="/r/account/merge"' in listing.text and "Merge selected…" in listing.text

    page = ui.post("/r/account/merge", data={"_csrf_token": csrf, "id": [str(alice), str(bob)],
                                             "shown": [f"{alice}:1", f"{bob}:2"], "field": "", "back": "q=Industries"})
    assert page.status_code == 200, page.text[:500]
    assert "Alice Industries" in page.text and "Bob Industries" in page.text
    assert choices(page.text, "survivor") == {str(alice): True, str(bob): False}  # the oldest, by default
    assert choices(page.text, "field_name") == {str(alice): True, str(bob): False}
    assert choices(page.text, "field_phone") == {str(alice): False, str(bob): True}  # alice's is empty
    assert choices(page.text, "field_employees") == {}  # the same on both: nothing to choose
    assert 'name="_csrf_token"' in page.text and f'value="{bob}:2"' in page.text

    done = ui.post("/r/account/merge", data={"_csrf_token": csrf, "confirmed": "1", "id": [str(alice), str(bob)],
                                             "shown": [f"{alice}:1", f"{bob}:2"], "survivor": str(alice),
                                             "field_name": str(bob), "field_phone": str(bob), "field_account_number": str(alice)},
                   follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].startswith(f"/r/account/{alice}?notice=")
    detail = ui.get(done.headers["location"])
    assert 'role="status">1 duplicate(s) merged into this record.' in detail.text and "Bob Industries" in detail.text and "555-0100" in detail.text
    assert f"Record #{bob} was merged into #{alice}" in detail.text
    assert ui.get(f"/r/account/{bob}").status_code == 404
    assert world.runtime.records.get(SYSTEM, "account", alice)["account_number"] == "SECRET-alice"


def test_the_merge_page_answers_in_chinese(ui, world):
    csrf = signed_in(ui, "mike")
    ui.post("/language", data={"_csrf_token": csrf, "language": "zh-CN", "next": "/"})
    page = ui.get(f"/r/account/merge?id={world.accounts['alice']}&id={world.accounts['bob']}")
    assert page.status_code == 200 and "保留此条" in page.text and "合并" in page.text


def test_a_stale_page_or_a_wrong_selection_changes_nothing(ui, world):
    csrf = signed_in(ui, "mike")
    alice, bob = world.accounts["alice"], world.accounts["bob"]
    one = ui.post("/r/account/merge", data={"_csrf_token": csrf, "id": str(alice)})
    assert one.status_code == 422 and "Select between 2 and 5 records to merge." in one.text
    world.runtime.records.update(SYSTEM, "account", bob, {"phone": "555-0199"}, version=1)
    stale = ui.post("/r/account/merge", data={"_csrf_token": csrf, "confirmed": "1", "id": [str(alice), str(bob)],
                                              "shown": [f"{alice}:1", f"{bob}:1"], "survivor": str(alice), "field_name": str(bob)})
    assert stale.status_code == 409 and "Someone changed one of these records" in stale.text
    assert f'value="{bob}:2"' in stale.text  # drawn again with the versions as they are now
    nobody = ui.post("/r/account/merge", data={"_csrf_token": csrf, "confirmed": "1", "id": [str(alice), str(bob)]})
    assert nobody.status_code == 422 and "Choose the record to keep." in nobody.text
    no_csrf = ui.post("/r/account/merge", data={"confirmed": "1", "id": [str(alice), str(bob)], "survivor": str(alice)})
    assert no_csrf.status_code == 403
    assert world.runtime.records.get(SYSTEM, "account", bob)["name"] == "Bob Industries"


def test_a_rep_cannot_merge_another_reps_contact(ui, world):
    csrf = signed_in(ui, "alice")
    assert "Merge selected…" not in ui.get("/r/account").text  # reps may not delete accounts
    assert ui.post("/r/account/merge", data={"_csrf_token": csrf, "id": ["1", "2"]}).status_code == 403
    contacts = {r["last_name"]: r["id"] for r in world.runtime.records.list(SYSTEM, "contact", {}).items}
    mine, bobs = contacts["Contact of alice"], contacts["Contact of bob"]
    refused = ui.post("/r/contact/merge", data={"_csrf_token": csrf, "confirmed": "1", "id": [str(mine), str(bobs)],
                                                "survivor": str(mine)})
    assert refused.status_code == 403 and "Your role may not merge these records" in refused.text
    assert world.runtime.records.get(SYSTEM, "contact", bobs)["last_name"] == "Contact of bob"


def test_a_hidden_field_is_not_offered_and_cannot_be_posted(ui, world):
    runtime = world.runtime
    runtime.import_changeset({"format": "tessera-changeset/1", "permission_sets": [{
        "name": "merger", "label": label("Merger", "合并员"),
        "objects": {"account": {"read": "all", "update": "all", "delete": "all"}},
        "fields": {"account": {"account_number": "hidden"}}}]}, "test", "test")
    Accounts(runtime).add_user("max", PASSWORD, "merger", [], full_name="Max")
    csrf = signed_in(ui, "max")
    alice, bob = world.accounts["alice"], world.accounts["bob"]
    page = ui.get(f"/r/account/merge?id={alice}&id={bob}")
    assert page.status_code == 200 and "field_name" in page.text
    assert "account_number" not in page.text and "SECRET" not in page.text
    posted = ui.post("/r/account/merge", data={"_csrf_token": csrf, "confirmed": "1", "id": [str(alice), str(bob)],
                                               "survivor": str(alice), "field_account_number": str(bob)})
    assert posted.status_code == 422 and "SECRET" not in posted.text
    assert runtime.records.get(SYSTEM, "account", alice)["account_number"] == "SECRET-alice"
    assert runtime.records.get(SYSTEM, "account", bob)["name"] == "Bob Industries"
