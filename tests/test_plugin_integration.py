"""The built-in plugins working together through hooks, as an installation runs them."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest

from core.plugins import PluginError, _load_entry_point


def test_delivered_equipment_reaches_service_through_a_hook(make_runtime, actor):
    rt = make_runtime(plugins=("manufacturing_bom", "service"))
    customer = rt.records.create(actor, "account", {"name": "Harbin Steel"})
    product = rt.records.create(actor, "product", {"name": "CNC Lathe L200", "unit_price": 48000})
    order = rt.records.create(actor, "sales_order", {"customer": customer["id"], "status": "ordered"})
    rt.records.create(actor, "sales_order_line", {"sales_order": order["id"], "product": product["id"], "quantity": 2,
                                                  "serial_numbers": "L200-0001\nL200-0002"})
    order = rt.records.get(actor, "sales_order", order["id"])
    rt.records.update(actor, "sales_order", order["id"], {"status": "delivered"}, version=order["version"])

    equipment = rt.records.list(actor, "equipment", {"sort": "serial_number"}).items
    assert [e["serial_number"] for e in equipment] == ["L200-0001", "L200-0002"]
    assert {e["customer"]["id"] for e in equipment} == {customer["id"]}
    assert {e["product"]["id"] for e in equipment} == {product["id"]}
    assert {e["source_order"] for e in equipment} == {order["order_number"]}


def test_without_service_a_delivery_hands_nothing_over(make_runtime, actor):
    rt = make_runtime(plugins=("manufacturing_bom",))
    customer = rt.records.create(actor, "account", {"name": "Harbin Steel"})
    product = rt.records.create(actor, "product", {"name": "CNC Lathe L200"})
    order = rt.records.create(actor, "sales_order", {"customer": customer["id"], "status": "ordered"})
    rt.records.create(actor, "sales_order_line", {"sales_order": order["id"], "product": product["id"], "quantity": 1,
                                                  "serial_numbers": "L200-0009"})
    order = rt.records.get(actor, "sales_order", order["id"])
    delivered = rt.records.update(actor, "sales_order", order["id"], {"status": "delivered"}, version=order["version"])
    assert delivered["status"] == "delivered"
    with pytest.raises(LookupError, match="there is no object 'equipment'"):
        rt.records.list(actor, "equipment")


def test_all_four_plugins_load_together(make_runtime):
    rt = make_runtime(plugins=("sales", "marketing", "service", "manufacturing_bom"))
    objects = set(rt.current_metadata().objects)
    assert {"lead", "opportunity", "campaign", "purchase", "ticket", "equipment", "bom", "sales_order"} <= objects
    account = rt.current_metadata().object("account")
    assert {"lifecycle_stage", "tier", "purchase_count", "last_purchase_date"} <= set(account.fields)


def test_a_plugin_that_fails_to_import_is_named():
    broken = EntryPoint(name="broken", value="fake_plugins.broken_on_import", group="tessera")
    with pytest.raises(PluginError) as info:
        _load_entry_point(broken)
    assert str(info.value) == "plugin 'broken' (fake_plugins.broken_on_import) failed to load: RuntimeError: the licence file is missing"
