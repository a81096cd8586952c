"""REST API benchmark over HTTP: the records list beside a raw-SQL floor, and record creates.

    python bench/api_bench.py --database URL [--skip-generate] [--duration 10] [--rounds 2]
                              [--connections 1,8] [--create-connections 1,4] [--profile] [--breakdown]

Without --skip-generate the database is migrated and, when it holds no deals yet, filled
by bench/generate.py with --accounts accounts, 5 deals per account and --owners owners
(bench.user01 ..) taking turns. Then:

* Setup (idempotent): the permission set ``bench_rep`` (deal: read team, create own,
  update own, delete none; account: read all), a team "Bench team" of the first
  --team-size owners, and bench.user01 in it with the role bench_rep and a password. So
  the list runs as a non-admin user and the permission condition is part of its SQL.
  Planner statistics are refreshed (ANALYZE).
* The SQL check: the list is run once through ``runtime.records.list`` with SQL capture;
  the statement must be exactly ``floor_app.SQL[dialect]`` with the floor's parameters.
* Two servers, each uvicorn in one process pinned to --server-cpu with ``taskset``: the
  application (``create_app(runtime)``, no plugins) and the floor
  (bench/floor_app.py), both started by ``floor_app.serve`` (``http="auto"``,
  ``loop="auto"``: httptools and uvloop when installed); each reports the protocol class
  and event loop it runs on, they must be the same, and the report names them. A bearer
  token is made with POST /api/auth/token; both servers must return the same ids in the
  same order (and the same has_more) before timing.
* Lists: ``wrk -t1 -cC -dDs --latency`` pinned to --wrk-cpu, against
  ``GET /api/records/deal?stage=won&sort=-close_date&limit=50`` (bearer token) and
  ``GET /floor/deal?stage=won``, for each C of --connections, in --rounds rounds whose
  order alternates (floor first, then API first, ...), after a 2 s warm-up of each.
* Creates: ``POST /api/records/deal`` of a JSON deal (a distinct name each time) with the
  bearer token, wrk with a Lua script, for each C of --create-connections. The Lua script
  counts the 201s and the other statuses; afterwards the number of new deal rows must be
  the number of 201s (up to C requests still in flight when wrk stops are allowed and
  reported). The deals created are deleted at the end (raw DELETE of ids above the
  highest id before the run), so runs can be repeated.
* Every run also reports the server's CPU time per request: the user and system time of
  its process (all threads, from /proc) during the run, divided by the requests served.
  On a shared machine it moves less than requests/s, which also count the time a server
  waits to be scheduled.
* --profile: py-spy samples the application server during one more list run and one
  more create run (not the timed ones); the busiest functions are printed and the raw
  samples saved.
* --breakdown: the pieces of a request timed in this process (see ``breakdown``), and on
  PostgreSQL the round trips of one list and one token check (see ``round_trips``).

A markdown table is printed; the raw results (every wrk run) go to
bench/results/api_bench-<database>-<time>.json and the table is appended to
bench/results/api_bench.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import re
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(0, str(ROOT))  # the code next to this script, even when the package is installed from elsewhere

import sqlalchemy as sa  # noqa: E402
from sqlalchemy import event  # noqa: E402

import floor_app  # noqa: E402
from generate import DEALS_PER_ACCOUNT, generate, prepare, row_counts  # noqa: E402

from core.auth import Accounts  # noqa: E402
from core.db import write_transaction  # noqa: E402
from core.records import Actor  # noqa: E402
from core.roles import Roles  # noqa: E402
from core.runtime import Runtime  # noqa: E402
from core.settings import Settings  # noqa: E402

RESULTS_DIR = BENCH_DIR / "results"
LIST_PATH = "/api/records/deal?stage=won&sort=-close_date&limit=50"
LIST_PARAMS = {"stage": "won", "sort": "-close_date", "limit": "50"}
FLOOR_PATH = "/floor/deal?stage=won"
PERMISSION_SET = "bench_rep"
PERMISSION_CHANGESET = {
    "format": "tessera-changeset/1",
    "permission_sets": [{
        "name": PERMISSION_SET,
        "label": {"en": "Bench rep", "zh-CN": "基准销售"},
        "objects": {"deal": {"read": "team", "create": "own", "update": "own", "delete": "none"},
                    "account": {"read": "all"}},
    }],
}
TEAM_NAME = "Bench team"
PASSWORD = "bench-password-2026"
LIST_TARGET_RATIO = 0.5  # API list req/s ≥ half the floor's
CREATE_TARGET = 500  # creates/s through HTTP on SQLite
WARMUP_SECONDS = 2

# wrk prints exact figures (latencies in microseconds) from done(); the list script has no
# request()/response() functions, so wrk keeps its fast path of one pre-built request.
WRK_DONE = r"""
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRK_RESULT {"requests": %d, "duration_us": %d, "bytes": %d, "connect_errors": %d, ' ..
    '"read_errors": %d, "write_errors": %d, "timeouts": %d, "non_2xx_3xx": %d, "p50_us": %d, "p90_us": %d, ' ..
    '"p99_us": %d, "p999_us": %d, "mean_us": %.1f, "max_us": %d, "created": %d, "other_status": %d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    latency.mean, latency.max, total("created"), total("other")))
end
"""

WRK_LIST = r"""
local threads = {}
function setup(thread) table.insert(threads, thread) end
function total(name) return 0 end
""" + WRK_DONE

WRK_CREATE = r"""
local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_number", #threads)
end
function total(name)
  local sum = 0
  for _, t in ipairs(threads) do sum = sum + (t:get(name) or 0) end
  return sum
end
created, other, counter = 0, 0, 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer @TOKEN@"
local first_account, accounts = @FIRST_ACCOUNT@, @ACCOUNTS@
function request()
  counter = counter + 1
  local account = first_account + (counter * 7919 + thread_number * 104729) % accounts
  local body = string.format('{"name": "API bench %d-%d", "account": %d, "stage": "won", "amount": %d.45, ' ..
    '"close_date": "2026-01-31", "probability": 100}', thread_number, counter, account, 1000 + counter % 5000)
  return wrk.format(nil, "/api/records/deal", nil, body)
end
function response(status, headers, body)
  if status == 201 then created = created + 1 else other = other + 1 end
end
""" + WRK_DONE


# --- machine and code ---------------------------------------------------------------------------


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def memory_gib() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
    return "unknown"


def git(*args: str) -> str:
    try:
        out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10)
        return out.stdout
    except (OSError, subprocess.SubprocessError):
        return ""


def revision() -> dict:
    """The commit, and the files of the code under test that differ from it."""
    status = git("status", "--porcelain", "--", "core", "ui", "metadata", "bench")
    changed = [line[3:] for line in status.splitlines() if len(line) > 3]
    return {"revision": git("rev-parse", "--short", "HEAD").strip() or "unknown", "changed_files": changed}


def versions() -> str:
    from importlib.metadata import version  # noqa: PLC0415

    names = ("litestar", "uvicorn", "httptools", "uvloop", "msgspec", "sqlalchemy", "psycopg")
    found = []
    for name in names:
        with contextlib.suppress(Exception):
            found.append(f"{name} {version(name)}")
    return ", ".join([f"Python {platform.python_version()}"] + found)


def wrk_version() -> str:
    out = subprocess.run(["wrk", "--version"], capture_output=True, text=True)
    return (out.stdout or out.stderr).splitlines()[0].split(" Copyright")[0].strip()


def server_version(engine: sa.Engine) -> str:
    if engine.dialect.name == "sqlite":
        return f"SQLite {sqlite3.sqlite_version} (WAL, synchronous=NORMAL)"
    with engine.connect() as conn:
        names = ("server_version", "fsync", "synchronous_commit", "shared_buffers", "jit")
        values = {n: conn.exec_driver_sql(f"SHOW {n}").scalar_one() for n in names}
    return f"PostgreSQL {values.pop('server_version')} (" + ", ".join(f"{k}={v}" for k, v in values.items()) + ")"


# --- data and the benchmark user ------------------------------------------------------------------


@dataclass
class BenchUser:
    user_id: int
    username: str
    team: list[str]
    owners: int


def ensure_data(runtime: Runtime, args: argparse.Namespace) -> None:
    prepare(runtime)
    counts = row_counts(runtime)
    if counts["deal"]:
        print(f"The database holds {counts['account']:,} accounts and {counts['deal']:,} deals: not generating.", flush=True)
        return
    print(f"Generating {args.accounts:,} accounts and {args.accounts * DEALS_PER_ACCOUNT:,} deals owned by "
          f"{args.owners} users through the record service", flush=True)
    generate(runtime, args.accounts, owners=args.owners, log=lambda line: print(line, flush=True))


def ensure_bench_user(runtime: Runtime, team_size: int) -> BenchUser:
    """bench.user01 with the role bench_rep, in a team with the first ``team_size`` owners."""
    runtime.import_changeset(PERMISSION_CHANGESET, "bench/api_bench.py", "bench")
    system = Actor.system()
    records = runtime.records
    owners = [u for u in records.each(system, "user", {"username__startswith": "bench.user", "sort": "username"})]
    if not owners:
        raise SystemExit("The deals have no owners: generate the data with `bench/generate.py --owners N` "
                         "(or let this script do it on an empty database).")
    with runtime.engine.connect() as conn:
        owned = conn.exec_driver_sql("SELECT count(*) FROM deal WHERE owner IS NOT NULL").scalar_one()
    if not owned:
        raise SystemExit("No deal has an owner: generate the data with `bench/generate.py --owners N`.")
    found = records.list(system, "team", {"name": TEAM_NAME, "limit": 1}).items
    team_id = found[0]["id"] if found else records.create(system, "team", {"name": TEAM_NAME})["id"]
    accounts = Accounts(runtime)
    with records.transaction(system) as tx:
        role_id = Roles(runtime).role_id(tx, PERMISSION_SET)
    me = owners[0]
    for user in owners[:team_size]:
        current = records.get(system, "user", user["id"])
        changes: dict[str, Any] = {}
        team_ids = [t["id"] for t in current.get("teams") or []]
        if team_id not in team_ids:
            changes["teams"] = team_ids + [team_id]
        if user["id"] == me["id"] and (current.get("role") or {}).get("id") != role_id:
            changes["role"] = role_id
        if changes:
            records.update(system, "user", user["id"], changes, version=current["version"])
    accounts.set_password(me["id"], PASSWORD, me["username"])
    return BenchUser(me["id"], me["username"], [u["username"] for u in owners[:team_size]], len(owners))


def analyze(engine: sa.Engine) -> None:
    """Planner statistics, as one would refresh them after a bulk load."""
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
    else:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM (ANALYZE) account, deal, \"user\", user__teams")


def service_sql(runtime: Runtime, user: BenchUser) -> tuple[str, Any, list[int]]:
    """The list statement the record service sends for the bench user, its parameters and the ids it returns."""
    seen: list[tuple[str, Any]] = []

    def capture(_conn, _cursor, statement, parameters, _context, _executemany):
        seen.append((statement, parameters))

    event.listen(runtime.engine, "before_cursor_execute", capture)
    try:
        page = runtime.records.list(Actor(user.user_id, user.username, PERMISSION_SET), "deal", LIST_PARAMS)
    finally:
        event.remove(runtime.engine, "before_cursor_execute", capture)
    statements = [(s, p) for s, p in seen if "FROM deal" in s]
    if len(statements) != 1:
        raise SystemExit(f"expected one SELECT from deal for the list, saw {len(statements)}: {seen}")
    statement, parameters = statements[0]
    return statement, parameters, [r["id"] for r in page.items]


def check_floor_sql(dialect: str, statement: str, parameters: Any, user: BenchUser) -> None:
    expected = floor_app.SQL[dialect]
    if statement != expected:
        same_words = floor_app.normalized(statement) == floor_app.normalized(expected)
        raise SystemExit("The record service no longer sends the floor's SQL"
                         + (" (only white space differs)" if same_words else "")
                         + f"; update floor_app.SQL['{dialect}'] to:\n{statement}")
    wanted = floor_app.parameters(dialect, "won", user.user_id)
    if (tuple(parameters) if dialect == "sqlite" else parameters) != wanted:
        raise SystemExit(f"The service binds {parameters!r}; the floor binds {wanted!r}")


def query_plan(engine: sa.Engine, dialect: str, user: BenchUser) -> str:
    sql = floor_app.SQL[dialect]
    params = floor_app.parameters(dialect, "won", user.user_id)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if dialect == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
            return "; ".join(r[-1] for r in cursor.fetchall())
        cursor.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) " + sql, params)
        return " / ".join(r[0].strip() for r in cursor.fetchall())
    finally:
        raw.close()


def visible_counts(engine: sa.Engine, user: BenchUser) -> dict[str, int]:
    with engine.connect() as conn:
        team_ids = list(conn.execute(sa.text(
            "SELECT t.source_id FROM user__teams t WHERE t.target_id IN (SELECT target_id FROM user__teams WHERE source_id = :me)"
        ), {"me": user.user_id}).scalars())
        if user.user_id not in team_ids:
            team_ids.append(user.user_id)
        marks = ", ".join(str(int(i)) for i in team_ids)
        won = conn.execute(sa.text(f"SELECT count(*) FROM deal WHERE stage = 'won' AND deleted_at IS NULL AND owner IN ({marks})")).scalar_one()
        all_won = conn.execute(sa.text("SELECT count(*) FROM deal WHERE stage = 'won' AND deleted_at IS NULL")).scalar_one()
    return {"won_deals": all_won, "won_deals_visible": won}


# --- servers ------------------------------------------------------------------------------------------


def serve_api(database_url: str, port: int) -> None:
    from core.api.app import create_app  # noqa: PLC0415

    runtime = Runtime(Settings(database_url=database_url, plugins=()))
    app = create_app(runtime)
    floor_app.serve(app, "127.0.0.1", port)


def free_port(port: int) -> None:
    with socket.socket() as sock:
        if sock.connect_ex(("127.0.0.1", port)) == 0:
            raise SystemExit(f"port {port} is in use; choose others with --api-port/--floor-port")


def server_stack(log: Path) -> str:
    """What uvicorn runs the server on, from the line ``floor_app.serve`` prints once started."""
    for line in log.read_text().splitlines():
        if line.startswith(floor_app.STACK_MARK):
            return line[len(floor_app.STACK_MARK):].strip()
    raise SystemExit(f"{log}: the server did not report its HTTP protocol and event loop")


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen
    log: Path
    stack: str = ""

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def start_server(name: str, command: list[str], port: int, cpu: int, ready_path: str, logs: Path) -> Server:
    free_port(port)
    log = logs / f"{name}.log"
    process = subprocess.Popen(["taskset", "-c", str(cpu), sys.executable, *command], cwd=ROOT,
                               stdout=log.open("w"), stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    server = Server(name, port, process, log)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the {name} server stopped at start-up:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(OSError, urllib.error.URLError):
            with urllib.request.urlopen(server.base + ready_path, timeout=5) as response:
                if response.status == 200:
                    server.stack = server_stack(log)
                    return server
        time.sleep(0.2)
    server.stop()
    raise SystemExit(f"the {name} server did not answer {ready_path} within 120 s")


def http_json(method: str, url: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
    headers = {"Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


# --- wrk ------------------------------------------------------------------------------------------------


@dataclass
class WrkRun:
    target: str  # "floor" | "api" | "create"
    connections: int
    round: int
    requests: int
    seconds: float
    rate: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    p999_ms: float
    mean_ms: float
    max_ms: float
    bytes_per_response: float
    non_2xx_3xx: int
    socket_errors: int
    created: int = 0
    other_status: int = 0
    rows_added: int | None = None
    server_cpu_ms: float | None = None  # the server process's CPU time (user + system) per request


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measured(server: "Server", run: Callable[[], dict]) -> dict:
    """``run()``'s wrk result, with the server's CPU time during it."""
    before = process_cpu_seconds(server.process.pid)
    raw = run()
    raw["server_cpu_seconds"] = process_cpu_seconds(server.process.pid) - before
    return raw


def run_wrk(url: str, script: str, connections: int, seconds: int, cpu: int, headers: list[str] = ()) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
        script_path = handle.name
    try:
        command = ["taskset", "-c", str(cpu), "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency",
                   "--timeout", "30s", "-s", script_path]
        for header in headers:
            command += ["-H", header]
        out = subprocess.run(command + [url], capture_output=True, text=True, timeout=seconds + 120)
    finally:
        os.unlink(script_path)
    for line in out.stdout.splitlines():
        if line.startswith("WRK_RESULT "):
            result = json.loads(line[len("WRK_RESULT "):])
            result["output"] = out.stdout
            return result
    raise SystemExit(f"wrk failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")


def as_run(target: str, connections: int, round_number: int, raw: dict) -> WrkRun:
    seconds = raw["duration_us"] / 1e6
    return WrkRun(
        target, connections, round_number, raw["requests"], seconds, raw["requests"] / seconds,
        raw["p50_us"] / 1000, raw["p90_us"] / 1000, raw["p99_us"] / 1000, raw["p999_us"] / 1000, raw["mean_us"] / 1000,
        raw["max_us"] / 1000, raw["bytes"] / max(1, raw["requests"]), raw["non_2xx_3xx"],
        raw["connect_errors"] + raw["read_errors"] + raw["write_errors"] + raw["timeouts"],
        raw["created"], raw["other_status"],
        server_cpu_ms=raw["server_cpu_seconds"] * 1000 / max(1, raw["requests"]) if "server_cpu_seconds" in raw else None,
    )


# --- profiling ----------------------------------------------------------------------------------------


def py_spy_available() -> str | None:
    found = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    return found if Path(found).exists() else None


def profile_during(pid: int, seconds: float, out: Path, run: Callable[[], Any]) -> list[str]:
    """Sample ``pid`` with py-spy while ``run()`` loads it; return a summary of where the time went."""
    spy = py_spy_available()
    if spy is None:
        return ["py-spy is not installed (pip install py-spy): no profile"]
    raw_path = out.with_suffix(".txt")
    sampler = subprocess.Popen([spy, "record", "-p", str(pid), "-d", str(int(seconds) + 1), "-r", "1000", "-f", "raw", "--full-filenames",
                                "-o", str(raw_path)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)
    run()
    _, err = sampler.communicate(timeout=seconds + 60)
    if not raw_path.exists():
        return [f"py-spy failed: {err.strip()[-500:]}"]
    return summarize_profile(raw_path)


# Leaves where a thread waits rather than works (py-spy cannot always tell a blocked thread
# from a running one here): the executor's idle workers, the logging queue's listener thread,
# and the event loop waiting in epoll: asyncio's selector, or uvloop's loop, which is C code
# that py-spy shows as its Python caller ``Runner.run`` (so uvloop's own C work is left out too).
IDLE_LEAVES = {"_worker (concurrent/futures/thread.py)", "select (selectors.py)", "EpollSelector.select (selectors.py)",
               "wait (threading.py)", "Condition.wait (threading.py)", "Runner.run (asyncio/runners.py)"}


def summarize_profile(raw_path: Path, top: int = 30) -> list[str]:
    """Inclusive share of busy samples per function (each function counted once per stack)."""
    inclusive: Counter = Counter()
    own: Counter = Counter()
    total = idle = 0
    for line in raw_path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        frames = stack.split(";")
        names = [_frame_name(f) for f in frames]
        if names[-1] in IDLE_LEAVES:
            idle += n
            continue
        total += n
        for name in set(names):
            inclusive[name] += n
        own[names[-1]] += n
    if not total:
        return ["no samples"]
    lines = [f"{total:,} busy samples ({idle:,} idle ones left out); inclusive share of the busy time, then own (self) share:"]
    for name, n in inclusive.most_common(top):
        lines.append(f"  {100 * n / total:5.1f}%  {100 * own[name] / total:5.1f}%  {name}")
    return lines


def _frame_name(frame: str) -> str:
    # py-spy raw frames look like "function (path/to/file.py:123)"
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", str(ROOT) + "/", sysconfig.get_paths()["stdlib"] + "/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{name} ({path})"


# --- report ------------------------------------------------------------------------------------------


@dataclass
class Results:
    started: str
    database: str
    dialect: str
    machine: dict
    data: dict
    plan: str
    runs: list[WrkRun] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)
    profiles: dict[str, list[str]] = field(default_factory=dict)
    breakdown: list[str] = field(default_factory=list)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def spread(values: list[float], fmt: str) -> str:
    if len(values) < 2:
        return ""
    return f" [{format(min(values), fmt)}–{format(max(values), fmt)}]"


def table(results: Results) -> str:
    rows = ["| Measure | Floor (raw SQL route) | Tessera API | API / floor | Target | Met |",
            "| --- | ---: | ---: | ---: | --- | --- |"]
    for c in sorted({r.connections for r in results.runs if r.target in ("floor", "api")}):
        floor = [r for r in results.runs if r.target == "floor" and r.connections == c]
        api = [r for r in results.runs if r.target == "api" and r.connections == c]
        f_rate, a_rate = median([r.rate for r in floor]), median([r.rate for r in api])
        ratio = a_rate / f_rate
        target, met = ("≥ 0.5x the floor", "yes" if ratio >= LIST_TARGET_RATIO else "**no**") if c == 1 else ("—", "—")
        rows.append(f"| List, {c} connection{'s' if c > 1 else ''}: requests/s (median of {len(api)} runs) | "
                    f"{f_rate:,.0f}{spread([r.rate for r in floor], ',.0f')} | {a_rate:,.0f}{spread([r.rate for r in api], ',.0f')} | "
                    f"{ratio:.2f}x | {target} | {met} |")
        for label, attr in (("p50", "p50_ms"), ("p99", "p99_ms")):
            f_ms, a_ms = median([getattr(r, attr) for r in floor]), median([getattr(r, attr) for r in api])
            rows.append(f"| List, {c} conn.: {label} latency | {f_ms:.2f} ms | {a_ms:.2f} ms | {a_ms / f_ms:.2f}x | — | — |")
        f_cpu, a_cpu = median([r.server_cpu_ms for r in floor]), median([r.server_cpu_ms for r in api])
        rows.append(f"| List, {c} conn.: server CPU per request | {f_cpu:.2f} ms | {a_cpu:.2f} ms | {a_cpu / f_cpu:.2f}x | — | — |")
    for r in [r for r in results.runs if r.target == "create"]:
        sqlite = results.dialect == "sqlite"
        target = f"≥ {CREATE_TARGET}/s on SQLite" if sqlite else "— (SQLite only)"
        met = ("yes" if r.rate >= CREATE_TARGET else "**no**") if sqlite else "—"
        rows.append(f"| Creates, {r.connections} connection{'s' if r.connections > 1 else ''}: 201s per second "
                    f"(p50 {r.p50_ms:.2f} ms, p99 {r.p99_ms:.2f} ms, server CPU {r.server_cpu_ms:.2f} ms) | — | "
                    f"{r.created / r.seconds:,.0f} | — | {target} | {met} |")
    return "\n".join(rows)


def describe(results: Results) -> list[str]:
    m, d = results.machine, results.data
    changed = m["changed_files"]
    return [
        f"- Date: {results.started}; code: revision {m['revision']}"
        + (f" with uncommitted changes in {', '.join(changed)}" if changed else " (clean tree)"),
        f"- Machine: {m['cpu']}, nproc {m['nproc']}, memory {m['memory']}, {m['system']}; load average at the start {m['load']}",
        f"- Software: {m['versions']}; {m['wrk']}",
        f"- Database: {m['database']} at {results.database}",
        f"- Data: {d['account']:,} accounts, {d['deal']:,} deals ({d['won_deals']:,} won) owned by {d['owners']} users; "
        f"the bench user {d['user']} (role {PERMISSION_SET}: deal read scope team) is in a team of {len(d['team'])} "
        f"({d['team'][0]} .. {d['team'][-1]}), so {d['won_deals_visible']:,} won deals are visible to it",
        f"- Servers: uvicorn ({m.get('server_stack') or 'stack not reported'}), one process each, pinned to CPU {m['server_cpu']}; wrk -t1 pinned to CPU {m['wrk_cpu']}; "
        f"{m['duration']} s per run, {m['rounds']} rounds alternating floor/API",
        f"- Response sizes: floor {d.get('floor_bytes', 0):,.0f} bytes, API {d.get('api_bytes', 0):,.0f} bytes (with headers)",
        f"- Plan: {results.plan}",
    ]


def save(results: Results, text: str) -> Path:
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = RESULTS_DIR / f"api_bench-{results.dialect}-{stamp}.json"
    data = asdict(results)
    path.write_text(json.dumps(data, indent=2, default=str))
    with (RESULTS_DIR / "api_bench.md").open("a") as handle:
        handle.write(f"\n## {results.dialect}, {results.started}\n\n{text}\n")
    return path


# --- the benchmark ----------------------------------------------------------------------------------


def connections_list(text: str) -> list[int]:
    values = [int(v) for v in text.split(",") if v.strip()]
    if any(v < 1 for v in values):
        raise argparse.ArgumentTypeError("connections must be 1 or more")
    return values


def bench(args: argparse.Namespace) -> int:
    runtime = Runtime(Settings(database_url=args.database, plugins=()))
    engine = runtime.engine
    dialect = engine.dialect.name
    started = dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    try:
        if not args.skip_generate:
            ensure_data(runtime, args)
        user = ensure_bench_user(runtime, args.team_size)
        print("Refreshing planner statistics", flush=True)
        analyze(engine)
        statement, parameters, service_ids = service_sql(runtime, user)
        check_floor_sql(dialect, statement, parameters, user)
        counts = row_counts(runtime)
        data = {**counts, "owners": user.owners, "user": user.username, "user_id": user.user_id, "team": user.team,
                **visible_counts(engine, user)}
        with engine.connect() as conn:
            account_range = conn.exec_driver_sql("SELECT min(id), max(id) FROM account").one()
        plan = query_plan(engine, dialect, user)
    finally:
        runtime.close()
    machine = {
        **revision(), "cpu": cpu_model(), "nproc": len(os.sched_getaffinity(0)), "memory": memory_gib(),
        "system": f"{platform.system()} {platform.release()}", "load": load, "versions": versions(), "wrk": wrk_version(),
        "database": None, "server_cpu": args.server_cpu, "wrk_cpu": args.wrk_cpu, "duration": args.duration, "rounds": args.rounds,
    }
    runtime = Runtime(Settings(database_url=args.database, plugins=()))
    machine["database"] = server_version(runtime.engine)
    results = Results(started, runtime.engine.url.render_as_string(hide_password=True), dialect, machine, data, plan)
    results.checks.append("The record service sends exactly the floor's SQL with the floor's parameters.")
    print(f"Data: {counts['account']:,} accounts, {counts['deal']:,} deals; {data['won_deals_visible']:,} of "
          f"{data['won_deals']:,} won deals visible to {user.username}\nPlan: {plan}", flush=True)

    logs = Path(tempfile.mkdtemp(prefix="api_bench_"))
    servers: list[Server] = []
    token_id = token = None
    try:
        api = start_server("api", [str(Path(__file__).resolve()), "--serve-api", "--database", args.database,
                                   "--api-port", str(args.api_port)], args.api_port, args.server_cpu, "/healthz", logs)
        servers.append(api)
        floor = start_server("floor", [str(BENCH_DIR / "floor_app.py"), "--database", args.database, "--actor-id", str(user.user_id),
                                       "--port", str(args.floor_port)], args.floor_port, args.server_cpu, FLOOR_PATH, logs)
        servers.append(floor)
        if api.stack != floor.stack:
            raise SystemExit(f"The servers run on different stacks: API {api.stack}, floor {floor.stack}")
        results.machine["server_stack"] = api.stack
        print(f"Servers: uvicorn, {api.stack}", flush=True)
        status, body = http_json("POST", api.base + "/api/auth/token",
                                 {"username": user.username, "password": PASSWORD, "name": "api_bench"})
        if status != 201:
            raise SystemExit(f"POST /api/auth/token: {status} {body}")
        token, token_id = body["token"], body["id"]

        # the same page from both
        status, api_page = http_json("GET", api.base + LIST_PATH, token=token)
        if status != 200:
            raise SystemExit(f"GET {LIST_PATH}: {status} {api_page}")
        _, floor_page = http_json("GET", floor.base + FLOOR_PATH)
        api_ids, floor_ids = [r["id"] for r in api_page["items"]], [r["id"] for r in floor_page["items"]]
        if api_ids != floor_ids or api_page["has_more"] != floor_page["has_more"] or len(api_ids) != 50 or api_ids != service_ids:
            raise SystemExit(f"The API and the floor return different pages:\nAPI   {api_ids}\nfloor {floor_ids}")
        if any((r.get("owner") or {}).get("label") not in user.team for r in api_page["items"]):
            raise SystemExit("The API returned a deal outside the bench user's team")
        labels = [(r["account"] or {}).get("label") for r in api_page["items"]]
        if labels != [r["account__label"] for r in floor_page["items"]]:
            raise SystemExit("The API and the floor return different account labels")
        results.checks.append("API and floor returned the same 50 ids in the same order, the same account labels and has_more; "
                              "every deal's owner is in the bench user's team.")
        auth = [f"Authorization: Bearer {token}"]
        targets = {"floor": (floor.base + FLOOR_PATH, []), "api": (api.base + LIST_PATH, auth)}

        print(f"Warm-up ({WARMUP_SECONDS} s each)", flush=True)
        for name, (url, headers) in targets.items():
            raw = run_wrk(url, WRK_LIST, 1, WARMUP_SECONDS, args.wrk_cpu, headers)
            if raw["non_2xx_3xx"]:
                raise SystemExit(f"{name}: {raw['non_2xx_3xx']} error responses in the warm-up")
            data[f"{name}_bytes"] = raw["bytes"] / max(1, raw["requests"])

        for round_number in range(1, args.rounds + 1):
            order = ["floor", "api"] if round_number % 2 else ["api", "floor"]
            for connections in args.connections:
                for name in order:
                    url, headers = targets[name]
                    server = floor if name == "floor" else api
                    run = as_run(name, connections, round_number, measured(
                        server, lambda: run_wrk(url, WRK_LIST, connections, args.duration, args.wrk_cpu, headers)))
                    results.runs.append(run)
                    print(f"  round {round_number} list {name:>5} -c{connections}: {run.rate:8,.0f} req/s  p50 {run.p50_ms:6.2f} ms  "
                          f"p99 {run.p99_ms:6.2f} ms  server CPU {run.server_cpu_ms:5.2f} ms/request  "
                          f"errors {run.non_2xx_3xx + run.socket_errors}", flush=True)

        if args.create_connections:
            creates(args, results, runtime, api, token, account_range, user)

        if args.profile:
            profile(args, results, api, targets["api"], token, account_range, runtime)

        if args.breakdown:
            results.breakdown = breakdown(args.database, user, token, account_range)
    finally:
        if token_id is not None and servers and servers[0].process.poll() is None:
            http_json("DELETE", f"{servers[0].base}/api/auth/tokens/{token_id}", token=token)
        for server in servers:
            server.stop()
        runtime.close()

    text = table(results)
    report = "\n".join(describe(results)) + "\n\n" + text + "\n\n" + "\n".join(f"- {c}" for c in results.checks)
    if results.breakdown:
        report += "\n\nIn-process costs (the benchmark's own process, no HTTP):\n\n" + "\n".join(results.breakdown)
    print("\n" + report)
    for name, lines in results.profiles.items():
        print(f"\nProfile of the API server, {name}:\n" + "\n".join(lines))
    if not args.no_save:
        path = save(results, report)
        print(f"\nRaw results: {path}")
    shutil.rmtree(logs, ignore_errors=True)
    return 0


def max_deal_id(runtime: Runtime) -> int:
    with runtime.engine.connect() as conn:
        return conn.exec_driver_sql("SELECT coalesce(max(id), 0) FROM deal").scalar_one()


def delete_created(runtime: Runtime, above: int) -> int:
    with write_transaction(runtime.engine) as conn:
        deleted = conn.execute(sa.text("DELETE FROM deal WHERE id > :above"), {"above": above}).rowcount
    if runtime.engine.dialect.name == "postgresql":
        with runtime.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM (ANALYZE) deal")
    return deleted


def create_script(token: str, account_range: tuple[int, int]) -> str:
    first, last = account_range
    return (WRK_CREATE.replace("@TOKEN@", token).replace("@FIRST_ACCOUNT@", str(first))
            .replace("@ACCOUNTS@", str(last - first + 1)))


def creates(args, results: Results, runtime: Runtime, api: Server, token: str, account_range, user: BenchUser) -> None:
    script = create_script(token, account_range)
    before_all = max_deal_id(runtime)
    try:
        status, record = http_json("POST", api.base + "/api/records/deal",
                                   {"name": "API bench check", "account": account_range[0], "stage": "won", "amount": 123.45,
                                    "close_date": "2026-01-31", "probability": 100}, token=token)
        if status != 201 or (record.get("owner") or {}).get("id") != user.user_id:
            raise SystemExit(f"POST /api/records/deal: {status} {record}")
        for connections in args.create_connections:
            before = max_deal_id(runtime)
            with runtime.engine.connect() as conn:
                count_before = conn.exec_driver_sql("SELECT count(*) FROM deal").scalar_one()
            run = as_run("create", connections, 1, measured(api, lambda: run_wrk(api.base + "/api/records/deal", script, connections,
                                                                                 args.duration, args.wrk_cpu)))
            time.sleep(0.5)  # requests still in flight when wrk stopped
            with runtime.engine.connect() as conn:
                count_after = conn.exec_driver_sql("SELECT count(*) FROM deal").scalar_one()
                owners = conn.execute(sa.text("SELECT count(*) FROM deal WHERE id > :b AND owner = :me"),
                                      {"b": before, "me": user.user_id}).scalar_one()
            run.rows_added = count_after - count_before
            results.runs.append(run)
            in_flight = run.rows_added - run.created
            ok = 0 <= in_flight <= connections and run.other_status == 0 and owners == run.rows_added
            results.checks.append(
                f"Creates, {connections} connection(s): wrk counted {run.created:,} 201s and {run.other_status:,} other statuses "
                f"({run.socket_errors} socket errors); the deal table grew by {run.rows_added:,} rows"
                + (f" ({in_flight} request(s) still in flight when wrk stopped)" if in_flight else "")
                + f", all owned by {user.username}." + ("" if ok else " **MISMATCH**"))
            print(f"  creates -c{connections}: {run.created / run.seconds:8,.0f} /s  p50 {run.p50_ms:6.2f} ms  p99 {run.p99_ms:6.2f} ms  "
                  f"server CPU {run.server_cpu_ms:5.2f} ms/request  "
                  f"201s {run.created:,}  other {run.other_status}  rows added {run.rows_added:,}", flush=True)
            if not ok:
                print("  the row count does not match the 201s, or some responses were not 201", flush=True)
    finally:
        deleted = delete_created(runtime, before_all)
        results.checks.append(f"Deleted the {deleted:,} deals the benchmark created.")


def profile(args, results: Results, api: Server, list_target, token: str, account_range, runtime: Runtime) -> None:
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    url, headers = list_target
    out = RESULTS_DIR / f"api_bench-profile-{results.dialect}-list-{stamp}"
    results.profiles["list, 1 connection"] = profile_during(
        api.process.pid, args.duration, out, lambda: run_wrk(url, WRK_LIST, 1, args.duration, args.wrk_cpu, headers))
    if args.create_connections:
        before = max_deal_id(runtime)
        out = RESULTS_DIR / f"api_bench-profile-{results.dialect}-create-{stamp}"
        try:
            results.profiles["creates, 1 connection"] = profile_during(
                api.process.pid, args.duration, out,
                lambda: run_wrk(api.base + "/api/records/deal", create_script(token, account_range), 1, args.duration, args.wrk_cpu))
        finally:
            delete_created(runtime, before)


def floor_work(raw, dialect: str, user_id: int) -> Callable[[], bytes]:
    """The floor's work in this process: the list's SQL on the DB-API connection ``raw``, 50 rows as JSON."""
    import msgspec  # noqa: PLC0415

    sql, params = floor_app.SQL[dialect], floor_app.parameters(dialect, "won", user_id)

    def page() -> bytes:
        cursor = raw.cursor()
        cursor.execute(sql, params)
        columns = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
        cursor.close()
        return msgspec.json.encode({"items": [dict(zip(columns, r)) for r in rows[:50]], "has_more": len(rows) > 50})

    return page


def breakdown(database_url: str, user: BenchUser, token: str, account_range, runs: int = 300) -> list[str]:
    """Median in-process times of the pieces an API request is made of.

    First the whole paths (the floor's work, the service list, the token check, a create),
    then the list taken apart: the unit of work, the metadata version query, parsing and
    the (cached) statement, SQLAlchemy's execution and result beside the same SQL on the
    same connection's DB-API cursor, formatting the 50 rows, and encoding the page. The
    parts are timed separately, so they need not add up to the whole exactly. On
    PostgreSQL the round trips of one list and one token check are counted from libpq's
    trace of the connection.
    """
    import msgspec  # noqa: PLC0415

    from core.metadata import store  # noqa: PLC0415
    from core.query import parse  # noqa: PLC0415

    runtime = Runtime(Settings(database_url=database_url, plugins=()))
    accounts = Accounts(runtime)
    service = runtime.records
    actor = Actor(user.user_id, user.username, PERMISSION_SET)
    dialect, raw = floor_app.connect(database_url)
    sql, params = floor_app.SQL[dialect], floor_app.parameters(dialect, "won", user.user_id)

    floor_page = floor_work(raw, dialect, user.user_id)

    def service_page():
        return msgspec.json.encode(service.list(actor, "deal", LIST_PARAMS).as_dict())

    def unit_of_work():
        with runtime.reading():
            pass

    counter = iter(range(10**9))
    created_above = max_deal_id(runtime)

    def create():
        n = next(counter)
        service.create(actor, "deal", {"name": f"API bench breakdown {n}", "account": account_range[0] + n % (account_range[1] - account_range[0] + 1),
                                       "stage": "won", "amount": 123.45, "close_date": "2026-01-31", "probability": 100})

    def timed(call) -> float:
        for _ in range(30):
            call()
        samples = []
        for _ in range(runs):
            t0 = time.perf_counter()
            call()
            samples.append(time.perf_counter() - t0)
        return statistics.median(samples) * 1000

    lines = []
    try:
        figures = [
            ("raw list query + JSON (the floor's work, DB-API, autocommit)", timed(floor_page)),
            ("records.list + JSON, as served", timed(service_page)),
            ("Accounts.identity_for_token (each API request, on the event loop)", timed(lambda: accounts.identity_for_token(token))),
            ("records.create (one deal, own scope)", timed(create)),
        ]
        # the list taken apart, inside one open read transaction
        with runtime.reading() as (conn, schema):
            access = service._allowed(schema, actor, "deal", "read")
            obj = schema.meta.object("deal")
            queryable = schema.queryable("deal", access)
            reader = service._reader(schema, "deal", access)
            query = parse(obj, LIST_PARAMS, queryable)
            statement, values = service._statements.build(conn, schema, obj, query, access, reader)
            bound = {**actor.params, **values}
            rows = conn.execute(statement.select, bound).all()
            cursor_conn = conn.connection.dbapi_connection

            def parse_and_statement():
                q = parse(obj, LIST_PARAMS, schema.queryable("deal", access))
                service._statements.build(conn, schema, obj, q, access, service._reader(schema, "deal", access))

            def through_sqlalchemy():
                return conn.execute(statement.select, bound).all()

            def through_cursor():
                cursor = cursor_conn.cursor()
                cursor.execute(sql, params)
                found = cursor.fetchall()
                cursor.close()
                return found

            records = [service._format(reader, row) for row in rows[:50]]
            page = {"items": records, "limit": 50, "offset": 0, "has_more": len(rows) > 50}
            parts = [
                ("  runtime.reading() alone (pool checkout, BEGIN, metadata version query, COMMIT)", timed(unit_of_work)),
                ("  metadata version query alone (in an open transaction)", timed(lambda: store.current_version(conn))),
                ("  parse the query string + look up the cached statement", timed(parse_and_statement)),
                ("  list statement through SQLAlchemy: execute + .all() (51 rows)", timed(through_sqlalchemy)),
                ("  the same SQL on the same connection's DB-API cursor: execute + fetchall()", timed(through_cursor)),
                ("  format 50 rows (_format: dates, decimals, lookup labels)", timed(lambda: [service._format(reader, r) for r in rows[:50]])),
                ("  encode the page as JSON (msgspec)", timed(lambda: msgspec.json.encode(page))),
            ]
        figures += parts
        lines = [f"| {name} | {value:.3f} ms |" for name, value in figures]
        lines.insert(0, f"| In-process piece (median of {runs}) | Time |\n| --- | ---: |")
        if dialect == "postgresql":
            lines += ["", *round_trips(runtime, accounts, actor, token)]
    finally:
        delete_created(runtime, created_above)
        raw.close()
        runtime.close()
    return lines


def round_trips(runtime: Runtime, accounts: Accounts, actor: Actor, token: str) -> list[str]:
    """The messages a list and a token check send to PostgreSQL, from libpq's trace (psycopg's ``pgconn.trace``).

    The engine's pool is narrowed to one connection for this, so that both calls use the
    connection being traced; a round trip is counted at each message after which the
    client waits for the server (Sync, or a simple Query).
    """
    engine = sa.create_engine(runtime.engine.url, poolclass=sa.pool.StaticPool)
    original = runtime.engine
    runtime.engine = engine
    out: list[str] = []
    try:
        service_list = lambda: runtime.records.list(actor, "deal", LIST_PARAMS)  # noqa: E731
        for name, call in (("records.list", service_list), ("identity_for_token", lambda: accounts.identity_for_token(token))):
            call()  # the connection made, caches warm
            with engine.connect() as conn:
                pgconn = conn.connection.dbapi_connection.pgconn
            prepared: dict[str, str] = {}  # psycopg prepares a statement on its 5th use on a connection
            for _ in range(8):  # as in a server that has been running: report the last call
                with tempfile.TemporaryFile("w+") as trace:
                    pgconn.trace(trace.fileno())
                    try:
                        call()
                    finally:
                        pgconn.untrace()
                    trace.seek(0)
                    # one message a line, "time<TAB>F|B<TAB>length<TAB>type<TAB>fields"; a query's own newlines continue it
                    messages = re.split(r"\n(?=\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+\t)", trace.read().rstrip("\n"))
                    sent = [m.split("\t", 4) for m in messages if "\tF\t" in m[:40]]
                trips, pending = [], None
                for m in sent:
                    kind, fields = m[3], m[4] if len(m) > 4 else ""
                    if kind == "Query":
                        trips.append(_statement_name(fields.strip().strip('"')))
                    elif kind == "Parse" and (parsed := re.match(r'\s*"([^"]*)" "(.*)"', fields, re.DOTALL)):
                        if parsed[1]:
                            prepared[parsed[1]] = parsed[2]
                        pending = _statement_name(parsed[2])
                    elif kind == "Bind" and pending is None and (bound := re.match(r'\s*"[^"]*" "([^"]*)"', fields)):
                        pending = _statement_name(prepared.get(bound[1], "?")) + " (prepared)"
                    elif kind == "Sync":
                        trips.append(pending or "?")
                        pending = None
            out.append(f"- PostgreSQL round trips of one {name} (as called the 8th time on one connection): "
                       f"{len(trips)} ({'; '.join(trips)})")
    finally:
        runtime.engine = original
        engine.dispose()
    return out


def _statement_name(text: str) -> str:
    """A short name for a statement: BEGIN, COMMIT, or SELECT/INSERT/UPDATE and its first table."""
    verb = text.split(" ", 1)[0].upper()
    table = re.search(r"\b(?:FROM|INTO|UPDATE)\s+(\"?[\w.]+\"?)", text, re.IGNORECASE)
    return f"{verb} {table.group(1)}" if table and verb not in ("BEGIN", "COMMIT") else verb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", required=True, metavar="URL", help="sqlite:////tmp/bench_api_1m.db or postgresql+psycopg://...")
    parser.add_argument("--skip-generate", action="store_true", help="use the data as it is (no migration, no generation)")
    parser.add_argument("--accounts", type=int, default=200_000, help="accounts to generate on an empty database (deals: 5 per account)")
    parser.add_argument("--owners", type=int, default=20, help="owners to generate (default 20)")
    parser.add_argument("--team-size", type=int, default=5, help="owners in the bench user's team (default 5)")
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run (default 10)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of floor and API list runs, order alternating (default 2)")
    parser.add_argument("--connections", type=connections_list, default=[1, 8], help="list runs: wrk connections (default 1,8)")
    parser.add_argument("--create-connections", type=connections_list, default=[1, 4],
                        help="create runs: wrk connections (default 1,4; empty to skip creates)")
    parser.add_argument("--server-cpu", type=int, default=0)
    parser.add_argument("--wrk-cpu", type=int, default=1)
    parser.add_argument("--api-port", type=int, default=8731)
    parser.add_argument("--floor-port", type=int, default=8732)
    parser.add_argument("--profile", action="store_true", help="also sample the API server with py-spy (untimed runs)")
    parser.add_argument("--breakdown", action="store_true",
                        help="also time the pieces of a request in this process (service list, raw query, token check, ...)")
    parser.add_argument("--no-save", action="store_true")
    parser.add_argument("--serve-api", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_api:
        serve_api(args.database, args.api_port)
        return 0
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install -y wrk)")
    return bench(args)


if __name__ == "__main__":
    sys.exit(main())
