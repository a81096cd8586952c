"""Registers a field type of its own, a rating of one to five stars, and an object that uses it on a board."""

from sqlalchemy import SmallInteger

from core.fieldtypes import ORDERED, FieldType
from core.hookspecs import hookimpl
from core.plugins import PluginInfo
from core.words import WordedError

PLUGIN = PluginInfo(name="omicron", version="0.1.0", label={"en": "Ratings"})


def parse_rating(value, _fdef):
    if isinstance(value, bool):
        raise WordedError("not_whole", value=value)
    try:
        number = int(str(value).strip())
    except ValueError:
        raise WordedError("not_whole", value=value) from None
    if not 1 <= number <= 5:
        raise ValueError(f"a rating is 1 to 5 stars, not {number}")
    return number


RATING = FieldType(
    "rating",
    lambda fdef: SmallInteger(),
    lambda fdef: {"type": ["integer", "string"], "pattern": r"^[1-5]$", "minimum": 1, "maximum": 5},
    ORDERED,
    parse=parse_rating,
    family="number",
    widget="number",
    scale=0,
    label={"en": "Rating (1 to 5)", "zh-CN": "评分（1 到 5）"},
)


@hookimpl
def tessera_field_types():
    return [RATING]


@hookimpl
def tessera_metadata():
    return [
        {
            "name": "review",
            "label": {"en": "Review", "zh-CN": "评价"},
            "plural_label": {"en": "Reviews", "zh-CN": "评价"},
            "title_field": "title",
            "fields": [
                {"name": "title", "type": "text", "label": {"en": "Title", "zh-CN": "标题"}, "required": True},
                {"name": "stage", "type": "picklist", "label": {"en": "Stage", "zh-CN": "阶段"},
                 "values": [{"value": "new", "label": {"en": "New"}}, {"value": "read", "label": {"en": "Read"}}]},
                {"name": "stars", "type": "rating", "label": {"en": "Stars", "zh-CN": "星级"}},
            ],
        },
        {"object": "review", "kind": "kanban", "group_by": "stage", "sum_field": "stars", "card_fields": ["title", "stars"]},
    ]
