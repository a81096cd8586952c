"""Marketing: purchase profiles, campaign results, segments and renewal reminders, on both databases."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa

import plugins.marketing as marketing
from core.metadata.files import read_json, untranslated
from core.records import Actor, Refused
from core.validation import RecordValidationError

METADATA = Path(marketing.__file__).parent / "metadata"
OBJECTS = ("campaign", "campaign_member", "segment", "purchase", "subscription")
PROFILE = ("last_purchase_date", "purchase_count", "total_spent", "average_repurchase_interval_days",
           "next_expected_purchase_date", "rfm_segment")
TODAY = dt.date(2026, 3, 1)


@pytest.fixture
def rt(make_runtime):
    return make_runtime(plugins=("marketing",))


def field_errors(info) -> list[tuple[str, str]]:
    return [(e.field, e.message) for e in info.value.errors]


def profile(rt, actor, object_name, record_id) -> dict:
    record = rt.records.get(actor, object_name, record_id)
    return {name: record[name] for name in PROFILE if name != "rfm_segment"}


def buy(rt, actor, customer, day, amount, **extra) -> dict:
    return rt.records.create(actor, "purchase", {"customer": customer["id"], "purchase_date": day, "amount": amount, **extra})


# --- metadata --------------------------------------------------------------------------------


def test_metadata_loads_and_builds_tables_with_expected_columns(rt):
    meta = rt.current_metadata()
    for name in OBJECTS:
        assert meta.objects[name].layer == "plugin:marketing"
    columns = {name: {c["name"] for c in sa.inspect(rt.engine).get_columns(name)} for name in OBJECTS + ("contact", "account")}
    assert {"name", "channel", "status", "start_date", "end_date", "budget", "actual_cost", "expected_revenue",
            "responses", "won_revenue", "roi", "description", "owner", "version"} <= columns["campaign"]
    assert {"campaign", "contact", "status", "responded_at"} <= columns["campaign_member"]
    assert {"name", "description", "object_name", "rule", "rfm_recency_days", "rfm_frequency_min", "rfm_monetary_min",
            "member_count"} <= columns["segment"]
    assert {"purchase_number", "customer", "account", "product", "quantity", "amount", "purchase_date", "channel",
            "campaign", "order_reference"} <= columns["purchase"]
    assert {"plan", "customer", "product", "start_date", "end_date", "renewal_status", "auto_renew", "price",
            "reminder_days_before"} <= columns["subscription"]
    assert set(PROFILE) <= columns["contact"] and set(PROFILE) <= columns["account"]
    indexes = [ix["column_names"] for ix in sa.inspect(rt.engine).get_indexes("campaign_member")]
    assert ["campaign", "status", "id"] in indexes
    for name in OBJECTS:
        kinds = {key.split(":")[1] for key in meta.layouts if key.startswith(f"{name}:")}
        assert {"list", "detail", "form"} <= kinds, name
    assert "campaign:kanban:default" in meta.layouts and "subscription:kanban:default" in meta.layouts
    assert {"marketing_user", "marketing_manager"} <= set(meta.permission_sets)
    assert meta.permission_sets["marketing_user"]["objects"]["campaign"] == {"read": "team", "create": "team", "update": "team", "delete": "none"}


def test_every_label_has_english_and_simplified_chinese():
    files = sorted(METADATA.glob("*.json"))
    assert len(files) >= 9
    assert {path.name: untranslated(read_json(path)) for path in files} == {path.name: [] for path in files}


# --- purchase profile ------------------------------------------------------------------------


def test_profile_after_one_two_and_three_purchases(rt, actor):
    customer = rt.records.create(actor, "contact", {"last_name": "Wang", "first_name": "Fang"})
    assert profile(rt, actor, "contact", customer["id"])["purchase_count"] is None

    buy(rt, actor, customer, "2026-01-01", "199.90")
    assert profile(rt, actor, "contact", customer["id"]) == {
        "last_purchase_date": "2026-01-01", "purchase_count": 1, "total_spent": 199.9,
        "average_repurchase_interval_days": None, "next_expected_purchase_date": None,
    }

    buy(rt, actor, customer, "2026-01-11", "100.00")
    assert profile(rt, actor, "contact", customer["id"]) == {
        "last_purchase_date": "2026-01-11", "purchase_count": 2, "total_spent": 299.9,
        "average_repurchase_interval_days": 10.0, "next_expected_purchase_date": "2026-01-21",
    }

    # entered out of order: gaps are 10 and 15 days between the sorted dates
    buy(rt, actor, customer, "2025-12-17", "0.10")
    assert profile(rt, actor, "contact", customer["id"]) == {
        "last_purchase_date": "2026-01-11", "purchase_count": 3, "total_spent": 300.0,
        "average_repurchase_interval_days": 12.5, "next_expected_purchase_date": "2026-01-24",  # 12.5 rounds to 13
    }


def test_profile_after_deleting_a_purchase(rt, actor):
    customer = rt.records.create(actor, "contact", {"last_name": "Li"})
    first = buy(rt, actor, customer, "2026-02-01", 50)
    buy(rt, actor, customer, "2026-02-08", 70)
    last = buy(rt, actor, customer, "2026-02-22", 30)
    assert profile(rt, actor, "contact", customer["id"])["average_repurchase_interval_days"] == 10.5

    rt.records.delete(actor, "purchase", last["id"])
    assert profile(rt, actor, "contact", customer["id"]) == {
        "last_purchase_date": "2026-02-08", "purchase_count": 2, "total_spent": 120.0,
        "average_repurchase_interval_days": 7.0, "next_expected_purchase_date": "2026-02-15",
    }
    rt.records.delete(actor, "purchase", first["id"])
    assert profile(rt, actor, "contact", customer["id"]) == {
        "last_purchase_date": "2026-02-08", "purchase_count": 1, "total_spent": 70.0,
        "average_repurchase_interval_days": None, "next_expected_purchase_date": None,
    }


def test_changing_a_purchase_moves_it_between_customers(rt, actor):
    first = rt.records.create(actor, "contact", {"last_name": "Zhao"})
    second = rt.records.create(actor, "contact", {"last_name": "Chen"})
    buy(rt, actor, first, "2026-01-01", 10)
    moved = buy(rt, actor, first, "2026-01-05", 20)
    rt.records.update(actor, "purchase", moved["id"], {"purchase_date": "2026-01-21", "amount": 25}, version=moved["version"])
    assert profile(rt, actor, "contact", first["id"])["average_repurchase_interval_days"] == 20.0
    assert profile(rt, actor, "contact", first["id"])["total_spent"] == 35.0

    moved = rt.records.get(actor, "purchase", moved["id"])
    rt.records.update(actor, "purchase", moved["id"], {"customer": second["id"]}, version=moved["version"])
    assert profile(rt, actor, "contact", first["id"])["purchase_count"] == 1
    assert profile(rt, actor, "contact", first["id"])["total_spent"] == 10.0
    assert profile(rt, actor, "contact", second["id"])["purchase_count"] == 1
    assert profile(rt, actor, "contact", second["id"])["last_purchase_date"] == "2026-01-21"


def test_account_profile_adds_up_its_customers(rt, actor):
    account = rt.records.create(actor, "account", {"name": "Huaxin Household"})
    mother = rt.records.create(actor, "contact", {"last_name": "Huang", "account": account["id"]})
    son = rt.records.create(actor, "contact", {"last_name": "Huang", "first_name": "Lei", "account": account["id"]})
    walk_in = rt.records.create(actor, "contact", {"last_name": "Tan"})

    first = buy(rt, actor, mother, "2026-01-03", "88.00")
    assert first["account"]["id"] == account["id"]  # taken from the customer
    buy(rt, actor, son, "2026-01-13", "12.00")
    buy(rt, actor, son, "2026-01-29", "40.00")
    buy(rt, actor, walk_in, "2026-01-30", "5.00")
    assert profile(rt, actor, "account", account["id"]) == {
        "last_purchase_date": "2026-01-29", "purchase_count": 3, "total_spent": 140.0,
        "average_repurchase_interval_days": 13.0, "next_expected_purchase_date": "2026-02-11",
    }
    other = rt.records.create(actor, "account", {"name": "Elsewhere"})
    explicit = buy(rt, actor, mother, "2026-02-01", "1.00", account=other["id"])
    assert explicit["account"]["id"] == other["id"]  # a given account is kept
    assert profile(rt, actor, "account", other["id"])["purchase_count"] == 1
    assert profile(rt, actor, "account", account["id"])["purchase_count"] == 3


def test_profile_pages_through_many_purchases(rt, actor, monkeypatch):
    import core.records.reading

    monkeypatch.setattr(core.records.reading, "MAX_LIMIT", 2)  # five purchases take three pages
    customer = rt.records.create(actor, "contact", {"last_name": "Garcia"})
    for day in ("2026-01-01", "2026-01-04", "2026-01-10", "2026-01-12", "2026-01-21"):
        buy(rt, actor, customer, day, 10)
    assert profile(rt, actor, "contact", customer["id"]) == {
        "last_purchase_date": "2026-01-21", "purchase_count": 5, "total_spent": 50.0,
        "average_repurchase_interval_days": 5.0, "next_expected_purchase_date": "2026-01-26",
    }


def test_purchase_refusals_name_the_field(rt, actor):
    customer = rt.records.create(actor, "contact", {"last_name": "Patel"})
    with pytest.raises(RecordValidationError) as info:
        rt.records.create(actor, "purchase", {"purchase_date": "2026-01-01", "amount": 10})
    assert ("customer", "is required") in field_errors(info)
    with pytest.raises(RecordValidationError) as info:
        buy(rt, actor, customer, "2026-01-01", 10, quantity=0)
    assert [f for f, _ in field_errors(info)] == ["quantity"]
    with pytest.raises(RecordValidationError) as info:
        rt.records.create(actor, "purchase", {"customer": 999999, "purchase_date": "2026-01-01", "amount": 10})
    assert field_errors(info) == [("customer", "contact 999999 does not exist")]
    assert rt.records.list(actor, "purchase").items == []


def test_a_customer_with_purchases_cannot_be_deleted(rt, actor):
    customer = rt.records.create(actor, "contact", {"last_name": "Smith"})
    buy(rt, actor, customer, "2026-01-01", 10)
    with pytest.raises(Refused, match="purchase.customer"):
        rt.records.delete(actor, "contact", customer["id"])


# --- campaigns -------------------------------------------------------------------------------


def test_campaign_responses_count_responded_and_converted_members(rt, actor):
    campaign = rt.records.create(actor, "campaign", {"name": "Spring Refill", "channel": "wechat", "status": "active"})
    assert campaign["responses"] == 0 and campaign["status"] == "active"
    people = [rt.records.create(actor, "contact", {"last_name": name}) for name in ("Liu", "Zhang", "Müller")]
    opened = rt.records.create(actor, "campaign_member", {"campaign": campaign["id"], "contact": people[0]["id"], "status": "opened"})
    assert opened["responded_at"] is None
    responded = rt.records.create(actor, "campaign_member", {"campaign": campaign["id"], "contact": people[1]["id"], "status": "responded"})
    assert responded["responded_at"] is not None  # stamped
    rt.records.create(actor, "campaign_member", {"campaign": campaign["id"], "contact": people[2]["id"], "status": "converted"})
    assert rt.records.get(actor, "campaign", campaign["id"])["responses"] == 2

    rt.records.update(actor, "campaign_member", opened["id"], {"status": "responded"}, version=opened["version"])
    assert rt.records.get(actor, "campaign", campaign["id"])["responses"] == 3
    assert rt.records.get(actor, "campaign_member", opened["id"])["responded_at"] is not None

    rt.records.delete(actor, "campaign_member", responded["id"])
    assert rt.records.get(actor, "campaign", campaign["id"])["responses"] == 2

    with pytest.raises(RecordValidationError) as info:
        rt.records.create(actor, "campaign_member", {"campaign": campaign["id"], "contact": people[0]["id"]})
    assert field_errors(info) == [("contact", f"contact {people[0]['id']} is already a member of campaign {campaign['id']}; update that membership instead")]


def test_campaign_won_revenue_and_roi_follow_its_purchases(rt, actor):
    campaign = rt.records.create(actor, "campaign", {"name": "Double 11", "channel": "email", "budget": 5000, "actual_cost": 1000})
    assert campaign["won_revenue"] == 0 and campaign["roi"] == -100.0
    member = rt.records.create(actor, "contact", {"last_name": "Chen"})
    membership = rt.records.create(actor, "campaign_member", {"campaign": campaign["id"], "contact": member["id"], "status": "clicked"})

    buy(rt, actor, member, "2026-11-11", "1500.00", campaign=campaign["id"])
    campaign = rt.records.get(actor, "campaign", campaign["id"])
    assert (campaign["won_revenue"], campaign["roi"], campaign["responses"]) == (1500.0, 50.0, 1)
    assert rt.records.get(actor, "campaign_member", membership["id"])["status"] == "converted"  # the buyer converted

    stranger = rt.records.create(actor, "contact", {"last_name": "Dubois"})
    late = buy(rt, actor, stranger, "2026-11-12", "500.00", campaign=campaign["id"])
    campaign = rt.records.get(actor, "campaign", campaign["id"])
    assert (campaign["won_revenue"], campaign["roi"]) == (2000.0, 100.0)

    campaign = rt.records.update(actor, "campaign", campaign["id"], {"actual_cost": 4000}, version=campaign["version"])
    assert campaign["roi"] == -50.0

    rt.records.delete(actor, "purchase", late["id"])
    campaign = rt.records.get(actor, "campaign", campaign["id"])
    assert (campaign["won_revenue"], campaign["roi"]) == (1500.0, -62.5)


def test_users_cannot_write_the_computed_fields(rt, actor):
    campaign = rt.records.create(actor, "campaign", {"name": "Member Day", "actual_cost": 100})
    with pytest.raises(RecordValidationError) as info:
        rt.records.update(actor, "campaign", campaign["id"], {"won_revenue": 1_000_000, "roi": 999}, version=campaign["version"])
    assert field_errors(info) == [("won_revenue", "is read-only: it is set by the system"), ("roi", "is read-only: it is set by the system")]
    customer = rt.records.create(actor, "contact", {"last_name": "Ng"})
    with pytest.raises(RecordValidationError) as info:
        rt.records.update(actor, "contact", customer["id"], {"purchase_count": 50}, version=customer["version"])
    assert field_errors(info) == [("purchase_count", "is read-only: it is set by the system")]
    # a form sending the computed values back unchanged is fine
    saved = rt.records.update(actor, "campaign", campaign["id"], {"name": "Member Day 2026", "roi": campaign["roi"],
                                                                  "won_revenue": campaign["won_revenue"]}, version=campaign["version"])
    assert saved["name"] == "Member Day 2026" and saved["roi"] == -100.0


def test_roi_is_empty_without_a_cost_and_dates_must_be_in_order(rt, actor):
    campaign = rt.records.create(actor, "campaign", {"name": "Referral Week", "channel": "referral"})
    assert campaign["roi"] is None and campaign["status"] == "planned"
    with pytest.raises(RecordValidationError) as info:
        rt.records.create(actor, "campaign", {"name": "Backwards", "start_date": "2026-05-10", "end_date": "2026-05-01"})
    assert field_errors(info) == [("end_date", "the end date (2026-05-01) is before the start date (2026-05-10)")]
    campaign = rt.records.update(actor, "campaign", campaign["id"], {"start_date": "2026-06-01", "end_date": "2026-06-07"}, version=campaign["version"])
    with pytest.raises(RecordValidationError) as info:
        rt.records.update(actor, "campaign", campaign["id"], {"start_date": "2026-06-30"}, version=campaign["version"])
    assert [f for f, _ in field_errors(info)] == ["end_date"]


# --- segments --------------------------------------------------------------------------------


def test_segment_counts_members_by_rule_and_rfm(rt, actor):
    today = dt.date.today()
    loyal = rt.records.create(actor, "contact", {"last_name": "Zhang", "mailing_city": "Shanghai"})
    lapsed = rt.records.create(actor, "contact", {"last_name": "Wang", "mailing_city": "Shanghai"})
    rt.records.create(actor, "contact", {"last_name": "Li", "mailing_city": "Beijing"})
    for days_ago in (60, 30, 5):
        buy(rt, actor, loyal, (today - dt.timedelta(days=days_ago)).isoformat(), 100)
    for days_ago in (400, 300, 200):
        buy(rt, actor, lapsed, (today - dt.timedelta(days=days_ago)).isoformat(), 100)

    shanghai = rt.records.create(actor, "segment", {"name": "Shanghai repeat buyers",
                                                    "rule": {"purchase_count__gte": "3", "mailing_city": "Shanghai"}})
    assert shanghai["member_count"] == 2 and shanghai["object_name"] == "contact"
    shanghai = rt.records.update(actor, "segment", shanghai["id"], {"rfm_recency_days": 90, "rfm_monetary_min": 250}, version=shanghai["version"])
    assert shanghai["member_count"] == 1
    assert rt.records.create(actor, "segment", {"name": "Everyone"})["member_count"] == 3

    with pytest.raises(RecordValidationError) as info:
        rt.records.create(actor, "segment", {"name": "Broken", "object_name": "account", "rule": {"mailing_city": "Shanghai"}})
    assert [f for f, _ in field_errors(info)] == ["rule"]
    assert "does not fit account" in field_errors(info)[0][1] and "mailing_city" in field_errors(info)[0][1]
    with pytest.raises(RecordValidationError) as info:
        rt.records.create(actor, "segment", {"name": "Sorted", "rule": {"sort": "last_name"}})
    assert field_errors(info) == [("rule", "'sort' is not a filter; a rule holds filters only")]


def test_segment_count_job_refreshes_as_recency_moves(rt, actor):
    customer = rt.records.create(actor, "contact", {"last_name": "Kim"})
    buy(rt, actor, customer, dt.date.today().isoformat(), 30)
    recent = rt.records.create(actor, "segment", {"name": "Bought this month", "rfm_recency_days": 30})
    assert recent["member_count"] == 1
    job = rt.scheduled_jobs()["marketing.segment_counts"]
    assert job.run(rt, today=dt.date.today() + dt.timedelta(days=45)) == 1
    assert rt.records.get(actor, "segment", recent["id"])["member_count"] == 0
    assert job.run(rt, today=dt.date.today() + dt.timedelta(days=45)) == 0
    assert rt.records.get(actor, "segment", recent["id"])["member_count"] == 0
    assert job.run(rt) == 1  # back to today
    assert rt.records.get(actor, "segment", recent["id"])["member_count"] == 1


def test_recency_is_bounded_and_a_segment_saved_beyond_the_bound_counts_every_buyer(rt, actor):
    customer = rt.records.create(actor, "contact", {"last_name": "Kim"})
    buy(rt, actor, customer, "1990-05-01", 30)
    with pytest.raises(RecordValidationError) as info:
        rt.records.create(actor, "segment", {"name": "Ever", "rfm_recency_days": 10**12})
    assert [name for name, _ in field_errors(info)] == ["rfm_recency_days"]
    ever = rt.records.create(actor, "segment", {"name": "Ever", "rfm_recency_days": 3650})
    with rt.writing() as (conn, schema):  # as if saved before the bound existed
        table = schema.tables.table("segment")
        conn.execute(sa.update(table).where(table.c.id == ever["id"]).values(rfm_recency_days=10**12))
    assert rt.scheduled_jobs()["marketing.segment_counts"].run(rt) == 1
    assert rt.records.get(actor, "segment", ever["id"])["member_count"] == 1


# --- renewals --------------------------------------------------------------------------------


def test_renewal_job_marks_due_and_creates_one_task_each(rt, actor):
    jobs = rt.scheduled_jobs()
    job = jobs["marketing.renewal_reminders"]
    assert job.plugin == "marketing" and job.every_seconds > 0

    customer = rt.records.create(actor, "contact", {"last_name": "Tan", "first_name": "Mei"})

    def subscribe(plan, end, **extra):
        return rt.records.create(actor, "subscription", {"plan": plan, "customer": customer["id"], "end_date": end.isoformat(), **extra})

    soon = subscribe("Coffee Club Monthly", TODAY + dt.timedelta(days=10), auto_renew=True)
    later = subscribe("Filter Refill Yearly", TODAY + dt.timedelta(days=40))
    early_reminder = subscribe("Care Plan Pro", TODAY + dt.timedelta(days=40), reminder_days_before=60, price=399)
    overdue = subscribe("Magazine", TODAY - dt.timedelta(days=3))
    settled = subscribe("Renewed Already", TODAY + dt.timedelta(days=5), renewal_status="renewed")
    assert soon["reminder_days_before"] == 30 and soon["renewal_status"] == "active"

    marked = job.run(rt, today=TODAY)
    assert sorted(marked) == sorted([soon["id"], early_reminder["id"], overdue["id"]])
    status = {s["id"]: s["renewal_status"] for s in rt.records.list(actor, "subscription").items}
    assert status == {soon["id"]: "due", later["id"]: "active", early_reminder["id"]: "due", overdue["id"]: "due", settled["id"]: "renewed"}

    tasks = rt.records.list(actor, "activity", {"related_object": "subscription", "sort": "due_date"}).items
    assert [(t["related_id"]["id"], t["activity_type"], t["due_date"]) for t in tasks] == [
        (overdue["id"], "task", (TODAY - dt.timedelta(days=3)).isoformat()),
        (soon["id"], "task", (TODAY + dt.timedelta(days=10)).isoformat()),
        (early_reminder["id"], "task", (TODAY + dt.timedelta(days=40)).isoformat()),
    ]
    first = tasks[1]
    assert first["subject"] == "Renewal due: Coffee Club Monthly (Mei Tan)"
    assert first["contact"]["id"] == customer["id"] and first["related_id"]["object"] == "subscription"
    assert first["priority"] == "normal" and tasks[0]["priority"] == "high"  # only auto-renew can wait

    assert job.run(rt, today=TODAY) == []  # nothing new: no second task
    assert len(rt.records.list(actor, "activity", {"related_object": "subscription"}).items) == 3
    assert job.run(rt, today=TODAY + dt.timedelta(days=11)) == [later["id"]]
    assert len(rt.records.list(actor, "activity", {"related_object": "subscription"}).items) == 4


def test_renewal_job_runs_as_the_system_and_subscription_dates_are_checked(rt, actor):
    customer = rt.records.create(actor, "contact", {"last_name": "Lucas"})
    sub = rt.records.create(actor, "subscription", {"plan": "Kids Box", "customer": customer["id"], "end_date": TODAY.isoformat()})
    marketing.run_renewal_reminders(rt, today=TODAY)
    history = rt.records.history(Actor(None, "reader"), "subscription", sub["id"])
    assert [(h["field"], h["new"], h["changed_by_name"]) for h in history] == [("renewal_status", "due", "system")]
    with pytest.raises(RecordValidationError) as info:
        rt.records.create(actor, "subscription", {"plan": "Odd", "customer": customer["id"],
                                                  "start_date": "2026-02-01", "end_date": "2026-01-01"})
    assert [f for f, _ in field_errors(info)] == ["end_date"]
    with pytest.raises(RecordValidationError) as info:
        rt.records.create(actor, "subscription", {"plan": "Odd", "customer": customer["id"], "reminder_days_before": 400})
    assert [f for f, _ in field_errors(info)] == ["reminder_days_before"]


def test_a_subscription_becoming_due_reminds_its_owner_once_in_their_language(rt, actor):
    from core import notifications  # noqa: PLC0415
    from core.db import read_transaction  # noqa: PLC0415

    mei = rt.records.create(actor, "user", {"username": "mei", "language": "zh_cn"})["id"]
    tom = rt.records.create(actor, "user", {"username": "tom"})["id"]
    customer = rt.records.create(actor, "contact", {"last_name": "Tan"})

    def subscribe(plan, days, owner, **extra):
        end = (TODAY + dt.timedelta(days=days)).isoformat()
        return rt.records.create(actor, "subscription", {"plan": plan, "customer": customer["id"], "end_date": end, "owner": owner, **extra})

    def inbox(user_id, lang="en"):
        with read_transaction(rt.engine) as conn:
            return notifications.items(conn, user_id, lang, words=rt.plugins.words)[0]

    soon = subscribe("Coffee Club Monthly", 10, mei)
    subscribe("Filter Refill Yearly", 40, tom)  # outside its 30-day window
    subscribe("Renewed Already", 5, tom, renewal_status="renewed")
    subscribe("Cancelled", 5, tom, renewal_status="cancelled")
    assert marketing.run_renewal_reminders(rt, today=TODAY) == [soon["id"]]
    end = (TODAY + dt.timedelta(days=10)).isoformat()
    [notice] = inbox(mei, "zh-CN")
    assert (notice.kind, notice.link) == ("reminder", f"/r/subscription/{soon['id']}")
    assert notice.message == f"订阅“Coffee Club Monthly”将于 {end} 到期：续订任务等你处理"
    assert inbox(mei)[0].message == f"The subscription “Coffee Club Monthly” ends on {end}: a renewal task is waiting for you"
    assert inbox(tom) == []
    again = rt.records.get(actor, "subscription", soon["id"])  # set back to active by hand: the same end date reminds nobody twice
    rt.records.update(actor, "subscription", soon["id"], {"renewal_status": "active"}, version=again["version"])
    assert marketing.run_renewal_reminders(rt, today=TODAY) == [soon["id"]]
    assert len(inbox(mei)) == 1
