"""A dashboard widget of the "progress" kind for the web UI's tests: each rep's won amount against a quota, and a
count of calls against a target; nothing for a user without a role."""

from core.hookspecs import hookimpl
from core.plugins import DashboardWidget, PluginInfo

PLUGIN = PluginInfo(name="pi", version="1.0.0", label={"en": "Pi"}, tessera=">=0.1")


def quota(runtime, actor, lang: str = "en", **_kwargs) -> dict | None:
    if not actor.permission_set:
        return None
    return {"kind": "progress", "empty": "No targets.",
            "items": [{"title": "Won this quarter" if lang == "en" else "本季度赢单", "href": "/r/opportunity", "value": 1200, "target": 5000,
                       "currency": True, "details": ["Quota set by the manager"]},
                      {"title": "Calls", "href": None, "value": 3, "target": 4, "currency": False, "details": []},
                      {"title": "No target", "href": None, "value": 7, "target": 0, "currency": False}]}


@hookimpl
def tessera_dashboard_widgets():
    return [DashboardWidget("pi_quota", {"en": "My targets", "zh-CN": "我的目标"}, quota)]
