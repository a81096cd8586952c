"""Workflow rules (core/automations/): metadata checked at import, after-save rules queued with the change and run by
the job queue, before-save rules changing or refusing the save, field changes from and to values, conditions with
AND/OR groups and previous values, every action, the run log, chains of rules bounded in depth, time triggers kept as
indexed due times, schedules and buttons. Both databases, through the record service and the job queue."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from core import notifications, queue, scheduler
from core.automations import engine, timing
from core.automations.rules import MAX_DEPTH
from core.coretables import automation_due
from core.db import read_transaction
from core.metadata.problems import MetadataError
from core.records import RecordValidationError

FORMAT = "tessera-changeset/1"
LABEL = {"en": "A rule", "zh-CN": "一条规则"}


def rules(runtime, *bodies) -> None:
    runtime.import_changeset({"format": FORMAT, "automations": [{"label": LABEL, **b} for b in bodies]}, "test", "test")


def work(runtime) -> int:
    """Run every due job (the scheduler's tick included), as a worker would; how many ran."""
    return scheduler.JobRunner(runtime).run_until_idle()


def runs(runtime, **where) -> list[dict]:
    with read_transaction(runtime.engine) as conn:
        return engine.runs(conn, **where)


def user(runtime, actor, name: str, **extra) -> int:
    return runtime.records.create(actor, "user", {"username": name, "full_name": name.title(), **extra})["id"]


def change(runtime, actor, object_name: str, record_id: int, values: dict) -> dict:
    version = runtime.records.get(actor, object_name, record_id)["version"]
    return runtime.records.update(actor, object_name, record_id, values, version=version)


def account(runtime, actor, name="Acme", **values) -> dict:
    return runtime.records.create(actor, "account", {"name": name, **values})


def test_a_rule_on_created_runs_after_the_save_commits_and_is_logged_on_the_rule_and_the_record(runtime, actor):
    rules(runtime, {"name": "mark_big", "object": "account", "trigger": {"on": "created"}, "condition": {"annual_revenue__gte": 1000000},
                    "actions": [{"type": "set_fields", "values": {"description": "Big account: call within 2 days"}}]})
    big, small = account(runtime, actor, "Big", annual_revenue=5000000), account(runtime, actor, "Small", annual_revenue=10)
    assert big["description"] is None  # nothing ran inside the save
    assert work(runtime) >= 1
    assert runtime.records.get(actor, "account", big["id"])["description"] == "Big account: call within 2 days"
    assert runtime.records.get(actor, "account", small["id"])["description"] is None
    [run] = runs(runtime, rule="mark_big")
    assert (run["object"], run["record_id"], run["trigger"], run["status"], run["depth"]) == ("account", big["id"], "created", "done", 1)
    assert run["detail"] == [{"type": "set_fields", "values": {"description": "Big account: call within 2 days"}}]
    assert runs(runtime, object_name="account", record_id=big["id"]) == [run]
    assert runs(runtime, object_name="account", record_id=small["id"]) == []


def test_a_rule_is_queued_only_when_the_change_commits(runtime, actor):
    rules(runtime, {"name": "r", "object": "account", "trigger": {"on": "created"}, "actions": [{"type": "set_fields", "values": {"phone": "1"}}]})
    with pytest.raises(RuntimeError), runtime.records.transaction(actor) as records:
        records.create("account", {"name": "Rolled back"})
        raise RuntimeError("the caller gives up")
    with read_transaction(runtime.engine) as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM tessera_job WHERE kind = 'automation.run'")).scalar() == 0


def test_field_changed_from_and_to_and_conditions_on_previous_values_with_or_groups(runtime, actor):
    rules(runtime,
          {"name": "to_customer", "object": "account", "trigger": {"on": "field_changed", "field": "account_type", "from": "prospect", "to": "customer"},
           "actions": [{"type": "set_fields", "values": {"description": "won"}}]},
          {"name": "revenue_jump", "object": "account", "trigger": {"on": "updated"},
           "condition": {"previous": {"annual_revenue__lt": 100}, "any": [{"annual_revenue__gte": 1000}, {"industry": "finance"}]},
           "actions": [{"type": "set_fields", "values": {"phone": "+86 10 1234"}}]})
    a = account(runtime, actor, "A", account_type="prospect", annual_revenue=10)
    b = account(runtime, actor, "B", account_type="partner", annual_revenue=500)
    change(runtime, actor, "account", a["id"], {"account_type": "customer", "annual_revenue": 5000})
    change(runtime, actor, "account", b["id"], {"account_type": "customer", "industry": "finance"})  # from partner; revenue was 500
    work(runtime)
    a_now, b_now = runtime.records.get(actor, "account", a["id"]), runtime.records.get(actor, "account", b["id"])
    assert (a_now["description"], a_now["phone"]) == ("won", "+86 10 1234")
    assert (b_now["description"], b_now["phone"]) == (None, None)


def test_a_before_save_rule_changes_what_is_saved_or_refuses_it_in_the_readers_language(runtime, actor):
    rules(runtime,
          {"name": "stamp", "object": "account", "before_save": True, "trigger": {"on": "created"}, "condition": {"industry": "finance"},
           "actions": [{"type": "set_fields", "values": {"account_type": "prospect", "description": {"$field": "name"}}}]},
          {"name": "no_shell", "object": "account", "before_save": True, "trigger": {"on": "updated"}, "condition": {"employees__lt": 1},
           "actions": [{"type": "refuse", "field": "employees", "message": {"en": "An account has at least one employee", "zh-CN": "客户至少有一名员工"}}]})
    made = account(runtime, actor, "Bank of Tests", industry="finance")
    assert (made["account_type"], made["description"]) == ("prospect", "Bank of Tests")  # in the save itself
    with pytest.raises(RecordValidationError) as refused:
        change(runtime, actor, "account", made["id"], {"employees": 0})
    [error] = refused.value.errors
    assert (error.field, error.worded("en"), error.worded("zh-CN")) == ("employees", "An account has at least one employee", "客户至少有一名员工")
    assert runtime.records.get(actor, "account", made["id"])["employees"] is None  # nothing of the refused save is kept


def test_create_record_notify_and_assign_round_robin(runtime, actor):
    wang, li = user(runtime, actor, "wang", language="zh_cn"), user(runtime, actor, "li")
    rules(runtime,
          {"name": "follow_up", "object": "account", "trigger": {"on": "created"},
           "actions": [{"type": "assign_owner", "strategy": "round_robin", "users": ["wang", "li"]},
                       {"type": "create_record", "object": "activity",
                        "values": {"subject": "Call the new account", "activity_type": "task", "due_date": {"$today": "+2d"},
                                   "related_id": {"$record": True}}},
                       {"type": "notify", "to": ["owner"], "message": {"en": "A new account is yours", "zh-CN": "新客户归你负责"}}]})
    first, second = account(runtime, actor, "First"), account(runtime, actor, "Second")
    work(runtime)
    owners = [runtime.records.get(actor, "account", a["id"])["owner"]["id"] for a in (first, second)]
    assert owners == [wang, li]
    tasks = runtime.records.list(actor, "activity", {"related_object": "account", "sort": "related_id"}).items
    assert [(t["related_id"]["id"], t["owner"]["id"], t["due_date"]) for t in tasks] == [
        (first["id"], wang, (dt.date.today() + dt.timedelta(days=2)).isoformat()), (second["id"], li, (dt.date.today() + dt.timedelta(days=2)).isoformat())]
    with read_transaction(runtime.engine) as conn:
        [notice] = notifications.items(conn, wang, "zh-CN")[0]
    assert (notice.message, notice.kind, notice.link) == ("新客户归你负责", "rule", f"/r/account/{first['id']}")


def test_a_failing_action_is_logged_with_its_error_and_never_undoes_the_change(runtime, actor):
    leaving = user(runtime, actor, "nobody_here")
    rules(runtime, {"name": "bad", "object": "account", "trigger": {"on": "created"},
                    "actions": [{"type": "set_fields", "values": {"description": "kept only if all goes"}},
                                {"type": "assign_owner", "strategy": "user", "user": "nobody_here"}]})
    change(runtime, actor, "user", leaving, {"active": False})  # left after the rule was written
    made = account(runtime, actor, "Stays")
    work(runtime)
    assert runtime.records.get(actor, "account", made["id"])["description"] is None  # the run's actions go together
    [run] = runs(runtime, rule="bad")
    assert run["status"] == "failed" and "action 2 (assign_owner)" in run["error"] and "nobody_here" in run["error"]
    assert runtime.records.get(actor, "account", made["id"])["name"] == "Stays"


def test_rules_setting_off_rules_stop_at_the_documented_depth(runtime, actor):
    rules(runtime, {"name": "ping", "object": "account", "trigger": {"on": "updated"},
                    "actions": [{"type": "set_fields", "values": {"employees": {"$field": "version"}}}]})
    made = account(runtime, actor, "Loop")
    change(runtime, actor, "account", made["id"], {"phone": "1"})
    work(runtime)
    statuses = sorted((r["depth"], r["status"]) for r in runs(runtime, rule="ping"))
    assert statuses == [(d, "done") for d in range(1, MAX_DEPTH + 1)] + [(MAX_DEPTH + 1, "skipped")]


def test_a_time_trigger_keeps_an_indexed_due_time_and_fires_once_when_it_is_reached(runtime, actor):
    rules(runtime, {"name": "before_close", "object": "activity", "trigger": {"on": "time", "field": "due_date", "before": "1d"},
                    "condition": {"status__ne": "done"}, "actions": [{"type": "set_fields", "values": {"priority": "high"}}]})
    soon = dt.date.today() + dt.timedelta(days=3)
    made = runtime.records.create(actor, "activity", {"subject": "Renewal", "activity_type": "task", "due_date": soon.isoformat()})
    with read_transaction(runtime.engine) as conn:
        [(rule, record_id, due_at)] = conn.execute(sa.select(automation_due)).all()
    due = dt.datetime(soon.year, soon.month, soon.day, tzinfo=dt.timezone.utc) - dt.timedelta(days=1)
    assert (rule, record_id, due_at.replace(tzinfo=dt.timezone.utc)) == ("before_close", made["id"], due)
    assert timing.tick(runtime, due - dt.timedelta(minutes=1)) == 0
    assert timing.tick(runtime, due + dt.timedelta(seconds=30)) == 1
    assert timing.tick(runtime, due + dt.timedelta(seconds=45)) == 0  # fired once
    worker = queue.Worker(runtime, scheduler.handlers(runtime))
    while worker.run_once():
        pass
    assert runtime.records.get(actor, "activity", made["id"])["priority"] == "high"
    change(runtime, actor, "activity", made["id"], {"due_date": None})
    with read_transaction(runtime.engine) as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(automation_due)).scalar() == 0


