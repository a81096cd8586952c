"""Approval processes (core/approvals/service.py, /api/records/{object}/{id}/approval): a record submitted when its
entry condition holds, decided step by step by the approvers resolved when each step starts (the first decision, or
every approver's), locked while pending on every path to the record service, recalled by its submitter; each
submission and decision in the record's history, approvers notified in the app and by e-mail, the submitter of the
outcome. The sales plugin's quote discount approval and the manufacturing plugin's credit approval of high-risk
sales orders. Real HTTP through the ASGI app as real users, on SQLite and PostgreSQL.

People: sam and tom (sales reps; sam's manager is lin) and lin, max (sales managers) in the East team, wes (a sales
manager of the West team), root (admin), alice and bob (reps of access_world.py's own role; alice's manager is
mike), mike (its manager role).
"""

from __future__ import annotations

import copy

import pytest
from litestar.testing import TestClient

from access_world import PASSWORD, build_world
from conftest import Api
from core.api.app import create_app
from core.approvals.service import Approvals
from core.auth import Accounts
from core.db import read_transaction
from core.imports import ImportOptions, run_import
from core.metadata.problems import MetadataError
from core.notifications import items as notifications_of
from core.records import Actor
from core.validation import RecordValidationError
from mail_server import configure, jobs, run_jobs
from test_ui_pages import signed_in

SYSTEM = Actor.system()
FORMAT = "tessera-changeset/1"
LOCKED = "this record awaits approval in Quote discount approval since "

REVIEW = {
    "name": "big_account",
    "object": "account",
    "label": {"en": "Big account review", "zh-CN": "大客户审核"},
    "entry": {"annual_revenue__gte": 1000},
    "steps": [
        {"name": "manager", "label": {"en": "Manager", "zh-CN": "经理"}, "approvers": ["manager"]},
        {"name": "board", "label": {"en": "Board", "zh-CN": "董事会"}, "approvers": ["user:mike", "user:root"], "decide": "all",
         "condition": {"annual_revenue__gte": 5000}},
    ],
    "on_approve": {"description": "approved"},
    "on_reject": {"description": "rejected"},
}

NOTE = {
    "name": "account_review",
    "object": "account",
    "label": {"en": "Review", "zh-CN": "审核"},
    "subject": {"en": "Please review {{ record.name }}", "zh-CN": "请审核 {{ record.name }}"},
    "body": {"en": "Dear {{ recipient.name }}, please review {{ record.name }}: {{ link }}", "zh-CN": "{{ recipient.name }}您好，请审核 {{ record.name }}：{{ link }}"},
}


@pytest.fixture
def crm(make_runtime):
    world = build_world(make_runtime(plugins=("sales",)))
    accounts = Accounts(world.runtime)
    for name, permission_set, team in (("sam", "sales_rep", "East"), ("tom", "sales_rep", "East"), ("lin", "sales_manager", "East"),
                                       ("max", "sales_manager", "East"), ("wes", "sales_manager", "West")):
        user, _teams = accounts.add_user(name, PASSWORD, permission_set, [team], full_name=name.title())
        world.users[name] = user["id"]
        world.actors[name] = Actor(user["id"], name, permission_set)
    update(world.runtime, "user", world.users["sam"], {"manager": world.users["lin"]})
    update(world.runtime, "user", world.users["alice"], {"manager": world.users["mike"]})
    return world


@pytest.fixture
def api(crm):
    with TestClient(create_app(crm.runtime)) as client:
        yield Api(client, crm)


def update(runtime, object_name: str, record_id: int, changes: dict) -> dict:
    version = runtime.records.get(SYSTEM, object_name, record_id)["version"]
    return runtime.records.update(SYSTEM, object_name, record_id, changes, version=version)


