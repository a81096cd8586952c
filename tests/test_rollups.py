"""Roll-up fields: a count, sum, minimum, maximum or average of a child object's field, kept on the parent in the child's
write (create, update, a new parent, delete, restore, merge, import), rebuilt by ``tessera metadata recompute``.

Real SQLite files and a real PostgreSQL server. Every kept figure is compared with the same figure computed from the
children with plain SQL (the independent answer), after each kind of write."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from core.cli import cli
from core.metadata.problems import MetadataError
from core.records import Actor, RecordValidationError
from helpers import label

SYSTEM = Actor.system()
ROLLUPS = [
    {"name": "open_pipeline", "type": "rollup", "label": label("Open pipeline", "在途金额"),
     "rollup": {"object": "opportunity", "via": "account", "aggregate": "sum", "field": "amount",
                "filter": {"stage__in": ["prospecting", "qualification"]}}},
    {"name": "deal_count", "type": "rollup", "label": label("Deals", "商机数"),
     "rollup": {"object": "opportunity", "via": "account", "aggregate": "count"}},
    {"name": "biggest_deal", "type": "rollup", "label": label("Biggest deal", "最大商机"),
     "rollup": {"object": "opportunity", "via": "account", "aggregate": "max", "field": "amount"}},
    {"name": "first_close", "type": "rollup", "label": label("First close", "最早成交日"),
     "rollup": {"object": "opportunity", "via": "account", "aggregate": "min", "field": "close_date"}},
    {"name": "average_deal", "type": "rollup", "label": label("Average deal", "平均金额"),
     "rollup": {"object": "opportunity", "via": "account", "aggregate": "avg", "field": "amount"}},
]
OPEN = ("prospecting", "qualification")


@pytest.fixture
def runtime(make_runtime):
    return make_runtime(plugins=("sales",))


def add_rollups(runtime):
    return runtime.import_changeset({"format": "tessera-changeset/1", "extensions": [{"object": "account", "fields": ROLLUPS}]},
                                    "test", "test")


def deal(runtime, account_id, amount, stage="prospecting", close="2027-03-01"):
    return runtime.records.create(SYSTEM, "opportunity", {"name": f"deal {amount}", "account": account_id, "amount": amount,
                                                          "probability": 10, "stage": stage, "close_date": close})


def expected(runtime) -> dict[int, tuple]:
    """Each account's figures from its live opportunities, by plain SQL."""
    with runtime.engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT a.id, "
            " (SELECT COALESCE(SUM(o.amount), 0) FROM opportunity o WHERE o.account = a.id AND o.deleted_at IS NULL"
            "   AND o.stage IN ('prospecting', 'qualification')),"
            " (SELECT COUNT(*) FROM opportunity o WHERE o.account = a.id AND o.deleted_at IS NULL),"
            " (SELECT MAX(o.amount) FROM opportunity o WHERE o.account = a.id AND o.deleted_at IS NULL),"
            " (SELECT MIN(o.close_date) FROM opportunity o WHERE o.account = a.id AND o.deleted_at IS NULL),"
            " (SELECT AVG(o.amount) FROM opportunity o WHERE o.account = a.id AND o.deleted_at IS NULL)"
            " FROM account a WHERE a.deleted_at IS NULL ORDER BY a.id")).all()
    return {row[0]: (float(row[1]), row[2], None if row[3] is None else float(row[3]), None if row[4] is None else str(row[4])[:10],
                     None if row[5] is None else round(float(row[5]), 2)) for row in rows}


def kept(runtime) -> dict[int, tuple]:
    items = runtime.records.list(SYSTEM, "account", [("sort", "id"), ("limit", "200")]).items
    return {a["id"]: (a["open_pipeline"], a["deal_count"], a["biggest_deal"], a["first_close"],
                      None if a["average_deal"] is None else round(a["average_deal"], 2)) for a in items}


def test_a_rollup_added_to_parents_with_children_is_computed_at_once(runtime):
    acme = runtime.records.create(SYSTEM, "account", {"name": "Acme"})
    empty = runtime.records.create(SYSTEM, "account", {"name": "Empty"})
    for amount, stage in [(100, "prospecting"), (200, "qualification"), (300, "closed_won")]:
        deal(runtime, acme["id"], amount, stage)
    changes = add_rollups(runtime)
    assert any(c.operation == "compute_column" and "open_pipeline" in c.detail for c in changes)
    assert kept(runtime) == expected(runtime)
    assert kept(runtime)[acme["id"]] == (300.0, 3, 300.0, "2027-03-01", 200.0)
    assert kept(runtime)[empty["id"]] == (0.0, 0, None, None, None)


