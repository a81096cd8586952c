"""Stage gates on a process field (core/stage_gates.py): which values a record may come from, the fields it needs to
enter a value, and who may move it in or out. Held on every path to the record service: the REST API, the board,
the path, an import (each refused row reported), a batch update; declared in metadata (checked with the document and
JSON pointer of each problem), carried by changesets, edited in Setup. On SQLite and PostgreSQL, with the sales
plugin's gates on opportunities: a lost deal needs its loss reason, a closed deal is reopened only by a sales manager
or an admin.

People: sam (sales rep) and lin (sales manager) in the East team, root (admin), alice (a rep of access_world.py's own
role) and cora (a customizer).
"""

from __future__ import annotations

import csv
import json
import re

import pytest
from litestar.testing import TestClient
from sqlalchemy import select

from access_world import PASSWORD, build_world
from core.api.app import create_app
from core.audit import Who
from core.auth import Accounts
from core.coretables import field_history
from core.db import read_transaction
from core.imports import ImportOptions, run_import
from core.metadata.model import Doc, build
from core.metadata.problems import MetadataError
from core.metadata.service import MetadataService
from core.permissions import TRUSTED
from core.records import Actor
from core.runtime import Runtime
from core.settings import Settings
from core.stage_gates import gate_errors
from core.validation import RecordValidationError
from helpers import CHINESE, bearer, changeset, label
from test_ui_pages import HX, signed_in

SYSTEM = Actor.system()


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


def deal(crm, stage: str, owner: str = "sam", **values) -> dict:
    return crm.runtime.records.create(SYSTEM, "opportunity", {
        "name": f"Line {stage}", "account": crm.accounts["alice"], "close_date": "2026-12-31", "stage": stage,
        "owner": crm.users[owner], **({"loss_reason": "price"} if stage == "closed_lost" else {}), **values})


def patch(client, who: str, record: dict, changes: dict, lang: dict | None = None):
    return client.patch(f"/api/records/opportunity/{record['id']}", json=changes,
                        headers={**bearer(client, who), "If-Match": f'"{record["version"]}"', **(lang or {})})


def stored(crm, record: dict) -> dict:
    return crm.runtime.records.get(SYSTEM, "opportunity", record["id"])


def history(crm, record: dict) -> list:
    with read_transaction(crm.runtime.engine) as conn:
        return conn.execute(select(field_history.c.field).where(field_history.c.object == "opportunity",
                                                                field_history.c.record_id == record["id"])).all()


def gates(crm, object_name: str = "opportunity") -> dict:
    return crm.runtime.current_metadata().object(object_name).stage_gates


def set_gates(crm, object_name: str, stage_gates: dict, **extension) -> None:
    crm.runtime.import_changeset(changeset(extensions=[{"object": object_name, "stage_gates": stage_gates, **extension}]), "test", "test")


# --- moves through the API ---------------------------------------------------------------------------------------


def test_a_refused_move_answers_422_naming_the_stage_and_changes_nothing(crm, client):
    won = deal(crm, "closed_won")
    refused = patch(client, "sam", won, {"stage": "negotiation", "next_step": "Call the buyer"})
    assert refused.status_code == 422, refused.text
    [error] = refused.json()["errors"]
    assert (error["field"], error["code"]) == ("stage", "gate_left_by")
    assert error["message"] == ("your role may not move Stage away from Closed Won; only Sales Manager or Administrator may: "
                                "ask one of them")
    assert error["messages"]["zh-CN"] == "你的角色不能把销售阶段从“赢单”改为其他值，只有销售经理或系统管理员可以：请找他们处理。"
    assert error["params"] == {"field": "Stage", "current": "Closed Won", "sets": "Sales Manager or Administrator"}
    after = stored(crm, won)
    assert (after["stage"], after["next_step"], after["version"]) == ("closed_won", None, 1) and history(crm, won) == []
    chinese = patch(client, "sam", won, {"stage": "negotiation"}, CHINESE)
    assert chinese.status_code == 422 and chinese.json()["errors"][0]["message"].startswith("你的角色不能把销售阶段从“赢单”")


