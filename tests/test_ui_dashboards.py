"""The dashboard pages over real HTTP, on real SQLite files and a real PostgreSQL server: the sales dashboard's figures
equal an independent computation, for an administrator and for a rep who sees only their own deals; the filter bar
narrows every tile; a bad filter is an alert naming it; a tile the reader may not run says why; the home page shows the
reader's default dashboard; a plugin's "progress" widget draws its numbers.

People come from access_world.py (alice: a rep of that world, who reads no opportunity; root: an administrator) and
sam, a sales rep of the sales plugin (reads his own deals) in the East team.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from pathlib import Path

import pytest
from access_world import PASSWORD, build_world
from fake_plugins import pi_progress
from litestar.testing import TestClient
from test_ui_pages import HX, signed_in

from core.api.app import create_app
from core.auth import Accounts
from core.records import Actor

SALES_TILES = len(json.loads((Path(__file__).resolve().parents[1] / "plugins" / "sales" / "metadata" / "dashboards.json").read_text())[0]["tiles"])

SYSTEM = Actor.system()
YEAR = dt.date.today().year
OPEN = ("prospecting", "qualification", "needs_analysis", "proposal", "negotiation")
DEALS = [  # name, owner, stage, amount, close date
    ("Press line", "sam", "prospecting", 1200, f"{YEAR}-01-15"),
    ("Boiler", "sam", "closed_won", 2500, f"{YEAR}-02-03"),
    ("Conveyor", "root", "closed_won", 50, f"{YEAR}-04-20"),
    ("Robot arm", "root", "qualification", 400000, f"{YEAR}-04-02"),
    ("Spare parts", "sam", "closed_lost", 75, f"{YEAR}-07-30"),
    ("Dryer", "root", "negotiation", 1000, f"{YEAR + 1}-03-01"),
    ("Mill", "sam", "proposal", 3000, f"{YEAR + 1}-05-01"),
]


def add_deals(world) -> None:
    user, _made = Accounts(world.runtime).add_user("sam", PASSWORD, "sales_rep", ["East"], full_name="Sam Seller")
    world.users["sam"] = user["id"]
    world.deals = {}
    for name, owner, stage, amount, close in DEALS:
        world.deals[name] = world.runtime.records.create(SYSTEM, "opportunity", {
            "name": name, "account": world.accounts["alice"], "stage": stage, "amount": amount, "close_date": close,
            "owner": world.users[owner], **({"loss_reason": "price"} if stage == "closed_lost" else {})})["id"]


@pytest.fixture
def world(make_runtime):
    world = build_world(make_runtime(plugins=("sales",)))
    add_deals(world)
    return world


def client_of(world, name: str):
    client = TestClient(create_app(world.runtime))
    client.__enter__()
    signed_in(client, name)
    return client


@pytest.fixture
def root(world):
    client = client_of(world, "root")
    yield client
    client.__exit__(None, None, None)


@pytest.fixture
def sam(world):
    client = client_of(world, "sam")
    yield client
    client.__exit__(None, None, None)


def money(value: float) -> str:
    return f"${value:,.2f}"


def tile(page: str, report: str) -> str:
    """The markup of the tile of one report."""
    start = page.index(f'data-report="{report}"')
    return page[start:page.index("</article>", start)]


def kpi(page: str, report: str) -> str:
    return html.unescape(re.search(r"<strong>([^<]*)</strong>", tile(page, report)).group(1))


def chart_of(page: str, report: str) -> dict:
    return json.loads(html.unescape(re.search(r"data-chart='([^']*)'", tile(page, report)).group(1)))


def open_amount(owners: set[str] | None = None) -> float:
    return sum(a for _n, o, s, a, _c in DEALS if s in OPEN and (owners is None or o in owners))


def test_the_dashboards_page_lists_the_sales_dashboard_and_the_reports_page_links_to_it(root):
    page = root.get("/dashboards")
    assert page.status_code == 200
    assert 'href="/dashboards/sales"' in page.text and "On your home page" in page.text
    assert 'href="/dashboards"' in root.get("/reports").text
    side = root.get("/").text
    assert 'href="/dashboards"' in side.split('id="sidebar"')[1].split("</aside>")[0]


def test_the_sales_dashboard_as_an_administrator_equals_an_independent_computation(root):
    page = root.get("/dashboards/sales")
    assert page.status_code == 200, page.text[:300]
    text = page.text
    assert text.count('class="dashboard-tile') == SALES_TILES
    assert kpi(text, "sales_open_pipeline") == money(open_amount())
    closed = [s for _n, _o, s, _a, _c in DEALS if s in ("closed_won", "closed_lost")]
    assert kpi(text, "sales_win_rate_by_owner") == f"{100 * closed.count('closed_won') / len(closed):,.2f} %"
    funnel = chart_of(text, "sales_pipeline_by_stage")
    stages = {s for _n, _o, s, _a, _c in DEALS}
    assert funnel["type"] == "funnel" and len(funnel["labels"]) == len(stages)
    assert sorted(funnel["series"][0]["values"]) == sorted(sum(a for _n, _o, s2, a, _c in DEALS if s2 == s) for s in stages)
    # the dashboard's period (this year) narrows the forecast to this year's open deals' months
    forecast = chart_of(text, "sales_weighted_forecast")
    assert len(forecast["labels"]) == len({c[:7] for _n, _o, s, _a, c in DEALS if s in OPEN and c.startswith(str(YEAR))})
    assert 'id="tile-1-title"' in text and ">Open pipeline<" in text  # the report's label is the tile's title
    assert 'href="/reports/sales_weighted_forecast?period=this_year"' in text  # the report with the dashboard's filters
    assert 'role="alert"' not in text and 'selected>This year<' in text


def test_a_rep_counts_only_his_own_deals(sam, world):
    text = sam.get("/dashboards/sales").text
    assert kpi(text, "sales_open_pipeline") == money(open_amount({"sam"}))
    funnel = chart_of(text, "sales_pipeline_by_stage")
    assert sum(funnel["series"][0]["values"]) == sum(a for _n, o, _s, a, _c in DEALS if o == "sam")
    assert re.fullmatch(r"50(\.00)? %", kpi(text, "sales_win_rate_by_owner"))  # one won, one lost


def test_the_owner_team_and_period_filters_change_the_figures(root, world):
    sam_id = world.users["sam"]
    mine = root.get("/dashboards/sales", params={"owner": str(sam_id)}).text
    assert kpi(mine, "sales_open_pipeline") == money(open_amount({"sam"}))
    assert f'<option value="{sam_id}" selected>Sam Seller</option>' in mine
    assert f'href="/reports/sales_open_pipeline?owner__in={sam_id}"' in mine
    east = root.get("/dashboards/sales", params={"team": "East"}).text
    assert kpi(east, "sales_open_pipeline") == money(open_amount({"sam"}))  # sam is the only East member with deals
    assert '<option value="East" selected>East</option>' in east
    everything = root.get("/dashboards/sales", params={"period": "all_time"}).text
    forecast = chart_of(everything, "sales_weighted_forecast")
    assert len(forecast["labels"]) == len({c[:7] for _n, _o, s, _a, c in DEALS if s in OPEN})
    partial = root.get("/dashboards/sales", params={"owner": str(sam_id)}, headers=HX)
    assert partial.status_code == 200 and "<html" not in partial.text and 'id="dashboard-board"' in partial.text
    assert kpi(partial.text, "sales_open_pipeline") == money(open_amount({"sam"}))


@pytest.mark.parametrize("params,named", [({"owner": "someone"}, "?owner"), ({"period": "someday"}, "?period"), ({"team": "Nowhere"}, "?team")])
def test_a_bad_filter_is_an_alert_naming_it(root, params, named):
    bad = root.get("/dashboards/sales", params=params)
    assert bad.status_code == 400 and 'role="alert"' in bad.text and named in bad.text.split('role="alert"')[1][:400]
    assert 'class="dashboard-tile' not in bad.text and 'name="period"' in bad.text  # the filter bar stays, to correct it


def test_a_tile_the_reader_may_not_run_says_why_and_an_unknown_dashboard_is_404(world):
    alice = client_of(world, "alice")  # her role reads no opportunity
    try:
        page = alice.get("/dashboards/sales")
        assert page.status_code == 200 and 'role="alert"' not in page.text
        hidden = tile(page.text, "sales_open_pipeline")
        assert 'class="muted tile-reason"' in hidden and "Open report" not in hidden
        assert re.search(r"tile-reason\">.*?</svg>\s*\S", hidden, re.DOTALL)
        assert alice.get("/dashboards/nowhere").status_code == 404
    finally:
        alice.__exit__(None, None, None)


def test_the_home_page_shows_the_default_dashboard_from_the_cache(root, world):
    first = root.get("/").text
    assert 'id="home-dashboard"' in first and 'href="/dashboards/sales"' in first
    assert kpi(first.split('id="home-dashboard"')[1], "sales_open_pipeline") == money(open_amount())
    assert root.get("/").text.split('id="home-dashboard"')[1].count('class="dashboard-tile') == SALES_TILES
    assert first.count("Targets: attainment and forecast") == 1  # a widget on the dashboard is not drawn a second time above it
    world.runtime.records.create(SYSTEM, "opportunity", {"name": "Late", "account": world.accounts["alice"], "stage": "proposal",
                                                         "amount": 10, "close_date": f"{YEAR}-06-01", "owner": world.users["root"]})
    again = root.get("/").text  # a write to a source: the figures are computed again
    assert kpi(again.split('id="home-dashboard"')[1], "sales_open_pipeline") == money(open_amount() + 10)


def test_without_a_dashboard_the_home_page_is_as_before(make_runtime):
    world = build_world(make_runtime(plugins=()))
    client = client_of(world, "root")
    try:
        home = client.get("/")
        assert home.status_code == 200 and "My open activities" in home.text and 'id="home-dashboard"' not in home.text
        assert "There is no dashboard you may see yet." in client.get("/dashboards").text
    finally:
        client.__exit__(None, None, None)


def test_the_pages_speak_chinese(world):
    root_id = world.users["root"]
    world.runtime.records.update(SYSTEM, "user", root_id, {"language": "zh_cn"},
                                 version=world.runtime.records.get(SYSTEM, "user", root_id)["version"])
    client = client_of(world, "root")
    try:
        page = client.get("/dashboards/sales").text
        assert "<h1>销售</h1>" in page and "打开报表" in page and ">在途销售管道<" in page and "今年" in page
        assert kpi(page, "sales_open_pipeline") == f"US${open_amount():,.2f}"
        assert "仪表板" in client.get("/dashboards").text
        bad = client.get("/dashboards/sales", params={"owner": "x"})
        assert bad.status_code == 400 and re.search(r"[\u4e00-\u9fff]", bad.text.split('role="alert"')[1][:300])
    finally:
        client.__exit__(None, None, None)


def test_a_progress_widget_draws_its_numbers_on_a_dashboard_and_at_home(make_runtime):
    world = build_world(make_runtime(plugins=("sales", "pi"), extra_plugins=[pi_progress]))
    world.runtime.import_changeset({"format": "tessera-changeset/1", "dashboards": [
        {"name": "targets", "label": {"en": "Targets", "zh-CN": "目标"}, "roles": [],
         "tiles": [{"widget": "pi_quota", "width": 8}, {"widget": "nowhere_widget", "width": 4}]}]}, "test", "test")
    client = client_of(world, "root")
    try:
        page = client.get("/dashboards/targets")
        assert page.status_code == 200, page.text[:300]
        assert '<progress value="1200" max="5000"' in page.text and "$1,200.00 of $5,000.00 (24%)" in page.text
        assert '<progress value="3" max="4"' in page.text and "3 of 4 (75%)" in page.text and "7 of 0 (0%)" in page.text and '<progress value="0" max="1"' in page.text
        assert 'aria-valuetext="3 of 4 (75%)"' in page.text and '<a href="/r/opportunity">Won this quarter</a>' in page.text
        assert ">My targets<" in page.text and "Quota set by the manager" in page.text
        assert 'class="muted tile-reason"' in page.text  # a widget no plugin offers says so
        home = client.get("/").text
        assert 'id="widget-pi_quota"' in home and "$1,200.00 of $5,000.00 (24%)" in home.split('id="widget-pi_quota"')[1]
    finally:
        client.__exit__(None, None, None)
