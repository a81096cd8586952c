"""BOM-linked manufacturing orders: versioned bills of materials and sales orders."""

from core.plugins import PluginInfo

PLUGIN = PluginInfo(
    name="manufacturing_bom",
    version="0.1.0",
    label={"en": "Manufacturing", "zh-CN": "生产制造"},
    tessera=">=0.1,<1",
    description="Multi-level versioned bills of materials and sales orders that pin a BOM version.",
)
