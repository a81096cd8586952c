"""Requires alpha 2.x, which is not what is installed."""

from core.plugins import PluginInfo

PLUGIN = PluginInfo(name="beta", version="0.1.0", requires=("alpha>=2",))
