"""B2B project sales: leads, opportunities, quotes, contracts and forecasts.

Behaviour on save, every rule's numbers kept in metadata (picklist value ``properties``)
so that an implementer changes them by overriding the picklist values:

- lead: ``score`` = the ``score`` of the chosen value of every lead picklist whose values carry
  one (industry, company size and urgency as shipped; an implementer adds more in Setup), plus the
  ``score`` of the budget band, plus the value of every number formula field named ``score_...``
  (an expression an implementer writes in Setup; ``tessera sales rescore-leads`` scores the
  existing leads again, as a job); ``budget_band`` is the band with the highest
  ``min_budget`` not above the budget; ``rating`` is the rating with the highest
  ``min_score`` the score reaches. Converting a lead needs the account it became.
- opportunity: a stage change without a probability in the same save takes the stage's
  ``probability``; the decision date is not before the bid due date.
- quote_line: ``line_total`` = quantity x list price x (1 - discount / 100), in cents; the
  list price defaults to the product's unit price. Every change to a line makes its quote
  recompute ``subtotal``, ``total_amount`` and ``approval_required`` (a discount of the
  quote or of a line above the ``discount_over`` of the quote status values); a quote
  that needs approval is approved before it is sent or accepted, through the approval
  process ``quote_discount`` (metadata/approval_quote_discount.json): its owner submits it
  (it goes in review and is locked), a sales manager other than the submitter approves or
  rejects it (core/approvals/service.py).
- contract: the end date is not before the start date.

Reminders (in the bell), given by the daily scheduled job ``sales.reminders``, once per record and date:
an active contract ending within its ``renewal_reminder_days`` (60 when empty) reminds its owner;
an open opportunity whose ``next_step_date`` has come reminds its owner (leads have no follow-up date,
so they remind nobody).

Stage gates in the metadata (core/stage_gates.py), which administrators change in Setup: a deal is
lost with its loss reason; a closed deal, or a converted lead, is reopened only by a sales manager
(or an admin); a quote is put in review, approved or rejected only by its approval process or by a sales manager
(or an admin), so a rep never approves their own quote; a
contract becomes active with its start date and the date it was signed.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import click

from core import reminders
from core.dates import add_days
from core.hookspecs import hookimpl
from core.plugins import DashboardWidget, JobKind, PluginInfo, Refusal, ScheduledJob
from core.records import Actor, TransactionRecords

PLUGIN = PluginInfo(
    name="sales",
    version="0.1.0",
    label={"en": "Sales", "zh-CN": "销售"},
    tessera=">=0.1,<1",
    description="B2B project sales: lead scoring and conversion, opportunities, quotes, contracts.",
    record_objects=('lead', 'opportunity', 'quote', 'quote_line', 'contract'),
)

LEAD_DERIVED_FIELDS = ("rating", "budget_band")  # picklists the score sets or is given by the budget, not chosen ones
SCORE_FORMULA_PREFIX = "score_"  # a lead's number formula fields named score_... are dimensions of the score
RESCORE_JOB = "sales.rescore_leads"
RESCORE_BATCH = 500
QUOTE_TOTAL_INPUTS = frozenset({"quote", "line_total", "discount_percent"})
QUOTE_SENT_STATUSES = ("sent", "accepted")
QUOTE_CLEARED_STATUSES = ("approved", "sent", "accepted")
CENT = Decimal("0.01")
RENEWAL_REMINDER_DAYS = 60  # contract.renewal_reminder_days when empty
MAX_RENEWAL_REMINDER_DAYS = 3650  # its max
NEXT_STEP_LOOKBACK_DAYS = 7  # a next step dated further back than this when the job first sees it is left alone


# --- metadata helpers ------------------------------------------------------------------


def _picklist(meta, object_name: str, field_name: str, active_only: bool = False) -> list[dict]:
    fdef = meta.object(object_name).fields.get(field_name)
    values = fdef.spec.get("values", []) if fdef is not None else []
    return [v for v in values if not (active_only and v.get("inactive"))]


def _property(meta, object_name: str, field_name: str, value: Any, key: str) -> Any:
    """The ``properties[key]`` of one picklist value, or None."""
    if value is None:
        return None
    for item in _picklist(meta, object_name, field_name):
        if item["value"] == value:
            return (item.get("properties") or {}).get(key)
    return None


def _best(values: list[dict], key: str, reached: Decimal) -> dict | None:
    """The value with the highest ``properties[key]`` that ``reached`` is at or above."""
    candidates = [v for v in values if (v.get("properties") or {}).get(key) is not None]
    eligible = [v for v in candidates if _decimal(v["properties"][key]) <= reached]
    return max(eligible, key=lambda v: _decimal(v["properties"][key]), default=None)


def _decimal(value: Any) -> Decimal:
    return Decimal(str(value))


def _number(value: Any, empty: Decimal | None = None) -> Decimal | None:
    return empty if value is None else _decimal(value)


def _date(value: Any) -> dt.date | None:
    return None if value is None else dt.date.fromisoformat(str(value)[:10])


def _id(value: Any) -> int | None:
    """A lookup as hooks see it: an id (new values) or {"id", "label"} (stored records)."""
    if isinstance(value, dict):
        value = value.get("id")
    return None if value is None else int(value)


def _merged(event) -> dict:
    """The record as it will be: the stored record with this write's changes."""
    return {**(event.previous or {}), **event.values}


