"""A rep's daily pages at full size: the board, an account's record page and global search, beside raw SQL.

    python bench/workspace_bench.py --database URL [--scale 1.0] [--runs 15]

Uses (and first creates, if missing) the data of bench/search_bench.py: at ``--scale 1.0``
200,000 accounts, 200,000 contacts and 1,000,000 opportunities of the sales plugin, owned
round-robin by 50 users, every opportunity in the same stage (the worst case for a board
column). Each page is requested through the ASGI app in this process (litestar's TestClient:
the application's whole work for the request, without a network hop), signed in as an
admin and as a rep whose role reads only their own records, and timed as the median and
95th percentile of ``--runs`` requests after one warm-up. Beside each, the raw SQL floor:
the queries the page cannot do without, written by hand, on one open connection.

* board:  GET /r/opportunity/kanban (htmx), every column's 50 latest cards and its exact count
          and sum; and the same with a filter. Floor: one GROUP BY for the totals plus, per
          column, its 50 latest rows.
* record: GET /r/account/{id} of the rep's account with the most opportunities. Floor: per
          related list, its first rows and its count.
* search: GET /api/search?q=... for the queries of bench/search_bench.py.

Targets (from the product's requirements): board 200 ms, record page 30 ms, search 50 ms p50.
A markdown table is printed; nothing is asserted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import platform
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import httpx
import sqlalchemy as sa
from litestar.testing import TestClient

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(0, str(BENCH_DIR.parent))

from search_bench import QUERIES, ensure_data  # noqa: E402

from core.api.app import create_app  # noqa: E402
from core.auth import Accounts  # noqa: E402
from core.db import refresh_statistics  # noqa: E402
from core.records import Actor  # noqa: E402
from core.runtime import Runtime  # noqa: E402
from core.settings import Settings  # noqa: E402

ADMIN, ADMIN_PASSWORD = "bench.workspace", "bench workspace password 2027"
REP, REP_PASSWORD = "bench.search00", "bench search password 2027"
BOARD = "/r/opportunity/kanban"
BOARD_FILTERED = "/r/opportunity/kanban?close_date__gte=2027-06-01"
CARDS = 50


def timed(run: Callable[[], object], runs: int) -> tuple[float, float]:
    run()  # warm: statement caches, pages in memory
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[max(int(len(times) * 0.95) - 1, 0)]


def sign_in(client: TestClient, username: str, password: str) -> httpx.Cookies:
    """Sign in through the login form as a browser does; the session's cookies."""
    client.cookies.clear()
    csrf = re.search(r'name="_csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    answer = client.post("/login", data={"username": username, "password": password, "_csrf_token": csrf})
    if answer.status_code >= 400 or "/login" in str(answer.url):
        raise SystemExit(f"could not sign in as {username}")
    return httpx.Cookies(client.cookies)


def getter(client: TestClient, cookies: httpx.Cookies, path: str, htmx: bool = False) -> Callable[[], object]:
    headers = {"HX-Request": "true"} if htmx else {}

    def run() -> object:
        client.cookies = cookies
        answer = client.get(path, headers=headers)
        if answer.status_code != 200:
            raise SystemExit(f"{path}: {answer.status_code} {answer.text[:300]}")
        return answer

    return run


def board_floor(conn: sa.Connection, where: str = "") -> Callable[[], object]:
    """The board's work by hand: the totals per stage, then each stage's latest cards by its index."""
    totals = sa.text(f"SELECT stage, count(*), sum(amount) FROM opportunity WHERE deleted_at IS NULL {where} GROUP BY stage")
    cards = sa.text(f"SELECT id, name, account, amount, close_date, owner, updated_at FROM opportunity "
                    f"WHERE deleted_at IS NULL AND stage = :stage {where} ORDER BY updated_at DESC, id DESC LIMIT {CARDS}")

    def run() -> object:
        stages = [row[0] for row in conn.execute(totals)]
        return [conn.execute(cards, {"stage": stage}).all() for stage in stages]

    return run


def record_floor(conn: sa.Connection, account: int, related: list[tuple[str, str]]) -> Callable[[], object]:
    """Per related list: its first rows and its count, by the lookup's index."""
    queries = [(sa.text(f'SELECT * FROM "{table}" WHERE "{column}" = :id AND deleted_at IS NULL ORDER BY id DESC LIMIT 5'),
                sa.text(f'SELECT count(*) FROM "{table}" WHERE "{column}" = :id AND deleted_at IS NULL')) for table, column in related]

    def run() -> object:
        return [(conn.execute(rows, {"id": account}).all(), conn.execute(count, {"id": account}).scalar()) for rows, count in queries]

    return run


def busiest_account(conn: sa.Connection, owner: int) -> int:
    """Of the accounts ``owner`` owns (so that the rep may open it too), the one with the most opportunities."""
    return conn.execute(sa.text("SELECT o.account FROM opportunity o JOIN account a ON a.id = o.account "
                                "WHERE o.deleted_at IS NULL AND a.owner = :owner GROUP BY o.account ORDER BY count(*) DESC LIMIT 1"),
                        {"owner": owner}).scalar_one()


def related_lists(runtime: Runtime) -> list[tuple[str, str]]:
    """Every (object, lookup field) that points at account: what its record page lists."""
    meta = runtime.current_metadata()
    return [(obj.name, field.name) for obj in meta.objects.values() for field in obj.active_fields()
            if field.type.name == "lookup" and field.spec.get("target") == "account"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", required=True, metavar="URL")
    parser.add_argument("--scale", type=float, default=1.0, help="1.0: 200k accounts, 200k contacts, 1M opportunities")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--plugins", default="sales,marketing,service,manufacturing_bom",
                        help="the plugins enabled (their objects' related lists are on the account page)")
    args = parser.parse_args(argv)
    runtime = Runtime(Settings(database_url=args.database, plugins=tuple(args.plugins.split(",")), password_hashing="fast"))
    log = lambda line: print(line, flush=True)  # noqa: E731
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        ensure_data(runtime, args.scale, log)
        refresh_statistics(runtime.engine)  # as `tessera serve` does when it starts
        if not runtime.records.list(Actor.system(), "user", {"username": ADMIN}).items:
            Accounts(runtime).add_user(ADMIN, ADMIN_PASSWORD, "admin")
        with runtime.engine.connect() as conn:
            sizes = {name: conn.execute(sa.text(f'SELECT count(*) FROM "{name}" WHERE deleted_at IS NULL')).scalar_one()
                     for name in ("account", "contact", "opportunity")}
            rep = runtime.records.list(Actor.system(), "user", {"username": REP}).items[0]["id"]
            account = busiest_account(conn, rep)
        related = related_lists(runtime)
        with TestClient(create_app(runtime)) as client:
            sessions = {"admin": sign_in(client, ADMIN, ADMIN_PASSWORD), "rep": sign_in(client, REP, REP_PASSWORD)}
            measure(runtime, client, sessions, account, related, sizes, args.runs, log)
    finally:
        runtime.close()
    return 0


def measure(runtime: Runtime, client: TestClient, sessions: dict, account: int, related: list, sizes: dict, runs: int, log) -> None:
    log(f"\n{dt.date.today()}  {runtime.engine.dialect.name} {runtime.engine.dialect.server_version_info}  "
        f"python {platform.python_version()}  " + ", ".join(f"{n:,} {name}" for name, n in sizes.items()))
    log(f"account {account}: related lists {', '.join(f'{t}.{c}' for t, c in related)}\n")
    log("| page | admin p50 / p95 ms | rep p50 / p95 ms | raw SQL floor p50 ms | target |")
    log("|---|---|---|---|---|")
    with runtime.engine.connect() as floor_conn:
        rows = [("board", BOARD, True, board_floor(floor_conn), "200 ms"),
                ("board, filtered", BOARD_FILTERED, True, board_floor(floor_conn, "AND close_date >= '2027-06-01'"), "200 ms"),
                ("account record page", f"/r/account/{account}", False, record_floor(floor_conn, account, related), "30 ms")]
        rows += [(f"search: {title}", f"/api/search?q={q}", False, None, "50 ms p50") for title, q in QUERIES]
        for title, path, htmx, floor, target in rows:
            a50, a95 = timed(getter(client, sessions["admin"], path, htmx), runs)
            r50, r95 = timed(getter(client, sessions["rep"], path, htmx), runs)
            f50 = f"{timed(floor, runs)[0]:.1f}" if floor else "see search_bench"
            log(f"| {title} | {a50:.1f} / {a95:.1f} | {r50:.1f} / {r95:.1f} | {f50} | {target} |")


if __name__ == "__main__":
    raise SystemExit(main())
