"""A deal hook for the record page's tests: a deal is not won without its amount."""

from core.hookspecs import hookimpl
from core.plugins import PluginInfo, Refusal

PLUGIN = PluginInfo(name="nu", version="1.0.0", label={"en": "Nu"}, tessera=">=0.1", requires=("sales",), record_objects=("opportunity",))


@hookimpl
def tessera_before_update(event):
    if event.values.get("stage") == "closed_won" and not {**event.previous, **event.values}.get("amount"):
        raise Refusal("a deal is won with its amount; give the amount first", field="stage")
