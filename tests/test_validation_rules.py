"""Validation rules (core/validation_rules.py): conditions a record must meet to be saved, declared in metadata in the
expression language. Held on every path to the record service: the REST API (create and update, the message in English
and in Chinese), an import (each refused row named), a workflow rule's change (before and after the save), a record
form (the message at its field, or at the top); a blank result does not refuse; ``when`` limits a rule to values of the
process field or moves along it; a rule may read a lookup's record. Declared in metadata (each problem with its
document, JSON pointer and column), layered (a customization deactivates a plugin's rule), carried by changesets and
edited in Setup. On SQLite and PostgreSQL, with the sales plugin's opportunities.

People: sam (sales rep) and lin (sales manager) in the East team, root (admin), cora (a customizer).
"""

from __future__ import annotations

import csv
import html
import json
import re
from pathlib import Path

import pytest
from litestar.testing import TestClient

from access_world import PASSWORD, build_world
from core.api.app import create_app
from core import scheduler
from core.audit import Who
from core.auth import Accounts
from core.automations import engine
from core.db import read_transaction
from core.fieldtypes import FieldTypeRegistry
from core.imports import ImportOptions, run_import
from core.metadata.model import Doc, build
from core.metadata.problems import MetadataError
from core.records import Actor
from core.records.errors import BatchValidationError
from core.validation import RecordValidationError
from helpers import CHINESE, bearer, changeset, label
from test_ui_pages import HX, signed_in

SYSTEM = Actor.system()
EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "examples" / "validation-rules-changeset.json"

CAP = {"name": "amount_cap", "expression": "OR(ISBLANK(amount), amount <= 9000000)", "field": "amount",
       "message": {"en": "Deals above 9,000,000 need a framework contract", "zh-CN": "超过 900 万的商机需要框架合同"}}
NEXT_STEP = {"name": "next_step_when_won", "expression": "NOT(ISBLANK(next_step))",
             "message": {"en": "A won deal names its next step", "zh-CN": "赢单的商机需要填写下一步"}, "when": {"values": ["closed_won"]}}


@pytest.fixture
def crm(make_runtime):
    world = build_world(make_runtime(plugins=("sales",)))
    accounts = Accounts(world.runtime)
    for name, permission_set in (("sam", "sales_rep"), ("lin", "sales_manager")):
        user, _teams = accounts.add_user(name, PASSWORD, permission_set, ["East"], full_name=name.title())
        world.users[name] = user["id"]
        world.actors[name] = Actor(user["id"], name, permission_set)
    return world


@pytest.fixture
def client(crm):
    with TestClient(create_app(crm.runtime)) as client:
        yield client


def add_rules(crm, *rules, object_name: str = "opportunity", source: str = "rules.json") -> None:
    crm.runtime.import_changeset(changeset(extensions=[{"object": object_name, "validation_rules": list(rules)}]), source, "test")


def refused(crm, data) -> dict[str, str]:
    with pytest.raises(MetadataError) as info:
        crm.runtime.import_changeset(data, "rules.json", "test")
    return {p.pointer: p.message for p in info.value.problems}


def deal(crm, stage: str = "prospecting", **values) -> dict:
    return crm.runtime.records.create(SYSTEM, "opportunity", {
        "name": f"Line {stage}", "account": crm.accounts["alice"], "close_date": "2026-12-31", "stage": stage,
        "owner": crm.users["sam"], **({"loss_reason": "price"} if stage == "closed_lost" else {}), **values})


def stored(crm, record: dict) -> dict:
    return crm.runtime.records.get(SYSTEM, "opportunity", record["id"])


def update(crm, record_id: int, changes: dict) -> dict:
    return crm.runtime.records.update(SYSTEM, "opportunity", record_id, changes,
                                      version=crm.runtime.records.get(SYSTEM, "opportunity", record_id)["version"])


def post(client, who: str, values: dict, lang: dict | None = None):
    return client.post("/api/records/opportunity", json={"name": "Big one", "account": values.pop("account", None), "close_date": "2026-12-31",
                                                          **values}, headers={**bearer(client, who), **(lang or {})})


