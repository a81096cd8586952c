"""B2C repeat-purchase marketing: campaigns, segments, purchases and renewals.

What the hooks keep up to date, always through the record service in the write's own
transaction:

* a customer's (contact's) and an account's purchase profile: how often and how much they
  bought, their average repurchase interval and when the next purchase is expected;
* a campaign's responses (members who responded or converted), the revenue of the
  purchases attributed to it, and its ROI;
* a segment's member count, recounted whenever the segment is saved (its rule is checked
  against its object then);
* a renewal task for every subscription that becomes due, and a reminder (in the bell) to the
  subscription's owner, once per subscription and end date.

Two scheduled jobs: ``marketing.renewal_reminders`` marks subscriptions due within their
reminder window, and ``marketing.segment_counts`` recounts segments (recency moves daily).

A campaign's stage gates (campaign.json, core/stage_gates.py): it is completed from active, with its
actual cost (its ROI needs it), and aborted while planned or active.
"""

from __future__ import annotations

import datetime as dt
from contextlib import contextmanager
from contextvars import ContextVar
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Iterator

from core import reminders
from core.dates import add_days
from core.hookspecs import hookimpl
from core.plugins import PluginInfo, Refusal, ScheduledJob
from core.records import Actor, Conflict, NotFound, QueryError, RecordValidationError

PLUGIN = PluginInfo(
    name="marketing",
    version="0.1.0",
    label={"en": "Marketing", "zh-CN": "市场营销"},
    tessera=">=0.1,<1",
    description="B2C repeat purchase: campaigns, segments, purchase history, repurchase cycles, renewals.",
    record_objects=('campaign', 'campaign_member', 'purchase', 'segment', 'subscription'),
)

RESPONDED = ("responded", "converted")
CENT = Decimal("0.01")
DEFAULT_REMINDER_DAYS = 30
MAX_REMINDER_DAYS = 365  # subscription.reminder_days_before's max
PROFILE_TARGETS = (("contact", "customer"), ("account", "account"))  # (object, purchase field pointing at it)
PROFILE_INPUTS = frozenset({"customer", "account", "purchase_date", "amount"})
NOT_FILTERS = frozenset({"sort", "limit", "offset", "count", "fields"})
_TODAY: ContextVar[dt.date | None] = ContextVar("marketing_today", default=None)


# --- small helpers -------------------------------------------------------------------------


def _id(value: Any) -> int | None:
    """A lookup as records show it ({"id", "label"}), as hooks' values hold it (an id), or None."""
    if value is None:
        return None
    if isinstance(value, dict):
        value = value.get("id")
    return None if value is None else int(value)


def _date(value: Any) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def _decimal(value: Any) -> Decimal | None:
    return None if value is None or value == "" else Decimal(str(value))


def _each(records: Any, object_name: str, filters: dict, sort: str) -> Iterator[dict]:
    """Every record matching ``filters`` (records = event.records)."""
    return records.each(object_name, {**filters, "sort": sort})


def _today() -> dt.date:
    """Today, or the day a scheduled job runs for (its hooks see the job's ``today``)."""
    return _TODAY.get() or dt.date.today()


@contextmanager
def _as_of(today: dt.date) -> Iterator[None]:
    token = _TODAY.set(today)
    try:
        yield
    finally:
        _TODAY.reset(token)


def _merged(event: Any) -> dict:
    """The record as it will be: the stored one (updates) with the new values over it."""
    return {**(event.previous or {}), **event.values}


# --- purchase profile ----------------------------------------------------------------------


def purchase_profile(dates: list[dt.date], total: Decimal) -> dict:
    """The profile fields for a customer or account with purchases on ``dates``.

    The average repurchase interval is the mean gap in days between consecutive purchase
    dates (empty with fewer than two purchases); the next purchase is expected the average
    interval, rounded to whole days, after the last one.
    """
    dates = sorted(dates)
    profile: dict[str, Any] = {
        "purchase_count": len(dates),
        "total_spent": str(total.quantize(CENT, ROUND_HALF_UP)),
        "last_purchase_date": dates[-1].isoformat() if dates else None,
        "average_repurchase_interval_days": None,
        "next_expected_purchase_date": None,
    }
    if len(dates) >= 2:
        mean = Decimal((dates[-1] - dates[0]).days) / Decimal(len(dates) - 1)  # consecutive gaps add up to the span
        profile["average_repurchase_interval_days"] = str(mean.quantize(CENT, ROUND_HALF_UP))
        days = int(mean.to_integral_value(ROUND_HALF_UP))
        profile["next_expected_purchase_date"] = add_days(dates[-1], days).isoformat()
    return profile


