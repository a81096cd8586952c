"""Service plugin: tickets with SLAs, equipment, maintenance plans, jobs and the delivery handover."""

from __future__ import annotations

import datetime as dt
import re
import types

import pytest
import sqlalchemy as sa

from core.hookspecs import hookspec
from core.plugins import PluginInfo, Refusal
from core.records import Refused, TransactionRecords
from core.validation import RecordValidationError
from plugins.service import add_business_hours, tessera_equipment_delivered

UTC = dt.timezone.utc
SERVICE_OBJECTS = ("ticket", "sla_policy", "equipment", "maintenance_plan")


@pytest.fixture
def rt(make_runtime):
    return make_runtime(plugins=("service",))


def when(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def errors_of(info) -> dict[str, str]:
    return {e.field: e.message for e in info.value.errors}


def policy(rt, actor, name, **fields):
    return rt.records.create(actor, "sla_policy", {"name": name, "response_hours": 4, "resolution_hours": 24, **fields})


def ticket(rt, actor, subject="Spindle stalls", **fields):
    return rt.records.create(actor, "ticket", {"subject": subject, **fields})


def backdate(rt, ticket_id: int, created_at: dt.datetime) -> None:
    """Make a ticket look as if it had been opened at ``created_at`` (test set-up only)."""
    with rt.writing() as (conn, schema):
        table = schema.tables.table("ticket")
        conn.execute(sa.update(table).where(table.c.id == ticket_id).values(created_at=created_at))


def job(rt, name):
    return rt.scheduled_jobs()[name]


@pytest.fixture
def acme(rt, actor):
    account = rt.records.create(actor, "account", {"name": "Acme Machining"})
    product = rt.records.create(actor, "product", {"name": "CNC Lathe L-200", "product_code": "L200"})
    equipment = rt.records.create(actor, "equipment", {"serial_number": "L200-0001", "product": product["id"], "customer": account["id"]})
    return types.SimpleNamespace(account=account, product=product, equipment=equipment)


# --- metadata --------------------------------------------------------------------------------


def test_metadata_validates_and_builds_the_tables(rt):
    columns = {name: {c["name"] for c in sa.inspect(rt.engine).get_columns(name)} for name in SERVICE_OBJECTS}
    assert {"number", "subject", "type", "priority", "status", "channel", "customer", "contact", "equipment", "sla_policy",
            "assigned_to", "response_due", "resolution_due", "first_response_at", "resolved_at", "sla_breached",
            "satisfaction", "satisfaction_comment", "tracking_code"} <= columns["ticket"]
    assert {"name", "ticket_type", "priority", "response_hours", "resolution_hours", "business_hours_only", "active", "rank"} <= columns["sla_policy"]
    assert {"serial_number", "name", "product", "customer", "install_date", "warranty_end", "status", "location", "source_order"} <= columns["equipment"]
    assert {"equipment", "name", "interval_days", "next_due_date", "last_done_date", "active", "ticket_type"} <= columns["maintenance_plan"]
    indexed = [tuple(i["column_names"]) for i in sa.inspect(rt.engine).get_indexes("ticket")]
    assert any(cols[:2] == ("status", "priority") for cols in indexed) and any(cols[:1] == ("customer",) for cols in indexed)

    meta = rt.current_metadata()
    for name in SERVICE_OBJECTS:
        obj = meta.object(name)
        assert {"en", "zh-CN"} <= set(obj.spec["label"]), name
        for fdef in obj.active_fields():
            assert {"en", "zh-CN"} <= set(fdef.spec["label"]), f"{name}.{fdef.name}"
            for value in fdef.spec.get("values", []):
                assert {"en", "zh-CN"} <= set(value["label"]), f"{name}.{fdef.name}={value['value']}"
        for kind in ("list", "detail", "form"):
            layout = meta.layouts[f"{name}:{kind}:default"]
            for section in layout.get("sections", []):
                assert {"en", "zh-CN"} <= set(section["label"])
    assert meta.layouts["ticket:kanban:default"]["group_by"] == "status"
    roles = meta.permission_sets
    assert roles["service_agent"]["objects"]["ticket"]["read"] == "team"
    assert roles["service_agent"]["objects"]["equipment"]["read"] == "all"
    assert roles["service_manager"]["objects"]["ticket"] == {"read": "all", "create": "all", "update": "all", "delete": "all"}
    assert roles["field_technician"]["objects"]["ticket"]["update"] == "own"
    assert set(rt.scheduled_jobs()) == {"service.maintenance_due", "service.sla_breach_check", "tessera.overdue_tasks"}


# --- numbering, tracking code ----------------------------------------------------------------


def test_tickets_are_numbered_from_tck_000001(rt, actor):
    first, second = ticket(rt, actor), ticket(rt, actor, "Coolant leak")
    assert (first["number"], second["number"]) == ("TCK-000001", "TCK-000002")
    assert (first["status"], first["priority"], first["sla_breached"]) == ("new", "normal", False)


def test_every_ticket_gets_its_own_tracking_code_which_cannot_change(rt, actor):
    tickets = [ticket(rt, actor, f"Ticket {i}") for i in range(6)]
    codes = [t["tracking_code"] for t in tickets]
    assert all(re.fullmatch(r"[A-HJ-NP-Z2-9]{10}", code) for code in codes), codes
    assert len(set(codes)) == len(codes)
    found = rt.records.list(actor, "ticket", {"q": codes[3]}).items
    assert [t["id"] for t in found] == [tickets[3]["id"]]

    with pytest.raises(RecordValidationError) as info:
        rt.records.update(actor, "ticket", tickets[0]["id"], {"tracking_code": "ABCDEFGHJK"}, version=1)
    assert errors_of(info) == {"tracking_code": "is read-only: it is set by the system"}
    same = rt.records.update(actor, "ticket", tickets[0]["id"], {"tracking_code": codes[0], "status": "assigned"}, version=1)
    assert same["tracking_code"] == codes[0] and same["status"] == "assigned"


# --- SLA ---------------------------------------------------------------------------------------


def test_due_times_come_from_the_most_specific_active_policy(rt, actor):
    generic = policy(rt, actor, "Standard", rank=1, response_hours=8, resolution_hours=48)
    breakdowns = policy(rt, actor, "Breakdowns", ticket_type="breakdown", rank=50, response_hours=4, resolution_hours=24)
    urgent = policy(rt, actor, "Urgent breakdowns", ticket_type="breakdown", priority="urgent", rank=99, response_hours=1, resolution_hours=4)
    policy(rt, actor, "Retired", ticket_type="breakdown", priority="urgent", rank=0, response_hours=0, resolution_hours=1, active=False)

    cases = [({"type": "breakdown", "priority": "urgent"}, urgent, 1, 4),
             ({"type": "breakdown"}, breakdowns, 4, 24),
             ({"type": "inquiry", "priority": "low"}, generic, 8, 48)]
    for fields, expected, response, resolution in cases:
        record = ticket(rt, actor, **fields)
        assert record["sla_policy"]["id"] == expected["id"], fields
        created = when(record["created_at"])
        response_due, resolution_due = when(record["response_due"]), when(record["resolution_due"])
        assert resolution_due - response_due == dt.timedelta(hours=resolution - response)
        assert abs(response_due - (created + dt.timedelta(hours=response))) < dt.timedelta(seconds=2)
        assert record["response_due"].endswith("Z") and response_due.microsecond == 0


def test_rank_decides_between_equally_specific_policies(rt, actor):
    policy(rt, actor, "Priority only", priority="high", rank=1, response_hours=3, resolution_hours=30)
    policy(rt, actor, "Installations, second", ticket_type="installation", rank=20, response_hours=6, resolution_hours=60)
    first = policy(rt, actor, "Installations, first", ticket_type="installation", rank=10, response_hours=2, resolution_hours=20)
    record = ticket(rt, actor, "Install press", type="installation", priority="normal")
    assert record["sla_policy"] == {"id": first["id"], "label": "Installations, first"}
    assert when(record["resolution_due"]) - when(record["response_due"]) == dt.timedelta(hours=18)


def test_without_a_matching_policy_the_due_times_stay_empty(rt, actor):
    policy(rt, actor, "Complaints", ticket_type="complaint", response_hours=2, resolution_hours=8)
    record = ticket(rt, actor, type="breakdown")
    assert record["sla_policy"] is None and record["response_due"] is None and record["resolution_due"] is None
    assert record["sla_breached"] is False


def test_a_priority_change_recomputes_from_the_creation_time(rt, actor):
    normal = policy(rt, actor, "Normal", priority="normal", response_hours=8, resolution_hours=72)
    urgent = policy(rt, actor, "Urgent", priority="urgent", response_hours=1, resolution_hours=6)
    record = ticket(rt, actor, type="breakdown")
    assert record["sla_policy"]["id"] == normal["id"]
    opened = dt.datetime.now(UTC).replace(microsecond=0) - dt.timedelta(hours=2)
    backdate(rt, record["id"], opened)

    raised = rt.records.update(actor, "ticket", record["id"], {"priority": "urgent"}, version=1)
    assert raised["sla_policy"]["id"] == urgent["id"]
    assert when(raised["response_due"]) == opened + dt.timedelta(hours=1)
    assert when(raised["resolution_due"]) == opened + dt.timedelta(hours=6)
    assert raised["sla_breached"] is False

    unmatched = rt.records.update(actor, "ticket", record["id"], {"priority": "low"}, version=raised["version"])
    assert unmatched["sla_policy"] is None and unmatched["response_due"] is None and unmatched["resolution_due"] is None
    history = {h["field"] for h in rt.records.history(actor, "ticket", record["id"])}
    assert {"priority", "sla_policy", "response_due", "resolution_due"} <= history


def test_a_recomputed_due_time_already_past_marks_the_ticket_breached(rt, actor):
    policy(rt, actor, "Urgent", priority="urgent", response_hours=1, resolution_hours=4)
    record = ticket(rt, actor)
    backdate(rt, record["id"], dt.datetime.now(UTC) - dt.timedelta(hours=10))
    late = rt.records.update(actor, "ticket", record["id"], {"priority": "urgent"}, version=1)
    assert late["sla_breached"] is True


def test_business_hours_policies_count_only_working_time(rt, actor):
    policy(rt, actor, "Office hours", priority="high", response_hours=2, resolution_hours=9, business_hours_only=True,
           business_timezone="Asia/Shanghai", business_day_start=9, business_day_end=18)
    record = ticket(rt, actor)
    friday_5pm_shanghai = dt.datetime(2026, 1, 9, 9, 0, tzinfo=UTC)
    backdate(rt, record["id"], friday_5pm_shanghai)
    raised = rt.records.update(actor, "ticket", record["id"], {"priority": "high"}, version=1)
    # one hour on Friday, then Monday from 09:00 Shanghai (01:00 UTC)
    assert raised["response_due"] == "2026-01-12T02:00:00Z"
    assert raised["resolution_due"] == "2026-01-12T09:00:00Z"


def test_business_hour_arithmetic():
    saturday = dt.datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
    assert add_business_hours(saturday, 3) == dt.datetime(2026, 1, 12, 12, 0, tzinfo=UTC)
    early = dt.datetime(2026, 1, 6, 6, 30, tzinfo=UTC)
    assert add_business_hours(early, 0) == dt.datetime(2026, 1, 6, 9, 0, tzinfo=UTC)
    assert add_business_hours(early, 20) == dt.datetime(2026, 1, 8, 11, 0, tzinfo=UTC)
    assert add_business_hours(early, 30, day_start=0, day_end=24) == dt.datetime(2026, 1, 7, 12, 30, tzinfo=UTC)


# --- resolution ---------------------------------------------------------------------------------


def test_resolving_sets_resolved_at_and_reopening_clears_it(rt, actor):
    policy(rt, actor, "Standard", response_hours=4, resolution_hours=24)
    record = ticket(rt, actor)
    assert record["resolved_at"] is None
    resolved = rt.records.update(actor, "ticket", record["id"], {"status": "resolved"}, version=1)
    stamp = when(resolved["resolved_at"])
    assert abs(dt.datetime.now(UTC) - stamp) < dt.timedelta(minutes=5)
    assert resolved["sla_breached"] is False

    closed = rt.records.update(actor, "ticket", record["id"], {"status": "closed", "satisfaction": "satisfied",
                                                               "resolution": "Replaced the worn spindle bearing"},  # closed with its resolution
                               version=resolved["version"])
    assert closed["resolved_at"] == resolved["resolved_at"]

    reopened = rt.records.update(actor, "ticket", record["id"], {"status": "in_progress"}, version=closed["version"])
    assert reopened["resolved_at"] is None
    given = rt.records.update(actor, "ticket", record["id"], {"status": "resolved", "resolved_at": "2026-01-02T03:04:05Z"},
                              version=reopened["version"])
    assert given["resolved_at"] == "2026-01-02T03:04:05Z"


def test_resolving_after_the_due_time_is_recorded_as_breached(rt, actor):
    policy(rt, actor, "Standard", response_hours=1, resolution_hours=2)
    record = ticket(rt, actor)
    late = rt.records.update(actor, "ticket", record["id"],
                             {"status": "resolved", "resolved_at": (when(record["resolution_due"]) + dt.timedelta(hours=1)).isoformat()},
                             version=1)
    assert late["sla_breached"] is True
    on_time = ticket(rt, actor, "On time")
    done = rt.records.update(actor, "ticket", on_time["id"], {"status": "resolved"}, version=1)
    assert done["sla_breached"] is False


# --- customer, equipment and refusals ------------------------------------------------------------


def test_a_ticket_on_equipment_takes_the_equipment_customer(rt, actor, acme):
    assert acme.equipment["name"] == "CNC Lathe L-200"  # named after its product
    record = ticket(rt, actor, equipment=acme.equipment["id"])
    assert record["customer"] == {"id": acme.account["id"], "label": "Acme Machining"}


def test_refusals_name_the_field(rt, actor, acme):
    other = rt.records.create(actor, "account", {"name": "Beta Tools"})
    with pytest.raises(RecordValidationError) as info:
        ticket(rt, actor, customer=other["id"], equipment=acme.equipment["id"])
    assert errors_of(info) == {"equipment": "equipment L200-0001 belongs to Acme Machining, not to this ticket's customer"}

    stranger = rt.records.create(actor, "contact", {"first_name": "Li", "last_name": "Wei", "account": other["id"]})
    record = ticket(rt, actor, customer=acme.account["id"])
    with pytest.raises(RecordValidationError) as info:
        rt.records.update(actor, "ticket", record["id"], {"contact": stranger["id"]}, version=1)
    assert errors_of(info) == {"contact": "contact Li Wei works for Beta Tools, not for this ticket's customer"}

    with pytest.raises(RecordValidationError) as info:
        rt.records.create(actor, "ticket", {"type": "breakdown"})
    assert errors_of(info) == {"subject": "is required"}

    with pytest.raises(RecordValidationError) as info:
        policy(rt, actor, "Backwards", response_hours=12, resolution_hours=4, business_timezone="Mars/Olympus",
               business_day_start=18, business_day_end=9)
    assert errors_of(info) == {
        "resolution_hours": "must be at least the response time (12 hours)",
        "business_day_end": "must be later than the start of the business day (18:00)",
        "business_timezone": "'Mars/Olympus' is not a time zone; use a name like Asia/Shanghai or UTC",
    }

    with pytest.raises(RecordValidationError) as info:
        rt.records.create(actor, "maintenance_plan", {"equipment": acme.equipment["id"], "interval_days": 0})
    assert errors_of(info) == {"interval_days": "must be at least 1", "next_due_date": "is required"}

    with pytest.raises(RecordValidationError) as info:
        rt.records.create(actor, "equipment", {"serial_number": "L200-0001"})
    assert errors_of(info) == {"serial_number": "'L200-0001' is already used by another equipment; it must be unique"}

    with pytest.raises(RecordValidationError) as info:
        rt.records.update(actor, "equipment", acme.equipment["id"], {"install_date": "2026-05-01", "warranty_end": "2026-04-01"}, version=1)
    assert errors_of(info) == {"warranty_end": "must not be before the install date (2026-05-01)"}

    ticket(rt, actor, "Beta's question", customer=other["id"])
    with pytest.raises(Refused, match=r"1 ticket record\(s\) point to it through ticket.customer"):
        rt.records.delete(actor, "account", other["id"])


# --- scheduled jobs --------------------------------------------------------------------------------


def test_the_maintenance_job_opens_tickets_for_due_plans_and_moves_them_on(rt, actor, acme):
    maintenance_sla = policy(rt, actor, "Planned maintenance", ticket_type="maintenance", response_hours=24, resolution_hours=120)
    retired = rt.records.create(actor, "equipment", {"serial_number": "L200-0009", "customer": acme.account["id"], "status": "decommissioned"})
    eq = acme.equipment["id"]
    quarterly = rt.records.create(actor, "maintenance_plan", {"equipment": eq, "name": "Quarterly service", "interval_days": 90, "next_due_date": "2026-03-01"})
    filters = rt.records.create(actor, "maintenance_plan", {"equipment": eq, "name": "Filter change", "interval_days": 7,
                                                            "next_due_date": "2026-02-01", "ticket_type": "spare_parts"})
    later = rt.records.create(actor, "maintenance_plan", {"equipment": eq, "name": "Annual check", "interval_days": 365, "next_due_date": "2026-03-02"})
    paused = rt.records.create(actor, "maintenance_plan", {"equipment": eq, "name": "Paused", "interval_days": 30, "next_due_date": "2026-01-01", "active": False})
    gone = rt.records.create(actor, "maintenance_plan", {"equipment": retired["id"], "name": "Retired unit", "interval_days": 30, "next_due_date": "2026-01-01"})

    created = job(rt, "service.maintenance_due").run(rt, today=dt.date(2026, 3, 1))

    assert sorted(t["subject"] for t in created) == ["Maintenance: Filter change", "Maintenance: Quarterly service"]
    by_subject = {t["subject"]: t for t in created}
    service_ticket = by_subject["Maintenance: Quarterly service"]
    assert service_ticket["type"] == "maintenance" and service_ticket["status"] == "new"
    assert service_ticket["equipment"]["id"] == eq and service_ticket["customer"]["id"] == acme.account["id"]
    assert service_ticket["sla_policy"]["id"] == maintenance_sla["id"] and service_ticket["resolution_due"] is not None
    assert service_ticket["number"].startswith("TCK-") and service_ticket["tracking_code"]
    assert by_subject["Maintenance: Filter change"]["type"] == "spare_parts"

    def next_due(plan):
        return rt.records.get(actor, "maintenance_plan", plan["id"])["next_due_date"]

    assert next_due(quarterly) == "2026-05-30"
    assert next_due(filters) == "2026-03-08"  # one ticket for the missed weeks, next due after today
    assert (next_due(later), next_due(paused), next_due(gone)) == ("2026-03-02", "2026-01-01", "2026-01-01")

    assert job(rt, "service.maintenance_due").run(rt, today=dt.date(2026, 3, 1)) == []
    assert [t["subject"] for t in job(rt, "service.maintenance_due").run(rt, today="2026-03-02")] == ["Maintenance: Annual check"]
    assert rt.records.list(actor, "ticket", {"equipment": eq, "count": "true"}).count == 3


def test_the_breach_check_flags_open_tickets_past_their_resolution_due_time(rt, actor):
    policy(rt, actor, "Breakdowns", ticket_type="breakdown", response_hours=1, resolution_hours=2)
    waiting = ticket(rt, actor, "Waiting", type="breakdown", status="waiting_customer")
    fresh = ticket(rt, actor, "Fresh", type="breakdown")
    solved = ticket(rt, actor, "Solved", type="breakdown")
    solved = rt.records.update(actor, "ticket", solved["id"], {"status": "resolved"}, version=1)
    untimed = ticket(rt, actor, "Question", type="inquiry")
    check = job(rt, "service.sla_breach_check")

    assert check.run(rt) == []
    in_three_hours = dt.datetime.now(UTC) + dt.timedelta(hours=3)
    assert sorted(check.run(rt, now=in_three_hours)) == sorted([waiting["id"], fresh["id"]])
    flagged = {t["subject"]: t["sla_breached"] for t in rt.records.list(actor, "ticket").items}
    assert flagged == {"Waiting": True, "Fresh": True, "Solved": False, "Question": False}
    assert check.run(rt, now=in_three_hours) == []
    assert rt.records.get(actor, "ticket", untimed["id"])["version"] == 1


# --- reminders -------------------------------------------------------------------------------------


def user(rt, actor, name, **extra) -> int:
    return rt.records.create(actor, "user", {"username": name, **extra})["id"]


def inbox(rt, user_id, lang="en"):
    from core import notifications  # noqa: PLC0415
    from core.db import read_transaction  # noqa: PLC0415

    with read_transaction(rt.engine) as conn:
        return notifications.items(conn, user_id, lang, words=rt.plugins.words)[0]


def test_a_plan_falling_due_reminds_its_owner_or_the_equipments_once(rt, actor, acme):
    wang, li = user(rt, actor, "wang", language="zh_cn"), user(rt, actor, "li")
    eq = acme.equipment["id"]
    rt.records.update(actor, "equipment", eq, {"owner": li}, version=acme.equipment["version"])
    rt.records.create(actor, "maintenance_plan", {"equipment": eq, "name": "Quarterly service", "interval_days": 90,
                                                          "next_due_date": "2026-03-01", "owner": wang})
    unowned = rt.records.create(actor, "maintenance_plan", {"equipment": eq, "name": "Filter change", "interval_days": 7,
                                                            "next_due_date": "2026-03-01"})
    rt.records.create(actor, "maintenance_plan", {"equipment": eq, "name": "Paused", "interval_days": 30,
                                                  "next_due_date": "2026-01-01", "active": False, "owner": wang})
    assert unowned["owner"] is None
    created = {t["subject"]: t for t in job(rt, "service.maintenance_due").run(rt, today=dt.date(2026, 3, 1))}
    assert set(created) == {"Maintenance: Quarterly service", "Maintenance: Filter change"}
    quarterly, filters = created["Maintenance: Quarterly service"], created["Maintenance: Filter change"]
    [to_wang] = inbox(rt, wang, "zh-CN")
    assert (to_wang.kind, to_wang.link) == ("reminder", f"/r/ticket/{quarterly['id']}")
    assert to_wang.message == f"维护计划“Quarterly service”于 2026-03-01 到期：已为其创建工单 {quarterly['number']}"
    [to_li] = inbox(rt, li)
    assert to_li.message == f"Maintenance “Filter change” is due on 2026-03-01: ticket {filters['number']} is open for it"
    assert job(rt, "service.maintenance_due").run(rt, today=dt.date(2026, 3, 1)) == []
    assert len(inbox(rt, wang)) == 1 and len(inbox(rt, li)) == 1


def test_a_ticket_about_to_breach_its_sla_reminds_its_assignee_once(rt, actor):
    wang, li, zhao = user(rt, actor, "wang"), user(rt, actor, "li", language="zh_cn"), user(rt, actor, "zhao")
    policy(rt, actor, "Breakdowns", ticket_type="breakdown", response_hours=1, resolution_hours=2)
    assigned = ticket(rt, actor, "Spindle stalls", type="breakdown", assigned_to=wang, owner=zhao)
    owned = ticket(rt, actor, "Coolant leak", type="breakdown", owner=li)
    done = ticket(rt, actor, "Solved", type="breakdown", assigned_to=zhao)
    rt.records.update(actor, "ticket", done["id"], {"status": "resolved"}, version=done["version"])
    ticket(rt, actor, "Question", type="inquiry", assigned_to=zhao)  # no SLA policy: no due time
    check = job(rt, "service.sla_breach_check")
    due = when(assigned["resolution_due"])

    assert check.run(rt, now=due - dt.timedelta(hours=1, minutes=5)) == [] and inbox(rt, wang) == []  # not within the hour yet
    assert check.run(rt, now=due - dt.timedelta(minutes=30)) == []  # none breached; two warned
    [notice] = inbox(rt, wang)
    shown = due.strftime("%Y-%m-%d %H:%M UTC")
    assert (notice.kind, notice.link) == ("reminder", f"/r/ticket/{assigned['id']}")
    assert notice.message == f"Ticket {assigned['number']} “Spindle stalls” must be resolved by {shown}, within the hour, or its SLA is breached"
    [in_chinese] = inbox(rt, li, "zh-CN")
    assert in_chinese.record_id == owned["id"]
    assert in_chinese.message.startswith(f"工单 {owned['number']}“Coolant leak”须在 ") and in_chinese.message.endswith("（一小时内）前解决，否则将违反 SLA")
    assert inbox(rt, zhao) == []  # the assignee, not the owner; the resolved ticket reminds nobody
    check.run(rt, now=due - dt.timedelta(minutes=15))
    assert len(inbox(rt, wang)) == 1 and len(inbox(rt, li)) == 1  # a second run reminds nobody twice


# --- handover from manufacturing --------------------------------------------------------------------


def test_delivered_equipment_is_recorded_at_the_customer(rt, actor, acme):
    with rt.writing() as (conn, schema):
        records = TransactionRecords(rt.records, conn, schema, actor)
        equipment_id = tessera_equipment_delivered(records, acme.account["id"], acme.product["id"], "L200-0100",
                                                   dt.date(2026, 4, 15), "SO-2026-0042")
        again = tessera_equipment_delivered(records, acme.account["id"], acme.product["id"], "L200-0100",
                                            "2026-04-15", "SO-2026-0042")
    assert again == equipment_id
    equipment = rt.records.get(actor, "equipment", equipment_id)
    assert equipment["serial_number"] == "L200-0100" and equipment["name"] == "CNC Lathe L-200"
    assert equipment["customer"]["id"] == acme.account["id"] and equipment["product"]["id"] == acme.product["id"]
    assert (equipment["status"], equipment["install_date"], equipment["warranty_end"], equipment["source_order"]) == (
        "in_service", "2026-04-15", "2027-04-15", "SO-2026-0042")

    with pytest.raises(Refusal) as info, rt.writing() as (conn, schema):
        records = TransactionRecords(rt.records, conn, schema, actor)
        tessera_equipment_delivered(records, acme.account["id"], acme.product["id"], "L200-0100", "2026-05-01", "SO-2026-0077")
    said = rt.plugins.sentence(info.value)
    assert (info.value.field, str(said)) == ("serial_number", "serial number L200-0100 is already recorded as equipment of Acme Machining "
                                                              "(delivered by SO-2026-0042); check the serial number")
    assert said.in_("zh-CN") == "序列号 L200-0100 已登记为 Acme Machining 的设备（由 SO-2026-0042 交付）；请核对序列号。"


@hookspec
def tessera_equipment_delivered_spec(records, customer_id, product_id, serial_number, delivered_on, order_reference):
    """Stands for the hook a manufacturing plugin declares."""


def test_the_delivery_hook_is_answered_when_a_plugin_declares_it(make_runtime, actor, tmp_path):
    specs = types.ModuleType("delivery_specs")
    specs.tessera_equipment_delivered = tessera_equipment_delivered_spec
    deliveries = types.ModuleType("deliveries")
    deliveries.__file__ = str(tmp_path / "deliveries.py")
    deliveries.PLUGIN = PluginInfo(name="deliveries", version="1.0.0", hookspecs=specs)
    rt = make_runtime(plugins=("service", "deliveries"), extra_plugins=[deliveries])
    account = rt.records.create(actor, "account", {"name": "Gamma Metals"})
    product = rt.records.create(actor, "product", {"name": "Press P-50"})
    with rt.writing() as (conn, schema):
        records = TransactionRecords(rt.records, conn, schema, actor)
        ids = rt.plugins.hook.tessera_equipment_delivered(records=records, customer_id=account["id"], product_id=product["id"],
                                                          serial_number="P50-7", delivered_on="2026-02-28", order_reference="SO-9")
    assert len(ids) == 1
    assert rt.records.get(actor, "equipment", ids[0])["warranty_end"] == "2027-02-28"


def test_sla_hours_are_bounded_and_a_policy_saved_beyond_the_bound_still_lets_tickets_open(rt, actor):
    with pytest.raises(RecordValidationError) as refused:
        policy(rt, actor, "Forever", resolution_hours=10**15)
    assert "resolution_hours" in errors_of(refused)
    kept = policy(rt, actor, "Business hours", response_hours=8760, resolution_hours=8760, business_hours_only=True)
    with rt.writing() as (conn, schema):  # as if saved before the bound existed
        table = schema.tables.table("sla_policy")
        conn.execute(sa.update(table).where(table.c.id == kept["id"]).values(resolution_hours=10**15, response_hours=10**12))
    opened = ticket(rt, actor)
    assert opened["sla_policy"]["id"] == kept["id"]
    due = when(opened["resolution_due"])
    assert dt.timedelta(days=365) < due - when(opened["created_at"]) < dt.timedelta(days=6 * 365)


def test_a_maintenance_plan_long_overdue_moves_to_its_next_date_at_once(rt, actor, acme):
    plan = rt.records.create(actor, "maintenance_plan", {"equipment": acme.equipment["id"], "interval_days": 1,
                                                          "next_due_date": "0005-01-01"})
    with pytest.raises(RecordValidationError):
        rt.records.create(actor, "maintenance_plan", {"equipment": acme.equipment["id"], "interval_days": 10**9, "next_due_date": "2026-01-01"})
    today = dt.date(2026, 3, 1)
    job(rt, "service.maintenance_due").run(rt, today=today)
    assert rt.records.get(actor, "maintenance_plan", plan["id"])["next_due_date"] == "2026-03-02"
