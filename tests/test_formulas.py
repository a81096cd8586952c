"""Formula fields: defined in metadata, computed in the SELECT, read-only, hidden from whoever may not read their fields.

Real SQLite files and a real PostgreSQL server; the API through real HTTP. Each computed value is
checked against the expression computed in Python on the same record (core.expressions.evaluate)
and against the figure worked out by hand.
"""

from __future__ import annotations

import csv
import io

import pytest
import sqlalchemy as sa
from litestar.testing import TestClient

from access_world import build_world
from conftest import Api
from core.api.app import create_app
from core.expressions import evaluate
from core.metadata.problems import MetadataError
from core.records import Actor, RecordValidationError
from helpers import CHINESE, label

SYSTEM = Actor.system()

ACCOUNT_FORMULAS = [
    {"name": "size_band", "type": "formula", "label": label("Size band", "规模"),
     "expression": "IF(ISBLANK(annual_revenue), 'unknown', IF(annual_revenue >= 1000000, 'large', 'small'))", "result_type": "text"},
    {"name": "number_tail", "type": "formula", "label": label("Number tail", "编号尾号"),
     "expression": "LEFT(account_number, 3)", "result_type": "text"},
]
DEAL_FORMULAS = [
    {"name": "weighted", "type": "formula", "label": label("Weighted amount", "加权金额"),
     "expression": "amount * probability / 100", "result_type": "currency"},
    {"name": "industry_and_name", "type": "formula", "label": label("Industry and account", "行业与客户"),
     "expression": "UPPER(account.industry) & ' / ' & account.name", "result_type": "text"},
    {"name": "account_band", "type": "formula", "label": label("Account band", "客户规模"),
     "expression": "account.size_band", "result_type": "text"},
    {"name": "big", "type": "formula", "label": label("Big", "大单"), "expression": "weighted >= 1000", "result_type": "boolean"},
    {"name": "follow_up", "type": "formula", "label": label("Follow up", "跟进日"), "expression": "ADD_DAYS(close_date, 7)",
     "result_type": "date"},
    {"name": "per_unit", "type": "formula", "label": label("Per probability point", "每点概率金额"),
     "expression": "amount / probability", "result_type": "decimal"},
]


def with_formulas(runtime, deal_formulas=DEAL_FORMULAS, account_formulas=ACCOUNT_FORMULAS):
    runtime.import_changeset({"format": "tessera-changeset/1", "extensions": [
        {"object": "account", "fields": account_formulas}, {"object": "opportunity", "fields": deal_formulas}]}, "test", "test")


@pytest.fixture
def world(make_runtime):
    world = build_world(make_runtime(plugins=("sales",)))
    with_formulas(world.runtime)
    return world


@pytest.fixture
def api(world):
    with TestClient(create_app(world.runtime)) as client:
        yield Api(client, world)


def deal(runtime, account_id, name, amount, probability, close_date="2027-01-10"):
    return runtime.records.create(SYSTEM, "opportunity", {"name": name, "account": account_id, "amount": amount,
                                                          "probability": probability, "stage": "prospecting", "close_date": close_date})


def test_formulas_are_computed_on_reads_through_lookups_and_other_formulas(world):
    runtime = world.runtime
    account = runtime.records.create(SYSTEM, "account", {"name": "Acme", "industry": "manufacturing", "annual_revenue": 2500000})
    created = deal(runtime, account["id"], "Press line", 5000, 40)
    assert created["weighted"] == 2000.0
    assert created["industry_and_name"] == "MANUFACTURING / Acme"
    assert created["account_band"] == "large"  # the account's own formula, followed through the lookup
    assert created["big"] is True
    assert created["follow_up"] == "2027-01-17"
    assert created["per_unit"] == 125.0
    bare = runtime.records.create(SYSTEM, "account", {"name": "Bare"})
    zero = deal(runtime, bare["id"], "No chance", 800, 0)
    assert zero["per_unit"] is None  # dividing by zero gives blank
    assert zero["industry_and_name"] == " / Bare"  # & reads a blank as empty text
    assert zero["account_band"] == "unknown" and zero["big"] is False
    # Python computes the same from the record and the records its lookups lead to
    fetch = lambda object_name, record_id: runtime.records.get(SYSTEM, object_name, record_id)  # noqa: E731
    for record in (created, zero):
        stored = runtime.records.get(SYSTEM, "opportunity", record["id"])
        for fdef in runtime.current_metadata().object("opportunity").active_fields():
            if fdef.formula and fdef.name not in ("follow_up",):
                value = evaluate(fdef.typed, stored, fetch)
                shown = None if value is None else (bool(value) if fdef.type.family == "boolean" else
                                                    float(value) if fdef.type.family == "number" else value)
                assert shown == stored[fdef.name], fdef.name