def test_a_new_time_rule_computes_due_times_for_existing_records(runtime, actor):
    later = dt.date.today() + dt.timedelta(days=10)
    ids = [runtime.records.create(actor, "activity", {"subject": f"T{i}", "due_date": later.isoformat()})["id"] for i in range(3)]
    runtime.records.create(actor, "activity", {"subject": "Past", "due_date": (dt.date.today() - dt.timedelta(days=5)).isoformat()})
    rules(runtime, {"name": "week_before", "object": "activity", "trigger": {"on": "time", "field": "due_date", "before": "7d"},
                    "actions": [{"type": "set_fields", "values": {"priority": "high"}}]})
    work(runtime)
    with read_transaction(runtime.engine) as conn:
        assert sorted(conn.execute(sa.select(automation_due.c.record_id)).scalars()) == ids


def test_a_schedule_runs_once_per_due_time_for_the_records_its_condition_selects(runtime, actor):
    rules(runtime, {"name": "weekly", "object": "account", "trigger": {"on": "schedule", "cron": "0 8 * * 1"},
                    "condition": {"industry": "retail"}, "actions": [{"type": "set_fields", "values": {"description": "reviewed"}}]})
    shop, bank = account(runtime, actor, "Shop", industry="retail"), account(runtime, actor, "Bank", industry="finance")
    monday = dt.datetime(2026, 11, 30, 8, 0, tzinfo=dt.timezone.utc)  # past: its job is due at once
    assert timing.tick(runtime, monday - dt.timedelta(days=1)) == 0  # first seen: runs from now on
    assert timing.tick(runtime, monday + dt.timedelta(minutes=1)) == 1
    assert timing.tick(runtime, monday + dt.timedelta(minutes=2)) == 1  # the same due time: the key keeps one job
    worker = queue.Worker(runtime, scheduler.handlers(runtime))
    while worker.run_once():
        pass
    assert runtime.records.get(actor, "account", shop["id"])["description"] == "reviewed"
    assert runtime.records.get(actor, "account", bank["id"])["description"] is None
    assert [r["record_id"] for r in runs(runtime, rule="weekly")] == [shop["id"]]


