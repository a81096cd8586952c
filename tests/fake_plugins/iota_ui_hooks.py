"""Record hooks for the web UI's tests: a validator's message, a refused delete, and a hook that fails unexpectedly."""

from core.hookspecs import hookimpl
from core.plugins import PluginInfo, Refusal

PLUGIN = PluginInfo(name="iota", version="1.0.0", label={"en": "Iota"}, tessera=">=0.1", record_objects=("account",))
SECRET = "iota-internal-detail-7f3a"


@hookimpl
def tessera_validate_record(event):
    if event.values.get("name") == "Explode":
        raise RuntimeError(f"the hook broke ({SECRET})")
    if event.values.get("billing_city") == "Atlantis":
        return [("billing_city", "nobody delivers to Atlantis")]
    return []


@hookimpl
def tessera_before_delete(event):
    if event.previous.get("name") == "Bob Industries":
        raise Refusal("Bob Industries is kept for the auditors")