def _refresh_profile(records: Any, object_name: str, purchase_field: str, record_id: int | None) -> None:
    if record_id is None:
        return
    dates, total = [], Decimal(0)
    for purchase in _each(records, "purchase", {purchase_field: record_id}, "purchase_date"):
        dates.append(_date(purchase["purchase_date"]))
        total += _decimal(purchase["amount"]) or Decimal(0)
    records.update(object_name, record_id, purchase_profile(dates, total))


# --- campaigns -----------------------------------------------------------------------------


def campaign_roi(won_revenue: Any, actual_cost: Any) -> str | None:
    """(won revenue - actual cost) / actual cost x 100, to the cent; None without a cost."""
    cost = _decimal(actual_cost)
    if cost is None or cost == 0:
        return None
    won = _decimal(won_revenue) or Decimal(0)
    return str(((won - cost) / cost * 100).quantize(CENT, ROUND_HALF_UP))


def _refresh_won_revenue(records: Any, campaign_id: int | None) -> None:
    if campaign_id is None:
        return
    total = sum((_decimal(p["amount"]) or Decimal(0) for p in _each(records, "purchase", {"campaign": campaign_id}, "purchase_date")),
                Decimal(0))
    records.update("campaign", campaign_id, {"won_revenue": str(total.quantize(CENT, ROUND_HALF_UP))})  # ROI follows in before_update


def _refresh_responses(records: Any, campaign_id: int | None) -> None:
    if campaign_id is None:
        return
    page = records.list("campaign_member", {"campaign": campaign_id, "status__in": ",".join(RESPONDED), "count": "exact", "limit": 1})
    records.update("campaign", campaign_id, {"responses": page.count})


def _mark_converted(records: Any, campaign_id: int | None, contact_id: int | None) -> None:
    """A purchase attributed to a campaign converts the buyer's membership of it."""
    if campaign_id is None or contact_id is None:
        return
    page = records.list("campaign_member", {"campaign": campaign_id, "contact": contact_id, "limit": 1})
    for member in page.items:
        if member["status"] not in ("converted", "unsubscribed"):
            records.update("campaign_member", member["id"], {"status": "converted"})


def _check_membership(event: Any) -> None:
    merged = _merged(event)
    campaign_id, contact_id = _id(merged.get("campaign")), _id(merged.get("contact"))
    if campaign_id is None or contact_id is None:
        return
    filters = {"campaign": campaign_id, "contact": contact_id, "limit": 1}
    if event.previous is not None:
        filters["id__ne"] = event.previous["id"]
    if event.records.list("campaign_member", filters).items:
        raise Refusal(code="marketing.already_member", field="contact", params={"contact": contact_id, "campaign": campaign_id})


# What this plugin's refusals and reminders say, in both languages (tessera_words).
WORDS = {
    "marketing.already_member": {"en": "contact {contact} is already a member of campaign {campaign}; update that membership instead",
                                 "zh-CN": "联系人 {contact} 已是活动 {campaign} 的成员；请改为更新该成员记录。"},
    "marketing.rule_not_object": {"en": 'the rule must be a JSON object of list filters, e.g. {{"purchase_count__gte": "3"}}',
                                  "zh-CN": '规则必须是由列表筛选条件组成的 JSON 对象，例如 {{"purchase_count__gte": "3"}}。'},
    "marketing.not_a_filter": {"en": "'{key}' is not a filter; a rule holds filters only", "zh-CN": "“{key}”不是筛选条件；规则只能包含筛选条件。"},
    "marketing.rule_value": {"en": "the rule's '{key}' must be a text, a number or a list of them", "zh-CN": "规则中的“{key}”必须是文本、数字或它们的列表。"},
    "marketing.rule_does_not_fit": {"en": "the rule does not fit {object}: {problem}", "zh-CN": "规则不适用于 {object}：{problem}"},
    "marketing.end_before_start": {"en": "the end date ({end}) is before the start date ({start})", "zh-CN": "结束日期（{end}）早于开始日期（{start}）。"},
    # reminders (in the bell)
    "marketing.renewal_due": {"en": "The subscription “{plan}” ends on {end}: a renewal task is waiting for you",
                              "zh-CN": "订阅“{plan}”将于 {end} 到期：续订任务等你处理"},
}


@hookimpl
def tessera_words():
    return WORDS


def _stamp_response(event: Any) -> None:
    status = event.values.get("status")
    if status not in RESPONDED or event.values.get("responded_at"):
        return
    if event.previous is not None and event.previous.get("responded_at"):
        return
    event.values["responded_at"] = dt.datetime.now(dt.timezone.utc).isoformat()


# --- segments ------------------------------------------------------------------------------


