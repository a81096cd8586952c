"""The customers' reports: churn by the month customers were due to buy again, repeat-purchase rate and the renewal
pipeline, each figure against what the purchases written here imply, on both databases."""

from __future__ import annotations

import datetime as dt

import pytest

from core.records import Actor
from core.reports.dashboards import Dashboards, Filters
from core.reports.running import Runner

SYSTEM = Actor.system()


@pytest.fixture
def rt(make_runtime):
    return make_runtime(plugins=("marketing",))


def test_churn_repeat_rate_and_renewals_match_the_purchases(rt):
    today = dt.date.today()
    people = {name: rt.records.create(SYSTEM, "contact", {"last_name": name})["id"] for name in ("lapsed", "due", "once", "never")}
    bought = {"lapsed": [300, 200], "due": [20, 10], "once": [50]}  # days ago
    for name, days in bought.items():
        for ago in days:
            rt.records.create(SYSTEM, "purchase", {"customer": people[name], "purchase_date": (today - dt.timedelta(days=ago)).isoformat(),
                                                   "amount": 100})
    runner = Runner(rt)
    # each repeat buyer is due again one average interval after the last purchase: "lapsed" 100 days ago, "due" today
    churn = {row["next_expected_purchase_date"]: (row["avg_lapsed_percent"], row["count"])
             for row in runner.run(SYSTEM, "customers_churn_by_due_month").as_dict()["rows"]}
    assert churn == {(today - dt.timedelta(days=100)).strftime("%Y-%m"): (100, 1), today.strftime("%Y-%m"): (0, 1)}
    repeat = runner.run(SYSTEM, "customers_repeat_rate").as_dict()
    assert repeat["totals"] == {"avg_repeat_percent": 66.67, "count": 3}  # two of the three who bought, bought again

    for n, (ends_in, status, price) in enumerate([(10, "due", 50), (40, "active", 70), (200, "active", 999), (-5, "lapsed", 1)]):
        rt.records.create(SYSTEM, "subscription", {"plan": f"plan {n}", "customer": people["due"], "start_date": (today - dt.timedelta(days=300)).isoformat(),
                                                   "end_date": (today + dt.timedelta(days=ends_in)).isoformat(), "renewal_status": status,
                                                   "price": price})
    renewals = runner.run(SYSTEM, "customers_renewal_pipeline").as_dict()
    assert renewals["totals"] == {"sum_price": 120, "count": 2}  # the two ending in the next 90 days
    composed = Dashboards(rt).compose(SYSTEM, "customers", Filters())
    assert [tile.get("hidden") for tile in composed["tiles"]] == [None] * 4
