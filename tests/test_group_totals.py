"""A board's column totals are kept by the database as records are written (core/group_totals.py): whatever
path writes a deal, the kept count and sum per stage equal a count of the table, and a board reads them
instead of counting a million rows. Readers with a record scope or a filter still count what they may see.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from core import group_totals
from core.coretables import group_total
from core.merge import merge
from core.records import Actor

SYSTEM = Actor.system()
BOARD = group_totals.Kept("opportunity", "stage", "amount")


@pytest.fixture
def sales(make_runtime):
    return make_runtime(plugins=("sales",))


def counted(runtime, totals: group_totals.Kept = BOARD) -> dict:
    """The totals by hand: a GROUP BY over the live records."""
    amount = f"coalesce(sum({totals.sum_field}), 0)" if totals.sum_field else "0"
    with runtime.engine.connect() as conn:
        rows = conn.execute(sa.text(f"SELECT {totals.field}, count(*), {amount} FROM {totals.object} "
                                    f"WHERE deleted_at IS NULL GROUP BY {totals.field}")).all()
    return {value: (count, float(total)) for value, count, total in rows}


def kept(runtime, totals: group_totals.Kept = BOARD) -> dict:
    with runtime.engine.connect() as conn:
        found, _crowded = group_totals.read(conn, totals)
    return {row["value"]: (row["count"], float(row["sum"])) for row in found}


def deal(runtime, account: dict, name: str, **values) -> dict:
    return runtime.records.create(SYSTEM, "opportunity", {"name": name, "account": account["id"], "close_date": "2027-03-31", **values})


def test_every_way_of_writing_a_deal_keeps_the_board_totals_exact(sales):
    account = sales.records.create(SYSTEM, "account", {"name": "Initech"})
    first = deal(sales, account, "Printers", amount=1000)
    second = deal(sales, account, "Fax", amount=250.5, stage="qualification")
    assert kept(sales) == counted(sales) == {"prospecting": (1, 1000.0), "qualification": (1, 250.5)}

    sales.records.create_many(SYSTEM, "opportunity", [
        {"name": f"Bulk {i}", "account": account["id"], "close_date": "2027-03-31", "amount": 10 * i, "stage": "proposal"} for i in range(1, 6)])
    moved = sales.records.update(SYSTEM, "opportunity", first["id"], {"stage": "negotiation", "amount": 1200}, first["version"])
    sales.records.update(SYSTEM, "opportunity", moved["id"], {"name": "Printers and toner"}, moved["version"])  # neither field
    sales.records.delete(SYSTEM, "opportunity", second["id"], second["version"])
    assert kept(sales) == counted(sales) == {"negotiation": (1, 1200.0), "proposal": (5, 150.0)}

    sales.records.restore(SYSTEM, "opportunity", second["id"])
    with sales.records.bulk(SYSTEM, "opportunity") as bulk:
        proposals = [r["id"] for r in sales.records.list(SYSTEM, "opportunity", {"stage": "proposal"}).items]
        assert bulk.update_many([(rid, {"stage": "closed_lost", "loss_reason": "price"}) for rid in proposals[:2]]) == {}
    survivor, duplicate = proposals[2], proposals[3]
    merge(sales, SYSTEM, "opportunity", survivor, [duplicate])
    assert kept(sales) == counted(sales)
    assert kept(sales)["proposal"][0] == 2 and kept(sales)["closed_lost"][0] == 2 and kept(sales)["qualification"] == (1, 250.5)


def test_a_failed_write_leaves_the_totals_as_they_were(sales):
    account = sales.records.create(SYSTEM, "account", {"name": "Initech"})
    deal(sales, account, "Printers", amount=1000)
    before = kept(sales)
    with pytest.raises(Exception):  # the second row has no account: the whole batch is refused
        sales.records.create_many(SYSTEM, "opportunity", [
            {"name": "Good", "account": account["id"], "close_date": "2027-03-31", "amount": 5},
            {"name": "Bad", "close_date": "2027-03-31", "amount": 7}])
    assert kept(sales) == before == counted(sales)


def test_the_board_reads_kept_totals_for_an_admin_and_counts_a_reps_own(sales):
    from core.auth import Accounts

    rep = Accounts(sales).add_user("rita", "rita's long password 2027", None)[0]
    sales.import_changeset({"format": "tessera-changeset/1", "permission_sets": [{
        "name": "own_deals", "label": {"en": "Own deals", "zh-CN": "自己的商机"},
        "objects": {"opportunity": {"read": "own", "create": "all", "update": "own"}, "account": {"read": "all"}}}]}, "test", "test")
    rita = Actor(rep["id"], "rita", "own_deals")
    account = sales.records.create(SYSTEM, "account", {"name": "Initech"})
    deal(sales, account, "Hers", amount=10, owner=rep["id"])
    deal(sales, account, "Someone else's", amount=90)
    summed = lambda actor, params=(): {r["value"]: (r["count"], r["sum"]) for r in sales.records.summarize(actor, "opportunity", "stage", "amount", params)}  # noqa: E731
    assert summed(SYSTEM) == {"prospecting": (2, 100)}
    assert summed(rita) == {"prospecting": (1, 10)}
    assert summed(SYSTEM, [("amount__gt", "50")]) == {"prospecting": (1, 90)}
    with sales.engine.begin() as conn:  # the admin's unfiltered board reads the kept rows, not the table
        first = conn.execute(sa.select(sa.func.min(group_total.c.id)).where(BOARD.key())).scalar()
        conn.execute(sa.update(group_total).where(group_total.c.id == first).values(records=group_total.c.records + 1000))
    assert summed(SYSTEM) == {"prospecting": (1002, 100)}


def test_a_new_board_is_counted_from_the_records_there_and_a_removed_one_leaves_nothing(sales):
    for name, kind in (("Call", "call"), ("Visit", "meeting"), ("Notes", "note")):
        sales.records.create(SYSTEM, "activity", {"subject": name, "activity_type": kind})
    by_type = group_totals.Kept("activity", "activity_type", "")
    board = {"object": "activity", "kind": "kanban", "name": "by_type", "group_by": "activity_type", "card_fields": ["subject"]}
    sales.import_changeset({"format": "tessera-changeset/1", "layouts": [board]}, "test", "test")
    assert kept(sales, by_type) == counted(sales, by_type) == {"call": (1, 0.0), "meeting": (1, 0.0), "note": (1, 0.0)}

    sales.change_metadata(lambda config: _without_layout(config, "activity:kanban:by_type"), "test")
    with sales.engine.connect() as conn:
        assert not conn.execute(sa.select(group_total).where(by_type.key())).all()
        assert not [name for name in group_totals._installed(conn) if name.startswith(by_type.name)]
        if conn.dialect.name == "postgresql":
            assert not conn.execute(sa.text("SELECT 1 FROM pg_proc WHERE proname = :name"), {"name": by_type.name}).all()


def test_triggers_lost_with_a_rebuilt_table_come_back_with_the_next_schema_change(sales):
    account = sales.records.create(SYSTEM, "account", {"name": "Initech"})
    deal(sales, account, "Printers", amount=1000)
    with sales.engine.begin() as conn:
        for name, table in group_totals._installed(conn).items():
            group_totals._drop_trigger(conn, name, table)
    deal(sales, account, "Unseen by the totals", amount=1)
    assert kept(sales) != counted(sales)
    sales.upgrade("test")
    assert kept(sales) == counted(sales) == {"prospecting": (2, 1001.0)}
    deal(sales, account, "Seen again", amount=1)
    assert kept(sales) == counted(sales)


def test_many_small_writes_are_folded_into_one_row_per_value(sales):
    account = sales.records.create(SYSTEM, "account", {"name": "Initech"})
    for i in range(group_totals.FOLD_AFTER + 20):
        deal(sales, account, f"Deal {i}", amount=1, stage="prospecting" if i % 2 else "proposal")
    sales.records.summarize(SYSTEM, "opportunity", "stage", "amount")  # reads, then folds
    with sales.engine.connect() as conn:
        rows = conn.execute(sa.select(sa.func.count()).select_from(group_total).where(BOARD.key())).scalar()
    assert rows == 2
    assert kept(sales) == counted(sales)


def _without_layout(config, key: str):
    changed = config.copy()
    del changed.layouts[key]
    return changed


def test_a_boards_fields_removed_and_purged_leave_writes_working_and_totals_right(make_runtime):
    from core.metadata.customize import forget_field, set_removed
    from core.schema_sync import drop_column
    from helpers import changeset, label

    runtime = make_runtime()
    gadget = {"name": "gadget", "label": label("Gadget"), "fields": [
        {"name": "title", "type": "text", "label": label("Title")},
        {"name": "state", "type": "picklist", "label": label("State"), "values": [{"value": "new", "label": label("New")},
                                                                                 {"value": "old", "label": label("Old")}]},
        {"name": "weight", "type": "integer", "label": label("Weight")}]}
    board = {"object": "gadget", "kind": "kanban", "group_by": "state", "sum_field": "weight", "card_fields": ["title"]}
    runtime.import_changeset(changeset(gadget, layouts=[board]), "test", "test")
    for i, state in enumerate(["new", "new", "old"]):
        runtime.records.create(SYSTEM, "gadget", {"title": f"G{i}", "state": state, "weight": 10 + i})
    weighed = group_totals.Kept("gadget", "state", "weight")
    assert kept(runtime, weighed) == counted(runtime, weighed) == {"new": (2, 21.0), "old": (1, 12.0)}

    for name, totals in (("weight", group_totals.Kept("gadget", "state", "")), ("state", None)):
        runtime.change_metadata(set_removed(runtime.current_metadata(), "gadget", name, True), "test")
        runtime.change_metadata(forget_field(runtime.current_metadata(), "gadget", name), "test",
                                before_sync=lambda conn, _old, name=name: [drop_column(conn, "gadget", name)])
        runtime.records.create(SYSTEM, "gadget", {"title": f"After {name}", **({"state": "old"} if name == "weight" else {})})
        if totals is not None:
            assert kept(runtime, totals) == counted(runtime, totals) == {"new": (2, 0.0), "old": (2, 0.0)}
    gone = {name for totals in (weighed, group_totals.Kept("gadget", "state", "")) for name in totals.trigger_names()}
    with runtime.engine.connect() as conn:
        assert not gone & set(group_totals._installed(conn))
        assert not conn.execute(sa.select(group_total).where(group_total.c.object == "gadget")).all()


def test_writers_at_once_in_several_processes_keep_the_totals_exact(runtime, database_url):
    """Four runtimes (own engines) create and move activities at once; on PostgreSQL none waits on another's totals."""
    from test_records_concurrency import PER_WORKER, run_in_own_runtimes

    by_status = group_totals.Kept("activity", "status", "")
    statuses = ["planned", "in_progress", "done"]

    def work(rt, index):
        for n in range(PER_WORKER):
            made = rt.records.create(SYSTEM, "activity", {"subject": f"w{index}-{n}", "activity_type": "task", "status": statuses[n % 3]})
            if n % 2:
                rt.records.update(SYSTEM, "activity", made["id"], {"status": statuses[(n + index) % 3]}, made["version"])

    run_in_own_runtimes(database_url, work)
    assert kept(runtime, by_status) == counted(runtime, by_status)
    assert sum(count for count, _sum in kept(runtime, by_status).values()) == 4 * PER_WORKER