def test_a_value_entered_only_from_some_values_refuses_the_others(crm, client):
    set_gates(crm, "opportunity", {"closed_won": {"from": ["negotiation"]}})
    assert gates(crm)["closed_won"] == {"from": ["negotiation"]}  # the customization replaced the plugin's gate of that value
    early = deal(crm, "proposal")
    refused = patch(client, "sam", early, {"stage": "closed_won"})
    assert refused.status_code == 422
    [error] = refused.json()["errors"]
    assert (error["field"], error["code"]) == ("stage", "gate_from")
    assert error["message"] == "Stage can move to Closed Won only from Negotiation, not from Proposal"
    assert error["messages"]["zh-CN"] == "销售阶段只能从“商务谈判”改为“赢单”，不能从“方案报价”改过去。"
    assert stored(crm, early)["stage"] == "proposal"
    moved = patch(client, "sam", early, {"stage": "negotiation"})
    assert moved.status_code == 200 and patch(client, "sam", moved.json(), {"stage": "closed_won"}).status_code == 200
    started = crm.runtime.records.create(crm.actor("sam"), "opportunity", {"name": "Signed at once", "account": crm.accounts["alice"],
                                                                          "close_date": "2026-12-31", "stage": "closed_won"})
    assert started["stage"] == "closed_won"  # a new record may start at the value


def test_a_required_field_is_needed_to_enter_and_may_be_given_in_the_same_save(crm, client):
    talks = deal(crm, "negotiation")
    refused = patch(client, "sam", talks, {"stage": "closed_lost"})
    assert refused.status_code == 422
    [error] = refused.json()["errors"]
    assert (error["field"], error["code"]) == ("loss_reason", "gate_required")
    assert error["message"] == "Loss Reason must be filled in before Stage can move to Closed Lost"
    assert error["messages"]["zh-CN"] == "销售阶段改为“丢单”之前，必须先填写丢单原因。"
    assert stored(crm, talks)["stage"] == "negotiation"
    lost = patch(client, "sam", talks, {"stage": "closed_lost", "loss_reason": "competitor"})
    assert lost.status_code == 200 and lost.json()["stage"] == "closed_lost"
    emptied = patch(client, "sam", lost.json(), {"loss_reason": None})
    assert emptied.status_code == 422 and emptied.json()["errors"][0]["code"] == "gate_emptied"
    assert emptied.json()["errors"][0]["message"] == "Loss Reason cannot be emptied while Stage is Closed Lost"
    assert patch(client, "sam", lost.json(), {"loss_reason": "price"}).status_code == 200  # another reason is fine
    given_before = deal(crm, "proposal", loss_reason="timing")
    assert patch(client, "sam", given_before, {"stage": "closed_lost"}).status_code == 200  # filled before, not in the save
    with pytest.raises(RecordValidationError) as info:  # on create as well, and for trusted code too
        crm.runtime.records.create(SYSTEM, "opportunity", {"name": "Lost at once", "account": crm.accounts["alice"],
                                                           "close_date": "2026-12-31", "stage": "closed_lost"})
    assert [(e.field, e.code) for e in info.value.errors] == [("loss_reason", "gate_required")]


def test_who_may_reopen_a_closed_deal(crm, client):
    first, second, third = deal(crm, "closed_lost"), deal(crm, "closed_lost"), deal(crm, "closed_won")
    assert patch(client, "sam", first, {"stage": "proposal"}).status_code == 422
    assert patch(client, "sam", third, {"stage": "closed_lost", "loss_reason": "price"}).status_code == 422  # leaving, whatever the way
    assert patch(client, "alice", first, {"stage": "proposal"}).status_code in (403, 404, 422)  # neither the role nor the right
    reopened = patch(client, "lin", first, {"stage": "proposal"})
    assert reopened.status_code == 200 and reopened.json()["stage"] == "proposal"
    assert patch(client, "root", second, {"stage": "negotiation"}).status_code == 200
    assert patch(client, "sam", reopened.json(), {"stage": "negotiation"}).status_code == 200  # open again: the rep works it