def test_a_button_runs_now_for_who_may_change_the_record(runtime, actor):
    rules(runtime, {"name": "escalate", "object": "account", "trigger": {"on": "button"}, "condition": {"account_type__ne": "partner"},
                    "actions": [{"type": "set_fields", "values": {"industry": "other"}}]})
    made = account(runtime, actor, "Press me")
    with runtime.reading() as (_conn, schema):
        assert [r.name for r in engine.buttons(schema, "account", made)] == ["escalate"]
    run = engine.press(runtime, actor, "account", made["id"], "escalate")
    assert run["status"] == "done" and runtime.records.get(actor, "account", made["id"])["industry"] == "other"
    with pytest.raises(LookupError):
        engine.press(runtime, actor, "account", made["id"], "no_such_button")


BAD = [
    ({"name": "x", "object": "acount", "trigger": {"on": "created"}, "actions": [{"type": "set_fields", "values": {"name": "n"}}]},
     "/automations/0/object", "acount"),
    ({"name": "x", "object": "account", "trigger": {"on": "created"}, "actions": [{"type": "set_fields", "values": {"nmae": "n"}}]},
     "/automations/0/actions/0/values/nmae", "did you mean 'name'"),
    ({"name": "x", "object": "account", "trigger": {"on": "schedule", "cron": "61 * * * *"}, "actions": [{"type": "set_fields", "values": {"name": "n"}}]},
     "/automations/0/trigger/cron", "61 * * * *"),
    ({"name": "x", "object": "account", "trigger": {"on": "time", "field": "name", "before": "2d"}, "actions": [{"type": "set_fields", "values": {"phone": "1"}}]},
     "/automations/0/trigger/field", "date"),
    ({"name": "x", "object": "account", "trigger": {"on": "created"}, "condition": {"industry": "banking"},
      "actions": [{"type": "set_fields", "values": {"phone": "1"}}]}, "/automations/0/condition/industry", "banking"),
    ({"name": "x", "object": "account", "trigger": {"on": "created"}, "condition": {"previous": {"industry": "finance"}},
      "actions": [{"type": "set_fields", "values": {"phone": "1"}}]}, "/automations/0/condition/previous", "previous"),
    ({"name": "x", "object": "account", "trigger": {"on": "created"}, "actions": [{"type": "send_email", "template": "nope", "to": ["owner"]}]},
     "/automations/0/actions/0/template", "nope"),
    ({"name": "x", "object": "account", "trigger": {"on": "deleted"}, "before_save": True, "actions": [{"type": "set_fields", "values": {"phone": "1"}}]},
     "/automations/0/before_save", "deleted"),
    ({"name": "x", "object": "account", "trigger": {"on": "created"}, "actions": [{"type": "set_fields", "values": {"industry": "banking"}}]},
     "/automations/0/actions/0/values/industry", "banking"),
]