def quote(crm, discount: float = 25, owner: str = "sam") -> dict:
    deal = crm.runtime.records.create(SYSTEM, "opportunity", {
        "name": "Plant upgrade", "account": crm.accounts["alice"], "close_date": "2026-12-31", "stage": "proposal",
        "owner": crm.users[owner]})
    return crm.runtime.records.create(SYSTEM, "quote", {"name": "Plant upgrade offer", "opportunity": deal["id"],
                                                        "discount_percent": discount, "owner": crm.users[owner]})


def path(record: dict, object_name: str = "quote", tail: str = "") -> str:
    return f"/api/records/{object_name}/{record['id']}/approval{tail}"


def stored(crm, object_name: str, record: dict) -> dict:
    return crm.runtime.records.get(SYSTEM, object_name, record["id"])


def bell(crm, name: str, lang: str = "en") -> list:
    with read_transaction(crm.runtime.engine) as conn:
        return [n for n in notifications_of(conn, crm.users[name], lang)[0] if n.kind == "approval"]


def with_process(crm, *bodies, templates=()):
    crm.runtime.import_changeset({"format": FORMAT, "email_templates": list(templates),
                                  "approval_processes": [copy.deepcopy(b) for b in bodies]}, "approvals.json", "test")


# --- the quote discount: submit, approve, reject, recall ------------------------------------------------------


def test_a_rep_submits_a_discounted_quote_and_a_sales_manager_approves_it(crm, api):
    offer = quote(crm)
    assert api.get("sam", path(offer)).json()["may"] == {"submit": ["quote_discount"], "decide": False, "recall": False}
    answer = api.post("sam", path(offer), json={"comment": "Strategic customer"})
    assert answer.status_code == 201, answer.text
    state = answer.json()
    assert (state["process"], state["status"], state["step"]["name"], state["locked"]) == ("quote_discount", "pending", "sales_manager", True)
    assert {a["name"] for a in state["approvers"]} == {"Lin", "Max"}  # not Wes, a sales manager of the West who cannot read it
    assert state["submitted_by"]["name"] == "Sam" and state["comment"] == "Strategic customer"
    assert stored(crm, "quote", offer)["status"] == "in_review"  # on_submit, past the lock
    assert state["may"] == {"submit": [], "decide": False, "recall": True}

    own = api.post("sam", path(offer, tail="/decision"), json={"decision": "approve"})
    assert own.status_code == 403 and "may not decide on it yourself" in own.json()["message"]
    outsider = api.post("tom", path(offer, tail="/decision"), json={"decision": "approve"})
    assert outsider.status_code == 404  # another rep may not even read the quote

    assert api.get("lin", path(offer)).json()["may"]["decide"] is True
    decided = api.post("lin", path(offer, tail="/decision"), json={"decision": "approve", "comment": "OK this once"})
    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == "approved" and decided.json()["locked"] is False
    assert decided.json()["decisions"] == [{"step": "sales_manager", "user": {"id": crm.users["lin"], "name": "Lin"}, "decision": "approve",
                                            "comment": "OK this once", "decided_at": decided.json()["decisions"][0]["decided_at"]}]
    assert stored(crm, "quote", offer)["status"] == "approved"
    again = api.post("max", path(offer, tail="/decision"), json={"decision": "approve"})
    assert again.status_code == 409 and again.json()["message"] == "this record is not awaiting approval"
    sent = api.patch("sam", f"/api/records/quote/{offer['id']}", json={"status": "sent", "version": stored(crm, "quote", offer)["version"]})
    assert sent.status_code == 200, sent.text


def test_a_submitter_may_not_approve_their_own_request_even_as_an_approver(crm, api):
    offer = quote(crm, owner="lin")
    assert api.post("lin", path(offer)).status_code == 201
    state = api.get("lin", path(offer)).json()
    assert [a["name"] for a in state["approvers"]] == ["Max"] and state["may"]["decide"] is False
    own = api.post("lin", path(offer, tail="/decision"), json={"decision": "approve"})
    assert own.status_code == 403
    assert own.json()["message"] == "you submitted this record for approval and may not decide on it yourself"
    zh = api.post("lin", path(offer, tail="/decision"), json={"decision": "approve"}, headers={"Accept-Language": "zh-CN"})
    assert zh.json()["message"] == "此记录由你提交审批，你不能自己审批。"


