"""Reports: definitions checked against metadata, run under each reader's record scope and field access, over real
SQLite files and a real PostgreSQL server, each figure compared with an independent computation."""

from __future__ import annotations

import collections
import datetime as dt
from decimal import Decimal

import pytest

from core.records import Actor
from core.reports.definition import ReportError
from core.reports.running import Runner

SYSTEM = Actor.system()
DEALS = [  # name, account owner, stage, amount, close date
    ("a1", "alice", "prospecting", 100, "2026-01-15"),
    ("a2", "alice", "closed_won", 250, "2026-02-03"),
    ("a3", "alice", "closed_won", 50, "2026-04-20"),
    ("b1", "bob", "qualification", 400, "2026-04-02"),
    ("b2", "bob", "closed_lost", 75, "2026-07-30"),
    ("c1", "carol", "closed_won", 1000, "2026-10-01"),
]


@pytest.fixture
def runtime(make_runtime):
    return make_runtime(plugins=("sales",))


def put_report(runtime, body):
    runtime.import_changeset({"format": "tessera-changeset/1", "reports": [body]}, "test", "test")


@pytest.fixture
def deals(runtime):
    accounts = {name: runtime.records.create(SYSTEM, "account", {"name": f"{name} corp"})["id"] for name in ("alice", "bob", "carol")}
    for name, owner, stage, amount, close in DEALS:
        runtime.records.create(SYSTEM, "opportunity", {"name": name, "account": accounts[owner], "stage": stage, "amount": amount,
                                                       "close_date": close, "probability": 50,
                                                       **({"loss_reason": "price"} if stage == "closed_lost" else {})})
    return accounts


def test_a_summary_report_counts_and_sums_by_stage(runtime, deals):
    put_report(runtime, {"name": "pipeline", "label": {"en": "Pipeline"}, "object": "opportunity", "kind": "summary",
                         "group_by": [{"field": "stage"}],
                         "measures": [{"aggregate": "count"}, {"aggregate": "sum", "field": "amount"}, {"aggregate": "avg", "field": "amount"}]})
    result = Runner(runtime).run(SYSTEM, "pipeline").as_dict()
    by_stage = collections.defaultdict(list)
    for _name, _owner, stage, amount, _close in DEALS:
        by_stage[stage].append(amount)
    got = {row["stage"]: (row["count"], row["sum_amount"], row["avg_amount"]) for row in result["rows"]}
    assert got == {stage: (len(a), sum(a), round(sum(a) / len(a), 2)) for stage, a in by_stage.items()}
    assert result["totals"]["count"] == len(DEALS) and result["totals"]["sum_amount"] == sum(d[3] for d in DEALS)
    assert [row["stage"] for row in result["rows"]] == ["prospecting", "qualification", "closed_won", "closed_lost"]  # picklist order
    print(result)


def test_dates_bucket_by_quarter_and_lookups_by_title(runtime, deals):
    put_report(runtime, {"name": "by_quarter", "object": "opportunity", "kind": "matrix",
                         "group_by": [{"field": "account"}, {"field": "close_date", "bucket": "quarter"}],
                         "measures": [{"aggregate": "sum", "field": "amount"}, {"aggregate": "count_distinct", "field": "stage"}]})
    result = Runner(runtime).run(SYSTEM, "by_quarter").as_dict()
    print(result)
    cells = {(row["account__label"], row["close_date"]): row["sum_amount"] for row in result["rows"]}
    expected = collections.Counter()
    for _name, owner, _stage, amount, close in DEALS:
        day = dt.date.fromisoformat(close)
        expected[(f"{owner} corp", f"{day.year}-Q{(day.month - 1) // 3 + 1}")] += amount
    assert cells == dict(expected)
    assert result["totals"]["count_distinct_stage"] == 4


