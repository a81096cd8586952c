"""Permissions inside the record service: scopes, teams, field access, sharing, and the probes.

Every read is checked by SQL; these tests go through the record service as each person
of tests/access_world.py. The same matrix is exercised over HTTP in test_api_permissions.py.
"""

from __future__ import annotations

import pytest

from core.records import Forbidden, NotFound, QueryError, RecordValidationError


def names(page):
    return sorted(r["name"] for r in page.items)


def listed(world, who, object_name="account", **params):
    return world.runtime.records.list(world.actor(who), object_name, params)


# --- row scopes ------------------------------------------------------------------------------


def test_own_scope_reads_only_what_the_user_owns(world):
    assert names(listed(world, "alice")) == ["Alice Industries"]
    assert names(listed(world, "carol")) == ["Carol Industries"]


def test_team_scope_reads_what_members_of_my_teams_own(world):
    assert names(listed(world, "mike")) == ["Alice Industries", "Bob Industries", "Mike Industries"]


def test_all_scope_and_admin_read_everything(world):
    assert len(listed(world, "vera").items) == 4
    assert len(listed(world, "root").items) == 4


@pytest.mark.parametrize("who, object_name", [("alice", "contact"), ("mike", "contact"), ("vera", "account"), ("root", "account")])
def test_a_list_asked_which_records_may_be_changed_answers_as_the_update_check_does(world, who, object_name):
    """Team reads with own updates (alice's contacts), team updates (mike's), no update right (vera), no condition
    (an admin): the flags the list's statement adds agree with asking about each record on its own."""
    records, actor = world.runtime.records, world.actor(who)
    with records.reading(actor) as reader:
        page = reader.list(object_name, {"limit": 200}, updatable=True)
    ids = [r["id"] for r in page.items]
    assert ids and page.updatable == frozenset(records.updatable(actor, object_name, ids))
    if who == "alice":
        assert set() < page.updatable < set(ids)  # she reads her team's contacts, changes only her own


def test_no_role_reads_nothing_but_the_directory(world):
    with pytest.raises(Forbidden, match="may not read account"):
        listed(world, "nora")
    assert {u["username"] for u in listed(world, "nora", "user", limit=50).items} >= {"alice", "nora"}


def test_another_users_record_is_not_found_by_id(world):
    records, bob_account = world.runtime.records, world.accounts["bob"]
    with pytest.raises(NotFound):
        records.get(world.actor("alice"), "account", bob_account)
    with pytest.raises(NotFound):
        records.update(world.actor("alice"), "account", bob_account, {"name": "Mine now"}, version=1)
    with pytest.raises(NotFound):
        records.history(world.actor("alice"), "account", bob_account)
    assert records.get(world.actor("root"), "account", bob_account)["name"] == "Bob Industries"


def test_reading_is_not_changing(world):
    records = world.runtime.records
    with pytest.raises(Forbidden, match="may not update account"):
        records.update(world.actor("vera"), "account", world.accounts["bob"], {"name": "X"}, version=1)
    with pytest.raises(Forbidden, match="may not delete"):
        records.delete(world.actor("alice"), "account", world.accounts["alice"])
    with pytest.raises(Forbidden, match="may not create"):
        records.create(world.actor("vera"), "account", {"name": "New"})


def test_team_scope_updates_and_deletes_a_teammates_record_not_another_teams(world):
    records = world.runtime.records
    updated = records.update(world.actor("mike"), "account", world.accounts["alice"], {"name": "Alice Group"}, version=1)
    assert updated["name"] == "Alice Group"
    with pytest.raises(NotFound):
        records.update(world.actor("mike"), "account", world.accounts["carol"], {"name": "X"}, version=1)
    contact = records.list(world.actor("mike"), "contact", {"last_name": "Contact of bob"}).items[0]
    records.delete(world.actor("mike"), "contact", contact["id"])