def test_a_change_on_the_looked_up_record_shows_at_once(world):
    runtime = world.runtime
    account = runtime.records.create(SYSTEM, "account", {"name": "Acme", "industry": "manufacturing", "annual_revenue": 10})
    made = deal(runtime, account["id"], "Press line", 5000, 40)
    assert made["account_band"] == "small"
    runtime.records.update(SYSTEM, "account", account["id"], {"annual_revenue": 3000000, "name": "Acme Group",
                                                              "version": account["version"]})
    again = runtime.records.get(SYSTEM, "opportunity", made["id"])
    assert again["account_band"] == "large" and again["industry_and_name"] == "MANUFACTURING / Acme Group"


def test_lists_filter_sort_and_count_on_formulas(world):
    runtime = world.runtime
    account = runtime.records.create(SYSTEM, "account", {"name": "Acme", "industry": "retail"})
    for name, amount, probability in [("a", 1000, 10), ("b", 9000, 50), ("c", 4000, 90), ("d", 100, 50)]:
        deal(runtime, account["id"], name, amount, probability)
    page = runtime.records.list(SYSTEM, "opportunity", [("weighted__gte", "1000"), ("sort", "-weighted"), ("count", "exact")])
    assert [(r["name"], r["weighted"]) for r in page.items] == [("b", 4500.0), ("c", 3600.0)]
    assert page.count == 2
    capped = runtime.records.list(SYSTEM, "opportunity", [("big", "true"), ("count", "true")])
    assert sorted(r["name"] for r in capped.items) == ["b", "c"] and capped.count == 2
    texts = runtime.records.list(SYSTEM, "opportunity", [("industry_and_name__contains", "retail / ac"), ("sort", "weighted")])
    assert [r["name"] for r in texts.items] == ["d", "a", "c", "b"]
    assert runtime.records.list(SYSTEM, "opportunity", [("per_unit__isnull", "true")]).items == []
    grouped = runtime.records.summarize(SYSTEM, "opportunity", "stage", "weighted", [("big", "true")])
    assert [(g["value"], g["count"], g["sum"]) for g in grouped] == [("prospecting", 2, 8100.0)]


def test_a_formula_cannot_be_written_on_any_path(world, api):
    runtime = world.runtime
    made = deal(runtime, world.accounts["alice"], "x", 100, 10)
    with pytest.raises(RecordValidationError) as refused:
        runtime.records.update(SYSTEM, "opportunity", made["id"], {"weighted": 5, "version": made["version"]})
    assert [e.field for e in refused.value.errors] == ["weighted"]
    answer = api.post("root", "/api/records/opportunity", json={"name": "y", "stage": "prospecting", "weighted": 7, "close_date": "2027-01-01",
                                                                "account": world.accounts["alice"]})
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "weighted" and "formula" in answer.json()["errors"][0]["message"]
    chinese = api.post("root", "/api/records/opportunity", json={"name": "y", "stage": "prospecting", "weighted": 7, "close_date": "2027-01-01",
                                                                 "account": world.accounts["alice"]}, headers=CHINESE)
    assert "公式" in chinese.json()["errors"][0]["message"]
    sent_back = api.patch("root", f"/api/records/opportunity/{made['id']}", json={"weighted": None, "version": made["version"],
                                                                                 "amount": 200})
    assert sent_back.status_code == 200 and sent_back.json()["weighted"] == 20.0  # a blank sent back is not a write


def test_a_formula_is_hidden_from_whoever_may_not_read_a_field_it_uses(world, api):
    """The rep may not see account_number: number_tail, computed from it, is hidden like the field, on reads, lists,
    filters, sorting, the export and OpenAPI, while size_band (from a field the rep may read) is shown."""
    account_id = world.accounts["alice"]
    own = api.get("alice", f"/api/records/account/{account_id}").json()
    assert "number_tail" not in own and own["size_band"] == "small" and "account_number" not in own
    assert api.get("root", f"/api/records/account/{account_id}").json()["number_tail"] == "SEC"
    listed = api.get("alice", "/api/records/account").json()["items"]
    assert listed and all("number_tail" not in r for r in listed)
    for params in ({"number_tail": "SEC"}, {"sort": "number_tail"}):
        refused = api.get("alice", "/api/records/account", params=params)
        assert refused.status_code == 400, params
        assert "number_tail" in refused.text and "SEC" not in refused.text
    exported = api.get("alice", "/api/export/account", params={"format": "csv"})
    assert exported.status_code == 200, exported.text
    header = next(csv.reader(io.StringIO(exported.text)))
    assert "number_tail" not in header and "size_band" in header
    full = list(csv.reader(io.StringIO(api.get("root", "/api/export/account").text)))
    assert "number_tail" in full[0] and "SEC" in [row[full[0].index("number_tail")] for row in full[1:]]
    schema = api.get("alice", "/schema/openapi.json").json()["components"]["schemas"]
    assert "number_tail" not in schema["AccountRecord"]["properties"]
    band = schema["AccountRecord"]["properties"]["size_band"]
    assert band["readOnly"] is True and "size_band" not in schema["AccountInput"]["properties"]