def test_a_figure_drills_down_to_its_records(runtime, deals):
    put_report(runtime, {"name": "pipeline", "object": "opportunity", "group_by": [{"field": "stage"}, {"field": "close_date", "bucket": "month"}]})
    runner = Runner(runtime)
    won = runner.drill(SYSTEM, "pipeline", cell={"stage": "closed_won"})
    assert won["count"] == 3 and sorted(r["name"] for r in won["items"]) == ["a2", "a3", "c1"]
    april = runner.drill(SYSTEM, "pipeline", cell={"stage": "closed_won", "close_date": "2026-04"})
    assert [r["name"] for r in april["items"]] == ["a3"]
    with pytest.raises(ReportError):
        runner.drill(SYSTEM, "pipeline", cell={"nowhere": "x"})


def test_the_built_in_reports_and_dashboards_run(make_runtime):
    runtime = make_runtime(plugins=("sales", "service"))
    from core.reports.dashboards import Dashboards, Filters

    dashboards = Dashboards(runtime)
    for name in ("sales", "service"):
        composed = dashboards.compose(SYSTEM, name, Filters())
        assert [t for t in composed["tiles"] if "hidden" in t] == []


@pytest.fixture
def maven(make_runtime, tmp_path):
    """The Maven CRM sample imported as the sales plugin's accounts, users and opportunities (tests/test_imports_maven.py)."""
    from test_imports_maven import OPPORTUNITY_FIELDS, SECTORS, STAGES, LOSS_REASONS, load
    from helpers import changeset

    runtime = make_runtime(plugins=("sales",))
    runtime.import_changeset(changeset(extensions=[OPPORTUNITY_FIELDS]), "maven.json", "test")
    load(runtime, tmp_path, "product", "products.csv", {"columns": {"product": "name", "sales_price": "unit_price"}})
    load(runtime, tmp_path, "user", "sales_teams.csv", {"columns": {"sales_agent": None, "manager": "username", "regional_office": None}},
         [{"match": ["username"], "then": "skip"}])
    load(runtime, tmp_path, "user", "sales_teams.csv", {"columns": {"sales_agent": ["username", "full_name"], "manager": "manager",
                                                                    "regional_office": None}})
    load(runtime, tmp_path, "account", "accounts.csv", {"columns": {
        "account": "name", "sector": {"field": "industry", "values": SECTORS}, "revenue": "annual_revenue",
        "office_location": "billing_country", "subsidiary_of": "parent_account"}})
    load(runtime, tmp_path, "opportunity", "sales_pipeline.csv", {"columns": {
        "opportunity_id": ["source_id", "name"], "sales_agent": "owner", "product": {"field": "product", "values": {"GTXPro": "GTX Pro"}},
        "deal_stage": [{"field": "stage", "values": STAGES}, {"field": "loss_reason", "values": LOSS_REASONS}], "close_value": "amount"}},
        [{"match": ["source_id"], "then": "update"}])
    return runtime


def maven_rows():
    """The pipeline file's deals that the import keeps (an account and a close date), with their account's sector."""
    from test_imports_maven import SECTORS, rows_of

    sectors = {row["account"]: SECTORS.get(row["sector"], row["sector"]) for row in rows_of("accounts.csv")}
    return [{**row, "industry": sectors.get(row["account"])} for row in rows_of("sales_pipeline.csv") if row["account"] and row["close_date"]]