def _changing(event, name: str) -> bool:
    """Whether this write sets ``name`` to something new (always true on create)."""
    if event.previous is None:
        return event.values.get(name) is not None
    return name in event.values and event.values[name] != event.previous.get(name)


# --- lead scoring -----------------------------------------------------------------------


def weighted_fields(meta) -> list[str]:
    """The lead's picklists whose values carry a ``score``: the chosen value's score counts. An implementer adds one (a
    decision maker's title, say) by adding a picklist to the lead and giving its values scores in Setup."""
    lead = meta.object("lead")
    return [f.name for f in lead.active_fields()
            if f.type.single_choice and f.name not in LEAD_DERIVED_FIELDS and not f.computed
            and any("score" in (v.get("properties") or {}) for v in f.spec.get("values", []))]


def score_formulas(meta) -> list:
    """The lead's number formula fields named ``score_...``: each one's value counts (an expression an implementer writes
    in Setup's formula editor, ``IF(CONTAINS(LOWER(title), 'director'), 15, 0)``)."""
    return [f for f in meta.object("lead").active_fields()
            if f.formula and f.name.startswith(SCORE_FORMULA_PREFIX) and f.type.family == "number" and f.typed is not None]


def lead_score(meta, lead: dict, fetch=None) -> dict:
    """``score``, ``rating`` and ``budget_band`` of a lead: the scores of its weighted picklists' values, of its budget
    band and the values of its score formulas; ``fetch(object, id)`` reads a record a formula follows a lookup to."""
    from core.expressions import evaluate  # noqa: PLC0415 - only scoring with formulas needs it

    budget = _number(lead.get("budget"))
    band = None
    if budget is not None:
        chosen = _best(_picklist(meta, "lead", "budget_band", active_only=True), "min_budget", budget)
        band = chosen["value"] if chosen else None
    total = Decimal(0)
    for name in weighted_fields(meta):
        total += _number(_property(meta, "lead", name, lead.get(name), "score"), Decimal(0))
    total += _number(_property(meta, "lead", "budget_band", band, "score"), Decimal(0))
    for fdef in score_formulas(meta):
        total += _number(evaluate(fdef.typed, lead, fetch), Decimal(0))
    score = int(total.to_integral_value(rounding=ROUND_HALF_UP))
    rating = _best(_picklist(meta, "lead", "rating", active_only=True), "min_score", Decimal(score))
    return {"score": score, "rating": rating["value"] if rating else None, "budget_band": band}


def _fetch_with(records: TransactionRecords):
    def fetch(object_name: str, record_id: int) -> dict | None:
        try:
            return records.get(object_name, record_id)
        except Exception:  # noqa: BLE001 - a record gone or out of reach counts as blank
            return None

    return fetch


def rescore_leads(runtime) -> int:
    """Score every lead again (after the weights or score formulas changed), a batch at a time; how many changed."""
    changed, after = 0, 0
    while True:
        with runtime.records.transaction(Actor.system()) as records:
            leads = records.list("lead", {"id__gt": after, "sort": "id", "limit": RESCORE_BATCH}).items
            if not leads:
                return changed
            fetch = _fetch_with(records)
            for lead in leads:
                found = lead_score(records.schema.meta, lead, fetch)
                if any(found[k] != lead.get(k) for k in found):
                    records.update("lead", lead["id"], dict(found), version=lead["version"])
                    changed += 1
            after = leads[-1]["id"]