def segment_filters(segment: dict, today: dt.date) -> list[tuple[str, str]]:
    """A segment's rule and RFM thresholds as list-query pairs (all must hold)."""
    rule = segment.get("rule")
    if rule is None:
        rule = {}
    if not isinstance(rule, dict):
        raise Refusal(code="marketing.rule_not_object", field="rule")
    pairs: list[tuple[str, str]] = []
    for key, value in rule.items():
        if key in NOT_FILTERS:
            raise Refusal(code="marketing.not_a_filter", field="rule", params={"key": key})
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value):
            value = ",".join(str(v) for v in value)
        elif not isinstance(value, (str, int, float)):
            raise Refusal(code="marketing.rule_value", field="rule", params={"key": key})
        pairs.append((key, str(value)))
    if segment.get("rfm_recency_days") is not None:
        since = add_days(today, -int(segment["rfm_recency_days"]))
        pairs.append(("last_purchase_date__gte", since.isoformat()))
    if segment.get("rfm_frequency_min") is not None:
        pairs.append(("purchase_count__gte", str(segment["rfm_frequency_min"])))
    if segment.get("rfm_monetary_min") is not None:
        pairs.append(("total_spent__gte", str(segment["rfm_monetary_min"])))
    return pairs


def count_segment(list_records: Any, segment: dict, today: dt.date) -> int:
    """How many records match; ``list_records(object, params)`` lists them. Refuses a bad rule."""
    object_name = segment.get("object_name") or "contact"
    pairs = segment_filters(segment, today)
    try:
        page = list_records(object_name, pairs + [("count", "exact"), ("limit", "1")])
    except QueryError as exc:
        raise Refusal(code="marketing.rule_does_not_fit", field="rule", params={"object": object_name, "problem": str(exc)}) from None
    return page.count or 0


# --- subscriptions -------------------------------------------------------------------------


def _renewal_task(records: Any, subscription: dict) -> None:
    end = _date(subscription.get("end_date"))
    customer = subscription.get("customer") or {}
    who = customer.get("label") if isinstance(customer, dict) else None
    subject = f"Renewal due: {subscription['plan']}" + (f" ({who})" if who else "")
    when = f"ends on {end.isoformat()}" if end else "has no end date"
    records.create("activity", {
        "subject": subject[:255],
        "activity_type": "task",
        "status": "planned",
        "priority": "normal" if subscription.get("auto_renew") else "high",  # without auto-renew the customer must act
        "due_date": (end or _today()).isoformat(),
        "related_object": "subscription",
        "related_id": subscription["id"],
        "contact": _id(subscription.get("customer")),
        "assigned_to": _id(subscription.get("owner")),
        "description": f"The subscription {subscription['plan']} {when}; contact the customer about renewing it.",
    })
    reminders.remind(records, [_id(subscription.get("owner"))], code="marketing.renewal_due",
                     params={"plan": reminders.shorten(subscription["plan"]), "end": end.isoformat() if end else "—"},
                     object="subscription", record_id=subscription["id"], due=end or "none", topic="renewal")


def run_renewal_reminders(runtime: Any, today: dt.date | None = None) -> list[int]:
    """Mark active subscriptions ending within their reminder window as due; return their ids.

    A subscription is in its window when its end date is at most ``reminder_days_before``
    days (30 when empty) after ``today``, or already past. Becoming due creates its renewal
    task (see the subscription hooks), in the same transaction.
    """
    today = today or dt.date.today()
    actor = Actor.system()
    horizon = add_days(today, MAX_REMINDER_DAYS)
    candidates = []
    active = {"renewal_status": "active", "end_date__lte": horizon.isoformat(), "sort": "end_date"}
    for subscription in runtime.records.each(actor, "subscription", active):
        window = subscription.get("reminder_days_before")
        window = DEFAULT_REMINDER_DAYS if window is None else int(window)
        if (_date(subscription["end_date"]) - today).days <= window:
            candidates.append(subscription)
    marked = []
    with _as_of(today):
        for subscription in candidates:
            try:
                runtime.records.update(actor, "subscription", subscription["id"], {"renewal_status": "due"},
                                       version=subscription["version"])
            except (Conflict, NotFound):
                continue  # changed or deleted meanwhile: the next run looks again
            marked.append(subscription["id"])
    return marked


def run_segment_counts(runtime: Any, today: dt.date | None = None) -> int:
    """Recount every segment (recency windows move each day); return how many changed.

    Saving a segment recounts it (its member count is read-only, so the count is set by
    the update hook, in the update's transaction); the job saves each one unchanged.
    """
    today = today or dt.date.today()
    actor = Actor.system()
    changed = 0
    with _as_of(today):
        for segment in list(runtime.records.each(actor, "segment", {"sort": "name"})):
            try:
                saved = runtime.records.update(actor, "segment", segment["id"], {}, version=segment["version"])
            except (Conflict, NotFound, RecordValidationError):
                continue  # changed meanwhile, or a rule that no longer fits (shown when the segment is edited)
            if saved["member_count"] != segment.get("member_count"):
                changed += 1
    return changed