@pytest.mark.parametrize("body, at, words", BAD)
def test_a_wrong_rule_is_refused_at_import_naming_its_pointer(runtime, body, at, words):
    with pytest.raises(MetadataError) as refused:
        rules(runtime, body)
    assert any(p.pointer == at and words in str(p.message) for p in refused.value.problems), [(p.pointer, str(p.message)) for p in refused.value.problems]
    assert runtime.current_metadata().automations == {}


def test_users_teams_roles_and_plugin_actions_a_rule_names_must_exist_when_it_is_stored(runtime, actor):
    user(runtime, actor, "wang")
    body = {"name": "route", "object": "account", "trigger": {"on": "created"},
            "actions": [{"type": "assign_owner", "strategy": "round_robin", "users": ["wang", "wnag"]},
                        {"type": "notify", "to": ["team:Nowhere", "role:no_role"], "message": {"en": "hi"}},
                        {"type": "plugin", "action": "fleet.nothing"}]}
    with pytest.raises(MetadataError) as refused:
        rules(runtime, body)
    said = {p.pointer: str(p.message) for p in refused.value.problems}
    assert said == {"/automations/0/actions/0/users/1": "there is no active user 'wnag' (did you mean 'wang'?)",
                    "/automations/0/actions/1/to/0": "there is no team 'Nowhere'",
                    "/automations/0/actions/1/to/1": "there is no role 'no_role'",
                    "/automations/0/actions/2/action": "no plugin registers the action 'fleet.nothing'"}
    rules(runtime, {**body, "actions": [{"type": "assign_owner", "strategy": "round_robin", "users": ["wang"]}]})
    assert set(runtime.current_metadata().automations) == {"route"}