def test_a_rejection_with_its_comment_reaches_the_submitter_and_the_history(crm, api):
    offer = quote(crm)
    update(crm.runtime, "user", crm.users["max"], {"language": "zh_cn"})  # the process's label in the reader's language
    api.post("sam", path(offer))
    assert [n.message for n in bell(crm, "lin")] == ["Sam asks you to approve “Plant upgrade offer” (Quote discount approval)"]
    assert [n.message for n in bell(crm, "max", "zh-CN")] == ["Sam 请你审批“Plant upgrade offer”（报价折扣审批）"]
    assert bell(crm, "lin")[0].link == f"/r/quote/{offer['id']}"
    rejected = api.post("max", path(offer, tail="/decision"), json={"decision": "reject", "comment": "Too deep"})
    assert rejected.json()["status"] == "rejected"
    assert stored(crm, "quote", offer)["status"] == "rejected"
    assert [n.message for n in bell(crm, "sam")] == ["Max rejected “Plant upgrade offer” (Quote discount approval): Too deep"]
    history = [e for e in api.get("sam", f"/api/records/quote/{offer['id']}/history").json()["items"] if e["field"] == "_approval"]
    assert [(e["changed_by_label"], e["new"]["action"], e["new"].get("comment")) for e in history] == [
        ("Sam", "submit", None), ("Max", "reject", "Too deep")]
    resubmitted = api.post("sam", path(offer))  # a rejected quote may be submitted again
    assert resubmitted.status_code == 201 and resubmitted.json()["status"] == "pending"


def test_the_submitter_recalls_and_only_they_or_an_admin_may(crm, api):
    offer = quote(crm)
    api.post("sam", path(offer))
    assert api.post("lin", path(offer, tail="/recall")).status_code == 403
    recalled = api.post("sam", path(offer, tail="/recall"), json={"comment": "Price changes"})
    assert recalled.status_code == 200 and recalled.json()["status"] == "recalled"
    assert stored(crm, "quote", offer)["status"] == "draft"
    assert [n.message for n in bell(crm, "lin")][0] == "Sam recalled “Plant upgrade offer” (Quote discount approval) from approval"
    api.post("sam", path(offer))
    assert api.post("root", path(offer, tail="/recall"), content=b"").json()["status"] == "recalled"


def test_a_quote_that_does_not_meet_the_entry_condition_is_refused(crm, api):
    offer = quote(crm, discount=10)
    assert api.get("sam", path(offer)).json()["may"]["submit"] == []
    refused = api.post("sam", path(offer))
    assert refused.status_code == 409
    assert refused.json()["message"].startswith("no approval process applies to this record now")
    named = api.post("sam", path(offer), json={"process": "quote_discount"})
    assert named.status_code == 409
    assert named.json()["message"] == "this record does not meet the entry condition of Quote discount approval, so it cannot be submitted to it"
    unknown = api.post("sam", path(offer), json={"process": "quote_discont"})
    assert unknown.status_code == 404 and "did you mean 'quote_discount'" in unknown.json()["message"]


