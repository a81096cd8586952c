"""The record service's writes (core/records/pipeline.py): single updates and creates, a mass update, beside raw SQL.

    python bench/write_bench.py --database URL [--deals 20000] [--runs 500]

On a fresh database (SQLite: the file is deleted first; PostgreSQL: use a database of its own,
its tables are dropped) with the sales plugin, it creates ``--deals`` opportunities over 1,000
accounts, then times:

- ``records.update`` of one opportunity's amount, as the system and as a sales rep (own scope);
- ``records.create`` of one opportunity;
- an import-style mass update of 1,000 opportunities (``BulkWriter.update_many``);
- the floor: the same single update written by hand (``UPDATE … WHERE id AND version`` and
  one field-history row) on one connection, one transaction each.

Prints the median and p95 milliseconds of each. The same script runs on an older checkout
(``git worktree``) for a before/after comparison.
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

from core.coretables import field_history  # noqa: E402
from core.db import write_transaction  # noqa: E402
from core.records import Actor  # noqa: E402
from core.runtime import Runtime  # noqa: E402
from core.settings import Settings  # noqa: E402


def fresh(url: str) -> Runtime:
    if url.startswith("sqlite"):
        Path(url.split("///", 1)[1]).unlink(missing_ok=True)
    else:
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        engine.dispose()
    runtime = Runtime(Settings(database_url=url, plugins=("sales",), password_hashing="fast"))
    runtime.upgrade("bench")
    return runtime


def timed(runs: int, action) -> list[float]:
    took = []
    for n in range(runs):
        started = time.perf_counter()
        action(n)
        took.append((time.perf_counter() - started) * 1000)
    return took


def line(name: str, took: list[float]) -> str:
    ordered = sorted(took)
    return f"| {name} | {statistics.median(ordered):.2f} | {ordered[int(len(ordered) * 0.95) - 1]:.2f} | {len(ordered)} |"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True, metavar="URL")
    parser.add_argument("--deals", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=500)
    args = parser.parse_args(argv)
    runtime = fresh(args.database)
    system = Actor.system()
    records = runtime.records
    role = records.create(system, "role", {"name": "Bench rep", "permission_set": "sales_rep"})
    rep_user = records.create(system, "user", {"username": "rep", "full_name": "Rep", "email": "rep@example.com", "role": role["id"]})
    rep = Actor(rep_user["id"], "Rep", "sales_rep")
    accounts = records.create_many(system, "account", [{"name": f"Account {n}"} for n in range(1000)])
    deals: list[int] = []
    for start in range(0, args.deals, 1000):
        deals += records.create_many(system, "opportunity", [
            {"name": f"Deal {n}", "account": accounts[n % 1000], "amount": 1000 + n, "close_date": "2027-01-31",
             "owner": rep_user["id"] if n % 2 else None} for n in range(start, min(start + 1000, args.deals))])
    mine = [d for n, d in enumerate(deals) if n % 2]
    versions: dict[int, int] = {d: 1 for d in deals}

    def update_as(actor: Actor, pool: list[int]):
        def run(n: int) -> None:
            deal = pool[n % len(pool)]
            versions[deal] = records.update(actor, "opportunity", deal, {"amount": 5000 + n}, version=versions[deal])["version"]
        return run

    results = [line("update, system", timed(args.runs, update_as(system, deals[::2]))),
               line("update, sales rep (own scope)", timed(args.runs, update_as(rep, mine))),
               line("create, system", timed(args.runs, lambda n: records.create(
                   system, "opportunity", {"name": f"New {n}", "account": accounts[0], "amount": n, "close_date": "2027-02-01"})))]

    def mass(n: int) -> None:
        batch = deals[(n * 1000) % len(deals):][:1000]
        with records.bulk(system, "opportunity") as writer:
            writer.update_many([(deal, {"amount": 7000 + n}) for deal in batch])

    results.append(line("mass update of 1,000 (one transaction)", timed(10, mass)))
    table = runtime.recent_schema().tables.table("opportunity")
    raw_version = {d: None for d in deals}

    def floor(n: int) -> None:
        deal = deals[1 + 2 * (n % (len(deals) // 2 - 1))]
        now = dt.datetime.now(dt.timezone.utc)
        with write_transaction(runtime.engine) as conn:
            version = raw_version[deal] or conn.execute(sa.select(table.c.version).where(table.c.id == deal)).scalar()
            conn.execute(sa.update(table).where(table.c.id == deal, table.c.version == version)
                         .values(amount=9000 + n, version=version + 1, updated_at=now))
            conn.execute(field_history.insert().values(object="opportunity", record_id=deal, field="amount", old_value=None,
                                                       new_value=9000 + n, record_version=version + 1, changed_at=now,
                                                       changed_by_name="bench"))
            raw_version[deal] = version + 1

    results.append(line("floor: single update by hand", timed(args.runs, floor)))
    print(f"{runtime.engine.dialect.name}, {args.deals:,} opportunities, {args.runs} runs\n")
    print("| write | median ms | p95 ms | runs |\n|---|---|---|---|")
    print("\n".join(results))
    runtime.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
