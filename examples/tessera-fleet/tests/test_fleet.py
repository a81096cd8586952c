"""The Fleet plugin: its object and field, its hooks, and the hook it offers."""

from __future__ import annotations

import pytest

from core.plugins import PluginError, load_plugins
from core.records import Refused
from core.validation import RecordValidationError

import fleet_listener


def fleet_size(runtime, actor, account) -> int:
    return runtime.records.get(actor, "account", account["id"])["fleet_size"]


def test_plate_numbers_are_stored_in_capitals_without_spaces(runtime, actor):
    vehicle = runtime.records.create(actor, "vehicle", {"plate_number": " sh a\t12345 "})
    assert vehicle["plate_number"] == "SHA12345"
    changed = runtime.records.update(actor, "vehicle", vehicle["id"], {"plate_number": "sh b 1"}, version=vehicle["version"])
    assert changed["plate_number"] == "SHB1"


def test_a_plate_differing_only_in_spelling_is_taken(runtime, actor):
    runtime.records.create(actor, "vehicle", {"plate_number": "SHA12345"})
    with pytest.raises(RecordValidationError, match="'SHA12345' is already used by another vehicle"):
        runtime.records.create(actor, "vehicle", {"plate_number": "sh a 12345"})


def test_a_blank_plate_is_refused_on_its_field(runtime, actor):
    with pytest.raises(RecordValidationError) as info:
        runtime.records.create(actor, "vehicle", {"plate_number": "   "})
    assert [(e.field, e.message) for e in info.value.errors] == [("plate_number", "a plate number needs at least one letter or digit")]
    assert runtime.records.list(actor, "vehicle").items == []


def test_the_mileage_cannot_go_down(runtime, actor):
    vehicle = runtime.records.create(actor, "vehicle", {"plate_number": "A1", "mileage_km": 12000})
    with pytest.raises(RecordValidationError) as info:
        runtime.records.update(actor, "vehicle", vehicle["id"], {"mileage_km": 11000}, version=vehicle["version"])
    assert [(e.field, e.message) for e in info.value.errors] == [("mileage_km", "the mileage cannot go down (it was 12000 km)")]
    assert runtime.records.update(actor, "vehicle", vehicle["id"], {"mileage_km": 12500}, version=vehicle["version"])["mileage_km"] == 12500


def test_fleet_size_follows_the_vehicles_in_service(runtime, actor):
    acme = runtime.records.create(actor, "account", {"name": "Acme Logistics"})
    other = runtime.records.create(actor, "account", {"name": "Beta Transport"})
    assert fleet_size(runtime, actor, acme) == 0
    first = runtime.records.create(actor, "vehicle", {"plate_number": "A1", "customer": acme["id"]})
    second = runtime.records.create(actor, "vehicle", {"plate_number": "A2", "customer": acme["id"], "status": "in_workshop"})
    assert fleet_size(runtime, actor, acme) == 2
    runtime.records.update(actor, "vehicle", second["id"], {"status": "retired"}, version=second["version"])
    assert fleet_size(runtime, actor, acme) == 1
    runtime.records.update(actor, "vehicle", first["id"], {"customer": other["id"]}, version=first["version"])
    assert (fleet_size(runtime, actor, acme), fleet_size(runtime, actor, other)) == (0, 1)
    runtime.records.delete(actor, "vehicle", first["id"])
    assert fleet_size(runtime, actor, other) == 0


def test_people_cannot_set_the_fleet_size(runtime, actor):
    with pytest.raises(RecordValidationError, match="fleet_size: is read-only"):
        runtime.records.create(actor, "account", {"name": "Acme Logistics", "fleet_size": 40})


def test_an_account_with_vehicles_cannot_be_deleted(runtime, actor):
    acme = runtime.records.create(actor, "account", {"name": "Acme Logistics"})
    runtime.records.create(actor, "vehicle", {"plate_number": "A1", "customer": acme["id"]})
    with pytest.raises(Refused, match="1 vehicle record"):
        runtime.records.delete(actor, "account", acme["id"])


def test_another_plugin_hears_of_retired_vehicles(make_runtime, actor):
    fleet_listener.HEARD.clear()
    runtime = make_runtime(plugins=("fleet", "fleet_listener"), extra_plugins=[fleet_listener])
    vehicle = runtime.records.create(actor, "vehicle", {"plate_number": "A1"})
    runtime.records.update(actor, "vehicle", vehicle["id"], {"status": "retired"}, version=vehicle["version"])
    assert fleet_listener.HEARD == ["A1"]


def test_a_failing_listener_rolls_the_whole_change_back(make_runtime, actor):
    fleet_listener.FAIL_ON.add("A1")
    try:
        runtime = make_runtime(plugins=("fleet", "fleet_listener"), extra_plugins=[fleet_listener])
        acme = runtime.records.create(actor, "account", {"name": "Acme Logistics"})
        vehicle = runtime.records.create(actor, "vehicle", {"plate_number": "A1", "customer": acme["id"]})
        with pytest.raises(RuntimeError, match="cannot close the open work of A1"):
            runtime.records.update(actor, "vehicle", vehicle["id"], {"status": "retired"}, version=vehicle["version"])
        assert runtime.records.get(actor, "vehicle", vehicle["id"])["status"] == "active"
        assert fleet_size(runtime, actor, acme) == 1
    finally:
        fleet_listener.FAIL_ON.clear()


def test_the_listener_loads_without_fleet():
    plugins = load_plugins(enabled=["fleet_listener"], extra=[fleet_listener])
    assert [p.info.name for p in plugins.enabled] == ["fleet_listener"]


def test_without_optionalhook_a_hook_of_an_absent_plugin_stops_start_up():
    import types

    from core.hookspecs import hookimpl
    from core.plugins import PluginInfo

    strict = types.ModuleType("strict_listener")
    strict.PLUGIN = PluginInfo(name="strict_listener", version="0.1.0")
    strict.fleet_vehicle_retired = hookimpl(lambda vehicle: None)
    with pytest.raises(PluginError, match="unknown hook 'fleet_vehicle_retired'"):
        load_plugins(enabled=["strict_listener"], extra=[strict])


def test_the_due_command_lists_inspections_coming_up(runtime, actor, database_url, monkeypatch, capsys):
    import datetime as dt

    from core.cli import main

    soon = (dt.date.today() + dt.timedelta(days=10)).isoformat()
    later = (dt.date.today() + dt.timedelta(days=200)).isoformat()
    acme = runtime.records.create(actor, "account", {"name": "Acme Logistics"})
    runtime.records.create(actor, "vehicle", {"plate_number": "A1", "customer": acme["id"], "next_inspection": soon})
    runtime.records.create(actor, "vehicle", {"plate_number": "A2", "customer": acme["id"], "next_inspection": later})
    runtime.records.create(actor, "vehicle", {"plate_number": "A3", "next_inspection": soon, "status": "retired"})
    monkeypatch.setenv("TESSERA_DATABASE_URL", database_url)
    monkeypatch.setenv("TESSERA_PLUGINS", "fleet")
    monkeypatch.delenv("TESSERA_DISABLED_PLUGINS", raising=False)
    with pytest.raises(SystemExit) as exit_info:
        main(["fleet", "due", "--within", "30"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.splitlines() == [f"{soon}  A1            Acme Logistics"]
