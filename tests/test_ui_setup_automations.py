"""Setup's workflow rules: the list, the no-code editor (object, trigger, condition rows, actions as cards) stored as the
rule's JSON through the metadata service, each refused save's problems shown beside their controls and above the form
in English and Chinese with what was typed kept, the rule's page with its runs, and on a record's page the button rules
and the record's runs. Closed to people without Setup. Real HTTP through the ASGI app, both databases."""

from __future__ import annotations

import html
import re

import pytest
from litestar.testing import TestClient

from core import scheduler
from core.api.app import create_app
from helpers import CHINESE
from test_ui_pages import signed_in

FORMAT = "tessera-changeset/1"


@pytest.fixture
def ui(world):
    with TestClient(create_app(world.runtime)) as client:
        yield client


def rule_form(csrf: str, **values) -> dict:
    """The editor's form for a rule on accounts: changed to a customer with revenue of at least a million, any industry
    but government; set the description and a follow-up date, and notify the owner."""
    data = {"_csrf_token": csrf, "original": "", "editing": "form", "do": "save",
            "name": "big_customer", "object": "account", "label_en": "Big customer", "label_zh": "大客户", "active": "on",
            "on": "field_changed", "t_field": "account_type", "t_from": "", "t_to": "customer",
            "mode": "all", "c_count": "2",
            "c-0-field": "annual_revenue", "c-0-op": "gte", "c-0-value": "1000000",
            "c-1-field": "industry", "c-1-op": "ne", "c-1-value": "government",
            "a_count": "2",
            "a-0-type": "set_fields", "a-0-v_count": "2",
            "a-0-v-0-field": "description", "a-0-v-0-kind": "value", "a-0-v-0-value": "Key account",
            "a-0-v-1-field": "phone", "a-0-v-1-kind": "field", "a-0-v-1-value": "email",
            "a-1-type": "notify", "a-1-to": ["owner", "team:East"], "a-1-message_en": "A big customer", "a-1-message_zh": "一个大客户"}
    return {**data, **values}


EXPECTED = {"object": "account", "label": {"en": "Big customer", "zh-CN": "大客户"},
            "trigger": {"on": "field_changed", "field": "account_type", "to": "customer"},
            "condition": {"annual_revenue__gte": 1000000, "industry__ne": "government"},
            "actions": [{"type": "set_fields", "values": {"description": "Key account", "phone": {"$field": "email"}}},
                        {"type": "notify", "to": ["owner", "team:East"], "message": {"en": "A big customer", "zh-CN": "一个大客户"}}]}


def errors_of(page) -> list[str]:
    found = re.search(r'id="rule-errors">(.*?)</div>', page.text, re.S)
    return [html.unescape(item) for item in re.findall(r"<li>(.*?)</li>", found.group(1), re.S)] if found else []


def problem_at(page, control: str) -> str:
    found = re.search(rf'id="{re.escape(control)}-problem">(.*?)</small>', page.text, re.S)
    return html.unescape(found.group(1)) if found else ""


def rules(runtime, *bodies) -> None:
    runtime.import_changeset({"format": FORMAT, "automations": list(bodies)}, "test", "test")


def test_an_implementer_builds_a_rule_in_the_form_and_it_is_stored_as_its_json(ui, world):
    csrf = signed_in(ui, "root")
    assert 'href="/setup/workflow-rules"' in ui.get("/setup").text
    empty = ui.get("/setup/workflow-rules")
    assert empty.status_code == 200 and "There is no workflow rule yet." in empty.text
    new = ui.get("/setup/workflow-rules/new?object=account")
    assert new.status_code == 200 and '<option value="account" selected>' in new.text
    # choosing the trigger and adding a condition row come back as the form, with what the field needs
    step = ui.post("/setup/workflow-rules/editor", data={**rule_form(csrf), "do": "add-cond"})
    assert step.status_code == 200 and 'name="c-2-field"' in step.text and 'name="t_to"' in step.text
    assert '<option value="customer" selected>' in step.text  # a picklist trigger field offers its values
    assert world.runtime.current_metadata().automations == {}
    saved = ui.post("/setup/workflow-rules/editor", data=rule_form(csrf))
    assert saved.status_code == 200 and str(saved.url).endswith("/setup/workflow-rules/big_customer?done=Workflow%20rule%20saved.")
    stored = world.runtime.current_metadata().automations["big_customer"]
    assert {k: v for k, v in stored.items() if k != "name"} == EXPECTED
    assert "When Type changes, to Customer" in saved.text
    assert "Annual Revenue is at least 1000000" in saved.text and "Notify the owner, East: “A big customer”" in html.unescape(saved.text)
    listed = ui.get("/setup/workflow-rules")
    row = listed.text.split('id="rule-big_customer"')[1].split("</tr>")[0]
    assert "Big customer" in row and "Active" in row and "Never" in row
    # the stored rule opens in the form again, as it was built
    editor = ui.get("/setup/workflow-rules/big_customer/edit")
    assert 'name="c-1-field"' in editor.text and 'value="Key account"' in editor.text and 'id="rule-json"' not in editor.text
    # deactivated and activated again
    ui.post("/setup/workflow-rules/big_customer/active", data={"_csrf_token": csrf})
    assert world.runtime.current_metadata().automations["big_customer"]["active"] is False
    ui.post("/setup/workflow-rules/big_customer/active", data={"_csrf_token": csrf, "active": "on"})
    assert "active" not in world.runtime.current_metadata().automations["big_customer"]
    removed = ui.post("/setup/workflow-rules/big_customer/remove", data={"_csrf_token": csrf})
    assert removed.status_code == 200 and "big_customer" not in world.runtime.current_metadata().automations