def test_records_are_given_only_within_the_scope(world):
    records, users = world.runtime.records, world.users
    mine = records.create(world.actor("alice"), "account", {"name": "Alice Two"})
    assert mine["owner"]["id"] == users["alice"]
    with pytest.raises(RecordValidationError, match="owner: your role may only create account records owned by yourself"):
        records.create(world.actor("alice"), "account", {"name": "For Bob", "owner": users["bob"]})
    with pytest.raises(RecordValidationError, match="owner"):
        records.update(world.actor("alice"), "account", mine["id"], {"owner": users["bob"]}, version=mine["version"])
    given = records.create(world.actor("mike"), "account", {"name": "For Bob", "owner": users["bob"]})
    assert given["owner"]["id"] == users["bob"]
    with pytest.raises(RecordValidationError, match="yourself or a member of your teams"):
        records.create(world.actor("mike"), "account", {"name": "For Carol", "owner": users["carol"]})


def test_a_batch_with_one_row_out_of_scope_writes_nothing(world):
    records, users = world.runtime.records, world.users
    with pytest.raises(RecordValidationError, match="row 1"):
        records.create_many(world.actor("alice"), "account", [{"name": "Fine"}, {"name": "Not mine", "owner": users["carol"]}])
    assert names(listed(world, "alice")) == ["Alice Industries"]


# --- field access ---------------------------------------------------------------------------


def test_a_hidden_field_is_absent_from_every_read(world):
    records, actor = world.runtime.records, world.actor("alice")
    record = records.get(actor, "account", world.accounts["alice"])
    assert "account_number" not in record and record["annual_revenue"] == 1000
    assert all("account_number" not in r for r in listed(world, "alice").items)
    assert "account_number" in records.get(world.actor("mike"), "account", world.accounts["alice"])


@pytest.mark.parametrize("params", [
    {"account_number": "SECRET-alice"}, {"account_number__startswith": "SECRET"}, {"account_number__isnull": "false"},
    {"sort": "account_number"}, {"sort": "-account_number,name"},
])
def test_filtering_or_sorting_on_a_hidden_field_is_refused_as_if_it_did_not_exist(world, params):
    with pytest.raises(QueryError) as refused:
        listed(world, "alice", **params)
    assert "'account_number' is not a field of account" in str(refused.value)
    listed(world, "mike", **params)  # the manager may


def test_search_never_matches_a_hidden_field(world):
    assert listed(world, "alice", q="SECRET").items == []
    assert names(listed(world, "alice", q="Alice")) == ["Alice Industries"]
    assert names(listed(world, "mike", q="SECRET-bob")) == ["Bob Industries"]


def test_writing_a_hidden_field_is_answered_like_an_unknown_one_and_never_suggested(world):
    records, actor = world.runtime.records, world.actor("alice")
    with pytest.raises(RecordValidationError) as refused:
        records.update(actor, "account", world.accounts["alice"], {"account_numbr": "X"}, version=1)
    assert "account_number" not in str(refused.value).replace("account_numbr", "")
    with pytest.raises(RecordValidationError, match="account_number: is not a field of account"):
        records.update(actor, "account", world.accounts["alice"], {"account_number": "X"}, version=1)


def test_a_read_field_is_shown_but_cannot_be_changed(world):
    records, actor = world.runtime.records, world.actor("alice")
    with pytest.raises(RecordValidationError, match="annual_revenue: your role may see this field but not change it"):
        records.update(actor, "account", world.accounts["alice"], {"annual_revenue": 5}, version=1)
    with pytest.raises(RecordValidationError, match="annual_revenue"):
        records.create(actor, "account", {"name": "Rich", "annual_revenue": 5})
    assert records.get(actor, "account", world.accounts["alice"])["annual_revenue"] == 1000