def test_the_built_in_sales_reports_match_the_maven_file_computed_by_hand(maven):
    rows, runner = maven_rows(), Runner(maven)
    won = [r for r in rows if r["deal_stage"] == "Won"]
    pipeline = runner.run(SYSTEM, "sales_pipeline_by_stage").as_dict()
    by_stage = {row["stage"]: row for row in pipeline["rows"]}
    assert by_stage["closed_won"]["count"] == len(won) == 4238
    assert Decimal(str(by_stage["closed_won"]["sum_amount"])) == sum(Decimal(r["close_value"]) for r in won)
    assert pipeline["totals"]["count"] == len(rows)

    quarters = collections.Counter()
    for r in won:
        day = dt.date.fromisoformat(r["close_date"])
        quarters[f"{day.year}-Q{(day.month - 1) // 3 + 1}"] += Decimal(r["close_value"])
    by_quarter = runner.run(SYSTEM, "sales_won_by_quarter").as_dict()
    assert {row["close_date"]: Decimal(str(row["sum_amount"])) for row in by_quarter["rows"]} == dict(quarters)

    closed = collections.defaultdict(list)
    for r in rows:
        if r["deal_stage"] in ("Won", "Lost"):
            closed[r["sales_agent"]].append(r["deal_stage"] == "Won")
    rates = runner.run(SYSTEM, "sales_win_rate_by_owner").as_dict()
    got = {row["owner__label"]: row["avg_won_percent"] for row in rates["rows"]}
    assert got == {agent: round(100 * sum(w) / len(w), 2) for agent, w in closed.items()}
    assert [row["avg_won_percent"] for row in rates["rows"]] == sorted(got.values(), reverse=True)

    industries = collections.Counter()
    for r in won:
        industries[r["industry"]] += Decimal(r["close_value"])
    by_industry = runner.run(SYSTEM, "sales_deals_by_industry").as_dict()
    assert {row["account.industry"]: Decimal(str(row["sum_amount"])) for row in by_industry["rows"]} == dict(industries)
    assert by_industry["totals"]["count_distinct_account"] == len({r["account"] for r in won})


def test_a_rep_sums_only_what_the_rep_may_read_and_a_hidden_field_is_refused(api):
    runtime, world = api.world.runtime, api.world
    put_report(runtime, {"name": "accounts_by_owner", "object": "account", "group_by": [{"field": "owner"}],
                         "measures": [{"aggregate": "count"}]})
    put_report(runtime, {"name": "by_number", "object": "account", "group_by": [{"field": "account_number"}]})
    admin = api.get("root", "/api/reports/accounts_by_owner/run").json()
    alice = api.get("alice", "/api/reports/accounts_by_owner/run").json()
    mike = api.get("mike", "/api/reports/accounts_by_owner/run").json()
    assert admin["totals"]["count"] == len(world.accounts)
    assert [(r["owner"], r["count"]) for r in alice["rows"]] == [(world.users["alice"], 1)]  # own scope
    assert {r["owner"] for r in mike["rows"]} == {world.users[n] for n in ("alice", "bob", "mike")}  # the East team
    refused = api.get("alice", "/api/reports/by_number/run")
    assert refused.status_code == 403
    assert refused.json()["errors"][0]["pointer"] == "/group_by/0/field" and "account_number" in refused.json()["message"]
    assert api.get("root", "/api/reports/by_number/run").status_code == 200
    zh = api.client.get("/api/reports/by_number/run", headers=api.headers("alice", **{"Accept-Language": "zh-CN"}))
    assert "无权查看" in zh.json()["message"]


def test_bad_reports_are_refused_with_the_place_and_nothing_changes(api):
    bad = [({"object": "opportunityy"}, "/object", "no object"),
            ({"object": "account", "group_by": [{"field": "industy"}]}, "/group_by/0/field", "did you mean 'industry'"),
            ({"object": "account", "group_by": [{"field": "name"}], "measures": [{"aggregate": "sum", "field": "name"}]},
             "/measures/0/aggregate", "does not fit"),
            ({"object": "account", "group_by": [{"field": "name", "bucket": "month"}]}, "/group_by/0/bucket", "not a date"),
            ({"object": "account", "group_by": [{"field": "parent_account.nme"}]}, "/group_by/0/field", "did you mean 'name'"),
            ({"object": "account", "kind": "matrix", "group_by": [{"field": "industry"}]}, "/group_by", "two or three"),
            ({"object": "account", "group_by": [{"field": "industry"}], "filters": {"nowhere": 1}}, "/filters/nowhere", "nowhere"),
            ({"object": "account", "group_by": [{"field": "industry"}], "sort": {"by": "sum_x"}}, "/sort/by", "sum_x")]
    for body, pointer, words in bad:
        response = api.put("root", "/api/meta/reports/bad", json=body)
        assert response.status_code == 422, (body, response.text)
        problems = response.json()["errors"]
        assert any(p["pointer"].endswith(pointer) and words in p["message"] for p in problems), (body, problems)
    assert api.get("root", "/api/meta/reports/bad").status_code == 404


