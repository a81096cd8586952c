"""The record service: CRUD, validation, concurrency, history, list queries, relations.

Every test runs on a real SQLite file and a real PostgreSQL database (see conftest.py).
"""

from __future__ import annotations

import pytest

import core.records.writing as records_module
from core.records import Actor, BatchValidationError, Conflict, NotFound, QueryError, RecordError, RecordValidationError, Refused
from helpers import changeset, label

# A custom object exercising what the base objects lack: autonumber, unique, bounded
# decimal, a cascading lookup and a many-to-many relation carrying its own 'role' field.
TICKET = {
    "name": "ticket",
    "label": label("Ticket"),
    "title_field": "subject",
    "fields": [
        {"name": "subject", "type": "text", "label": label("Subject"), "required": True, "searchable": True},
        {"name": "number", "type": "autonumber", "label": label("Number"), "prefix": "TCK-", "padding": 6},
        {"name": "code", "type": "text", "label": label("Code"), "unique": True, "max_length": 20},
        {"name": "score", "type": "decimal", "label": label("Score"), "min": 0, "max": 10, "scale": 2},
        {"name": "account", "type": "lookup", "label": label("Account"), "target": "account", "on_delete": "cascade"},
        {
            "name": "contacts",
            "type": "many_to_many",
            "label": label("Contacts"),
            "target": "contact",
            "through_fields": [
                {
                    "name": "role",
                    "type": "picklist",
                    "label": label("Role"),
                    "values": [
                        {"value": "decision_maker", "label": label("Decision maker")},
                        {"value": "influencer", "label": label("Influencer")},
                    ],
                }
            ],
        },
    ],
}


@pytest.fixture
def records(runtime):
    return runtime.records


@pytest.fixture
def ticket(runtime):
    runtime.import_changeset(changeset(TICKET), "test", "tester")
    return "ticket"


def count(records, actor, object_name, **params):
    return records.list(actor, object_name, {**params, "count": "true"}).count


def names(page, field="name"):
    return [item[field] for item in page.items]


def only_error(exc_info) -> tuple[str, str]:
    errors = exc_info.value.errors
    assert len(errors) == 1, errors
    return errors[0].field, errors[0].message


# --- create / get / list / update / delete / restore ---------------------------------------


def test_create_returns_the_record_with_system_fields(records, actor):
    user = records.create(actor, "user", {"username": "alice"})
    alice = Actor(user["id"], "alice")

    account = records.create(alice, "account", {"name": "Acme", "employees": 12})

    assert account["name"] == "Acme" and account["employees"] == 12
    assert isinstance(account["id"], int)
    assert account["version"] == 1
    assert account["created_at"].endswith("Z") and account["updated_at"] == account["created_at"]
    assert account["created_by"] == user["id"] and account["updated_by"] == user["id"]
    assert account["owner"] == {"id": user["id"], "label": "alice"}
    assert "deleted_at" not in account


def test_get_and_list_return_the_created_record(records, actor):
    created = records.create(actor, "account", {"name": "Acme", "industry": "finance"})

    assert records.get(actor, "account", created["id"]) == created
    assert records.list(actor, "account").items == [created]


def test_get_of_a_missing_record_is_not_found(records, actor):
    with pytest.raises(NotFound, match="account 999999 does not exist"):
        records.get(actor, "account", 999999)


def test_update_changes_only_the_given_fields_and_increments_the_version(records, actor):
    created = records.create(actor, "account", {"name": "Acme", "employees": 12})

    updated = records.update(actor, "account", created["id"], {"employees": 40}, version=1)

    assert updated["version"] == 2
    assert updated["employees"] == 40 and updated["name"] == "Acme"
    assert updated["created_at"] == created["created_at"]
    assert records.get(actor, "account", created["id"]) == updated


def test_update_accepts_the_version_inside_the_body(records, actor):
    created = records.create(actor, "account", {"name": "Acme"})

    updated = records.update(actor, "account", created["id"], {"name": "Acme Ltd", "version": 1})

    assert updated["name"] == "Acme Ltd" and updated["version"] == 2


def test_soft_deleted_record_is_hidden_from_get_and_list(records, actor):
    kept = records.create(actor, "account", {"name": "Kept"})
    gone = records.create(actor, "account", {"name": "Gone"})

    records.delete(actor, "account", gone["id"])

    with pytest.raises(NotFound):
        records.get(actor, "account", gone["id"])
    assert names(records.list(actor, "account")) == ["Kept"]
    assert count(records, actor, "account") == 1
    assert records.get(actor, "account", gone["id"], include_deleted=True)["deleted_at"] is not None
    assert records.get(actor, "account", kept["id"])["name"] == "Kept"


def test_restore_brings_a_deleted_record_back(records, actor):
    created = records.create(actor, "account", {"name": "Acme"})
    records.update(actor, "account", created["id"], {"name": "Acme Ltd"}, version=1)
    records.delete(actor, "account", created["id"])

    restored = records.restore(actor, "account", created["id"])

    assert restored["name"] == "Acme Ltd"
    assert restored["version"] == 4  # created 1, updated 2, deleted 3, restored 4
    assert "deleted_at" not in restored
    assert records.get(actor, "account", created["id"]) == restored
    assert names(records.list(actor, "account")) == ["Acme Ltd"]


def test_restoring_a_live_record_is_not_found(records, actor):
    created = records.create(actor, "account", {"name": "Acme"})

    with pytest.raises(NotFound, match="not a deleted record"):
        records.restore(actor, "account", created["id"])


# --- validation: each error names its field, and nothing is written --------------------------

