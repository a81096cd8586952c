"""Merging duplicate records (core/merge.py, RecordService.merge) and POST /api/records/{object}/merge.

Each test runs on a real SQLite file and a real PostgreSQL database; the API tests go through
the ASGI app over HTTP. People come from access_world.py (alice and bob: reps in one team;
mike: their manager); ``merger`` below may merge accounts but not see account_number.
"""

from __future__ import annotations

import pytest

from access_world import PASSWORD
from fake_plugins import iota_ui_hooks
from core.auth import Accounts
from core.merge import MergeError, merge
from core.records import Actor, Conflict, Forbidden, NotFound, Refused
from helpers import label

SYSTEM = Actor.system()
MERGER_SET = {
    "name": "merger", "label": label("Merger", "合并员"),
    "objects": {"account": {"read": "all", "create": "all", "update": "all", "delete": "all"},
                "contact": {"read": "all", "update": "all"}},
    "fields": {"account": {"account_number": "hidden", "annual_revenue": "read"}},
}


def new(runtime, object_name, **values):
    return runtime.records.create(SYSTEM, object_name, values)


def get(runtime, object_name, record_id, **kwargs):
    return runtime.records.get(SYSTEM, object_name, record_id, **kwargs)


def ids(runtime, object_name, **params):
    return [r["id"] for r in runtime.records.list(SYSTEM, object_name, {**params, "sort": "id"}).items]


def entries(runtime, object_name, record_id, field=None):
    return [(h["field"], h["old"], h["new"]) for h in runtime.records.history(SYSTEM, object_name, record_id)
            if field is None or h["field"] == field]


@pytest.fixture
def dupes(runtime):
    """Acme (the survivor), two duplicates, and what points at the duplicates."""
    acme = new(runtime, "account", name="Acme", phone="111", account_number="A-1")
    acme_inc = new(runtime, "account", name="Acme Inc", phone="222", website="https://acme.example", account_number="A-2")
    acme_ltd = new(runtime, "account", name="ACME Ltd", account_number="A-3")
    contact = new(runtime, "contact", last_name="Wile", account=acme_inc["id"])
    activity = new(runtime, "activity", subject="Call about anvils", related_object="account", related_id=acme_ltd["id"])
    while new(runtime, "contact", last_name="Filler")["id"] < acme_ltd["id"]:
        pass  # a contact whose id is ACME Ltd's: an activity related to it is not related to ACME Ltd
    other = new(runtime, "activity", subject="Unrelated", related_object="contact", related_id=acme_ltd["id"])
    child = new(runtime, "account", name="Acme West", parent_account=acme_inc["id"])
    return {"acme": acme["id"], "inc": acme_inc["id"], "ltd": acme_ltd["id"], "contact": contact["id"], "activity": activity["id"],
            "other": other["id"], "child": child["id"]}


def test_a_merge_moves_every_reference_to_the_survivor(runtime, dupes):
    done = merge(runtime, SYSTEM, "account", dupes["acme"], [dupes["inc"], dupes["ltd"]], {"phone": dupes["inc"], "website": dupes["inc"]})

    assert done.record["id"] == dupes["acme"] and done.merged_ids == [dupes["inc"], dupes["ltd"]]
    assert (done.record["name"], done.record["phone"], done.record["website"]) == ("Acme", "222", "https://acme.example")
    assert done.moved == {"contact.account": 1, "activity.related_id": 1, "account.parent_account": 1}
    assert get(runtime, "contact", dupes["contact"])["account"]["id"] == dupes["acme"]
    assert get(runtime, "activity", dupes["activity"])["related_id"]["id"] == dupes["acme"]
    assert get(runtime, "activity", dupes["other"])["related_id"]["id"] == dupes["ltd"]  # a contact's id, not the account's
    assert get(runtime, "account", dupes["child"])["parent_account"]["id"] == dupes["acme"]
    assert entries(runtime, "contact", dupes["contact"]) == [("account", dupes["inc"], dupes["acme"])]