def test_a_formula_following_a_lookup_to_an_object_the_reader_cannot_read_is_hidden(world, api):
    """The rep reads contacts but the viewer does not: a contact formula naming its account's name is the rep's only."""
    runtime = world.runtime
    runtime.import_changeset({"format": "tessera-changeset/1", "extensions": [{"object": "contact", "fields": [
        {"name": "company", "type": "formula", "label": label("Company", "公司"), "expression": "account.name", "result_type": "text"}]}]},
        "test", "test")
    contacts = {c["last_name"]: c for c in api.get("alice", "/api/records/contact").json()["items"]}
    assert contacts["Contact of alice"]["company"] == "Alice Industries"


@pytest.mark.parametrize("bad, pointer, words", [
    ({"expression": "amount * probabilty", "result_type": "currency"}, "/extensions/0/fields/0/expression",
     ["column 10", "'probabilty' is not a field of opportunity", "probability"]),
    ({"expression": "amount > 5", "result_type": "currency"}, "/extensions/0/fields/0/expression",
     ["gives a condition (true or false)", "a number is needed"]),
    ({"expression": "amount +", "result_type": "decimal"}, "/extensions/0/fields/0/expression", ["column"]),
    ({"expression": "amount", "result_type": "decimal", "required": True}, "/extensions/0/fields/0/required", ["formula"]),
    ({"expression": "amount"}, "/extensions/0/fields/0", ["result_type"]),
])
def test_a_bad_formula_is_refused_with_its_place_and_the_metadata_is_kept(make_runtime, bad, pointer, words):
    runtime = make_runtime(plugins=("sales",))
    with pytest.raises(MetadataError) as refused:
        runtime.import_changeset({"format": "tessera-changeset/1", "extensions": [{"object": "opportunity", "fields": [
            {"name": "bad", "type": "formula", "label": label("Bad"), **bad}]}]}, "test", "test")
    problem = next(p for p in refused.value.problems if p.pointer.startswith(pointer))
    said = problem.in_("en")
    for word in words:
        assert word in said or word in problem.pointer, (word, said)
    assert problem.in_("zh-CN") != said or "expression" not in pointer
    assert "bad" not in runtime.current_metadata().object("opportunity").fields


def test_formulas_that_use_each_other_in_a_circle_are_refused(make_runtime):
    runtime = make_runtime(plugins=("sales",))
    with pytest.raises(MetadataError) as refused:
        runtime.import_changeset({"format": "tessera-changeset/1", "extensions": [
            {"object": "account", "fields": [{"name": "echo", "type": "formula", "label": label("Echo"),
                                              "expression": "LEN(name) + 0", "result_type": "decimal"}]},
            {"object": "opportunity", "fields": [
                {"name": "loop_a", "type": "formula", "label": label("A"), "expression": "loop_b + 1", "result_type": "decimal"},
                {"name": "loop_b", "type": "formula", "label": label("B"), "expression": "loop_a + amount", "result_type": "decimal"}]},
        ]}, "test", "test")
    said = [p.in_("en") for p in refused.value.problems]
    assert any("opportunity.loop_a → opportunity.loop_b → opportunity.loop_a" in s for s in said), said
    assert any("循环" in p.in_("zh-CN") for p in refused.value.problems)


def run_jobs(runtime) -> int:
    from core import queue, scheduler

    worker, ran = queue.Worker(runtime, scheduler.handlers(runtime)), 0
    while worker.run_once():
        ran += 1
    return ran


STORED = [
    {"name": "weighted_kept", "type": "formula", "label": label("Weighted (kept)", "加权金额（存储）"),
     "expression": "amount * probability / 100", "result_type": "currency", "stored": True},
    {"name": "industry_kept", "type": "formula", "label": label("Industry (kept)", "行业（存储）"),
     "expression": "UPPER(account.industry) & ' ' & account.owner.username", "result_type": "text", "stored": True},
]


