"""The permission matrix through real HTTP: roles x scopes x operations x fields, and the probes.

People and records come from access_world.py: alice and bob (reps, East team), mike (manager,
East), carol (rep, West), vera (reads every account), nora (no role), root (admin). Every
expectation is a whole table, so a failure shows every cell that differs.
"""

from __future__ import annotations

import csv
import io

PEOPLE = ("alice", "mike", "carol", "vera", "nora", "root")
OWNERS = ("alice", "bob", "carol")


def table(function) -> dict:
    return {(who, owner): function(who, owner) for who in PEOPLE for owner in OWNERS}


def test_who_can_read_whose_account(api):
    got = table(lambda who, owner: api.get(who, f"/api/records/account/{api.world.accounts[owner]}").status_code)
    expected = {
        ("alice", "alice"): 200, ("alice", "bob"): 404, ("alice", "carol"): 404,
        ("mike", "alice"): 200, ("mike", "bob"): 200, ("mike", "carol"): 404,
        ("carol", "alice"): 404, ("carol", "bob"): 404, ("carol", "carol"): 200,
        ("vera", "alice"): 200, ("vera", "bob"): 200, ("vera", "carol"): 200,
        ("nora", "alice"): 403, ("nora", "bob"): 403, ("nora", "carol"): 403,
        ("root", "alice"): 200, ("root", "bob"): 200, ("root", "carol"): 200,
    }
    assert got == expected


def test_who_lists_which_accounts(api):
    def names(who):
        response = api.get(who, "/api/records/account?sort=name")
        return response.status_code if response.status_code != 200 else [r["name"].split()[0] for r in response.json()["items"]]

    assert {who: names(who) for who in PEOPLE} == {
        "alice": ["Alice"], "mike": ["Alice", "Bob", "Mike"], "carol": ["Carol"],
        "vera": ["Alice", "Bob", "Carol", "Mike"], "nora": 403, "root": ["Alice", "Bob", "Carol", "Mike"],
    }


def test_who_can_change_whose_account(api):
    def change(who, owner):
        record_id = api.world.accounts[owner]
        version = api.get("root", f"/api/records/account/{record_id}").json()["version"]
        return api.patch(who, f"/api/records/account/{record_id}", json={"description": f"by {who}"},
                         headers={"If-Match": f'"{version}"'}).status_code

    assert table(change) == {
        ("alice", "alice"): 200, ("alice", "bob"): 404, ("alice", "carol"): 404,
        ("mike", "alice"): 200, ("mike", "bob"): 200, ("mike", "carol"): 404,
        ("carol", "alice"): 404, ("carol", "bob"): 404, ("carol", "carol"): 200,
        ("vera", "alice"): 403, ("vera", "bob"): 403, ("vera", "carol"): 403,
        ("nora", "alice"): 403, ("nora", "bob"): 403, ("nora", "carol"): 403,
        ("root", "alice"): 200, ("root", "bob"): 200, ("root", "carol"): 200,
    }
    descriptions = {o: api.get("root", f"/api/records/account/{api.world.accounts[o]}").json()["description"] for o in OWNERS}
    assert descriptions == {"alice": "by root", "bob": "by root", "carol": "by root"}


def test_who_can_delete_whose_account(api):
    def delete(who, owner):
        record_id = api.world.accounts[owner]
        status = api.delete(who, f"/api/records/account/{record_id}").status_code
        if status == 204:
            api.post("root", f"/api/records/account/{record_id}/restore")
        return status

    contacts_first = [c["id"] for c in api.get("root", "/api/records/contact?limit=50").json()["items"]]
    for contact_id in contacts_first:  # contacts point at the accounts (restrict): move them away
        api.delete("root", f"/api/records/contact/{contact_id}")
    assert table(delete) == {
        ("alice", "alice"): 403, ("alice", "bob"): 403, ("alice", "carol"): 403,
        ("mike", "alice"): 204, ("mike", "bob"): 204, ("mike", "carol"): 404,
        ("carol", "alice"): 403, ("carol", "bob"): 403, ("carol", "carol"): 403,
        ("vera", "alice"): 403, ("vera", "bob"): 403, ("vera", "carol"): 403,
        ("nora", "alice"): 403, ("nora", "bob"): 403, ("nora", "carol"): 403,
        ("root", "alice"): 204, ("root", "bob"): 204, ("root", "carol"): 204,
    }


