"""Reports and dashboards at size, beside the raw SQL of the same queries.

    python bench/report_bench.py --database URL [--runs 7]   # on bench/generate.py's data (deals, accounts, --owners)

Adds eight reports on the ``deal`` object (and a dashboard of them) when they are missing, then times, in process:

* ``summary``: the report grouped by two fields (stage and close month; count and sum of amount) as an administrator,
  with nothing reused, beside the raw ``GROUP BY`` of the same query; and as a rep whose role reads only their own deals
  (the permission set ``bench_report_own``), beside the admin's time and the raw query with the owner condition.
* ``time in stage``: the average days deals spent in each stage, from the stage intervals the record service keeps
  (the deal object gets ``stage`` as its process field, and the intervals of the deals written before are built once),
  beside the raw join of the same intervals and deals.
* ``dashboard``: the dashboard of the eight reports as the administrator, once computed (every tile run) and once
  reused (nothing written since), beside the sum of the eight raw queries.

Medians of ``--runs`` runs after one warm-up. Nothing here is a test: it prints figures for docs/performance.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.records import Actor  # noqa: E402
from core.reports.cache import ReportCache  # noqa: E402
from core.reports.dashboards import Dashboards, Filters  # noqa: E402
from core.reports.running import Runner  # noqa: E402
from core.runtime import Runtime  # noqa: E402
from core.settings import Settings  # noqa: E402

OPEN = ["prospecting", "qualification", "proposal", "negotiation"]
REPORTS = [
    {"name": "bench_stage_month", "object": "deal", "group_by": [{"field": "stage"}, {"field": "close_date", "bucket": "month"}],
     "measures": [{"aggregate": "count"}, {"aggregate": "sum", "field": "amount"}]},
    {"name": "bench_stage", "object": "deal", "group_by": [{"field": "stage"}], "measures": [{"aggregate": "count"}, {"aggregate": "sum", "field": "amount"}]},
    {"name": "bench_month", "object": "deal", "group_by": [{"field": "close_date", "bucket": "month"}], "measures": [{"aggregate": "sum", "field": "amount"}]},
    {"name": "bench_owner", "object": "deal", "group_by": [{"field": "owner"}], "measures": [{"aggregate": "count"}]},
    {"name": "bench_stage_avg", "object": "deal", "group_by": [{"field": "stage"}], "measures": [{"aggregate": "avg", "field": "amount"}]},
    {"name": "bench_won_quarter", "object": "deal", "group_by": [{"field": "close_date", "bucket": "quarter"}],
     "measures": [{"aggregate": "sum", "field": "amount"}], "filters": {"stage": "won"}},
    {"name": "bench_accounts", "object": "deal", "group_by": [{"field": "stage"}], "measures": [{"aggregate": "count_distinct", "field": "account"}]},
    {"name": "bench_open", "object": "deal", "group_by": [{"field": "stage"}], "measures": [{"aggregate": "sum", "field": "amount"}],
     "filters": {"stage__in": OPEN}},
]
TIME_IN_STAGE = {"name": "bench_time_in_stage", "object": "deal", "history": "stage", "group_by": [{"field": "history.value"}],
                 "measures": [{"aggregate": "avg", "field": "history.days"}, {"aggregate": "count"}]}
DASHBOARD = {"name": "bench", "label": {"en": "Bench"}, "tiles": [{"report": r["name"]} for r in REPORTS]}
OWN = {"name": "bench_report_own", "label": {"en": "Bench own reader"},
       "objects": {"deal": {"read": "own", "create": "none", "update": "none", "delete": "none"}, "account": {"read": "all"}}}


def raw_queries(dialect: str, owner: bool = False) -> list[str]:
    """The eight reports' queries in plain SQL, in the order of REPORTS."""
    month = "to_char(close_date, 'YYYY-MM')" if dialect == "postgresql" else "strftime('%Y-%m', close_date)"
    quarter = ("to_char(close_date, 'YYYY-\"Q\"Q')" if dialect == "postgresql"
               else "strftime('%Y', close_date) || '-Q' || ((CAST(strftime('%m', close_date) AS INTEGER) + 2) / 3)")
    live = "deleted_at IS NULL" + (" AND owner = :owner" if owner else "")
    open_stages = ", ".join(f"'{s}'" for s in OPEN)
    return [
        f"SELECT stage, {month}, count(*), coalesce(sum(amount), 0) FROM deal WHERE {live} GROUP BY 1, 2",
        f"SELECT stage, count(*), coalesce(sum(amount), 0) FROM deal WHERE {live} GROUP BY 1",
        f"SELECT {month}, coalesce(sum(amount), 0) FROM deal WHERE {live} GROUP BY 1",
        f"SELECT owner, count(*) FROM deal WHERE {live} GROUP BY 1",
        f"SELECT stage, avg(amount), sum(amount), count(amount) FROM deal WHERE {live} GROUP BY 1",
        f"SELECT {quarter}, coalesce(sum(amount), 0) FROM deal WHERE {live} AND stage = 'won' GROUP BY 1",
        f"SELECT stage, count(DISTINCT account) FROM deal WHERE {live} GROUP BY 1",
        f"SELECT stage, coalesce(sum(amount), 0) FROM deal WHERE {live} AND stage IN ({open_stages}) GROUP BY 1",
    ]


