"""The report pages over real HTTP, on real SQLite files and a real PostgreSQL server: the figures shown equal an
independent computation, a rep sees only their own records' figures, a figure's drill-down lists exactly its records,
a refused report is an alert, and the CSV export carries the labels.

People come from access_world.py (alice and bob: reps who read their own accounts; root: an administrator).
"""

from __future__ import annotations

import collections
import csv
import datetime as dt
import html
import io
import re
from urllib.parse import parse_qsl, urlsplit

import pytest
from litestar.testing import TestClient

from access_world import build_world
from core.api.app import create_app
from core.records import Actor
from test_ui_pages import HX, signed_in

SYSTEM = Actor.system()
DEALS = [  # name, stage, amount, close date
    ("Press line", "prospecting", 1200, "2026-01-15"),
    ("Boiler", "closed_won", 2500, "2026-02-03"),
    ("Conveyor", "closed_won", 50, "2026-04-20"),
    ("Robot arm", "qualification", 400000, "2026-04-02"),
    ("Spare parts", "closed_lost", 75, "2026-07-30"),
    ("Dryer", "closed_won", 1000, "2026-10-01"),
]
ACCOUNTS = [  # owner, industry, annual revenue
    ("alice", "technology", 2000), ("alice", "finance", 300), ("bob", "technology", 5000), ("carol", None, 70),
]


@pytest.fixture
def world(make_runtime):
    world = build_world(make_runtime(plugins=("sales",)))
    for i, (owner, industry, revenue) in enumerate(ACCOUNTS):
        world.runtime.records.create(SYSTEM, "account", {"name": f"Account {i}", "owner": world.users[owner], "annual_revenue": revenue,
                                                         **({"industry": industry} if industry else {})})
    world.deals = {}
    for name, stage, amount, close in DEALS:
        world.deals[name] = world.runtime.records.create(SYSTEM, "opportunity", {
            "name": name, "account": world.accounts["alice"], "stage": stage, "amount": amount, "close_date": close, "probability": 50,
            **({"loss_reason": "price"} if stage == "closed_lost" else {})})["id"]
    put_reports(world.runtime, [
        {"name": "pipeline", "label": {"en": "Pipeline by stage", "zh-CN": "按阶段的商机"}, "object": "opportunity", "kind": "summary",
         "description": {"en": "Open and closed deals", "zh-CN": "所有商机"},
         "group_by": [{"field": "stage"}], "measures": [{"aggregate": "count"}, {"aggregate": "sum", "field": "amount"}],
         "chart": {"type": "bar", "measure": "sum_amount"}, "prompts": [{"filter": "amount__gte", "default": 0}],
         "period": {"field": "close_date", "range": "all_time"}},
        {"name": "stage_by_quarter", "label": {"en": "Stages by quarter", "zh-CN": "按季度的阶段"}, "object": "opportunity", "kind": "matrix",
         "group_by": [{"field": "stage"}, {"field": "close_date", "bucket": "quarter"}],
         "measures": [{"aggregate": "sum", "field": "amount"}], "chart": {"type": "stacked_bar"}},
        {"name": "revenue_by_industry", "label": {"en": "Revenue by industry", "zh-CN": "按行业的收入"}, "object": "account",
         "group_by": [{"field": "industry"}], "measures": [{"aggregate": "sum", "field": "annual_revenue"}, {"aggregate": "count"}],
         "chart": {"type": "pie"}},
        {"name": "owners_and_industries", "object": "account", "group_by": [{"field": "owner"}, {"field": "industry"}],
         "chart": {"type": "kpi"}},
        {"name": "account_numbers", "label": {"en": "Account numbers"}, "object": "account", "group_by": [{"field": "account_number"}]},
        {"name": "deal_list", "object": "opportunity", "kind": "tabular", "columns": ["name", "stage", "amount", "account"]},
    ])
    return world


def put_reports(runtime, bodies):
    runtime.import_changeset({"format": "tessera-changeset/1", "reports": bodies}, "test", "test")


@pytest.fixture
def root(world):
    with TestClient(create_app(world.runtime)) as client:
        signed_in(client, "root")
        yield client


@pytest.fixture
def alice(world):
    with TestClient(create_app(world.runtime)) as client:
        signed_in(client, "alice")
        yield client


def table_rows(page: str, table_id: str = "report-table") -> list[list[str]]:
    """The text of each row of a table (header and data cells), tags and blanks removed."""
    table = page.split(f'id="{table_id}"')[1].split("</table>")[0]
    rows = []
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S):
        cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        rows.append([html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in cells])
    return rows


def money(value: int) -> str:
    return f"${value:,.2f}"