def test_the_merged_records_leave_the_lists_and_their_history_says_where_they_went(runtime, dupes):
    merge(runtime, SYSTEM, "account", dupes["acme"], [dupes["inc"], dupes["ltd"]], {"phone": dupes["inc"]})

    assert ids(runtime, "account") == [dupes["acme"], dupes["child"]]
    with pytest.raises(NotFound):
        get(runtime, "account", dupes["inc"])
    assert get(runtime, "account", dupes["inc"], include_deleted=True)["deleted_at"]
    assert entries(runtime, "account", dupes["acme"]) == [
        ("phone", "111", "222"),
        ("_merged", None, f"merged account #{dupes['inc']} into #{dupes['acme']}"),
        ("_merged", None, f"merged account #{dupes['ltd']} into #{dupes['acme']}"),
    ]
    assert entries(runtime, "account", dupes["ltd"], "_merged") == [("_merged", None, f"merged account #{dupes['ltd']} into #{dupes['acme']}")]
    restored = runtime.records.restore(SYSTEM, "account", dupes["ltd"])
    assert restored["name"] == "ACME Ltd" and dupes["ltd"] in ids(runtime, "account")


def test_a_merge_sends_the_webhooks_of_every_record_it_changes(runtime, dupes):
    hooks = runtime.webhooks
    contacts, _ = hooks.subscribe("ERP contacts", "contact", ["updated"], "https://erp.example/hook")
    accounts, _ = hooks.subscribe("ERP accounts", "account", ["updated", "deleted"], "https://erp.example/hook")
    merge(runtime, SYSTEM, "account", dupes["acme"], [dupes["inc"]], {"phone": dupes["inc"]})
    assert [(d["event"], d["record_id"]) for d in hooks.deliveries(contacts["id"])] == [("updated", dupes["contact"])]
    sent = sorted((d["event"], d["record_id"]) for d in hooks.deliveries(accounts["id"]))
    assert sent == sorted([("updated", dupes["acme"]), ("updated", dupes["child"]), ("deleted", dupes["inc"])])


def test_the_survivor_can_take_a_unique_value_from_a_merged_record(runtime, dupes):
    done = merge(runtime, SYSTEM, "account", dupes["acme"], [dupes["inc"]], {"account_number": dupes["inc"]})

    assert done.record["account_number"] == "A-2"
    merged = get(runtime, "account", dupes["inc"], include_deleted=True)
    assert merged.get("account_number") is None  # released, so the survivor could take it
    assert ("account_number", "A-2", None) in entries(runtime, "account", dupes["inc"])
    assert ("account_number", "A-1", "A-2") in entries(runtime, "account", dupes["acme"])
    restored = runtime.records.restore(SYSTEM, "account", dupes["inc"])
    assert restored["name"] == "Acme Inc"


def test_a_survivor_pointing_at_a_merged_record_does_not_end_up_pointing_at_itself(runtime):
    parent = new(runtime, "account", name="Globex Holding")
    survivor = new(runtime, "account", name="Globex", parent_account=parent["id"])
    done = merge(runtime, SYSTEM, "account", survivor["id"], [parent["id"]])
    assert done.record.get("parent_account") is None
    assert entries(runtime, "account", survivor["id"], "parent_account") == [("parent_account", parent["id"], None)]


def test_shares_of_a_merged_record_go_to_the_survivor_keeping_the_wider_access(runtime, world):
    records, bob, carol = runtime.records, world.users["bob"], world.users["carol"]
    survivor, duplicate = world.accounts["alice"], world.accounts["mike"]
    records.share(SYSTEM, "account", survivor, user=bob, level="read")
    records.share(SYSTEM, "account", duplicate, user=bob, level="edit")
    records.share(SYSTEM, "account", duplicate, user=carol, level="read")
    done = merge(runtime, SYSTEM, "account", survivor, [duplicate])
    assert done.moved["shares"] == 2
    shares = {s["user"]["id"]: s["access"] for s in records.shares(SYSTEM, "account", survivor)}
    assert shares == {bob: "edit", carol: "read"}
    assert records.get(world.actor("carol"), "account", survivor)["id"] == survivor