# --- hooks ---------------------------------------------------------------------------------


@hookimpl
def tessera_scheduled_jobs():
    return [
        ScheduledJob(name="marketing.renewal_reminders", every_seconds=86400, run=run_renewal_reminders, plugin="marketing"),
        ScheduledJob(name="marketing.segment_counts", every_seconds=86400, run=run_segment_counts, plugin="marketing"),
    ]


@hookimpl
def tessera_validate_record(event):
    if event.object not in ("campaign", "subscription"):
        return []
    merged = _merged(event)
    start, end = _date(merged.get("start_date")), _date(merged.get("end_date"))
    if start is not None and end is not None and end < start:
        return [Refusal(code="marketing.end_before_start", field="end_date", params={"end": end.isoformat(), "start": start.isoformat()})]
    return []


@hookimpl
def tessera_before_create(event):
    if event.object == "purchase":
        if event.values.get("account") is None and event.values.get("customer") is not None:
            try:
                customer = event.records.get("contact", event.values["customer"])
            except NotFound:
                return  # reported as a field error by the reference check
            event.values["account"] = _id(customer.get("account"))
    elif event.object == "campaign":
        event.values["roi"] = campaign_roi(event.values.get("won_revenue"), event.values.get("actual_cost"))
    elif event.object == "campaign_member":
        _check_membership(event)
        _stamp_response(event)
    elif event.object == "segment":
        event.values["member_count"] = count_segment(event.records.list, event.values, _today())


@hookimpl
def tessera_before_update(event):
    if event.object == "campaign":
        if {"won_revenue", "actual_cost", "roi"} & event.values.keys():
            merged = _merged(event)
            event.values["roi"] = campaign_roi(merged.get("won_revenue"), merged.get("actual_cost"))
    elif event.object == "campaign_member":
        if {"campaign", "contact"} & event.values.keys():
            _check_membership(event)
        _stamp_response(event)
    elif event.object == "segment":  # every save recounts: purchases and recency move the count
        event.values["member_count"] = count_segment(event.records.list, _merged(event), _today())


@hookimpl
def tessera_after_create(event):
    record = event.record
    if event.object == "purchase":
        for object_name, field in PROFILE_TARGETS:
            _refresh_profile(event.records, object_name, field, _id(record.get(field)))
        campaign_id = _id(record.get("campaign"))
        if campaign_id is not None:
            _refresh_won_revenue(event.records, campaign_id)
            _mark_converted(event.records, campaign_id, _id(record.get("customer")))
    elif event.object == "campaign_member":
        if record.get("status") in RESPONDED:
            _refresh_responses(event.records, _id(record.get("campaign")))
    elif event.object == "subscription":
        if record.get("renewal_status") == "due":
            _renewal_task(event.records, record)


@hookimpl
def tessera_after_update(event):
    record, changes = event.record, event.changes
    if event.object == "purchase":
        if PROFILE_INPUTS & changes.keys():
            for object_name, field in PROFILE_TARGETS:
                ids = {_id(record.get(field))}
                if field in changes:
                    ids.add(_id(changes[field][0]))
                for record_id in sorted(i for i in ids if i is not None):
                    _refresh_profile(event.records, object_name, field, record_id)
        if {"campaign", "amount"} & changes.keys():
            ids = {_id(record.get("campaign"))}
            if "campaign" in changes:
                ids.add(_id(changes["campaign"][0]))
            for campaign_id in sorted(i for i in ids if i is not None):
                _refresh_won_revenue(event.records, campaign_id)
            if "campaign" in changes:
                _mark_converted(event.records, _id(record.get("campaign")), _id(record.get("customer")))
    elif event.object == "campaign_member":
        if {"status", "campaign"} & changes.keys():
            ids = {_id(record.get("campaign"))}
            if "campaign" in changes:
                ids.add(_id(changes["campaign"][0]))
            for campaign_id in sorted(i for i in ids if i is not None):
                _refresh_responses(event.records, campaign_id)
    elif event.object == "subscription":
        if "renewal_status" in changes and record.get("renewal_status") == "due":
            _renewal_task(event.records, record)


@hookimpl
def tessera_after_delete(event):
    previous = event.previous or {}
    if event.object == "purchase":
        for object_name, field in PROFILE_TARGETS:
            _refresh_profile(event.records, object_name, field, _id(previous.get(field)))
        _refresh_won_revenue(event.records, _id(previous.get("campaign")))
    elif event.object == "campaign_member":
        if previous.get("status") in RESPONDED:
            _refresh_responses(event.records, _id(previous.get("campaign")))
