"""CSV import benchmark: 1M contacts through ``core.imports.run_import`` beside a raw load of the same rows.

    python bench/import_bench.py --database URL [--rows 1000000] [--accounts 10000] [--batch-size 1000]
                                 [--rounds 1] [--dirt 0.0] [--seed 2026] [--fresh] [--drop] [--format markdown|json]

Prepares the database once (migrations, then ``--accounts`` accounts created through the
record service's ``create_many``), writes a deterministic CSV of contacts (First Name, Last
Name, Email, Phone, Lead Source as the picklist's English labels, Account by name, Birthday,
Mailing City; ``--dirt F`` makes a fraction F of the rows invalid: a bad e-mail, an account
that does not exist, an impossible date, a missing last name or an unknown lead source)
and then, per round, back to back on an emptied contact table:

* **import**: a fresh process runs ``run_import(runtime, Actor.system(), "contact", csv,
  ImportOptions(batch_size=N))``: the code path of ``tessera import`` with every installed
  plugin, so rows are mapped and converted, lookups resolved by name, validated, checked by
  the permission, reference and owner checks, stamped (version, created/updated at and by,
  owner), given the defaults, passed to plugins' record hooks when one concerns contact,
  and the job's progress is saved with each batch;
* **raw**: a fresh process reads the same CSV with the csv module, maps the lead-source
  labels and account names with two dicts (the account names read with one query), skips
  the rows the import rejects (the generator knows them), and writes the same stored values
  into the same table in transactions of the same size: ``executemany`` with the sqlite3
  module on SQLite (with the connection settings the import's connection has: core/db.py's,
  and its bulk-write cache and checkpoint settings), ``COPY ... FROM STDIN`` (text format)
  with psycopg on PostgreSQL.

Each process reports its rows/s (the CSV's rows over the time of the load alone: start-up and
imports are not counted), its CPU time (user and system; on PostgreSQL also the server
backend's, read from /proc when the server runs on this machine) and its peak memory (VmHWM:
``ru_maxrss`` would report the parent's peak, which a child inherits through fork and exec).
After each run the contact rows are checked: the same count, and the same stored values (a
digest of every column but the ids and timestamps, in the order of last name and e-mail, unique
in this data). A markdown table is printed (or JSON with ``--format json``), appended to
bench/results/import_bench.md, the raw figures saved as JSON beside it.

The database is the benchmark's: ``--fresh`` deletes the SQLite file or drops and recreates
the PostgreSQL database first (PostgreSQL: the database is created when missing), ``--drop``
removes it at the end. The contact table is emptied before every run.

``--profile import|raw`` runs that load of round 1 under ``py-spy record`` twice (once for the
summary of where the time went that it prints, once for the flame graph, an SVG named by
``--profile-out``), then once more without the sampler for the figures.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import json
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(0, str(ROOT))

DEFAULT_ROWS = 1_000_000
DEFAULT_ACCOUNTS = 10_000
DEFAULT_BATCH = 1000
DEFAULT_SEED = 2026
TARGET_ROWS_PER_SECOND = 20_000
TARGET_PEAK_MB = 300

HEADER = ["First Name", "Last Name", "Email", "Phone", "Lead Source", "Account", "Birthday", "Mailing City"]
FIRST_NAMES = ["Wei", "Li", "Anna", "James", "Maria", "Chen", "Fatima", "Lukas", "Sofia", "Hiroshi", "Olivia", "Mateo",
               "Aisha", "Noah", "Mei", "Ivan", "Priya", "Jonas", "Elena", "Omar"]
LAST_NAMES = ["Wang", "Zhang", "Smith", "Müller", "Garcia", "Liu", "Kim", "Rossi", "Nguyen", "Dubois", "Schmidt", "Chen",
              "Johnson", "Kowalski", "Yamamoto", "Silva", "Haddad", "Novak", "Brown", "Zhao"]
LEAD_SOURCES = [("web", "Web"), ("referral", "Referral"), ("event", "Event"), ("advertisement", "Advertisement"),
                ("cold_call", "Cold Call"), ("partner", "Partner"), ("other", "Other")]
CITIES = ["Shanghai", "Beijing", "Shenzhen", "Chicago", "Austin", "Berlin", "Lyon", "Singapore", "São Paulo", "Hangzhou"]
DIRT = ("email", "account", "birthday", "last_name", "lead_source")
FIRST_BIRTHDAY = dt.date(1950, 1, 1)
BIRTHDAY_SPAN_DAYS = 50 * 365
# What the raw load writes besides the CSV's columns: the columns the record service stamps.
STAMPED = ("version", "created_at", "updated_at", "created_by", "updated_by", "owner")
CSV_COLUMNS = ("first_name", "last_name", "email", "phone", "lead_source", "account", "birthday", "mailing_city")


# --- data ------------------------------------------------------------------------------------------


def account_name(number: int) -> str:
    """Account names are unique: the lookup by name finds exactly one."""
    return f"Bench Account {number:06d}"


def write_contacts(path: Path, rows: int, accounts: int, seed: int, dirt: float) -> list[int]:
    """Write the CSV; return the numbers (spreadsheet rows: the first record is row 2) of the dirty rows."""
    rng = random.Random(seed)
    dirty: list[int] = []
    tmp = path.with_suffix(".partial")
    with tmp.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(HEADER)
        for n in range(1, rows + 1):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            row = [first, f"{last} {n:07d}", f"{first.lower()}.{n}@example.com", f"+86 21 {rng.randrange(10**7, 10**8)}",
                   rng.choice(LEAD_SOURCES)[1], account_name(rng.randrange(1, accounts + 1)),
                   (FIRST_BIRTHDAY + dt.timedelta(days=rng.randrange(BIRTHDAY_SPAN_DAYS))).isoformat() if rng.random() < 0.6 else "",
                   rng.choice(CITIES)]
            if dirt and rng.random() < dirt:
                kind = DIRT[len(dirty) % len(DIRT)]
                if kind == "email":
                    row[2] = f"{first.lower()} at example"
                elif kind == "account":
                    row[5] = f"No Such Account {n}"
                elif kind == "birthday":
                    row[6] = "1990-02-31"
                elif kind == "last_name":
                    row[1] = ""
                else:
                    row[4] = "Telemarketing"
                dirty.append(n + 1)
            writer.writerow(row)
    tmp.replace(path)
    path.with_suffix(".dirty.json").write_text(json.dumps(dirty))
    return dirty


def contacts_csv(work: Path, rows: int, accounts: int, seed: int, dirt: float, log) -> tuple[Path, list[int]]:
    path = work / f"contacts-{rows}-a{accounts}-s{seed}-d{dirt:g}.csv"
    if path.exists() and path.with_suffix(".dirty.json").exists():
        return path, json.loads(path.with_suffix(".dirty.json").read_text())
    started = time.perf_counter()
    dirty = write_contacts(path, rows, accounts, seed, dirt)
    log(f"  wrote {path} ({path.stat().st_size / 2**20:.0f} MiB, {len(dirty):,} dirty rows) in {time.perf_counter() - started:.1f} s")
    return path, dirty


# --- the database ------------------------------------------------------------------------------------


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def sqlite_path(url: str) -> Path:
    from sqlalchemy.engine import make_url  # noqa: PLC0415

    return Path(make_url(url).database)


def libpq(url: str) -> str:
    """A SQLAlchemy PostgreSQL URL as psycopg's conninfo."""
    from sqlalchemy.engine import make_url  # noqa: PLC0415

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def pg_admin(url: str, *statements: str) -> None:
    import psycopg  # noqa: PLC0415
    from sqlalchemy.engine import make_url  # noqa: PLC0415

    admin = make_url(url).set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def pg_database_exists(url: str) -> bool:
    import psycopg  # noqa: PLC0415
    from sqlalchemy.engine import make_url  # noqa: PLC0415

    parsed = make_url(url)
    admin = parsed.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (parsed.database,)).fetchone() is not None


