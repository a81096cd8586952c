"""A well-formed plugin: an object, a field on account, a validator and lifecycle hooks."""

from core.hookspecs import hookimpl
from core.plugins import PluginInfo, Refusal

PLUGIN = PluginInfo(name="alpha", version="1.2.0", label={"en": "Alpha"}, tessera=">=0.1")
CALLS: list[tuple] = []


@hookimpl
def tessera_metadata():
    return [
        {
            "name": "widget",
            "label": {"en": "Widget", "zh-CN": "部件"},
            "fields": [
                {"name": "title", "type": "text", "label": {"en": "Title", "zh-CN": "标题"}, "required": True},
                {"name": "code", "type": "text", "label": {"en": "Code", "zh-CN": "代码"}},
                {"name": "weight", "type": "integer", "label": {"en": "Weight", "zh-CN": "重量"}},
            ],
        },
        {"object": "account", "fields": [{"name": "alpha_score", "type": "integer", "label": {"en": "Alpha score", "zh-CN": "阿尔法评分"}}]},
    ]


@hookimpl
def tessera_validate_record(event):
    if event.object == "widget" and (event.values.get("weight") or 0) > 1000:
        return [("weight", "a widget weighs at most 1000")]
    return []


@hookimpl
def tessera_before_create(event):
    if event.object != "widget":
        return
    if event.values.get("title") == "forbidden":
        raise Refusal("widgets may not be called 'forbidden'", field="title")
    event.values["code"] = event.values["title"].upper()


@hookimpl
def tessera_after_create(event):
    if event.object == "widget":
        CALLS.append(("after_create", event.record["id"]))