def test_bad_input_is_a_4xx_naming_the_key(crm, api):
    offer = quote(crm)
    api.post("sam", path(offer))
    wrong = api.post("lin", path(offer, tail="/decision"), json={"decision": "maybe"})
    assert wrong.status_code == 400 and wrong.json()["errors"][0]["pointer"] == "/decision"
    missing = api.post("lin", path(offer, tail="/decision"), json={"comment": "x"})
    assert missing.status_code == 400 and "decision" in missing.json()["message"]
    extra = api.post("sam", path(offer), json={"proces": "quote_discount"})
    assert extra.status_code == 400 and "proces" in extra.json()["message"]
    assert api.post("lin", path(offer, tail="/decision"), content=b"{").status_code == 400
    assert api.get("sam", "/api/records/quote/abc/approval").status_code in (400, 404)
    assert api.get("sam", "/api/records/nothing/1/approval").status_code == 404
    assert api.post("lin", path(offer, tail="/decision"), json={"decision": "approve", "comment": "x" * 3000}).status_code == 400


def test_reading_the_state_needs_read_access(crm, api):
    offer = quote(crm)
    assert api.get("tom", path(offer)).status_code == 404  # a rep reads only their own quotes
    assert api.get("alice", path(offer)).status_code == 403  # her role reads no quotes
    assert api.get("lin", path(offer)).status_code == 200


# --- the lock -------------------------------------------------------------------------------------------------


def test_a_pending_record_is_locked_on_every_path(crm, api):
    offer = quote(crm)
    api.post("sam", path(offer))
    version = stored(crm, "quote", offer)["version"]
    for who in ("sam", "lin", "root"):
        answer = api.patch(who, f"/api/records/quote/{offer['id']}", json={"name": "Renamed", "version": version})
        assert answer.status_code == 422, answer.text
        assert answer.json()["errors"][0]["message"].startswith(LOCKED)
        assert "it cannot be changed until the approval is decided or recalled" in answer.json()["errors"][0]["message"]
    zh = api.patch("sam", f"/api/records/quote/{offer['id']}", json={"name": "改名", "version": version}, headers={"Accept-Language": "zh-CN"})
    assert "起在“报价折扣审批”中等待审批" in zh.json()["errors"][0]["message"]
    deleted = api.delete("sam", f"/api/records/quote/{offer['id']}")
    assert deleted.status_code == 409 and deleted.json()["message"].startswith(LOCKED)
    with pytest.raises(RecordValidationError) as caught:  # trusted code too: the scheduler, the command line
        crm.runtime.records.update(SYSTEM, "quote", offer["id"], {"terms": "Net 30"}, version=version)
    assert str(caught.value.errors[0].message).startswith(LOCKED)
    with crm.runtime.records.bulk(crm.actor("lin"), "quote") as bulk:  # a mass update: refused by row
        problems = bulk.update_many([(offer["id"], {"terms": "Net 30"})])
    assert [(e.field, e.code) for e in problems[0]] == [("", "approval_locked")]
    # a line of the quote changes its totals: refused with the quote
    product = crm.runtime.records.create(SYSTEM, "product", {"name": "Pump", "unit_price": 100})
    with pytest.raises(RecordValidationError):
        crm.runtime.records.create(SYSTEM, "quote_line", {"quote": offer["id"], "product": product["id"], "quantity": 1})
    assert stored(crm, "quote", offer)["version"] == version


def test_the_form_of_a_locked_record_says_why_instead_of_failing_on_save(crm):
    offer = quote(crm)
    with TestClient(create_app(crm.runtime)) as client:
        token = signed_in(client, "sam")
        client.post(f"/r/quote/{offer['id']}/approval", data={"_csrf_token": token, "comment": ""})
        page = client.get(f"/r/quote/{offer['id']}")
        assert "Awaiting approval" in page.text and f'href="/r/quote/{offer["id"]}/edit"' not in page.text
        saved = client.post(f"/r/quote/{offer['id']}/edit", data={"_csrf_token": token, "name": "Renamed",
                                                                   "version": str(stored(crm, "quote", offer)["version"])})
        assert saved.status_code == 422 and "awaits approval in Quote discount approval since" in saved.text
    assert stored(crm, "quote", offer)["name"] == "Plant upgrade offer"