INVALID = [
    pytest.param("account", {"name": "Acme", "employees": "many"}, "employees", "must be a whole number", id="text-in-integer"),
    pytest.param("account", {"name": "x" * 201}, "name", "at most 200", id="over-max-length"),
    pytest.param("account", {"name": "Acme", "year_established": 999}, "year_established", "must be at least 1000", id="below-min"),
    pytest.param("account", {"name": "Acme", "year_established": 2101}, "year_established", "must be at most 2100", id="above-max"),
    pytest.param("account", {"name": "Acme", "account_type": "custmer"}, "account_type", "did you mean 'customer'?", id="unknown-picklist-value"),
    pytest.param("account", {"name": "Acme", "nmae": "Acme"}, "nmae", "is not a field of account (did you mean 'name'?)", id="unknown-field"),
    pytest.param("account", {"name": "Acme", "created_at": "2026-01-01T00:00:00Z"}, "created_at", "is set by the system and cannot be written", id="system-field"),
    pytest.param("account", {"employees": 3}, "name", "is required", id="missing-required"),
    pytest.param("account", {"name": ""}, "name", "is required", id="empty-required"),
    pytest.param("contact", {"last_name": "Li", "account": 999999}, "account", "account 999999 does not exist", id="lookup-to-missing-record"),
]


@pytest.mark.parametrize("object_name, data, field, message", INVALID)
def test_create_refuses_invalid_values_naming_the_field(records, actor, object_name, data, field, message):
    with pytest.raises(RecordValidationError) as info:
        records.create(actor, object_name, data)

    error_field, error_message = only_error(info)
    assert error_field == field
    assert message in error_message
    assert count(records, actor, object_name) == 0


def test_decimal_bounds_and_scale_are_checked(records, actor, ticket):
    for value, message in [(10.5, "must be at most 10"), (-1, "must be at least 0"), ("1.234", "more than 2 decimal places")]:
        with pytest.raises(RecordValidationError) as info:
            records.create(actor, ticket, {"subject": "Broken", "score": value})
        field, error_message = only_error(info)
        assert field == "score" and message in error_message
    assert count(records, actor, ticket) == 0


def test_lookup_to_a_soft_deleted_record_is_refused(records, actor):
    account = records.create(actor, "account", {"name": "Gone"})
    records.delete(actor, "account", account["id"])

    with pytest.raises(RecordValidationError) as info:
        records.create(actor, "contact", {"last_name": "Li", "account": account["id"]})

    assert only_error(info) == ("account", f"account {account['id']} does not exist")
    assert count(records, actor, "contact") == 0


@pytest.mark.parametrize("body", [["name", "Acme"], "Acme", None])
def test_a_body_that_is_not_an_object_is_refused(records, actor, body):
    with pytest.raises(RecordValidationError, match="must be a JSON object"):
        records.create(actor, "account", body)
    assert count(records, actor, "account") == 0


def test_invalid_update_changes_nothing(records, actor):
    created = records.create(actor, "account", {"name": "Acme", "employees": 12})

    with pytest.raises(RecordValidationError) as info:
        records.update(actor, "account", created["id"], {"name": "Acme Ltd", "employees": -5}, version=1)

    assert only_error(info) == ("employees", "must be at least 0")
    assert records.get(actor, "account", created["id"]) == created
    assert records.history(actor, "account", created["id"]) == []


# --- optimistic concurrency ----------------------------------------------------------------


def test_update_with_a_stale_version_is_a_conflict_and_changes_nothing(records, actor):
    created = records.create(actor, "account", {"name": "Acme", "employees": 1})
    current = records.update(actor, "account", created["id"], {"employees": 2}, version=1)

    with pytest.raises(Conflict) as info:
        records.update(actor, "account", created["id"], {"name": "Overwritten"}, version=1)

    assert info.value.current_version == 2
    assert "version 1" in str(info.value) and "version 2" in str(info.value)
    assert records.get(actor, "account", created["id"]) == current
    assert [h["field"] for h in records.history(actor, "account", created["id"])] == ["employees"]


def test_update_without_a_version_is_refused(records, actor):
    created = records.create(actor, "account", {"name": "Acme"})

    with pytest.raises(RecordError, match="must carry the record's version"):
        records.update(actor, "account", created["id"], {"name": "Acme Ltd"})

    assert records.get(actor, "account", created["id"]) == created


def test_two_runtimes_updating_the_same_version_one_wins_the_other_sees_the_change(runtime, second_runtime, actor):
    created = runtime.records.create(actor, "account", {"name": "Acme", "employees": 1})
    mine = runtime.records.get(actor, "account", created["id"])
    theirs = second_runtime.records.get(actor, "account", created["id"])
    assert mine["version"] == theirs["version"] == 1
    other = Actor(None, "bob")

    second_runtime.records.update(other, "account", created["id"], {"employees": 99}, version=theirs["version"])
    with pytest.raises(Conflict) as info:
        runtime.records.update(actor, "account", created["id"], {"name": "Acme Ltd"}, version=mine["version"])

    assert info.value.current_version == 2
    assert [(c["field"], c["old"], c["new"], c["changed_by_name"]) for c in info.value.changes] == [("employees", 1, 99, "bob")]
    final = runtime.records.get(actor, "account", created["id"])
    assert (final["name"], final["employees"], final["version"]) == ("Acme", 99, 2)


# --- field history ---------------------------------------------------------------------------


def test_history_records_each_changed_field_with_old_new_who_and_version(records, actor):
    created = records.create(actor, "account", {"name": "Acme", "employees": 12, "industry": "finance"})
    alice = Actor(None, "alice")

    records.update(alice, "account", created["id"], {"name": "Acme Ltd", "employees": 12, "industry": "retail"}, version=1)
    records.update(actor, "account", created["id"], {"annual_revenue": "1000.50"}, version=2)

    rows = [(h["field"], h["old"], h["new"], h["changed_by_name"], h["version"]) for h in records.history(actor, "account", created["id"])]
    assert sorted(rows[:2]) == [("industry", "finance", "retail", "alice", 2), ("name", "Acme", "Acme Ltd", "alice", 2)]
    assert rows[2:] == [("annual_revenue", None, 1000.5, "tester", 3)]


def test_an_update_that_changes_nothing_writes_no_history_and_keeps_the_version(records, actor):
    created = records.create(actor, "account", {"name": "Acme", "employees": 12})

    same = records.update(actor, "account", created["id"], {"name": "Acme", "employees": 12}, version=1)

    assert same["version"] == 1
    assert records.history(actor, "account", created["id"]) == []


# --- list filters, sort, paging, search ------------------------------------------------------