def test_the_api_shows_a_records_buttons_and_runs_presses_buttons_and_lists_a_rules_runs(api):
    world = api.world
    changed = api.put("cora", "/api/meta/automations/escalate", json={
        "object": "account", "label": {"en": "Escalate", "zh-CN": "升级"}, "trigger": {"on": "button"},
        "actions": [{"type": "set_fields", "values": {"industry": "other"}}]})
    assert changed.status_code == 200, changed.text
    alices = world.accounts["alice"]
    shown = api.client.get(f"/api/records/account/{alices}/automations", headers=api.headers("alice", **{"Accept-Language": "zh-CN"})).json()
    assert shown == {"buttons": [{"name": "escalate", "label": "升级"}], "runs": []}
    assert api.get("vera", f"/api/records/account/{alices}/automations").json()["buttons"] == []  # a viewer may not change it
    assert api.post("vera", f"/api/records/account/{alices}/automations/escalate").status_code == 403
    assert api.post("alice", f"/api/records/account/{alices}/automations/nothing").status_code == 404
    assert api.get("carol", f"/api/records/account/{alices}/automations").status_code == 404  # another team's: not readable
    pressed = api.post("alice", f"/api/records/account/{alices}/automations/escalate")
    assert pressed.status_code == 200 and pressed.json()["status"] == "done", pressed.text
    assert api.get("alice", f"/api/records/account/{alices}").json()["industry"] == "other"
    [run] = api.get("alice", f"/api/records/account/{alices}/automations").json()["runs"]
    assert (run["rule"], run["trigger"], run["actor_id"]) == ("escalate", "button", world.users["alice"])
    assert api.get("alice", "/api/automations/runs?rule=escalate").status_code == 403
    assert api.get("cora", "/api/automations/runs?rule=escalate").json()["items"] == [run]
    wrong = api.put("cora", "/api/meta/automations/broken", json={"object": "account", "label": {"en": "B"}, "trigger": {"on": "soon"},
                                                                  "actions": []})
    assert wrong.status_code == 422 and {e["pointer"] for e in wrong.json()["errors"]} >= {"/automations/0/trigger/on", "/automations/0/actions"}