def _rescore_job(runtime, job) -> None:
    rescore_leads(runtime)


def _before_lead(event) -> None:
    event.values.update(lead_score(event.meta, _merged(event), _fetch_with(event.records)))
    if _changing(event, "status") and event.values["status"] == "converted" and not _merged(event).get("converted_at"):
        event.values["converted_at"] = dt.datetime.now(dt.timezone.utc).isoformat()


def _validate_lead(event) -> list[tuple[str, str]]:
    if _changing(event, "status") and event.values["status"] == "converted" and not _merged(event).get("converted_account"):
        return [Refusal(code="sales.converted_lead_account", field="converted_account")]
    return []


# --- opportunity ------------------------------------------------------------------------


def _before_opportunity(event) -> None:
    if _changing(event, "stage") and event.values.get("probability") is None:
        probability = _property(event.meta, "opportunity", "stage", event.values["stage"], "probability")
        if probability is not None:
            event.values["probability"] = probability


def _validate_opportunity(event) -> list[tuple[str, str]]:
    if event.previous is not None and not {"bid_due_date", "decision_date"} & set(event.values):
        return []
    record = _merged(event)
    bid, decision = _date(record.get("bid_due_date")), _date(record.get("decision_date"))
    if bid is not None and decision is not None and decision < bid:
        return [Refusal(code="sales.decision_before_bids", field="decision_date", params={"decision": str(decision), "bid": str(bid)})]
    return []


# --- quotes -----------------------------------------------------------------------------


def approval_threshold(meta) -> Decimal | None:
    """The discount (percent) above which a quote needs approval: ``discount_over`` of a status value."""
    for item in _picklist(meta, "quote", "status"):
        threshold = (item.get("properties") or {}).get("discount_over")
        if threshold is not None:
            return _decimal(threshold)
    return None


def quote_totals(records, meta, quote_id: int | None, quote_discount: Any) -> dict:
    """``subtotal``, ``total_amount`` and ``approval_required`` of a quote from its live lines."""
    subtotal, discounts = Decimal(0), [_number(quote_discount, Decimal(0))]
    lines = records.each("quote_line", {"quote": quote_id, "sort": "id"}) if quote_id is not None else []
    for line in lines:
        subtotal += _number(line.get("line_total"), Decimal(0))
        discounts.append(_number(line.get("discount_percent"), Decimal(0)))
    total = (subtotal * (100 - discounts[0]) / 100).quantize(CENT, rounding=ROUND_HALF_UP)
    threshold = approval_threshold(meta)
    return {
        "subtotal": str(subtotal.quantize(CENT)),
        "total_amount": str(total),
        "approval_required": threshold is not None and any(d > threshold for d in discounts),
    }


def _before_quote(event) -> None:
    if event.previous is None and event.values.get("account") is None and event.values.get("opportunity") is not None:
        opportunity = event.records.get("opportunity", event.values["opportunity"])
        if opportunity.get("account"):
            event.values["account"] = _id(opportunity["account"])
    quote_id = event.previous["id"] if event.previous else None
    event.values.update(quote_totals(event.records, event.meta, quote_id, _merged(event).get("discount_percent")))


def _validate_quote(event) -> list[tuple[str, str]]:
    status = event.values.get("status")
    previous = (event.previous or {}).get("status")
    if _changing(event, "status") and status in QUOTE_SENT_STATUSES and previous not in QUOTE_CLEARED_STATUSES:
        if _merged(event).get("approval_required"):
            threshold = approval_threshold(event.meta)
            return [Refusal(code="sales.discount_needs_approval", field="status", params={"threshold": f"{threshold:g}", "status": status})]
    return []