@pytest.fixture
def accounts(records, actor):
    rows = [
        {"name": "Acme Corp", "employees": 10, "annual_revenue": "1000.50", "account_type": "customer", "account_number": "A-1"},
        {"name": "beta Labs", "employees": 50, "annual_revenue": "5000", "account_type": "prospect", "billing_city": "Springfield"},
        {"name": "Gamma", "employees": 200, "annual_revenue": "250.25", "account_type": "customer"},
        {"name": "Delta", "employees": 5, "annual_revenue": "1000.49"},
    ]
    return [records.create(actor, "account", row) for row in rows]


def listed(records, actor, object_name="account", field="name", **params):
    return sorted(names(records.list(actor, object_name, params), field))


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"account_type": "customer"}, ["Acme Corp", "Gamma"]),
        ({"account_type__ne": "customer"}, ["Delta", "beta Labs"]),
        ({"employees__gt": "10"}, ["Gamma", "beta Labs"]),
        ({"employees__gte": "10"}, ["Acme Corp", "Gamma", "beta Labs"]),
        ({"employees__lt": "50"}, ["Acme Corp", "Delta"]),
        ({"employees__lte": "50"}, ["Acme Corp", "Delta", "beta Labs"]),
        ({"annual_revenue__gte": "1000.50"}, ["Acme Corp", "beta Labs"]),
        ({"annual_revenue__lt": "1000.50"}, ["Delta", "Gamma"]),
        ({"account_type__in": "prospect,partner"}, ["beta Labs"]),
        ({"name__contains": "ACME"}, ["Acme Corp"]),
        ({"name__contains": "LAB"}, ["beta Labs"]),
        ({"name__startswith": "Gam"}, ["Gamma"]),
        ({"account_type__isnull": "true"}, ["Delta"]),
        ({"account_type": "customer", "employees__gt": "100"}, ["Gamma"]),
    ],
    ids=lambda value: str(value) if isinstance(value, dict) else None,
)
def test_list_filters(records, actor, accounts, params, expected):
    assert listed(records, actor, **params) == expected


def test_list_filters_on_dates(records, actor):
    for subject, due in [("early", "2026-01-15"), ("middle", "2026-02-01"), ("late", "2026-03-01")]:
        records.create(actor, "activity", {"subject": subject, "due_date": due})

    assert listed(records, actor, "activity", "subject", due_date="2026-02-01") == ["middle"]
    assert listed(records, actor, "activity", "subject", due_date__gt="2026-02-01") == ["late"]
    assert listed(records, actor, "activity", "subject", due_date__gte="2026-02-01") == ["late", "middle"]
    assert listed(records, actor, "activity", "subject", due_date__lt="2026-02-01") == ["early"]
    assert listed(records, actor, "activity", "subject", due_date__lte="2026-02-01") == ["early", "middle"]


def test_list_filters_on_boolean_and_lookup_isnull(records, actor):
    account = records.create(actor, "account", {"name": "Acme"})
    records.create(actor, "contact", {"last_name": "Li", "account": account["id"], "do_not_call": True})
    records.create(actor, "contact", {"last_name": "Wu"})

    assert listed(records, actor, "contact", "last_name", do_not_call="true") == ["Li"]
    assert listed(records, actor, "contact", "last_name", do_not_call="false") == ["Wu"]
    assert listed(records, actor, "contact", "last_name", account__isnull="true") == ["Wu"]
    assert listed(records, actor, "contact", "last_name", account__isnull="false") == ["Li"]
    assert listed(records, actor, "contact", "last_name", account=str(account["id"])) == ["Li"]


def test_list_sorts_by_several_fields_including_descending(records, actor, accounts):
    page = records.list(actor, "account", {"account_type__isnull": "false", "sort": "account_type,-employees"})

    assert names(page) == ["Gamma", "Acme Corp", "beta Labs"]


def test_list_default_order_is_newest_first(records, actor, accounts):
    assert names(records.list(actor, "account")) == ["Delta", "Gamma", "beta Labs", "Acme Corp"]


def test_list_pages_with_limit_offset_and_has_more(records, actor, accounts):
    first = records.list(actor, "account", {"sort": "employees", "limit": "2"})
    last = records.list(actor, "account", {"sort": "employees", "limit": "2", "offset": "2"})
    exact = records.list(actor, "account", {"limit": "4"})

    assert (names(first), first.has_more) == (["Delta", "Acme Corp"], True)
    assert (names(last), last.has_more) == (["beta Labs", "Gamma"], False)
    assert (len(exact.items), exact.has_more) == (4, False)


def test_list_counts_only_when_asked(records, actor, accounts):
    plain = records.list(actor, "account", {"limit": "1"})
    counted = records.list(actor, "account", {"limit": "1", "count": "true", "account_type": "customer"})

    assert plain.count is None and "count" not in plain.as_dict()
    assert counted.count == 2 and counted.as_dict()["count"] == 2
    assert len(counted.items) == 1 and counted.has_more


def test_text_search_covers_searchable_fields_only(records, actor, accounts):
    assert listed(records, actor, q="acme") == ["Acme Corp"]
    assert listed(records, actor, q="a-1") == ["Acme Corp"]  # account_number is searchable
    assert listed(records, actor, q="LABS") == ["beta Labs"]
    assert listed(records, actor, q="springfield") == []  # billing_city is not


@pytest.mark.parametrize(
    "params, parameter, message",
    [
        ({"employes__gte": "5"}, "employes__gte", "'employes' is not a field of account (did you mean 'employees'?)"),
        ({"sort": "-nmae"}, "sort", "'nmae' is not a field of account (did you mean 'name'?)"),
        ({"name__like": "Acme"}, "name__like", "'like' is not a filter operator"),
        ({"account_type__gte": "customer"}, "account_type__gte", "'gte' does not apply to picklist field 'account_type'"),
        ({"annual_revenue__gte": "abc"}, "annual_revenue__gte", "'abc' is not a number"),
        ({"employees": "ten"}, "employees", "'ten' is not a whole number"),
        ({"limit": "0"}, "limit", "limit must be between 1 and 500"),
        ({"limit": "501"}, "limit", "limit must be between 1 and 500"),
    ],
    ids=lambda value: str(value) if isinstance(value, dict) else None,
)
def test_bad_list_queries_name_the_parameter(records, actor, params, parameter, message):
    with pytest.raises(QueryError) as info:
        records.list(actor, "account", params)

    assert [p["parameter"] for p in info.value.problems] == [parameter]
    assert message in info.value.problems[0]["message"]
    assert parameter in str(info.value)


