"""Workflow rules' costs (core/automations/): what a rule adds to an update, and a scheduler tick over many due times.

    python bench/rules_bench.py --database URL [--deals 20000] [--runs 500] [--due 1000000]

On a fresh database with the sales plugin (as bench/write_bench.py makes it):

- ``records.update`` of one opportunity's amount, interleaved, with no rule and with a rule on
  opportunity updates whose condition is false (``amount__gte`` a number no deal reaches), so
  that both see the same data and the same machine load; and a raw SQL floor (the UPDATE and
  its history row by hand).
- The scheduler's tick (``timing.tick``) with --due due times kept for a time rule, none due
  yet, the tick reading only the index on due_at; beside it the raw query the tick runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from write_bench import fresh, line, timed  # noqa: E402

from core.automations import timing  # noqa: E402
from core.automations.actions import save_state  # noqa: E402
from core.automations.rules import rules_of  # noqa: E402
from core.coretables import automation_due  # noqa: E402
from core.db import write_transaction  # noqa: E402
from core.records import Actor  # noqa: E402

NO_RULE = {"format": "tessera-changeset/1", "automations": []}
RULE = {"name": "huge_deals", "object": "opportunity", "label": {"en": "Huge deals"}, "trigger": {"on": "updated"},
        "condition": {"amount__gte": 10**12}, "actions": [{"type": "set_fields", "values": {"next_step": "Celebrate"}}]}
TIME_RULE = {"name": "closing_soon", "object": "opportunity", "label": {"en": "Closing soon"},
             "trigger": {"on": "time", "field": "close_date", "before": "7d"}, "actions": [{"type": "set_fields", "values": {"next_step": "Close"}}]}


def set_rules(runtime, *rules) -> None:
    runtime.import_changeset({"format": "tessera-changeset/1", "automations": list(rules)}, "bench", "bench")


def remove_rules(runtime) -> None:
    def drop(config):
        config = config.copy()
        config.automations.clear()
        return config
    runtime.change_metadata(drop, "bench")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True, metavar="URL")
    parser.add_argument("--deals", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--due", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    runtime = fresh(args.database)
    system, records = Actor.system(), runtime.records
    accounts = records.create_many(system, "account", [{"name": f"Account {n}"} for n in range(1000)])
    deals: list[int] = []
    for start in range(0, args.deals, 1000):
        deals += records.create_many(system, "opportunity", [
            {"name": f"Deal {n}", "account": accounts[n % 1000], "amount": 1000 + n, "close_date": "2027-01-31"}
            for n in range(start, min(start + 1000, args.deals))])
    versions = {d: 1 for d in deals}

    def update(n: int) -> None:
        deal = deals[n % len(deals)]
        versions[deal] = records.update(system, "opportunity", deal, {"amount": 5000 + n}, version=versions[deal])["version"]

    without, with_rule = [], []
    for round_ in range(10):  # interleaved: the same load on both sides
        remove_rules(runtime)
        without += timed(args.runs // 10, lambda n: update(round_ * args.runs + n))
        set_rules(runtime, RULE)
        with_rule += timed(args.runs // 10, lambda n: update(round_ * args.runs + args.runs // 2 + n))
    overhead = statistics.median(with_rule) / statistics.median(without) - 1
    print(f"{runtime.engine.dialect.name}, {args.deals:,} opportunities, {args.runs} updates each\n")
    print("| update | median ms | p95 ms | runs |\n|---|---|---|---|")
    print(line("no rule", without))
    print(line("a rule on update, condition false", with_rule))
    print(f"\noverhead of the rule: {overhead:+.1%} (target: at most +15%)\n")

    set_rules(runtime, TIME_RULE)
    with runtime.writing() as (conn, schema):
        rule = rules_of(schema).by_name["closing_soon"]
        save_state(conn, rule.name, {"due_signature": rule.due_signature()})  # as if computed: the rows are written below
    started = time.perf_counter()
    future = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=30)
    with write_transaction(runtime.engine) as conn:
        for start in range(0, args.due, 50_000):
            conn.execute(sa.insert(automation_due), [{"rule": "closing_soon", "record_id": n, "due_at": future + dt.timedelta(seconds=n)}
                                                     for n in range(start, min(start + 50_000, args.due))])
    print(f"{args.due:,} due times written in {time.perf_counter() - started:.1f} s\n")
    ticks = timed(200, lambda n: timing.tick(runtime))
    now = dt.datetime.now(dt.timezone.utc)
    query = sa.select(automation_due.c.rule, automation_due.c.record_id, automation_due.c.due_at).where(
        automation_due.c.due_at <= now).order_by(automation_due.c.due_at).limit(1000)

    def raw(n: int) -> None:
        with write_transaction(runtime.engine) as conn:
            conn.execute(query).all()

    print("| tick, nothing due | median ms | p95 ms | runs |\n|---|---|---|---|")
    print(line(f"timing.tick over {args.due:,} due times", ticks))
    print(line("raw: the due query in a write transaction", timed(200, raw)))
    runtime.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
