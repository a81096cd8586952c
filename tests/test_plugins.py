"""The plugin manager: loading, refusals that name the plugin, and record hooks."""

from __future__ import annotations

import pytest

from core.hookspecs import hookimpl
from core.metadata.problems import MetadataError
from core.plugins import PluginError, Refusal, load_plugins
from core.records import Refused
from core.runtime import Runtime
from core.settings import Settings
from core.validation import RecordValidationError
from fake_plugins import alpha, beta_needs_alpha, delta_clash, epsilon_field_clash, gamma_misspelt, zeta_future


@pytest.fixture
def alpha_runtime(make_runtime):
    return make_runtime(plugins=("alpha",), extra_plugins=[alpha])


def test_each_application_builds_its_own_manager():
    first, second = load_plugins(enabled=["alpha"], extra=[alpha]), load_plugins(enabled=[])
    assert first.manager is not second.manager
    assert first.get("alpha") is not None and second.get("alpha") is None


def test_a_misspelt_hook_stops_start_up_naming_plugin_and_file():
    with pytest.raises(PluginError) as info:
        load_plugins(enabled=["gamma"], extra=[gamma_misspelt])
    message = str(info.value)
    assert "plugin 'gamma'" in message and "gamma_misspelt.py" in message and "tessera_before_creat" in message


def test_a_version_mismatch_names_both_plugins():
    with pytest.raises(PluginError) as info:
        load_plugins(enabled=["alpha", "beta"], extra=[alpha, beta_needs_alpha])
    message = str(info.value)
    assert "plugin 'beta'" in message and "requires 'alpha>=2'" in message and "'alpha' is version 1.2.0" in message


def test_a_missing_requirement_is_named():
    with pytest.raises(PluginError, match="plugin 'beta' .* requires the plugin 'alpha', which is not installed"):
        load_plugins(enabled=["beta"], extra=[beta_needs_alpha])


def test_a_disabled_requirement_is_named():
    with pytest.raises(PluginError, match="requires the plugin 'alpha', which is disabled"):
        load_plugins(enabled=["beta"], extra=[alpha, beta_needs_alpha])


def test_a_tessera_version_range_is_checked():
    with pytest.raises(PluginError, match=r"plugin 'zeta' 0.1.0 .* needs Tessera >=9; this is Tessera"):
        load_plugins(enabled=["zeta"], extra=[zeta_future])


def test_two_plugins_defining_one_object_are_refused_with_both_names(tmp_path):
    rt = Runtime(Settings(database_url=f"sqlite:///{tmp_path / 'x.db'}", plugins=("alpha", "delta")), extra_plugins=[alpha, delta_clash])
    with pytest.raises(MetadataError) as info:
        rt.upgrade("test")
    assert "plugin delta: tessera_metadata(): /0/name: object 'widget' is already defined by plugin alpha: tessera_metadata()" in str(info.value)


def test_two_plugins_adding_one_field_are_refused_with_both_names(tmp_path):
    rt = Runtime(Settings(database_url=f"sqlite:///{tmp_path / 'x.db'}", plugins=("alpha", "epsilon")), extra_plugins=[alpha, epsilon_field_clash])
    with pytest.raises(MetadataError) as info:
        rt.upgrade("test")
    assert "plugin epsilon" in str(info.value) and "field 'account.alpha_score' is already defined by plugin alpha" in str(info.value)


def test_unknown_plugin_names_in_settings_are_refused():
    with pytest.raises(PluginError, match="no plugin named nope is installed"):
        load_plugins(enabled=["alpha"], disabled=["nope"], extra=[alpha])


def test_plugin_objects_and_fields_become_tables(alpha_runtime, actor):
    widget = alpha_runtime.records.create(actor, "widget", {"title": "sprocket"})
    assert widget["code"] == "SPROCKET"  # set by the before-create hook
    account = alpha_runtime.records.create(actor, "account", {"name": "Acme", "alpha_score": 3})
    assert account["alpha_score"] == 3
    assert ("after_create", widget["id"]) in alpha.CALLS


def test_a_before_hook_refusal_is_a_field_error_and_nothing_is_written(alpha_runtime, actor):
    with pytest.raises(RecordValidationError) as info:
        alpha_runtime.records.create(actor, "widget", {"title": "forbidden"})
    assert [(e.field, e.message) for e in info.value.errors] == [("title", "widgets may not be called 'forbidden'")]
    assert alpha_runtime.records.list(actor, "widget").items == []


def test_a_plugin_validator_reports_with_the_field(alpha_runtime, actor):
    with pytest.raises(RecordValidationError) as info:
        alpha_runtime.records.create(actor, "widget", {"title": "anvil", "weight": 5000})
    assert [(e.field, e.message) for e in info.value.errors] == [("weight", "a widget weighs at most 1000")]
    created = alpha_runtime.records.create(actor, "widget", {"title": "anvil", "weight": 50})
    with pytest.raises(RecordValidationError, match="weighs at most 1000"):
        alpha_runtime.records.update(actor, "widget", created["id"], {"weight": 2000}, version=1)


def test_a_disabled_plugin_keeps_its_data_but_is_not_served(database_url, make_runtime, alpha_runtime, actor):
    alpha_runtime.records.create(actor, "widget", {"title": "kept"})
    without = make_runtime(plugins=())
    with pytest.raises(LookupError, match="there is no object 'widget'"):
        without.records.list(actor, "widget")
    assert "alpha_score" not in without.records.create(actor, "account", {"name": "Beta"})
    again = make_runtime(plugins=("alpha",), extra_plugins=[alpha], upgrade=False)
    assert [w["title"] for w in again.records.list(actor, "widget").items] == ["kept"]