def test_every_write_of_a_child_keeps_its_parents_figures(runtime):
    add_rollups(runtime)
    acme = runtime.records.create(SYSTEM, "account", {"name": "Acme"})
    beta = runtime.records.create(SYSTEM, "account", {"name": "Beta"})
    assert kept(runtime)[beta["id"]] == (0.0, 0, None, None, None)  # a new parent counts nothing yet
    first = deal(runtime, acme["id"], 100, close="2027-05-01")
    big = deal(runtime, acme["id"], 5000, "qualification", close="2027-02-01")
    deal(runtime, acme["id"], 700, "closed_won", close="2027-09-01")
    assert kept(runtime) == expected(runtime)
    big = runtime.records.update(SYSTEM, "opportunity", big["id"], {"amount": 4000, "version": big["version"]})
    assert kept(runtime) == expected(runtime)
    big = runtime.records.update(SYSTEM, "opportunity", big["id"], {"account": beta["id"], "version": big["version"]})  # re-parented
    assert kept(runtime) == expected(runtime) and kept(runtime)[beta["id"]][:2] == (4000.0, 1)
    big = runtime.records.update(SYSTEM, "opportunity", big["id"], {"stage": "negotiation", "version": big["version"]})  # leaves the filter
    assert kept(runtime) == expected(runtime) and kept(runtime)[beta["id"]][:2] == (0.0, 1)
    runtime.records.delete(SYSTEM, "opportunity", first["id"])
    assert kept(runtime) == expected(runtime)
    runtime.records.restore(SYSTEM, "opportunity", first["id"])
    assert kept(runtime) == expected(runtime)
    runtime.records.create_many(SYSTEM, "opportunity", [
        {"name": f"bulk {i}", "account": beta["id"], "amount": 10 * i, "probability": 10, "stage": "prospecting",
         "close_date": "2026-12-31"} for i in range(1, 21)])
    assert kept(runtime) == expected(runtime) and kept(runtime)[beta["id"]][1] == 21


def test_merging_parents_moves_the_childrens_figures_to_the_survivor(runtime):
    add_rollups(runtime)
    keep = runtime.records.create(SYSTEM, "account", {"name": "Acme"})
    gone = runtime.records.create(SYSTEM, "account", {"name": "Acme Inc"})
    deal(runtime, keep["id"], 100)
    deal(runtime, gone["id"], 250)
    deal(runtime, gone["id"], 50, "closed_won")
    versions = {r["id"]: r["version"] for r in (runtime.records.get(SYSTEM, "account", keep["id"]),
                                                runtime.records.get(SYSTEM, "account", gone["id"]))}
    runtime.records.merge(SYSTEM, "account", keep["id"], [gone["id"]], {}, versions)
    assert kept(runtime) == expected(runtime)
    assert kept(runtime)[keep["id"]][:2] == (350.0, 3)


def test_concurrent_children_of_one_parent_all_count(runtime):
    """Two writers adding deals to one account at once: each sum moves by its own deal, none overwrites the other's."""
    add_rollups(runtime)
    acme = runtime.records.create(SYSTEM, "account", {"name": "Acme"})
    errors: list[Exception] = []

    def add(worker: int) -> None:
        try:
            for i in range(10):
                deal(runtime, acme["id"], 1 + worker)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=add, args=(w,)) for w in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert kept(runtime)[acme["id"]][:2] == (30.0, 20) == expected(runtime)[acme["id"]][:2]


def test_a_rollup_cannot_be_written_and_recompute_rebuilds_it(runtime, database_url):
    add_rollups(runtime)
    acme = runtime.records.create(SYSTEM, "account", {"name": "Acme"})
    deal(runtime, acme["id"], 100)
    with pytest.raises(RecordValidationError) as refused:
        runtime.records.update(SYSTEM, "account", acme["id"], {"deal_count": 9, "version": runtime.records.get(SYSTEM, "account", acme["id"])["version"]})
    assert refused.value.errors[0].field == "deal_count" and "roll-up" in refused.value.errors[0].message
    with runtime.engine.begin() as conn:  # a change behind Tessera's back
        conn.execute(sa.text("UPDATE account SET deal_count = 42, open_pipeline = 1"))
    result = CliRunner().invoke(cli, ["--database", database_url, "metadata", "recompute", "account", "deal_count"],
                                env={"TESSERA_PLUGINS": "sales"})
    assert result.exit_code == 0, result.output
    assert "Computed account.deal_count for 1 record(s)." in result.output
    assert kept(runtime)[acme["id"]][1] == 1 and kept(runtime)[acme["id"]][0] == 1.0  # only the field named
    wrong = CliRunner().invoke(cli, ["--database", database_url, "metadata", "recompute", "account", "name"],
                               env={"TESSERA_PLUGINS": "sales"})
    assert wrong.exit_code == 2 and "neither a roll-up nor a stored formula" in wrong.output and "deal_count" in wrong.output


