"""Manufacturing: versioned BOMs, orders that pin a BOM revision, explosion, delivery hand-over."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import types
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from core.automations import engine
from core.hookspecs import hookimpl
from core.plugins import PluginInfo
from core.records import Refused, TransactionRecords
from core.validation import RecordValidationError
from plugins.manufacturing_bom import BomCycleError, explode

PLUGIN_FOLDER = Path(__file__).resolve().parents[1]
OBJECTS = ("bom", "bom_line", "sales_order", "sales_order_line")


@pytest.fixture
def rt(make_runtime):
    return make_runtime(plugins=("manufacturing_bom",))


@contextmanager
def transaction_records(runtime, actor):
    """Record access inside one transaction, as hooks and automation actions get it."""
    with runtime.writing() as (conn, schema):
        yield TransactionRecords(runtime.records, conn, schema, actor)


def refusal(info) -> list[tuple[str, str]]:
    return [(e.field, e.message) for e in info.value.errors]


def product(rt, actor, name, price=None):
    return rt.records.create(actor, "product", {"name": name, "unit_price": price})["id"]


def bom(rt, actor, product_id, revision, status="active", lines=()):
    """A BOM with lines (component, quantity[, unit[, scrap %]]); created as draft, then given its status."""
    created = rt.records.create(actor, "bom", {"product": product_id, "revision": revision})
    for position, spec in enumerate(lines, start=1):
        component, quantity = spec[0], spec[1]
        unit = spec[2] if len(spec) > 2 else "each"
        scrap = spec[3] if len(spec) > 3 else None
        rt.records.create(actor, "bom_line", {"bom": created["id"], "position": position * 10, "component": component,
                                              "quantity": quantity, "unit": unit, "scrap_percent": scrap})
    if status != "draft":
        created = rt.records.update(actor, "bom", created["id"], {"status": status}, version=created["version"])
    return created


def order(rt, actor, customer=None, **values):
    if customer is None:
        customer = rt.records.create(actor, "account", {"name": "Nordwind Wasserwerke"})["id"]
    return rt.records.create(actor, "sales_order", {"customer": customer, "order_date": "2026-03-02", **values})


def line(rt, actor, order_id, product_id, quantity=1, **values):
    return rt.records.create(actor, "sales_order_line", {"sales_order": order_id, "product": product_id, "quantity": quantity, **values})


def update(rt, actor, object_name, record, changes):
    current = rt.records.get(actor, object_name, record["id"])
    return rt.records.update(actor, object_name, record["id"], changes, version=current["version"])


# --- metadata ---------------------------------------------------------------------------------


def test_every_metadata_file_validates_and_objects_become_tables(rt):
    columns = {name: {c["name"] for c in sa.inspect(rt.engine).get_columns(name)} for name in OBJECTS}
    assert {"name", "product", "revision", "status", "effective_from", "notes"} <= columns["bom"]
    assert {"bom", "component", "quantity", "unit", "position", "scrap_percent", "notes"} <= columns["bom_line"]
    assert {"order_number", "customer", "order_date", "requested_delivery", "status", "erp_reference", "erp_status",
            "delivered_on", "total_amount"} <= columns["sales_order"]
    assert {"sales_order", "product", "quantity", "unit_price", "bom", "bom_version", "serial_numbers",
            "line_total"} <= columns["sales_order_line"]
    meta = rt.current_metadata()
    for name in OBJECTS:
        for kind in ("list", "detail", "form"):
            assert f"{name}:{kind}:default" in meta.layouts, f"{name} has no {kind} layout"
    assert meta.layouts["sales_order:kanban:default"]["group_by"] == "status"
    assert meta.layouts["sales_order:kanban:default"]["sum_field"] == "total_amount"
    assert {"production_planner", "order_desk", "manufacturing_manager"} <= set(meta.permission_sets)
    files = sorted(p.name for p in (PLUGIN_FOLDER / "metadata").glob("*.json"))
    assert files == ["account_extension.json", "approval_sales_order_credit.json", "automations.json", "bom.json", "bom_line.json", "layouts.json",
                     "roles.json", "sales_order.json", "sales_order_line.json"]
    assert meta.approval_processes["sales_order_credit"]["object"] == "sales_order"
    assert "sales_order.customer" in meta.layouts["account:detail:default"]["related_lists"]  # an account's page lists its orders
    assert meta.objects["sales_order"].spec["process_field"] == "status"


def test_every_label_is_in_english_and_chinese(rt):
    meta = rt.current_metadata()
    labels = []
    for name in OBJECTS:
        obj = meta.object(name)
        labels += [obj.spec["label"], obj.spec["plural_label"]]
        for fdef in obj.active_fields():
            labels.append(fdef.spec["label"])
            labels += [value["label"] for value in fdef.spec.get("values", [])]
    for layout in (meta.layouts[k] for k in meta.layouts if k.split(":")[0] in OBJECTS):
        labels += [section["label"] for section in layout.get("sections", [])]
    labels += [meta.permission_sets[n]["label"] for n in ("production_planner", "order_desk", "manufacturing_manager")]
    assert labels and all(label.get("en") and label.get("zh-CN") for label in labels)


# --- pinning the BOM ------------------------------------------------------------------------------


def test_a_new_line_pins_the_active_bom_and_computes_its_total(rt, actor):
    pump = product(rt, actor, "Pump P-100", price="12500.00")
    impeller = product(rt, actor, "Impeller")
    bom(rt, actor, pump, "A", status="obsolete", lines=[(impeller, 1)])
    active = bom(rt, actor, pump, "B", lines=[(impeller, 1)])
    so = order(rt, actor)
    created = line(rt, actor, so["id"], pump, quantity=3)
    assert created["bom"]["id"] == active["id"] and created["bom"]["label"] == "Pump P-100 rev B"
    assert created["bom_version"] == "B"
    assert created["unit_price"] == 12500.0  # the product's price when none is given
    assert created["line_total"] == 37500.0
    assert active["effective_from"] == dt.date.today().isoformat()  # activation dates the BOM


def test_an_explicit_obsolete_or_draft_bom_is_refused_naming_the_active_version(rt, actor):
    pump = product(rt, actor, "Pump P-100")
    part = product(rt, actor, "Seal kit")
    old = bom(rt, actor, pump, "A", lines=[(part, 2)])
    current = bom(rt, actor, pump, "B", lines=[(part, 3)])
    draft = bom(rt, actor, pump, "C", status="draft")
    so = order(rt, actor)
    with pytest.raises(RecordValidationError) as info:
        line(rt, actor, so["id"], pump, bom=old["id"])
    assert refusal(info) == [("bom", "BOM 'Pump P-100 rev A' version A of Pump P-100 is obsolete; the active version is B")]
    with pytest.raises(RecordValidationError) as info:
        line(rt, actor, so["id"], pump, bom=draft["id"])
    assert refusal(info) == [("bom", "BOM 'Pump P-100 rev C' version C of Pump P-100 is still a draft; the active version is B")]
    assert line(rt, actor, so["id"], pump, bom=current["id"])["bom_version"] == "B"
    assert len(rt.records.list(actor, "sales_order_line").items) == 1  # nothing written by the refusals


def test_a_product_without_an_active_bom_is_refused_unless_it_has_no_bom_at_all(rt, actor):
    blower = product(rt, actor, "Blower B-20")
    spare = product(rt, actor, "Spare filter", price="35.50")
    draft = bom(rt, actor, blower, "A", status="draft")
    so = order(rt, actor)
    with pytest.raises(RecordValidationError) as info:
        line(rt, actor, so["id"], blower)
    assert refusal(info) == [("bom", "Blower B-20 has no active BOM; activate one first")]
    with pytest.raises(RecordValidationError) as info:
        line(rt, actor, so["id"], blower, bom=draft["id"])
    assert refusal(info) == [("bom", "BOM 'Blower B-20 rev A' version A of Blower B-20 is still a draft; "
                                     "Blower B-20 has no active BOM; activate one first")]
    with pytest.raises(RecordValidationError) as info:
        line(rt, actor, so["id"], spare, bom=draft["id"])
    assert refusal(info) == [("bom", "BOM 'Blower B-20 rev A' is for Blower B-20, not for Spare filter")]
    sold_as_is = line(rt, actor, so["id"], spare, quantity=4)  # a part with no BOM is sold as it is
    assert sold_as_is.get("bom") is None and sold_as_is["bom_version"] is None and sold_as_is["line_total"] == 142.0


def test_activating_a_new_bom_obsoletes_the_old_one_and_old_lines_keep_their_pin(rt, actor):
    pump = product(rt, actor, "Pump P-100", price="100")
    mixer = product(rt, actor, "Mixer M-7", price="50")
    casing = product(rt, actor, "Casing")
    rev_a = bom(rt, actor, pump, "A", lines=[(casing, 1)])
    mixer_bom = bom(rt, actor, mixer, "1.0", lines=[(casing, 2)])
    so = order(rt, actor)
    first = line(rt, actor, so["id"], pump)
    rev_b = bom(rt, actor, pump, "B", status="draft", lines=[(casing, 1)])
    assert rt.records.get(actor, "bom", rev_a["id"])["status"] == "active"  # a draft changes nothing
    rev_b = update(rt, actor, "bom", rev_b, {"status": "active"})
    assert rt.records.get(actor, "bom", rev_a["id"])["status"] == "obsolete"
    assert rt.records.get(actor, "bom", mixer_bom["id"])["status"] == "active"  # other products are untouched
    assert [b["revision"] for b in rt.records.list(actor, "bom", {"product": pump, "status": "active"}).items] == ["B"]
    second = line(rt, actor, so["id"], pump)
    assert (second["bom"]["id"], second["bom_version"]) == (rev_b["id"], "B")
    kept = update(rt, actor, "sales_order_line", first, {"quantity": 2, "bom": rev_b["id"]})
    # Re-pinning an existing line to the active BOM is allowed; sending only its revision is not.
    assert (kept["bom"]["id"], kept["bom_version"]) == (rev_b["id"], "B")
    with pytest.raises(RecordValidationError, match="bom_version: is read-only"):
        update(rt, actor, "sales_order_line", second, {"bom_version": "Z"})
    unchanged = update(rt, actor, "sales_order_line", second, {"quantity": 5, "bom_version": "B"})
    assert unchanged["bom_version"] == "B" and unchanged["line_total"] == 500.0
    third = line(rt, actor, so["id"], mixer)
    assert rt.records.get(actor, "sales_order_line", first["id"])["bom"]["id"] == rev_b["id"]
    moved = update(rt, actor, "sales_order_line", third, {"product": pump})  # a new product re-pins
    assert (moved["bom"]["id"], moved["bom_version"]) == (rev_b["id"], "B")


def test_old_lines_keep_the_obsolete_revision_they_were_built_to(rt, actor):
    pump = product(rt, actor, "Pump P-100")
    casing = product(rt, actor, "Casing")
    rev_a = bom(rt, actor, pump, "A", lines=[(casing, 1)])
    so = order(rt, actor)
    old_line = line(rt, actor, so["id"], pump, quantity=1, unit_price="10")
    bom(rt, actor, pump, "B", lines=[(casing, 1)])
    edited = update(rt, actor, "sales_order_line", old_line, {"quantity": 4, "bom": rev_a["id"]})  # a form sends it back
    assert (edited["bom"]["id"], edited["bom_version"], edited["line_total"]) == (rev_a["id"], "A", 40.0)


def test_obsolete_boms_are_frozen_and_a_product_cannot_contain_itself(rt, actor):
    pump = product(rt, actor, "Pump P-100")
    casing = product(rt, actor, "Casing")
    rev_a = bom(rt, actor, pump, "A", lines=[(casing, 1)])
    with pytest.raises(RecordValidationError) as info:
        rt.records.create(actor, "bom_line", {"bom": rev_a["id"], "component": pump, "quantity": 1})
    assert refusal(info) == [("component", "Pump P-100 cannot be a component of its own BOM")]
    bom(rt, actor, pump, "B", lines=[(casing, 1)])
    with pytest.raises(RecordValidationError) as info:
        rt.records.create(actor, "bom_line", {"bom": rev_a["id"], "component": casing, "quantity": 2})
    assert refusal(info) == [("bom", "BOM 'Pump P-100 rev A' revision A is obsolete and kept as orders were built to it; "
                                     "create a new revision to change it")]
    frozen_line = rt.records.list(actor, "bom_line", {"bom": rev_a["id"]}).items[0]
    with pytest.raises(Refused, match="is obsolete and kept as orders were built to it"):
        rt.records.delete(actor, "bom_line", frozen_line["id"])


def test_a_revision_is_unique_per_product(rt, actor):
    pump = product(rt, actor, "Pump P-100")
    mixer = product(rt, actor, "Mixer M-7")
    bom(rt, actor, pump, "A")
    assert bom(rt, actor, mixer, "A")["revision"] == "A"
    with pytest.raises(RecordValidationError) as info:
        rt.records.create(actor, "bom", {"product": pump, "revision": "A"})
    assert refusal(info) == [("revision", "Pump P-100 already has a BOM with revision A ('Pump P-100 rev A'); choose another revision")]


# --- explosion ------------------------------------------------------------------------------------


def equipment_family(rt, actor):
    """Pump -> motor -> rotor, three levels, with scrap allowances and a shared raw material."""
    ids = {name: product(rt, actor, name) for name in ("Pump", "Motor", "Rotor", "Steel", "Copper wire", "Bolt M8")}
    bom(rt, actor, ids["Rotor"], "A", lines=[(ids["Steel"], "0.8", "kg")])
    bom(rt, actor, ids["Motor"], "A", lines=[(ids["Copper wire"], "1.2", "kg", "5"), (ids["Bolt M8"], 4), (ids["Rotor"], 1)])
    bom(rt, actor, ids["Pump"], "A", lines=[(ids["Motor"], 1), (ids["Steel"], "2.5", "kg", "10"), (ids["Bolt M8"], 8)])
    bom(rt, actor, ids["Bolt M8"], "X", status="draft", lines=[(ids["Steel"], "0.01", "kg")])  # drafts are not exploded
    return ids


def test_a_multi_level_explosion_multiplies_quantities_and_scrap(rt, actor):
    ids = equipment_family(rt, actor)
    with transaction_records(rt, actor) as records:
        needs = explode(records, ids["Pump"], 2)
        motor_only = explode(records, ids["Motor"])
        steel = explode(records, ids["Steel"], "3.5")
    assert needs == {
        ids["Steel"]: Decimal("7.1"),  # 2 x 2.5 kg x 1.10 + 2 x 1 motor x 1 rotor x 0.8 kg
        ids["Copper wire"]: Decimal("2.52"),  # 2 x 1.2 kg x 1.05
        ids["Bolt M8"]: Decimal("24"),  # 2 x 8 + 2 x 4
    }
    assert motor_only == {ids["Copper wire"]: Decimal("1.26"), ids["Bolt M8"]: Decimal("4"), ids["Steel"]: Decimal("0.8")}
    assert steel == {ids["Steel"]: Decimal("3.5")}  # a raw material is its own requirement


def test_a_bom_cycle_is_reported_with_the_products_in_it(rt, actor):
    frame, arm, bolt = (product(rt, actor, n) for n in ("Frame", "Arm", "Bolt"))
    bom(rt, actor, frame, "A", lines=[(arm, 2), (bolt, 4)])
    bom(rt, actor, arm, "A", lines=[(frame, 1)])
    with transaction_records(rt, actor) as records, pytest.raises(BomCycleError) as info:
        explode(records, frame, 1)
    assert str(info.value).startswith(f"BOM cycle: Frame ({frame}) -> Arm ({arm}) -> Frame ({frame}); a product cannot contain itself")


def test_the_explode_order_action_uses_each_lines_pinned_bom(rt, actor):
    ids = equipment_family(rt, actor)
    so = order(rt, actor)
    line(rt, actor, so["id"], ids["Pump"], quantity=2)
    gasket = product(rt, actor, "Gasket")
    line(rt, actor, so["id"], gasket, quantity=100)  # spare gaskets sold as they are
    bom(rt, actor, ids["Pump"], "B", lines=[(ids["Motor"], 2)])  # a later revision does not change the order
    action = rt.automation_actions()["manufacturing_bom.explode_order"]
    assert action.plugin == "manufacturing_bom" and action.label["zh-CN"]
    with transaction_records(rt, actor) as records:
        needs = action.run(records, so["id"])
    assert needs == {ids["Steel"]: Decimal("7.1"), ids["Copper wire"]: Decimal("2.52"), ids["Bolt M8"]: Decimal("24"), gasket: Decimal("100")}
    rt.import_changeset({"format": "tessera-changeset/1", "automations": [{
        "name": "materials", "object": "sales_order", "label": {"en": "Materials", "zh-CN": "物料"}, "trigger": {"on": "button"},
        "actions": [{"type": "plugin", "action": "manufacturing_bom.explode_order"}]}]}, "test", "test")
    run = engine.press(rt, actor, "sales_order", so["id"], "materials")  # as a rule calls it: keywords, the order as record_id
    assert run["status"] == "done", run["error"]
    assert run["detail"] == [{"type": "plugin", "action": "manufacturing_bom.explode_order",
                              "result": {str(k): str(v) for k, v in needs.items()}}]


# --- totals ---------------------------------------------------------------------------------------


def test_the_order_total_follows_its_lines(rt, actor):
    pump, valve = product(rt, actor, "Pump", price="1000"), product(rt, actor, "Valve", price="80.25")
    with pytest.raises(RecordValidationError, match="total_amount: is read-only"):
        order(rt, actor, total_amount="999999")
    so = order(rt, actor)
    assert so["total_amount"] == 0.0 and so["order_number"].startswith("SO-") and len(so["order_number"]) == 9
    first = line(rt, actor, so["id"], pump, quantity=2)
    line(rt, actor, so["id"], valve, quantity=3, unit_price="79.99")
    assert rt.records.get(actor, "sales_order", so["id"])["total_amount"] == 2239.97
    update(rt, actor, "sales_order_line", first, {"quantity": 1})
    assert rt.records.get(actor, "sales_order", so["id"])["total_amount"] == 1239.97
    edited = update(rt, actor, "sales_order", so, {"total_amount": 1239.97, "erp_status": "confirmed"})
    assert edited["total_amount"] == 1239.97 and edited["erp_status"] == "confirmed"  # sent back unchanged: accepted
    other = order(rt, actor, customer=so["customer"]["id"])
    update(rt, actor, "sales_order_line", first, {"sales_order": other["id"]})
    assert rt.records.get(actor, "sales_order", so["id"])["total_amount"] == 239.97
    assert rt.records.get(actor, "sales_order", other["id"])["total_amount"] == 1000.0
    rt.records.delete(actor, "sales_order_line", first["id"])
    assert rt.records.get(actor, "sales_order", other["id"])["total_amount"] == 0.0


def test_the_erp_reference_is_unique(rt, actor):
    so = order(rt, actor, erp_reference="4500012345")
    with pytest.raises(RecordValidationError) as info:
        order(rt, actor, customer=so["customer"]["id"], erp_reference="4500012345")
    assert [e.field for e in info.value.errors] == ["erp_reference"]


# --- delivery -------------------------------------------------------------------------------------


def receiver_plugin(fail_on: str | None = None) -> types.ModuleType:
    """A stand-in for the plugin that tracks installed equipment: it logs an activity per unit."""
    module = types.ModuleType("delivery_receiver")
    module.PLUGIN = PluginInfo(name="delivery_receiver", version="1.0.0")
    module.CALLS = []

    @hookimpl(optionalhook=True)
    def tessera_equipment_delivered(records, customer_id, product_id, serial_number, delivered_on, order_reference):
        if serial_number == fail_on:
            raise RuntimeError(f"cannot register {serial_number}")
        module.CALLS.append((customer_id, product_id, serial_number, delivered_on, order_reference))
        activity = records.create("activity", {"subject": f"Installed {serial_number}", "activity_type": "note",
                                                "related_object": "account", "related_id": customer_id})
        return activity["id"]

    module.tessera_equipment_delivered = tessera_equipment_delivered
    return module


def test_delivery_hands_each_serial_number_to_the_receiver(make_runtime, actor):
    receiver = receiver_plugin()
    rt = make_runtime(plugins=("manufacturing_bom", "delivery_receiver"), extra_plugins=[receiver])
    pump, gauge, seal = product(rt, actor, "Pump"), product(rt, actor, "Gauge"), product(rt, actor, "Seal")
    so = order(rt, actor, erp_reference="4500000001")
    customer = so["customer"]["id"]
    line(rt, actor, so["id"], pump, quantity=2, serial_numbers="PX-0001\n  PX-0002  \n\n")
    line(rt, actor, so["id"], gauge, quantity=1, serial_numbers="G-77")
    line(rt, actor, so["id"], seal, quantity=10)  # no serial numbers: not tracked as equipment
    update(rt, actor, "sales_order", so, {"status": "in_production"})
    assert receiver.CALLS == []
    delivered = update(rt, actor, "sales_order", so, {"status": "delivered"})
    today = dt.date.today().isoformat()
    assert delivered["delivered_on"] == today
    assert receiver.CALLS == [
        (customer, pump, "PX-0001", today, so["order_number"]),
        (customer, pump, "PX-0002", today, so["order_number"]),
        (customer, gauge, "G-77", today, so["order_number"]),
    ]
    notes = rt.records.list(actor, "activity", {"related_object": "account", "related_id": customer, "sort": "subject"}).items
    assert [n["subject"] for n in notes] == ["Installed G-77", "Installed PX-0001", "Installed PX-0002"]
    update(rt, actor, "sales_order", so, {"erp_status": "invoiced"})
    assert len(receiver.CALLS) == 3  # only the change to delivered hands equipment over


def test_a_given_delivery_date_is_kept_and_a_failing_receiver_rolls_the_delivery_back(make_runtime, actor):
    receiver = receiver_plugin(fail_on="BAD-1")
    rt = make_runtime(plugins=("manufacturing_bom", "delivery_receiver"), extra_plugins=[receiver])
    pump = product(rt, actor, "Pump")
    good, bad = order(rt, actor), order(rt, actor)
    line(rt, actor, good["id"], pump, serial_numbers="OK-1")
    line(rt, actor, bad["id"], pump, serial_numbers="BAD-1")
    delivered = update(rt, actor, "sales_order", good, {"status": "delivered", "delivered_on": "2026-02-27"})
    assert delivered["delivered_on"] == "2026-02-27" and receiver.CALLS[0][2:4] == ("OK-1", "2026-02-27")
    with pytest.raises(RuntimeError, match="cannot register BAD-1"):
        update(rt, actor, "sales_order", bad, {"status": "delivered"})
    stored = rt.records.get(actor, "sales_order", bad["id"])
    assert stored["status"] == "ordered" and stored["delivered_on"] is None


def test_delivery_without_a_receiver_changes_only_the_order(rt, actor):
    pump = product(rt, actor, "Pump")
    so = order(rt, actor)
    line(rt, actor, so["id"], pump, quantity=1, serial_numbers="PX-0009")
    delivered = update(rt, actor, "sales_order", so, {"status": "delivered"})
    assert delivered["status"] == "delivered" and delivered["delivered_on"] == dt.date.today().isoformat()
    assert rt.records.list(actor, "activity").items == []


def test_serial_numbers_must_fit_the_quantity_and_not_repeat(rt, actor):
    pump = product(rt, actor, "Pump")
    so = order(rt, actor)
    with pytest.raises(RecordValidationError) as info:
        line(rt, actor, so["id"], pump, quantity=1, serial_numbers="PX-1\nPX-2")
    assert refusal(info) == [("serial_numbers", "2 serial numbers are given for a quantity of 1; give at most one per unit")]
    created = line(rt, actor, so["id"], pump, quantity=2, serial_numbers="PX-1")
    with pytest.raises(RecordValidationError) as info:
        update(rt, actor, "sales_order_line", created, {"serial_numbers": "PX-1\nPX-1"})
    assert refusal(info) == [("serial_numbers", "serial number PX-1 is listed twice")]
    with pytest.raises(RecordValidationError) as info:
        update(rt, actor, "sales_order_line", created, {"serial_numbers": "PX-1\nPX-2", "quantity": 1})
    assert refusal(info)[0][0] == "serial_numbers"


# --- command line ---------------------------------------------------------------------------------


def tessera(database_url, *args):
    executable = Path(sys.executable).with_name("tessera")
    env = {**os.environ, "TESSERA_PLUGINS": "manufacturing_bom"}
    env.pop("TESSERA_DATABASE_URL", None)
    return subprocess.run([str(executable), "--database", database_url, *args], capture_output=True, text=True, env=env, timeout=120)


def test_the_bom_explode_command_prints_the_requirements(rt, actor, database_url):
    ids = equipment_family(rt, actor)
    result = tessera(database_url, "bom", "explode", str(ids["Pump"]), "--quantity", "2")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"Material requirements for 2 x Pump (product {ids['Pump']}), BOM 'Pump rev A' revision A:"
    rows = [row.split() for row in lines[2:]]
    assert rows == [
        ["Bolt", "M8", str(ids["Bolt M8"]), "24", "each"],
        ["Copper", "wire", str(ids["Copper wire"]), "2.52", "kg"],
        ["Steel", str(ids["Steel"]), "7.1", "kg"],
    ]
    missing = tessera(database_url, "bom", "explode", "999999")
    assert missing.returncode == 2 and "product 999999 does not exist" in missing.stderr
    bad = tessera(database_url, "bom", "explode", str(ids["Pump"]), "--quantity", "-1")
    assert bad.returncode == 2 and "'-1' is not a quantity" in bad.stderr
