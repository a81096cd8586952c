"""Generate a benchmark data set through the record service.

    python bench/generate.py --database URL --accounts N [--owners K] [--batch 5000] [--seed 2026]

Migrates the database, imports bench/deal_changeset.json (the "deal" object), then
creates N accounts and 5N deals with ``runtime.records.create_many``: every row is
validated, its account reference is checked and its system fields are stamped, exactly
as for an import through the API. The data is deterministic for a given seed and an
empty database.

With ``--owners K`` it first creates K users (bench.user01, bench.user02, ...; no
password, no role) and gives the accounts and deals owners round-robin: account n and
deal n belong to user ((n - 1) mod K) + 1. Without it (K = 0) every record is created by
the system actor and has no owner, as before. Owners take nothing from the random
generator, so the other values are the same with or without owners.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sys
import time
from pathlib import Path
from typing import Callable, Iterator

import sqlalchemy as sa

from core.records import Actor
from core.runtime import Runtime
from core.settings import Settings

BENCH_DIR = Path(__file__).resolve().parent
DEAL_CHANGESET = BENCH_DIR / "deal_changeset.json"
DEALS_PER_ACCOUNT = 5
DEFAULT_SEED = 2026
DEFAULT_BATCH = 5000

STEMS = ["Northwind", "Blue Harbor", "Sinotech", "Helix", "Granite Peak", "Evergreen", "Huaxin", "Orion", "Redwood",
         "Cobalt", "Zhongshan", "Lumen", "Atlas", "Pinecrest", "Meridian", "Jinling", "Summit", "Tidewater", "Kestrel"]
SUFFIXES = ["Manufacturing", "Medical", "Logistics", "Energy", "Systems", "Retail", "Foods", "Bank", "Telecom", "Labs"]
INDUSTRIES = ["technology", "finance", "medical", "manufacturing", "retail", "education", "government", "energy",
              "telecommunications", "services", "other"]
ACCOUNT_TYPES = ["prospect", "customer", "partner", "supplier", "other"]
CITIES = [("Shanghai", "China"), ("Beijing", "China"), ("Shenzhen", "China"), ("Chicago", "United States"),
          ("Austin", "United States"), ("Berlin", "Germany"), ("Lyon", "France"), ("Singapore", "Singapore")]
PRODUCTS = ["CNC retrofit", "Servo drives", "Maintenance plan", "Fleet monitoring", "Vision inspection",
            "Analytics suite", "Spare parts", "Training", "Coolant system", "Line upgrade"]
# stage, weight, probability (percent)
STAGES = [("prospecting", 20, 10), ("qualification", 18, 20), ("proposal", 15, 50), ("negotiation", 12, 75),
          ("won", 20, 100), ("lost", 15, 0)]
FIRST_CLOSE_DATE = dt.date(2024, 1, 1)
CLOSE_DATE_SPAN_DAYS = 4 * 365


def load_deal_changeset() -> dict:
    return json.loads(DEAL_CHANGESET.read_text(encoding="utf-8"))


def prepare(runtime: Runtime, who: str = "bench") -> None:
    """Migrate core's tables and make sure the deal object exists (a no-op when it does)."""
    runtime.upgrade(who)
    runtime.import_changeset(load_deal_changeset(), str(DEAL_CHANGESET), who)


def account_row(rng: random.Random, number: int) -> dict:
    city, country = rng.choice(CITIES)
    return {
        "name": f"{rng.choice(STEMS)} {rng.choice(SUFFIXES)} {number:07d}",
        "account_number": f"A-{number:07d}",
        "account_type": rng.choice(ACCOUNT_TYPES),
        "industry": rng.choice(INDUSTRIES),
        "employees": rng.randint(5, 50_000),
        "annual_revenue": f"{rng.randint(100, 5_000_000) * 100}.00",
        "billing_city": city,
        "billing_country": country,
    }


_STAGE_NAMES = [s[0] for s in STAGES]
_STAGE_WEIGHTS = [s[1] for s in STAGES]
_STAGE_PROBABILITY = {s[0]: s[2] for s in STAGES}


def deal_row(rng: random.Random, number: int, account_id: int) -> dict:
    stage = rng.choices(_STAGE_NAMES, _STAGE_WEIGHTS)[0]
    close = FIRST_CLOSE_DATE + dt.timedelta(days=rng.randrange(CLOSE_DATE_SPAN_DAYS))
    return {
        "name": f"{rng.choice(PRODUCTS)} #{number:07d}",
        "account": account_id,
        "stage": stage,
        "amount": f"{rng.randint(500, 2_000_000)}.{rng.randrange(100):02d}",
        "close_date": close.isoformat(),
        "probability": _STAGE_PROBABILITY[stage],
    }


def owner_usernames(count: int) -> list[str]:
    """bench.user01 .. bench.userNN (at least two digits, so that they sort in order)."""
    width = max(2, len(str(count)))
    return [f"bench.user{i:0{width}d}" for i in range(1, count + 1)]