def test_an_import_updating_a_locked_record_reports_the_row(crm, api, tmp_path):
    offer = quote(crm)
    api.post("sam", path(offer))
    source = tmp_path / "quotes.csv"
    source.write_text(f"name,terms\n{offer['name']},Net 30\n", encoding="utf-8")
    report = run_import(crm.runtime, crm.actor("sam"), "quote", source, ImportOptions(
        duplicates=[{"match": ["name"], "then": "update"}], rejected_path=tmp_path / "rejected.csv"))
    assert (report.updated, report.rejected) == (0, 1)
    assert report.rejections[0].reason.startswith(LOCKED)


# --- steps: first or all, skipped by condition, manager of the submitter, e-mail ------------------------------


def test_steps_skip_by_condition_and_an_all_step_needs_every_approver(crm, api):
    with_process(crm, REVIEW)
    small = crm.accounts["alice"]  # annual revenue 1000: the board step is skipped
    first = api.post("alice", f"/api/records/account/{small}/approval")
    assert first.status_code == 201, first.text
    assert [a["name"] for a in first.json()["approvers"]] == ["Mike"]  # alice's manager
    done = api.post("mike", f"/api/records/account/{small}/approval/decision", json={"decision": "approve"})
    assert done.json()["status"] == "approved"
    assert stored(crm, "account", {"id": small})["description"] == "approved"

    big = crm.runtime.records.create(SYSTEM, "account", {"name": "Big One", "annual_revenue": 9000, "owner": crm.users["alice"]})
    api.post("alice", f"/api/records/account/{big['id']}/approval")
    after_manager = api.post("mike", f"/api/records/account/{big['id']}/approval/decision", json={"decision": "approve"}).json()
    assert (after_manager["status"], after_manager["step"]["name"], after_manager["step"]["decide"]) == ("pending", "board", "all")
    assert [a["name"] for a in after_manager["approvers"]] == ["Mike", "Root"]
    one = api.post("mike", f"/api/records/account/{big['id']}/approval/decision", json={"decision": "approve", "comment": "yes"}).json()
    assert one["status"] == "pending" and [a["decided"] for a in one["approvers"]] == [True, False]
    twice = api.post("mike", f"/api/records/account/{big['id']}/approval/decision", json={"decision": "approve"})
    assert twice.status_code == 409
    both = api.post("root", f"/api/records/account/{big['id']}/approval/decision", json={"decision": "approve"}).json()
    assert both["status"] == "approved" and len(both["decisions"]) == 3


def test_one_rejection_rejects_an_all_step(crm, api):
    with_process(crm, REVIEW)
    big = crm.runtime.records.create(SYSTEM, "account", {"name": "Big Two", "annual_revenue": 9000, "owner": crm.users["alice"]})
    api.post("alice", f"/api/records/account/{big['id']}/approval")
    api.post("mike", f"/api/records/account/{big['id']}/approval/decision", json={"decision": "approve"})
    no = api.post("root", f"/api/records/account/{big['id']}/approval/decision", json={"decision": "reject", "comment": "no"}).json()
    assert no["status"] == "rejected" and stored(crm, "account", big)["description"] == "rejected"


def test_an_approver_that_names_nobody_but_the_submitter_refuses_the_submission(crm, api):
    with_process(crm, {**REVIEW, "steps": [{"name": "self", "approvers": ["owner"]}]})
    refused = api.post("alice", f"/api/records/account/{crm.accounts['alice']}/approval")
    assert refused.status_code == 409 and refused.json()["message"].startswith("nobody can approve the step self")
    assert api.get("alice", f"/api/records/account/{crm.accounts['alice']}/approval").json()["status"] is None


