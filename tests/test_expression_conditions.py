"""Conditions in the formula language: workflow rules (after and before the save, schedules) and approval processes take
``{"expression": "..."}`` beside the list API's filters, following lookups; checked at import with the place of each
problem. Both databases, through the record service and the job queue."""

from __future__ import annotations

import pytest

from core.metadata.problems import MetadataError
from core.records import Actor, RecordValidationError
from test_automations import FORMAT, LABEL, account, rules, work

SYSTEM = Actor.system()


@pytest.fixture
def runtime(make_runtime):
    return make_runtime(plugins=("sales",))


def deal(runtime, account_id, amount, name="Deal"):
    return runtime.records.create(SYSTEM, "opportunity", {"name": name, "account": account_id, "amount": amount, "probability": 10,
                                                          "stage": "prospecting", "close_date": "2027-01-01"})


def test_an_after_save_rule_follows_a_lookup_in_its_expression(runtime):
    rules(runtime, {"name": "energy_big", "object": "opportunity", "trigger": {"on": "created"},
                    "condition": {"expression": "AND(amount >= 1000, account.industry = 'energy')"},
                    "actions": [{"type": "set_fields", "values": {"next_step": "Call the plant manager"}}]})
    energy = account(runtime, SYSTEM, "Power Co", industry="energy")
    retail = account(runtime, SYSTEM, "Shop Co", industry="retail")
    hit, small, other = deal(runtime, energy["id"], 5000, "hit"), deal(runtime, energy["id"], 10, "small"), deal(runtime, retail["id"], 5000, "other")
    work(runtime)
    steps = {d["name"]: runtime.records.get(SYSTEM, "opportunity", d["id"])["next_step"] for d in (hit, small, other)}
    assert steps == {"hit": "Call the plant manager", "small": None, "other": None}


def test_a_before_save_rule_refuses_by_an_expression(runtime):
    rules(runtime, {"name": "no_tiny_energy", "object": "opportunity", "trigger": {"on": "created"}, "before_save": True,
                    "condition": {"expression": "AND(amount < 100, UPPER(account.industry) = 'ENERGY')"},
                    "actions": [{"type": "refuse", "field": "amount", "message": {"en": "Energy deals start at 100", "zh-CN": "能源商机至少 100"}}]})
    energy = account(runtime, SYSTEM, "Power Co", industry="energy")
    with pytest.raises(RecordValidationError) as refused:
        deal(runtime, energy["id"], 10)
    assert refused.value.errors[0].field == "amount" and "start at 100" in str(refused.value)
    assert deal(runtime, energy["id"], 500)["amount"] == 500.0


def test_a_schedule_rule_selects_by_an_expression_in_sql(runtime):
    rules(runtime, {"name": "nightly", "object": "opportunity", "trigger": {"on": "schedule", "cron": "0 2 * * *"},
                    "condition": {"expression": "account.industry = 'energy'", "amount__gte": 1000},
                    "actions": [{"type": "set_fields", "values": {"next_step": "Review"}}]})
    energy = account(runtime, SYSTEM, "Power Co", industry="energy")
    retail = account(runtime, SYSTEM, "Shop Co", industry="retail")
    hit = deal(runtime, energy["id"], 5000, "hit")
    deal(runtime, retail["id"], 5000, "miss")
    deal(runtime, energy["id"], 5, "small")
    from core.automations.rules import rules_of

    with runtime.writing() as (conn, schema):
        rule = rules_of(schema).by_name["nightly"]
        condition, values = rule.condition.where(conn, schema, schema.tables.table("opportunity"))
        import sqlalchemy as sa
        table = schema.tables.table("opportunity")
        ids = set(conn.execute(sa.select(table.c.id).where(condition), values).scalars())
    assert ids == {hit["id"]}


@pytest.mark.parametrize("condition, pointer, words", [
    ({"expression": "amount >"}, "/automations/0/condition/expression", ["column"]),
    ({"expression": "amount + 1"}, "/automations/0/condition/expression", ["a condition (true or false) is needed"]),
    ({"any": [{"expression": "acount.name = 'x'"}]}, "/automations/0/condition/any/0/expression", ["acount", "account"]),
])
def test_a_bad_expression_condition_is_refused_with_its_place(runtime, condition, pointer, words):
    with pytest.raises(MetadataError) as refused:
        runtime.import_changeset({"format": FORMAT, "automations": [{"label": LABEL, "name": "bad", "object": "opportunity",
                                                                      "trigger": {"on": "created"}, "condition": condition,
                                                                      "actions": [{"type": "set_fields", "values": {"next_step": "x"}}]}]},
                                 "test", "test")
    problem = next((p for p in refused.value.problems if p.pointer.endswith(pointer)), None)
    assert problem is not None, [(p.pointer, p.message) for p in refused.value.problems]
    for word in words:
        assert word in problem.in_("en")
    assert problem.in_("zh-CN") != problem.in_("en")


def test_a_formula_is_tested_in_an_expression_not_as_a_filter(runtime):
    from helpers import label

    runtime.import_changeset({"format": FORMAT, "extensions": [{"object": "opportunity", "fields": [
        {"name": "weighted", "type": "formula", "label": label("Weighted"), "expression": "amount * probability / 100",
         "result_type": "currency"}]}]}, "test", "test")
    with pytest.raises(MetadataError) as refused:
        rules(runtime, {"name": "big_weighted", "object": "opportunity", "trigger": {"on": "created"},
                        "condition": {"weighted__gte": 1000}, "actions": [{"type": "set_fields", "values": {"next_step": "x"}}]})
    assert "is a formula: test it in an expression" in refused.value.problems[0].in_("en")
    rules(runtime, {"name": "big_weighted", "object": "opportunity", "trigger": {"on": "created"},
                    "condition": {"expression": "weighted >= 1000"}, "actions": [{"type": "set_fields", "values": {"next_step": "Call"}}]})
    acme = account(runtime, SYSTEM, "Acme")
    big, small = deal(runtime, acme["id"], 50_000, "big"), deal(runtime, acme["id"], 500, "small")  # probability 10
    work(runtime)
    assert runtime.records.get(SYSTEM, "opportunity", big["id"])["next_step"] == "Call"
    assert runtime.records.get(SYSTEM, "opportunity", small["id"])["next_step"] is None