def test_a_bad_date_filter_value_is_a_query_error(records, actor):
    with pytest.raises(QueryError) as info:
        records.list(actor, "activity", {"due_date__gt": "soon"})

    assert info.value.problems == [{"parameter": "due_date__gt", "message": "'soon' is not a date (use YYYY-MM-DD)"}]


# --- lookups and their labels ------------------------------------------------------------------


def test_lookups_are_listed_with_their_label(records, actor):
    account = records.create(actor, "account", {"name": "Acme"})
    records.create(actor, "contact", {"last_name": "Li", "account": account["id"]})

    [contact] = records.list(actor, "contact").items

    assert contact["account"] == {"id": account["id"], "label": "Acme"}


def test_related_to_of_an_activity_gets_its_label(records, actor):
    account = records.create(actor, "account", {"name": "Acme"})
    contact = records.create(actor, "contact", {"last_name": "Li"})
    records.create(actor, "activity", {"subject": "Call", "related_object": "account", "related_id": account["id"]})
    records.create(actor, "activity", {"subject": "Mail", "related_object": "contact", "related_id": contact["id"]})

    related = {a["subject"]: a["related_id"] for a in records.list(actor, "activity").items}

    assert related == {
        "Call": {"id": account["id"], "object": "account", "label": "Acme"},
        "Mail": {"id": contact["id"], "object": "contact", "label": "Li"},
    }


def test_related_to_a_missing_record_is_refused(records, actor):
    with pytest.raises(RecordValidationError) as info:
        records.create(actor, "activity", {"subject": "Call", "related_object": "account", "related_id": 999999})

    assert only_error(info) == ("related_id", "account 999999 does not exist")
    assert count(records, actor, "activity") == 0


def test_related_to_an_unknown_object_is_refused(records, actor):
    with pytest.raises(RecordValidationError) as info:
        records.create(actor, "activity", {"subject": "Call", "related_object": "acount", "related_id": 1})

    assert only_error(info) == ("related_id", "'acount' is not an object")


def test_related_to_can_be_repointed_without_resending_its_object(records, actor):
    first = records.create(actor, "account", {"name": "Acme"})
    second = records.create(actor, "account", {"name": "Beta"})
    activity = records.create(actor, "activity", {"subject": "Call", "related_object": "account", "related_id": first["id"]})

    updated = records.update(actor, "activity", activity["id"], {"related_id": second["id"]}, version=1)

    assert updated["related_id"] == {"id": second["id"], "object": "account", "label": "Beta"}


# --- on_delete ------------------------------------------------------------------------------


def test_deleting_an_account_unlinks_its_contacts_with_history(records, actor):
    account = records.create(actor, "account", {"name": "Acme"})
    linked = records.create(actor, "contact", {"last_name": "Li", "account": account["id"]})
    other = records.create(actor, "contact", {"last_name": "Wu"})

    records.delete(Actor(None, "alice"), "account", account["id"])

    contact = records.get(actor, "contact", linked["id"])
    assert contact["account"] is None and contact["version"] == 2
    history = records.history(actor, "contact", linked["id"])
    assert [(h["field"], h["old"], h["new"], h["changed_by_name"], h["version"]) for h in history] == [
        ("account", account["id"], None, "alice", 2)
    ]
    assert records.get(actor, "contact", other["id"]) == other


def test_deleting_a_role_still_used_by_a_user_is_refused(records, actor):
    role = records.create(actor, "role", {"name": "Sales"})
    user = records.create(actor, "user", {"username": "alice", "role": role["id"]})

    with pytest.raises(Refused) as info:
        records.delete(actor, "role", role["id"])

    assert "user.role" in str(info.value)
    assert records.get(actor, "role", role["id"]) == role
    assert records.get(actor, "user", user["id"]) == user


def test_deleting_an_account_cascades_to_its_tickets(records, actor, ticket):
    account = records.create(actor, "account", {"name": "Acme"})
    child = records.create(actor, ticket, {"subject": "Broken", "account": account["id"]})
    unrelated = records.create(actor, ticket, {"subject": "Other"})

    records.delete(actor, "account", account["id"])

    with pytest.raises(NotFound):
        records.get(actor, ticket, child["id"])
    assert records.get(actor, ticket, child["id"], include_deleted=True)["deleted_at"] is not None
    assert names(records.list(actor, ticket), "subject") == ["Other"]
    assert records.get(actor, ticket, unrelated["id"]) == unrelated


# --- many-to-many with a through field ----------------------------------------------------


@pytest.fixture
def people(records, actor):
    return [records.create(actor, "contact", {"last_name": name})["id"] for name in ("Li", "Wu", "Zhao")]


def test_many_to_many_links_are_returned_with_labels_and_role(records, actor, ticket, people):
    li, wu, _ = people

    created = records.create(actor, ticket, {"subject": "Deal", "contacts": [{"id": li, "role": "decision_maker"}, {"id": wu}]})

    expected = [{"id": li, "label": "Li", "role": "decision_maker"}, {"id": wu, "label": "Wu", "role": None}]
    assert created["contacts"] == expected
    assert records.get(actor, ticket, created["id"])["contacts"] == expected


def test_many_to_many_update_replaces_the_set_and_writes_history(records, actor, ticket, people):
    li, wu, zhao = people
    created = records.create(actor, ticket, {"subject": "Deal", "contacts": [{"id": li, "role": "decision_maker"}]})

    updated = records.update(actor, ticket, created["id"], {"contacts": [{"id": wu, "role": "influencer"}, zhao]}, version=1)

    assert updated["version"] == 2
    assert updated["contacts"] == [{"id": wu, "label": "Wu", "role": "influencer"}, {"id": zhao, "label": "Zhao", "role": None}]
    assert [(h["field"], h["old"], h["new"], h["version"]) for h in records.history(actor, ticket, created["id"])] == [
        ("contacts", [{"id": li, "role": "decision_maker"}], [{"id": wu, "role": "influencer"}, {"id": zhao, "role": None}], 2)
    ]