def test_a_process_naming_a_template_queues_an_email_to_the_approvers(crm, api, start_server):
    server = start_server()
    configure(crm.runtime, server.url)
    with_process(crm, {**REVIEW, "email_template": "account_review"}, templates=[NOTE])
    update(crm.runtime, "user", crm.users["mike"], {"email": "mike@example.com"})
    api.post("alice", f"/api/records/account/{crm.accounts['alice']}/approval")
    queued = jobs(crm.runtime, "mail.template")
    assert len(queued) == 1
    assert queued[0].payload["name"] == "account_review" and queued[0].payload["recipients"] == [crm.users["mike"]]
    assert queued[0].payload["record"]["id"] == crm.accounts["alice"]
    run_jobs(crm.runtime)
    delivered = [m for m in server.inbox.messages() if "Please review" in str(m["Subject"])]
    assert [(m["To"].addresses[0].addr_spec, str(m["Subject"])) for m in delivered] == [("mike@example.com", "Please review Alice Industries")]


def test_a_bad_approval_process_is_refused_at_import_naming_its_pointer(crm):
    wrong = {**REVIEW, "entry": {"annual_revenu__gte": 1}, "steps": [{"name": "x", "approvers": ["role:nobody"], "condition": {"nme": "a"}}],
             "on_approve": {"nme": "x"}}
    with pytest.raises(MetadataError) as caught:
        with_process(crm, wrong)
    pointers = [p.pointer for p in caught.value.problems]
    assert "/approval_processes/0/entry/annual_revenu__gte" in pointers
    assert "/approval_processes/0/steps/0/condition/nme" in pointers
    assert "/approval_processes/0/on_approve/nme" in pointers
    with pytest.raises(MetadataError) as caught:
        with_process(crm, {**REVIEW, "steps": [{"name": "x", "approvers": ["manager"], "decide": "most"}]})
    assert [p.pointer for p in caught.value.problems] == ["/approval_processes/0/steps/0/decide"]


# --- the manufacturing plugin: a high-risk sales order needs its credit approval before it is confirmed ---------


@pytest.fixture
def plant(make_runtime):
    world = build_world(make_runtime(plugins=("manufacturing_bom",)))
    accounts = Accounts(world.runtime)
    for name, permission_set in (("olga", "order_desk"), ("mona", "manufacturing_manager")):
        user, _teams = accounts.add_user(name, PASSWORD, permission_set, ["East"], full_name=name.title())
        world.users[name] = user["id"]
        world.actors[name] = Actor(user["id"], name, permission_set)
    return world


def test_a_sales_order_above_the_credit_limit_is_confirmed_only_once_approved(plant):
    runtime = plant.runtime
    customer = runtime.records.create(SYSTEM, "account", {"name": "Tight Credit Ltd", "credit_limit": 1000, "owner": plant.users["olga"]})
    pump = runtime.records.create(SYSTEM, "product", {"name": "Pump", "unit_price": 800})
    order = runtime.records.create(SYSTEM, "sales_order", {"customer": customer["id"], "owner": plant.users["olga"]})
    assert order["high_risk"] is False
    line = runtime.records.create(SYSTEM, "sales_order_line", {"sales_order": order["id"], "product": pump["id"], "quantity": 1})
    assert stored(plant, "sales_order", order)["high_risk"] is False  # 800 is within the limit
    update(runtime, "sales_order_line", line["id"], {"quantity": 2})
    assert stored(plant, "sales_order", order)["high_risk"] is True  # 1600 is not
    with TestClient(create_app(runtime)) as client:
        api = Api(client, plant)
        url = f"/api/records/sales_order/{order['id']}"
        refused = api.patch("olga", url, json={"status": "confirmed", "version": stored(plant, "sales_order", order)["version"]})
        assert refused.status_code == 422
        assert refused.json()["errors"][0]["message"] == ("this order's total (1600.00) is above the customer's credit limit (1000.00): "
                                                          "submit it for credit approval and have it approved before it moves on")
        submitted = api.post("olga", f"{url}/approval", json={"comment": "Long-standing customer"})
        assert submitted.status_code == 201, submitted.text
        assert (submitted.json()["process"], [a["name"] for a in submitted.json()["approvers"]]) == ("sales_order_credit", ["Mona"])
        assert api.post("olga", f"{url}/approval/decision", json={"decision": "approve"}).status_code == 403
        assert api.post("mona", f"{url}/approval/decision", json={"decision": "approve"}).json()["status"] == "approved"
        confirmed = api.patch("olga", url, json={"status": "confirmed", "version": stored(plant, "sales_order", order)["version"]})
        assert confirmed.status_code == 200, confirmed.text
        assert confirmed.json()["status"] == "confirmed"
    small = runtime.records.create(SYSTEM, "sales_order", {"customer": customer["id"], "owner": plant.users["olga"]})
    assert update(runtime, "sales_order", small["id"], {"status": "confirmed"})["status"] == "confirmed"  # not high risk