def test_the_run_api_answers_json_csv_and_xlsx_and_refuses_bad_parameters(api, tmp_path):
    runtime = api.world.runtime
    put_report(runtime, {"name": "by_industry", "object": "account", "group_by": [{"field": "industry"}],
                         "measures": [{"aggregate": "count"}], "period": {"field": "created_at", "range": "all_time"}})
    ok = api.get("root", "/api/reports/by_industry/run")
    assert ok.status_code == 200 and ok.json()["totals"]["count"] == len(api.world.accounts)
    csv_text = api.get("root", "/api/reports/by_industry/run", params={"format": "csv"}).content.decode("utf-8-sig")
    assert csv_text.splitlines()[0] == "Industry,Record count" and csv_text.splitlines()[-1].startswith("Total,")
    xlsx = api.get("root", "/api/reports/by_industry/run", params={"format": "xlsx"})
    (tmp_path / "r.xlsx").write_bytes(xlsx.content)
    from openpyxl import load_workbook

    sheet = load_workbook(tmp_path / "r.xlsx").active
    assert [c.value for c in next(sheet.iter_rows())] == ["Industry", "Record count"]
    assert api.get("root", "/api/reports/nowhere/run").status_code == 404
    for params, where in [({"period": "someday"}, "?period"), ({"format": "pdf"}, "format"), ({"nme": "x"}, "nme")]:
        response = api.get("root", "/api/reports/by_industry/run", params=params)
        assert response.status_code == 400, response.text
        assert where in response.text
    filtered = api.get("root", "/api/reports/by_industry/run", params={"name": "nobody has this name"}).json()
    assert filtered["rows"] == [] and filtered["totals"]["count"] == 0


def test_kept_figures_are_dropped_when_a_source_object_is_written(runtime, deals):
    put_report(runtime, {"name": "by_industry", "object": "opportunity", "group_by": [{"field": "account.industry"}],
                         "measures": [{"aggregate": "sum", "field": "amount"}]})
    runner = Runner(runtime)
    first = runner.run(SYSTEM, "by_industry").as_dict()
    assert runner.run(SYSTEM, "by_industry").as_dict() == first
    runtime.records.update(SYSTEM, "account", deals["alice"], {"industry": "technology", "version": 1})  # an object the report follows
    after = runner.run(SYSTEM, "by_industry").as_dict()
    assert {r["account.industry"]: r["sum_amount"] for r in after["rows"]} == {"technology": 400, None: 1475}


def test_time_in_stage_and_the_funnel_come_from_the_stage_intervals(runtime, deals):
    import sqlalchemy as sa

    runner = Runner(runtime)
    first = runtime.records.list(SYSTEM, "opportunity", {"name": "a1"}).items[0]
    runtime.records.update(SYSTEM, "opportunity", first["id"], {"stage": "qualification", "version": first["version"]})
    with runtime.engine.begin() as conn:  # an interval of a known length: two days in prospecting
        conn.execute(sa.text("UPDATE tessera_stage_interval SET entered_at = :entered, left_at = :left WHERE record_id = :id AND value = 'prospecting'"),
                     {"entered": dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc), "left": dt.datetime(2026, 3, 3, tzinfo=dt.timezone.utc), "id": first["id"]})
    runtime.report_cache.written(["opportunity"])
    put_report(runtime, {"name": "time_in_stage", "object": "opportunity", "history": "stage", "group_by": [{"field": "history.value"}],
                         "measures": [{"aggregate": "avg", "field": "history.days"}, {"aggregate": "count_distinct", "field": "id"}],
                         "filters": {"name": "a1"}})
    rows = {row["history.value"]: row for row in runner.run(SYSTEM, "time_in_stage").as_dict()["rows"]}
    assert rows["prospecting"]["avg_history.days"] == 2 and set(rows) == {"prospecting", "qualification"}
    put_report(runtime, {"name": "funnel", "object": "opportunity", "history": "stage", "group_by": [{"field": "history.value"}],
                         "measures": [{"aggregate": "count_distinct", "field": "id"}],
                         "chart": {"type": "funnel", "steps": ["prospecting", "qualification", "negotiation", "closed_won"]}})
    funnel = runner.run(SYSTEM, "funnel").as_dict()["rows"]
    assert [(r["history.value"], r["count_distinct_id"], r["count_distinct_id__conversion"]) for r in funnel] == [
        ("prospecting", 1, None), ("qualification", 2, 200.0), ("negotiation", 0, 0.0), ("closed_won", 3, None)]
    drilled = runner.drill(SYSTEM, "funnel", cell={"history.value": "qualification"})
    assert sorted(r["name"] for r in drilled["items"]) == ["a1", "b1"]


