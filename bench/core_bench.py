"""Core benchmarks: the record service and schema changes, each beside a raw SQLAlchemy Core baseline.

    python bench/core_bench.py --database URL [--accounts N] [--skip-generate] [--profile]

Without --skip-generate the database must not hold deals yet; N accounts and 5N deals
are generated through the record service first (bench/generate.py). Measures:

* list page: ``records.list(actor, "deal", {"stage": "won", "sort": "-close_date", "limit": "50"})``
  against the same SELECT written by hand (same filter, sort with the id tie-breaker,
  LEFT JOINs for the account and owner labels, limit 51);
* get by id: ``records.get`` against a SELECT of the same columns by id;
* creates: ``records.create`` one by one and ``records.create_many`` in batches, against
  raw single-row inserts and a raw executemany of the same rows;
* adding a text field to deal with ``runtime.import_changeset`` against a raw
  ``ALTER TABLE deal ADD COLUMN``.

Service calls and their baselines alternate run by run. Rows created by the benchmark
are deleted at the end, the added fields are hidden (``removed``: their empty columns
stay until purged) and the raw columns dropped, so that runs can be repeated on the same data set. A markdown table is printed
and appended, with the machine and data size, to bench/results/core_bench.md.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import os
import platform
import pstats
import random
import sqlite3
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

import sqlalchemy as sa
from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import DEALS_PER_ACCOUNT, deal_row, generate, prepare, row_counts  # noqa: E402

from core.metadata.customize import set_removed  # noqa: E402
from core.records import Actor  # noqa: E402
from core.runtime import Runtime  # noqa: E402
from core.settings import Settings  # noqa: E402

RESULTS_DIR = Path(__file__).resolve().parent / "results"
LIST_PARAMS = {"stage": "won", "sort": "-close_date", "limit": "50"}
LIST_LIMIT = 50
DEAL_FIELDS = ("name", "account", "stage", "amount", "close_date", "probability")
SYSTEM_TAIL = ("version", "created_at", "created_by", "updated_at", "updated_by", "owner", "deleted_at")
SEED = 7


# --- measurement helpers ----------------------------------------------------------------------


def ms(ns: int | float) -> float:
    return ns / 1e6


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def timed(call: Callable[[], Any]) -> tuple[int, Any]:
    t0 = time.perf_counter_ns()
    result = call()
    return time.perf_counter_ns() - t0, result


def alternate(service: Callable[[int], Any], raw: Callable[[int], Any], runs: int, warmup: int) -> tuple[list[float], list[float]]:
    """Run service and raw calls alternately; return their latencies in ms.

    Calls get the run number; warm-up calls get runs .. runs + warmup - 1.
    """
    for i in range(runs, runs + warmup):
        service(i)
        raw(i)
    service_ms, raw_ms = [], []
    for i in range(runs):
        ns, _ = timed(lambda: service(i))
        service_ms.append(ms(ns))
        ns, _ = timed(lambda: raw(i))
        raw_ms.append(ms(ns))
    return service_ms, raw_ms


@dataclass
class Row:
    measure: str
    service: str
    raw: str
    ratio: str
    target: str = "—"
    met: str = "—"


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    profiles: list[str] = field(default_factory=list)

    def table(self) -> str:
        lines = ["| Measure | Tessera service | Raw SQLAlchemy Core | Service / raw | Target | Met |",
                 "|---|---:|---:|---:|---|---|"]
        lines += [f"| {r.measure} | {r.service} | {r.raw} | {r.ratio} | {r.target} | {r.met} |" for r in self.rows]
        return "\n".join(lines)


def yes_no(ok: bool, detail: str = "") -> str:
    return ("yes" if ok else "**no**") + (f" ({detail})" if detail else "")


# --- raw baseline -------------------------------------------------------------------------------


def raw_engine(url: sa.URL) -> sa.Engine:
    """A plain engine; on SQLite with the same durability settings as the application's."""
    engine = sa.create_engine(url)
    if engine.dialect.name == "sqlite":
        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()
    return engine


