"""The service reports: open tickets by priority and status, SLA attainment and mean time to resolve, each figure against
the tickets written here, read back and computed by hand; real databases."""

from __future__ import annotations

import collections
import datetime as dt
from decimal import Decimal

import pytest
import sqlalchemy as sa

from core.records import Actor
from core.reports.running import Runner

SYSTEM = Actor.system()


@pytest.fixture
def rt(make_runtime):
    return make_runtime(plugins=("service",))


def test_open_tickets_sla_attainment_and_time_to_resolve_match_the_tickets(rt):
    policy = rt.records.create(SYSTEM, "sla_policy", {"name": "Standard", "response_hours": 4, "resolution_hours": 24})
    made = [("low", "new", 0), ("high", "in_progress", 0), ("high", "new", 0), ("urgent", "resolved", 3), ("urgent", "resolved", 0.5),
            ("high", "closed", 2), ("low", "resolved", 0.25)]
    ids = []
    for n, (priority, status, _days) in enumerate(made):
        ids.append(rt.records.create(SYSTEM, "ticket", {"subject": f"t{n}", "priority": priority, "sla_policy": policy["id"],
                                                        **({"resolution": "fixed"} if status == "closed" else {})})["id"])
    with rt.writing() as (conn, schema):  # opened some days before they are resolved now (test set-up only)
        table = schema.tables.table("ticket")
        for ticket_id, (_p, _s, days) in zip(ids, made):
            conn.execute(sa.update(table).where(table.c.id == ticket_id).values(
                created_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days),
                resolution_due=dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days) + dt.timedelta(hours=24)))
    for ticket_id, (_p, status, _days) in zip(ids, made):
        if status != "new":
            version = rt.records.get(SYSTEM, "ticket", ticket_id)["version"]
            rt.records.update(SYSTEM, "ticket", ticket_id, {"status": status, "version": version})
    tickets = [rt.records.get(SYSTEM, "ticket", i) for i in ids]
    runner = Runner(rt)

    open_counts = collections.Counter((t["priority"], t["status"]) for t in tickets if t["status"] in ("new", "assigned", "in_progress", "waiting_customer"))
    shown = {(r["priority"], r["status"]): r["count"] for r in runner.run(SYSTEM, "service_open_by_priority").as_dict()["rows"]}
    assert shown == dict(open_counts)

    done = [t for t in tickets if t["status"] in ("resolved", "closed")]
    kept = collections.defaultdict(list)
    for t in done:
        kept[t["priority"]].append(0 if t["sla_breached"] else 100)
    sla = {r["priority"]: r["avg_sla_met_percent"] for r in runner.run(SYSTEM, "service_sla_attainment").as_dict()["rows"]}
    assert sla == {p: round(sum(v) / len(v), 2) for p, v in kept.items()} and sla["urgent"] == 50  # three days is late

    hours = collections.defaultdict(list)
    for t in done:
        opened = dt.datetime.fromisoformat(t["created_at"].replace("Z", "+00:00"))
        resolved = dt.datetime.fromisoformat(t["resolved_at"].replace("Z", "+00:00"))
        hours[t["priority"]].append(Decimal(str(round((resolved - opened).total_seconds() / 3600, 2))))
    mttr = {r["priority"]: r["avg_resolution_hours"] for r in runner.run(SYSTEM, "service_time_to_resolve").as_dict()["rows"]}
    assert mttr == {p: float(round(sum(v) / len(v), 2)) for p, v in hours.items()}
    assert 41.9 < mttr["urgent"] < 42.1  # opened three days and half a day before they were resolved: 72 and 12 hours