def _before_quote_line(event) -> None:
    values, record = event.values, _merged(event)
    new_product = "product" in values and _id(values["product"]) != _id((event.previous or {}).get("product"))
    if values.get("list_price") is None and (event.previous is None or new_product or "list_price" in values):
        product = event.records.get("product", _id(record["product"]))
        if product.get("unit_price") is None:
            raise Refusal(code="sales.no_list_price", field="list_price", params={"product": product.get("name")})
        values["list_price"] = product["unit_price"]
        record["list_price"] = product["unit_price"]
    quantity = _number(record.get("quantity"), Decimal(0))
    price = _number(record.get("list_price"), Decimal(0))
    discount = _number(record.get("discount_percent"), Decimal(0))
    values["line_total"] = str((quantity * price * (100 - discount) / 100).quantize(CENT, rounding=ROUND_HALF_UP))


def _refresh_quotes(event, quote_ids) -> None:
    # An empty write is enough: the quote's before-update hook recomputes its totals.
    for quote_id in sorted({q for q in quote_ids if q is not None}):
        event.records.update("quote", quote_id, {})


# --- contracts --------------------------------------------------------------------------


def _validate_contract(event) -> list[tuple[str, str]]:
    if event.previous is not None and not {"start_date", "end_date"} & set(event.values):
        return []
    record = _merged(event)
    start, end = _date(record.get("start_date")), _date(record.get("end_date"))
    if start is not None and end is not None and end < start:
        return [Refusal(code="sales.end_before_start", field="end_date", params={"end": str(end), "start": str(start)})]
    return []


# --- hooks ------------------------------------------------------------------------------

BEFORE_SAVE = {"lead": _before_lead, "opportunity": _before_opportunity, "quote": _before_quote, "quote_line": _before_quote_line}
VALIDATORS = {"lead": _validate_lead, "opportunity": _validate_opportunity, "quote": _validate_quote, "contract": _validate_contract}


# What this plugin's refusals and reminders say, in both languages (tessera_words).
WORDS = {
    "sales.converted_lead_account": {"en": "a converted lead needs the account it became; choose or create the account first",
                                     "zh-CN": "已转化的线索需要指定它转成的客户；请先选择或新建客户。"},
    "sales.decision_before_bids": {"en": "the decision date ({decision}) is before the bid due date ({bid}); the customer decides after the bids are in",
                                   "zh-CN": "决策日期（{decision}）早于投标截止日期（{bid}）；客户在收到投标后才做决定。"},
    "sales.discount_needs_approval": {"en": "this quote has a discount above {threshold}% and needs approval: submit it for approval and have it approved before it is {status}",
                                      "zh-CN": "此报价的折扣超过 {threshold}%，需要审批：在设为 {status} 之前，请先提交审批并获得批准。"},
    "sales.end_before_start": {"en": "the end date ({end}) is before the start date ({start})", "zh-CN": "结束日期（{end}）早于开始日期（{start}）。"},
    "sales.no_list_price": {"en": "give a list price: the product '{product}' has no unit price",
                            "zh-CN": "请填写标价：产品“{product}”没有单价。"},
    # reminders (in the bell)
    "sales.contract_ending": {"en": "The contract “{contract}” ends on {end}, in {days} days: time to talk about renewing it",
                              "zh-CN": "合同“{contract}”将于 {end} 到期（还有 {days} 天）：该洽谈续约了"},
    "sales.next_step_due": {"en": "The next step on “{deal}” is due ({date}): {step}",
                            "zh-CN": "商机“{deal}”的下一步已到期（{date}）：{step}"},
    "sales.next_step_date_due": {"en": "The next step on “{deal}” is due ({date})",
                                 "zh-CN": "商机“{deal}”的下一步已到期（{date}）"},
}


@hookimpl
def tessera_words():
    return WORDS


@hookimpl
def tessera_before_create(event):
    handler = BEFORE_SAVE.get(event.object)
    if handler is not None:
        handler(event)


@hookimpl
def tessera_before_update(event):
    handler = BEFORE_SAVE.get(event.object)
    if handler is not None:
        handler(event)


@hookimpl
def tessera_validate_record(event):
    validator = VALIDATORS.get(event.object)
    return validator(event) if validator is not None else []


@hookimpl
def tessera_after_create(event):
    if event.object == "quote_line":
        _refresh_quotes(event, [_id(event.record.get("quote"))])


@hookimpl
def tessera_after_update(event):
    if event.object == "quote_line" and QUOTE_TOTAL_INPUTS & set(event.changes):
        moved_from = event.changes.get("quote", (None, None))[0]
        _refresh_quotes(event, [_id(event.record.get("quote")), _id(moved_from)])