def patch(client, who: str, record: dict, changes: dict, lang: dict | None = None):
    return client.patch(f"/api/records/opportunity/{record['id']}", json=changes,
                        headers={**bearer(client, who), "If-Match": f'"{record["version"]}"', **(lang or {})})


# --- the API -----------------------------------------------------------------------------------------------------


def test_a_rule_refuses_a_create_and_an_update_through_the_api_in_the_readers_language(crm, client):
    add_rules(crm, CAP)
    account = crm.accounts["alice"]
    too_big = post(client, "sam", {"account": account, "amount": 9500000})
    assert too_big.status_code == 422, too_big.text
    [error] = too_big.json()["errors"]
    assert (error["field"], error["code"], error["message"]) == ("amount", "rule_refusal", "Deals above 9,000,000 need a framework contract")
    assert error["messages"]["zh-CN"] == "超过 900 万的商机需要框架合同"
    chinese = post(client, "sam", {"account": account, "amount": 9500000}, CHINESE)
    assert chinese.status_code == 422 and chinese.json()["errors"][0]["message"] == "超过 900 万的商机需要框架合同"
    assert not [r for r in crm.runtime.records.each(SYSTEM, "opportunity", {}) if r["name"] == "Big one"]
    fine = post(client, "sam", {"account": account, "amount": 9000000})
    assert fine.status_code == 201, fine.text
    record = fine.json()
    raised = patch(client, "sam", record, {"amount": 9000001}, CHINESE)
    assert raised.status_code == 422 and raised.json()["errors"][0]["message"] == "超过 900 万的商机需要框架合同"
    assert raised.json()["errors"][0]["field"] == "amount"
    assert stored(crm, record)["version"] == 1
    other = patch(client, "sam", record, {"next_step": "Call"})  # the stored amount holds: another change passes
    assert other.status_code == 200, other.text


def test_a_user_whose_language_is_chinese_reads_the_message_in_chinese(crm, client):
    add_rules(crm, CAP)
    crm.runtime.records.update(SYSTEM, "user", crm.users["sam"], {"language": "zh_cn"},
                               version=crm.runtime.records.get(SYSTEM, "user", crm.users["sam"])["version"])
    answer = post(client, "sam", {"account": crm.accounts["alice"], "amount": 9500000})
    assert answer.status_code == 422 and answer.json()["errors"][0]["message"] == "超过 900 万的商机需要框架合同"


def test_a_message_without_chinese_is_read_in_english(crm, client):
    add_rules(crm, {**CAP, "message": {"en": "Too big"}})
    answer = post(client, "sam", {"account": crm.accounts["alice"], "amount": 9500000}, CHINESE)
    assert answer.json()["errors"][0]["message"] == "Too big"


def test_a_blank_result_does_not_refuse(crm):
    add_rules(crm, {**CAP, "expression": "amount <= 9000000"})  # blank when there is no amount
    assert deal(crm)["amount"] is None
    with pytest.raises(RecordValidationError):
        deal(crm, amount=9000001)


def test_every_failing_rule_is_reported_and_a_rule_without_field_is_about_the_record(crm, client):
    add_rules(crm, CAP, {k: v for k, v in NEXT_STEP.items() if k != "when"})
    answer = post(client, "sam", {"account": crm.accounts["alice"], "amount": 9500000})
    assert [(e["field"], e["message"]) for e in answer.json()["errors"]] == [
        ("amount", "Deals above 9,000,000 need a framework contract"), ("", "A won deal names its next step")]


