"""The sales plugin on SQLite and PostgreSQL: its data model, lead scoring, quotes, stages."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import sqlalchemy as sa

from core.metadata.files import read_json, untranslated
from core.records import Refused
from core.validation import RecordValidationError

METADATA = Path(__file__).resolve().parents[1] / "metadata"
OBJECTS = ("lead", "opportunity", "milestone", "quote", "quote_line", "contract")
PIPELINES = {"lead": ("status", "budget"), "opportunity": ("stage", "amount"), "milestone": ("status", None),
             "quote": ("status", "total_amount"), "contract": ("status", "value")}


@pytest.fixture
def sales(make_runtime):
    return make_runtime(plugins=("sales",))


def errors_of(info) -> list[tuple[str, str]]:
    return [(e.field, e.message) for e in info.value.errors]


def new_account(rt, actor, name="Acme Industrial", **extra):
    return rt.records.create(actor, "account", {"name": name, **extra})


def new_opportunity(rt, actor, account, **extra):
    data = {"name": "Plant automation", "account": account["id"], "close_date": "2026-09-30", **extra}
    return rt.records.create(actor, "opportunity", data)


def save(rt, actor, object_name, record, changes):
    return rt.records.update(actor, object_name, record["id"], changes, version=record["version"])


# --- metadata and schema ------------------------------------------------------------------


def test_metadata_validates_and_becomes_tables(sales):
    columns = {t: {c["name"] for c in sa.inspect(sales.engine).get_columns(t)} for t in sa.inspect(sales.engine).get_table_names()}
    assert {"first_name", "last_name", "company", "source", "industry", "company_size", "budget", "budget_band", "urgency",
            "score", "rating", "status", "converted_account", "converted_contact", "converted_opportunity", "converted_at"} <= columns["lead"]
    assert {"name", "account", "type", "stage", "probability", "amount", "close_date", "bid_due_date", "decision_date",
            "next_step", "next_step_date", "competitors", "decision_process", "lead_source"} <= columns["opportunity"]
    assert "contacts" not in columns["opportunity"]
    assert {"source_id", "target_id", "role"} <= columns["opportunity__contacts"]
    assert {"name", "opportunity", "due_date", "status"} <= columns["milestone"]
    assert {"name", "quote_number", "opportunity", "account", "status", "valid_until", "discount_percent", "subtotal",
            "total_amount", "approval_required"} <= columns["quote"]
    assert {"quote", "product", "quantity", "list_price", "discount_percent", "line_total"} <= columns["quote_line"]
    assert {"name", "contract_number", "account", "opportunity", "start_date", "end_date", "value", "status",
            "renewal_reminder_days"} <= columns["contract"]
    assert {"lifecycle_stage", "tier"} <= columns["account"]
    indexes = {tuple(i["column_names"]) for i in sa.inspect(sales.engine).get_indexes("opportunity")}
    assert ("stage", "close_date", "id") in indexes

    meta = sales.current_metadata()
    for name in OBJECTS:
        for kind in ("list", "detail", "form"):
            assert f"{name}:{kind}:default" in meta.layouts, (name, kind)
    for name, (group_by, sum_field) in PIPELINES.items():
        kanban = meta.layouts[f"{name}:kanban:default"]
        assert kanban["group_by"] == group_by and kanban.get("sum_field") == sum_field
    assert {"sales_rep", "sales_manager", "sales_ops"} <= set(meta.permission_sets)
    assert meta.permission_sets["sales_rep"]["objects"]["opportunity"]["read"] == "own"
    assert meta.permission_sets["sales_manager"]["objects"]["opportunity"]["read"] == "team"


def test_every_text_is_in_english_and_simplified_chinese():
    files = sorted(METADATA.glob("*.json"))
    assert files
    assert {path.name: untranslated(read_json(path)) for path in files} == {path.name: [] for path in files}


# --- lead scoring ----------------------------------------------------------------------------


def test_leads_are_scored_and_rated_on_create(sales, actor):
    hot = sales.records.create(actor, "lead", {"last_name": "Wang", "company": "Huaxin Semiconductors", "industry": "technology",
                                               "company_size": "1001_5000", "urgency": "high", "budget": 300000})
    warm = sales.records.create(actor, "lead", {"last_name": "Li", "company": "Northstar Retail", "industry": "retail",
                                                "company_size": "51_200", "urgency": "medium", "budget": 60000})
    cold = sales.records.create(actor, "lead", {"last_name": "Zhao", "company": "Sunrise Academy", "industry": "education",
                                                "company_size": "1_10", "urgency": "low", "budget": 5000})
    bare = sales.records.create(actor, "lead", {"last_name": "Chen", "company": "Unknown Ltd"})
    assert (hot["score"], hot["rating"], hot["budget_band"]) == (90, "a", "250k_plus")   # 20 + 25 + 20 + 25
    assert (warm["score"], warm["rating"], warm["budget_band"]) == (50, "b", "50k_250k")  # 10 + 10 + 10 + 20
    assert (cold["score"], cold["rating"], cold["budget_band"]) == (5, "c", "under_10k")  # 5 + 0 + 0 + 0
    assert (bare["score"], bare["rating"], bare["budget_band"], bare["status"]) == (0, "c", None, "new")
    rated_a = sales.records.list(actor, "lead", {"rating": "a"}).items
    assert [lead["company"] for lead in rated_a] == ["Huaxin Semiconductors"]


def test_computed_fields_cannot_be_written_but_a_form_may_send_them_back(sales, actor):
    data = {"last_name": "Sun", "company": "Orbit Telecom", "industry": "telecommunications"}
    with pytest.raises(RecordValidationError) as info:
        sales.records.create(actor, "lead", {**data, "score": 99, "rating": "a"})
    assert errors_of(info) == [("score", "is read-only: it is set by the system"), ("rating", "is read-only: it is set by the system")]
    lead = sales.records.create(actor, "lead", data)
    assert (lead["score"], lead["rating"], lead["budget_band"]) == (15, "c", None)
    form = {name: lead[name] for name in ("company", "industry", "score", "rating", "budget_band")}
    lead = save(sales, actor, "lead", lead, {**form, "urgency": "immediate"})
    assert (lead["score"], lead["rating"]) == (40, "b")
    with pytest.raises(RecordValidationError) as info:
        save(sales, actor, "lead", lead, {"score": 100})
    assert errors_of(info) == [("score", "is read-only: it is set by the system")]


def test_an_update_recomputes_the_score_from_stored_and_changed_values(sales, actor):
    lead = sales.records.create(actor, "lead", {"last_name": "Li", "company": "Northstar Retail", "industry": "retail",
                                                "company_size": "51_200", "urgency": "medium", "budget": 60000})
    lead = save(sales, actor, "lead", lead, {"urgency": "immediate"})
    assert (lead["score"], lead["rating"]) == (65, "b")
    lead = save(sales, actor, "lead", lead, {"budget": 250000})
    assert (lead["score"], lead["rating"], lead["budget_band"]) == (70, "a", "250k_plus")
    unchanged = save(sales, actor, "lead", lead, {"title": "CIO"})
    assert (unchanged["score"], unchanged["rating"], unchanged["version"]) == (70, "a", lead["version"] + 1)
    lead = save(sales, actor, "lead", unchanged, {"budget": None, "company_size": None})
    assert (lead["score"], lead["rating"], lead["budget_band"]) == (35, "c", None)
    history = [(h["field"], h["old"], h["new"]) for h in sales.records.history(actor, "lead", lead["id"])]
    assert ("score", 50, 65) in history and ("rating", "b", "a") in history


def test_a_customized_weight_changes_the_next_score(sales, actor):
    lead = sales.records.create(actor, "lead", {"last_name": "Zhao", "company": "Sunrise Academy", "industry": "education",
                                                "company_size": "201_1000", "urgency": "low"})
    assert (lead["score"], lead["rating"]) == (25, "c")
    industry = sales.current_metadata().object("lead").fields["industry"].spec
    values = copy.deepcopy(industry["values"])
    for value in values:
        if value["value"] == "education":
            value["properties"] = {"score": 40}
    changeset = {
        "format": "tessera-changeset/1",
        "extensions": [{"object": "lead", "fields": [
            {"name": "industry", "type": "picklist", "label": industry["label"], "values": values},
            {"name": "rating", "type": "picklist", "label": {"en": "Rating", "zh-CN": "评级"}, "values": [
                {"value": "a", "label": {"en": "A (hot)", "zh-CN": "A（热）"}, "properties": {"min_score": 80}},
                {"value": "b", "label": {"en": "B (warm)", "zh-CN": "B（温）"}, "properties": {"min_score": 60}},
                {"value": "c", "label": {"en": "C (cold)", "zh-CN": "C（冷）"}, "properties": {"min_score": 0}},
            ]},
        ]}],
    }
    sales.import_changeset(changeset, "scoring.json", "tester")
    assert sales.records.get(actor, "lead", lead["id"])["score"] == 25  # stored scores change on the next save
    lead = save(sales, actor, "lead", lead, {"description": "Campus-wide network upgrade"})
    assert (lead["score"], lead["rating"]) == (60, "b")  # 40 + 20 + 0, B from 60 on
    other = sales.records.create(actor, "lead", {"last_name": "Qian", "company": "Lakeside University", "industry": "education",
                                                 "company_size": "5000_plus", "urgency": "medium"})
    assert (other["score"], other["rating"]) == (80, "a")


def test_converting_a_lead_needs_its_account_and_stamps_the_time(sales, actor):
    lead = sales.records.create(actor, "lead", {"last_name": "Wang", "company": "Huaxin Semiconductors"})
    with pytest.raises(RecordValidationError) as info:
        save(sales, actor, "lead", lead, {"status": "converted"})
    assert errors_of(info) == [("converted_account", "a converted lead needs the account it became; choose or create the account first")]
    account = new_account(sales, actor, "Huaxin Semiconductors")
    contact = sales.records.create(actor, "contact", {"last_name": "Wang", "account": account["id"]})
    opportunity = new_opportunity(sales, actor, account)
    converted = save(sales, actor, "lead", lead, {"status": "converted", "converted_account": account["id"],
                                                  "converted_contact": contact["id"], "converted_opportunity": opportunity["id"]})
    assert converted["converted_at"] and converted["converted_account"] == {"id": account["id"], "label": "Huaxin Semiconductors"}
    assert converted["converted_opportunity"]["id"] == opportunity["id"]


# --- quotes ----------------------------------------------------------------------------------


@pytest.fixture
def quote_setup(sales, actor):
    account = new_account(sales, actor)
    opportunity = new_opportunity(sales, actor, account, stage="proposal")
    controller = sales.records.create(actor, "product", {"name": "PLC controller", "unit_price": 1000})
    service = sales.records.create(actor, "product", {"name": "Commissioning", "unit_price": 199.99})
    quote = sales.records.create(actor, "quote", {"name": "Line 3 retrofit", "opportunity": opportunity["id"]})
    return account, opportunity, quote, controller, service


def test_quote_lines_total_up_on_the_quote(sales, actor, quote_setup):
    account, _opportunity, quote, controller, service = quote_setup
    assert quote["account"]["id"] == account["id"]  # taken from the opportunity
    assert quote["quote_number"] == "QUO-000001"
    assert (quote["subtotal"], quote["total_amount"], quote["approval_required"], quote["status"]) == (0, 0, False, "draft")

    first = sales.records.create(actor, "quote_line", {"quote": quote["id"], "product": controller["id"], "quantity": 3})
    assert (first["list_price"], first["line_total"]) == (1000, 3000)  # the product's unit price
    second = sales.records.create(actor, "quote_line", {"quote": quote["id"], "product": service["id"], "quantity": "2.5",
                                                        "discount_percent": 10})
    assert second["line_total"] == 449.98  # 2.5 x 199.99 x 0.9 = 449.9775
    quote = sales.records.get(actor, "quote", quote["id"])
    assert (quote["subtotal"], quote["total_amount"], quote["approval_required"]) == (3449.98, 3449.98, False)

    quote = save(sales, actor, "quote", quote, {"discount_percent": 5})
    assert quote["total_amount"] == 3277.48  # 3449.98 x 0.95 = 3277.481

    second = save(sales, actor, "quote_line", second, {"list_price": 180, "quantity": 4})
    assert second["line_total"] == 648  # 4 x 180 x 0.9
    quote = sales.records.get(actor, "quote", quote["id"])
    assert (quote["subtotal"], quote["total_amount"]) == (3648, 3465.6)

    sales.records.delete(actor, "quote_line", first["id"])
    quote = sales.records.get(actor, "quote", quote["id"])
    assert (quote["subtotal"], quote["total_amount"]) == (648, 615.6)


def test_a_line_moved_to_another_quote_updates_both(sales, actor, quote_setup):
    _account, opportunity, quote, controller, _service = quote_setup
    other = sales.records.create(actor, "quote", {"name": "Line 3 retrofit, option B", "opportunity": opportunity["id"]})
    line = sales.records.create(actor, "quote_line", {"quote": quote["id"], "product": controller["id"], "quantity": 2})
    save(sales, actor, "quote_line", line, {"quote": other["id"]})
    assert sales.records.get(actor, "quote", quote["id"])["total_amount"] == 0
    assert sales.records.get(actor, "quote", other["id"])["total_amount"] == 2000


def test_a_discount_above_the_threshold_needs_approval_before_sending(sales, actor, quote_setup):
    _account, _opportunity, quote, controller, service = quote_setup
    sales.records.create(actor, "quote_line", {"quote": quote["id"], "product": controller["id"], "quantity": 1, "discount_percent": 20})
    assert sales.records.get(actor, "quote", quote["id"])["approval_required"] is False  # 20 % is allowed
    line = sales.records.create(actor, "quote_line", {"quote": quote["id"], "product": service["id"], "quantity": 1,
                                                      "discount_percent": 25})
    quote = sales.records.get(actor, "quote", quote["id"])
    assert quote["approval_required"] is True

    with pytest.raises(RecordValidationError) as info:
        save(sales, actor, "quote", quote, {"status": "sent"})
    assert errors_of(info) == [("status", "this quote has a discount above 20% and needs approval: submit it for approval and have it approved before it is sent")]
    quote = save(sales, actor, "quote", quote, {"status": "in_review"})
    quote = save(sales, actor, "quote", quote, {"status": "approved"})
    quote = save(sales, actor, "quote", quote, {"status": "sent"})
    assert quote["status"] == "sent"

    save(sales, actor, "quote_line", line, {"discount_percent": 15})
    quote = sales.records.get(actor, "quote", quote["id"])
    assert quote["approval_required"] is False
    quote = save(sales, actor, "quote", quote, {"discount_percent": 30})
    assert quote["approval_required"] is True


def test_the_approval_threshold_is_metadata(sales, actor, quote_setup):
    _account, _opportunity, quote, controller, _service = quote_setup
    status = sales.current_metadata().object("quote").fields["status"].spec
    values = copy.deepcopy(status["values"])
    for value in values:
        if value["value"] == "in_review":
            value["properties"] = {"discount_over": 30}
    sales.import_changeset({"format": "tessera-changeset/1", "extensions": [{"object": "quote", "fields": [
        {"name": "status", "type": "picklist", "label": status["label"], "values": values}]}]}, "approval.json", "tester")
    sales.records.create(actor, "quote_line", {"quote": quote["id"], "product": controller["id"], "quantity": 1, "discount_percent": 25})
    quote = sales.records.get(actor, "quote", quote["id"])
    assert quote["approval_required"] is False
    quote = save(sales, actor, "quote", quote, {"status": "sent"})
    assert quote["status"] == "sent"


def test_quote_lines_refuse_bad_input_naming_the_field(sales, actor, quote_setup):
    _account, _opportunity, quote, controller, _service = quote_setup
    unpriced = sales.records.create(actor, "product", {"name": "Custom engineering"})
    with pytest.raises(RecordValidationError) as info:
        sales.records.create(actor, "quote_line", {"quote": quote["id"], "product": unpriced["id"], "quantity": 1})
    assert errors_of(info) == [("list_price", "give a list price: the product 'Custom engineering' has no unit price")]
    line = sales.records.create(actor, "quote_line", {"quote": quote["id"], "product": unpriced["id"], "quantity": 8, "list_price": 1250})
    assert line["line_total"] == 10000
    with pytest.raises(RecordValidationError) as info:
        sales.records.create(actor, "quote_line", {"quote": quote["id"], "product": controller["id"], "discount_percent": 120})
    assert errors_of(info) == [("discount_percent", "must be at most 100")]
    with pytest.raises(RecordValidationError) as info:
        sales.records.create(actor, "quote_line", {"quote": quote["id"], "product": controller["id"], "quantity": -1})
    assert errors_of(info) == [("quantity", "must be more than 0")]
    assert sales.records.get(actor, "quote", quote["id"])["total_amount"] == 10000


# --- opportunities -----------------------------------------------------------------------------


def test_the_stage_sets_the_probability_unless_one_is_given(sales, actor):
    account = new_account(sales, actor)
    opportunity = new_opportunity(sales, actor, account, amount=250000)
    assert (opportunity["stage"], opportunity["probability"], opportunity["type"]) == ("prospecting", 10, "new_business")
    opportunity = save(sales, actor, "opportunity", opportunity, {"stage": "negotiation"})
    assert opportunity["probability"] == 80
    opportunity = save(sales, actor, "opportunity", opportunity, {"amount": 300000})
    assert opportunity["probability"] == 80
    opportunity = save(sales, actor, "opportunity", opportunity, {"probability": 70})
    assert opportunity["probability"] == 70  # a rep's own estimate stays until the stage moves
    opportunity = save(sales, actor, "opportunity", opportunity, {"stage": "closed_won", "probability": 95})
    assert opportunity["probability"] == 95
    given = new_opportunity(sales, actor, account, stage="proposal", probability=55)
    assert given["probability"] == 55
    lost = save(sales, actor, "opportunity", given, {"stage": "closed_lost", "loss_reason": "competitor"})
    assert lost["probability"] == 0
    board = sales.records.list(actor, "opportunity", {"stage__in": "closed_won,closed_lost", "sort": "close_date"}).items
    assert sorted(o["stage"] for o in board) == ["closed_lost", "closed_won"]


def test_an_opportunity_needs_an_account_and_a_sane_decision_date(sales, actor):
    with pytest.raises(RecordValidationError) as info:
        sales.records.create(actor, "opportunity", {"name": "No account", "close_date": "2026-09-30"})
    assert errors_of(info) == [("account", "is required")]
    account = new_account(sales, actor)
    with pytest.raises(RecordValidationError) as info:
        new_opportunity(sales, actor, account, bid_due_date="2026-06-15", decision_date="2026-06-01")
    assert errors_of(info) == [("decision_date", "the decision date (2026-06-01) is before the bid due date (2026-06-15); the customer decides after the bids are in")]
    opportunity = new_opportunity(sales, actor, account, bid_due_date="2026-06-15", decision_date="2026-07-01")
    with pytest.raises(RecordValidationError, match="decision date"):
        save(sales, actor, "opportunity", opportunity, {"bid_due_date": "2026-07-15"})


def test_opportunity_contacts_carry_their_role(sales, actor):
    account = new_account(sales, actor)
    buyer = sales.records.create(actor, "contact", {"last_name": "Zhou", "account": account["id"]})
    engineer = sales.records.create(actor, "contact", {"last_name": "Wu", "account": account["id"]})
    opportunity = new_opportunity(sales, actor, account, contacts=[{"id": buyer["id"], "role": "economic_buyer"},
                                                                   {"id": engineer["id"], "role": "technical_evaluator"}])
    assert opportunity["contacts"] == [{"id": buyer["id"], "label": "Zhou", "role": "economic_buyer"},
                                       {"id": engineer["id"], "label": "Wu", "role": "technical_evaluator"}]
    opportunity = save(sales, actor, "opportunity", opportunity, {"contacts": [{"id": engineer["id"], "role": "champion"}]})
    assert opportunity["contacts"] == [{"id": engineer["id"], "label": "Wu", "role": "champion"}]
    assert [o["id"] for o in sales.records.list(actor, "opportunity", {"contacts": engineer["id"]}).items] == [opportunity["id"]]
    assert sales.records.list(actor, "opportunity", {"contacts": buyer["id"]}).items == []
    with pytest.raises(RecordValidationError) as info:
        save(sales, actor, "opportunity", opportunity, {"contacts": [{"id": buyer["id"], "role": "sponsor"}]})
    assert info.value.errors[0].field == "contacts" and "'sponsor' is not one of the values of role" in info.value.errors[0].message


def test_deleting_an_opportunity_takes_its_quotes_and_milestones_and_keeps_contracts(sales, actor, quote_setup):
    account, opportunity, quote, controller, _service = quote_setup
    line = sales.records.create(actor, "quote_line", {"quote": quote["id"], "product": controller["id"]})
    milestone = sales.records.create(actor, "milestone", {"name": "Tender opening", "opportunity": opportunity["id"], "due_date": "2026-06-20"})
    assert milestone["status"] == "planned"
    contract = sales.records.create(actor, "contract", {"name": "Line 3 retrofit", "account": account["id"], "opportunity": opportunity["id"]})
    with pytest.raises(Refused, match=r"cannot delete account \d+: .* through (opportunity|quote|contract)\.account"):
        sales.records.delete(actor, "account", account["id"])
    with pytest.raises(Refused, match="quote_line.product"):
        sales.records.delete(actor, "product", controller["id"])
    sales.records.delete(actor, "opportunity", opportunity["id"])
    for name, record in (("quote", quote), ("quote_line", line), ("milestone", milestone)):
        assert sales.records.list(actor, name, {"id": record["id"]}).items == []
    assert sales.records.get(actor, "contract", contract["id"])["opportunity"] is None


# --- accounts and contracts ---------------------------------------------------------------------


def test_accounts_have_a_lifecycle_stage_and_a_tier(sales, actor):
    account = new_account(sales, actor, tier="strategic")
    assert (account["lifecycle_stage"], account["tier"]) == ("prospect", "strategic")
    account = save(sales, actor, "account", account, {"lifecycle_stage": "customer"})
    assert account["lifecycle_stage"] == "customer"
    new_account(sales, actor, "Small Shop", tier="small")
    assert [a["name"] for a in sales.records.list(actor, "account", {"tier": "strategic"}).items] == ["Acme Industrial"]
    with pytest.raises(RecordValidationError) as info:
        save(sales, actor, "account", account, {"tier": "platinum"})
    assert info.value.errors[0].field == "tier" and "'platinum' is not one of the values of tier" in info.value.errors[0].message


def test_contracts_are_numbered_and_end_after_they_start(sales, actor):
    account = new_account(sales, actor)
    first = sales.records.create(actor, "contract", {"name": "Maintenance 2026", "account": account["id"], "value": 120000,
                                                     "start_date": "2026-01-01", "end_date": "2026-12-31"})
    second = sales.records.create(actor, "contract", {"name": "Spare parts 2026", "account": account["id"]})
    assert (first["contract_number"], second["contract_number"]) == ("CTR-000001", "CTR-000002")
    assert (first["status"], first["renewal_reminder_days"]) == ("draft", 60)
    with pytest.raises(RecordValidationError) as info:
        save(sales, actor, "contract", first, {"end_date": "2025-12-31"})
    assert errors_of(info) == [("end_date", "the end date (2025-12-31) is before the start date (2026-01-01)")]
    with pytest.raises(RecordValidationError) as info:
        sales.records.create(actor, "contract", {"name": "No account"})
    assert errors_of(info) == [("account", "is required")]
    assert [c["contract_number"] for c in sales.records.list(actor, "contract", {"contract_number__startswith": "CTR-"}).items] == ["CTR-000002", "CTR-000001"]


def test_the_pipeline_widget_counts_deals_for_a_role_that_hides_amounts_and_logs_no_traceback(sales, actor, caplog):
    import re  # noqa: PLC0415

    from litestar.testing import TestClient  # noqa: PLC0415

    from core.api.app import create_app  # noqa: PLC0415
    from core.auth import Accounts  # noqa: PLC0415

    readers = {"opportunity": {"read": "all"}, "account": {"read": "all"}}
    sales.import_changeset({"format": "tessera-changeset/1", "permission_sets": [
        {"name": "counter", "label": {"en": "Counter"}, "objects": readers, "fields": {"opportunity": {"amount": "hidden"}}},
        {"name": "stageless", "label": {"en": "Stageless"}, "objects": readers, "fields": {"opportunity": {"stage": "hidden"}}},
    ]}, "test", "test")
    for name, role in (("sam", "counter"), ("sue", "stageless")):
        Accounts(sales).add_user(name, "correct horse battery", role)
    new_opportunity(sales, actor, new_account(sales, actor), amount=98765)
    with TestClient(create_app(sales)) as client:
        pages = {}
        for name in ("sam", "sue"):
            csrf = re.search(r'name="_csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
            client.post("/login", data={"username": name, "password": "correct horse battery", "_csrf_token": csrf})
            pages[name] = client.get("/")
            client.post("/logout", data={"_csrf_token": csrf})
    assert pages["sam"].status_code == 200 and 'id="widget-sales-open_pipeline"' in pages["sam"].text
    assert "Deals" in pages["sam"].text and "98,765" not in pages["sam"].text
    assert pages["sue"].status_code == 200 and "widget-sales-open_pipeline" not in pages["sue"].text
    assert [r.getMessage() for r in caplog.records if r.exc_info or r.levelname in ("WARNING", "ERROR")] == []


def test_the_home_page_lists_my_open_deals_closing_soonest_first(sales, actor):
    import re  # noqa: PLC0415

    from litestar.testing import TestClient  # noqa: PLC0415

    from core.api.app import create_app  # noqa: PLC0415
    from core.auth import Accounts  # noqa: PLC0415

    sales.import_changeset({"format": "tessera-changeset/1", "permission_sets": [
        {"name": "seller", "label": {"en": "Seller"}, "objects": {"opportunity": {"read": "own"}, "account": {"read": "all"}}},
    ]}, "test", "test")
    accounts = Accounts(sales)
    me, other = (accounts.add_user(name, "correct horse battery", "seller")[0]["id"] for name in ("mia", "oli"))
    account = new_account(sales, actor)
    new_opportunity(sales, actor, account, name="Later deal", close_date="2027-06-30", amount=5000, owner=me)
    new_opportunity(sales, actor, account, name="Sooner deal", close_date="2027-01-31", amount=1200.5, stage="proposal",
                    owner=me)
    new_opportunity(sales, actor, account, name="Won deal", close_date="2026-01-31", stage="closed_won", owner=me)
    new_opportunity(sales, actor, account, name="Oli's deal", close_date="2026-12-31", owner=other)
    with TestClient(create_app(sales)) as client:
        csrf = re.search(r'name="_csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
        client.post("/login", data={"username": "mia", "password": "correct horse battery", "_csrf_token": csrf})
        home = client.get("/").text
    widget = home.split('id="widget-sales-my_open_deals"')[1].split("</article>")[0]
    assert re.findall(r'<a href="/r/opportunity/\d+">([^<]+)</a>', widget) == ["Sooner deal", "Later deal"]
    assert "Proposal · 1,200.50 · 2027-01-31" in widget


# --- reminders ---------------------------------------------------------------------------------


def test_the_daily_reminders_tell_owners_of_contracts_ending_and_next_steps_come_due_once(sales, actor):
    import datetime as dt  # noqa: PLC0415

    import plugins.sales as plugin  # noqa: PLC0415
    from core import notifications  # noqa: PLC0415
    from core.db import read_transaction  # noqa: PLC0415

    today = dt.date(2026, 6, 1)
    job = sales.scheduled_jobs()["sales.reminders"]
    assert (job.plugin, job.every_seconds, job.run) == ("sales", 86400, plugin.run_reminders)
    assert ["next_step_date", "id"] in [ix["column_names"] for ix in sa.inspect(sales.engine).get_indexes("opportunity")]
    wang = sales.records.create(actor, "user", {"username": "wang", "language": "zh_cn"})["id"]
    lee = sales.records.create(actor, "user", {"username": "lee"})["id"]
    account = new_account(sales, actor)

    def contract(name, days, status="active", **extra):
        end = (today + dt.timedelta(days=days)).isoformat()
        return sales.records.create(actor, "contract", {"name": name, "account": account["id"], "status": status, "start_date": "2025-06-01",
                                                        "signed_on": "2025-05-20", "end_date": end, **extra})

    def inbox(user_id, lang="en"):
        with read_transaction(sales.engine) as conn:
            return notifications.items(conn, user_id, lang, words=sales.plugins.words)[0]

    ending = contract("Maintenance 2025", 45, owner=lee)  # within the default 60 days
    contract("Spare parts", 45, owner=wang, renewal_reminder_days=30)  # not yet: its own window is 30 days
    contract("Draft renewal", 10, status="draft", owner=wang)
    contract("Ended", -1, owner=wang)
    short = contract("Hosting", 20, owner=wang, renewal_reminder_days=30)
    step = new_opportunity(sales, actor, account, name="Line upgrade", owner=wang, next_step="Send the revised quote",
                           next_step_date="2026-06-01")
    bare = new_opportunity(sales, actor, account, name="Pilot", owner=lee, next_step_date="2026-05-30")
    later = new_opportunity(sales, actor, account, name="Later", owner=lee, next_step_date="2026-06-02")
    new_opportunity(sales, actor, account, name="Lost", owner=lee, next_step_date="2026-06-01", stage="closed_lost", loss_reason="price")

    assert plugin.run_reminders(sales, today=today) == {"contract": [short["id"], ending["id"]], "opportunity": [bare["id"], step["id"]]}
    assert [(n.kind, n.link) for n in inbox(wang)] == [("reminder", f"/r/opportunity/{step['id']}"), ("reminder", f"/r/contract/{short['id']}")]
    [deal, hosting] = inbox(wang, "zh-CN")
    assert hosting.message == "合同“Hosting”将于 2026-06-21 到期（还有 20 天）：该洽谈续约了"
    assert deal.message == "商机“Line upgrade”的下一步已到期（2026-06-01）：Send the revised quote"
    assert [n.message for n in inbox(lee)] == ["The next step on “Pilot” is due (2026-05-30)",
                                               "The contract “Maintenance 2025” ends on 2026-07-16, in 45 days: time to talk about renewing it"]
    assert plugin.run_reminders(sales, today=today) == {"contract": [], "opportunity": []}  # a second run reminds nobody twice
    assert plugin.run_reminders(sales, today=today + dt.timedelta(days=1)) == {"contract": [], "opportunity": [later["id"]]}
    assert len(inbox(wang)) == 2 and len(inbox(lee)) == 3


def test_the_shipped_rules_plan_a_won_deals_kick_off_and_tell_owners_of_hot_leads(sales, actor):
    from core import notifications
    from core.db import read_transaction
    from core.scheduler import JobRunner

    rep = sales.records.create(actor, "user", {"username": "rep", "full_name": "Rep", "language": "zh_cn"})["id"]
    account = new_account(sales, actor)
    deal = new_opportunity(sales, actor, account, owner=rep, stage="negotiation", amount=1000)
    save(sales, actor, "opportunity", deal, {"stage": "closed_won"})
    sales.records.create(actor, "lead", {"last_name": "Wang", "company": "Huaxin", "industry": "technology", "company_size": "1001_5000",
                                         "urgency": "high", "budget": 300000, "owner": rep})
    sales.records.create(actor, "lead", {"last_name": "Chen", "company": "Unknown Ltd", "owner": rep})  # rated C: nothing
    JobRunner(sales).run_until_idle()
    [task] = sales.records.list(actor, "activity", {"related_object": "opportunity", "related_id": deal["id"]}).items
    assert (task["subject"], task["owner"]["id"], task["activity_type"]) == ("Plan the project kick-off with the customer", rep, "task")
    with read_transaction(sales.engine) as conn:
        assert [n.message for n in notifications.items(conn, rep, "zh-CN")[0]] == ["有一条热线索等你跟进：请今天联系"]
    assert sales.current_metadata().automations["sales_web_lead_routing"]["active"] is False  # an implementer switches it on
