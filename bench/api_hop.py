"""What the hand-off to a worker thread costs an API request: the same work with and without it.

    python bench/api_hop.py --database URL [--duration 10] [--rounds 2] [--connections 1,8]

A throwaway experiment beside bench/api_bench.py (run that first: it sets up the bench
user and its permission set). One server: the application as the benchmark serves it
(``create_app(runtime)``, no plugins, uvicorn through
``floor_app.serve``, pinned to --server-cpu), with these routes registered on top, in the
benchmark's process only (core is not changed):

* ``GET /bench/hop/empty-loop`` and ``/bench/hop/empty-thread``: return ``{"ok": true}``;
* ``GET /bench/hop/list-loop`` and ``/bench/hop/list-thread``: return
  ``runtime.records.list(<the caller>, "deal", <the query string>).as_dict()``, which is
  what ``GET /api/records/deal`` does;

the ``-loop`` ones with ``sync_to_thread=False`` (run on the event loop), the ``-thread``
ones with ``sync_to_thread=True`` (run in the worker thread pool, as every records route
is). Every request carries the bench user's bearer token, so the token check (run on the
event loop by the authentication middleware) is part of each; the empty route is also
run without a token, and ``GET /api/records/deal`` itself is run as a reference. wrk -t1
(pinned to --wrk-cpu) runs each target with each --connections for --duration seconds,
in --rounds rounds whose order alternates. A markdown table of medians is printed and
the raw runs are saved to bench/results/api_hop-<database>-<time>.json. After each run
the server reports (``GET /bench/hop/stats``) the median time the list routes spent in
``records.list`` + ``as_dict`` themselves, measured inside the handler, and the time its
garbage collector paused the process (``gc.callbacks``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(0, str(BENCH_DIR.parent))

import api_bench  # noqa: E402
import floor_app  # noqa: E402
from api_bench import LIST_PARAMS, LIST_PATH, PASSWORD, WRK_LIST, as_run, http_json, run_wrk, start_server  # noqa: E402

from core.records import Actor  # noqa: E402
from core.runtime import Runtime  # noqa: E402
from core.settings import Settings  # noqa: E402

QUERY = "?" + "&".join(f"{k}={v}" for k, v in LIST_PARAMS.items())
TARGETS = {  # name: (path, with the token)
    "empty-loop, no token": ("/bench/hop/empty-loop", False),
    "empty-loop": ("/bench/hop/empty-loop", True),
    "empty-thread": ("/bench/hop/empty-thread", True),
    "list-loop": ("/bench/hop/list-loop" + QUERY, True),
    "list-thread": ("/bench/hop/list-thread" + QUERY, True),
    "GET /api/records/deal (reference)": (LIST_PATH, True),
}


def serve(database_url: str, port: int) -> None:
    from litestar import Request, get  # noqa: PLC0415

    from core.api.app import create_app  # noqa: PLC0415

    runtime = Runtime(Settings(database_url=database_url, plugins=()))
    app = create_app(runtime)

    timings: dict[str, list[float]] = {"list-loop": [], "list-thread": []}
    pauses: list[float] = []
    gc_started = [0.0]

    def on_gc(phase: str, _info: dict) -> None:
        if phase == "start":
            gc_started[0] = time.perf_counter()
        else:
            pauses.append(time.perf_counter() - gc_started[0])

    gc.callbacks.append(on_gc)

    def actor(request: Request) -> Actor:
        return request.user.actor

    def listed(request: Request, name: str) -> dict:
        t0 = time.perf_counter()
        page = runtime.records.list(actor(request), "deal", list(request.query_params.multi_items())).as_dict()
        timings[name].append(time.perf_counter() - t0)
        return page

    @get("/bench/hop/stats", sync_to_thread=False, include_in_schema=False)
    def stats() -> dict:
        """Medians of the list routes' own time (records.list + as_dict, in the handler) and the GC pauses, since the last call."""
        out = {name: {"calls": len(v), "median_ms": statistics.median(v) * 1000 if v else None} for name, v in timings.items()}
        out["gc"] = {"collections": len(pauses), "total_ms": sum(pauses) * 1000}
        for v in timings.values():
            v.clear()
        pauses.clear()
        return out

    @get("/bench/hop/empty-loop", sync_to_thread=False, include_in_schema=False)
    def empty_loop() -> dict:
        return {"ok": True}

    @get("/bench/hop/empty-thread", sync_to_thread=True, include_in_schema=False)
    def empty_thread() -> dict:
        return {"ok": True}

    @get("/bench/hop/list-loop", sync_to_thread=False, include_in_schema=False)
    def list_loop(request: Request) -> dict:
        return listed(request, "list-loop")

    @get("/bench/hop/list-thread", sync_to_thread=True, include_in_schema=False)
    def list_thread(request: Request) -> dict:
        return listed(request, "list-thread")

    for handler in (empty_loop, empty_thread, list_loop, list_thread, stats):
        app.register(handler)
    floor_app.serve(app, "127.0.0.1", port)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", required=True, metavar="URL")
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=api_bench.connections_list, default=[1, 8])
    parser.add_argument("--server-cpu", type=int, default=0)
    parser.add_argument("--wrk-cpu", type=int, default=1)
    parser.add_argument("--port", type=int, default=8733)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.database, args.port)
        return 0

    runtime = Runtime(Settings(database_url=args.database, plugins=()))
    try:
        user = api_bench.ensure_bench_user(runtime, 5)
        dialect = runtime.engine.dialect.name
    finally:
        runtime.close()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    logs = Path(tempfile.mkdtemp(prefix="api_hop_"))
    server = start_server("hop", [str(Path(__file__).resolve()), "--serve", "--database", args.database, "--port", str(args.port)],
                          args.port, args.server_cpu, "/healthz", logs)
    token = token_id = None
    runs = []
    try:
        status, body = http_json("POST", server.base + "/api/auth/token", {"username": user.username, "password": PASSWORD, "name": "api_hop"})
        if status != 201:
            raise SystemExit(f"POST /api/auth/token: {status} {body}")
        token, token_id = body["token"], body["id"]
        for name, (path, with_token) in TARGETS.items():  # each answers, and the list routes alike
            status, page = http_json("GET", server.base + path, token=token if with_token else None)
            if status != 200:
                raise SystemExit(f"{name}: GET {path} answered {status}: {page}")
            if "list" in name or "records" in name:
                ids = [r["id"] for r in page["items"]]
                if len(ids) != 50:
                    raise SystemExit(f"{name}: {len(ids)} rows")
        print(f"Server: uvicorn, {server.stack}; load average at the start {load}", flush=True)
        names = list(TARGETS)
        for name in names:  # warm-up
            path, with_token = TARGETS[name]
            run_wrk(server.base + path, WRK_LIST, 1, 2, args.wrk_cpu, [f"Authorization: Bearer {token}"] if with_token else [])
        for round_number in range(1, args.rounds + 1):
            order = names if round_number % 2 else names[::-1]
            for connections in args.connections:
                for name in order:
                    path, with_token = TARGETS[name]
                    headers = [f"Authorization: Bearer {token}"] if with_token else []
                    raw = run_wrk(server.base + path, WRK_LIST, connections, args.duration, args.wrk_cpu, headers)
                    if raw["non_2xx_3xx"]:
                        raise SystemExit(f"{name}: {raw['non_2xx_3xx']} error responses")
                    run = as_run(name, connections, round_number, raw)
                    _, seen = http_json("GET", server.base + "/bench/hop/stats")
                    run.server = seen  # type: ignore[attr-defined]
                    runs.append(run)
                    own = seen.get(name, {}).get("median_ms")
                    print(f"  round {round_number} -c{connections} {name:<36} {run.rate:8,.0f} req/s  p50 {run.p50_ms:6.2f} ms  "
                          f"p99 {run.p99_ms:6.2f} ms" + (f"  handler's own time {own:.2f} ms" if own else "")
                          + f"  GC {seen['gc']['collections']} collections, {seen['gc']['total_ms']:.0f} ms", flush=True)
    finally:
        if token_id is not None and server.process.poll() is None:
            http_json("DELETE", f"{server.base}/api/auth/tokens/{token_id}", token=token)
        server.stop()
        shutil.rmtree(logs, ignore_errors=True)

    rows = ["| Route (median of the rounds) | " + " | ".join(f"-c{c} req/s | -c{c} p50" for c in args.connections)
            + " | handler's own time (-c1) | GC ms per s (-c1) |",
            "| --- | " + " | ".join("---: | ---:" for _ in args.connections) + " | ---: | ---: |"]
    for name in TARGETS:
        cells = []
        for c in args.connections:
            mine = [r for r in runs if r.target == name and r.connections == c]
            cells.append(f"{statistics.median(r.rate for r in mine):,.0f} | {statistics.median(r.p50_ms for r in mine):.2f} ms")
        first = [r for r in runs if r.target == name and r.connections == args.connections[0]]
        own = [r.server[name]["median_ms"] for r in first if r.server.get(name, {}).get("median_ms")]
        gc_share = statistics.median(r.server["gc"]["total_ms"] / r.seconds for r in first)
        rows.append(f"| {name} | " + " | ".join(cells) + f" | {f'{statistics.median(own):.2f} ms' if own else '—'} | {gc_share:.1f} |")
    print(f"\n{dialect}, revision {api_bench.revision()['revision']}, uvicorn {server.stack}, {args.duration} s per run, "
          f"{args.rounds} rounds, load average at the start {load}\n\n" + "\n".join(rows))
    api_bench.RESULTS_DIR.mkdir(exist_ok=True)
    path = api_bench.RESULTS_DIR / f"api_hop-{dialect}-{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps({"database": args.database, "load": load, "stack": server.stack, "revision": api_bench.revision(),
                                "runs": [{**asdict(r), "server": r.server} for r in runs]}, indent=2, default=str))
    print(f"\nRaw results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