def test_an_inactive_rule_is_not_checked_and_a_customization_deactivates_a_plugins_rule(crm):
    plugin_rule = {"name": "deal", "label": label("Deal"), "fields": [{"name": "amount", "type": "decimal", "label": label("Amount")}],
                   "validation_rules": [{**CAP}]}
    docs = [Doc("object", plugin_rule, "a/deal.json", "plugin:a"),
            Doc("extension", {"object": "deal", "validation_rules": [{"name": "amount_cap", "active": False}]}, "database", "customization",
                "/extensions/deal")]
    meta = build(docs, FieldTypeRegistry())
    assert meta.object("deal").validation_rules == [{**CAP, "active": False}]
    other_plugin = Doc("extension", {"object": "deal", "validation_rules": [{"name": "amount_cap", "active": False}]}, "b/deal.json", "plugin:b")
    with pytest.raises(MetadataError) as info:
        build([docs[0], other_plugin], FieldTypeRegistry())
    assert [(p.source, p.pointer) for p in info.value.problems] == [("b/deal.json", "/validation_rules/0/name")]
    assert "a customization may replace or deactivate it, a plugin may not" in info.value.problems[0].message
    add_rules(crm, {**CAP, "active": False})
    assert deal(crm, amount=9500000)["amount"]
    add_rules(crm, {"name": "amount_cap", "active": True})
    with pytest.raises(RecordValidationError):
        deal(crm, amount=9500000)


# --- every path ----------------------------------------------------------------------------------------------------


def test_an_import_names_each_refused_row_and_imports_the_rest(crm, tmp_path):
    add_rules(crm, CAP)
    file = tmp_path / "deals.csv"
    with file.open("w", newline="", encoding="utf-8") as out:
        csv.writer(out).writerows([
            ["name", "account", "close_date", "amount"],
            ["Small", "Alice Industries", "2026-10-01", "1000"],
            ["Huge", "Alice Industries", "2026-10-02", "12000000"],
            ["Blank", "Alice Industries", "2026-10-03", ""],
        ])
    report = run_import(crm.runtime, crm.actor("sam"), "opportunity", file, ImportOptions(rejected_path=tmp_path / "rejected.csv"))
    assert (report.created, report.rejected) == (2, 1)
    assert {r.row: r.reason for r in report.rejections} == {3: "amount: Deals above 9,000,000 need a framework contract"}
    names = {r["name"] for r in crm.runtime.records.each(SYSTEM, "opportunity", {})}
    assert {"Small", "Blank"} <= names and "Huge" not in names


def test_a_batch_create_is_all_or_nothing(crm):
    add_rules(crm, CAP)
    rows = [{"name": f"Deal {i}", "account": crm.accounts["alice"], "close_date": "2026-12-31", "amount": amount}
            for i, amount in enumerate((10, 9500000, 20))]
    before = len(list(crm.runtime.records.each(SYSTEM, "opportunity", {})))
    with pytest.raises(BatchValidationError) as info:
        crm.runtime.records.create_many(SYSTEM, "opportunity", rows)
    assert {row: [(e.field, e.worded("en")) for e in errors] for row, errors in info.value.rows.items()} == {
        1: [("amount", "Deals above 9,000,000 need a framework contract")]}
    assert len(list(crm.runtime.records.each(SYSTEM, "opportunity", {}))) == before


@pytest.mark.parametrize("before_save", [True, False])
def test_a_workflow_rules_change_is_held_to_the_rules(crm, before_save):
    add_rules(crm, CAP)
    crm.runtime.import_changeset({"format": "tessera-changeset/1", "automations": [{
        "name": "inflate", "object": "opportunity", "label": label("Inflate"), "before_save": before_save,
        "trigger": {"on": "field_changed", "field": "next_step"},
        "actions": [{"type": "set_fields", "values": {"amount": 9999999}}]}]}, "rules.json", "test")
    record = deal(crm, amount=100)
    if before_save:
        with pytest.raises(RecordValidationError) as info:
            update(crm, record["id"], {"next_step": "Inflate"})
        assert info.value.errors[0].field == "amount"
        assert stored(crm, record)["next_step"] is None
    else:
        update(crm, record["id"], {"next_step": "Inflate"})
        scheduler.JobRunner(crm.runtime).run_until_idle()
        assert stored(crm, record)["next_step"] == "Inflate"
        with read_transaction(crm.runtime.engine) as conn:
            [run] = engine.runs(conn, rule="inflate")
        assert run["status"] != "done" and "Deals above 9,000,000" in json.dumps(run, default=str)
    assert float(stored(crm, record)["amount"]) == 100


# --- when, lookups ---------------------------------------------------------------------------------------------------