@pytest.mark.parametrize("rollup, pointer, words", [
    ({"object": "opportunty", "via": "account", "aggregate": "count"}, "/rollup/object", ["opportunity"]),
    ({"object": "opportunity", "via": "name", "aggregate": "count"}, "/rollup/via", ["not a lookup of opportunity to account", "account"]),
    ({"object": "opportunity", "via": "account", "aggregate": "sum", "field": "stage"}, "/rollup/field", ["needs a number field"]),
    ({"object": "opportunity", "via": "account", "aggregate": "sum", "field": "amout"}, "/rollup/field", ["amount"]),
    ({"object": "opportunity", "via": "account", "aggregate": "sum", "field": "amount", "filter": {"stag": "won"}},
     "/rollup/filter/stag", ["stag"]),
    ({"object": "opportunity", "via": "account", "aggregate": "sum"}, "/extensions/0/fields/0/rollup", ["field"]),
])
def test_a_bad_rollup_is_refused_with_its_place(runtime, rollup, pointer, words):
    with pytest.raises(MetadataError) as refused:
        runtime.import_changeset({"format": "tessera-changeset/1", "extensions": [{"object": "account", "fields": [
            {"name": "bad", "type": "rollup", "label": label("Bad"), "rollup": rollup}]}]}, "test", "test")
    problem = next((p for p in refused.value.problems if pointer in p.pointer), None)
    assert problem is not None, [(p.pointer, p.message) for p in refused.value.problems]
    for word in words:
        assert word in problem.in_("en") + problem.pointer
    assert "bad" not in runtime.current_metadata().object("account").fields


def test_a_rollup_added_and_changed_in_setup_shows_on_the_parents_pages(make_runtime):
    from litestar.testing import TestClient

    from access_world import build_world
    from core.api.app import create_app
    from helpers import CHINESE
    from test_ui_pages import signed_in

    world = build_world(make_runtime(plugins=("sales",)))
    runtime, acme = world.runtime, world.accounts["alice"]
    for amount, stage in [(100, "prospecting"), (200, "qualification"), (400, "closed_won")]:
        deal(runtime, acme, amount, stage)
    with TestClient(create_app(runtime)) as client:
        csrf = signed_in(client, "root")
        page = client.get("/setup/objects/account/rollups/new").text
        assert 'value="opportunity.account"' in page and "Count of records" in page
        summing = client.post("/setup/objects/account/rollups/form", data={"_csrf_token": csrf, "relation": "opportunity.account",
                                                                           "aggregate": "sum"}).text
        assert 'value="amount"' in summing and 'value="close_date"' not in summing  # sums take numbers only
        assert 'value="close_date"' in client.post("/setup/objects/account/rollups/form", data={
            "_csrf_token": csrf, "relation": "opportunity.account", "aggregate": "min"}).text
        added = client.post("/setup/objects/account/rollups", data={
            "_csrf_token": csrf, "label_en": "Open pipeline", "label_zh": "在途金额", "relation": "opportunity.account",
            "aggregate": "sum", "field": "amount", "filter": "stage__in=prospecting,qualification", "in_form": "on"})
        assert added.status_code == 200 and "/fields/open_pipeline" in str(added.url), added.text[:400]
        assert "Edit roll-up" in added.text
        record = client.get(f"/r/account/{acme}").text
        assert "Open pipeline" in record and "300.00" in record
        assert "在途金额" in client.get(f"/r/account/{acme}", headers=CHINESE).text
        changed = client.post("/setup/objects/account/rollups/open_pipeline", data={
            "_csrf_token": csrf, "label_en": "Open pipeline", "label_zh": "在途金额", "relation": "opportunity.account",
            "aggregate": "sum", "field": "amount", "filter": "stage__in=closed_won"})
        assert changed.status_code == 200 and "Saved" in changed.text
        assert "400.00" in client.get(f"/r/account/{acme}").text  # computed again for the new filter
        refused = client.post("/setup/objects/account/rollups/open_pipeline", data={
            "_csrf_token": csrf, "label_en": "Open pipeline", "relation": "opportunity.account", "aggregate": "sum",
            "field": "amount", "filter": "stag=won"})
        assert refused.status_code == 422 and "stag" in refused.text


def test_a_rollup_over_records_the_reader_may_not_read_is_hidden_from_them(make_runtime):
    """The rep may read accounts but no opportunities: the account's roll-ups of opportunities are hidden from the rep, like
    hidden fields, in reads, lists and filters; an administrator sees them."""
    from litestar.testing import TestClient

    from access_world import build_world
    from conftest import Api
    from core.api.app import create_app

    world = build_world(make_runtime(plugins=("sales",)))
    add_rollups(world.runtime)
    deal(world.runtime, world.accounts["alice"], 700)
    with TestClient(create_app(world.runtime)) as client:
        api = Api(client, world)
        own = api.get("alice", f"/api/records/account/{world.accounts['alice']}").json()
        assert "name" in own and "deal_count" not in own and "open_pipeline" not in own
        assert api.get("alice", "/api/records/account", params={"deal_count__gte": "1"}).status_code == 400
        assert api.get("root", f"/api/records/account/{world.accounts['alice']}").json()["deal_count"] == 1