def test_the_reports_page_lists_what_each_user_may_run_in_their_language(root, alice, world):
    page = root.get("/reports")
    assert page.status_code == 200
    assert "Pipeline by stage" in page.text and "Open and closed deals" in page.text and "Bar chart" in page.text
    assert 'href="/reports"' in page.text and 'aria-current="page"' in page.text.split('href="/reports"')[1][:40]
    chinese = root.get("/reports", headers={"Accept-Language": "zh-CN"})
    # root's language is their preference (English unless set), so Chinese comes from a user who chose it
    assert chinese.status_code == 200
    theirs = alice.get("/reports").text
    assert "Revenue by industry" in theirs and "Pipeline by stage" not in theirs  # a rep reads no opportunity


def test_a_summary_shows_the_figures_with_currency_and_a_total(root):
    page = root.get("/reports/pipeline")
    assert page.status_code == 200, page.text[:300]
    rows = table_rows(page.text)
    by_stage = collections.defaultdict(list)
    for _name, stage, amount, _close in DEALS:
        by_stage[stage].append(amount)
    labels = {"prospecting": "Prospecting", "qualification": "Qualification", "closed_won": "Closed Won", "closed_lost": "Closed Lost"}
    body = {row[0]: row[1:] for row in rows[1:-1]}
    assert {labels.get(k, k) for k in by_stage} <= set(body) or len(body) == len(by_stage)
    shown = {row[0]: (row[1], row[2]) for row in rows[1:-1]}
    expected = sorted((str(len(a)), money(sum(a))) for a in by_stage.values())
    assert sorted(shown.values()) == expected
    assert rows[-1] == ["Total", str(len(DEALS)), money(sum(d[2] for d in DEALS))]
    assert "$400,000.00" in page.text  # thousands separated
    assert 'data-chart=' in page.text and 'role="img"' in page.text and "<caption>" in page.text
    assert 'id="prompt-1" name="amount__gte" value="0"' in page.text and 'name="period"' in page.text


def test_a_prompt_and_a_period_narrow_the_figures(root):
    page = root.get("/reports/pipeline", params={"amount__gte": "1000", "period": "all_time"})
    total = table_rows(page.text)[-1]
    big = [d for d in DEALS if d[2] >= 1000]
    assert total == ["Total", str(len(big)), money(sum(d[2] for d in big))]
    assert 'value="1000"' in page.text
    total_link = html.unescape(re.findall(r'href="(/reports/pipeline/records\?[^"]+)"', page.text)[-1])
    drilled = root.get(total_link).text
    assert 'data-count="%d"' % len(big) in drilled and len(table_rows(drilled, "drill-records")) == len(big) + 1
    partial = root.get("/reports/pipeline", params={"amount__gte": "1000"}, headers=HX)
    assert partial.status_code == 200 and "<html" not in partial.text and 'id="report-result"' in partial.text


def test_a_matrix_is_pivoted_with_subtotals_both_ways(root):
    page = root.get("/reports/stage_by_quarter")
    assert page.status_code == 200
    rows = table_rows(page.text)
    quarters = sorted({f"2026-Q{(dt.date.fromisoformat(c).month - 1) // 3 + 1}" for *_x, c in DEALS})
    assert rows[0][1:] == quarters + ["Total"]
    cells = collections.Counter()
    for _name, stage, amount, close in DEALS:
        cells[(stage, f"2026-Q{(dt.date.fromisoformat(close).month - 1) // 3 + 1}")] += amount
    won = next(row for row in rows if row[0] == "Closed Won")
    assert won[1:] == [money(cells[("closed_won", q)]) if cells[("closed_won", q)] else "" for q in quarters] + \
        [money(sum(a for (s, _q), a in cells.items() if s == "closed_won"))]
    assert rows[-1] == ["Total"] + [money(sum(a for (_s, q2), a in cells.items() if q2 == q)) for q in quarters] + \
        [money(sum(d[2] for d in DEALS))]
    assert '"type": "stacked_bar"' in html.unescape(page.text)


def test_a_figure_drills_down_to_exactly_its_records(root, world):
    page = root.get("/reports/stage_by_quarter").text
    links = re.findall(r'href="(/reports/stage_by_quarter/records\?[^"]+)"', page)
    cell = next(html.unescape(link) for link in links if "stage=closed_won" in html.unescape(link) and "close_date=2026-Q2" in html.unescape(link))
    drilled = root.get(cell)
    assert drilled.status_code == 200
    expected = {world.deals[name] for name, stage, _a, close in DEALS if stage == "closed_won" and close.startswith("2026-04")}
    found = {int(i) for i in re.findall(r'href="/r/opportunity/(\d+)"', drilled.text.split('id="drill-records"')[1])}
    assert found == expected
    assert 'data-count="1"' in drilled.text
    won = root.get("/reports/stage_by_quarter/records", params={"stage": "closed_won"}).text
    assert {int(i) for i in re.findall(r'href="/r/opportunity/(\d+)"', won.split('id="drill-records"')[1])} == \
        {world.deals[n] for n, s, _a, _c in DEALS if s == "closed_won"}
    params = dict(parse_qsl(urlsplit(cell).query))
    assert params["stage"] == "closed_won"