def test_a_wrong_rule_shows_each_problem_by_its_control_in_both_languages_and_keeps_the_input(ui, world):
    csrf = signed_in(ui, "root")
    wrong = rule_form(csrf, **{"c-0-value": "lots", "a-0-v-0-field": "id", "a-1-message_en": "Typed by hand"})
    page = ui.post("/setup/workflow-rules/editor", data=wrong)
    assert page.status_code == 422
    errors = errors_of(page)
    assert any(e.startswith("/condition/annual_revenue__gte: ") for e in errors), errors
    assert any(e.startswith("/actions/0/values/id: ") for e in errors), errors
    assert problem_at(page, "c-0-value") and problem_at(page, "a-0-v-0-value")
    assert 'id="c-0-value" name="c-0-value" value="lots"' in page.text and "Typed by hand" in page.text  # what was typed stays
    chinese = ui.post("/setup/workflow-rules/editor", data=wrong, headers=CHINESE)
    assert chinese.status_code == 422 and "规则未保存" in chinese.text and "大于等于" in chinese.text
    assert re.search(r"[\u4e00-\u9fff]", problem_at(chinese, "a-0-v-0-value"))
    # checking changes nothing and says what is wrong the same way
    checked = ui.post("/setup/workflow-rules/editor", data={**wrong, "do": "check"})
    assert checked.status_code == 422 and problem_at(checked, "c-0-value")
    good = ui.post("/setup/workflow-rules/editor", data={**rule_form(csrf), "do": "check"})
    assert good.status_code == 200 and 'id="rule-checked"' in good.text
    assert world.runtime.current_metadata().automations == {}


def test_people_without_setup_rights_are_refused(ui, world):
    csrf = signed_in(ui, "alice")
    assert ui.get("/setup/workflow-rules").status_code == 403
    assert ui.get("/setup/workflow-rules/new").status_code == 403
    assert ui.post("/setup/workflow-rules/editor", data=rule_form(csrf)).status_code == 403
    assert world.runtime.current_metadata().automations == {}


