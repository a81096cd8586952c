"""Record hooks that refuse an account's save in ways a form must explain: without naming a field, naming a
field the form does not show, from an after-hook, and through a record the hook writes."""

from core.hookspecs import hookimpl
from core.plugins import PluginInfo, Refusal

PLUGIN = PluginInfo(name="lambda", version="1.0.0", label={"en": "Lambda"}, tessera=">=0.1", record_objects=("account",))


@hookimpl
def tessera_before_update(event):
    if event.values.get("billing_city") == "Nowhere":
        raise Refusal("accounts are not moved to Nowhere")


@hookimpl
def tessera_validate_record(event):
    if event.values.get("billing_city") == "Elsewhere":
        return [("owner", "an account in Elsewhere needs an owner from the export team")]
    return []


@hookimpl
def tessera_after_update(event):
    city = event.record.get("billing_city")
    if city == "Limbo":
        raise Refusal("the archive refused the move to Limbo")
    if city == "Ghost Town":
        event.records.create("contact", {"first_name": "Ghost", "account": event.record["id"]})