@dataclass
class RawTables:
    deal: sa.Table
    account: sa.Table
    user: sa.Table

    @classmethod
    def reflect(cls, engine: sa.Engine) -> "RawTables":
        metadata = sa.MetaData()
        with engine.connect() as conn:
            return cls(*(sa.Table(name, metadata, autoload_with=conn) for name in ("deal", "account", "user")))

    def select(self) -> sa.Select:
        deal, account, owner = self.deal, self.account.alias("l_account"), self.user.alias("l_owner")
        columns = [deal.c.id] + [deal.c[n] for n in DEAL_FIELDS] + [deal.c[n] for n in SYSTEM_TAIL]
        columns += [account.c.name.label("account__label"), owner.c.username.label("owner__label")]
        source = deal.outerjoin(account, account.c.id == deal.c.account).outerjoin(owner, owner.c.id == deal.c.owner)
        return sa.select(*columns).select_from(source)

    def list_page(self) -> sa.Select:
        deal = self.deal
        return (self.select()
                .where(deal.c.deleted_at.is_(None), deal.c.stage == "won")
                .order_by(deal.c.close_date.desc(), deal.c.id.desc())
                .limit(LIST_LIMIT + 1))

    def by_id(self) -> sa.Select:
        deal = self.deal
        return self.select().where(deal.c.id == sa.bindparam("id"), deal.c.deleted_at.is_(None))


def stored_values(data: dict, now: dt.datetime) -> dict:
    """What the service stores for a deal_row(): parsed values and system stamps."""
    return {
        "name": data["name"],
        "account": int(data["account"]),
        "stage": data["stage"],
        "amount": Decimal(data["amount"]),
        "close_date": dt.date.fromisoformat(data["close_date"]),
        "probability": Decimal(data["probability"]).quantize(Decimal("0.01")),
        "version": 1,
        "created_at": now,
        "updated_at": now,
        "created_by": None,
        "updated_by": None,
        "owner": None,
    }


# --- machine ------------------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_gib() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
    except OSError:
        pass
    return "unknown"


def server_version(engine: sa.Engine) -> str:
    if engine.dialect.name == "sqlite":
        return f"SQLite {sqlite3.sqlite_version}"
    with engine.connect() as conn:
        return "PostgreSQL " + conn.execute(sa.text("SHOW server_version")).scalar_one()


def server_settings(engine: sa.Engine) -> str:
    """The settings that move these figures most."""
    if engine.dialect.name == "sqlite":
        return "journal_mode=WAL, synchronous=NORMAL (as the application sets them)"
    names = ("fsync", "synchronous_commit", "shared_buffers", "jit")
    with engine.connect() as conn:
        return ", ".join(f"{n}={conn.exec_driver_sql(f'SHOW {n}').scalar_one()}" for n in names)