def test_the_rule_page_lists_its_runs_newest_first_and_the_record_page_presses_its_button(ui, world):
    rules(world.runtime,
          {"name": "mark_vip", "object": "account", "label": {"en": "Mark VIP", "zh-CN": "标为贵宾"}, "trigger": {"on": "button"},
           "condition": {"account_type": "prospect"},
           "actions": [{"type": "set_fields", "values": {"description": "VIP"}}]})
    alice, bob = world.accounts["alice"], world.accounts["bob"]
    root = world.actors["root"] if "root" in world.actors else None
    for record_id in (alice, bob):
        version = world.runtime.records.get(world.actors["alice"] if record_id == alice else world.actors["bob"], "account", record_id)["version"]
        actor = world.actors["alice"] if record_id == alice else world.actors["bob"]
        world.runtime.records.update(actor, "account", record_id, {"account_type": "prospect"}, version=version)
    csrf = signed_in(ui, "alice")
    record = ui.get(f"/r/account/{alice}")
    assert f'action="/r/account/{alice}/rules/mark_vip"' in record.text and "Mark VIP" in record.text
    assert 'id="rule-runs"' not in record.text  # no run yet
    assert f"/rules/mark_vip" not in ui.get(f"/r/account/{bob}").text  # bob's account: alice may not read it
    pressed = ui.post(f"/r/account/{alice}/rules/mark_vip", data={"_csrf_token": csrf})
    assert pressed.status_code == 200 and "“Mark VIP” ran." in html.unescape(pressed.text)
    assert world.runtime.records.get(world.actors["alice"], "account", alice)["description"] == "VIP"
    assert 'id="rule-runs"' in pressed.text and "Done" in pressed.text.split('id="rule-runs"')[1]
    all_runs = ui.get(f"/r/account/{alice}/rule-runs")
    assert all_runs.status_code == 200 and "Mark VIP" in all_runs.text
    # the condition no longer holds: the button is gone, and a press by hand says why nothing ran
    version = world.runtime.records.get(world.actors["alice"], "account", alice)["version"]
    world.runtime.records.update(world.actors["alice"], "account", alice, {"account_type": "customer"}, version=version)
    assert "/rules/mark_vip" not in ui.get(f"/r/account/{alice}").text
    again = ui.post(f"/r/account/{alice}/rules/mark_vip", data={"_csrf_token": csrf}, headers=CHINESE)
    assert "未运行" in again.text or "没有运行" in again.text
    # a viewer reads the record and its runs but sees no button
    signed_in(ui, "vera")
    seen = ui.get(f"/r/account/{bob}")
    assert seen.status_code == 200 and "/rules/mark_vip" not in seen.text
    # the rule's page, newest first, paged
    signed_in(ui, "root")
    rule_page = ui.get("/setup/workflow-rules/mark_vip")
    assert rule_page.status_code == 200 and "When someone presses its button on the record" in rule_page.text
    rows = re.findall(r'<tr class="run run-(\w+)">', rule_page.text)
    assert rows == ["skipped", "done"]
    assert f'href="/r/account/{alice}">Alice Industries</a>' in rule_page.text
    listed = ui.get("/setup/workflow-rules").text.split('id="rule-mark_vip"')[1].split("</tr>")[0]
    assert "Skipped" in listed


def test_the_run_section_pages_through_a_records_runs(ui, world):
    rules(world.runtime, {"name": "touch", "object": "account", "label": {"en": "Touch"}, "trigger": {"on": "updated"},
                          "actions": [{"type": "set_fields", "values": {"phone": "1"}}]})
    alice = world.accounts["alice"]
    actor = world.actors["alice"]
    for n in range(7):
        version = world.runtime.records.get(actor, "account", alice)["version"]
        world.runtime.records.update(actor, "account", alice, {"description": f"change {n}"}, version=version)
        scheduler.JobRunner(world.runtime).run_until_idle()
    signed_in(ui, "alice")
    page = ui.get(f"/r/account/{alice}")
    section = page.text.split('id="rule-runs"')[1].split("</details>")[0]
    assert len(re.findall(r'<tr class="run run-', section)) == 5 and 'class="count">5+' in page.text
    everything = ui.get(f"/r/account/{alice}/rule-runs")
    assert len(re.findall(r'<tr class="run run-', everything.text)) >= 7


def test_what_the_form_cannot_show_is_edited_as_json(ui, world):
    csrf = signed_in(ui, "root")
    nested = {"name": "nested", "object": "account", "label": {"en": "Nested"}, "trigger": {"on": "created"},
              "condition": {"any": [{"all": [{"account_type": "prospect"}, {"industry": "finance"}]}, {"employees__gte": 500}]},
              "actions": [{"type": "set_fields", "values": {"description": "Look at it"}}]}
    rules(world.runtime, nested)
    editor = ui.get("/setup/workflow-rules/nested/edit")
    assert editor.status_code == 200 and 'id="rule-json"' in editor.text and "opens as JSON" in editor.text
    body = {**nested, "label": {"en": "Nested", "zh-CN": "嵌套"}}
    import json
    saved = ui.post("/setup/workflow-rules/editor", data={"_csrf_token": csrf, "original": "nested", "editing": "json", "do": "save",
                                                           "json": json.dumps(body, ensure_ascii=False)})
    assert saved.status_code == 200 and world.runtime.current_metadata().automations["nested"]["label"]["zh-CN"] == "嵌套"
    # the form's rule goes to JSON and back without losing anything
    as_json = ui.post("/setup/workflow-rules/editor", data={**rule_form(csrf), "do": "json"})
    assert as_json.status_code == 200 and 'id="rule-json"' in as_json.text
    text = html.unescape(re.search(r'<textarea id="rule-json"[^>]*>(.*?)</textarea>', as_json.text, re.S).group(1))
    assert {k: v for k, v in json.loads(text).items() if k != "name"} == EXPECTED
    back = ui.post("/setup/workflow-rules/editor", data={"_csrf_token": csrf, "original": "", "editing": "json", "do": "form", "json": text})
    assert 'name="c-1-field"' in back.text and 'value="Key account"' in back.text and 'id="rule-json"' not in back.text