def test_when_values_checks_a_rule_only_at_those_values(crm):
    add_rules(crm, NEXT_STEP)
    talks = deal(crm, "negotiation")  # no next step: the rule waits
    with pytest.raises(RecordValidationError) as info:
        update(crm, talks["id"], {"stage": "closed_won"})
    assert info.value.errors[0].worded("zh-CN") == "赢单的商机需要填写下一步"
    won = update(crm, talks["id"], {"stage": "closed_won", "next_step": "Kick-off"})
    with pytest.raises(RecordValidationError):  # held on every save while there
        update(crm, won["id"], {"next_step": None})
    with pytest.raises(RecordValidationError):
        deal(crm, "closed_won")


def test_when_transitions_checks_a_rule_only_on_those_moves(crm):
    add_rules(crm, {**NEXT_STEP, "when": {"transitions": [{"from": "negotiation", "to": "closed_won"}]}})
    assert deal(crm, "closed_won")["stage"] == "closed_won"  # created there: no move from negotiation
    proposal = deal(crm, "proposal")
    assert update(crm, proposal["id"], {"stage": "closed_won"})["stage"] == "closed_won"
    talks = deal(crm, "negotiation")
    with pytest.raises(RecordValidationError):
        update(crm, talks["id"], {"stage": "closed_won"})
    add_rules(crm, {**NEXT_STEP, "when": {"transitions": [{"to": "closed_won"}]}})
    with pytest.raises(RecordValidationError):  # without from: a new record at the value moves there too
        deal(crm, "closed_won")
    won = deal(crm, "closed_won", next_step="Go")
    assert update(crm, won["id"], {"next_step": None})["next_step"] is None  # no move


def test_a_rule_reads_a_lookups_record(crm, client):
    add_rules(crm, {"name": "partners_only", "expression": "OR(ISBLANK(amount), amount < 1000000, BLANKVALUE(account.account_type, '') = 'partner')",
                    "field": "account", "message": label("Only partners buy this much", "只有合作伙伴可以下这么大的单")})
    alice = crm.accounts["alice"]
    with pytest.raises(RecordValidationError) as info:
        deal(crm, amount=2000000)
    assert info.value.errors[0].field == "account"
    crm.runtime.records.update(SYSTEM, "account", alice, {"account_type": "partner"}, version=crm.runtime.records.get(SYSTEM, "account", alice)["version"])
    assert deal(crm, amount=2000000)["amount"]
    rows = [{"name": f"Deal {i}", "account": alice, "close_date": "2026-12-31", "amount": 2000000} for i in range(20)]
    assert len(crm.runtime.records.create_many(SYSTEM, "opportunity", rows)) == 20


# --- the record form ---------------------------------------------------------------------------------------------


def test_the_form_shows_the_message_at_its_field_or_at_the_top(crm, client):
    add_rules(crm, CAP, {k: v for k, v in NEXT_STEP.items() if k != "when"})
    csrf = signed_in(client, "sam")
    answer = client.post("/r/opportunity/new", data={"_csrf_token": csrf, "name": "Form deal", "account": str(crm.accounts["alice"]),
                                                      "close_date": "2026-12-31", "stage": "prospecting", "amount": "9500000"})
    assert answer.status_code == 422, answer.text[:1000]
    text = html.unescape(answer.text)
    at_field = re.search(r'id="field-amount-error"[^>]*>([^<]*)<', text)
    assert at_field is not None and "Deals above 9,000,000 need a framework contract" in at_field.group(1), text[:3000]
    assert "A won deal names its next step" in text
    assert text.index("A won deal names its next step") < text.index('name="name"')  # at the top, before the fields


# --- metadata ------------------------------------------------------------------------------------------------------


