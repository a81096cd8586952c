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


def test_a_matrix_by_stage_and_close_quarter(world, root):
    form = summary_form(name="stage_by_quarter", label_en="Stages by quarter", kind="matrix", g0_field="stage",
                        g1_field="close_date", g1_bucket="quarter", m0_aggregate="sum", m0_field="amount", m1_aggregate="",
                        f0_field="", f1_field="", sort_by="", chart_type="stacked_bar", chart_measure="")
    del form["m1_aggregate"], form["m1_field"]
    preview = post(root, "preview", form)
    assert preview.status_code == 200, text_of(preview.text)[:800]
    head = text_of(preview.text[preview.text.index('id="report-table"'):preview.text.index("</thead>", preview.text.index('id="report-table"'))])
    assert "2026-Q1" in head and "2026-Q2" in head and "2026-Q3" in head and "2026-Q4" in head
    rows = {row[0]: row[1:] for row in preview_rows(preview.text)}
    won = {q: sum(a for _n, _acc, stage, a, close in DEALS if stage == "closed_won" and (int(close[5:7]) + 2) // 3 == q) for q in (1, 2, 3, 4)}
    assert rows["Closed Won"] == [f"${won[q]:,.2f}" if won[q] else "" for q in (1, 2, 3, 4)] + [f"${sum(won.values()):,.2f}"]
    assert post(root, "save", form).status_code == 200
    stored = root.get("/api/meta/reports/stage_by_quarter").json()
    assert stored["group_by"] == [{"field": "stage"}, {"field": "close_date", "bucket": "quarter"}] and stored["kind"] == "matrix"


@pytest.mark.parametrize("change, control, said, said_zh", [
    ({"g0_field": "account.industy"}, "g0_field", "industy", "industy"),
    ({"name": "Won By Industry!"}, "name", "Won By Industry!", "Won By Industry!"),
    ({"label_en": ""}, "label_en", "", ""),
    ({"g0_field": "name", "g0_bucket": "month"}, "g0_field", "not a date", "日期"),
    ({"m1_field": "name"}, "m1_aggregate", "sum", "sum"),
    ({"period_range": "last_forever"}, "period_range", "last_forever", "last_forever"),
    ({"sort_by": "sum_probability"}, "sort_by", "sum_probability", "sum_probability"),
    ({"f1_field": "amount", "f1_op": "gte", "f1_value": "lots"}, "f1_value", "lots", "lots"),
])
def test_each_bad_input_is_named_at_its_control_and_nothing_is_stored(world, root, change, control, said, said_zh):
    for headers, words in (({}, said), (CHINESE, said_zh)):
        answer = post(root, "save", summary_form(**change), headers)
        assert answer.status_code == 422, text_of(answer.text)[:500]
        beside = problem_at(answer.text, control)
        assert beside and words in beside, (control, text_of(answer.text)[:1500])
        assert 'id="report-errors"' in answer.text and f'href="#{control}"' in answer.text  # and in the summary
        assert f'id="{control}"' in answer.text
        if headers:
            assert re.search(r"[\u3400-\u9fff]", beside), beside
        assert post(root, "preview", summary_form(**change)).status_code in (200, 422)
    assert root.get("/api/meta/reports/won_by_industry").status_code == 404
    assert "won_by_industry" not in root.get("/setup/reports").text


def test_a_rep_may_not_open_the_builder(world):
    with TestClient(create_app(world.runtime)) as client:
        csrf = signed_in(client, "alice")
        assert client.get("/setup/reports").status_code == 403
        assert client.get("/setup/reports/new").status_code == 403
        assert client.get("/setup/reports/sales_pipeline_by_stage").status_code == 403
        assert client.post(EDITOR, data={"_csrf_token": csrf, **summary_form(), "do": "save"}).status_code == 403
        assert client.post("/setup/reports/sales_pipeline_by_stage/remove", data={"_csrf_token": csrf}).status_code == 403
        assert 'id="edit-report"' not in client.get("/reports/sales_pipeline_by_stage").text
    assert "won_by_industry" not in world.runtime.current_metadata().reports


def test_a_plugins_report_edited_becomes_a_customization_and_removing_it_brings_the_plugins_back(world, root):
    page = root.get("/reports/sales_pipeline_by_stage")
    assert 'href="/setup/reports/sales_pipeline_by_stage"' in page.text
    edit = root.get("/setup/reports/sales_pipeline_by_stage")
    assert edit.status_code == 200 and "Defined by Plugin sales" in edit.text
    assert '<option value="stage" selected>' in edit.text
    form = {k: v for k, v in re.findall(r'<input[^>]* name="([a-z0-9_]+)" value="([^"]*)"', edit.text)}
    form.update({k: html.unescape(v) for k, v in form.items()})
    for select, options in re.findall(r'<select id="[^"]+" name="([a-z0-9_]+)"[^>]*>(.*?)</select>', edit.text, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected', options)  # as a browser sends a form: the selected option
        form[select] = chosen.group(1) if chosen else (re.search(r'<option value="([^"]*)"', options) or [None, ""])[1]
    form.update(label_en="Pipeline by stage (ours)", chart_type="bar")
    saved = root.post(EDITOR, data={**form, "do": "save"})
    assert saved.status_code == 200 and str(saved.url).endswith("/reports/sales_pipeline_by_stage"), text_of(saved.text)[:800]
    stored = root.get("/api/meta/reports/sales_pipeline_by_stage").json()
    assert stored["custom"] is True and stored["label"]["en"] == "Pipeline by stage (ours)" and stored["chart"] == {"type": "bar", "measure": "sum_amount"}
    assert stored["measures"] == [{"aggregate": "count"}, {"aggregate": "sum", "field": "amount"}]
    listed = root.get("/setup/reports").text
    row = listed[listed.index('id="report-sales_pipeline_by_stage"'):]
    assert "Customization" in row[:2000] and "Remove the customization" in row[:2000]
    removed = root.post("/setup/reports/sales_pipeline_by_stage/remove", data={"_csrf_token": root.csrf})
    assert removed.status_code == 200 and "applies again" in removed.text
    back = root.get("/api/meta/reports/sales_pipeline_by_stage").json()
    assert back["custom"] is False and back["label"]["en"] == "Pipeline by stage" and back["chart"]["type"] == "funnel"


def test_a_report_of_ones_own_is_deleted_and_the_builder_speaks_chinese(world, root):
    assert post(root, "save", summary_form()).status_code == 200
    chinese = root.get("/setup/reports/won_by_industry", headers=CHINESE).text
    assert "分组" in text_of(chinese) or "汇总" in text_of(chinese)
    assert "Grouping" not in text_of(chinese) and "Measures" not in text_of(chinese)
    removed = root.post("/setup/reports/won_by_industry/remove", data={"_csrf_token": root.csrf})
    assert removed.status_code == 200 and root.get("/api/meta/reports/won_by_industry").status_code == 404
    assert root.get("/setup/reports/won_by_industry").status_code == 404
