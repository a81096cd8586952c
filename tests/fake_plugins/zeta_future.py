"""Needs a Tessera that does not exist yet."""

from core.plugins import PluginInfo

PLUGIN = PluginInfo(name="zeta", version="0.1.0", tessera=">=9")
