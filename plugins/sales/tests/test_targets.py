"""Sales targets: a rep's or a team's won amount in a period against the target, with the weighted open pipeline as the
forecast, as the reader may see the deals; real databases."""

from __future__ import annotations

import datetime as dt

import pytest

from core.auth import Accounts
from core.records import Actor, RecordValidationError
from plugins.sales import target_attainment

SYSTEM = Actor.system()
TODAY = dt.date(2026, 11, 15)


@pytest.fixture
def runtime(make_runtime):
    return make_runtime(plugins=("sales",))


def test_a_target_shows_what_its_rep_and_team_won_in_the_period_and_the_forecast(runtime):
    accounts = Accounts(runtime)
    ann = accounts.add_user("ann", "correct horse battery", "sales_rep", ["North"], full_name="Ann")[0]["id"]
    ben = accounts.add_user("ben", "correct horse battery", "sales_rep", ["North"], full_name="Ben")[0]["id"]
    account = runtime.records.create(SYSTEM, "account", {"name": "Acme"})["id"]

    def deal(owner, stage, amount, close, probability=50):
        runtime.records.create(SYSTEM, "opportunity", {"name": f"{stage} {amount}", "account": account, "owner": owner, "stage": stage,
                                                       "amount": amount, "close_date": close, "probability": probability})

    deal(ann, "closed_won", 1000, "2026-10-05", 100)
    deal(ann, "closed_won", 500, "2026-12-20", 100)
    deal(ann, "closed_won", 9999, "2026-09-30", 100)  # before the period
    deal(ann, "negotiation", 2000, "2026-12-01", 50)  # weighted 1000
    deal(ben, "closed_won", 300, "2026-11-01", 100)
    north = runtime.records.list(SYSTEM, "team", {"name": "North"}).items[0]["id"]
    runtime.records.create(SYSTEM, "target", {"name": "Q4 Ann", "rep": ann, "metric": "won_amount", "period_start": "2026-10-01",
                                              "period_end": "2026-12-31", "amount": 4000})
    runtime.records.create(SYSTEM, "target", {"name": "Q4 North", "team": north, "metric": "won_deals", "period_start": "2026-10-01",
                                              "period_end": "2026-12-31", "amount": 5})
    runtime.records.create(SYSTEM, "target", {"name": "Q3 Ann", "rep": ann, "metric": "won_amount", "period_start": "2026-07-01",
                                              "period_end": "2026-09-30", "amount": 1})

    shown = target_attainment(runtime, SYSTEM, "en", today=TODAY)
    by_title = {item["title"]: item for item in shown["items"]}
    assert set(by_title) == {"Q4 Ann · Ann", "Q4 North · North"}  # Q3 is over
    ann_target = by_title["Q4 Ann · Ann"]
    assert (ann_target["value"], ann_target["target"], ann_target["currency"]) == (1500, 4000, True)
    assert ann_target["details"][1] == "Forecast (won + weighted): $2,500.00 of $4,000.00"
    assert (by_title["Q4 North · North"]["value"], by_title["Q4 North · North"]["currency"]) == (3, False)

    as_ben = target_attainment(runtime, Actor(ben, "ben", "sales_rep"), "zh-CN", today=TODAY)  # a rep reads only their own deals
    assert {item["title"]: item["value"] for item in as_ben["items"]} == {"Q4 Ann · Ann": 0, "Q4 North · North": 1}
    assert as_ben["items"][0]["details"][0] == "期间内加权在途金额：US$0.00"  # Ann's open deal is not his to see


def test_a_target_names_a_rep_or_a_team_and_its_period_ends_after_it_starts(runtime):
    with pytest.raises(RecordValidationError) as refused:
        runtime.records.create(SYSTEM, "target", {"name": "Nobody's", "metric": "won_amount", "period_start": "2026-10-01",
                                                  "period_end": "2026-09-01", "amount": 10})
    fields = {error.field for error in refused.value.errors}
    assert fields == {"rep", "period_end"}
    assert runtime.records.list(SYSTEM, "target").items == []
