"""Global search (core/search.py) over accounts, contacts and opportunities, beside a raw SQL baseline.

    python bench/search_bench.py --database URL [--scale 1.0] [--runs 50]

At ``--scale 1.0`` it creates 200,000 accounts, 200,000 contacts and 1,000,000 opportunities
(the sales plugin's object) through the record service (``create_many``: validation, hooks,
the search index kept in the same transaction), owned round-robin by 50 users, unless the
database already holds them. Names mix Chinese (company names, people's names) and Latin
words. Then it times ``search.search`` (what GET /api/search runs, without HTTP) for a set of
queries, as an admin and as a rep whose role reads only their own records, and beside each
the raw SQL baseline: the full-text match on the contacts' part of the index alone, with no
permission condition, no join to the object's table and no ranking (the floor any search
over this index pays for one object).
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import random
import statistics
import time
from typing import Callable

import sqlalchemy as sa

from core import search
from core.auth import Accounts
from core.coretables import search_entry
from core.records import Actor
from core.runtime import Runtime
from core.settings import Settings

SEED = 2027
OWNERS = 50
BATCH = 5000
SIZES = {"account": 200_000, "contact": 200_000, "opportunity": 1_000_000}
SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈")
GIVEN = list("伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国志红玉兰文辉鹏飞晨宇浩然子轩思雨")
CITIES = ["上海", "北京", "深圳", "杭州", "苏州", "成都", "武汉", "南京", "Chicago", "Berlin", "Lyon", "Singapore"]
TRADES = ["精密机械", "智能科技", "医疗器械", "新能源", "物流", "食品", "电子", "Manufacturing", "Logistics", "Systems", "Medical"]
WORDS = ["Northwind", "Harbor", "Sinotech", "Helix", "Granite", "Evergreen", "Huaxin", "Orion", "Redwood", "Cobalt",
         "Lumen", "Atlas", "Pinecrest", "Meridian", "Jinling", "Summit", "Tidewater", "Kestrel"]
PRODUCTS = ["CNC retrofit", "Servo drives", "Maintenance plan", "Fleet monitoring", "Vision inspection", "数控改造",
            "伺服驱动", "维保合同", "视觉检测", "备件"]
QUERIES = [
    ("2 Chinese characters (a given name)", "秀英"),
    ("3 Chinese characters (a full name)", "张秀英"),
    ("Chinese company fragment", "精密机械"),
    ("Latin word prefix, rare", "kestre"),
    ("Latin word prefix, common", "harb"),
    ("e-mail prefix", "wang.wei1"),
    ("account number", "acc-0012345"),
    ("no match", "zzyzx"),
]
REP_SET = {"name": "bench_rep", "label": {"en": "Bench rep", "zh-CN": "基准销售"},
           "objects": {name: {"read": "own", "create": "own", "update": "own"} for name in SIZES}}


def person(rng: random.Random) -> tuple[str, str]:
    return rng.choice(SURNAMES), "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def account_row(rng: random.Random, n: int) -> dict:
    if n % 2:
        name = f"{rng.choice(CITIES)}{rng.choice(GIVEN)}{rng.choice(GIVEN)}{rng.choice(TRADES)}有限公司 {n}"
    else:
        name = f"{rng.choice(WORDS)} {rng.choice(WORDS)} {rng.choice(TRADES)} {n}"
    return {"name": name, "account_number": f"ACC-{n:07d}"}


def contact_row(rng: random.Random, n: int, account_id: int) -> dict:
    last, first = person(rng)
    return {"last_name": last + first, "first_name": first, "account": account_id,
            "email": f"{rng.choice(['wang', 'li', 'zhang', 'chen', 'anna', 'david'])}.{rng.choice(['wei', 'fang', 'min', 'lee'])}{n}@example.com"}


def opportunity_row(rng: random.Random, n: int, account_id: int) -> dict:
    return {"name": f"{rng.choice(WORDS)} {rng.choice(PRODUCTS)} {n}", "account": account_id, "stage": "prospecting",
            "close_date": (dt.date(2026, 1, 1) + dt.timedelta(days=n % 700)).isoformat()}


def count(runtime: Runtime, name: str) -> int:
    with runtime.engine.connect() as conn:
        return conn.execute(sa.text(f'SELECT count(*) FROM "{name}" WHERE deleted_at IS NULL')).scalar_one()


def create(runtime: Runtime, name: str, total: int, make: Callable[[random.Random, int], dict], owners: list[int], log) -> list[int]:
    rng, ids, started = random.Random(f"{SEED}-{name}"), [], time.perf_counter()
    system = Actor(None, "bench")
    for start in range(0, total, BATCH):
        rows = [{**make(rng, n), "owner": owners[n % len(owners)]} for n in range(start + 1, min(start + BATCH, total) + 1)]
        ids += runtime.records.create_many(system, name, rows)
        log(f"  {name}: {len(ids):,}/{total:,} ({len(ids) / (time.perf_counter() - started):,.0f} rows/s)")
    return ids


def ensure_data(runtime: Runtime, scale: float, log) -> tuple[Actor, Actor]:
    runtime.upgrade("bench")
    runtime.import_changeset({"format": "tessera-changeset/1", "permission_sets": [REP_SET]}, "bench", "bench")
    accounts = Accounts(runtime)
    owners, system = [], Actor.system()
    for i in range(OWNERS):
        name = f"bench.search{i:02d}"
        existing = runtime.records.list(system, "user", {"username": name}).items
        user = existing[0] if existing else accounts.add_user(name, "bench search password 2027", "bench_rep" if i == 0 else None)[0]
        owners.append(user["id"])
    rep = Actor(owners[0], "bench.search00", "bench_rep")
    admin = Actor(None, "bench-admin", "admin")
    sizes = {name: int(size * scale) for name, size in SIZES.items()}
    if count(runtime, "opportunity") >= sizes["opportunity"]:
        log("  data already there")
        return admin, rep
    account_ids = create(runtime, "account", sizes["account"], account_row, owners, log)
    picks = random.Random(SEED)
    create(runtime, "contact", sizes["contact"], lambda rng, n: contact_row(rng, n, account_ids[picks.randrange(len(account_ids))]), owners, log)
    create(runtime, "opportunity", sizes["opportunity"], lambda rng, n: opportunity_row(rng, n, account_ids[picks.randrange(len(account_ids))]),
           owners, log)
    return admin, rep


def baseline(runtime: Runtime, q: str) -> Callable[[], int]:
    """The full-text match on the contacts' part of the index alone: the first CANDIDATES (1,000) that match."""
    parts = search.query_parts(q)
    with runtime.engine.connect() as conn:
        low, high = search._range(search.object_codes(conn)["contact"])
    if runtime.engine.dialect.name == "postgresql":
        statement = sa.text(f"SELECT record_id FROM tessera_search_entry WHERE terms @@ CAST(:q AS tsquery) AND id >= {low} AND id < {high} LIMIT {search.CANDIDATES}")
        value = search._tsquery(parts)
    else:
        statement = sa.text(f"SELECT rowid FROM tessera_search_fts WHERE tessera_search_fts MATCH :q AND rowid >= {low} AND rowid < {high} LIMIT {search.CANDIDATES}")
        value = search._fts_match(parts)

    conn = runtime.engine.connect()  # one connection, as the pool gives a request one already open

    def run() -> int:
        return len(conn.execute(statement, {"q": value}).all())

    return run