def describe_url(engine: sa.Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def revision() -> str:
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=Path(__file__).resolve().parent,
                             capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def machine(engine: sa.Engine, counts: dict[str, int]) -> list[str]:
    return [
        f"- Code: revision {revision()}",
        f"- CPU: {cpu_model()}, nproc {len(os.sched_getaffinity(0))}, memory {memory_gib()}",
        f"- Python {platform.python_version()}, SQLAlchemy {sa.__version__}, {platform.system()} {platform.release()}",
        f"- Database: {server_version(engine)} at {describe_url(engine)}; {server_settings(engine)}",
        f"- Rows: {counts['account']:,} accounts, {counts['deal']:,} deals",
        f"- Load average at the start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
    ]


# --- the benchmark ------------------------------------------------------------------------------


class Bench:
    def __init__(self, runtime: Runtime, args: argparse.Namespace) -> None:
        self.runtime = runtime
        self.args = args
        self.actor = Actor(None, "bench")
        self.raw = raw_engine(runtime.engine.url)
        self.tables = RawTables.reflect(self.raw)
        self.report = Report()
        self.rng = random.Random(SEED)
        with self.raw.connect() as conn:
            deal = self.tables.deal
            self.min_id, self.max_id = conn.execute(sa.select(sa.func.min(deal.c.id), sa.func.max(deal.c.id))).one()
            account = self.tables.account
            self.account_range = conn.execute(sa.select(sa.func.min(account.c.id), sa.func.max(account.c.id))).one()

    # list page
    def list_page(self) -> None:
        runs, warmup = self.args.runs, self.args.warmup
        statement = self.tables.list_page()
        service = lambda _i: self.runtime.records.list(self.actor, "deal", LIST_PARAMS)  # noqa: E731

        def raw(_i):
            with self.raw.connect() as conn:
                return conn.execute(statement).all()

        page, rows = service(0), raw(0)
        same = [r["id"] for r in page.items] == [r.id for r in rows[:LIST_LIMIT]] and page.has_more == (len(rows) > LIST_LIMIT)
        same = same and [r["account"]["label"] if r["account"] else None for r in page.items] == [r.account__label for r in rows[:LIST_LIMIT]]
        if not same:
            raise SystemExit("list page: the service and the raw query returned different rows")
        service_ms, raw_ms = alternate(service, raw, runs, warmup)
        med_s, med_r = statistics.median(service_ms), statistics.median(raw_ms)
        p95_s, p95_r = percentile(service_ms, 95), percentile(raw_ms, 95)
        ratio = med_s / med_r
        met = yes_no(ratio <= 1.5, "" if ratio <= 1.5 else f"{ratio / 1.5:.2f}x over the target")
        self.report.rows.append(Row(f"List page (stage=won, -close_date, 50 rows): median of {runs}",
                                    f"{med_s:.2f} ms", f"{med_r:.2f} ms", f"{ratio:.2f}x", "≤ 1.5x raw", met))
        p95_ratio = p95_s / p95_r
        self.report.rows.append(Row("List page: p95", f"{p95_s:.2f} ms", f"{p95_r:.2f} ms", f"{p95_ratio:.2f}x"))
        self.report.notes.append(f"List page plan: {self.plan(statement)}")

    def plan(self, statement: sa.Select) -> str:
        with self.raw.connect() as conn:
            compiled = statement.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})
            prefix = "EXPLAIN QUERY PLAN " if conn.dialect.name == "sqlite" else "EXPLAIN (COSTS OFF) "
            rows = conn.exec_driver_sql(prefix + str(compiled)).all()
        if conn.dialect.name == "sqlite":
            return "; ".join(r[-1] for r in rows)
        return " / ".join(r[0].strip() for r in rows)

    # get by id
    def get_by_id(self) -> None:
        runs, warmup = self.args.runs, self.args.warmup
        ids = [self.rng.randint(self.min_id, self.max_id) for _ in range(runs + warmup)]
        statement = self.tables.by_id()
        service = lambda i: self.runtime.records.get(self.actor, "deal", ids[i])  # noqa: E731

        def raw(i):
            with self.raw.connect() as conn:
                return conn.execute(statement, {"id": ids[i]}).first()

        record, row = service(0), raw(0)
        if record["id"] != row.id or record["name"] != row.name:
            raise SystemExit("get by id: the service and the raw query returned different rows")
        service_ms, raw_ms = alternate(service, raw, runs, warmup)
        med_s, med_r = statistics.median(service_ms), statistics.median(raw_ms)
        self.report.rows.append(Row(f"Get by id (random ids): median of {runs}", f"{med_s:.2f} ms", f"{med_r:.2f} ms",
                                    f"{med_s / med_r:.2f}x"))
        p95_s, p95_r = percentile(service_ms, 95), percentile(raw_ms, 95)
        self.report.rows.append(Row("Get by id: p95", f"{p95_s:.2f} ms", f"{p95_r:.2f} ms", f"{p95_s / p95_r:.2f}x"))

    # creates
    def new_rows(self, count: int, first_number: int) -> list[dict]:
        lo, hi = self.account_range
        return [deal_row(self.rng, first_number + i, self.rng.randint(lo, hi)) for i in range(count)]

    def creates(self) -> None:
        singles, batched, batch = self.args.single_creates, self.args.batched_creates, self.args.batch
        deal = self.tables.deal
        records = self.runtime.records

        # one by one, each in its own transaction
        service_rows = self.new_rows(singles, 9_000_000)
        raw_rows = self.new_rows(singles, 9_100_000)
        records.create(self.actor, "deal", self.new_rows(1, 8_999_999)[0])  # warm-up
        single_insert = deal.insert().returning(deal.c.id)
        with self.raw.begin() as conn:
            conn.execute(single_insert, stored_values(self.new_rows(1, 8_999_998)[0], dt.datetime.now(dt.timezone.utc)))
        service_ns = raw_ns = 0
        for data, raw_data in zip(service_rows, raw_rows):
            ns, _ = timed(lambda: records.create(self.actor, "deal", data))
            service_ns += ns
            values = stored_values(raw_data, dt.datetime.now(dt.timezone.utc))

            def raw_single():
                with self.raw.begin() as conn:
                    return conn.execute(single_insert, values).scalar_one()

            ns, _ = timed(raw_single)
            raw_ns += ns
        s_rate, r_rate = singles / (service_ns / 1e9), singles / (raw_ns / 1e9)
        self.report.rows.append(Row(f"Single creates, one transaction each ({singles})", f"{s_rate:,.0f} /s",
                                    f"{r_rate:,.0f} /s", f"{r_rate / s_rate:.2f}x slower"))

        # batches: create_many against executemany of the same rows
        rows = self.new_rows(batched, 9_200_000)
        now = dt.datetime.now(dt.timezone.utc)
        raw_values = [stored_values(r, now) for r in rows]
        service_ns = raw_ns = 0
        for start in range(0, batched, batch):
            chunk = rows[start : start + batch]
            ns, ids = timed(lambda: records.create_many(self.actor, "deal", chunk))
            service_ns += ns
            assert len(ids) == len(chunk)
            raw_chunk = raw_values[start : start + batch]

            def raw_many():
                with self.raw.begin() as conn:
                    conn.execute(deal.insert(), raw_chunk)

            ns, _ = timed(raw_many)
            raw_ns += ns
        s_rate, r_rate = batched / (service_ns / 1e9), batched / (raw_ns / 1e9)
        met = yes_no(s_rate >= 5000, "" if s_rate >= 5000 else f"{(5000 - s_rate) / 5000:.0%} short")
        self.report.rows.append(Row(f"Batched creates, create_many of {batch:,} ({batched:,} rows)", f"{s_rate:,.0f} rows/s",
                                    f"{r_rate:,.0f} rows/s", f"{r_rate / s_rate:.2f}x slower", "≥ 5,000 rows/s", met))

    # adding a field
    def add_field(self) -> None:
        runs = self.args.field_runs
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d%H%M%S")
        records = self.runtime.records
        service_ms, first_read_ms, names = [], [], []
        records.get(self.actor, "deal", self.min_id)  # caches warm
        for i in range(runs):
            name = f"bench_f{stamp}_{i}"
            changeset = {"format": "tessera-changeset/1", "extensions": [{"object": "deal", "fields": [
                {"name": name, "type": "text", "label": {"en": f"Bench {i}", "zh-CN": f"测试字段 {i}"}}]}]}
            ns, changes = timed(lambda: self.runtime.import_changeset(changeset, "core_bench", "bench"))
            if not any(c.operation == "add_column" for c in changes):
                raise SystemExit(f"adding {name}: the import applied {changes}, not an add_column")
            service_ms.append(ms(ns))
            names.append(name)
            ns, _ = timed(lambda: records.get(self.actor, "deal", self.min_id))
            first_read_ms.append(ms(ns))
        raw_ms, raw_names = [], []
        preparer = self.raw.dialect.identifier_preparer
        for i in range(runs):
            column = f"bench_r{stamp}_{i}"

            def alter():
                with self.raw.begin() as conn:
                    conn.exec_driver_sql(f"ALTER TABLE deal ADD COLUMN {preparer.quote(column)} VARCHAR(255)")

            ns, _ = timed(alter)
            raw_ms.append(ms(ns))
            raw_names.append(column)
        med_s, med_r = statistics.median(service_ms), statistics.median(raw_ms)
        self.report.rows.append(Row(
            f"Add a text field to deal: median of {runs} (max)", f"{med_s:.1f} ms ({max(service_ms):.1f})",
            f"{med_r:.1f} ms ({max(raw_ms):.1f})", f"{med_s / med_r:.0f}x", "≤ 100 ms",
            yes_no(med_s <= 100, "" if med_s <= 100 else f"{med_s - 100:.0f} ms over, {med_s / 100:.1f}x the target")))
        self.report.rows.append(Row("First get after a field was added (caches rebuilt): median",
                                    f"{statistics.median(first_read_ms):.1f} ms", "—", "—"))
        self._cleanup_fields(names, raw_names)

    def _cleanup_fields(self, names: list[str], raw_names: list[str]) -> None:
        for name in names:
            self.runtime.change_metadata(set_removed(self.runtime.current_metadata(), "deal", name, True), "bench")
        preparer = self.raw.dialect.identifier_preparer
        for column in raw_names:
            with self.raw.begin() as conn:
                conn.exec_driver_sql(f"ALTER TABLE deal DROP COLUMN {preparer.quote(column)}")

    def cleanup_rows(self) -> None:
        deal = self.tables.deal
        with self.raw.begin() as conn:
            deleted = conn.execute(sa.delete(deal).where(deal.c.id > self.max_id)).rowcount
        self.report.notes.append(f"Deleted the {deleted:,} deals the benchmark created.")
        if self.raw.dialect.name == "postgresql":
            with self.raw.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM (ANALYZE) deal")

    # profiles
    def profile(self) -> None:
        RESULTS_DIR.mkdir(exist_ok=True)
        dialect = self.raw.dialect.name
        records = self.runtime.records
        ids = [self.rng.randint(self.min_id, self.max_id) for _ in range(200)]
        rows = self.new_rows(5000, 9_300_000)
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d%H%M%S")
        cases = {
            "list": lambda: [records.list(self.actor, "deal", LIST_PARAMS) for _ in range(200)],
            "get": lambda: [records.get(self.actor, "deal", i) for i in ids],
            "create_many": lambda: [records.create_many(self.actor, "deal", rows[s : s + 1000]) for s in range(0, 5000, 1000)],
            "add_field": lambda: self.runtime.import_changeset(
                {"format": "tessera-changeset/1", "extensions": [{"object": "deal", "fields": [
                    {"name": f"bench_p{stamp}", "type": "text", "label": {"en": "Profile"}}]}]}, "core_bench", "bench"),
        }
        for name, case in cases.items():
            profiler = cProfile.Profile()
            profiler.enable()
            case()
            profiler.disable()
            path = RESULTS_DIR / f"profile-{dialect}-{name}.prof"
            profiler.dump_stats(path)
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out).strip_dirs()
            stats.sort_stats("tottime").print_stats(12)
            stats.sort_stats("cumulative").print_stats(20)
            self.report.profiles.append(f"### {name} ({path.name})\n\n```\n{_trim(out.getvalue())}\n```")
        self._cleanup_fields([f"bench_p{stamp}"], [])