def test_changing_only_a_link_role_is_history(records, actor, ticket, people):
    li, _wu, _zhao = people
    created = records.create(actor, ticket, {"subject": "Deal", "contacts": [{"id": li, "role": "decision_maker"}]})

    updated = records.update(actor, ticket, created["id"], {"contacts": [{"id": li, "role": "influencer"}]}, version=1)

    assert updated["version"] == 2 and updated["contacts"][0]["role"] == "influencer"
    assert [(h["old"], h["new"]) for h in records.history(actor, ticket, created["id"])] == [
        ([{"id": li, "role": "decision_maker"}], [{"id": li, "role": "influencer"}])
    ]


def test_resending_the_same_links_changes_nothing(records, actor, ticket, people):
    li, wu, _zhao = people
    created = records.create(actor, ticket, {"subject": "Deal", "contacts": [li, {"id": wu, "role": "influencer"}]})

    same = records.update(actor, ticket, created["id"], {"contacts": [{"id": wu, "role": "influencer"}, li]}, version=1)

    assert same["version"] == 1
    assert records.history(actor, ticket, created["id"]) == []


def test_list_filters_by_a_many_to_many_field(records, actor, ticket, people):
    li, wu, zhao = people
    records.create(actor, ticket, {"subject": "One", "contacts": [li, wu]})
    records.create(actor, ticket, {"subject": "Two", "contacts": [wu]})
    records.create(actor, ticket, {"subject": "Three"})

    assert listed(records, actor, ticket, "subject", contacts=str(li)) == ["One"]
    assert listed(records, actor, ticket, "subject", contacts=str(wu)) == ["One", "Two"]
    assert listed(records, actor, ticket, "subject", contacts__in=f"{li},{zhao}") == ["One"]


def test_many_to_many_link_to_a_missing_record_is_refused(records, actor, ticket, people):
    with pytest.raises(RecordValidationError) as info:
        records.create(actor, ticket, {"subject": "Deal", "contacts": [people[0], 999999]})

    assert only_error(info) == ("contacts", "contact 999999 does not exist")
    assert count(records, actor, ticket) == 0


def test_many_to_many_link_with_an_unknown_role_is_a_validation_error(records, actor, ticket, people):
    with pytest.raises(RecordValidationError) as info:
        records.create(actor, ticket, {"subject": "Deal", "contacts": [{"id": people[0], "role": "boss"}]})

    field, message = only_error(info)
    assert field == "contacts" and "'boss'" in message
    assert count(records, actor, ticket) == 0


# --- autonumber ---------------------------------------------------------------------------


def test_autonumbers_are_assigned_in_order(records, actor, ticket):
    first = records.create(actor, ticket, {"subject": "One"})
    second = records.create(actor, ticket, {"subject": "Two"})
    ids = records.create_many(actor, ticket, [{"subject": "Three"}, {"subject": "Four"}])

    assert (first["number"], second["number"]) == ("TCK-000001", "TCK-000002")
    assert [records.get(actor, ticket, i)["number"] for i in ids] == ["TCK-000003", "TCK-000004"]


def test_an_autonumber_cannot_be_written(records, actor, ticket):
    created = records.create(actor, ticket, {"subject": "One"})

    for attempt in (
        lambda: records.create(actor, ticket, {"subject": "Two", "number": "TCK-000009"}),
        lambda: records.update(actor, ticket, created["id"], {"number": "TCK-000009"}, version=1),
    ):
        with pytest.raises(RecordValidationError) as info:
            attempt()
        field, message = only_error(info)
        assert field == "number"
        assert "not a field" not in message, f"'number' is a field of ticket, it is just not writable: {message!r}"
    assert records.get(actor, ticket, created["id"]) == created
    assert count(records, actor, ticket) == 1


def test_a_unique_value_cannot_be_used_twice(records, actor, ticket):
    records.create(actor, ticket, {"subject": "One", "code": "X-1"})

    with pytest.raises(RecordValidationError) as info:
        records.create(actor, ticket, {"subject": "Two", "code": "X-1"})

    assert only_error(info) == ("code", "'X-1' is already used by another ticket; it must be unique")
    assert count(records, actor, ticket) == 1


# --- create_many --------------------------------------------------------------------------


def test_create_many_creates_every_row(records, actor):
    ids = records.create_many(actor, "account", [{"name": "One"}, {"name": "Two"}, {"name": "Three"}])

    assert [records.get(actor, "account", i)["name"] for i in ids] == ["One", "Two", "Three"]


@pytest.mark.parametrize(
    "bad_row, field, message",
    [
        ({"subject": "Bad", "score": 11}, "score", "must be at most 10"),
        ({"subject": "Bad", "account": 999999}, "account", "account 999999 does not exist"),
        ({"score": 1}, "subject", "is required"),
    ],
    ids=["invalid-value", "missing-reference", "missing-required"],
)
def test_create_many_with_one_bad_row_writes_nothing(records, actor, ticket, bad_row, field, message):
    rows = [{"subject": "One"}, {"subject": "Two"}, bad_row, {"subject": "Four"}]

    with pytest.raises(BatchValidationError) as info:
        records.create_many(actor, ticket, rows)

    assert list(info.value.rows) == [2]
    assert [(e.field, e.message) for e in info.value.rows[2]] == [(field, message)]
    assert "row 2" in str(info.value)
    assert count(records, actor, ticket) == 0
    assert records.create(actor, ticket, {"subject": "After"})["number"] == "TCK-000001"


def test_create_many_names_the_row_whose_unique_value_is_taken(records, actor, ticket):
    records.create(actor, ticket, {"subject": "Existing", "code": "X-1"})

    with pytest.raises(BatchValidationError) as info:
        records.create_many(actor, ticket, [{"subject": "One", "code": "X-2"}, {"subject": "Two", "code": "X-1"}])

    assert [e.field for e in info.value.rows[1]] == ["code"]
    assert list(info.value.rows) == [1]
    assert count(records, actor, ticket) == 1