def test_who_can_create_and_for_whom(api):
    users = api.world.users

    def create(who, owner):
        return api.post(who, "/api/records/account", json={"name": f"{who} for {owner}", "owner": users[owner]}).status_code

    assert table(create) == {
        ("alice", "alice"): 201, ("alice", "bob"): 422, ("alice", "carol"): 422,
        ("mike", "alice"): 201, ("mike", "bob"): 201, ("mike", "carol"): 422,
        ("carol", "alice"): 422, ("carol", "bob"): 422, ("carol", "carol"): 201,
        ("vera", "alice"): 403, ("vera", "bob"): 403, ("vera", "carol"): 403,
        ("nora", "alice"): 403, ("nora", "bob"): 403, ("nora", "carol"): 403,
        ("root", "alice"): 201, ("root", "bob"): 201, ("root", "carol"): 201,
    }


# --- probing a hidden field (alice's role hides account.account_number) -------------------------


def test_a_hidden_field_cannot_be_read_or_probed_by_any_route(api):
    alice_account = api.world.accounts["alice"]
    assert "account_number" not in api.get("alice", f"/api/records/account/{alice_account}").json()
    assert all("account_number" not in r for r in api.get("alice", "/api/records/account").json()["items"])
    for probe in ("account_number=SECRET-alice", "account_number__startswith=S", "account_number__isnull=false",
                  "sort=account_number", "sort=-account_number"):
        response = api.get("alice", f"/api/records/account?{probe}")
        assert response.status_code == 400 and "'account_number' is not a field of account" in response.json()["message"], probe
        assert api.get("mike", f"/api/records/account?{probe}").status_code == 200, probe
    assert api.get("alice", "/api/records/account?q=SECRET").json()["items"] == []
    assert [r["name"] for r in api.get("mike", "/api/records/account?q=SECRET-bob").json()["items"]] == ["Bob Industries"]
    exported = api.get("alice", "/api/export/account")
    header = next(csv.reader(io.StringIO(exported.text.lstrip("\ufeff"))))
    assert "account_number" not in header and "SECRET" not in exported.text and "annual_revenue" in header
    assert api.get("alice", "/api/export/account?account_number=SECRET-alice").status_code == 400
    history = api.patch("root", f"/api/records/account/{alice_account}", json={"account_number": "SECRET-2"}, headers={"If-Match": '"1"'})
    assert history.status_code == 200
    assert [h["field"] for h in api.get("alice", f"/api/records/account/{alice_account}/history").json()["items"]] == []
    written = api.patch("alice", f"/api/records/account/{alice_account}", json={"account_number": "mine"}, headers={"If-Match": '"2"'})
    assert written.status_code == 422 and written.json()["errors"][0]["message"].startswith("is not a field of account")
    echoed = api.patch("alice", f"/api/records/account/{alice_account}", json={"version": 2})
    assert echoed.status_code == 200 and "account_number" not in echoed.json()
    fields = {f["name"] for f in api.get("alice", "/api/meta/objects/account").json()["fields"]}
    assert "account_number" not in fields and "account_number" not in api.get("alice", "/api/meta/objects/account/fields/name").text
    assert api.get("alice", "/api/meta/objects/account/fields/account_number").status_code == 404


def test_another_users_records_do_not_leak_through_related_lists_lookups_or_shares(api):
    world = api.world
    bob_account, carol_account = world.accounts["bob"], world.accounts["carol"]
    assert api.get("alice", f"/api/records/account/{bob_account}/related/contact/account").status_code == 404
    assert api.get("alice", f"/api/records/account/{bob_account}/shares").status_code == 404
    assert api.get("alice", f"/api/records/account/{bob_account}/history").status_code == 404
    bob_contact = api.get("alice", "/api/records/contact?q=bob").json()["items"][0]  # contacts: team scope
    assert bob_contact["account"] == {"id": bob_account, "label": None}
    assert api.get("alice", f"/api/records/contact?account={carol_account}").json()["items"] == []
    assert api.get("alice", f"/api/export/contact?account={carol_account}").text.count("\n") == 1  # the header only
    picker = api.get("alice", "/api/records/account?q=Industries").json()["items"]  # what a lookup picker lists
    assert [r["name"] for r in picker] == ["Alice Industries"]