def create_owners(runtime: Runtime, actor: Actor, count: int) -> list[int]:
    """The owner users, created through the record service like any other record."""
    if not count:
        return []
    return runtime.records.create_many(actor, "user", [{"username": name} for name in owner_usernames(count)])


def with_owner(row: dict, owner_ids: list[int], number: int) -> dict:
    """Give record ``number`` (1-based) its round-robin owner; unchanged when there are no owners."""
    if owner_ids:
        row["owner"] = owner_ids[(number - 1) % len(owner_ids)]
    return row


def batches(total: int, size: int) -> Iterator[tuple[int, int]]:
    for start in range(0, total, size):
        yield start, min(size, total - start)


def _create_all(runtime: Runtime, actor: Actor, object_name: str, total: int, batch: int,
                make: Callable[[int], dict], log: Callable[[str], None]) -> list[int]:
    ids: list[int] = []
    started = time.perf_counter()
    for start, size in batches(total, batch):
        rows = [make(start + i + 1) for i in range(size)]
        t0 = time.perf_counter()
        ids += runtime.records.create_many(actor, object_name, rows)
        t1 = time.perf_counter()
        done = start + size
        log(f"  {object_name}: {done:>9,}/{total:,}  batch {size / (t1 - t0):>8,.0f} rows/s  "
            f"overall {done / (t1 - started):>8,.0f} rows/s")
    elapsed = time.perf_counter() - started
    log(f"  {object_name}: {total:,} rows in {elapsed:.1f} s ({total / elapsed:,.0f} rows/s including row building)")
    return ids


def generate(runtime: Runtime, accounts: int, batch: int = DEFAULT_BATCH, seed: int = DEFAULT_SEED,
             log: Callable[[str], None] = print, owners: int = 0) -> dict[str, float]:
    """Create ``owners`` users, then ``accounts`` accounts and 5 deals per account; return timings."""
    actor = Actor(None, "bench")
    rng = random.Random(seed)
    owner_ids = create_owners(runtime, actor, owners)
    if owner_ids:
        log(f"  user: {len(owner_ids)} owners ({owner_usernames(owners)[0]} .. {owner_usernames(owners)[-1]})")
    started = time.perf_counter()
    account_ids = _create_all(runtime, actor, "account", accounts, batch,
                              lambda n: with_owner(account_row(rng, n), owner_ids, n), log)
    accounts_done = time.perf_counter()
    deal_count = accounts * DEALS_PER_ACCOUNT
    deal_ids = _create_all(runtime, actor, "deal", deal_count, batch,
                           lambda n: with_owner(deal_row(rng, n, account_ids[rng.randrange(len(account_ids))]), owner_ids, n), log)
    finished = time.perf_counter()
    return {
        "owners": len(owner_ids),
        "accounts": len(account_ids),
        "deals": len(deal_ids),
        "account_seconds": accounts_done - started,
        "deal_seconds": finished - accounts_done,
    }


def row_counts(runtime: Runtime) -> dict[str, int]:
    with runtime.engine.connect() as conn:
        return {name: conn.execute(sa.text(f'SELECT count(*) FROM "{name}"')).scalar_one() for name in ("account", "deal")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", required=True, metavar="URL", help="sqlite:///path.db or postgresql+psycopg://...")
    parser.add_argument("--accounts", type=int, required=True, metavar="N", help="accounts to create (deals: 5 per account)")
    parser.add_argument("--owners", type=int, default=0, metavar="K",
                        help="create K users bench.user01.. and spread accounts and deals over them round-robin "
                             "(default 0: no owners)")
    parser.add_argument("--batch", type=int, default=DEFAULT_BATCH, help=f"rows per create_many call (default {DEFAULT_BATCH})")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--force", action="store_true", help="add rows even if the database already has deals")
    args = parser.parse_args(argv)

    runtime = Runtime(Settings(database_url=args.database))
    try:
        prepare(runtime)
        existing = row_counts(runtime)
        if existing["deal"] and not args.force:
            print(f"The database already holds {existing['account']:,} accounts and {existing['deal']:,} deals; "
                  "use an empty database, or --force to add more.", file=sys.stderr)
            return 1
        if args.owners < 0:
            parser.error("--owners must be 0 or more")
        owned = f", owned round-robin by {args.owners} users" if args.owners else ""
        print(f"Generating {args.accounts:,} accounts and {args.accounts * DEALS_PER_ACCOUNT:,} deals{owned} "
              f"through the record service (batches of {args.batch:,}, seed {args.seed})", flush=True)
        timings = generate(runtime, args.accounts, args.batch, args.seed, log=lambda line: print(line, flush=True),
                           owners=args.owners)
        total = timings["accounts"] + timings["deals"]
        seconds = timings["account_seconds"] + timings["deal_seconds"]
        print(f"Done: {total:,} rows in {seconds:.1f} s ({total / seconds:,.0f} rows/s). Row counts: {row_counts(runtime)}")
    finally:
        runtime.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