def test_problems_are_refused_with_their_pointers_and_columns(crm):
    problems = refused(crm, changeset(extensions=[{"object": "opportunity", "validation_rules": [
        {**CAP, "expression": "amout <= 9000000", "field": "amout"},
        {**CAP, "name": "text_rule", "expression": "name & 'x'"},
        {**CAP, "name": "broken", "expression": "amount <= "},
        {**NEXT_STEP, "when": {"values": ["closed_wno"]}},
        {**NEXT_STEP, "name": "moves", "when": {"transitions": [{"from": "negotation", "to": "closed_won"}]}},
    ]}]))
    assert problems == {
        "/extensions/0/validation_rules/0/expression": "validation rule 'amount_cap', column 1: 'amout' is not a field of opportunity (did you mean 'amount'?)",
        "/extensions/0/validation_rules/0/field": "validation rule 'amount_cap' shows its message at 'amout', which is not a field of 'opportunity' (did you mean 'amount'?)",
        "/extensions/0/validation_rules/1/expression": problems["/extensions/0/validation_rules/1/expression"],
        "/extensions/0/validation_rules/2/expression": problems["/extensions/0/validation_rules/2/expression"],
        "/extensions/0/validation_rules/3/when/values/0": "validation rule 'next_step_when_won': 'closed_wno' is not a value of the process field 'opportunity.stage' (did you mean 'closed_won'?)",
        "/extensions/0/validation_rules/4/when/transitions/0/from": "validation rule 'moves': 'negotation' is not a value of the process field 'opportunity.stage' (did you mean 'negotiation'?)",
    }
    assert problems["/extensions/0/validation_rules/1/expression"].startswith("validation rule 'text_rule', column 1: ")
    assert "a condition (true or false) is needed" in problems["/extensions/0/validation_rules/1/expression"]
    assert problems["/extensions/0/validation_rules/2/expression"].startswith("validation rule 'broken', column 10: the expression ends too early")
    assert crm.runtime.current_metadata().object("opportunity").validation_rules == []
    twice = refused(crm, changeset(extensions=[{"object": "opportunity", "validation_rules": [CAP, NEXT_STEP, {**CAP, "field": "name"}]}]))
    assert twice == {"/extensions/0/validation_rules/2/name":
                     "validation rule 'amount_cap' is defined twice on 'opportunity' (first at /extensions/0/validation_rules/0)"}
    shaped = refused(crm, changeset(extensions=[{"object": "opportunity", "validation_rules": [{"name": "x", "expression": "true"}]}]))
    assert list(shaped) == ["/extensions/0/validation_rules/0"]
    unknown = refused(crm, changeset(extensions=[{"object": "opportunity", "validation_rules": [{"name": "amount_capp", "active": False}]}]))
    assert unknown == {"/extensions/0/validation_rules/0/name": "'opportunity' has no validation rule 'amount_capp' to change"}


def test_the_problems_read_in_chinese_through_the_api(crm, client):
    answer = client.post("/api/meta/changeset", headers={**bearer(client, "root"), **CHINESE},
                         json=changeset(extensions=[{"object": "opportunity", "validation_rules": [{**CAP, "expression": "amout > 1"}]}]))
    assert answer.status_code == 422
    [problem] = answer.json()["errors"]
    assert problem["pointer"] == "/extensions/0/validation_rules/0/expression" and problem["code"] == "vrule_expression"
    assert problem["message"].startswith("校验规则“amount_cap”第 1 列：")


def test_a_field_a_rule_reads_cannot_be_removed_while_the_rule_is_there(crm):
    crm.runtime.import_changeset(changeset(extensions=[{"object": "opportunity", "fields": [
        {"name": "budget", "type": "decimal", "label": label("Budget", "预算")}]}]), "budget.json", "test")
    add_rules(crm, {**CAP, "name": "within_budget", "expression": "OR(ISBLANK(budget), amount <= budget)"})
    from core.metadata.service import MetadataService  # noqa: PLC0415
    from core.permissions import TRUSTED  # noqa: PLC0415

    with pytest.raises(MetadataError) as info:
        MetadataService(crm.runtime, TRUSTED).remove_field("opportunity", "budget", Who(username="test"))
    assert any(p.pointer.endswith("/validation_rules/0/expression") for p in info.value.problems)


