"""After-hooks that refuse: a record named 'Refuse after' cannot be created, moved to 'Limbo' or deleted."""

from core.hookspecs import hookimpl
from core.plugins import PluginInfo, Refusal

PLUGIN = PluginInfo(name="mu", version="1.0.0", label={"en": "Mu"}, tessera=">=0.1", record_objects=("account",))


@hookimpl
def tessera_after_create(event):
    if event.record.get("name") == "Refuse after":
        raise Refusal("the ledger refused this account", "name")


@hookimpl
def tessera_after_update(event):
    if event.record.get("billing_city") == "Limbo":
        raise Refusal("the archive refused the move to Limbo")


@hookimpl
def tessera_after_delete(event):
    if event.previous.get("billing_city") == "Keep":
        raise Refusal("accounts in Keep are kept")
