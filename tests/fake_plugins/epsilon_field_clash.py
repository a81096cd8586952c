"""Adds a field to account that alpha adds too."""

from core.hookspecs import hookimpl
from core.plugins import PluginInfo

PLUGIN = PluginInfo(name="epsilon", version="0.1.0")


@hookimpl
def tessera_metadata():
    return [{"object": "account", "fields": [{"name": "alpha_score", "type": "text", "label": {"en": "Score"}}]}]