@hookimpl
def tessera_after_delete(event):
    if event.object == "quote_line":
        _refresh_quotes(event, [_id(event.previous.get("quote"))])


# --- reminders ---------------------------------------------------------------------------------


def run_reminders(runtime, today: dt.date | None = None) -> dict[str, list[int]]:
    """The daily reminders, in one transaction: contracts ending soon and next steps come due (see the module's
    words). The ids reminded of, by object."""
    today = today or dt.datetime.now(dt.timezone.utc).date()
    with runtime.writing() as (conn, schema):
        records = TransactionRecords(runtime.records, conn, schema, Actor.system())
        return {"contract": remind_of_contracts_ending(records, today),
                "opportunity": remind_of_next_steps(records, schema.meta, today)}


def remind_of_contracts_ending(records, today: dt.date) -> list[int]:
    """Each active contract ending from ``today`` to its ``renewal_reminder_days`` after reminds its owner, once per
    contract and end date."""
    horizon = add_days(today, MAX_RENEWAL_REMINDER_DAYS)
    ending = records.each("contract", {"status": "active", "end_date__gte": today.isoformat(), "end_date__lte": horizon.isoformat(),
                                       "sort": "end_date,id"})
    reminded = []
    for contract in ending:
        end = _date(contract["end_date"])
        window = contract.get("renewal_reminder_days")
        days = (end - today).days
        if days > (RENEWAL_REMINDER_DAYS if window is None else int(window)):
            continue
        params = {"contract": reminders.shorten(contract.get("name")), "end": end.isoformat(), "days": days}
        if reminders.remind(records, [reminders.recipient(contract, "owner")], code="sales.contract_ending", params=params,
                            object="contract", record_id=contract["id"], due=end, topic="renewal"):
            reminded.append(contract["id"])
    return reminded


def remind_of_next_steps(records, meta, today: dt.date) -> list[int]:
    """Each open opportunity whose next step date has come (today, or in the last ``NEXT_STEP_LOOKBACK_DAYS`` days)
    reminds its owner, once per opportunity and next step date."""
    since = add_days(today, -NEXT_STEP_LOOKBACK_DAYS)
    due = records.each("opportunity", {"stage__in": ",".join(_open_stages(meta)), "next_step_date__gte": since.isoformat(),
                                       "next_step_date__lte": today.isoformat(), "sort": "next_step_date,id"})
    reminded = []
    for deal in due:
        step = reminders.shorten(deal.get("next_step"))
        params = {"deal": reminders.shorten(deal.get("name")), "date": deal["next_step_date"], "step": step}
        code = "sales.next_step_due" if step else "sales.next_step_date_due"
        if reminders.remind(records, [reminders.recipient(deal, "owner")], code=code, params=params, object="opportunity",
                            record_id=deal["id"], due=deal["next_step_date"], topic="next_step"):
            reminded.append(deal["id"])
    return reminded


@hookimpl
def tessera_scheduled_jobs():
    return [ScheduledJob("sales.reminders", 86400, run_reminders, plugin="sales")]


@hookimpl
def tessera_job_kinds():
    return [JobKind(RESCORE_JOB, _rescore_job, plugin="sales")]


@click.group("sales")
def sales_commands() -> None:
    """B2B project sales."""


@sales_commands.command("rescore-leads")
@click.option("--now", is_flag=True, help="Score them in this process instead of queueing the job for the server's worker.")
@click.pass_obj
def rescore_command(ctx, now: bool) -> None:
    """Score every lead again: after the weights of picklist values or the lead's score_ formulas changed."""
    from core import queue  # noqa: PLC0415 - only this command needs it

    runtime = ctx.runtime
    runtime.upgrade(ctx.who)
    if now:
        click.echo(f"Scored the leads again: {rescore_leads(runtime):,} changed.")
        return
    with runtime.writing() as (conn, _schema):
        job = queue.enqueue(conn, RESCORE_JOB, {}, key=None)
    click.echo(f"Queued job {job} ({RESCORE_JOB}): a worker of 'tessera serve' or 'tessera worker' scores the leads again.")


@hookimpl
def tessera_cli_commands(cli):
    cli.add_command(sales_commands)


