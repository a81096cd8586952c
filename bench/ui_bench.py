"""Web UI benchmark over HTTP: the list page (full and htmx partial) beside the API list of the same query.

    python bench/ui_bench.py --database URL [--duration 10] [--rounds 3] [--no-save]

Uses the data and the non-admin bench user of bench/api_bench.py (generate them with it
first: ``python bench/api_bench.py --database URL``) and refreshes the planner statistics. One application server (uvicorn,
pinned to --server-cpu, the same app as ``tessera serve`` but without plugins, as the API
benchmark runs it) serves three targets, each measured with ``wrk -t1 -c1 --latency``
pinned to --wrk-cpu, in --rounds rounds whose order rotates:

* api:     GET /api/records/deal?stage=won&sort=-close_date&limit=50   (bearer token)
* page:    GET /r/deal?stage=won&sort=-close_date                        (session cookie)
* partial: the same with ``HX-Request: true`` and ``HX-Target: records`` (what the filter
  builder and paging fetch)

Before timing, the page and the partial must show the API's 50 deals in the same order.
Target: the median p50 of the page and of the partial under 2x the API's.
A markdown table is printed and appended to bench/results/ui_bench.md with the raw runs
in bench/results/ui_bench-<database>-<time>.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.cookiejar
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import urllib.parse
import urllib.request
from dataclasses import asdict
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(0, str(BENCH_DIR.parent))

import api_bench  # noqa: E402
from api_bench import LIST_PATH, PASSWORD, WRK_LIST, as_run, ensure_bench_user, http_json, run_wrk, start_server  # noqa: E402

from core.runtime import Runtime  # noqa: E402
from core.settings import Settings  # noqa: E402
from generate import prepare, row_counts  # noqa: E402

PAGE_PATH = "/r/deal?stage=won&sort=-close_date"
PARTIAL_HEADERS = ["HX-Request: true", "HX-Target: records"]
TARGET_RATIO = 2.0
WARMUP_SECONDS = 2


def sign_in(base: str, username: str) -> str:
    """Sign in through the login form as a browser does; the Cookie header of the session."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with opener.open(base + "/login", timeout=30) as response:
        csrf = re.search(r'name="_csrf_token" value="([^"]+)"', response.read().decode()).group(1)
    form = urllib.parse.urlencode({"username": username, "password": PASSWORD, "_csrf_token": csrf}).encode()
    with opener.open(base + "/login", data=form, timeout=30) as response:
        if response.status != 200:
            raise SystemExit(f"signing in through /login answered {response.status}")
    return "; ".join(f"{c.name}={c.value}" for c in jar)


def page_ids(base: str, cookie: str, headers: list[str]) -> list[int]:
    request = urllib.request.Request(base + PAGE_PATH, headers={"Cookie": cookie, **dict(h.split(": ", 1) for h in headers)})
    with urllib.request.urlopen(request, timeout=60) as response:
        body = response.read().decode()
    rows = body.split("<tbody", 1)[1].split("</tbody>", 1)[0] if "<tbody" in body else ""
    ids = [int(i) for i in re.findall(r'href="/r/deal/(\d+)"', rows)]
    return list(dict.fromkeys(ids))


