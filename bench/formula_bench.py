"""Formula and roll-up fields at size, beside plain columns and raw SQL.

    python bench/formula_bench.py lists   --database URL [--runs 15]   # on bench/generate.py's data (deals and accounts)
    python bench/formula_bench.py rebuild --database URL               # the same data
    python bench/formula_bench.py writes  --database URL [--rounds 10] # an empty database of its own

``lists`` adds a formula field ``weighted`` (amount * probability / 100) and the same formula stored (``weighted_kept``,
an indexed column) to the deal object when they are missing, then times the record service's list (as the system, 50
rows, in process) filtered and sorted on the formula, the same list on the stored column ``amount`` and on the stored
formula, and the raw SQL of the first two. ``rebuild`` adds a roll-up ``deal_total`` (the sum of an
account's deals' amounts) when it is missing, which computes it for every account in the metadata change, then
computes it again with ``core.rollups.recompute``; it prints both times and the process's peak memory before and after.
``writes`` makes two databases of its own (URL and URL with ``_plain`` added to its name), one with roll-ups on the
account (a sum and a count of its deals) and one without, and alternates batches of creates and single updates
between them. Nothing here is a test: it prints figures for docs/performance.md.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core import rollups  # noqa: E402
from core.records import Actor  # noqa: E402
from core.runtime import Runtime  # noqa: E402
from core.settings import Settings  # noqa: E402

SYSTEM = Actor.system()
DEAL_CHANGESET = Path(__file__).resolve().parent / "deal_changeset.json"
WEIGHTED = {"name": "weighted", "type": "formula", "label": {"en": "Weighted", "zh-CN": "加权金额"},
            "expression": "amount * probability / 100", "result_type": "currency"}
WEIGHTED_KEPT = {**WEIGHTED, "name": "weighted_kept", "label": {"en": "Weighted (kept)", "zh-CN": "加权金额（存储）"}, "stored": True}
DEAL_TOTAL = {"name": "deal_total", "type": "rollup", "label": {"en": "Deal total", "zh-CN": "商机总额"},
              "rollup": {"object": "deal", "via": "account", "aggregate": "sum", "field": "amount"}}
DEAL_COUNT = {"name": "deal_count", "type": "rollup", "label": {"en": "Deals", "zh-CN": "商机数"},
              "rollup": {"object": "deal", "via": "account", "aggregate": "count"}}


def runtime_for(url: str) -> Runtime:
    runtime = Runtime(Settings(database_url=url, plugins=()))
    runtime.upgrade("bench")
    return runtime


def extend(runtime: Runtime, object_name: str, fields: list[dict]) -> float:
    """Add the fields the object lacks; the seconds the metadata change took."""
    have = runtime.current_metadata().object(object_name).fields
    missing = [f for f in fields if f["name"] not in have]
    started = time.perf_counter()
    if missing:
        runtime.import_changeset({"format": "tessera-changeset/1", "extensions": [{"object": object_name, "fields": missing}]},
                                 "bench", "bench")
    return time.perf_counter() - started


def timed(runs: int, work) -> list[float]:
    work()  # warm: statements built and cached
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append((time.perf_counter() - started) * 1000)
    return times


def line(name: str, times: list[float]) -> str:
    ordered = sorted(times)
    return f"| {name} | {statistics.median(times):.1f} | {ordered[int(len(ordered) * 0.95) - 1]:.1f} | {len(times)} |"


def lists(args) -> None:
    runtime = runtime_for(args.database)
    extend(runtime, "deal", [WEIGHTED])
    added = extend(runtime, "deal", [WEIGHTED_KEPT])
    if added:
        print(f"the stored formula added (computed for every deal, its index made): {added:.1f} s")
    records = runtime.records
    deals = runtime.engine.connect().execute(sa.text("SELECT count(*) FROM deal")).scalar_one()
    formula = [("weighted__gte", "100000"), ("sort", "-weighted"), ("limit", "50")]
    column = [("amount__gte", "100000"), ("sort", "-amount"), ("limit", "50")]
    kept = [("weighted_kept__gte", "100000"), ("sort", "-weighted_kept"), ("limit", "50")]
    raw_formula = sa.text("SELECT id, name, amount, probability FROM deal WHERE deleted_at IS NULL AND amount * probability / 100 >= 100000 "
                          "ORDER BY amount * probability / 100 DESC, id DESC LIMIT 51")
    raw_column = sa.text("SELECT id, name, amount, probability FROM deal WHERE deleted_at IS NULL AND amount >= 100000 "
                         "ORDER BY amount DESC, id DESC LIMIT 51")
    with runtime.engine.connect() as conn:
        results = {
            "formula (weighted__gte, sort -weighted)": timed(args.runs, lambda: records.list(SYSTEM, "deal", formula)),
            "stored column (amount__gte, sort -amount)": timed(args.runs, lambda: records.list(SYSTEM, "deal", column)),
            "stored formula (weighted_kept__gte, sort -weighted_kept)": timed(args.runs, lambda: records.list(SYSTEM, "deal", kept)),
            "raw SQL, the formula's expression": timed(args.runs, lambda: conn.execute(raw_formula).all()),
            "raw SQL, the column": timed(args.runs, lambda: conn.execute(raw_column).all()),
        }
    print(f"{runtime.engine.dialect.name}, {deals:,} deals, the system's list of 50, {args.runs} runs after a warm-up\n")
    print("| list | median ms | p95 ms | runs |\n|---|---|---|---|")
    for name, times in results.items():
        print(line(name, times))
    ratio = statistics.median(results["formula (weighted__gte, sort -weighted)"]) / statistics.median(
        results["stored column (amount__gte, sort -amount)"])
    print(f"\nformula / stored column: {ratio:.2f}x")


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rebuild(args) -> None:
    runtime = runtime_for(args.database)
    with runtime.engine.connect() as conn:
        deals = conn.execute(sa.text("SELECT count(*) FROM deal")).scalar_one()
        accounts = conn.execute(sa.text("SELECT count(*) FROM account")).scalar_one()
    before = peak_mb()
    added = extend(runtime, "account", [DEAL_TOTAL])
    after_add = peak_mb()
    with runtime.writing() as (conn, schema):
        rollup = rollups.find(schema.meta, "account", "deal_total")
        started = time.perf_counter()
        count = rollups.recompute(conn, schema, rollup)
        again = time.perf_counter() - started
    after = peak_mb()
    with runtime.engine.connect() as conn:
        wrong = conn.execute(sa.text("SELECT count(*) FROM account a WHERE COALESCE(a.deal_total, 0) <> "
                                     "(SELECT COALESCE(SUM(d.amount), 0) FROM deal d WHERE d.account = a.id AND d.deleted_at IS NULL)"
                                     )).scalar_one()
    print(f"{runtime.engine.dialect.name}, {deals:,} deals, {accounts:,} accounts")
    print(f"added with the metadata change (computed for every account): {added:.1f} s" if added else "already there")
    print(f"recompute: {again:.1f} s for {count:,} accounts; accounts whose figure differs from a GROUP BY: {wrong}")
    print(f"peak memory (max RSS): {before:.0f} MB before, {after_add:.0f} MB after adding, {after:.0f} MB after recompute")


def writes(args) -> None:
    url = args.database
    plain_url = url + "_plain" if not url.endswith(".db") else url[:-3] + "_plain.db"
    kept, plain = runtime_for(url), runtime_for(plain_url)
    for runtime in (kept, plain):
        runtime.import_changeset(__import__("json").loads(DEAL_CHANGESET.read_text()), "bench", "bench")
    extend(kept, "account", [DEAL_TOTAL, DEAL_COUNT])
    accounts = {id(rt): rt.records.create_many(SYSTEM, "account", [{"name": f"Account {n}"} for n in range(200)]) for rt in (kept, plain)}
    made: dict[int, list[tuple[int, int]]] = {id(kept): [], id(plain): []}
    creates: dict[int, list[float]] = {id(kept): [], id(plain): []}
    updates: dict[int, list[float]] = {id(kept): [], id(plain): []}
    for round_ in range(args.rounds):
        for runtime in (kept, plain) if round_ % 2 else (plain, kept):
            ids = accounts[id(runtime)]
            rows = [{"name": f"Deal {round_}-{n}", "account": ids[n % len(ids)], "amount": 1000 + n, "stage": "prospecting", "probability": 10,
                     "close_date": "2027-01-31"} for n in range(1000)]
            started = time.perf_counter()
            created = runtime.records.create_many(SYSTEM, "deal", rows)
            creates[id(runtime)].append((time.perf_counter() - started) * 1000)
            made[id(runtime)] += [(d, 1) for d in created[:100]]
            for n, (deal, version) in enumerate(list(made[id(runtime)][-100:])):
                started = time.perf_counter()
                runtime.records.update(SYSTEM, "deal", deal, {"amount": 2000 + n, "account": ids[(n + 7) % len(ids)]}, version=version)
                updates[id(runtime)].append((time.perf_counter() - started) * 1000)
    print(f"{kept.engine.dialect.name}: batches of 1,000 deal creates and single updates (amount and account changed), "
          f"{args.rounds} rounds alternating\n")
    print("| write | without roll-ups, median ms | with two roll-ups, median ms | overhead |\n|---|---|---|---|")
    for name, table in (("create_many, 1,000 deals", creates), ("update, one deal", updates)):
        without, with_ = statistics.median(table[id(plain)]), statistics.median(table[id(kept)])
        print(f"| {name} | {without:.1f} | {with_:.1f} | {with_ / without - 1:+.0%} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", choices=("lists", "rebuild", "writes"))
    parser.add_argument("--database", required=True, metavar="URL")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args(argv)
    {"lists": lists, "rebuild": rebuild, "writes": writes}[args.part](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