def timed(run: Callable[[], object], runs: int) -> tuple[float, float, object]:
    result = run()  # warm: statement caches, pages in memory
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        result = run()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1], result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", required=True, metavar="URL")
    parser.add_argument("--scale", type=float, default=1.0, help="1.0: 200k accounts, 200k contacts, 1M opportunities")
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args(argv)
    runtime = Runtime(Settings(database_url=args.database, plugins=("sales",), password_hashing="fast"))
    log = lambda line: print(line, flush=True)  # noqa: E731
    try:
        started = time.perf_counter()
        admin, rep = ensure_data(runtime, args.scale, log)
        with runtime.engine.connect() as conn:
            entries = conn.execute(sa.select(sa.func.count()).select_from(search_entry)).scalar_one()
        sizes = {name: count(runtime, name) for name in SIZES}
        log(f"\n{dt.date.today()}  {runtime.engine.dialect.name} {runtime.engine.dialect.server_version_info}  "
            f"python {platform.python_version()}  data ready in {time.perf_counter() - started:.0f} s")
        log("  " + ", ".join(f"{n:,} {name}" for name, n in sizes.items()) + f"; {entries:,} index entries")
        log(f"\n| query | text | admin p50 / p95 ms (results) | rep p50 / p95 ms (results) | raw SQL match p50 ms |")
        log("|---|---|---|---|---|")
        for title, q in QUERIES:
            a50, a95, found = timed(lambda: search.search(runtime.records, admin, q), args.runs)
            r50, r95, mine = timed(lambda: search.search(runtime.records, rep, q), args.runs)
            b50, _b95, _n = timed(baseline(runtime, q), args.runs)
            total = lambda groups: sum(len(g.records) for g in groups)  # noqa: E731
            log(f"| {title} | `{q}` | {a50:.1f} / {a95:.1f} ({total(found)}) | {r50:.1f} / {r95:.1f} ({total(mine)}) | {b50:.2f} |")
    finally:
        runtime.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