def test_history_and_conflicts_leave_hidden_fields_out(world):
    records, system = world.runtime.records, world.actor("root")
    account = world.accounts["alice"]
    records.update(system, "account", account, {"account_number": "SECRET-2", "name": "Alice AG"}, version=1)
    assert {h["field"] for h in records.history(world.actor("alice"), "account", account)} == {"name"}
    assert {h["field"] for h in records.history(system, "account", account)} == {"name", "account_number"}
    from core.records import Conflict

    with pytest.raises(Conflict) as stale:
        records.update(world.actor("alice"), "account", account, {"name": "Late"}, version=1)
    assert [c["field"] for c in stale.value.changes] == ["name"]


def test_a_lookup_label_shows_only_what_the_reader_may_read(world):
    records, actor = world.runtime.records, world.actor("alice")
    bob_contact = records.list(actor, "contact", {"last_name": "Contact of bob"}).items[0]  # contacts: team scope
    assert bob_contact["account"] == {"id": world.accounts["bob"], "label": None}  # bob's account is not alice's to read
    own = records.list(actor, "contact", {"last_name": "Contact of alice"}).items[0]
    assert own["account"] == {"id": world.accounts["alice"], "label": "Alice Industries"}


def test_filtering_by_a_lookup_to_an_unreadable_record_finds_no_more_than_it_may(world):
    carol_contacts = listed(world, "alice", "contact", account=world.accounts["carol"])
    assert carol_contacts.items == []  # carol is in another team


# --- sharing --------------------------------------------------------------------------------


def test_sharing_a_record_with_a_user_lets_them_read_it(world):
    records, alice, carol = world.runtime.records, world.actor("alice"), world.actor("carol")
    account = world.accounts["alice"]
    entry = records.share(alice, "account", account, user=world.users["carol"])
    assert entry["user"] == {"id": world.users["carol"], "label": "Carol"} and entry["access"] == "read"
    assert names(listed(world, "carol")) == ["Alice Industries", "Carol Industries"]
    assert records.get(carol, "account", account)["name"] == "Alice Industries"
    with pytest.raises(Forbidden):
        records.update(carol, "account", account, {"name": "Carol's now"}, version=1)
    records.share(alice, "account", account, user=world.users["carol"], level="edit")
    assert records.update(carol, "account", account, {"name": "Shared AG"}, version=1)["name"] == "Shared AG"
    assert len(records.shares(alice, "account", account)) == 1
    records.unshare(alice, "account", account, entry["id"])
    with pytest.raises(NotFound):
        records.get(carol, "account", account)


def test_sharing_with_a_team_reaches_its_members(world):
    records = world.runtime.records
    west = records.list(world.actor("root"), "team", {"name": "West"}).items[0]["id"]
    records.share(world.actor("bob"), "account", world.accounts["bob"], team=west)
    assert "Bob Industries" in names(listed(world, "carol"))
    assert "Bob Industries" not in names(listed(world, "alice"))


def test_only_who_may_update_a_record_may_share_it(world):
    records = world.runtime.records
    with pytest.raises(Forbidden):
        records.share(world.actor("vera"), "account", world.accounts["bob"], user=world.users["vera"])
    with pytest.raises(NotFound):
        records.share(world.actor("alice"), "account", world.accounts["bob"], user=world.users["alice"])
    with pytest.raises(RecordValidationError, match="user 9999 does not exist"):
        records.share(world.actor("alice"), "account", world.accounts["alice"], user=9999)


# --- counts -----------------------------------------------------------------------------------


def test_counts_are_capped_unless_asked_exact(world, monkeypatch):
    import core.records.reading

    monkeypatch.setattr(core.records.reading, "COUNT_CAP", 2)
    capped = listed(world, "root", count="true", limit=1)
    assert (capped.count, capped.count_capped) == (2, True)
    exact = listed(world, "root", count="exact", limit=1)
    assert (exact.count, exact.count_capped) == (4, False)
    assert listed(world, "alice", count="exact").count == 1
    with pytest.raises(QueryError, match="count=exact"):
        listed(world, "root", count="maybe")
