"""Replaces the base account list layout, which plugins may not do."""

from core.hookspecs import hookimpl
from core.plugins import PluginInfo

PLUGIN = PluginInfo(name="theta", version="0.1.0")


@hookimpl
def tessera_metadata():
    return [{"object": "account", "kind": "list", "columns": ["name"]}]