@pytest.fixture
def scored(runtime):
    """A runtime with a 'gadget' object whose 'score' is read-only."""
    from helpers import changeset, label

    gadget = {"name": "gadget", "label": label("Gadget"), "fields": [
        {"name": "title", "type": "text", "label": label("Title")},
        {"name": "score", "type": "integer", "read_only": True, "label": label("Score")}]}
    runtime.import_changeset(changeset(gadget), "change.json", "tester")
    return runtime


def test_read_only_fields_are_refused_from_users_but_not_from_hooks(scored, actor):
    rt = scored
    with pytest.raises(RecordValidationError) as info:
        rt.records.create(actor, "gadget", {"title": "A", "score": 5})
    assert [(e.field, e.message) for e in info.value.errors] == [("score", "is read-only: it is set by the system")]
    created = rt.records.create(actor, "gadget", {"title": "A"})
    with rt.writing() as (conn, schema):
        from core.records import TransactionRecords

        TransactionRecords(rt.records, conn, schema, actor).update("gadget", created["id"], {"score": 7})
    assert rt.records.get(actor, "gadget", created["id"])["score"] == 7


def test_sending_back_an_unchanged_read_only_value_is_not_a_write(scored, actor):
    rt = scored
    created = rt.records.create(actor, "gadget", {"title": "A"})
    updated = rt.records.update(actor, "gadget", created["id"], {"title": "B", "score": None}, version=1)
    assert updated["title"] == "B"
    with pytest.raises(RecordValidationError, match="score: is read-only"):
        rt.records.update(actor, "gadget", created["id"], {"score": 3}, version=2)


def test_each_walks_every_matching_record_across_pages(runtime, actor):
    runtime.records.create_many(actor, "product", [{"name": f"Part {i:04d}", "family": "spare_part" if i % 3 else "hardware"}
                                                   for i in range(1_200)])
    names = [p["name"] for p in runtime.records.each(actor, "product", {"family": "spare_part", "sort": "name"})]
    assert len(names) == 800 and names == sorted(names) and len(set(names)) == 800
    with runtime.records.transaction(actor) as records:
        assert sum(1 for _ in records.each("product", {"family": "hardware"})) == 400


# --- the bulk path: create_many and imports write several rows with one statement --------------

# One field of each kind the one-statement insert converts (texts, numbers, booleans, dates and
# times, picklists, JSON, lookups); the JSON columns make PostgreSQL take the text COPY.
SAMPLE = {
    "name": "sample",
    "label": label("Sample"),
    "title_field": "title",
    "fields": [
        {"name": "title", "type": "text", "label": label("Title"), "required": True, "max_length": 40},
        {"name": "notes", "type": "long_text", "label": label("Notes")},
        {"name": "email", "type": "email", "label": label("Email")},
        {"name": "quantity", "type": "integer", "label": label("Quantity"), "min": 0},
        {"name": "amount", "type": "currency", "label": label("Amount")},
        {"name": "ratio", "type": "percent", "label": label("Ratio")},
        {"name": "flag", "type": "boolean", "label": label("Flag"), "default": False},
        {"name": "day", "type": "date", "label": label("Day")},
        {"name": "at", "type": "datetime", "label": label("At")},
        {"name": "kind", "type": "picklist", "label": label("Kind"),
         "values": [{"value": "a", "label": label("A")}, {"value": "b", "label": label("B")}]},
        {"name": "tags", "type": "multi_picklist", "label": label("Tags"),
         "values": [{"value": "x", "label": label("X")}, {"value": "y", "label": label("Y")}]},
        {"name": "extra", "type": "json", "label": label("Extra")},
        {"name": "account", "type": "lookup", "label": label("Account"), "target": "account"},
        {"name": "secret", "type": "text", "label": label("Secret"), "read_only": True},
    ],
}


@pytest.fixture
def sample(runtime):
    runtime.import_changeset(changeset(SAMPLE), "test", "tester")
    return "sample"


def stored(record: dict) -> dict:
    """A record without what differs between two creates of the same values."""
    return {k: v for k, v in record.items() if k not in ("id", "created_at", "updated_at")}


def test_create_many_returns_each_rows_id_in_order_whatever_fields_the_rows_give(records, actor, sample):
    account = records.create(actor, "account", {"name": "Acme"})["id"]
    rows = []
    for i in range(60):
        row = {"title": f"Row {i:02d}"}
        if i % 2:
            row["day"] = f"2026-01-{i % 28 + 1:02d}"
        if i % 3:
            row["account"] = account
        if i % 5 == 0:
            row = {"quantity": i, **row, "kind": None}  # another order of keys, and a null
        rows.append(row)

    ids = records.create_many(actor, sample, rows)

    assert len(set(ids)) == 60 and ids == sorted(ids)
    assert [records.get(actor, sample, i)["title"] for i in ids] == [f"Row {i:02d}" for i in range(60)]
    assert [records.get(actor, sample, i).get("day") for i in ids[:4]] == [None, "2026-01-02", None, "2026-01-04"]
    assert records.create(actor, sample, {"title": "After"})["id"] == ids[-1] + 1


SAMPLE_ROWS = [
    {"title": "Full", "notes": "tab\there, new\nline, back\\slash, quote \" and 'single', 中文, émoji 🎉",
     "email": "a@example.com", "quantity": 12, "amount": "1234.50", "ratio": 12.5, "flag": True, "day": "2026-02-28",
     "at": "2026-03-01T09:30:00+02:00", "kind": "b", "tags": ["y", "x"], "extra": {"nested": [1, {"k": None}], "s": "v"}},
    {"title": "Minimal"},
    {"title": "Blanks", "notes": "", "email": "", "quantity": "", "day": "", "kind": "", "tags": [], "extra": None, "flag": None},
    {"title": "Strings", "quantity": "7", "amount": 3, "ratio": "0.5", "at": "2026-03-01T09:30:00Z", "extra": [1, "two"]},
]