@hookimpl
def tessera_web_routes():
    from plugins.sales.pages import rescore, scoring_page  # noqa: PLC0415 - pages load the UI, which the engine does not need

    return [scoring_page, rescore]


# --- the home page ----------------------------------------------------------------------------

CLOSED_STAGES = ("closed_won", "closed_lost")


def open_pipeline(runtime, actor, lang: str = "en", **_kwargs) -> dict | None:
    """Open opportunities by stage, as the user may see them: how many, and their amount (their number alone
    for a role that may not see amounts; nothing for one that may not read opportunities or their stage)."""
    access = runtime.records.access(actor)
    if not access.can("opportunity", "read") or not access.visible("opportunity", "stage"):
        return None
    meta = runtime.current_metadata()
    amounts = access.visible("opportunity", "amount")
    rows = runtime.records.summarize(actor, "opportunity", "stage", "amount" if amounts else None, {"stage__in": ",".join(_open_stages(meta))})
    by_stage = {row["value"]: row for row in rows}
    stages = [v for v in _picklist(meta, "opportunity", "stage") if v["value"] not in CLOSED_STAGES]
    measure = ("sum", {"en": "Amount", "zh-CN": "金额"}) if amounts else ("count", {"en": "Deals", "zh-CN": "商机数"})
    return {
        "kind": "bar",
        "labels": [v["label"].get(lang) or v["label"]["en"] for v in stages],
        "series": [{"label": measure[1].get(lang, measure[1]["en"]),
                    "values": [by_stage.get(v["value"], {}).get(measure[0], 0) for v in stages]}],
        "counts": [by_stage.get(v["value"], {}).get("count", 0) for v in stages] if amounts else None,
        "colors": [v.get("color") or "#1e88e5" for v in stages],
        "link": "/r/opportunity/kanban",
    }


def _open_stages(meta) -> list[str]:
    return [v["value"] for v in _picklist(meta, "opportunity", "stage") if v["value"] not in CLOSED_STAGES]


MY_DEALS = 8


def my_open_deals(runtime, actor, lang: str = "en", **_kwargs) -> dict | None:
    """The user's own open opportunities, closing soonest first, with their stage, amount and close date
    (each only when the user's role may see it)."""
    access = runtime.records.access(actor)
    if actor.user_id is None or not access.can("opportunity", "read") or not access.visible("opportunity", "stage"):
        return None
    meta = runtime.current_metadata()
    found = runtime.records.list(actor, "opportunity", {"owner": actor.user_id, "stage__in": ",".join(_open_stages(meta)),
                                                        "sort": "close_date,name", "limit": MY_DEALS})
    stages = {v["value"]: v["label"].get(lang) or v["label"]["en"] for v in _picklist(meta, "opportunity", "stage")}
    items = [{"href": f"/r/opportunity/{deal['id']}", "title": deal.get("name") or f"#{deal['id']}",
              "details": [text for text in (stages.get(deal.get("stage"), deal.get("stage")), _amount(deal.get("amount")),
                                            deal.get("close_date")) if text]} for deal in found.items]
    return {"kind": "list", "items": items, "link": f"/r/opportunity?owner={actor.user_id}",
            "empty": {"en": "No open deals of yours.", "zh-CN": "您没有在途商机。"}.get(lang, "No open deals of yours.")}


def _amount(value) -> str | None:
    return None if value is None else f"{value:,.2f}"


TARGET_WORDS = {
    "pipeline": {"en": "Weighted open pipeline in the period: {value}", "zh-CN": "期间内加权在途金额：{value}"},
    "forecast": {"en": "Forecast (won + weighted): {value} of {target}", "zh-CN": "预测（赢单 + 加权）：{value} / {target}"},
    "deals": {"en": "Open deals closing in the period: {value}", "zh-CN": "期间内预计成交的在途商机：{value}"},
    "empty": {"en": "No target runs today.", "zh-CN": "今天没有进行中的目标。"},
}


