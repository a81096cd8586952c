"""Validation rules' cost on bulk writes (core/validation_rules.py): create_many of opportunities with and without rules.

    python bench/validation_bench.py --database URL [--rows 5000] [--rounds 5]

On a fresh database with the sales plugin (as bench/write_bench.py makes it), 1,000 accounts, then in interleaved
rounds (the same machine load on every side) one ``records.create_many`` of --rows opportunities each:

- no validation rule;
- one rule on the record's own fields (``OR(ISBLANK(amount), amount <= 9000000)``);
- one rule reading the account through the lookup (``OR(ISBLANK(amount), amount < 1000000, account.annual_revenue > 0)``:
  the accounts are read once per batch);
- the raw floor: the same rows inserted by a raw executemany in one transaction (no service, no rules).

Every row holds under every rule, so each side writes the same rows. Prints rows/s per side (median over the rounds),
and the time spent in the pipeline's validation-rule step itself (timed around the step), which the machine's load
disturbs less than the whole batch's.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from write_bench import fresh  # noqa: E402

from core.db import write_transaction  # noqa: E402
from core.records import pipeline  # noqa: E402
from core.records import Actor  # noqa: E402

OWN = {"name": "amount_cap", "expression": "OR(ISBLANK(amount), amount <= 9000000)", "field": "amount",
       "message": {"en": "Deals above 9,000,000 need a framework contract", "zh-CN": "超过 900 万的商机需要框架合同"}}
LINKED = {"name": "big_deals_known_accounts", "expression": "OR(ISBLANK(amount), amount < 1000000, account.annual_revenue > 0)",
          "field": "account", "message": {"en": "Big deals need an account with a known revenue", "zh-CN": "大额商机的客户需要填写年收入"}}


def set_rules(runtime, *rules) -> None:
    def replace(config):
        config = config.copy()
        extension = config.extensions.setdefault("opportunity", {"object": "opportunity", "fields": []})
        extension.pop("validation_rules", None)
        if rules:
            extension["validation_rules"] = [dict(r) for r in rules]
        return config
    runtime.change_metadata(replace, "bench")


STEP_TIME: list[float] = []


def time_the_step() -> None:
    """Time the validation-rule step of every write (STEP_TIME gets one entry per batch)."""
    def timed_step(w) -> None:
        started = time.perf_counter()
        step(w)
        STEP_TIME.append(time.perf_counter() - started)

    position, (name, step) = next((i, s) for i, s in enumerate(pipeline.STEPS) if s[0] == "check validation rules")
    pipeline.STEPS = (*pipeline.STEPS[:position], (name, timed_step), *pipeline.STEPS[position + 1:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True, metavar="URL")
    parser.add_argument("--rows", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    runtime = fresh(args.database)
    system, records = Actor.system(), runtime.records
    accounts = records.create_many(system, "account", [{"name": f"Account {n}", "annual_revenue": 1000 + n} for n in range(1000)])
    with runtime.writing() as (_conn, schema):
        table = schema.tables.table("opportunity")

    def rows(batch: int) -> list[dict]:
        return [{"name": f"Deal {batch}-{n}", "account": accounts[n % 1000], "amount": 500 + n * 300, "close_date": "2027-01-31",
                 "stage": "prospecting"} for n in range(args.rows)]

    def service(batch: int) -> float:
        started = time.perf_counter()
        records.create_many(system, "opportunity", rows(batch))
        return time.perf_counter() - started

    def raw(batch: int) -> float:
        now = dt.datetime.now(dt.timezone.utc)
        started = time.perf_counter()
        stamped = [{**row, "amount": Decimal(row["amount"]), "close_date": dt.date(2027, 1, 31), "type": "new_business", "version": 1,
                    "created_at": now, "updated_at": now, "owner": None} for row in rows(batch)]
        with write_transaction(runtime.engine) as conn:
            conn.execute(sa.insert(table), stamped)
        return time.perf_counter() - started

    time_the_step()
    steps: dict[str, list[float]] = {}
    sides: dict[str, list[float]] = {"raw executemany (floor)": [], "no rule": [], "a rule on the record's fields": [],
                                     "a rule reading the account": []}
    batch = 0
    for _round in range(args.rounds):
        for side in sides:
            batch += 1
            if side == "raw executemany (floor)":
                sides[side].append(raw(batch))
                continue
            set_rules(runtime, *({"no rule": (), "a rule on the record's fields": (OWN,), "a rule reading the account": (LINKED,)}[side]))
            STEP_TIME.clear()
            sides[side].append(service(batch))
            steps.setdefault(side, []).append(sum(STEP_TIME))
    print(f"{runtime.engine.dialect.name}, {args.rows:,} opportunities per create_many, {args.rounds} rounds, 1,000 accounts\n")
    print("| create_many | median s | rows/s | vs no rule | in the rule step, median ms |\n|---|---|---|---|---|")
    base = statistics.median(sides["no rule"])
    for side, took in sides.items():
        median = statistics.median(took)
        step = f"{statistics.median(steps[side]) * 1000:.1f}" if side in steps else ""
        print(f"| {side} | {median:.3f} | {args.rows / median:,.0f} | {median / base - 1:+.1%} | {step} |")
    runtime.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