def test_the_system_and_plugin_code_pass_the_role_checks_but_not_the_required_fields(crm):
    lost, won = deal(crm, "closed_lost"), deal(crm, "closed_won")
    reopened = crm.runtime.records.update(SYSTEM, "opportunity", lost["id"], {"stage": "qualification"}, version=1)
    assert reopened["stage"] == "qualification"
    with crm.runtime.records.transaction(crm.actor("sam")) as tx:  # a plugin's writes inside a hook are trusted
        assert tx.update("opportunity", won["id"], {"stage": "negotiation"})["stage"] == "negotiation"
        with pytest.raises(RecordValidationError):
            tx.update("opportunity", won["id"], {"stage": "closed_lost"})
    closed = deal(crm, "closed_won")
    with pytest.raises(RecordValidationError) as info:
        with crm.runtime.records.transaction(crm.actor("sam"), checked=True) as tx:  # checked: the user's own rights
            tx.update("opportunity", closed["id"], {"stage": "proposal"})
    assert info.value.errors[0].code == "gate_left_by"


def test_gate_errors_reads_only_its_arguments(crm):
    obj = crm.runtime.current_metadata().object("opportunity")
    rep, manager = crm.actor("sam"), crm.actor("lin")
    row = {"stage": "closed_lost", "loss_reason": "price"}
    assert [e.code for e in gate_errors(obj, row, {"stage": "proposal"}, rep)] == ["gate_left_by"]
    assert gate_errors(obj, row, {"stage": "proposal"}, manager) == []
    assert gate_errors(obj, row, {"stage": "proposal"}, rep, trusted=True) == []
    assert gate_errors(obj, row, {"stage": "closed_lost", "name": "Same stage"}, rep) == []  # no move, nothing to check
    assert [e.field for e in gate_errors(obj, None, {"stage": "closed_lost"}, SYSTEM)] == ["loss_reason"]
    assert gate_errors(obj, None, {"stage": "closed_lost", "loss_reason": "price"}, rep) == []
    assert gate_errors(crm.runtime.current_metadata().object("account"), None, {"name": "No gates"}, rep) == []


# --- imports, batch updates, the board and the path ---------------------------------------------------------------


def test_an_import_reports_each_row_a_gate_refuses_and_imports_the_rest(crm, tmp_path):
    won = deal(crm, "closed_won", name="Won already")
    file = tmp_path / "deals.csv"
    with file.open("w", newline="", encoding="utf-8") as out:
        csv.writer(out).writerows([
            ["name", "account", "close_date", "stage", "loss_reason"],
            ["Lost without a reason", "Alice Industries", "2026-10-01", "closed_lost", ""],
            ["Lost to price", "Alice Industries", "2026-10-02", "closed_lost", "price"],
            ["Won already", "Alice Industries", "2026-12-31", "negotiation", ""],
            ["Fresh deal", "Alice Industries", "2026-11-30", "prospecting", ""],
        ])
    report = run_import(crm.runtime, crm.actor("sam"), "opportunity", file, ImportOptions(
        duplicates=[{"match": ["name"], "then": "update"}], rejected_path=tmp_path / "rejected.csv"))
    assert (report.created, report.updated, report.rejected) == (2, 0, 2)
    reasons = {r.row: r.reason for r in report.rejections}
    assert reasons == {2: "loss_reason: Loss Reason must be filled in before Stage can move to Closed Lost",
                       4: "stage: your role may not move Stage away from Closed Won; only Sales Manager or Administrator may: ask one of them"}
    with (tmp_path / "rejected.csv").open(encoding="utf-8-sig", newline="") as rejected:
        assert [row["name"] for row in csv.DictReader(rejected)] == ["Lost without a reason", "Won already"]
    assert stored(crm, won)["stage"] == "closed_won"
    names = {r["name"] for r in crm.runtime.records.each(SYSTEM, "opportunity", {})}
    assert {"Lost to price", "Fresh deal"} <= names and "Lost without a reason" not in names