def test_a_rep_sees_only_their_own_records_figures(alice, root, world):
    mine = table_rows(alice.get("/reports/revenue_by_industry").text)
    own = [a for a in ACCOUNTS if a[0] == "alice"]
    # alice's own accounts: the two above and the one access_world gives her (no industry, 1,000)
    expected = collections.defaultdict(list)
    for _owner, industry, revenue in own + [("alice", None, 1000)]:
        expected[industry].append(revenue)
    assert mine[-1] == ["Total", money(sum(sum(v) for v in expected.values())), str(sum(len(v) for v in expected.values()))]
    assert ["Technology", money(2000), "1"] in mine and ["Finance", money(300), "1"] in mine
    everyone = table_rows(root.get("/reports/revenue_by_industry").text)
    assert everyone[-1][1] == money(sum(a[2] for a in ACCOUNTS) + 4 * 1000)
    drilled = alice.get("/reports/revenue_by_industry/records", params={"industry": "technology"}).text
    assert 'data-count="1"' in drilled


def test_a_hidden_field_is_an_alert_with_403_and_an_unknown_report_the_404_page(alice, root):
    refused = alice.get("/reports/account_numbers")
    assert refused.status_code == 403
    assert 'role="alert"' in refused.text and "account_number" in refused.text
    assert root.get("/reports/account_numbers").status_code == 200
    missing = alice.get("/reports/nowhere")
    assert missing.status_code == 404 and "There is no page at this address." in missing.text
    unreadable = alice.get("/reports/pipeline")  # on an object she may not read: named, not run
    assert unreadable.status_code == 403 and 'role="alert"' in unreadable.text and 'id="report-table"' not in unreadable.text
    assert alice.get("/reports/nowhere/records").status_code == 404


def test_a_bad_period_or_filter_is_an_alert_naming_the_place(root):
    bad = root.get("/reports/pipeline", params={"period": "someday"})
    assert bad.status_code == 400 and 'role="alert"' in bad.text and "?period" in bad.text
    unperiodic = root.get("/reports/stage_by_quarter", params={"period": "this_year"})
    assert unperiodic.status_code == 400 and 'role="alert"' in unperiodic.text
    wrong = root.get("/reports/pipeline", params={"amount__gte": "lots"})
    assert wrong.status_code == 400 and 'role="alert"' in wrong.text and "amount__gte" in wrong.text
    nowhere = root.get("/reports/pipeline", params={"nowhere": "1"})
    assert nowhere.status_code == 400 and 'role="alert"' in nowhere.text


def test_a_tabular_report_links_each_record(root, world):
    page = root.get("/reports/deal_list").text
    ids = {int(i) for i in re.findall(r'href="/r/opportunity/(\d+)"', page.split('id="report-table"')[1])}
    assert ids == set(world.deals.values())
    rows = table_rows(page)
    assert ["Robot arm", "Qualification", money(400000), "Alice Industries"] in rows


def test_a_kpi_is_one_big_number_and_subtotals_follow_the_first_grouping(root):
    page = root.get("/reports/owners_and_industries").text
    assert 'class="import-counts report-kpi"' in page and f"<strong>{len(ACCOUNTS) + 4}</strong>" in page
    rows = table_rows(page)
    subtotals = [row for row in rows if row and row[0].startswith("Subtotal")]
    assert len(subtotals) == 4 and rows[-1][-1] == str(len(ACCOUNTS) + 4)


def test_the_csv_export_carries_the_labels_in_the_readers_language(root, world):
    page = root.get("/reports/revenue_by_industry").text
    href = html.unescape(re.search(r'href="(/api/reports/revenue_by_industry/run\?[^"]*format=csv)"', page).group(1))
    exported = root.get(href)
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert rows[0] == ["Industry", "Sum of Annual Revenue", "Record count"]
    assert ["Technology", "7000", "2"] in rows and rows[-1][0] == "Total"
    xlsx = root.get(href.replace("format=csv", "format=xlsx"))
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"


def test_the_pages_speak_chinese(world):
    alice = world.users["alice"]
    world.runtime.records.update(SYSTEM, "user", alice, {"language": "zh_cn"},
                                 version=world.runtime.records.get(SYSTEM, "user", alice)["version"])
    with TestClient(create_app(world.runtime)) as client:
        signed_in(client, "alice")
        index = client.get("/reports").text
        assert "报表" in index and "按行业的收入" in index and "饼图" in index
        page = client.get("/reports/revenue_by_industry").text
        rows = table_rows(page)
        assert rows[-1][0] == "合计" and ["科技", "US$2,000.00", "1"] in rows  # as the list pages write dollars in Chinese
        refused = client.get("/reports/account_numbers")
        assert refused.status_code == 403 and re.search(r"[\u4e00-\u9fff]", refused.text.split('role="alert"')[1][:300])
        exported = client.get("/api/reports/revenue_by_industry/run?format=csv")
        assert "行业" in exported.content.decode("utf-8-sig").splitlines()[0]

