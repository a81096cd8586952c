"""B2B project sales: leads, opportunities, quotes, contracts and forecasts."""

from core.plugins import PluginInfo

PLUGIN = PluginInfo(
    name="sales",
    version="0.1.0",
    label={"en": "Sales", "zh-CN": "销售"},
    tessera=">=0.1,<1",
    description="B2B project sales: lead scoring and conversion, opportunities, quotes, contracts.",
)