def test_a_batch_update_of_an_object_without_hooks_is_gated_row_by_row(crm):
    """Accounts have no plugin hooks, so a batch update takes the path of one statement per kind of change; a gate set on
    the base object through an extension holds there too."""
    set_gates(crm, "account", {"customer": {"from": ["prospect"], "required": ["phone"], "entered_by": ["manager", "admin"]}},
              process_field="account_type")
    runtime, mike = crm.runtime, crm.actor("mike")
    ids = [runtime.records.create(SYSTEM, "account", {"name": f"Batch {i}", "account_type": kind, "owner": crm.users["mike"],
                                                      **({"phone": "+86 21 5555 0000"} if i != 1 else {})})["id"]
           for i, kind in enumerate(["prospect", "prospect", "partner", "prospect"])]
    with runtime.records.bulk(mike, "account") as bulk:
        problems = bulk.update_many([(record_id, {"account_type": "customer"}) for record_id in ids])
    assert {index: [(e.field, e.code) for e in errors] for index, errors in problems.items()} == {
        1: [("phone", "gate_required")], 2: [("account_type", "gate_from")]}
    kinds = {r["id"]: r["account_type"] for r in runtime.records.each(SYSTEM, "account", {"id__in": ",".join(map(str, ids))})}
    assert [kinds[i] for i in ids] == ["customer", "prospect", "partner", "customer"]
    alice_account = runtime.records.create(SYSTEM, "account", {"name": "Alice prospect", "account_type": "prospect", "phone": "1",
                                                               "owner": crm.users["alice"]})
    with runtime.records.bulk(crm.actor("alice"), "account") as bulk:
        refused = bulk.update_many([(alice_account["id"], {"account_type": "customer"})])
    assert [e.code for e in refused[0]] == ["gate_entered_by"]


def test_a_card_dragged_to_a_gated_column_goes_back_with_the_reason(crm, client):
    csrf = signed_in(client, "sam")
    won = deal(crm, "closed_won")
    moved = client.post(f"/r/opportunity/{won['id']}/move", headers=HX,
                        data={"_csrf_token": csrf, "value": "negotiation", "version": "1", "query": ""})
    assert moved.status_code == 422
    assert "your role may not move Stage away from Closed Won; only Sales Manager or Administrator may" in moved.text
    talks = deal(crm, "negotiation")
    lost = client.post(f"/r/opportunity/{talks['id']}/move", headers=HX,
                       data={"_csrf_token": csrf, "value": "closed_lost", "version": "1", "query": ""})
    assert lost.status_code == 422 and "Loss Reason must be filled in before Stage can move to Closed Lost" in lost.text
    assert (stored(crm, won)["stage"], stored(crm, talks)["stage"]) == ("closed_won", "negotiation")
    path = client.post(f"/r/opportunity/{talks['id']}/path", headers=HX, data={"_csrf_token": csrf, "value": "closed_lost", "version": "1"})
    assert path.status_code == 422 and "Loss Reason must be filled in" in path.text
    chinese = client.post(f"/r/opportunity/{won['id']}/move", headers={**HX, **CHINESE},
                          data={"_csrf_token": csrf, "value": "negotiation", "version": "1", "query": ""})
    assert chinese.status_code == 422 and "你的角色不能把销售阶段从“赢单”改为其他值" in chinese.text


def test_the_demo_data_passes_the_gates(make_runtime):
    from core.demo import load_demo  # noqa: PLC0415

    runtime = make_runtime(plugins=("sales",))
    counts = load_demo(runtime)
    assert counts["opportunity"] > 0
    lost = runtime.records.list(SYSTEM, "opportunity", {"stage": "closed_lost"}).items
    assert lost and all(deal["loss_reason"] for deal in lost)


# --- metadata ---------------------------------------------------------------------------------------------------


def refused(crm, data) -> dict[str, str]:
    with pytest.raises(MetadataError) as info:
        crm.runtime.import_changeset(data, "gates.json", "test")
    return {p.pointer: p.message for p in info.value.problems}


