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
    with TestClient(create_app(world.runtime)) as client:
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


def test_merge_with_is_offered_on_a_record_page_to_those_who_may_merge(ui, world):
    alice = world.accounts["alice"]
    signed_in(ui, "mike")
    assert f'href="/r/account/{alice}/merge">Merge with…</a>' in ui.get(f"/r/account/{alice}").text
    ui.cookies.clear()
    signed_in(ui, "vera")  # reads every account, changes none
    detail = ui.get(f"/r/account/{alice}")
    assert detail.status_code == 200 and "Merge with…" not in detail.text
    assert ui.get(f"/r/account/{alice}/merge").status_code == 403
    ui.cookies.clear()
    signed_in(ui, "alice")  # a rep may change her account but not delete it
    assert "Merge with…" not in ui.get(f"/r/account/{alice}").text
    assert ui.get(f"/r/account/{alice}/merge").status_code == 403


def test_merge_with_picks_a_record_and_keeps_this_one(ui, world):
    csrf = signed_in(ui, "mike")
    alice, bob, mike, carol = (world.accounts[n] for n in ("alice", "bob", "mike", "carol"))
    world.runtime.records.update(SYSTEM, "account", alice, {"phone": "555-0111"}, version=1)
    picker = ui.get(f"/r/account/{bob}/merge?q=Industries")
    assert picker.status_code == 200 and 'name="_csrf_token"' in picker.text
    offered = set(re.findall(r'name="with" value="(\d+)"', picker.text))
    assert offered == {str(alice), str(mike)}  # not this record, nor carol's (another team's)
    assert "Carol Industries" not in picker.text
    only_mike = ui.get(f"/r/account/{bob}/merge?q=Mike")
    assert set(re.findall(r'name="with" value="(\d+)"', only_mike.text)) == {str(mike)}

    picked = ui.post(f"/r/account/{bob}/merge", data={"_csrf_token": csrf, "with": str(alice), "q": "Industries"},
                     follow_redirects=False)
    assert picked.status_code == 303
    assert picked.headers["location"] == f"/r/account/merge?id={bob}&id={alice}&survivor={bob}&record={bob}"
    page = ui.get(picked.headers["location"])
    assert page.status_code == 200
    cancel = re.search(r'<a role="button" class="secondary outline" href="([^"]+)">Cancel</a>', page.text)
    assert cancel and cancel.group(1) == f"/r/account/{bob}"  # back to the record the merge was started from
    assert f'name="record" value="{bob}"' in page.text
    elsewhere = ui.get(f"/r/account/merge?id={bob}&id={alice}&record={carol}")  # not one of the merged: back to the list
    assert re.search(r'<a role="button" class="secondary outline" href="([^"]+)">Cancel</a>', elsewhere.text).group(1) == "/r/account"
    odd = ui.get(f"/r/account/merge?id={bob}&id={alice}&record=%C2%B2")  # "²" counts as a digit to str.isdigit
    assert odd.status_code == 200 and 'name="record"' not in odd.text
    assert choices(page.text, "survivor") == {str(bob): True, str(alice): False}  # this record, though alice's is older
    assert choices(page.text, "field_name") == {str(bob): True, str(alice): False}
    assert choices(page.text, "field_phone") == {str(bob): False, str(alice): True}  # bob's is empty

    done = ui.post("/r/account/merge", data={"_csrf_token": csrf, "confirmed": "1", "id": [str(bob), str(alice)],
                                             "shown": [f"{bob}:1", f"{alice}:2"], "survivor": str(bob),
                                             "field_name": str(bob), "field_phone": str(alice)}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].startswith(f"/r/account/{bob}?notice=")
    assert ui.get(f"/r/account/{alice}").status_code == 404
    kept = world.runtime.records.get(SYSTEM, "account", bob)
    assert kept["name"] == "Bob Industries" and kept["phone"] == "555-0111"
    assert carol and world.runtime.records.get(SYSTEM, "account", carol)["name"] == "Carol Industries"