def test_the_cli_runs_a_report_as_a_user_and_names_a_refusal(runtime, deals, tmp_path):
    from click.testing import CliRunner

    from core.cli import cli

    put_report(runtime, {"name": "pipeline", "object": "opportunity", "group_by": [{"field": "stage"}],
                         "measures": [{"aggregate": "sum", "field": "amount"}]})
    url = str(runtime.engine.url.render_as_string(hide_password=False))
    shown = CliRunner().invoke(cli, ["--database", url, "reports", "run", "pipeline", "stage=closed_won"])
    assert shown.exit_code == 0, shown.output
    assert shown.output.splitlines()[1].split() == ["Closed", "Won", "1300"] and shown.output.splitlines()[-1].split() == ["Total", "1300"]
    listed = CliRunner().invoke(cli, ["--database", url, "reports", "list"])
    assert "pipeline\topportunity\tsummary" in listed.output
    refused = CliRunner().invoke(cli, ["--database", url, "reports", "run", "pipeline", "period=someday"])
    assert refused.exit_code == 2 and "pipeline?period" in refused.output and "someday" in refused.output
    missing = CliRunner().invoke(cli, ["--database", url, "reports", "run", "pipelne"])
    assert missing.exit_code == 2 and "did you mean 'pipeline'" in missing.output
    out = tmp_path / "p.xlsx"
    written = CliRunner().invoke(cli, ["--database", url, "reports", "run", "pipeline", "--format", "xlsx", "--output", str(out)])
    assert written.exit_code == 0 and out.stat().st_size > 0


def test_a_private_report_is_seen_by_its_owner_and_those_it_is_shared_with(api):
    runtime = api.world.runtime
    put_report(runtime, {"name": "alices", "object": "account", "group_by": [{"field": "industry"}], "owner": "alice"})
    put_report(runtime, {"name": "east", "object": "account", "group_by": [{"field": "industry"}], "owner": "alice",
                         "shared_with": ["team:East"]})
    def names(who):
        return {r["name"] for r in api.get(who, "/api/reports").json()["items"]}
    assert {"alices", "east"} <= names("alice") and "alices" not in names("bob") and "east" in names("bob")
    assert names("carol").isdisjoint({"alices", "east"})
    assert api.get("carol", "/api/reports/east/run").status_code == 404
    assert api.get("carol", "/api/meta/reports/east").status_code == 404
    assert "east" not in {r["name"] for r in api.get("carol", "/api/meta/reports").json()["items"]}
    assert api.get("root", "/api/meta/reports/east").status_code == 200 and api.get("root", "/api/reports/alices/run").status_code == 200


def test_a_funnel_page_shows_each_steps_conversion_and_the_measures_own_label(api):
    runtime = api.world.runtime
    put_report(runtime, {"name": "by_industry", "object": "account", "group_by": [{"field": "industry"}],
                         "measures": [{"aggregate": "count", "label": {"en": "Accounts here", "zh-CN": "此处客户"}}],
                         "chart": {"type": "funnel", "steps": ["technology", "energy"]}})
    result = api.get("root", "/api/reports/by_industry/run").json()
    assert [c["label"] for c in result["columns"] if c["role"] == "measure"] == [{"en": "Accounts here", "zh-CN": "此处客户"}]
    assert [r["industry"] for r in result["rows"]] == ["technology", "energy"] and "count__conversion" in result["rows"][1]