def test_a_rule_sends_an_order_that_becomes_high_risk_for_credit_approval_by_itself(plant):
    """The manufacturing plugin's rule mfg_credit_risk_approval: the approval starts as the order goes above the limit."""
    from core.automations import engine
    from core.scheduler import JobRunner

    runtime = plant.runtime
    customer = runtime.records.create(SYSTEM, "account", {"name": "Tight Credit Ltd", "credit_limit": 1000, "owner": plant.users["olga"]})
    pump = runtime.records.create(SYSTEM, "product", {"name": "Pump", "unit_price": 800})
    order = runtime.records.create(SYSTEM, "sales_order", {"customer": customer["id"], "owner": plant.users["olga"]})
    runtime.records.create(SYSTEM, "sales_order_line", {"sales_order": order["id"], "product": pump["id"], "quantity": 3})
    JobRunner(runtime).run_until_idle()
    state = Approvals(runtime).state(plant.actors["mona"], "sales_order", order["id"])
    assert (state["process"], state["status"], [a["name"] for a in state["approvers"]]) == ("sales_order_credit", "pending", ["Mona"])
    with read_transaction(runtime.engine) as conn:
        [run] = engine.runs(conn, rule="mfg_credit_risk_approval")
        assert run["status"] == "done" and run["detail"][0] == {"type": "start_approval", "process": "sales_order_credit", "status": "pending"}
        olga_sees = [n.message for n in notifications_of(conn, plant.users["olga"], "en")[0]]
    assert "This order is above its customer's credit limit: it waits for a manufacturing manager's credit approval" in olga_sees


def test_a_credit_approval_is_for_the_total_approved_and_a_larger_order_needs_a_new_one(plant):
    runtime = plant.runtime
    customer = runtime.records.create(SYSTEM, "account", {"name": "Tight Credit Ltd", "credit_limit": 1000, "owner": plant.users["olga"]})
    pump = runtime.records.create(SYSTEM, "product", {"name": "Pump", "unit_price": 800})
    order = runtime.records.create(SYSTEM, "sales_order", {"customer": customer["id"], "owner": plant.users["olga"]})
    line = runtime.records.create(SYSTEM, "sales_order_line", {"sales_order": order["id"], "product": pump["id"], "quantity": 2})
    approvals = Approvals(runtime)
    approvals.submit(plant.actors["olga"], "sales_order", order["id"])
    assert approvals.decide(plant.actors["mona"], "sales_order", order["id"], "approve")["status"] == "approved"
    update(runtime, "sales_order_line", line["id"], {"quantity": 50})  # 40,000 now: not what was approved
    with pytest.raises(RecordValidationError) as refused:
        update(runtime, "sales_order", order["id"], {"status": "confirmed"})
    assert refused.value.errors[0].field == "status" and "40000.00" in refused.value.errors[0].message
    approvals.submit(plant.actors["olga"], "sales_order", order["id"], comment="Larger order")
    approvals.decide(plant.actors["mona"], "sales_order", order["id"], "approve")
    assert update(runtime, "sales_order", order["id"], {"status": "confirmed"})["status"] == "confirmed"
