"""Upsert benchmark: an import that updates the accounts a first import created, matched by name.

    python bench/import_update_bench.py --database URL [--rows 5000] [--batch-size 1000]

On a fresh database (SQLite: the file is deleted first; PostgreSQL: the database is dropped
and created again, so use a database of its own), migrated with no plugins, it writes a CSV
of ``--rows`` accounts (name, employees, industry) and imports it through
``core.imports.run_import`` (creates), then writes the same names with other employees and
industry and imports that with the duplicate rule ``name -> update`` (every row an update
of one record). Prints the rows/s of each import, timed around ``run_import`` alone.
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from core.imports import ImportOptions, run_import  # noqa: E402
from core.records import Actor  # noqa: E402
from core.runtime import Runtime  # noqa: E402
from core.settings import Settings  # noqa: E402


def fresh_database(url: str) -> None:
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        Path(parsed.database).unlink(missing_ok=True)
        return
    admin = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{parsed.database}"'))
        conn.execute(sa.text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()


def write_accounts(path: Path, rows: int, employees_offset: int, industry: str) -> None:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["name", "employees", "industry"])
        for number in range(rows):
            writer.writerow([f"Upsert Co {number}", number % 500 + employees_offset, industry])


def timed_import(runtime: Runtime, path: Path, work: Path, batch_size: int, duplicates: list[dict]) -> tuple[float, object]:
    options = ImportOptions(rejected_path=work / "rejected.csv", duplicates=duplicates, batch_size=batch_size)
    started = time.perf_counter()
    report = run_import(runtime, Actor.system(), "account", path, options)
    return time.perf_counter() - started, report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True, metavar="URL")
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--batch-size", type=int, default=1000)
    args = parser.parse_args(argv)
    fresh_database(args.database)
    runtime = Runtime(Settings(database_url=args.database, plugins=()))
    runtime.upgrade("bench")
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        path = work / "accounts.csv"
        write_accounts(path, args.rows, 0, "technology")
        seconds, report = timed_import(runtime, path, work, args.batch_size, [])
        print(f"create: {report.created} rows in {seconds:.2f} s, {args.rows / seconds:,.0f} rows/s")
        write_accounts(path, args.rows, 1, "finance")
        seconds, report = timed_import(runtime, path, work, args.batch_size, [{"match": ["name"], "then": "update"}])
        print(f"update: {report.updated} rows ({report.rejected} rejected) in {seconds:.2f} s, {args.rows / seconds:,.0f} rows/s")
    runtime.engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