def test_hooks_nobody_implements_are_skipped(runtime):
    assert runtime.plugins.caller("tessera_before_create", "account") is None


class DeleteGuard:
    """A plugin object registered at run time, as tests and embedding code may do."""

    @hookimpl
    def tessera_before_delete(self, event):
        if event.object == "widget":
            raise Refusal("widgets in use cannot be deleted")


def test_delete_refusal_from_a_hook(alpha_runtime, actor):
    widget = alpha_runtime.records.create(actor, "widget", {"title": "keep me"})
    alpha_runtime.plugins.manager.register(DeleteGuard(), name="guard")
    with pytest.raises(Refused, match="widgets in use cannot be deleted"):
        alpha_runtime.records.delete(actor, "widget", widget["id"])
    assert alpha_runtime.records.get(actor, "widget", widget["id"])["title"] == "keep me"


def test_a_plugin_adds_picklist_values_and_layout_sections_to_a_base_object(make_runtime, actor):
    from fake_plugins import eta_extends

    rt = make_runtime(plugins=("eta",), extra_plugins=[eta_extends])
    created = rt.records.create(actor, "account", {"name": "Skyworks", "industry": "aerospace", "eta_region": "North"})
    assert created["industry"] == "aerospace"
    detail = rt.current_metadata().layouts["account:detail:default"]
    assert detail["sections"][-1]["fields"] == ["eta_region"]
    assert "eta_region" not in rt.current_metadata().layouts["account:detail:default"]["sections"][0]["fields"]


def test_a_layout_stored_as_it_shows_gets_a_plugins_section_once(make_runtime):
    """Setup stores a layout as it is shown, the plugin's section included: it must not come twice."""
    from fake_plugins import eta_extends
    from helpers import changeset

    rt = make_runtime(plugins=("eta",), extra_plugins=[eta_extends])
    shown = rt.current_metadata().layouts["account:detail:default"]
    for _ in range(2):
        rt.import_changeset(changeset(layouts=[shown]), "change.json", "tester")
        shown = rt.current_metadata().layouts["account:detail:default"]
    labels = [s["label"]["en"] for s in shown["sections"]]
    assert labels.count("Eta") == 1 and [n for s in shown["sections"] for n in s["fields"]].count("eta_region") == 1


def test_a_layout_customized_before_a_plugin_was_installed_gets_its_section(make_runtime):
    from fake_plugins import eta_extends
    from helpers import changeset, label

    before = make_runtime(plugins=())
    mine = {"object": "account", "kind": "detail", "sections": [{"label": label("Mine"), "fields": ["name", "phone"]}]}
    before.import_changeset(changeset(layouts=[mine]), "change.json", "tester")
    after = make_runtime(plugins=("eta",), extra_plugins=[eta_extends])
    sections = after.current_metadata().layouts["account:detail:default"]["sections"]
    assert [(s["label"]["en"], s["fields"]) for s in sections] == [("Mine", ["name", "phone"]), ("Eta", ["eta_region"])]


def test_a_stored_layout_naming_a_disabled_plugins_field_shows_and_saves_without_it(make_runtime):
    from fake_plugins import eta_extends
    from helpers import changeset

    with_eta = make_runtime(plugins=("eta",), extra_plugins=[eta_extends])
    shown = with_eta.current_metadata().layouts["account:detail:default"]
    with_eta.import_changeset(changeset(layouts=[shown]), "change.json", "tester")
    without = make_runtime(plugins=(), upgrade=False)
    layout = without.current_metadata().layouts["account:detail:default"]
    assert "eta_region" not in [n for s in layout["sections"] for n in s["fields"]]
    assert "Eta" not in [s["label"]["en"] for s in layout["sections"]]
    without.import_changeset(changeset(layouts=[layout]), "setup.json", "tester")  # what Setup saves: the layout as shown


def test_a_plugin_may_not_replace_another_layers_layout(tmp_path):
    from fake_plugins import theta_layout_clash

    rt = Runtime(Settings(database_url=f"sqlite:///{tmp_path / 'x.db'}", plugins=("theta",)), extra_plugins=[theta_layout_clash])
    with pytest.raises(MetadataError, match="layout 'account:list:default' is already defined by metadata/layouts/account.json"):
        rt.upgrade("test")


def test_customizations_of_a_disabled_plugins_objects_wait_for_it(make_runtime, alpha_runtime, actor):
    from helpers import changeset, label

    extension = {"object": "widget", "fields": [{"name": "colour", "type": "text", "label": label("Colour")}]}
    alpha_runtime.import_changeset(changeset(extensions=[extension]), "change.json", "tester")
    alpha_runtime.records.create(actor, "widget", {"title": "kept", "colour": "red"})
    without = make_runtime(plugins=())
    assert without.records.create(actor, "account", {"name": "Works"})["name"] == "Works"
    again = make_runtime(plugins=("alpha",), extra_plugins=[alpha], upgrade=False)
    assert again.records.list(actor, "widget").items[0]["colour"] == "red"


def test_a_changeset_for_a_missing_object_is_still_refused(alpha_runtime, make_runtime):
    from helpers import changeset, label

    without = make_runtime(plugins=())
    with pytest.raises(MetadataError, match="there is no object 'widget' to extend"):
        without.import_changeset(changeset(extensions=[{"object": "widget", "fields": [{"name": "x", "type": "text", "label": label("X")}]}]), "change.json", "tester")
