"""Service: equipment maintenance tickets, SLAs and maintenance plans.

What the hooks do:

- A new ticket gets a tracking code for the customer and the SLA policy that matches its
  type and priority (an empty type or priority on a policy matches any; the most specific
  policy wins, then the lowest rank). Its response and resolution due times are counted
  from its creation, in business hours when the policy says so. Changing the priority or
  the type picks the policy again and counts from the original creation time.
- Resolving a ticket stamps ``resolved_at`` (if empty) and records whether it was late;
  reopening clears ``resolved_at``. A ticket is closed with its ``resolution`` (a stage gate in
  its metadata, core/stage_gates.py).
- Scheduled jobs open a ticket for each maintenance plan that falls due, and flag open
  tickets that passed their resolution due time.
- Reminders (in the bell, once per record and due date): a maintenance plan falling due reminds
  its owner (or, when the plan has none, the equipment's owner) of the ticket it opened; an open
  ticket whose resolution is due within ``SLA_WARNING`` (one hour) reminds its assignee (or, when
  nobody is assigned, its owner) before the SLA is breached.
- ``tessera_equipment_delivered`` (a hook the manufacturing plugin calls) records the
  equipment a sales order delivered to a customer.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core import reminders
from core.dates import add_days, add_hours
from core.hookspecs import hookimpl
from core.plugins import PluginInfo, Refusal, ScheduledJob
from core.records import Actor, NotFound, TransactionRecords

PLUGIN = PluginInfo(
    name="service",
    version="0.1.0",
    label={"en": "Service", "zh-CN": "服务"},
    tessera=">=0.1,<1",
    description="Equipment maintenance tickets with SLAs, installed equipment and maintenance plans.",
    record_objects=('ticket', 'sla_policy', 'equipment', 'maintenance_plan'),
)

OPEN_STATUSES = ("new", "assigned", "in_progress", "waiting_customer")
DONE_STATUSES = ("resolved", "closed")
TRACKING_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I: customers read and type it
TRACKING_LENGTH = 10
WARRANTY_DAYS = 365
MAX_SLA_HOURS = 8760  # sla_policy's response_hours and resolution_hours go up to a year
UTC = dt.timezone.utc
SLA_WARNING = dt.timedelta(hours=1)  # an open ticket due within this reminds its assignee before its SLA is breached


# --- small conversions ------------------------------------------------------------------


def _now() -> dt.datetime:
    return dt.datetime.now(UTC)


def _id(value: Any) -> int | None:
    """A lookup as hooks see it: an id, {"id": ..., "label": ...} (stored records) or None."""
    if isinstance(value, dict):
        value = value.get("id")
    return None if value in (None, "") else int(value)


def _datetime(value: Any) -> dt.datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        parsed = value
    else:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _date(value: Any) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def _iso(value: dt.datetime | None) -> str | None:
    """UTC ISO 8601 to the second, e.g. 2026-11-23T10:00:00Z."""
    if value is None:
        return None
    return value.astimezone(UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def _all(records: TransactionRecords, object_name: str, params: dict) -> list[dict]:
    """Every record matching ``params``."""
    return list(records.each(object_name, params))


# --- SLA ----------------------------------------------------------------------------------


def add_business_hours(start: dt.datetime, hours: int, day_start: int = 9, day_end: int = 18, zone: str = "UTC") -> dt.datetime:
    """``start`` plus ``hours`` counted Monday to Friday between ``day_start`` and ``day_end`` (local hours in ``zone``)."""
    tz = ZoneInfo(zone or "UTC")
    local = start.astimezone(tz)
    remaining = dt.timedelta(hours=hours)

    def opening(day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(day_start), tzinfo=tz)

    def closing(day: dt.date) -> dt.datetime:
        if day_end >= 24:
            return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=tz)
        return dt.datetime.combine(day, dt.time(day_end), tzinfo=tz)

    while True:
        day = local.date()
        if day.weekday() >= 5 or local >= closing(day):
            local = opening(day + dt.timedelta(days=1))
            continue
        local = max(local, opening(day))
        available = closing(day) - local
        if remaining <= available:
            return (local + remaining).astimezone(UTC)
        remaining -= available
        local = opening(day + dt.timedelta(days=1))


def _due(start: dt.datetime, hours: int, policy: dict) -> dt.datetime:
    """When a ticket's response or resolution is due. Hours beyond the metadata's bound (a policy saved before
    it existed) count as the bound: a year of business hours is a few years of calendar, never an overflow."""
    hours = min(int(hours), MAX_SLA_HOURS)
    day_start, day_end = policy.get("business_day_start"), policy.get("business_day_end")
    if policy.get("business_hours_only") and day_start is not None and day_end is not None and day_end > day_start:
        try:
            return add_business_hours(start, hours, day_start, day_end, policy.get("business_timezone") or "UTC")
        except (ZoneInfoNotFoundError, ValueError):
            pass  # a time zone this server does not know: count plain hours rather than refuse the ticket
    return add_hours(start, hours)


def matching_policy(records: TransactionRecords, ticket_type: str | None, priority: str | None) -> dict | None:
    """The active SLA policy for a type and priority: most specific first, then the lowest rank."""
    candidates = [
        p for p in _all(records, "sla_policy", {"active": "true"})
        if p.get("ticket_type") in (None, ticket_type) and p.get("priority") in (None, priority)
    ]
    if not candidates:
        return None

    def preference(policy: dict) -> tuple:
        specificity = (policy.get("ticket_type") is not None) + (policy.get("priority") is not None)
        rank = policy.get("rank")
        return (-specificity, rank is None, rank or 0, policy["id"])

    return min(candidates, key=preference)


def _apply_sla(records: TransactionRecords, values: dict, ticket_type: str | None, priority: str | None, since: dt.datetime) -> None:
    policy = matching_policy(records, ticket_type, priority)
    if policy is None:
        values.update(sla_policy=None, response_due=None, resolution_due=None)
        return
    values["sla_policy"] = policy["id"]
    values["response_due"] = _iso(_due(since, policy["response_hours"], policy))
    values["resolution_due"] = _iso(_due(since, policy["resolution_hours"], policy))


def _breached(ticket: dict, now: dt.datetime) -> bool:
    """Late if resolved after the resolution due time, or still open past it."""
    due = _datetime(ticket.get("resolution_due"))
    if due is None:
        return False
    if ticket.get("status") in DONE_STATUSES:
        resolved = _datetime(ticket.get("resolved_at"))
        return resolved is not None and resolved > due
    return now > due


def _tracking_code(records: TransactionRecords) -> str:
    for _ in range(5):
        code = "".join(secrets.choice(TRACKING_ALPHABET) for _ in range(TRACKING_LENGTH))
        if not records.list("ticket", {"tracking_code": code, "limit": 1}).items:
            return code
    return code  # the unique check still refuses a repeat


# --- record hooks -------------------------------------------------------------------------


@hookimpl
def tessera_before_create(event):
    if event.object == "ticket":
        _ticket_created(event)
    elif event.object == "equipment":
        _name_from_product(event.records, event.values)


def _ticket_created(event) -> None:
    values, now = event.values, event.now or _now()
    if not values.get("tracking_code"):
        values["tracking_code"] = _tracking_code(event.records)
    if values.get("equipment") and not values.get("customer"):
        equipment = _get(event.records, "equipment", values["equipment"])
        if equipment is not None and _id(equipment.get("customer")):
            values["customer"] = _id(equipment["customer"])
    _apply_sla(event.records, values, values.get("type"), values.get("priority"), now)
    if values.get("status") in DONE_STATUSES and not values.get("resolved_at"):
        values["resolved_at"] = _iso(now)
    values["sla_breached"] = _breached(values, now)


def _name_from_product(records: TransactionRecords, values: dict) -> None:
    if not values.get("name") and values.get("product"):
        product = _get(records, "product", values["product"])
        if product is not None:
            values["name"] = product.get("name")


def _get(records: TransactionRecords, object_name: str, record_id: Any) -> dict | None:
    try:
        return records.get(object_name, _id(record_id))
    except NotFound:
        return None  # the core reports the missing record against its field


@hookimpl
def tessera_before_update(event):
    if event.object == "ticket":
        _ticket_updated(event)
    elif event.object == "equipment" and "product" in event.values and "name" not in event.values and not event.previous.get("name"):
        _name_from_product(event.records, event.values)


# What this plugin's refusals and reminders say, in both languages (tessera_words).
WORDS = {
    "service.tracking_code_fixed": {"en": "the tracking code was given to the customer and cannot be changed",
                                    "zh-CN": "跟踪码已告知客户，不能修改。"},
    "service.equipment_of_other": {"en": "equipment {serial} belongs to {customer}, not to this ticket's customer",
                                   "zh-CN": "设备 {serial} 属于 {customer}，不属于此工单的客户。"},
    "service.contact_of_other": {"en": "contact {person} works for {account}, not for this ticket's customer",
                                 "zh-CN": "联系人 {person} 就职于 {account}，不属于此工单的客户。"},
    "service.resolution_before_response": {"en": "must be at least the response time ({hours} hours)", "zh-CN": "不能短于响应时间（{hours} 小时）。"},
    "service.day_ends_before_start": {"en": "must be later than the start of the business day ({start})", "zh-CN": "必须晚于工作日的开始时间（{start}）。"},
    "service.not_a_time_zone": {"en": "'{zone}' is not a time zone; use a name like Asia/Shanghai or UTC",
                                "zh-CN": "“{zone}”不是时区；请使用 Asia/Shanghai 或 UTC 这样的名称。"},
    "service.warranty_before_install": {"en": "must not be before the install date ({installed})", "zh-CN": "不能早于安装日期（{installed}）。"},
    "service.serial_recorded": {"en": "serial number {serial} is already recorded as equipment of {owner} (delivered by {order}); check the serial number",
                                "zh-CN": "序列号 {serial} 已登记为 {owner} 的设备（由 {order} 交付）；请核对序列号。"},
    # reminders (in the bell)
    "service.maintenance_due": {"en": "Maintenance “{plan}” is due on {due}: ticket {ticket} is open for it",
                                "zh-CN": "维护计划“{plan}”于 {due} 到期：已为其创建工单 {ticket}"},
    "service.sla_due_soon": {"en": "Ticket {ticket} “{subject}” must be resolved by {due}, within the hour, or its SLA is breached",
                             "zh-CN": "工单 {ticket}“{subject}”须在 {due}（一小时内）前解决，否则将违反 SLA"},
}


@hookimpl
def tessera_words():
    return WORDS


def _ticket_updated(event) -> None:
    values, previous, now = event.values, event.previous, event.now or _now()
    if "tracking_code" in values and previous.get("tracking_code") and values["tracking_code"] != previous["tracking_code"]:
        raise Refusal(code="service.tracking_code_fixed", field="tracking_code")
    if values.get("equipment") and not values.get("customer", _id(previous.get("customer"))):
        equipment = _get(event.records, "equipment", values["equipment"])
        if equipment is not None and _id(equipment.get("customer")):
            values["customer"] = _id(equipment["customer"])
    sla_changed = any(name in values and values[name] != previous.get(name) for name in ("priority", "type"))
    if sla_changed:
        merged = {**previous, **values}
        _apply_sla(event.records, values, merged.get("type"), merged.get("priority"), _datetime(previous["created_at"]))
    status_changed = "status" in values and values["status"] != previous.get("status")
    if status_changed:
        if values["status"] in DONE_STATUSES and not values.get("resolved_at", previous.get("resolved_at")):
            values["resolved_at"] = _iso(now)
        elif values["status"] in OPEN_STATUSES and previous.get("status") in DONE_STATUSES and "resolved_at" not in values:
            values["resolved_at"] = None  # reopened: it is not resolved any more
    if sla_changed or status_changed or "resolved_at" in values:
        values["sla_breached"] = _breached({**previous, **values}, now)


@hookimpl
def tessera_validate_record(event):
    checks = {"ticket": _ticket_problems, "sla_policy": _policy_problems, "equipment": _equipment_problems}
    check = checks.get(event.object)
    return check(event) if check else []


def _merged(event) -> dict:
    return {**(event.previous or {}), **event.values}


def _ticket_problems(event) -> list[tuple[str, str]]:
    values, problems = _merged(event), []
    customer_id = _id(values.get("customer"))
    if customer_id is None:
        return problems
    if "equipment" in event.values or "customer" in event.values:
        equipment = _get(event.records, "equipment", values["equipment"]) if _id(values.get("equipment")) else None
        owner = _id(equipment.get("customer")) if equipment else None
        if owner is not None and owner != customer_id:
            problems.append(Refusal(code="service.equipment_of_other", field="equipment",
                                    params={"serial": equipment["serial_number"], "customer": equipment["customer"]["label"]}))
    if "contact" in event.values or "customer" in event.values:
        contact = _get(event.records, "contact", values["contact"]) if _id(values.get("contact")) else None
        account = _id(contact.get("account")) if contact else None
        if account is not None and account != customer_id:
            person = " ".join(filter(None, [contact.get("first_name"), contact.get("last_name")]))
            problems.append(Refusal(code="service.contact_of_other", field="contact", params={"person": person, "account": contact["account"]["label"]}))
    return problems


def _policy_problems(event) -> list[tuple[str, str]]:
    values, problems = _merged(event), []
    response, resolution = values.get("response_hours"), values.get("resolution_hours")
    if response is not None and resolution is not None and resolution < response:
        problems.append(Refusal(code="service.resolution_before_response", field="resolution_hours", params={"hours": response}))
    start, end = values.get("business_day_start"), values.get("business_day_end")
    if start is not None and end is not None and end <= start:
        problems.append(Refusal(code="service.day_ends_before_start", field="business_day_end", params={"start": f"{start}:00"}))
    zone = values.get("business_timezone")
    if zone:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(Refusal(code="service.not_a_time_zone", field="business_timezone", params={"zone": zone}))
    return problems


def _equipment_problems(event) -> list[tuple[str, str]]:
    values = _merged(event)
    installed, warranty = _date(values.get("install_date")), _date(values.get("warranty_end"))
    if installed and warranty and warranty < installed:
        return [Refusal(code="service.warranty_before_install", field="warranty_end", params={"installed": installed.isoformat()})]
    return []


# --- scheduled jobs -----------------------------------------------------------------------


def run_maintenance_due(runtime, today: Any = None) -> list[dict]:
    """Open a ticket for each active maintenance plan due on or before ``today``; move the plan on.

    Each plan is handled in its own transaction (its ticket and its new due date together).
    A plan several intervals late gets one ticket and its next due date after ``today``.
    Returns the tickets created.
    """
    today = _date(today) or _now().date()
    actor = Actor.system()
    with runtime.reading() as (conn, schema):
        records = TransactionRecords(runtime.records, conn, schema, actor)
        due = _all(records, "maintenance_plan", {"active": "true", "next_due_date__lte": today.isoformat(), "sort": "next_due_date"})
    created = []
    for found in due:
        with runtime.writing() as (conn, schema):
            records = TransactionRecords(runtime.records, conn, schema, actor)
            ticket = _open_maintenance_ticket(records, found["id"], today)
            if ticket is not None:
                created.append(ticket)
    return created


def _open_maintenance_ticket(records: TransactionRecords, plan_id: int, today: dt.date) -> dict | None:
    plan = _get(records, "maintenance_plan", plan_id)
    if plan is None or not plan.get("active"):
        return None
    due_on = _date(plan["next_due_date"])
    if due_on > today:
        return None  # another run handled it meanwhile
    equipment = records.get("equipment", _id(plan["equipment"]))
    if equipment.get("status") == "decommissioned":
        return None
    name = plan.get("name") or equipment["serial_number"]
    ticket = records.create("ticket", {
        "subject": f"Maintenance: {name}",
        "type": plan.get("ticket_type") or "maintenance",
        "equipment": equipment["id"],
        "customer": _id(equipment.get("customer")),
        "description": f"Scheduled maintenance of {equipment['serial_number']}, due on {due_on.isoformat()} (every {plan['interval_days']} days).",
    })
    interval = max(1, int(plan["interval_days"]))
    missed = (today - due_on).days // interval  # whole intervals already past: skipped, not raised one by one
    next_due = add_days(due_on, (missed + 1) * interval)
    records.update("maintenance_plan", plan["id"], {"next_due_date": next_due.isoformat()})
    reminders.remind(records, [reminders.recipient(plan, "owner") or reminders.recipient(equipment, "owner")],
                     code="service.maintenance_due", params={"plan": reminders.shorten(name), "due": due_on.isoformat(),
                                                             "ticket": ticket.get("number") or f"#{ticket['id']}"},
                     object="ticket", record_id=ticket["id"], due=due_on, about=("maintenance_plan", plan["id"]))
    return ticket


def run_sla_breach_check(runtime, now: Any = None) -> list[int]:
    """Flag open tickets whose resolution due time has passed; returns their ids. Open tickets due within
    ``SLA_WARNING`` remind their assignee (or owner) first, in the same transaction (``warn_of_sla_breach``)."""
    now = _datetime(now) or _now()
    with runtime.writing() as (conn, schema):
        records = TransactionRecords(runtime.records, conn, schema, Actor.system())
        warn_of_sla_breach(records, now)
        late = _all(records, "ticket", {
            "status__in": ",".join(OPEN_STATUSES),
            "sla_breached__ne": "true",
            "resolution_due__lt": now.isoformat(),
        })
        for ticket in late:
            records.update("ticket", ticket["id"], {"sla_breached": True})
    return [t["id"] for t in late]


def warn_of_sla_breach(records: TransactionRecords, now: dt.datetime) -> list[int]:
    """Remind the assignee (or, when nobody is assigned, the owner) of each open, not yet breached ticket whose
    resolution is due from ``now`` to ``now`` + ``SLA_WARNING``: once per ticket and due time. The ids of the tickets
    whose reminder was given now."""
    soon = _all(records, "ticket", {
        "status__in": ",".join(OPEN_STATUSES),
        "sla_breached__ne": "true",
        "resolution_due__gte": now.isoformat(),
        "resolution_due__lte": (now + SLA_WARNING).isoformat(),
    })
    warned = []
    for ticket in soon:
        due = _datetime(ticket["resolution_due"])
        params = {"ticket": ticket.get("number") or f"#{ticket['id']}", "subject": reminders.shorten(ticket.get("subject")),
                  "due": due.strftime("%Y-%m-%d %H:%M UTC")}
        if reminders.remind(records, [reminders.recipient(ticket, "assigned_to", "owner")], code="service.sla_due_soon",
                            params=params, object="ticket", record_id=ticket["id"], due=due, topic="sla"):
            warned.append(ticket["id"])
    return warned


@hookimpl
def tessera_scheduled_jobs():
    return [
        ScheduledJob("service.maintenance_due", 3600, run_maintenance_due, plugin="service"),
        ScheduledJob("service.sla_breach_check", 300, run_sla_breach_check, plugin="service"),
    ]


# --- handover from manufacturing ----------------------------------------------------------


@hookimpl(optionalhook=True)
def tessera_equipment_delivered(records, customer_id, product_id, serial_number, delivered_on, order_reference):
    """Record delivered equipment at the customer (in service, one year of warranty); return its id.

    Delivering the same serial number for the same order again returns the recorded
    equipment; a serial number already recorded for another order is refused (the
    delivery rolls back) rather than moving someone else's machine.
    """
    delivered = _date(delivered_on) or _now().date()
    existing = records.list("equipment", {"serial_number": serial_number, "limit": 1}).items
    if existing:
        known = existing[0]
        if known.get("source_order") == order_reference:
            return known["id"]
        owner = (known.get("customer") or {}).get("label") or "no customer"
        raise Refusal(code="service.serial_recorded", field="serial_number",
                      params={"serial": serial_number, "owner": owner, "order": known.get("source_order") or "-"})
    equipment = records.create("equipment", {
        "serial_number": serial_number,
        "product": product_id,
        "customer": customer_id,
        "status": "in_service",
        "install_date": delivered.isoformat(),
        "warranty_end": add_days(delivered, WARRANTY_DAYS).isoformat(),
        "source_order": order_reference,
    })
    return equipment["id"]