def test_a_stored_formula_is_kept_in_an_indexed_column_by_writes_and_by_jobs_for_records_it_follows(world):
    runtime = world.runtime
    account = runtime.records.create(SYSTEM, "account", {"name": "Acme", "industry": "retail", "owner": world.users["bob"]})
    before = deal(runtime, account["id"], "Before", 1000, 10)
    changes = runtime.import_changeset({"format": "tessera-changeset/1", "extensions": [{"object": "opportunity", "fields": STORED}]},
                                       "test", "test")
    assert any(c.operation == "compute_column" and "stored formulas of opportunity" in c.detail for c in changes)
    assert any(c.operation == "create_index" and "weighted_kept" in c.detail for c in changes)
    assert runtime.records.get(SYSTEM, "opportunity", before["id"])["weighted_kept"] == 100.0  # computed when added
    made = deal(runtime, account["id"], "Press line", 5000, 40)
    assert made["weighted_kept"] == 2000.0 and made["industry_kept"] == "RETAIL bob"  # by the write itself
    made = runtime.records.update(SYSTEM, "opportunity", made["id"], {"probability": 50, "version": made["version"]})
    assert made["weighted_kept"] == 2500.0
    with runtime.engine.connect() as conn:  # a real column
        assert conn.execute(sa.text(f"SELECT weighted_kept FROM opportunity WHERE id = {made['id']}")).scalar_one() == 2500
    changed = runtime.records.update(SYSTEM, "account", account["id"], {"industry": "energy", "version": account["version"]})
    runtime.records.update(SYSTEM, "user", world.users["bob"], {"username": "robert",
                                                                "version": runtime.records.get(SYSTEM, "user", world.users["bob"])["version"]})
    assert runtime.records.get(SYSTEM, "opportunity", made["id"])["industry_kept"] == "RETAIL bob"  # until the jobs run
    assert run_jobs(runtime) >= 2
    assert {r["industry_kept"] for r in runtime.records.list(SYSTEM, "opportunity", [("account", str(changed["id"]))]).items} == {"ENERGY robert"}
    page = runtime.records.list(SYSTEM, "opportunity", [("weighted_kept__gte", "1000"), ("sort", "-weighted_kept")])
    assert [r["name"] for r in page.items] == ["Press line"]
    with pytest.raises(RecordValidationError):
        runtime.records.update(SYSTEM, "opportunity", made["id"], {"weighted_kept": 1, "version": made["version"]})


def test_a_board_sums_a_formula_per_column(world):
    from test_ui_pages import signed_in

    runtime = world.runtime
    runtime.import_changeset({"format": "tessera-changeset/1", "layouts": [
        {"object": "opportunity", "kind": "kanban", "group_by": "stage", "sum_field": "weighted", "card_fields": ["name", "weighted"]}]},
        "test", "test")
    account = runtime.records.create(SYSTEM, "account", {"name": "Acme"})
    deal(runtime, account["id"], "a", 1000, 10)
    deal(runtime, account["id"], "b", 3000, 50)
    with TestClient(create_app(runtime)) as client:
        signed_in(client, "root")
        board = client.get("/r/opportunity/kanban")
        assert board.status_code == 200
        assert "1,600.00" in board.text  # 100 + 1,500 in the prospecting column


def test_an_expression_nested_beyond_the_language_or_the_database_is_refused_when_stored(make_runtime, database_url):
    """The language takes 100 levels of nesting; SQLite's parser takes about 20 nested IFs, so such a formula is refused
    when stored there (with its place and the database's reason) and computed on PostgreSQL; nothing is kept when refused."""
    runtime = make_runtime(plugins=("sales",))

    def add(name, expression):
        runtime.import_changeset({"format": "tessera-changeset/1", "extensions": [{"object": "opportunity", "fields": [
            {"name": name, "type": "formula", "label": label(name), "expression": expression, "result_type": "decimal"}]}]}, "test", "test")

    with pytest.raises(MetadataError) as refused:
        add("too_deep", "-" * 150 + "amount")
    assert "nests more than 100 levels" in refused.value.problems[0].in_("en")
    assert refused.value.problems[0].pointer.endswith("/fields/0/expression")
    nested = "IF(amount > 0, " * 25 + "1" + ", 0)" * 25
    if database_url.startswith("sqlite"):
        with pytest.raises(MetadataError) as beyond:
            add("nested", nested)
        assert "the database cannot compute this expression" in beyond.value.problems[0].in_("en")
        assert "数据库无法计算" in beyond.value.problems[0].in_("zh-CN")
        assert "nested" not in runtime.current_metadata().object("opportunity").fields
    else:
        add("nested", nested)
        account = runtime.records.create(SYSTEM, "account", {"name": "Acme"})
        assert deal(runtime, account["id"], "x", 10, 10)["nested"] == 1.0