@pytest.mark.parametrize("object_name, rows", [
    ("sample", SAMPLE_ROWS),
    ("contact", [{"first_name": "Ann", "last_name": "Lee", "email": "ann@example.com", "lead_source": "web", "birthday": "1990-05-06",
                  "do_not_call": True, "mailing_city": "Zürich"},
                 {"last_name": "Only"},
                 {"last_name": "Blank", "email": "", "birthday": None, "phone": "+86 (21) 555-0100"}]),
], ids=["json-columns", "no-json-columns"])
def test_the_prepared_inserts_store_what_sqlalchemys_insert_stores(records, actor, sample, object_name, rows, monkeypatch):
    """A single create (INSERT ... RETURNING on the driver's cursor) and create_many (one statement
    for the batch) store what SQLAlchemy's own insert of the same record stores."""
    account = records.create(actor, "account", {"name": "Acme"})["id"]
    rows = [{**row, "account": account} if i % 2 else row for i, row in enumerate(rows)]
    with monkeypatch.context() as patched:
        patched.setattr(records_module, "_insert_plan", lambda *_args: None)  # the way for tables the prepared inserts cannot serve
        through_sqlalchemy = [stored(records.create(actor, object_name, row)) for row in rows]

    one_by_one = [stored(records.create(actor, object_name, row)) for row in rows]
    ids = records.create_many(actor, object_name, rows)

    assert one_by_one == through_sqlalchemy
    assert [stored(records.get(actor, object_name, i)) for i in ids] == through_sqlalchemy


def test_values_of_another_python_type_are_stored_as_their_column_stores_them(runtime, records, actor, sample):
    """The bulk insert checks each value's Python type (PostgreSQL's binary COPY needs exact ones) and
    otherwise takes the text COPY; on SQLite the column's own conversion applies."""
    import datetime as dt
    from decimal import Decimal

    now = dt.datetime.now(dt.timezone.utc)
    stamp = {"version": 1, "created_at": now, "updated_at": now}
    with runtime.writing() as (conn, schema):
        table = schema.tables.table("contact")
        exact = records._insert_rows(conn, table, [{"last_name": "A", **stamp}, {"last_name": "B", "do_not_call": True, **stamp}], schema)
        table = schema.tables.table(sample)
        loose = records._insert_rows(conn, table, [{"title": "Int amount", "amount": 5, **stamp},
                                                   {"title": "Decimal amount", "amount": Decimal("5.25"), **stamp}], schema)
    assert [records.get(actor, "contact", i)["last_name"] for i in exact] == ["A", "B"]
    assert [records.get(actor, sample, i)["amount"] for i in loose] == [5.0, 5.25]


def test_a_refused_one_row_insert_raises_sqlalchemys_error_and_writes_nothing(runtime, records, actor):
    """The one-row insert runs on the driver's cursor; what the database refuses surfaces as SQLAlchemy's error."""
    import datetime as dt

    import sqlalchemy as sa

    now = dt.datetime.now(dt.timezone.utc)
    with pytest.raises(sa.exc.IntegrityError):
        with runtime.writing() as (conn, schema):  # an account that does not exist: the foreign key refuses it
            records._insert_rows(conn, schema.tables.table("contact"),
                                 [{"last_name": "Orphan", "account": 987654, "version": 1, "created_at": now, "updated_at": now}], schema)
    assert records.list(actor, "contact", {"last_name": "Orphan"}).items == []


def bulk_rows_and_single_errors(records, actor, object_name, rows):
    """What a single create says about each row: its errors, or None when it would be created."""
    expected = []
    for row in rows:
        try:
            with records.bulk(actor, object_name, dry_run=True) as writer:
                _ids, refused = writer.create([row])
            expected.append(refused.get(0))
        except RecordValidationError as exc:  # pragma: no cover - bulk reports, it does not raise
            expected.append(exc.errors)
    return expected


def test_a_bulk_batch_refuses_each_bad_row_with_its_reasons_and_writes_the_others(records, actor):
    account = records.create(actor, "account", {"name": "Acme"})["id"]
    rows = [
        {"last_name": "Good 1", "account": account, "lead_source": "web"},
        {"last_name": "Bad email", "email": "not an address"},
        {"last_name": "Bad source", "lead_source": "telemarketing", "birthday": "1990-02-31"},
        {"first_name": "No last name"},
        {"last_name": "", "first_name": "Blank last name"},
        {"last_name": "Unknown field", "nickname": "x"},
        {"last_name": "Missing account", "account": 999_999},
        {"last_name": "Too long " + "x" * 80},
        {"last_name": "NUL \x00 inside"},
        {"last_name": "Good 2", "birthday": "1980-01-02", "do_not_call": True},
        "not a record",
        {"last_name": "Bad owner", "owner": 999_999},
        {"last_name": "Good 3"},
    ]
    expected = bulk_rows_and_single_errors(records, actor, "contact", rows)
    assert [i for i, errors in enumerate(expected) if errors is None] == [0, 9, 12]

    with records.bulk(actor, "contact") as writer:
        ids, refused = writer.create(rows)

    assert sorted(refused) == [1, 2, 3, 4, 5, 6, 7, 8, 10, 11]
    assert [refused.get(i) for i in range(len(rows))] == expected
    assert [(e.field, e.message) for e in refused[6]] == [("account", "account 999999 does not exist")]
    assert [(e.field, e.message) for e in refused[11]] == [("owner", "user 999999 does not exist")]
    written = [i for i in ids if i is not None]
    assert [ids.index(i) for i in written] == [0, 9, 12] and written == sorted(written)
    assert [records.get(actor, "contact", i)["last_name"] for i in written] == ["Good 1", "Good 2", "Good 3"]
    assert records.get(actor, "contact", written[1])["birthday"] == "1980-01-02"
    assert count(records, actor, "contact") == 3


class RefuseSome:
    """A plugin whose before-create hook refuses some contacts and changes another."""

    from core.hookspecs import hookimpl

    @hookimpl
    def tessera_before_create(self, event):
        from core.plugins import Refusal

        if event.object == "contact" and event.values.get("last_name", "").startswith("Refused"):
            raise Refusal("this name is not allowed", field="last_name")
        if event.object == "contact" and event.values.get("last_name") == "Renamed":
            event.values["last_name"] = "Renamed by a hook"