def test_the_worked_example_of_the_guide_runs_on_the_sales_plugin(make_runtime, actor):
    """docs/examples/sales-rules.json, as docs/automation.md walks through it."""
    import json
    from pathlib import Path

    runtime = make_runtime(plugins=("sales",))
    boss = user(runtime, actor, "boss")
    wang = user(runtime, actor, "wang.wei", manager=boss)
    li = user(runtime, actor, "li.na", manager=boss)
    example = json.loads((Path(__file__).parents[1] / "docs" / "examples" / "sales-rules.json").read_text())
    runtime.import_changeset(example, "docs/examples/sales-rules.json", "test")
    acme = account(runtime, actor, "Acme")
    later = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    big = runtime.records.create(actor, "opportunity", {"name": "Big", "account": acme["id"], "close_date": later, "amount": 2000000, "owner": wang})
    small = [runtime.records.create(actor, "opportunity", {"name": f"Small {i}", "account": acme["id"], "close_date": later, "amount": 500})
             for i in range(2)]
    work(runtime)
    assert runtime.records.get(actor, "opportunity", big["id"])["next_step"] == "Call within 2 days"
    assert [runtime.records.get(actor, "opportunity", s["id"])["owner"]["id"] for s in small] == [wang, li]
    change(runtime, actor, "opportunity", big["id"], {"stage": "proposal"})
    work(runtime)
    [task] = runtime.records.list(actor, "activity", {"related_id": big["id"], "related_object": "opportunity"}).items
    assert (task["subject"], task["owner"]["id"], task["priority"]) == ("Follow up the proposal", wang, "high")
    with pytest.raises(RecordValidationError) as refused:
        change(runtime, actor, "opportunity", small[0]["id"], {"stage": "negotiation", "amount": None})
    assert refused.value.errors[0].worded("zh-CN") == "进入商务谈判前请先填写金额"
    change(runtime, actor, "opportunity", big["id"], {"stage": "negotiation"})
    work(runtime)
    run = engine.press(runtime, actor, "opportunity", big["id"], "escalate")
    assert run["status"] == "done" and run["detail"][0]["users"] == [boss]
    with read_transaction(runtime.engine) as conn:
        due = conn.execute(sa.select(automation_due.c.due_at).where(automation_due.c.rule == "closing_soon",
                                                                   automation_due.c.record_id == big["id"])).scalar_one()
    assert due.date() == dt.date.today() + dt.timedelta(days=23)


def test_send_email_reaches_each_recipient_in_their_language_and_a_template_that_fails_fails_the_run(runtime, actor, start_server):
    from mail_server import configure

    server = start_server()
    configure(runtime, server.url)
    user(runtime, actor, "wang", email="wang@example.com", language="zh_cn")
    runtime.import_changeset({"format": FORMAT, "email_templates": [
        {"name": "welcome", "object": "account", "subject": {"en": "Welcome {{ record.name }}", "zh-CN": "欢迎 {{ record.name }}"},
         "body": {"en": "Hello", "zh-CN": "你好，{{ recipient.name }}"}},
        {"name": "broken", "object": "account", "subject": {"en": "{{ record.employees / 0 }}"}, "body": {"en": "x"}}]}, "test", "test")
    rules(runtime, {"name": "greet", "object": "account", "trigger": {"on": "created"}, "condition": {"industry": "retail"},
                    "actions": [{"type": "send_email", "template": "welcome", "to": ["user:wang", "field:email"]}]},
          {"name": "oops", "object": "account", "trigger": {"on": "created"}, "condition": {"industry": "finance"},
           "actions": [{"type": "send_email", "template": "broken", "to": ["user:wang"]}]})
    account(runtime, actor, "小店", industry="retail", email="shop@example.com")
    account(runtime, actor, "Bank", industry="finance", employees=3)
    work(runtime)
    sent = {m["To"]: m for m in server.inbox.messages()}
    assert set(sent) == {"Wang <wang@example.com>", "shop@example.com"}
    assert sent["Wang <wang@example.com>"]["Subject"] == "欢迎 小店" and "你好，Wang" in sent["Wang <wang@example.com>"].get_content()
    assert sent["shop@example.com"]["Subject"] == "Welcome 小店"
    [failed] = runs(runtime, rule="oops")
    assert failed["status"] == "failed" and "broken" in failed["error"] and "ZeroDivisionError" in failed["error"]