def refresh_statistics(engine: sa.Engine) -> None:
    """Planner statistics (and on PostgreSQL the visibility map) after a bulk load, as an operator would."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM (ANALYZE) account")
            conn.exec_driver_sql("VACUUM (ANALYZE) deal")
    else:
        with engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
            conn.commit()


def _trim(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if line.strip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", required=True, metavar="URL")
    parser.add_argument("--accounts", type=int, default=200_000, help="accounts to generate (deals: 5 per account; default 200,000)")
    parser.add_argument("--skip-generate", action="store_true", help="measure the data already in the database")
    parser.add_argument("--runs", type=int, default=300, help="timed runs of list and get (default 300)")
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--single-creates", type=int, default=500)
    parser.add_argument("--batched-creates", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--field-runs", type=int, default=10)
    parser.add_argument("--profile", action="store_true", help="also profile each service measure with cProfile")
    parser.add_argument("--no-save", action="store_true", help="print only; do not append to bench/results/")
    args = parser.parse_args(argv)

    runtime = Runtime(Settings(database_url=args.database))
    try:
        prepare(runtime)
        generation = ""
        if not args.skip_generate:
            existing = row_counts(runtime)
            if existing["deal"]:
                print(f"The database already holds {existing['deal']:,} deals; pass --skip-generate to measure them.",
                      file=sys.stderr)
                return 1
            print(f"Generating {args.accounts:,} accounts and {args.accounts * DEALS_PER_ACCOUNT:,} deals through the record service",
                  flush=True)
            t = generate(runtime, args.accounts, log=lambda line: print(line, flush=True))
            generation = (f"Generated through create_many (batches of 5,000): {t['accounts']:,} accounts at "
                          f"{t['accounts'] / t['account_seconds']:,.0f} rows/s, {t['deals']:,} deals at "
                          f"{t['deals'] / t['deal_seconds']:,.0f} rows/s.")
        counts = row_counts(runtime)
        if not counts["deal"]:
            print("The database holds no deals; run without --skip-generate.", file=sys.stderr)
            return 1
        refresh_statistics(runtime.engine)
        bench = Bench(runtime, args)
        steps = [("list page", bench.list_page), ("get by id", bench.get_by_id), ("creates", bench.creates),
                 ("add field", bench.add_field)]
        if args.profile:
            steps.append(("profiles", bench.profile))
        try:
            for label, step in steps:
                print(f"Measuring {label} ...", flush=True)
                step()
        finally:
            bench.cleanup_rows()
        if generation:
            bench.report.notes.insert(0, generation)
        when = dt.datetime.now(dt.timezone.utc)
        lines = [f"## {when:%Y-%m-%d %H:%M} UTC: {server_version(bench.raw)}", ""]
        lines += machine(bench.raw, counts)
        lines += [f"- Runs: {args.runs} timed after {args.warmup} warm-up (list, get); {args.single_creates} single creates; "
                  f"{args.batched_creates:,} batched rows; {args.field_runs} field additions", ""]
        lines += [bench.report.table(), ""]
        lines += [f"- {note}" for note in bench.report.notes]
        section = "\n".join(lines) + "\n"
        print()
        print(section)
        if bench.report.profiles:
            print("\n\n".join(bench.report.profiles))
        if not args.no_save:
            RESULTS_DIR.mkdir(exist_ok=True)
            with (RESULTS_DIR / "core_bench.md").open("a", encoding="utf-8") as out:
                out.write("\n" + section)
                if bench.report.profiles:
                    out.write("\n" + "\n\n".join(bench.report.profiles) + "\n")
            print(f"Appended to {RESULTS_DIR / 'core_bench.md'}")
        bench.raw.dispose()
    finally:
        runtime.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