def test_before_hooks_apply_to_each_row_of_a_bulk_batch_and_refusals_keep_the_row_order(runtime, records, actor):
    runtime.plugins.manager.register(RefuseSome(), name="refuse-some")
    rows = [{"last_name": "Refused 1"}, {"last_name": "Kept"}, {"email": "bad"}, {"last_name": "Renamed"}, {"last_name": "Refused 2"}]

    with records.bulk(actor, "contact") as writer:
        ids, refused = writer.create(rows)

    assert list(refused) == [0, 2, 4]
    assert [(e.field, e.message) for e in refused[0]] == [("last_name", "this name is not allowed")]
    assert [records.get(actor, "contact", i)["last_name"] for i in ids if i is not None] == ["Kept", "Renamed by a hook"]
    with pytest.raises(BatchValidationError) as info:
        records.create_many(actor, "contact", rows)
    assert list(info.value.rows) == [0, 2, 4] and "row 0" in str(info.value)


def test_validate_many_answers_exactly_as_validate_does(runtime, sample):
    """Rows of every kind, good and bad, through validate_many and through validate one by one."""
    import random

    from core.validation import RecordValidationError as Invalid

    with runtime.reading() as (_conn, schema):
        validator = schema.validator(sample)
    choices = {
        "title": ["T", "", None, "x" * 41, 5, "\x00", "\ud800", "Zürich", ["list"], "  "],
        "notes": ["", "long " * 50, None, 3, "中文"],
        "email": ["a@example.com", "", "nope", None, "a@b", "a..b@example.com"],
        "quantity": [1, "2", "", None, -1, 1.5, "1e3", True, "x", 2**70],
        "amount": ["1.25", 1, 1.255, "", "abc", None, "12345678901234567890"],
        "ratio": [0.5, "50", None, ""],
        "flag": [True, False, None, "", "yes", 1],
        "day": ["2026-01-31", "2026-02-30", "", None, "31/01/2026", 20260131],
        "at": ["2026-03-01T09:30:00Z", "2026-03-01", "", None, "soon"],
        "kind": ["a", "b", "c", "", None, "A"],
        "tags": [["x"], ["x", "x"], ["z"], [], None, "x", ""],
        "extra": [{"a": 1}, [1], "s", None, ""],
        "account": [1, "2", {"id": 3}, 0, "x", None, "", {"name": 1}],
        "owner": [1, None, "abc"],
        "secret": ["s", None],
        "unknown": ["u"],
        "version": [2],
    }
    rng = random.Random(2026)
    rows = []
    for _ in range(400):
        names = rng.sample(list(choices), rng.randint(0, 7))
        if rng.random() < 0.8 and "title" not in names:
            names.insert(rng.randrange(len(names) + 1), "title")
        rows.append({name: rng.choice(choices[name]) for name in names})
    rows += [{}, [], "text", None, {"title": "Plain"}] * 3
    for options in [{}, {"partial": True}, {"trusted": True}, {"hidden": frozenset({"notes"}), "locked": frozenset({"kind"})}]:
        expected = []
        for row in rows:
            try:
                parsed = validator.validate(row, partial=options.get("partial", False), trusted=options.get("trusted", False),
                                            hidden=options.get("hidden", frozenset()), locked=options.get("locked", frozenset()))
                expected.append((list(parsed.items()), None))
            except Invalid as exc:
                expected.append((None, exc.errors))
        parsed_rows, errors = validator.validate_many(rows, **options)
        got = [(None if p is None else list(p.items()), errors.get(i)) for i, p in enumerate(parsed_rows)]
        assert got == expected, options
        assert sum(1 for _, e in expected if e is None) > 30  # the fast way was taken, not only validate


def _contacts_state(records, ids):
    """What update changes, per record: the stored values but the timestamps, and the field history."""
    found = []
    for record_id in ids:
        try:
            record = records.get(Actor.system(), "contact", record_id)
        except NotFound:
            found.append(None)
            continue
        kept = {k: v for k, v in record.items() if k not in ("id", "created_at", "updated_at")}
        history = [(h["field"], h["old"], h["new"], h["version"]) for h in records.history(Actor.system(), "contact", record_id)]
        found.append((kept, history))
    return found


def test_update_many_changes_each_record_as_one_update_at_a_time_does(world):
    """Two identical sets of contacts: one changed by update_many, the other by update item by item; the same outcome."""
    records, system = world.runtime.records, Actor.system()
    account = records.create(system, "account", {"name": "Update Many Ltd"})["id"]
    owners = [world.users["alice"], world.users["alice"], world.users["bob"], world.users["carol"]]
    changes = [
        {"first_name": "Ann", "lead_source": "web"},
        {"email": "not an address"},
        {"account": 999_999},
        {"account": account, "mailing_city": "Shanghai"},
        {"last_name": ""},
        {"nickname": "x"},
        {"last_name": "Same"},
        {"owner": 999_999},
        {"birthday": "1990-02-31"},
        {"do_not_call": True, "birthday": "1980-01-02"},
        {"owner": world.users["bob"]},
        {"owner": world.users["carol"]},
        {"first_name": "Deleted"},
    ]

    def make_set() -> list[int]:
        ids = [records.create(system, "contact", {"last_name": "Same", "owner": owners[i % len(owners)]})["id"] for i in range(len(changes))]
        records.delete(system, "contact", ids[-1])
        return ids

    for actor in (system, world.actor("alice"), world.actor("mike")):
        batch_ids, single_ids = make_set(), make_set()
        with records.bulk(actor, "contact") as writer:
            refused = writer.update_many(list(zip(batch_ids, changes)))
        with records.bulk(actor, "contact") as writer:
            one_by_one = {i: errors for i, (record_id, change) in enumerate(zip(single_ids, changes))
                          if (errors := writer.update(record_id, change))}
        def worded(problems, ids):  # the messages name the record, which differs between the sets
            return {i: [(e.field, e.message.replace(f" {ids[i]} ", " N ")) for e in errors] for i, errors in problems.items()}

        assert worded(refused, batch_ids) == worded(one_by_one, single_ids), actor.name
        assert _contacts_state(records, batch_ids) == _contacts_state(records, single_ids), actor.name
        if actor is system:
            assert sorted(refused) == [1, 2, 4, 5, 7, 8, 12]
        if actor.name == "alice":  # a rep changes her own contacts only
            assert {i for i in range(len(changes)) if owners[i % len(owners)] != actor.user_id} <= set(refused)
