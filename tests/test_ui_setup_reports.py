"""The report builder in Setup over real HTTP, on real SQLite files and a real PostgreSQL server: a report built by posting
the form as a browser does is previewed with the figures an independent computation gives, saved as the document the API
then answers, and run by the report page; each bad input is named beside its control and nothing is stored; a rep may
not open the builder; a plugin's report edited becomes a customization, and removing it brings the plugin's back.

People come from access_world.py (alice and bob: reps; cora: a customizer; root: an administrator).
"""

from __future__ import annotations

import collections
import html
import re

import pytest
from litestar.testing import TestClient

from access_world import build_world
from core.api.app import create_app
from core.records import Actor
from helpers import CHINESE
from test_ui_pages import HX, signed_in

SYSTEM = Actor.system()
EDITOR = "/setup/reports/editor"
INDUSTRIES = ["technology", "finance", "technology", None, "retail"]
DEALS = [  # name, account (index), stage, amount, close date
    ("Press line", 0, "prospecting", 1200, "2026-01-15"),
    ("Boiler", 1, "closed_won", 2500, "2026-02-03"),
    ("Conveyor", 2, "closed_won", 50, "2026-04-20"),
    ("Robot arm", 0, "qualification", 400000, "2026-04-02"),
    ("Spare parts", 3, "closed_lost", 75, "2026-07-30"),
    ("Dryer", 4, "closed_won", 1000, "2026-10-01"),
    ("Oven", 1, "closed_won", 700, "2026-10-20"),
]


@pytest.fixture
def world(make_runtime):
    world = build_world(make_runtime(plugins=("sales",)))
    accounts = []
    for i, industry in enumerate(INDUSTRIES):
        accounts.append(world.runtime.records.create(SYSTEM, "account", {"name": f"Account {i}", "owner": world.users["alice"],
                                                                          **({"industry": industry} if industry else {})})["id"])
    for name, account, stage, amount, close in DEALS:
        world.runtime.records.create(SYSTEM, "opportunity", {
            "name": name, "account": accounts[account], "stage": stage, "amount": amount, "close_date": close, "probability": 50,
            "owner": world.users["alice"], **({"loss_reason": "price"} if stage == "closed_lost" else {})})
    return world


@pytest.fixture
def root(world):
    with TestClient(create_app(world.runtime)) as client:
        client.csrf = signed_in(client, "root")
        yield client


def text_of(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def problem_at(page: str, control: str) -> str:
    """The words shown beside one control of the form."""
    found = re.search(rf'<small class="field-error rule-problem" id="{control}-problem">(.*?)</small>', page, re.S)
    return html.unescape(found.group(1)) if found else ""


def post(client, do: str, form: dict, headers: dict | None = None):
    return client.post(EDITOR, data={"_csrf_token": client.csrf, **form, "do": do}, headers=headers or {})


def summary_form(**extra) -> dict:
    form = {"name": "won_by_industry", "label_en": "Won by industry", "label_zh": "各行业赢单", "object": "opportunity",
            "drawn_for": "opportunity", "kind": "summary", "g0_field": "account.industry", "g1_field": "", "g2_field": "",
            "m0_aggregate": "count", "m1_aggregate": "sum", "m1_field": "amount", "f0_field": "stage", "f0_op": "in",
            "f0_value": "closed_won, closed_lost", "f1_field": "amount", "f1_op": "gte", "f1_value": "60",
            "period_field": "close_date", "period_range": "all_time", "sort_by": "sum_amount", "sort_desc": "on", "limit": "",
            "chart_type": "bar", "chart_measure": "sum_amount", "owner": "", "shared_with": ""}
    form.update(extra)
    return form


def expected_by_industry() -> dict:
    """The figures computed here, from the rows above: won or lost deals of at least 60, by their account's industry."""
    found = collections.defaultdict(lambda: [0, 0])
    for _name, account, stage, amount, _close in DEALS:
        if stage in ("closed_won", "closed_lost") and amount >= 60:
            found[INDUSTRIES[account]][0] += 1
            found[INDUSTRIES[account]][1] += amount
    return dict(found)


def preview_rows(page: str) -> list[list[str]]:
    section = page[page.index('id="report-table"'):]
    body = section[section.index("<tbody>"):section.index("</tbody>")]
    return [[text_of(cell) for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)] for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)]


def test_a_summary_report_built_in_the_form_is_previewed_saved_and_run(world, root):
    listed = root.get("/setup/reports")
    assert listed.status_code == 200 and "sales_pipeline_by_stage" in listed.text and "Plugin sales" in listed.text
    assert 'href="/setup/reports"' in root.get("/setup").text
    new = root.get("/setup/reports/new")
    assert new.status_code == 200 and 'name="object"' in new.text and 'name="g0_field"' not in new.text
    chosen = root.post(EDITOR, data={"_csrf_token": root.csrf, "object": "opportunity", "drawn_for": "", "do": "refresh"}, headers=HX)
    assert chosen.status_code == 200
    assert '<option value="account.industry">Account › Industry</option>' in chosen.text  # one lookup away
    assert 'name="g0_bucket"' not in chosen.text
    dated = post(root, "refresh", summary_form(g0_field="close_date"), HX)
    assert 'name="g0_bucket"' in dated.text  # a date offers its bucket
    summed = post(root, "refresh", summary_form(), HX).text
    measure_options = re.search(r'<select id="m1_field".*?</select>', summed, re.S).group(0)
    assert 'value="amount"' in measure_options and 'value="name"' not in measure_options  # a sum offers numbers only

    preview = post(root, "preview", summary_form())
    assert preview.status_code == 200, text_of(preview.text)[:800]
    rows = preview_rows(preview.text)
    expected = expected_by_industry()
    assert len(rows) == len(expected)
    shown = {row[0]: row[1:] for row in rows}
    assert shown == {("(Blank)" if industry is None else industry.title()): [f"{count:,}", f"${amount:,.2f}"]
                     for industry, (count, amount) in expected.items()}
    assert [row[0] for row in rows][0] == max(expected, key=lambda k: expected[k][1]).title()  # largest first
    assert root.get("/api/meta/reports/won_by_industry").status_code == 404  # a preview stores nothing

    saved = post(root, "save", summary_form())
    assert saved.status_code == 200 and str(saved.url).endswith("/reports/won_by_industry"), text_of(saved.text)[:800]
    assert "Won by industry" in saved.text and 'id="edit-report"' in saved.text
    stored = root.get("/api/meta/reports/won_by_industry").json()
    assert {k: v for k, v in stored.items() if k not in ("defined_by", "custom")} == {
        "name": "won_by_industry", "label": {"en": "Won by industry", "zh-CN": "各行业赢单"}, "object": "opportunity",
        "kind": "summary", "group_by": [{"field": "account.industry"}],
        "measures": [{"aggregate": "count"}, {"aggregate": "sum", "field": "amount"}],
        "filters": {"stage__in": ["closed_won", "closed_lost"], "amount__gte": 60},
        "period": {"field": "close_date", "range": "all_time"}, "sort": {"by": "sum_amount", "descending": True},
        "chart": {"type": "bar", "measure": "sum_amount"}}
    run = root.get("/api/reports/won_by_industry/run").json()
    assert {row["account.industry"]: [row["count"], row["sum_amount"]] for row in run["rows"]} == {
        k: [v[0], v[1]] for k, v in expected.items()}
    edit = root.get("/setup/reports/won_by_industry")
    assert edit.status_code == 200 and 'value="closed_won, closed_lost"' in edit.text and "readonly" in edit.text