def test_the_chosen_values_are_validated_like_an_update_and_nothing_changes_on_refusal(runtime, dupes):
    runtime.records.update(SYSTEM, "account", dupes["inc"], {"name": "Acme Inc."}, version=1)
    with pytest.raises(MergeError) as refused:
        merge(runtime, SYSTEM, "account", dupes["acme"], [dupes["inc"]], {"phone": dupes["ltd"]})
    assert refused.value.errors == [{"field": "phone", "message": f"record {dupes['ltd']} is not one of the records being merged"}]
    with pytest.raises(MergeError) as itself:
        merge(runtime, SYSTEM, "account", dupes["acme"], [dupes["acme"]])
    assert itself.value.errors[0]["field"] == "merged"
    with pytest.raises(MergeError) as unknown:
        merge(runtime, SYSTEM, "account", dupes["acme"], [dupes["inc"]], {"phnoe": dupes["inc"]})
    assert unknown.value.errors[0]["field"] == "phnoe" and "did you mean 'phone'" in unknown.value.errors[0]["message"]
    with pytest.raises(NotFound, match="account 999999 does not exist"):
        merge(runtime, SYSTEM, "account", dupes["acme"], [999999])
    with pytest.raises(Conflict):
        merge(runtime, SYSTEM, "account", dupes["acme"], [dupes["inc"]], versions={dupes["inc"]: 1})
    with pytest.raises(MergeError, match="user records cannot be merged"):
        merge(runtime, SYSTEM, "user", 1, [2])
    assert ids(runtime, "account") == [dupes["acme"], dupes["inc"], dupes["ltd"], dupes["child"]]
    assert get(runtime, "contact", dupes["contact"])["account"]["id"] == dupes["inc"]


def test_a_rep_cannot_merge_another_reps_record(runtime, world):
    alice = world.actor("alice")
    mine = runtime.records.create(alice, "contact", {"last_name": "Coyote"})
    bobs = runtime.records.list(alice, "contact", {"last_name": "Contact of bob"}).items[0]["id"]  # alice may read it (same team)
    with pytest.raises(Forbidden):
        merge(runtime, alice, "contact", mine["id"], [bobs])
    with pytest.raises(Forbidden):
        merge(runtime, alice, "contact", bobs, [mine["id"]])
    assert get(runtime, "contact", bobs)["last_name"] == "Contact of bob" and get(runtime, "contact", mine["id"])
    other = runtime.records.create(alice, "contact", {"last_name": "Coyote", "title": "Genius"})
    done = merge(runtime, alice, "contact", mine["id"], [other["id"]], {"title": other["id"]})
    assert done.record["title"] == "Genius"


def test_a_plugin_may_refuse_to_let_a_record_be_merged_away(make_runtime):
    runtime = make_runtime(plugins=("iota",), extra_plugins=[iota_ui_hooks])
    survivor = new(runtime, "account", name="Acme")
    kept = new(runtime, "account", name="Bob Industries")
    with pytest.raises(Refused, match=f"account {kept['id']} cannot be merged: Bob Industries is kept for the auditors"):
        merge(runtime, SYSTEM, "account", survivor["id"], [kept["id"]])
    assert ids(runtime, "account") == [survivor["id"], kept["id"]]
    assert get(runtime, "account", survivor["id"])["version"] == 1


@pytest.fixture
def merger(runtime, world):
    runtime.import_changeset({"format": "tessera-changeset/1", "permission_sets": [MERGER_SET]}, "test", "test")
    user, _ = Accounts(runtime).add_user("max", PASSWORD, "merger", [], full_name="Max")
    return Actor(user["id"], "max", "merger")


