"""What docs/plugins.md says about Tessera's behaviour holds: its examples run and its quoted answers are the real ones.

(Fleet's web page, template and static file run in the example's own tests, through tests/test_external_plugin.py.)
"""

from __future__ import annotations

import json
import re
import tomllib
import types
from pathlib import Path

import pytest
from litestar.testing import TestClient

from access_world import build_world
from core.api.app import create_app
from core.hookspecs import hookimpl
from core.metadata.problems import MetadataError
from core.plugins import DashboardWidget, PluginInfo, ScheduledJob
from core.records import Actor
from core.validation import RecordValidationError
from helpers import changeset, label
from test_ui_pages import signed_in

ROOT = Path(__file__).resolve().parents[1]
GUIDE = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
SYSTEM = Actor.system()


def depot_plugin(**hooks) -> types.ModuleType:
    """A plugin made in the test: a depot object with a board, a field on account, and the hooks given."""
    module = types.ModuleType("depot_plugin")
    module.PLUGIN = PluginInfo(name="depot", version="1.0.0", label={"en": "Depot"})

    @hookimpl
    def tessera_metadata():
        return [
            {"name": "depot", "label": label("Depot", "车场"), "title_field": "name", "fields": [
                {"name": "name", "type": "text", "label": label("Name", "名称"), "required": True},
                {"name": "status", "type": "picklist", "label": label("Status", "状态"),
                 "values": [{"value": "open", "label": label("Open", "开放")}, {"value": "closed", "label": label("Closed", "关闭")}]},
                {"name": "bays", "type": "integer", "label": label("Bays", "车位")},
            ]},
            {"object": "depot", "kind": "kanban", "group_by": "status", "sum_field": "bays"},
            {"object": "account", "fields": [{"name": "depot_count", "type": "integer", "label": label("Depots", "车场数")}]},
        ]

    module.tessera_metadata = tessera_metadata
    for name, function in hooks.items():
        setattr(module, name, hookimpl(function))
    return module


def test_the_pyproject_example_parses_and_ships_templates_and_static_files():
    quoted = re.search(r"<!-- file: examples/tessera-fleet/pyproject.toml -->\n```toml\n(.*?)\n```", GUIDE, re.DOTALL).group(1)
    project = tomllib.loads(quoted)
    assert project["project"]["entry-points"]["tessera"] == {"fleet": "tessera_fleet"}
    assert project["tool"]["setuptools"]["package-data"]["tessera_fleet"] == ["metadata/*.json", "templates/**/*.html", "static/**/*"]


def test_a_board_sums_its_sum_field_per_column(make_runtime, actor):
    runtime = make_runtime(plugins=("depot",), extra_plugins=[depot_plugin()])
    for bays, status in ((4, "open"), (6, "open"), (3, "closed"), (2, None)):
        runtime.records.create(actor, "depot", {"name": f"D{bays}", "bays": bays, "status": status})
    rows = runtime.records.summarize(actor, "depot", "status", "bays")
    assert sorted(rows, key=lambda r: str(r["value"])) == [
        {"value": None, "count": 1, "sum": 2}, {"value": "closed", "count": 1, "sum": 3}, {"value": "open", "count": 2, "sum": 10}]


def test_a_board_that_sums_a_text_field_is_refused_as_the_guide_says(make_runtime):
    runtime = make_runtime(plugins=())
    board = {"object": "account", "kind": "kanban", "group_by": "industry", "sum_field": "name"}
    with pytest.raises(MetadataError, match=r"/sum_field: a kanban sums a number field; 'name' is a text"):
        runtime.import_changeset(changeset(layouts=[board]), "change.json", "tester")
    assert "`/sum_field: a kanban sums a number field; 'plate_number' is a text`" in GUIDE


def test_scheduled_jobs_and_dashboard_widgets_are_dicts_by_name_stamped_with_the_plugin(make_runtime):
    def tessera_scheduled_jobs():
        return [ScheduledJob("depot.recount", 3600, lambda runtime, **kwargs: None, plugin="someone else")]

    def tessera_dashboard_widgets():
        return [DashboardWidget("depot.open", {"en": "Open depots", "zh-CN": "开放车场"}, lambda **kwargs: None)]

    runtime = make_runtime(plugins=("depot",), extra_plugins=[depot_plugin(tessera_scheduled_jobs=tessera_scheduled_jobs,
                                                                          tessera_dashboard_widgets=tessera_dashboard_widgets)])
    job = runtime.scheduled_jobs()["depot.recount"]
    assert (job.name, job.every_seconds, job.plugin, job.cron) == ("depot.recount", 3600, "depot", None)
    widget = runtime.dashboard_widgets()["depot.open"]
    assert (widget.name, widget.label["zh-CN"], widget.plugin) == ("depot.open", "开放车场", "depot")


