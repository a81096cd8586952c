"""B2C repeat-purchase marketing: campaigns, segments, purchases and renewals."""

from core.plugins import PluginInfo

PLUGIN = PluginInfo(
    name="marketing",
    version="0.1.0",
    label={"en": "Marketing", "zh-CN": "市场营销"},
    tessera=">=0.1,<1",
    description="B2C repeat purchase: campaigns, segments, purchase history, repurchase cycles, renewals.",
)