def test_a_hidden_field_cannot_be_chosen_and_the_survivor_keeps_its_value(runtime, world, merger):
    survivor, duplicate = world.accounts["alice"], world.accounts["bob"]
    with pytest.raises(MergeError) as hidden:
        merge(runtime, merger, "account", survivor, [duplicate], {"account_number": duplicate})
    with pytest.raises(MergeError) as missing:
        merge(runtime, merger, "account", survivor, [duplicate], {"no_such_field": duplicate})
    choose = "is not a field of account whose value you may choose"
    assert hidden.value.errors[0]["message"] == f"{choose} (did you mean 'account_type'?)"  # as if there were no such field
    assert missing.value.errors[0]["message"] == choose
    with pytest.raises(MergeError, match="annual_revenue"):
        merge(runtime, merger, "account", survivor, [duplicate], {"annual_revenue": duplicate})  # it may only read it
    done = merge(runtime, merger, "account", survivor, [duplicate], {"name": duplicate})
    assert done.record["name"] == "Bob Industries" and "account_number" not in done.record
    assert get(runtime, "account", survivor)["account_number"] == "SECRET-alice"
    assert "account_number" not in {h["field"] for h in runtime.records.history(merger, "account", survivor)}


@pytest.fixture
def sales(make_runtime):
    return make_runtime(plugins=("sales",))


def test_many_to_many_links_move_without_duplicates(sales):
    account = new(sales, "account", name="Initech")
    keep, dupe, third = (new(sales, "contact", last_name=n, account=account["id"]) for n in ("Lumbergh", "Lumberg", "Waddams"))
    both = new(sales, "opportunity", name="TPS", account=account["id"], close_date="2026-09-30",
               contacts=[{"id": keep["id"], "role": "decision_maker"}, {"id": dupe["id"], "role": "influencer"}])
    only_dupe = new(sales, "opportunity", name="Printers", account=account["id"], close_date="2026-09-30",
                    contacts=[{"id": dupe["id"], "role": "champion"}, {"id": third["id"]}])

    done = merge(sales, SYSTEM, "contact", keep["id"], [dupe["id"]])

    assert done.moved == {"opportunity.contacts": 2}
    assert [(c["id"], c["role"]) for c in get(sales, "opportunity", both["id"])["contacts"]] == [(keep["id"], "decision_maker")]
    assert [(c["id"], c["role"]) for c in get(sales, "opportunity", only_dupe["id"])["contacts"]] == [(keep["id"], "champion"), (third["id"], None)]
    assert get(sales, "opportunity", both["id"])["version"] == both["version"] + 1
    assert entries(sales, "opportunity", both["id"], "contacts")[-1] == (
        "contacts", [{"id": keep["id"], "role": "decision_maker"}, {"id": dupe["id"], "role": "influencer"}],
        [{"id": keep["id"], "role": "decision_maker"}])


def test_the_links_of_a_merged_record_join_the_survivors(sales):
    account = new(sales, "account", name="Initech")
    first, second = (new(sales, "contact", last_name=n, account=account["id"]) for n in ("Smykowski", "Bolton"))
    survivor = new(sales, "opportunity", name="TPS", account=account["id"], close_date="2026-09-30", contacts=[first["id"]])
    duplicate = new(sales, "opportunity", name="TPS reports", account=account["id"], close_date="2026-09-30",
                    contacts=[first["id"], {"id": second["id"], "role": "blocker"}])
    done = merge(sales, SYSTEM, "opportunity", survivor["id"], [duplicate["id"]])
    assert [(c["id"], c["role"]) for c in done.record["contacts"]] == [(first["id"], None), (second["id"], "blocker")]


def test_moved_records_run_their_after_update_hooks(sales):
    """Quote lines moved to the surviving quote count in its totals (the sales plugin's after-update hook)."""
    account = new(sales, "account", name="Umbrella")
    opportunity = new(sales, "opportunity", name="Hive", account=account["id"], close_date="2026-09-30")
    product = new(sales, "product", name="Valve", unit_price=100)
    survivor = new(sales, "quote", name="Hive quote", opportunity=opportunity["id"])
    duplicate = new(sales, "quote", name="Hive quote (copy)", opportunity=opportunity["id"])
    new(sales, "quote_line", quote=survivor["id"], product=product["id"], quantity=1)
    new(sales, "quote_line", quote=duplicate["id"], product=product["id"], quantity=2)

    done = merge(sales, SYSTEM, "quote", survivor["id"], [duplicate["id"]])

    assert done.moved == {"quote_line.quote": 1}
    assert get(sales, "quote", survivor["id"])["total_amount"] == 300
    assert len(ids(sales, "quote_line", quote=survivor["id"])) == 2