def target_attainment(runtime, actor, lang: str = "en", today: dt.date | None = None, **_kwargs) -> dict | None:
    """Each target running today that the user may read: what its rep or team has won in the period (of the deals the
    user may read), against the target, with the weighted open pipeline closing in the period as the forecast."""
    access = runtime.records.access(actor)
    if not (access.can("target", "read") and access.can("opportunity", "read") and access.visible("opportunity", "stage")):
        return None
    today = today or dt.date.today()
    targets = runtime.records.list(actor, "target", {"period_start__lte": today.isoformat(), "period_end__gte": today.isoformat(),
                                                     "sort": "period_end,name", "limit": 20}).items
    words = {key: value.get(lang) or value["en"] for key, value in TARGET_WORDS.items()}
    items = [_attainment(runtime, actor, target, words, lang) for target in targets]
    return {"kind": "progress", "items": [item for item in items if item], "empty": words["empty"], "link": "/r/target"}


def _money(currency: str, lang: str):
    """Amounts with the installation's currency symbol, as the language writes them (US$1,250.00 in Chinese)."""
    from babel.numbers import format_currency  # noqa: PLC0415 - only the targets widget writes amounts

    locale = "zh_CN" if lang == "zh-CN" else "en_US"
    return lambda amount: format_currency(amount, currency, locale=locale)


def _attainment(runtime, actor, target: dict, words: dict, lang: str) -> dict | None:
    owners = _target_owners(runtime, actor, target)
    if owners is None:
        return None
    meta = runtime.current_metadata()
    period = {"owner__in": ",".join(map(str, owners or [0])), "close_date__gte": target["period_start"], "close_date__lte": target["period_end"]}
    won = runtime.records.summarize(actor, "opportunity", "stage", "amount", {**period, "stage": "closed_won"})
    by_amount = target.get("metric") != "won_deals"
    value = sum(_decimal(row.get("sum") or 0) for row in won) if by_amount else sum(row["count"] for row in won)
    weighted = runtime.records.summarize(actor, "opportunity", "stage", "weighted_amount", {**period, "stage__in": ",".join(_open_stages(meta))})
    pipeline = sum(_decimal(row.get("sum") or 0) for row in weighted)
    whom = (target.get("rep") or target.get("team") or {}).get("label") or ""
    goal = _decimal(target.get("amount"))
    money = _money(runtime.settings.currency, lang)
    details = ([words["pipeline"].format(value=money(pipeline)), words["forecast"].format(value=money(value + pipeline), target=money(goal))]
               if by_amount else [words["deals"].format(value=sum(row["count"] for row in weighted))])
    figure = float if by_amount else int  # deals are counted whole
    return {"title": f"{target.get('name')} · {whom}" if whom else target.get("name"), "href": f"/r/target/{target['id']}",
            "value": figure(value), "target": figure(goal), "currency": by_amount, "details": details}


def _target_owners(runtime, actor, target: dict) -> list[int] | None:
    """The users whose deals count toward a target: its rep, or its team's members (None: neither is set)."""
    if target.get("rep"):
        return [target["rep"]["id"]]
    if target.get("team"):
        members = runtime.records.list(actor, "user", {"teams": target["team"]["id"], "limit": 500}).items
        return [member["id"] for member in members]
    return None


@hookimpl
def tessera_dashboard_widgets():
    return [DashboardWidget("sales.my_open_deals", {"en": "My open deals", "zh-CN": "我的在途商机"}, my_open_deals),
            DashboardWidget("sales.open_pipeline", {"en": "Open deals by stage", "zh-CN": "各阶段在途商机"}, open_pipeline),
            DashboardWidget("sales.target_attainment", {"en": "Targets: attainment and forecast", "zh-CN": "目标：达成与预测"},
                            target_attainment)]


# --- demo data --------------------------------------------------------------------------------

DEMO_DEALS = ["Line upgrade", "CNC retrofit", "Service contract", "Vision inspection pilot", "Fleet monitoring rollout",
              "Spare parts framework", "Training programme", "Analytics suite"]
DEMO_STAGES = ["prospecting", "qualification", "needs_analysis", "proposal", "negotiation", "closed_won", "closed_lost"]
DEMO_LOSS_REASONS = ["price", "competitor", "no_decision", "timing"]  # a lost deal needs its reason (opportunity's stage gates)