def median_ms(function, runs: int) -> float:
    function()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def prepare(runtime: Runtime) -> None:
    if runtime.current_metadata().object("deal").process_field != "stage":  # stage intervals are kept for a process field
        runtime.import_changeset({"format": "tessera-changeset/1", "extensions": [{"object": "deal", "process_field": "stage"}]},
                                 "bench", "bench")
        runtime.upgrade("bench")  # builds the intervals of the deals written before
    meta = runtime.current_metadata()
    missing = [r for r in [*REPORTS, TIME_IN_STAGE] if r["name"] not in meta.reports]
    changes = {"format": "tessera-changeset/1"}
    if missing:
        changes["reports"] = missing
    if "bench" not in meta.dashboards:
        changes["dashboards"] = [DASHBOARD]
    if OWN["name"] not in meta.permission_sets:
        changes["permission_sets"] = [OWN]
    if len(changes) > 1:
        runtime.import_changeset(changes, "bench", "bench")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", required=True)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    runtime = Runtime(Settings(database_url=args.database, plugins=()))
    runtime.upgrade("bench")
    prepare(runtime)
    dialect = runtime.engine.dialect.name
    with runtime.engine.connect() as conn:
        deals = conn.execute(sa.text("SELECT count(*) FROM deal WHERE deleted_at IS NULL")).scalar_one()
        accounts = conn.execute(sa.text("SELECT count(*) FROM account WHERE deleted_at IS NULL")).scalar_one()
        owner = conn.execute(sa.text("SELECT owner FROM deal WHERE owner IS NOT NULL ORDER BY id LIMIT 1")).scalar()
        admin_id = conn.execute(sa.text("SELECT id FROM \"user\" ORDER BY id LIMIT 1")).scalar()
    print(f"{dialect}: {deals:,} deals, {accounts:,} accounts; {args.runs} runs, medians")
    admin, rep = Actor(admin_id, "bench.admin", "admin"), Actor(owner, "bench.rep", OWN["name"])
    runner, raw = Runner(runtime), raw_queries(dialect)
    owned = raw_queries(dialect, owner=True)

    def run_raw(sql: str, params: dict | None = None):
        with runtime.engine.connect() as conn:
            return conn.execute(sa.text(sql), params or {}).all()

    report_admin = median_ms(lambda: runner.run(admin, "bench_stage_month", reuse=False), args.runs)
    report_raw = median_ms(lambda: run_raw(raw[0]), args.runs)
    report_rep = median_ms(lambda: runner.run(rep, "bench_stage_month", reuse=False), args.runs)
    rep_raw = median_ms(lambda: run_raw(owned[0], {"owner": owner}), args.runs)
    assert runner.run(rep, "bench_stage_month").totals["count"] == run_raw(f"SELECT count(*) FROM deal WHERE deleted_at IS NULL AND owner = {int(owner)}")[0][0]
    print(f"summary by two fields, admin: {report_admin:.1f} ms; raw GROUP BY {report_raw:.1f} ms: {report_admin / report_raw:.2f}x the raw")
    print(f"summary by two fields, own-scope rep: {report_rep:.1f} ms = {report_rep / report_admin:.2f}x the admin's; "
          f"raw with the owner condition {rep_raw:.1f} ms")

    days = ("EXTRACT(EPOCH FROM COALESCE(i.left_at, now()) - i.entered_at) / 86400.0" if dialect == "postgresql"
            else "julianday(COALESCE(i.left_at, CURRENT_TIMESTAMP)) - julianday(i.entered_at)")
    stage_raw = (f"SELECT i.value, avg({days}), count(*) FROM tessera_stage_interval i JOIN deal d ON d.id = i.record_id "
                 "WHERE i.object = 'deal' AND i.field = 'stage' AND d.deleted_at IS NULL GROUP BY 1")
    with runtime.engine.connect() as conn:
        intervals = conn.execute(sa.text("SELECT count(*) FROM tessera_stage_interval WHERE object = 'deal'")).scalar_one()
    stage_report = median_ms(lambda: runner.run(admin, "bench_time_in_stage", reuse=False), args.runs)
    stage_floor = median_ms(lambda: run_raw(stage_raw), args.runs)
    print(f"time in each stage over {intervals:,} stage intervals, admin: {stage_report:.1f} ms; raw join {stage_floor:.1f} ms: "
          f"{stage_report / stage_floor:.2f}x")

    dashboards = Dashboards(runtime)

    def computed():
        runtime.report_cache = ReportCache()  # nothing kept: every tile runs
        dashboards.compose(admin, "bench", Filters())

    raw_sum = sum(median_ms(lambda sql=sql: run_raw(sql), args.runs) for sql in raw)
    dash_computed = median_ms(computed, args.runs)
    dashboards.compose(admin, "bench", Filters())
    dash_reused = median_ms(lambda: dashboards.compose(admin, "bench", Filters()), args.runs)
    print(f"dashboard of {len(REPORTS)} tiles, computed: {dash_computed:.1f} ms; sum of the raw queries {raw_sum:.1f} ms: "
          f"{dash_computed / raw_sum:.2f}x")
    print(f"dashboard of {len(REPORTS)} tiles, nothing written since: {dash_reused:.2f} ms")


if __name__ == "__main__":
    main()