def test_a_webhook_action_posts_the_record_signed_with_the_secret_from_the_environment(runtime, actor, monkeypatch):
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from core.webhooks import verify

    got: list[tuple[dict, bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - the http.server API
            got.append((dict(self.headers), self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(500 if len(got) == 1 else 200)  # the first attempt fails: the queue retries it
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("TESSERA_TEST_HOOK_SECRET", "a-long-enough-secret-for-tests")
    try:
        rules(runtime, {"name": "tell_erp", "object": "account", "trigger": {"on": "created"},
                        "actions": [{"type": "webhook", "url": f"http://127.0.0.1:{server.server_port}/erp", "secret_env": "TESSERA_TEST_HOOK_SECRET"}]})
        made = account(runtime, actor, "Posted")
        work(runtime)
        with runtime.writing() as (conn, _schema):  # the failed attempt's retry, due after its backoff: due now
            conn.execute(sa.text("UPDATE tessera_job SET run_at = :now WHERE kind = 'automation.webhook'"), {"now": queue.now()})
        work(runtime)
    finally:
        server.shutdown()
    assert len(got) == 2 and got[0][0]["X-Tessera-Delivery"] == got[1][0]["X-Tessera-Delivery"]
    headers, body = got[1]
    assert verify("a-long-enough-secret-for-tests", headers["X-Tessera-Signature"], body)
    assert json.loads(body)["record"]["id"] == made["id"] and json.loads(body)["rule"] == "tell_erp"


def test_least_open_gives_the_record_to_whoever_owns_fewest_open_ones_and_deleted_triggers_run(runtime, actor):
    wang, li = user(runtime, actor, "wang"), user(runtime, actor, "li")
    for n in range(2):
        account(runtime, actor, f"Wang's {n}", owner=wang, account_type="customer")
    account(runtime, actor, "Li's", owner=li, account_type="customer")
    account(runtime, actor, "Li's old", owner=li, account_type="other")  # not open: does not count
    rules(runtime, {"name": "balance", "object": "account", "trigger": {"on": "created"}, "condition": {"account_type": "prospect"},
                    "actions": [{"type": "assign_owner", "strategy": "least_open", "users": ["wang", "li"],
                                 "open": {"account_type__in": ["customer", "prospect"]}}]},
          {"name": "gone", "object": "account", "trigger": {"on": "deleted"},
           "actions": [{"type": "notify", "to": ["owner"], "message": {"en": "An account of yours was deleted"}}]})
    fresh = account(runtime, actor, "New", account_type="prospect")
    work(runtime)
    assert runtime.records.get(actor, "account", fresh["id"])["owner"]["id"] == li
    runtime.records.delete(actor, "account", fresh["id"])
    work(runtime)
    [run] = runs(runtime, rule="gone")
    assert (run["trigger"], run["status"], run["detail"][0]["users"]) == ("deleted", "done", [li])


def test_the_scheduler_sleeps_until_the_next_due_time_and_a_sooner_one_written_wakes_it(runtime, actor):
    rules(runtime, {"name": "soon", "object": "activity", "trigger": {"on": "time", "field": "start_at", "before": "0m"},
                    "actions": [{"type": "set_fields", "values": {"priority": "high"}}]},
          {"name": "nightly", "object": "activity", "trigger": {"on": "schedule", "cron": "0 2 * * *"},
           "actions": [{"type": "set_fields", "values": {"priority": "low"}}]})
    now = queue.now()
    nightly = timing.latest_due("0 2 * * *", now) + dt.timedelta(days=1)
    assert timing.next_due(runtime, now) == nightly  # no time rule is due: the schedule's next time
    later = now + dt.timedelta(hours=1)
    runtime.records.create(actor, "activity", {"subject": "Later", "start_at": later.isoformat()})
    assert abs(timing.next_due(runtime, now) - min(nightly, later)) < dt.timedelta(seconds=1)  # the earliest kept due time
    timing.SOONER.clear()
    runtime.records.create(actor, "activity", {"subject": "In 30 s", "start_at": (now + dt.timedelta(seconds=30)).isoformat()})
    assert timing.SOONER.is_set()  # written within the scheduler's longest sleep: it ticks again now