@hookimpl
def tessera_demo_data(runtime, actor, created):
    """Opportunities for the demo accounts, spread over the stages and the coming months."""
    from core.demo import TODAY  # noqa: PLC0415 - the demo's fixed date, so the data is the same every time

    accounts = created.get("account", [])
    owners = runtime.records.list(actor, "account", {"limit": 500, "sort": "id"}).items
    owner_of = {a["id"]: (a.get("owner") or {}).get("id") for a in owners}
    rows = []
    for n, account in enumerate(accounts[:48]):
        stage = DEMO_STAGES[(n * 3) % len(DEMO_STAGES)]
        rows.append({
            "name": f"{DEMO_DEALS[n % len(DEMO_DEALS)]} {n + 1}", "account": account, "stage": stage,
            "amount": 15_000 + (n * 7_919) % 240_000, "close_date": (TODAY + dt.timedelta(days=(n * 11) % 150 - 30)).isoformat(),
            "owner": owner_of.get(account),
            **({"loss_reason": DEMO_LOSS_REASONS[n % len(DEMO_LOSS_REASONS)]} if stage == "closed_lost" else {}),
        })
    deals = runtime.records.create_many(actor, "opportunity", [{**row, "stage": "prospecting"} for row in rows])
    _demo_progress(runtime, actor, rows, deals)
    quotes = _demo_quote_awaiting_approval(runtime, actor, rows, deals)
    targets = _demo_targets(runtime, actor, TODAY)
    return {"opportunity": deals, **({"quote": quotes} if quotes else {}), **({"target": targets} if targets else {})}


def _demo_progress(runtime, actor, rows: list[dict], deals: list) -> None:
    """Each demo deal moved through the stages to its own, as a rep would move it: its history and the stage intervals
    (what the funnel and the time-in-stage reports read) are those of real moves. A lost deal is lost after qualifying."""
    for row, deal in zip(rows, deals):
        final = row["stage"]
        path = DEMO_STAGES[1:DEMO_STAGES.index(final) + 1] if final != "closed_lost" else ["qualification", "closed_lost"]
        version = 1
        for stage in path:
            version = runtime.records.update(actor, "opportunity", _id(deal), {"stage": stage, "version": version})["version"]


def _demo_targets(runtime, actor, today: dt.date) -> list:
    """This quarter's won-amount target for each demo rep and the first team."""
    start = today.replace(month=(today.month - 1) // 3 * 3 + 1, day=1)
    end = (start.replace(year=start.year + 1, month=1) if start.month == 10 else start.replace(month=start.month + 3)) - dt.timedelta(days=1)
    quarter = f"{start.year} Q{(start.month - 1) // 3 + 1}"
    reps = runtime.records.list(actor, "user", {"username__startswith": "demo.rep", "sort": "username", "limit": 10}).items
    teams = runtime.records.list(actor, "team", {"sort": "id", "limit": 1}).items
    rows = [{"name": f"{quarter} won amount", "rep": rep["id"], "metric": "won_amount",
             "period_start": start.isoformat(), "period_end": end.isoformat(), "amount": 400_000} for rep in reps]
    rows += [{"name": f"{quarter} won deals", "team": team["id"], "metric": "won_deals", "period_start": start.isoformat(),
              "period_end": end.isoformat(), "amount": 12} for team in teams]
    return runtime.records.create_many(actor, "target", rows) if rows else []


def _demo_quote_awaiting_approval(runtime, actor, rows: list[dict], deals: list) -> list:
    """One quote with a deep discount, submitted by its rep to the 'quote_discount' approval: a sales manager sees it
    waiting for them. Left out when the demo's rep is not there."""
    from core.approvals.service import Approvals  # noqa: PLC0415 - core's approval service, used as the rep would

    reps = runtime.records.list(actor, "user", {"username": "demo.rep1", "limit": 1}).items
    if not reps:
        return []
    rep = reps[0]
    deal = next((_id(d) for d, row in zip(deals, rows) if row["stage"] == "proposal" and row["owner"] == rep["id"]), None)
    if deal is None:
        return []
    quote = runtime.records.create(actor, "quote", {"name": "Line upgrade: 25% launch discount", "opportunity": deal,
                                                    "discount_percent": 25, "owner": rep["id"]})
    role = (rep.get("role") or {}).get("id")
    permission_set = runtime.records.get(actor, "role", role)["permission_set"] if role else None
    Approvals(runtime).submit(Actor(rep["id"], rep["username"], permission_set or ""), "quote", quote["id"],
                              comment="First order of a new plant: the discount wins the framework agreement.")
    return [quote["id"]]