def test_merge_with_several_records_at_once(ui, world):
    csrf = signed_in(ui, "mike")
    alice, bob, mike = (world.accounts[n] for n in ("alice", "bob", "mike"))
    picked = ui.post(f"/r/account/{mike}/merge", data={"_csrf_token": csrf, "with": [str(alice), str(bob)]}, follow_redirects=False)
    assert picked.status_code == 303
    page = ui.get(picked.headers["location"])
    assert choices(page.text, "survivor") == {str(mike): True, str(alice): False, str(bob): False}
    repeated = ui.post(f"/r/account/{mike}/merge", data={"_csrf_token": csrf, "with": [str(bob), str(bob)]}, follow_redirects=False)
    assert repeated.headers["location"] == f"/r/account/merge?id={mike}&id={bob}&survivor={mike}&record={mike}"  # once is enough


def test_merge_with_explains_a_wrong_pick(ui, world):
    csrf = signed_in(ui, "mike")
    alice, bob, carol = world.accounts["alice"], world.accounts["bob"], world.accounts["carol"]
    nothing = ui.post(f"/r/account/{alice}/merge", data={"_csrf_token": csrf})
    assert nothing.status_code == 422 and "Tick at least one record to merge into this one." in nothing.text
    itself = ui.post(f"/r/account/{alice}/merge", data={"_csrf_token": csrf, "with": str(alice)})
    assert itself.status_code == 422 and f"Record #{alice} is this record" in itself.text
    twice = ui.post(f"/r/account/{alice}/merge", data={"_csrf_token": csrf, "with": [str(bob), str(alice)]})
    assert twice.status_code == 422 and f"Record #{alice} is this record" in twice.text
    unknown = ui.post(f"/r/account/{alice}/merge", data={"_csrf_token": csrf, "with": "999999"})
    assert unknown.status_code == 404 and "There is no record 999999 here that you may see." in unknown.text
    hidden = ui.post(f"/r/account/{alice}/merge", data={"_csrf_token": csrf, "with": str(carol)})
    assert hidden.status_code == 404 and f"There is no record {carol} here that you may see." in hidden.text
    assert "Carol Industries" not in hidden.text
    junk = ui.post(f"/r/account/{alice}/merge", data={"_csrf_token": csrf, "with": "bob"})
    assert junk.status_code == 422 and "“bob” is not a record number." in junk.text
    many = ui.post(f"/r/account/{alice}/merge", data={"_csrf_token": csrf, "with": ["1001", "1002", "1003", "1004", "1005"]})
    assert many.status_code == 422 and "Select between 2 and 5 records to merge." in many.text
    for answer in (nothing, itself, unknown, hidden, junk):
        assert 'role="alert"' in answer.text and 'name="q"' in answer.text  # the picker again, to pick anew
    no_csrf = ui.post(f"/r/account/{alice}/merge", data={"with": str(bob)})
    assert no_csrf.status_code == 403
    assert ui.get(f"/r/account/{carol}/merge").status_code == 404  # a record not theirs to see
    assert ui.get("/r/account/999999/merge").status_code == 404
    assert ui.post(f"/r/account/{carol}/merge", data={"_csrf_token": csrf, "with": str(alice)}).status_code == 404
    assert ui.get("/r/user/1/merge").status_code in (403, 422)  # users are never merged
    assert world.runtime.records.get(SYSTEM, "account", bob)["name"] == "Bob Industries"


def test_merge_with_answers_in_chinese(ui, world):
    csrf = signed_in(ui, "mike")
    ui.post("/language", data={"_csrf_token": csrf, "language": "zh-CN", "next": "/"})
    alice = world.accounts["alice"]
    assert "与…合并" in ui.get(f"/r/account/{alice}").text
    page = ui.get(f"/r/account/{alice}/merge")
    assert page.status_code == 200 and "继续合并" in page.text and "要合并到此记录的记录" in page.text
