"""Implements a hook that does not exist (a typo)."""

from core.hookspecs import hookimpl
from core.plugins import PluginInfo

PLUGIN = PluginInfo(name="gamma", version="0.1.0")


@hookimpl
def tessera_before_creat(event):
    return None
