"""What the plugins cost on the write path: creates with all built-in plugins enabled vs none.

    python bench/plugin_overhead.py [--database-dir DIR] [--rows N] [--rounds R] [--postgres URL]

Two databases of the same kind are set up, one served with no plugins and one with every
installed plugin enabled. The same rows are created through ``create_many`` in batches of
1,000, and one by one through ``create``, rounds alternating between the two, for two
base objects: product, which no plugin touches (the cost of hooks nobody implements for
it), and account, to which the plugins add eight fields (the cost of a wider table and
record). Reported: rows/s for each and the overhead.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.records import Actor  # noqa: E402
from core.runtime import Runtime  # noqa: E402
from core.settings import Settings  # noqa: E402

INDUSTRIES = ["technology", "finance", "medical", "manufacturing", "retail", "energy"]


def rows(object_name: str, count: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    if object_name == "product":
        return [{"name": f"Part {seed}-{i}", "product_code": f"P{seed}-{i}", "family": "spare_part",
                 "unit_price": rng.randint(1, 900)} for i in range(count)]
    return [
        {"name": f"Account {seed}-{i}", "industry": rng.choice(INDUSTRIES), "employees": rng.randint(5, 5000),
         "annual_revenue": rng.randint(1, 900) * 10_000, "billing_city": rng.choice(["Shanghai", "Austin", "Lyon"])}
        for i in range(count)
    ]


def batched(runtime: Runtime, object_name: str, data: list[dict], batch: int = 1000) -> float:
    actor = Actor.system()
    start = time.perf_counter()
    for i in range(0, len(data), batch):
        runtime.records.create_many(actor, object_name, data[i : i + batch])
    return len(data) / (time.perf_counter() - start)


def single(runtime: Runtime, object_name: str, data: list[dict]) -> float:
    actor = Actor.system()
    start = time.perf_counter()
    for row in data:
        runtime.records.create(actor, object_name, row)
    return len(data) / (time.perf_counter() - start)


def database_urls(args) -> list[str]:
    if args.postgres:
        base, _, _ = args.postgres.rpartition("/")
        names = [f"overhead_{uuid.uuid4().hex[:8]}" for _ in range(2)]
        with psycopg.connect(args.postgres.replace("+psycopg", ""), autocommit=True) as conn:
            for name in names:
                conn.execute(f'CREATE DATABASE "{name}"')
        return [f"{base}/{name}" for name in names]
    folder = Path(args.database_dir or tempfile.mkdtemp())
    return [f"sqlite:///{folder / 'none.db'}", f"sqlite:///{folder / 'all.db'}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-dir")
    parser.add_argument("--postgres", metavar="URL", help="measure on PostgreSQL (two databases are created there)")
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--single", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    none_url, all_url = database_urls(args)
    without = Runtime(Settings(database_url=none_url, plugins=()))
    with_all = Runtime(Settings(database_url=all_url))
    for rt in (without, with_all):
        rt.upgrade("bench")
    enabled = [p.info.name for p in with_all.plugins.enabled]
    print(f"Database: {none_url.split(':')[0]}; plugins enabled in the second run: {', '.join(enabled)}")
    print(f"{args.rounds} alternating rounds of {args.rows:,} batched and {args.single:,} single creates per object\n")
    print("| Creates | No plugins | All plugins | Overhead | Target |")
    print("|---|---:|---:|---:|---|")
    for object_name in ("product", "account"):
        results = {"none": {"batched": [], "single": []}, "all": {"batched": [], "single": []}}
        for round_ in range(args.rounds):
            pairs = (("none", without), ("all", with_all)) if round_ % 2 == 0 else (("all", with_all), ("none", without))
            for label, rt in pairs:
                results[label]["batched"].append(batched(rt, object_name, rows(object_name, args.rows, seed=round_)))
                results[label]["single"].append(single(rt, object_name, rows(object_name, args.single, seed=1000 + round_)))
        for kind in ("batched", "single"):
            none_rate = statistics.median(results["none"][kind])
            all_rate = statistics.median(results["all"][kind])
            overhead = (none_rate / all_rate - 1) * 100
            target = "< 20 %" + (": met" if overhead < 20 else ": **not met**")
            print(f"| {object_name}, {kind} (median rows/s) | {none_rate:,.0f} | {all_rate:,.0f} | {overhead:+.1f} % | {target} |")
    without.close()
    with_all.close()


if __name__ == "__main__":
    main()