def test_a_lookup_to_a_record_outside_the_read_scope_is_refused_exactly_as_a_missing_one(api):
    world = api.world
    mine, bobs, missing = world.accounts["alice"], world.accounts["bob"], 999_999

    def refusal(method, path, body):
        response = getattr(api, method)("alice", path, json=body)
        assert response.status_code == 422, response.text
        return response.json()["errors"][0]["message"].replace(str(bobs), "N").replace(str(missing), "N")

    for target in (bobs, missing):  # the answers for a record alice may not read and for none at all are the same
        assert refusal("post", "/api/records/contact", {"last_name": "Xu", "account": target}) == "account N does not exist"
        assert refusal("post", "/api/records/account", {"name": "Sub", "parent_account": target}) == "account N does not exist"
        assert refusal("post", "/api/records/activity", {"subject": "Call", "activity_type": "call", "related_object": "account",
                                                         "related_id": target}) == "account N does not exist"
        mine_now = api.get("alice", f"/api/records/account/{mine}").json()
        assert refusal("patch", f"/api/records/account/{mine}", {"parent_account": target, "version": mine_now["version"]}) \
            == "account N does not exist"
    # A link someone else made stays when alice changes something else, whatever the form sends back.
    root = api.get("root", f"/api/records/account/{mine}").json()
    assert api.patch("root", f"/api/records/account/{mine}", json={"parent_account": bobs, "version": root["version"]}).status_code == 200
    current = api.get("alice", f"/api/records/account/{mine}").json()
    kept = api.patch("alice", f"/api/records/account/{mine}", json={"phone": "110", "parent_account": bobs, "version": current["version"]})
    assert kept.status_code == 200 and kept.json()["parent_account"] == {"id": bobs, "label": None}


def test_sharing_over_http(api):
    world = api.world
    account = world.accounts["alice"]
    shared = api.post("alice", f"/api/records/account/{account}/shares", json={"user": world.users["carol"], "access": "read"})
    assert shared.status_code == 201 and shared.json()["user"]["label"] == "Carol"  # by full name, as lookups label users
    assert api.get("carol", f"/api/records/account/{account}").status_code == 200
    assert api.patch("carol", f"/api/records/account/{account}", json={"name": "X"}, headers={"If-Match": '"1"'}).status_code == 403
    assert api.post("carol", f"/api/records/account/{account}/shares", json={"user": world.users["vera"]}).status_code == 403
    bad = api.post("alice", f"/api/records/account/{account}/shares", json={"user": world.users["carol"], "access": "own"})
    assert bad.status_code == 400 and bad.json()["errors"] == [{"pointer": "/access", "message": "'own' is not one of 'read', 'edit'",
                                                                "code": "not_one_of",
                                                                "params": {"value": "'own'", "values": "'read', 'edit'", "hint": ""}}]
    assert api.post("alice", f"/api/records/account/{account}/shares", json={"group": 1}).status_code == 400
    share_id = shared.json()["id"]
    assert api.delete("alice", f"/api/records/account/{account}/shares/{share_id}").status_code == 204
    assert api.get("carol", f"/api/records/account/{account}").status_code == 404


def test_only_admins_make_admins(api):
    world = api.world
    cora = "cora"  # a customizer: may change the configuration, not make herself an admin
    escalate = api.put(cora, "/api/meta/roles/customizer", json={"label": {"en": "C", "zh-CN": "配"}, "admin": True})
    assert escalate.status_code == 403
    assert api.put("root", "/api/meta/roles/admin", json={"label": {"en": "A", "zh-CN": "管"}}).status_code == 422
    admin_role = api.get("root", "/api/records/role?permission_set=admin").json()["items"][0]
    cora_user = api.get("root", f"/api/records/user/{world.users['cora']}").json()
    assert api.put("root", "/api/meta/roles/customizer", json={"label": {"en": "C", "zh-CN": "配"}, "customizer": True,
                                                               "objects": {"user": {"read": "all", "update": "all"},
                                                                           "role": {"read": "all", "create": "all"}}}).status_code == 200
    given = api.patch(cora, f"/api/records/user/{cora_user['id']}", json={"role": admin_role["id"]}, headers={"If-Match": f'"{cora_user["version"]}"'})
    assert given.status_code == 403
    made = api.post(cora, "/api/records/role", json={"name": "Sneaky", "permission_set": "admin"})
    assert made.status_code == 403
    assert api.get(cora, "/api/auth/me").json()["admin"] is False