def test_a_custom_object_declares_its_rules(crm):
    machine = {"name": "machine", "label": label("Machine", "设备"), "fields": [
        {"name": "serial", "type": "text", "label": label("Serial", "序列号")},
        {"name": "hours", "type": "integer", "label": label("Hours", "工时")}],
        "validation_rules": [{"name": "hours_positive", "expression": "hours >= 0", "field": "hours", "message": label("No negative hours", "工时不能为负")}]}
    crm.runtime.import_changeset(changeset(machine), "machine.json", "test")
    with pytest.raises(RecordValidationError):
        crm.runtime.records.create(SYSTEM, "machine", {"serial": "M-1", "hours": -1})
    add_rules(crm, {"name": "hours_positive", "active": False}, object_name="machine")
    assert crm.runtime.records.create(SYSTEM, "machine", {"serial": "M-2", "hours": -1})["hours"] == -1
    assert crm.runtime.current_metadata().object("machine").validation_rules[0]["active"] is False


def test_the_api_shows_and_changes_an_objects_rules(crm, client):
    headers = bearer(client, "root")
    put = client.put("/api/meta/objects/opportunity/validation_rules/amount_cap", json=CAP, headers=headers)
    assert put.status_code == 200, put.text
    shown = client.get("/api/meta/objects/opportunity", headers=bearer(client, "sam")).json()
    assert [(r["name"], r["defined_by"]) for r in shown["validation_rules"]] == [("amount_cap", "customization")]
    wrong = client.put("/api/meta/objects/opportunity/validation_rules/amount_cap", json={**CAP, "expression": "amount +"}, headers=headers)
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["pointer"].endswith("/expression")
    gone = client.delete("/api/meta/objects/opportunity/validation_rules/amount_cap", headers=headers)
    assert gone.status_code == 200, gone.text
    assert client.get("/api/meta/objects/opportunity", headers=headers).json()["validation_rules"] == []
    assert client.delete("/api/meta/objects/opportunity/validation_rules/amount_cap", headers=headers).status_code == 404
    assert client.put("/api/meta/objects/opportunity/validation_rules/amount_cap", json=CAP, headers=bearer(client, "sam")).status_code == 403


def test_the_rules_travel_in_a_changeset(crm, client):
    add_rules(crm, CAP)
    exported = client.get("/api/meta/changeset", headers=bearer(client, "root")).json()
    extension = next(e for e in exported["extensions"] if e["object"] == "opportunity")
    assert extension["validation_rules"] == [CAP]


def test_the_documented_example_applies_and_holds(crm):
    example = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    crm.runtime.import_changeset(example, str(EXAMPLE), "test")
    rules = {r["name"] for r in crm.runtime.current_metadata().object("opportunity").validation_rules}
    assert rules == {r["name"] for e in example["extensions"] for r in e["validation_rules"]}
    with pytest.raises(RecordValidationError):
        deal(crm, "closed_won", close_date="2020-01-01")
    assert deal(crm, "negotiation", close_date="2020-01-01")
    with pytest.raises(RecordValidationError) as info:
        deal(crm, "closed_lost", loss_reason="competitor")
    assert info.value.errors[0].field == "competitors"
    assert deal(crm, "closed_lost", loss_reason="competitor", competitors="Globex")


# --- Setup ---------------------------------------------------------------------------------------------------------


def form_post(client, path: str, **kwargs):
    return client.post(path, follow_redirects=False, **kwargs)