def bench(args: argparse.Namespace) -> int:
    runtime = Runtime(Settings(database_url=args.database, plugins=()))
    try:
        prepare(runtime)  # migrations and the deal object, as the API benchmark has them
        counts = row_counts(runtime)
        if not counts["deal"]:
            raise SystemExit("No deals: generate the data first with `python bench/api_bench.py --database URL`.")
        user = ensure_bench_user(runtime, args.team_size)
        api_bench.analyze(runtime.engine)  # planner statistics, as the API benchmark refreshes them
        dialect = runtime.engine.dialect.name
        database = api_bench.server_version(runtime.engine)
    finally:
        runtime.close()
    started = dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    logs = Path(tempfile.mkdtemp(prefix="ui_bench_"))
    server = start_server("app", [str(BENCH_DIR / "api_bench.py"), "--serve-api", "--database", args.database,
                                  "--api-port", str(args.port)], args.port, args.server_cpu, "/healthz", logs)
    runs = []
    try:
        status, body = http_json("POST", server.base + "/api/auth/token", {"username": user.username, "password": PASSWORD, "name": "ui_bench"})
        if status != 201:
            raise SystemExit(f"POST /api/auth/token: {status} {body}")
        token = body["token"]
        cookie = sign_in(server.base, user.username)
        _, api_page = http_json("GET", server.base + LIST_PATH, token=token)
        api_ids = [r["id"] for r in api_page["items"]]
        for name, headers in (("page", []), ("partial", PARTIAL_HEADERS)):
            ids = page_ids(server.base, cookie, headers)
            if ids != api_ids or len(ids) != 50:
                raise SystemExit(f"The {name} shows other deals than the API:\n{name} {ids}\nAPI  {api_ids}")
        targets = {"api": (server.base + LIST_PATH, [f"Authorization: Bearer {token}"]),
                   "page": (server.base + PAGE_PATH, [f"Cookie: {cookie}"]),
                   "partial": (server.base + PAGE_PATH, [f"Cookie: {cookie}", *PARTIAL_HEADERS])}
        for name, (url, headers) in targets.items():
            raw = run_wrk(url, WRK_LIST, 1, WARMUP_SECONDS, args.wrk_cpu, headers)
            if raw["non_2xx_3xx"]:
                raise SystemExit(f"{name}: {raw['non_2xx_3xx']} error responses in the warm-up")
        names = list(targets)
        for round_number in range(1, args.rounds + 1):
            order = names[round_number % 3:] + names[:round_number % 3]
            for name in order:
                url, headers = targets[name]
                run = as_run(name, 1, round_number, run_wrk(url, WRK_LIST, 1, args.duration, args.wrk_cpu, headers))
                if run.non_2xx_3xx or run.socket_errors:
                    raise SystemExit(f"{name}: {run.non_2xx_3xx} error responses, {run.socket_errors} socket errors")
                runs.append(run)
                print(f"  round {round_number} {name:>7}: {run.rate:7,.0f} req/s  p50 {run.p50_ms:6.2f} ms  p99 {run.p99_ms:6.2f} ms", flush=True)
    finally:
        server.stop()
        shutil.rmtree(logs, ignore_errors=True)

    p50 = {name: statistics.median(r.p50_ms for r in runs if r.target == name) for name in ("api", "page", "partial")}
    rate = {name: statistics.median(r.rate for r in runs if r.target == name) for name in ("api", "page", "partial")}
    lines = [
        f"### UI list page, {dialect}, {started}",
        "",
        f"{counts['deal']:,} deals, {counts['account']:,} accounts; user {user.username} (role bench_rep, team scope); "
        f"{database}; revision {describe_revision()}; load before the run {load}; "
        f"{args.rounds} rounds of {args.duration} s per target, wrk -t1 -c1, server on CPU {args.server_cpu}, wrk on CPU {args.wrk_cpu}.",
        "",
        "| target | p50 (median of rounds) | req/s | vs API p50 | bytes per response |",
        "| --- | ---: | ---: | ---: | ---: |",
        f"| API list (JSON) | {p50['api']:.2f} ms | {rate['api']:,.0f} | 1.00x | {api_bench_bytes(runs, 'api')} |",
        f"| list page (full HTML) | {p50['page']:.2f} ms | {rate['page']:,.0f} | {p50['page'] / p50['api']:.2f}x | {api_bench_bytes(runs, 'page')} |",
        f"| list partial (htmx) | {p50['partial']:.2f} ms | {rate['partial']:,.0f} | {p50['partial'] / p50['api']:.2f}x | {api_bench_bytes(runs, 'partial')} |",
        "",
        f"Target: page and partial p50 under {TARGET_RATIO:.0f}x the API's: "
        f"{'met' if max(p50['page'], p50['partial']) < TARGET_RATIO * p50['api'] else 'NOT met'}.",
    ]
    report = "\n".join(lines)
    print("\n" + report)
    if not args.no_save:
        results = BENCH_DIR / "results"
        results.mkdir(exist_ok=True)
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        (results / f"ui_bench-{dialect}-{stamp}.json").write_text(json.dumps({"runs": [asdict(r) for r in runs], "p50": p50, "rate": rate,
                                                                               "counts": counts}, indent=2))
        with (results / "ui_bench.md").open("a") as out:
            out.write(report + "\n\n")
    return 0


def describe_revision() -> str:
    found = api_bench.revision()
    changed = found["changed_files"]
    return found["revision"] + (f" with {len(changed)} changed files" if changed else "")


def api_bench_bytes(runs, name: str) -> str:
    sizes = [r.bytes_per_response for r in runs if r.target == name]
    return f"{statistics.median(sizes):,.0f}" if sizes else "-"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", required=True, metavar="URL")
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run (default 10)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the three targets, order rotating (default 3)")
    parser.add_argument("--team-size", type=int, default=5)
    parser.add_argument("--server-cpu", type=int, default=0)
    parser.add_argument("--wrk-cpu", type=int, default=1)
    parser.add_argument("--port", type=int, default=8741)
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install -y wrk)")
    return bench(args)


if __name__ == "__main__":
    sys.exit(main())