def test_a_widget_refused_by_the_users_role_is_left_out_and_the_home_page_draws(make_runtime):
    def tessera_dashboard_widgets():
        def depots(runtime, actor, lang="en", **_kwargs):
            found = runtime.records.list(actor, "depot", {"limit": 5})  # Forbidden for a role that may not read depots
            return {"kind": "list", "items": [{"href": f"/r/depot/{d['id']}", "title": d["name"], "details": []} for d in found.items],
                    "empty": "No depots."}
        return [DashboardWidget("depot.list", {"en": "Depots", "zh-CN": "车场"}, depots)]

    world = build_world(make_runtime(plugins=("depot",), extra_plugins=[depot_plugin(tessera_dashboard_widgets=tessera_dashboard_widgets)]))
    world.runtime.records.create(SYSTEM, "depot", {"name": "North yard"})
    with TestClient(create_app(world.runtime)) as client:
        signed_in(client, "root")
        assert 'id="widget-depot-list"' in client.get("/").text and "North yard" in client.get("/").text
    with TestClient(create_app(world.runtime)) as client:
        signed_in(client, "alice")  # a rep: may not read depots
        home = client.get("/")
        assert home.status_code == 200 and 'id="widget-depot-list"' not in home.text


def test_the_sales_refusal_reads_in_chinese_as_the_guide_quotes_it(make_runtime, actor):
    runtime = make_runtime(plugins=("sales",))
    account = runtime.records.create(actor, "account", {"name": "Acme"})
    deal = runtime.records.create(actor, "opportunity", {"name": "Line 3", "account": account["id"], "close_date": "2026-09-30"})
    product = runtime.records.create(actor, "product", {"name": "PLC", "unit_price": 1000})
    quote = runtime.records.create(actor, "quote", {"name": "Line 3 retrofit", "opportunity": deal["id"]})
    runtime.records.create(actor, "quote_line", {"quote": quote["id"], "product": product["id"], "quantity": 1, "discount_percent": 25})
    quote = runtime.records.get(actor, "quote", quote["id"])
    with pytest.raises(RecordValidationError) as info:
        runtime.records.update(actor, "quote", quote["id"], {"status": "sent"}, version=quote["version"])
    [error] = info.value.errors
    quoted = re.search(r"the 422\nanswer's field error carries the code, the params and the wording in each language:\n\n```json\n(.*?)\n```",
                       GUIDE, re.DOTALL).group(1)
    assert error.as_dict("zh-CN") == json.loads(quoted)
    assert f"`{error.worded('zh-CN')}`" in GUIDE


def test_history_keeps_a_removed_plugins_fields_and_its_objects_wait(make_runtime, actor):
    plugin = depot_plugin()
    runtime = make_runtime(plugins=("depot",), extra_plugins=[plugin])
    account = runtime.records.create(actor, "account", {"name": "Acme", "depot_count": 1})
    runtime.records.update(actor, "account", account["id"], {"depot_count": 2}, version=account["version"])
    depot = runtime.records.create(actor, "depot", {"name": "North yard", "bays": 1})
    runtime.records.update(actor, "depot", depot["id"], {"bays": 2}, version=depot["version"])

    without = make_runtime(plugins=())
    assert "depot_count" not in without.records.get(actor, "account", account["id"])
    assert [(e["field"], e["old"], e["new"]) for e in without.records.history(actor, "account", account["id"])] == [("depot_count", 1, 2)]
    with pytest.raises(LookupError, match="there is no object 'depot'"):
        without.records.history(actor, "depot", depot["id"])

    world = build_world(without)
    with TestClient(create_app(world.runtime)) as client:
        signed_in(client, "root")
        page = client.get(f"/r/account/{account['id']}").text
        assert "depot_count" in page and "Depots" not in page  # the field's name, not its label
        assert client.get(f"/api/records/depot/{depot['id']}/history").status_code == 404

    again = make_runtime(plugins=("depot",), extra_plugins=[plugin], upgrade=False)
    assert [e["field"] for e in again.records.history(actor, "depot", depot["id"])] == ["bays"]


def test_the_system_actor_is_trusted_and_named_system():
    assert Actor.system() == Actor(None, "system", None)
