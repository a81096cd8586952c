"""Extends the base account: a picklist value, a field and a section on its detail layout."""

from core.hookspecs import hookimpl
from core.plugins import PluginInfo

PLUGIN = PluginInfo(name="eta", version="0.1.0")


@hookimpl
def tessera_metadata():
    return [{
        "object": "account",
        "fields": [{"name": "eta_region", "type": "text", "label": {"en": "Region", "zh-CN": "区域"}}],
        "picklist_values": {"industry": [{"value": "aerospace", "label": {"en": "Aerospace", "zh-CN": "航空航天"}}]},
        "layout_sections": [{"kind": "detail", "section": {"label": {"en": "Eta", "zh-CN": "Eta"}, "fields": ["eta_region"]}}],
    }]