def test_unknown_values_fields_and_permission_sets_are_refused_with_their_pointers(crm):
    problems = refused(crm, changeset(extensions=[{"object": "opportunity", "stage_gates": {
        "closed_lots": {"required": ["loss_reason"]},
        "closed_won": {"from": ["negotation"], "required": ["amout", "contacts"], "entered_by": ["sales_manger"]},
    }}]))
    assert problems == {
        "/extensions/0/stage_gates/closed_lots": "'closed_lots' is not a value of the process field 'opportunity.stage' (did you mean 'closed_lost'?)",
        "/extensions/0/stage_gates/closed_won/from/0": "'negotation' is not a value of the process field 'opportunity.stage' (did you mean 'negotiation'?)",
        "/extensions/0/stage_gates/closed_won/required/0": "'amout' is not a field of 'opportunity' (did you mean 'amount'?)",
        "/extensions/0/stage_gates/closed_won/required/1": "'contacts' is a many_to_many field; a stage gate can require only a field that holds one value",
        "/extensions/0/stage_gates/closed_won/entered_by/0": "'sales_manger' is not a permission set (did you mean 'sales_manager'?)",
    }
    shaped = refused(crm, changeset(extensions=[{"object": "opportunity", "stage_gates": {"closed_won": {"from": "negotiation"}}}]))
    assert shaped == {"/extensions/0/stage_gates/closed_won/from": "must be a list ([...])"}
    assert gates(crm) == {"closed_won": {"left_by": ["sales_manager", "admin"]},
                          "closed_lost": {"required": ["loss_reason"], "left_by": ["sales_manager", "admin"]}}


def test_a_custom_object_declares_its_gates_and_problems_point_into_it(crm):
    machine = {"name": "machine", "label": label("Machine", "设备"), "process_field": "state", "fields": [
        {"name": "serial", "type": "text", "label": label("Serial", "序列号")},
        {"name": "state", "type": "picklist", "label": label("State", "状态"), "values": [
            {"value": "new", "label": label("New", "新")}, {"value": "scrapped", "label": label("Scrapped", "报废")}]}],
        "stage_gates": {"scrapped": {"required": ["seriall"], "left_by": ["nobody"]}}}
    problems = refused(crm, changeset(machine))
    assert problems == {"/objects/0/stage_gates/scrapped/required/0": "'seriall' is not a field of 'machine' (did you mean 'serial'?)",
                        "/objects/0/stage_gates/scrapped/left_by/0": "'nobody' is not a permission set"}
    machine["stage_gates"] = {"scrapped": {"by": ["admin"]}}
    assert refused(crm, changeset(machine)) == {"/objects/0/stage_gates/scrapped": "'by' is not a known key"}
    machine["stage_gates"] = {"scrapped": {"required": ["serial"], "left_by": ["admin"]}}
    crm.runtime.import_changeset(changeset(machine), "machine.json", "test")
    with pytest.raises(RecordValidationError):
        crm.runtime.records.create(SYSTEM, "machine", {"state": "scrapped"})
    assert crm.runtime.records.create(SYSTEM, "machine", {"state": "scrapped", "serial": "M-1"})["state"] == "scrapped"
    crm.runtime.import_changeset(changeset(extensions=[{"object": "machine", "stage_gates": {"scrapped": None}}]), "lift.json", "test")
    assert gates(crm, "machine") == {}


def test_the_api_shows_an_objects_gates(crm, client):
    shown = client.get("/api/meta/objects/opportunity", headers=bearer(client, "sam")).json()
    assert shown["process_field"] == "stage" and shown["stage_gates"]["closed_lost"]["required"] == ["loss_reason"]


def test_the_problems_read_in_chinese_through_the_api(crm, client):
    answer = client.post("/api/meta/changeset", headers={**bearer(client, "root"), **CHINESE},
                         json=changeset(extensions=[{"object": "opportunity", "stage_gates": {"closed_won": {"left_by": ["boss"]}}}]))
    assert answer.status_code == 422
    [problem] = answer.json()["errors"]
    assert problem["pointer"] == "/extensions/0/stage_gates/closed_won/left_by/0" and problem["code"] == "gate_unknown_set"
    assert problem["message"] == "“boss”不是权限集"


