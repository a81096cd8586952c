"""Service: equipment maintenance tickets, SLAs and maintenance plans."""

from core.plugins import PluginInfo

PLUGIN = PluginInfo(
    name="service",
    version="0.1.0",
    label={"en": "Service", "zh-CN": "服务"},
    tessera=">=0.1,<1",
    description="Equipment maintenance tickets with SLAs, installed equipment and maintenance plans.",
)
