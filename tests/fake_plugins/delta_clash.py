"""Defines an object that alpha defines too."""

from core.hookspecs import hookimpl
from core.plugins import PluginInfo

PLUGIN = PluginInfo(name="delta", version="0.1.0")


@hookimpl
def tessera_metadata():
    return [{"name": "widget", "label": {"en": "Widget"}, "fields": [{"name": "title", "type": "text", "label": {"en": "Title"}}]}]