def test_the_other_sales_figures_match_a_computation_by_hand(runtime, deals):
    import sqlalchemy as sa

    leads = [("web", "converted"), ("web", "new"), ("web", "working"), ("event", "converted"), ("event", "converted"), ("partner", "new")]
    for n, (source, status) in enumerate(leads):
        converted = {"converted_account": deals["alice"]} if status == "converted" else {}
        runtime.records.create(SYSTEM, "lead", {"last_name": f"L{n}", "company": f"C{n}", "source": source, "status": status, **converted})
    with runtime.engine.begin() as conn:  # the won deals were created some days before they closed (test set-up only)
        conn.execute(sa.text("UPDATE opportunity SET created_at = :at WHERE name IN ('a2', 'a3', 'c1')"),
                     {"at": dt.datetime(2026, 1, 1, 12, tzinfo=dt.timezone.utc)})
    runtime.report_cache.written(["opportunity"])
    runner = Runner(runtime)

    by_source = collections.defaultdict(list)
    for source, status in leads:
        by_source[source].append(100 if status == "converted" else 0)
    rates = {r["source"]: r["avg_converted_percent"] for r in runner.run(SYSTEM, "sales_lead_conversion_by_source").as_dict()["rows"]}
    assert rates == {s: round(sum(v) / len(v), 2) for s, v in by_source.items()}

    won = [(close, amount) for _n, _o, stage, amount, close in DEALS if stage == "closed_won"]
    cycle = runner.run(SYSTEM, "sales_deal_cycle").as_dict()["totals"]
    days = [(dt.date.fromisoformat(close) - dt.date(2026, 1, 1)).days for close, _amount in won]
    assert cycle == {"avg_days_to_close": round(sum(days) / len(days), 2), "count": len(won)}

    open_deals = [(amount, close) for _n, _o, stage, amount, close in DEALS if stage not in ("closed_won", "closed_lost")]
    pipeline = runner.run(SYSTEM, "sales_open_pipeline").as_dict()["totals"]
    assert pipeline == {"sum_amount": sum(a for a, _c in open_deals), "sum_weighted_amount": sum(a / 2 for a, _c in open_deals),
                        "count": len(open_deals)}  # every deal here is at 50%
    this_year = runner.run(SYSTEM, "sales_weighted_forecast", [("period", "all_time")]).as_dict()
    months = collections.Counter()
    for amount, close in open_deals:
        months[close[:7]] += amount / 2
    assert {e["close_date"]: e["sum_weighted_amount"] for e in this_year["subtotals"]["close_date"]} == dict(months)


def test_a_plugins_report_that_no_longer_fits_never_blocks_a_change_and_says_why_when_it_runs(runtime):
    runtime.import_changeset({"format": "tessera-changeset/1", "extensions": [{"object": "opportunity", "process_field": None}]}, "test", "test")
    with pytest.raises(ReportError) as refused:
        Runner(runtime).run(SYSTEM, "sales_time_in_stage")
    assert refused.value.problems[0][0] == "/history" and "process field" in str(refused.value)
    assert Runner(runtime).run(SYSTEM, "sales_pipeline_by_stage").totals["count"] == 0  # the others still run
    from core.reports.dashboards import Dashboards, Filters

    tiles = Dashboards(runtime).compose(SYSTEM, "sales", Filters())["tiles"]
    assert [t["report"] for t in tiles if "hidden" in t] == ["sales_stage_funnel", "sales_time_in_stage"]
    with pytest.raises(Exception) as own:  # a report of one's own is checked when it is saved
        put_report(runtime, {"name": "mine", "object": "opportunity", "history": "stage", "group_by": [{"field": "history.value"}]})
    assert "process field" in str(own.value)
