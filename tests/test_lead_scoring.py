"""Lead scoring configured in Setup without code: a new weighted picklist and a score formula count in the score, and the
existing leads are scored again by a job (or ``tessera sales rescore-leads --now``). Real HTTP, both databases."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from litestar.testing import TestClient

from access_world import build_world
from core.api.app import create_app
from core.records import Actor
from plugins import sales
from test_ui_pages import signed_in

SYSTEM = Actor.system()


@pytest.fixture
def world(make_runtime):
    return build_world(make_runtime(plugins=("sales",)))


def tessera(database_url, *args):
    env = {**os.environ, "TESSERA_PLUGINS": "sales"}
    env.pop("TESSERA_DATABASE_URL", None)
    return subprocess.run([str(Path(sys.executable).with_name("tessera")), "--database", database_url, *args], capture_output=True,
                          text=True, env=env, timeout=120)


def lead(runtime, **values):
    return runtime.records.create(SYSTEM, "lead", {"last_name": "Li", "company": "Acme", "status": "new", **values})


def test_the_shipped_weights_are_the_picklists_whose_values_carry_a_score(world):
    assert sales.weighted_fields(world.runtime.current_metadata()) == ["industry", "company_size", "urgency"]


def test_a_weighted_picklist_and_a_score_formula_added_in_setup_count_and_old_leads_are_scored_again(world, database_url):
    runtime = world.runtime
    before = lead(runtime, industry="technology", title="Director of Operations")
    base = before["score"]
    with TestClient(create_app(runtime)) as client:
        csrf = signed_in(client, "root")
        added = client.post("/setup/objects/lead/fields", data={
            "_csrf_token": csrf, "label_en": "Decision role", "label_zh": "决策角色", "type": "picklist",
            "values": "Economic buyer | 经济决策人\nUser | 使用者", "in_form": "on"})
        assert added.status_code == 200, added.text[:300]
        weights = client.post("/setup/objects/lead/fields/decision_role/values", data={
            "_csrf_token": csrf, "label_economic_buyer_en": "Economic buyer", "label_economic_buyer_zh": "经济决策人",
            "label_user_en": "User", "label_user_zh": "使用者", "new_property": "score", "prop__new_economic_buyer": "25",
            "prop__new_user": "5", "default": ""})
        assert weights.status_code == 200 and "Picklist values saved" in weights.text, weights.text[:300]
        assert 'name="prop_score_economic_buyer" value="25"' in weights.text  # the column is there to change now
        formula = client.post("/setup/objects/lead/formulas", data={
            "_csrf_token": csrf, "label_en": "Title score", "name": "score_title", "result_type": "integer",
            "expression": "IF(CONTAINS(LOWER(title), 'director'), 15, 0)"})
        assert formula.status_code == 200, formula.text[:300]
    meta = runtime.current_metadata()
    assert "decision_role" in sales.weighted_fields(meta) and [f.name for f in sales.score_formulas(meta)] == ["score_title"]
    made = lead(runtime, industry="technology", title="Director of Operations", decision_role="economic_buyer")
    assert made["score"] == base + 25 + 15
    assert runtime.records.get(SYSTEM, "lead", before["id"])["score"] == base  # until scored again
    result = tessera(database_url, "sales", "rescore-leads", "--now")
    assert result.returncode == 0, result.stderr
    assert "1 changed" in result.stdout
    assert runtime.records.get(SYSTEM, "lead", before["id"])["score"] == base + 15
    queued = tessera(database_url, "sales", "rescore-leads")
    assert queued.returncode == 0 and "Queued job" in queued.stdout
    from core import queue, scheduler

    worker = queue.Worker(runtime, scheduler.handlers(runtime))
    assert worker.run_once() is not None  # the job ran: nothing left to change


def test_the_scoring_page_shows_each_part_and_queues_a_rescore(world):
    from core import queue, scheduler
    from helpers import CHINESE

    runtime = world.runtime
    runtime.import_changeset({"format": "tessera-changeset/1", "extensions": [{"object": "lead", "fields": [
        {"name": "score_title", "type": "formula", "label": {"en": "Title score", "zh-CN": "职位分"}, "result_type": "integer",
         "expression": "IF(CONTAINS(LOWER(title), 'director'), 15, 0)"}]}]}, "test", "test")
    old = lead(runtime, title="Director")
    with runtime.engine.begin() as conn:  # as it was before the formula existed
        conn.exec_driver_sql(f"UPDATE lead SET score = 0 WHERE id = {old['id']}")
    with TestClient(create_app(runtime)) as client:
        signed_in(client, "alice")
        assert client.get("/sales/lead-scoring").status_code == 403  # a rep
        client.cookies.clear()
        csrf = signed_in(client, "root")
        page = client.get("/sales/lead-scoring").text
        assert "Industry" in page and "Technology: 20" in page and "Title score" in page and "CONTAINS(LOWER(title)" in page
        assert "线索评分" in client.get("/sales/lead-scoring", headers=CHINESE).text
        assert 'href="/setup/objects/lead/formulas/new?name=score_&amp;result_type=integer"' in page
        editor = client.get("/setup/objects/lead/formulas/new?name=score_&result_type=integer").text
        assert 'name="name" value="score_"' in editor and '<option value="integer" selected>' in editor
        queued = client.post("/sales/lead-scoring/rescore", data={"_csrf_token": csrf})
        assert queued.status_code == 200 and "being scored again" in queued.text
    worker = queue.Worker(runtime, scheduler.handlers(runtime))
    while worker.run_once():
        pass
    assert runtime.records.get(SYSTEM, "lead", old["id"])["score"] == 15