def test_a_plugin_may_not_replace_another_layers_gate():
    from core.fieldtypes import FieldTypeRegistry  # noqa: PLC0415

    deal_object = {"name": "deal", "label": label("Deal"), "process_field": "stage", "fields": [
        {"name": "stage", "type": "picklist", "label": label("Stage"), "values": [{"value": "won", "label": label("Won")},
                                                                                 {"value": "lost", "label": label("Lost")}]}],
        "stage_gates": {"won": {"left_by": ["admin"]}}}
    admin = {"name": "admin", "label": label("Admin"), "admin": True}
    docs = [Doc("object", deal_object, "a/deal.json", "plugin:a"), Doc("permission_set", admin, "admin.json", "base"),
            Doc("extension", {"object": "deal", "stage_gates": {"won": None, "lost": {"left_by": ["admin"]}}}, "b/deal.json", "plugin:b")]
    with pytest.raises(MetadataError) as info:
        build(docs, FieldTypeRegistry())
    assert [(p.source, p.pointer) for p in info.value.problems] == [("b/deal.json", "/stage_gates/won")]
    docs[2] = Doc("extension", {"object": "deal", "stage_gates": {"won": None}}, "database", "customization", "/extensions/deal")
    assert build(docs, FieldTypeRegistry()).object("deal").stage_gates == {}


def test_without_a_process_field_the_gates_wait_and_come_back_with_it(crm):
    service = MetadataService(crm.runtime, TRUSTED)
    layout = dict(crm.runtime.current_metadata().layouts["opportunity:detail:default"])
    service.arrange_record_page("opportunity", layout, None, Who(None, "test"))
    assert crm.runtime.current_metadata().object("opportunity").process_field is None
    assert crm.runtime.records.create(SYSTEM, "opportunity", {"name": "No path", "account": crm.accounts["alice"],
                                                              "close_date": "2026-12-31", "stage": "closed_lost"})["stage"] == "closed_lost"
    service.arrange_record_page("opportunity", layout, "stage", Who(None, "test"))
    assert "closed_lost" in gates(crm)
    service.arrange_record_page("opportunity", layout, "type", Who(None, "test"))  # another picklist: gates it lacks go
    assert crm.runtime.current_metadata().object("opportunity").process_field == "type" and gates(crm) == {}


def test_the_gates_travel_in_a_changeset(crm, tmp_path):
    set_gates(crm, "opportunity", {"closed_won": {"from": ["negotiation"], "entered_by": ["sales_manager"]}, "closed_lost": None})
    set_gates(crm, "opportunity", {"proposal": {"required": ["amount"]}})  # a later change keeps the values it does not name
    expected = {"closed_won": {"from": ["negotiation"], "entered_by": ["sales_manager"]}, "proposal": {"required": ["amount"]}}
    assert gates(crm) == expected
    exported = crm.runtime.custom_config().as_changeset()
    extension = next(e for e in exported["extensions"] if e["object"] == "opportunity")
    assert extension["stage_gates"] == {**expected, "closed_lost": None}
    text = json.dumps(exported)
    other = Runtime(Settings(database_url=f"sqlite:///{tmp_path / 'other.db'}", plugins=("sales",), password_hashing="fast",
                             files_dir=str(tmp_path / "other-files")))
    try:
        other.upgrade("test")
        other.import_changeset(json.loads(text), "exported.json", "test")
        assert other.current_metadata().object("opportunity").stage_gates == expected
        with pytest.raises(RecordValidationError):
            other.records.create(SYSTEM, "opportunity", {"name": "Skipped", "account": other.records.create(
                SYSTEM, "account", {"name": "Elsewhere"})["id"], "close_date": "2026-12-31", "stage": "proposal"})
    finally:
        other.close()


# --- Setup ------------------------------------------------------------------------------------------------------


def post_gates(client, csrf: str, object_name: str, headers: dict | None = None, **fields):
    return client.post(f"/setup/objects/{object_name}/stage-gates", data={"_csrf_token": csrf, **fields}, headers=headers or {},
                       follow_redirects=False)


def setup_errors(html: str) -> str:
    return re.search(r'id="setup-errors">(.*?)</div>', html, re.S).group(1)