def reset_database(url: str, fresh: bool) -> None:
    if is_sqlite(url):
        path = sqlite_path(url)
        if fresh:
            for suffix in ("", "-wal", "-shm"):
                Path(str(path) + suffix).unlink(missing_ok=True)
        return
    from sqlalchemy.engine import make_url  # noqa: PLC0415

    name = make_url(url).database
    if fresh:
        pg_admin(url, f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"')
    elif not pg_database_exists(url):
        pg_admin(url, f'CREATE DATABASE "{name}"')


def drop_database(url: str) -> None:
    if is_sqlite(url):
        path = sqlite_path(url)
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    else:
        from sqlalchemy.engine import make_url  # noqa: PLC0415

        pg_admin(url, f'DROP DATABASE IF EXISTS "{make_url(url).database}"')


def prepare(url: str, accounts: int, log) -> dict:
    """Migrate, create the accounts (once), and return what the raw load needs to write the same rows."""
    import sqlalchemy as sa  # noqa: PLC0415

    from core.records import Actor, _defaults  # noqa: PLC0415
    from core.runtime import Runtime  # noqa: PLC0415
    from core.settings import Settings  # noqa: PLC0415

    runtime = Runtime(Settings(database_url=url))
    try:
        runtime.upgrade("bench")
        with runtime.engine.connect() as conn:
            existing = conn.execute(sa.text("SELECT count(*) FROM account")).scalar_one()
        if existing not in (0, accounts):
            raise SystemExit(f"The database holds {existing:,} accounts, not the benchmark's {accounts:,}: use --fresh "
                             "(it deletes or drops the database) or another database.")
        if not existing:
            started = time.perf_counter()
            actor = Actor(None, "bench")
            for start in range(0, accounts, 5000):
                rows = [{"name": account_name(n), "industry": "technology"} for n in range(start + 1, min(start + 5000, accounts) + 1)]
                runtime.records.create_many(actor, "account", rows)
            log(f"  created {accounts:,} accounts through create_many in {time.perf_counter() - started:.1f} s")
        meta = runtime.current_metadata()
        contact = meta.object("contact")
        defaults = {name: value for name, value in _defaults(contact).items() if name not in CSV_COLUMNS}
        plugins = [p.info.name for p in runtime.plugins.enabled]
        hooked = [hook for hook in ("tessera_before_create", "tessera_validate_record", "tessera_after_create")
                  if runtime.plugins.caller(hook, "contact")]
        try:
            from core.db import BULK_CACHE_KIB, BULK_WAL_PAGES  # noqa: PLC0415
        except ImportError:  # a revision before them (to measure it): SQLite's defaults
            BULK_CACHE_KIB, BULK_WAL_PAGES = 2000, 1000

        return {"defaults": defaults, "plugins": plugins, "hooked": hooked,
                "fields": len([f for f in contact.active_fields() if f.has_column]),
                "sqlite_pragmas": ["journal_mode=WAL", "foreign_keys=ON", "synchronous=NORMAL",  # core/db.py's, then its bulk ones
                                   f"cache_size=-{BULK_CACHE_KIB}", f"wal_autocheckpoint={BULK_WAL_PAGES}"]}
    finally:
        runtime.close()


def empty_contacts(url: str) -> None:
    """An empty contact table with its indexes, as a fresh table would be (SQLite: the file vacuumed too)."""
    if is_sqlite(url):
        import sqlite3  # noqa: PLC0415

        conn = sqlite3.connect(sqlite_path(url), isolation_level=None, timeout=30)
        try:
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("DELETE FROM contact")
            conn.execute("DELETE FROM tessera_import_job")
            conn.execute("COMMIT")
            conn.execute("VACUUM")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            assert conn.execute("SELECT count(*) FROM contact").fetchone()[0] == 0
        finally:
            conn.close()
        return
    import psycopg  # noqa: PLC0415

    with psycopg.connect(libpq(url), autocommit=True) as conn:
        conn.execute("TRUNCATE contact, tessera_import_job CASCADE")
        conn.execute("VACUUM ANALYZE account")
        conn.execute("VACUUM ANALYZE contact")
        conn.execute("CHECKPOINT")


def contact_digest(url: str) -> tuple[int, str]:
    """Count and digest of the stored contacts (every column but id and the timestamps), ordered by name and e-mail."""
    from core.db import make_engine  # noqa: PLC0415

    engine = make_engine(url)
    columns = ", ".join(f'"{c}"' for c in (*CSV_COLUMNS, "do_not_call", "version", "created_by", "updated_by", "owner"))
    digest, count = hashlib.sha256(), 0
    try:
        with engine.connect().execution_options(stream_results=True, yield_per=20_000) as conn:
            for row in conn.exec_driver_sql(f"SELECT {columns} FROM contact ORDER BY last_name, email, id"):
                digest.update(repr(tuple(str(v) if isinstance(v, dt.date) else v for v in row)).encode())
                count += 1
    finally:
        engine.dispose()
    return count, digest.hexdigest()[:16]


# --- the two loads (each in its own process) -----------------------------------------------------------


def run_import_child(args: argparse.Namespace) -> dict:
    from core.imports import ImportOptions, run_import  # noqa: PLC0415
    from core.records import Actor  # noqa: PLC0415
    from core.runtime import Runtime  # noqa: PLC0415
    from core.settings import Settings  # noqa: PLC0415

    runtime = Runtime(Settings(database_url=args.database))
    try:
        runtime.current_metadata()  # as `tessera import` has after its `upgrade`
        options = ImportOptions(batch_size=args.batch_size, rejected_path=Path(args.work) / "contacts.rejected.csv", resume=False)
        started, cpu = time.perf_counter(), cpu_seconds()
        report = run_import(runtime, Actor.system(), "contact", Path(args.csv), options)
        seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
        server = server_cpu_seconds(runtime.engine)
    finally:
        runtime.close()
    return {"rows": report.created + report.rejected, "written": report.created, "rejected": report.rejected,
            "seconds": seconds, "cpu_seconds": cpu, "server_cpu_seconds": server, "status": report.status, "first_rejection": report.rejections[0].reason if report.rejections else None}


def run_raw_child(args: argparse.Namespace) -> dict:
    """Read the CSV and write the same stored values with the database's fastest plain path."""
    setup = json.loads(Path(args.setup).read_text())
    dirty = set(json.loads(Path(args.csv).with_suffix(".dirty.json").read_text()))
    labels = {label: value for value, label in LEAD_SOURCES}
    defaults = setup["defaults"]
    columns = [*CSV_COLUMNS, *defaults, *STAMPED]
    quoted = ", ".join(f'"{c}"' for c in columns)
    tail = [*defaults.values()]
    sqlite = is_sqlite(args.database)
    if sqlite:
        import sqlite3  # noqa: PLC0415

        conn = sqlite3.connect(sqlite_path(args.database), isolation_level=None, timeout=30)
        for pragma in setup["sqlite_pragmas"]:  # the settings the import's connection has
            conn.execute(f"PRAGMA {pragma}")
    else:
        import psycopg  # noqa: PLC0415

        conn = psycopg.connect(libpq(args.database))
    started, cpu = time.perf_counter(), cpu_seconds()
    accounts = dict(conn.execute("SELECT name, id FROM account WHERE deleted_at IS NULL").fetchall())
    if not sqlite:
        conn.commit()
    now = dt.datetime.now(dt.timezone.utc)
    stored_now = now.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else now  # as SQLAlchemy stores it
    stamp = [1, stored_now, stored_now, None, None, None]
    written = 0
    with open(args.csv, encoding="utf-8-sig", newline="") as file:
        reader = csv.reader(file)
        next(reader)
        batch: list[tuple] = []

        def flush() -> None:
            if sqlite:
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany(f"INSERT INTO contact ({quoted}) VALUES ({', '.join('?' * len(columns))})", batch)
                conn.execute("COMMIT")
            else:
                with conn.cursor() as cursor, cursor.copy(f"COPY contact ({quoted}) FROM STDIN") as copy:
                    for values in batch:
                        copy.write_row(values)
                conn.commit()
            batch.clear()

        for number, cells in enumerate(reader, start=2):
            if number in dirty:
                continue
            first, last, email, phone, source, account, birthday, city = cells
            batch.append((first, last, email, phone, labels[source], accounts[account], birthday or None, city, *tail, *stamp))
            if len(batch) >= args.batch_size:
                written += len(batch)
                flush()
        if batch:
            written += len(batch)
            flush()
    seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    server = None if sqlite else backend_cpu_seconds(conn.info.backend_pid)
    conn.close()
    return {"rows": written + len(dirty), "written": written, "rejected": 0, "seconds": seconds, "cpu_seconds": cpu, "server_cpu_seconds": server, "status": "done"}


def cpu_seconds() -> float:
    """CPU time of this process (user and system) so far; on PostgreSQL the server's own work is not in it."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def backend_cpu_seconds(pid: int) -> float | None:
    """CPU time of a PostgreSQL backend process on this machine so far (None when it cannot be read)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def server_cpu_seconds(engine) -> float | None:
    """The CPU time of the PostgreSQL backends of ``engine``'s pooled connections (the import's, since they were
    opened, which was just before it), when the server runs on this machine."""
    if engine.dialect.name != "postgresql":
        return None
    held = []
    try:
        for _ in range(engine.pool.checkedin()):
            held.append(engine.raw_connection())
        times = [backend_cpu_seconds(c.driver_connection.info.backend_pid) for c in held]
    finally:
        for c in held:
            c.close()
    return None if not times or None in times else sum(times)


def peak_rss_mb() -> float:
    """This process's peak resident set size: VmHWM, the peak of its own memory map (``ru_maxrss``, only where
    /proc is missing, carries over the parent's peak through fork and exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_main(args: argparse.Namespace) -> int:
    result = run_import_child(args) if args.child == "import" else run_raw_child(args)
    result["peak_rss_mb"] = peak_rss_mb()
    print("RESULT " + json.dumps(result), flush=True)
    return 0


def run_child(kind: str, args: argparse.Namespace, csv_path: Path, setup_path: Path, profile_out: Path | None) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", kind, "--database", args.database, "--csv", str(csv_path),
               "--setup", str(setup_path), "--work", str(args.work), "--batch-size", str(args.batch_size)]
    if profile_out is not None:
        spy = Path(sys.executable).with_name("py-spy")
        raw = profile_out.with_suffix(".txt")
        subprocess.run([str(spy), "record", "-r", "200", "-f", "raw", "-o", str(raw), "--", *command], check=True,
                       capture_output=True, text=True, cwd=ROOT)
        subprocess.run([str(spy), "record", "-r", "200", "-o", str(profile_out), "--", *command], capture_output=True, text=True, cwd=ROOT)
        output = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)  # the figures without the sampler
    else:
        output = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if output.returncode != 0:
        raise SystemExit(f"the {kind} process failed:\n{output.stdout[-3000:]}\n{output.stderr[-5000:]}")
    line = next(line for line in output.stdout.splitlines() if line.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


# --- the report --------------------------------------------------------------------------------------


def revision() -> str:
    def git(*a: str) -> str:
        try:
            return subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout
        except (OSError, subprocess.SubprocessError):
            return ""

    head = git("rev-parse", "--short", "HEAD").strip() or "unknown"
    changed = [line[3:] for line in git("status", "--porcelain", "--", "core", "bench").splitlines() if len(line) > 3]
    return head + (f" with {len(changed)} changed files" if changed else "")


def machine() -> str:
    model = "unknown"
    try:
        model = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{model}, nproc {len(os.sched_getaffinity(0))}; Python {platform.python_version()}"


def database_version(url: str) -> str:
    if is_sqlite(url):
        import sqlite3  # noqa: PLC0415

        return f"SQLite {sqlite3.sqlite_version} (WAL, synchronous=NORMAL)"
    import psycopg  # noqa: PLC0415

    with psycopg.connect(libpq(url)) as conn:
        names = ("server_version", "fsync", "synchronous_commit", "shared_buffers")
        values = {n: conn.execute(f"SHOW {n}").fetchone()[0] for n in names}
    return f"PostgreSQL {values.pop('server_version')} (" + ", ".join(f"{k}={v}" for k, v in values.items()) + ")"


def markdown(results: dict) -> str:
    lines = [f"### Import of {results['rows']:,} contacts from CSV, {results['database']}, {results['started']}", "",
             f"Revision {results['revision']}; {results['machine']}; load average before the run {results['load']}; "
             f"{results['accounts']:,} accounts; batches of {results['batch_size']:,}; {results['dirty']:,} dirty rows; "
             f"plugins: {', '.join(results['plugins']) or 'none'}; record hooks concerning contact: {', '.join(results['hooked']) or 'none'}.", "",
             "| round | import rows/s | raw rows/s | raw / import | import peak RSS | raw peak RSS | CPU per row, import / raw | "
             "server CPU per row, import / raw | import rejected | same rows |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]

    def per_row(result: dict, key: str) -> str:
        return f"{1e6 * result[key] / result['rows']:.0f} µs" if result.get(key) else "-"

    for r in results["runs"]:
        imp, raw = r["import"], r["raw"]
        lines.append(f"| {r['round']} | {imp['rows_per_s']:,.0f} | {raw['rows_per_s']:,.0f} | {raw['rows_per_s'] / imp['rows_per_s']:.2f}x | "
                     f"{imp['peak_rss_mb']:.0f} MB | {raw['peak_rss_mb']:.0f} MB | {per_row(imp, 'cpu_seconds')} / {per_row(raw, 'cpu_seconds')} | "
                     f"{per_row(imp, 'server_cpu_seconds')} / {per_row(raw, 'server_cpu_seconds')} | {imp['rejected']:,} | "
                     f"{'yes' if r['same'] else '**NO**'} |")
    best = max(r["import"]["rows_per_s"] for r in results["runs"])
    peak = max(r["import"]["peak_rss_mb"] for r in results["runs"])
    lines += ["", f"Target {TARGET_ROWS_PER_SECOND:,} rows/s validated: {'met' if best >= TARGET_ROWS_PER_SECOND else 'NOT met'} "
                  f"(best round {best:,.0f} rows/s); peak memory under {TARGET_PEAK_MB} MB: {'met' if peak < TARGET_PEAK_MB else 'NOT met'} ({peak:.0f} MB)."]
    return "\n".join(lines)


def bench(args: argparse.Namespace) -> int:
    log = (lambda line: print(line, file=sys.stderr, flush=True)) if args.format == "json" else (lambda line: print(line, flush=True))
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    reset_database(args.database, args.fresh)
    log(f"Preparing {args.database}")
    setup = prepare(args.database, args.accounts, log)
    setup_path = work / "setup.json"
    setup_path.write_text(json.dumps(setup, default=str))
    csv_path, dirty = contacts_csv(work, args.rows, args.accounts, args.seed, args.dirt, log)
    results = {"rows": args.rows, "accounts": args.accounts, "batch_size": args.batch_size, "dirty": len(dirty), "seed": args.seed,
               "database": database_version(args.database), "revision": revision(), "machine": machine(),
               "started": dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
               "load": " ".join(f"{x:.2f}" for x in os.getloadavg()), "plugins": setup["plugins"], "hooked": setup["hooked"], "runs": []}
    try:
        for round_number in range(1, args.rounds + 1):
            order = ("raw", "import") if round_number % 2 else ("import", "raw")
            run: dict = {"round": round_number}
            for kind in order:
                empty_contacts(args.database)
                profile_out = Path(args.profile_out) if args.profile == kind and round_number == 1 else None
                result = run_child(kind, args, csv_path, setup_path, profile_out)
                result["rows_per_s"] = result["rows"] / result["seconds"]
                result["count"], result["digest"] = contact_digest(args.database)
                run[kind] = result
                log(f"  round {round_number} {kind:>6}: {result['rows']:,} rows in {result['seconds']:.1f} s = {result['rows_per_s']:,.0f} rows/s "
                    f"(CPU {result['cpu_seconds']:.1f} s: {1e6 * result['cpu_seconds'] / result['rows']:.0f} µs per row"
                    + (f"; server {1e6 * result['server_cpu_seconds'] / result['rows']:.0f} µs per row" if result.get("server_cpu_seconds") else "")
                    + "), "
                    f"{result['written']:,} written, {result['rejected']:,} rejected, peak RSS {result['peak_rss_mb']:.0f} MB")
                if result["count"] != result["written"]:
                    raise SystemExit(f"{kind}: the table holds {result['count']:,} contacts, not {result['written']:,}")
                if profile_out is not None:
                    from api_bench import summarize_profile  # noqa: PLC0415

                    log("\n".join(summarize_profile(profile_out.with_suffix(".txt"), top=40)))
                    log(f"  flame graph: {profile_out}")
            run["same"] = run["import"]["digest"] == run["raw"]["digest"] and run["import"]["count"] == run["raw"]["count"]
            if not run["same"]:
                log(f"  the import and the raw load stored different rows ({run['import']['digest']} vs {run['raw']['digest']})")
            results["runs"].append(run)
        empty_contacts(args.database)
    finally:
        if args.drop:
            drop_database(args.database)
    text = markdown(results)
    print(json.dumps(results, indent=2) if args.format == "json" else "\n" + text)
    if not args.no_save:
        results_dir = BENCH_DIR / "results"
        results_dir.mkdir(exist_ok=True)
        dialect = "sqlite" if is_sqlite(args.database) else "postgresql"
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        (results_dir / f"import_bench-{dialect}-{stamp}.json").write_text(json.dumps(results, indent=2))
        with (results_dir / "import_bench.md").open("a") as out:
            out.write(text + "\n\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", required=True, metavar="URL",
                        help="sqlite:////tmp/bench_import.db or postgresql+psycopg://postgres@127.0.0.1:55432/bench_import")
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS, help=f"contacts in the CSV (default {DEFAULT_ROWS:,})")
    parser.add_argument("--accounts", type=int, default=DEFAULT_ACCOUNTS, help=f"accounts the contacts refer to by name (default {DEFAULT_ACCOUNTS:,})")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH, help=f"rows per transaction, for both loads (default {DEFAULT_BATCH:,}, as the CLI's)")
    parser.add_argument("--rounds", type=int, default=1, help="rounds of both loads, order alternating (default 1)")
    parser.add_argument("--dirt", type=float, default=0.0, metavar="F", help="fraction of rows made invalid (default 0)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "import_bench"), help="where the CSV is kept (default /tmp/import_bench)")
    parser.add_argument("--fresh", action="store_true", help="delete the SQLite file / drop and recreate the PostgreSQL database first")
    parser.add_argument("--drop", action="store_true", help="delete the SQLite file / drop the PostgreSQL database at the end")
    parser.add_argument("--format", choices=("markdown", "json"), default="markdown")
    parser.add_argument("--profile", choices=("import", "raw"), help="run that load under py-spy in round 1 (and once more without it)")
    parser.add_argument("--profile-out", default=str(BENCH_DIR / "results" / "import_bench-profile.svg"))
    parser.add_argument("--no-save", action="store_true", help="do not write bench/results/")
    parser.add_argument("--child", choices=("import", "raw"), help=argparse.SUPPRESS)
    parser.add_argument("--csv", help=argparse.SUPPRESS)
    parser.add_argument("--setup", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child_main(args)
    if args.rows < 1 or args.accounts < 1 or args.batch_size < 1:
        parser.error("--rows, --accounts and --batch-size must be at least 1")
    return bench(args)


if __name__ == "__main__":
    sys.exit(main())