def setup_errors(text: str) -> str:
    found = re.search(r'id="setup-errors">(.*?)</div>', text, re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", found.group(1))) if found else ""


def rules_of(crm, object_name: str = "opportunity") -> dict[str, dict]:
    return {r["name"]: r for r in crm.runtime.current_metadata().object(object_name).validation_rules}


def test_setup_adds_edits_deactivates_and_deletes_a_rule_as_changes_the_export_carries(crm, client):
    csrf = signed_in(client, "root")
    page = client.get("/setup/objects/opportunity")
    assert 'id="validation-rules"' in page.text and "/setup/objects/opportunity/validation-rules/new" in page.text
    form = client.get("/setup/objects/opportunity/validation-rules/new")
    assert form.status_code == 200 and 'hx-post="/setup/objects/opportunity/validation-rules/check"' in form.text
    saved = form_post(client, "/setup/objects/opportunity/validation-rules", data={
        "_csrf_token": csrf, "name": "amount_cap", "expression": CAP["expression"], "field": "amount", "active": "on",
        "message_en": CAP["message"]["en"], "message_zh": CAP["message"]["zh-CN"], "when": "always"})
    assert saved.status_code == 303, setup_errors(saved.text) or saved.text[:2000]
    assert rules_of(crm)["amount_cap"] == {**CAP, "active": True}
    with pytest.raises(RecordValidationError):
        deal(crm, amount=9500000)
    listed = html.unescape(client.get("/setup/objects/opportunity").text)
    assert 'id="rule-amount_cap"' in listed and CAP["expression"] in listed
    edited = form_post(client, "/setup/objects/opportunity/validation-rules", data={
        "_csrf_token": csrf, "original": "amount_cap", "expression": "OR(ISBLANK(amount), amount <= 5000000)", "field": "amount",
        "active": "on", "message_en": "Too big", "message_zh": "太大", "when": "values", "values": ["negotiation", "closed_won"]})
    assert edited.status_code == 303, setup_errors(edited.text)
    assert rules_of(crm)["amount_cap"]["when"] == {"values": ["negotiation", "closed_won"]}
    assert deal(crm, "proposal", amount=6000000)  # not at those steps
    with pytest.raises(RecordValidationError):
        deal(crm, "negotiation", amount=6000000)
    off = form_post(client, "/setup/objects/opportunity/validation-rules/amount_cap/active", data={"_csrf_token": csrf, "active": "false"})
    assert off.status_code == 303, setup_errors(off.text) or off.text[-3000:]
    assert rules_of(crm)["amount_cap"]["active"] is False
    assert deal(crm, "negotiation", amount=6000000)
    exported = client.get("/api/meta/changeset", headers=bearer(client, "root")).json()
    [rule] = next(e for e in exported["extensions"] if e["object"] == "opportunity")["validation_rules"]
    assert (rule["name"], rule["active"], rule["message"]) == ("amount_cap", False, {"en": "Too big", "zh-CN": "太大"})
    moves = form_post(client, "/setup/objects/opportunity/validation-rules", data={
        "_csrf_token": csrf, "original": "amount_cap", "expression": "amount <= 5000000", "active": "on", "message_en": "Too big",
        "when": "transitions", "transitions": "negotiation -> closed_won\n -> closed_lost"})
    assert moves.status_code == 303, setup_errors(moves.text)
    assert rules_of(crm)["amount_cap"]["when"] == {"transitions": [{"from": "negotiation", "to": "closed_won"}, {"to": "closed_lost"}]}
    again = html.unescape(client.get("/setup/objects/opportunity/validation-rules/amount_cap").text)
    assert "negotiation -> closed_won" in again and 'name="original" value="amount_cap"' in again
    gone = form_post(client, "/setup/objects/opportunity/validation-rules/amount_cap/remove", data={"_csrf_token": csrf})
    assert gone.status_code == 303 and rules_of(crm) == {}
    assert "validation_rules" not in next(e for e in client.get("/api/meta/changeset", headers=bearer(client, "root")).json()["extensions"]
                                          if e["object"] == "opportunity")


def test_setup_checks_the_expression_as_it_is_typed(crm, client):
    csrf = signed_in(client, "root")
    bad = form_post(client, "/setup/objects/opportunity/validation-rules/check", headers=HX, data={"_csrf_token": csrf, "expression": "amout > 1"})
    assert bad.status_code == 200 and 'id="expression-check"' in bad.text
    assert "column 1: 'amout' is not a field of opportunity (did you mean 'amount'?)" in html.unescape(bad.text)
    text = form_post(client, "/setup/objects/opportunity/validation-rules/check", headers={**HX, **CHINESE},
                       data={"_csrf_token": csrf, "expression": "name"})
    assert "第 1 列：表达式的结果是文本" in html.unescape(text.text)
    fine = form_post(client, "/setup/objects/opportunity/validation-rules/check", headers=HX, data={"_csrf_token": csrf, "expression": "amount > 1"})
    assert "The condition reads well." in fine.text and "field-error" not in fine.text


def test_setup_refuses_a_bad_rule_naming_its_problems_and_saves_nothing(crm, client):
    csrf = signed_in(client, "root")
    answer = form_post(client, "/setup/objects/opportunity/validation-rules", data={
        "_csrf_token": csrf, "name": "cap", "expression": "amount <= ", "field": "amout", "message_en": "x", "when": "always"})
    assert answer.status_code == 422
    errors = setup_errors(answer.text)
    assert "validation rule 'cap', column 10" in errors and "'amout'" in errors, errors
    assert 'id="validation-rule-form"' in answer.text and "amount &lt;= " in answer.text  # the form comes back as typed
    assert rules_of(crm) == {}
    unnamed = form_post(client, "/setup/objects/opportunity/validation-rules", data={"_csrf_token": csrf, "name": "Cap!", "expression": "",
                                                                                 "message_en": "", "when": "values"})
    assert unnamed.status_code == 422
    said = setup_errors(unnamed.text)
    assert "The name is lower-case letters" in said and "Write the condition" in said and "Tick the steps" in said


def test_a_customizer_deactivates_and_deletes_a_rule_in_chinese(crm, client):
    crm.runtime.import_changeset(changeset(extensions=[{"object": "opportunity", "validation_rules": [CAP]}]), "rules.json", "test")
    csrf = signed_in(client, "cora")
    page = client.get("/setup/objects/opportunity", headers=CHINESE).text
    assert "校验规则" in page and "停用" in page
    off = form_post(client, "/setup/objects/opportunity/validation-rules/amount_cap/active", headers=CHINESE,
                    data={"_csrf_token": csrf, "active": "false"})
    assert off.status_code == 303 and rules_of(crm)["amount_cap"]["active"] is False
    assert deal(crm, amount=9500000)["amount"]
    on = form_post(client, "/setup/objects/opportunity/validation-rules/amount_cap/active", data={"_csrf_token": csrf, "active": "true"})
    assert on.status_code == 303 and rules_of(crm)["amount_cap"]["active"] is True
    assert form_post(client, "/setup/objects/opportunity/validation-rules/amount_cap/remove", data={"_csrf_token": csrf}).status_code == 303
    assert rules_of(crm) == {}
    missing = client.get("/setup/objects/opportunity/validation-rules/amount_cap", headers=CHINESE)
    assert missing.status_code == 404 and "没有名为“amount_cap”的校验规则" in html.unescape(missing.text)


def test_a_customization_deactivates_a_plugins_rule_and_removing_the_change_brings_it_back(crm, client):
    plugin = Doc("object", {"name": "deal", "label": label("Deal"), "fields": [{"name": "amount", "type": "decimal", "label": label("Amount")}],
                            "validation_rules": [CAP]}, "a/deal.json", "plugin:a")
    change = Doc("extension", {"object": "deal", "validation_rules": [{"name": "amount_cap", "active": False}]}, "database", "customization",
                 "/extensions/deal")
    meta = build([plugin, change], FieldTypeRegistry())
    deal_object = meta.object("deal")
    assert (deal_object.rule_layers["amount_cap"], "amount_cap" in deal_object.rules_customized) == ("plugin:a", True)
    assert build([plugin], FieldTypeRegistry()).object("deal").validation_rules == [CAP]


def test_setup_of_rules_is_for_administrators_and_customizers(crm, client):
    signed_in(client, "sam")
    assert client.get("/setup/objects/opportunity/validation-rules/new").status_code == 403


def test_a_rule_reads_a_formula_field_as_the_record_will_be_saved(crm):
    crm.runtime.import_changeset(changeset(extensions=[{"object": "opportunity", "fields": [
        {"name": "weighted", "type": "formula", "expression": "amount * probability / 100", "result_type": "currency",
         "label": label("Weighted amount", "加权金额")}]}]), "weighted.json", "test")
    add_rules(crm, {"name": "weighted_cap", "expression": "OR(ISBLANK(weighted), weighted <= 1000000)", "field": "amount",
                    "message": label("The weighted amount may not pass 1,000,000", "加权金额不能超过 100 万")})
    assert deal(crm, amount=4000000, probability=20)["weighted"]  # 800,000
    with pytest.raises(RecordValidationError) as info:
        deal(crm, amount=4000000, probability=50)
    assert info.value.errors[0].worded("zh-CN") == "加权金额不能超过 100 万"