def test_setup_shows_the_gates_and_saves_them_as_a_change_the_export_carries(crm, client):
    csrf = signed_in(client, "root")
    form = client.get("/setup/objects/opportunity/stage-gates")
    assert form.status_code == 200
    assert re.search(r'name="left_by_closed_won" value="sales_manager"\s+checked', form.text)
    assert 'name="required_closed_lost" value="loss_reason"' in form.text
    assert 'href="/setup/objects/opportunity/stage-gates"' in client.get("/setup/objects/opportunity").text
    assert 'href="/setup/objects/opportunity/stage-gates"' in client.get("/setup/objects/opportunity/record-page").text
    saved = post_gates(client, csrf, "opportunity", from_closed_won=["negotiation", "proposal"], left_by_closed_won=["sales_manager"],
                       required_closed_lost="loss_reason, Next Step", entered_by_closed_lost=["sales_manager", "admin"],
                       required_negotiation="金额")
    assert saved.status_code == 303, saved.text[:2000]
    assert gates(crm) == {
        "closed_won": {"from": ["proposal", "negotiation"], "left_by": ["sales_manager"]},
        "closed_lost": {"required": ["loss_reason", "next_step"], "entered_by": ["sales_manager", "admin"]},
        "negotiation": {"required": ["amount"]},
    }
    again = client.get("/setup/objects/opportunity/stage-gates").text
    assert 'value="loss_reason, next_step"' in again and re.search(r'name="from_closed_won" value="negotiation"\s+checked', again)
    assert "Requires: Loss Reason, Next Step" in again  # the closed line names the fields by their labels
    exported = client.get("/api/meta/changeset", headers=bearer(client, "root")).json()
    assert next(e for e in exported["extensions"] if e["object"] == "opportunity")["stage_gates"]["negotiation"] == {"required": ["amount"]}
    cleared = post_gates(client, csrf, "opportunity")  # nothing ticked or typed: no gates
    assert cleared.status_code == 303 and gates(crm) == {}
    assert crm.runtime.records.create(SYSTEM, "opportunity", {"name": "Free again", "account": crm.accounts["alice"],
                                                              "close_date": "2026-12-31", "stage": "closed_lost"})["stage"] == "closed_lost"


@pytest.mark.parametrize("fields, message", [
    ({"required_closed_lost": "loss_reason, reason_lost"}, "Closed Lost: Opportunities have no field “reason_lost”."),
    ({"required_closed_won": "contacts"}, "Closed Won: “Contact Roles” links several records"),
    ({"from_closed_won": ["won"]}, "Closed Won: “won” is not another value of Stage."),
    ({"from_closed_won": ["closed_won"]}, "Closed Won: “closed_won” is not another value of Stage."),
    ({"left_by_closed_won": ["boss"]}, "Closed Won: there is no permission set “boss”."),
])
def test_setup_refuses_bad_input_naming_it_and_saves_nothing(crm, client, fields, message):
    csrf = signed_in(client, "root")
    before = gates(crm)
    answer = post_gates(client, csrf, "opportunity", **fields)
    assert answer.status_code == 422
    assert message in setup_errors(answer.text)
    assert gates(crm) == before
    assert 'id="stage-gates-form"' in answer.text  # the form comes back with what was typed


def test_setup_speaks_chinese_and_sends_objects_without_a_path_to_the_record_page(crm, client):
    csrf = signed_in(client, "cora")
    page = client.get("/setup/objects/opportunity/stage-gates", headers=CHINESE)
    assert page.status_code == 200 and "销售阶段" in page.text and "只能从以下步骤进入" in page.text and "销售经理" in page.text
    refused = post_gates(client, csrf, "opportunity", CHINESE, required_closed_lost="原因")
    assert refused.status_code == 422 and "丢单：商机没有字段“原因”。" in setup_errors(refused.text)
    without = client.get("/setup/objects/account/stage-gates", headers=CHINESE)
    assert without.status_code == 200 and "没有流程字段" in without.text and 'id="stage-gates-form"' not in without.text
    assert post_gates(client, csrf, "account", required_customer="phone").status_code == 422


def test_setup_is_for_administrators_and_customizers(crm, client):
    signed_in(client, "sam")
    assert client.get("/setup/objects/opportunity/stage-gates").status_code == 403