# --- the API ------------------------------------------------------------------------------------


def test_the_api_merges_and_answers_with_the_survivor(api, world):
    runtime, alice, bob = world.runtime, world.accounts["alice"], world.accounts["bob"]
    versions = {str(alice): 1, str(bob): 1}
    response = api.post("mike", "/api/records/account/merge",
                        json={"survivor": alice, "merged": [bob], "values": {"name": bob, "owner": bob}, "versions": versions})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["record"]["name"] == "Bob Industries" and body["record"]["owner"]["id"] == world.users["bob"]
    assert body["merged"] == [bob] and body["moved"] == {"contact.account": 1}
    assert response.headers["etag"] == f'"{body["record"]["version"]}"'
    assert api.get("mike", f"/api/records/account/{bob}").status_code == 404
    history = api.get("mike", f"/api/records/account/{alice}/history").json()["items"]
    assert history[-1]["field"] == "_merged" and history[-1]["new"] == f"merged account #{bob} into #{alice}"
    assert runtime.records.list(SYSTEM, "contact", {"account": alice, "count": "true"}).count == 2


def test_the_api_answers_bad_merges_in_the_error_shape_and_changes_nothing(api, world, merger):
    alice, bob = world.accounts["alice"], world.accounts["bob"]
    path = "/api/records/account/merge"

    def refused(who, body, status, error):
        response = api.post(who, path, json=body) if not isinstance(body, bytes) else api.post(who, path, content=body)
        assert response.status_code == status, response.text
        assert response.json()["status"] == status and response.json()["error"] == error and response.json()["message"]
        return response.json()

    assert "does not exist" in refused("mike", {"survivor": alice, "merged": [999999]}, 404, "not_found")["message"]
    assert refused("mike", {"survivor": alice, "merged": [alice]}, 422, "invalid_merge")["errors"][0]["field"] == "merged"
    assert refused("mike", {"survivor": "abc", "merged": [bob]}, 422, "invalid_merge")["errors"][0]["field"] == "survivor"
    refused("alice", {"survivor": alice, "merged": [bob]}, 404, "not_found")  # not hers to see
    her_other = world.runtime.records.create(SYSTEM, "account", {"name": "Alice Industries (2)", "owner": world.users["alice"]})["id"]
    assert "delete" in refused("alice", {"survivor": alice, "merged": [her_other]}, 403, "forbidden")["message"]
    hidden = refused("max", {"survivor": alice, "merged": [bob], "values": {"account_number": bob}}, 422, "invalid_merge")
    assert [(e["field"], e["code"]) for e in hidden["errors"]] == [("account_number", "merge_unknown_field")]
    assert "SECRET" not in str(hidden)
    wrong = refused("mike", {"survivor": alice, "merged": [bob], "values": {"colour": bob}}, 422, "invalid_merge")
    assert wrong["errors"][0]["field"] == "colour" and "colour" in wrong["message"]
    stale = refused("mike", {"survivor": alice, "merged": [bob], "versions": {str(bob): 7}}, 409, "version_conflict")
    assert stale["current_version"] == 1
    refused("mike", {"survivor": alice}, 400, "bad_request")
    refused("mike", {"survivor": alice, "merged": [bob], "extra": 1}, 400, "bad_request")
    refused("mike", b"{not json", 400, "invalid_json")
    refused("mike", {"survivor": 1, "merged": [2]} | {"versions": [1]}, 422, "invalid_merge")
    assert api.post("mike", "/api/records/nothing/merge", json={"survivor": 1, "merged": [2]}).status_code == 404
    assert api.get("mike", f"/api/records/account/{bob}").json()["name"] == "Bob Industries"
