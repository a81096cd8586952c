"""The filters a list applies, as chips above its table: "Stage is Prospecting or Qualification ×".

Each chip names the field by its label and the value as a person reads it (a choice's label, a
record's title), and links to the same list without that filter.
"""

from __future__ import annotations

from typing import Callable
from urllib.parse import urlencode

from core.metadata.model import FieldDef, ObjectDef
from core.titles import title_of
from ui.context import Page
from ui.fields import display


def _templates(page: Page) -> dict[str, str]:
    """The sentence of each operator, in the page's language (filled in with str.format)."""
    return {
        "eq": page.t("{field} is {value}"), "in": page.t("{field} is {value}"), "ne": page.t("{field} is not {value}"),
        "gt": page.t("{field} over {value}"), "gte": page.t("{field} from {value}"),
        "lt": page.t("{field} under {value}"), "lte": page.t("{field} up to {value}"),
        "contains": page.t("{field} contains “{value}”"), "startswith": page.t("{field} starts with “{value}”"),
    }


def chips(page: Page, obj: ObjectDef, params: list[tuple[str, str]], typed: dict[str, str],
          field_of: Callable[[str], FieldDef | None]) -> list[dict]:
    """A chip per filter in ``params`` (list parameters, empty ones already dropped); ``typed``: what a lookup
    filter's box showed (its ``_field`` parameter), so that its chip need not read the record's title again;
    ``field_of``: the field a parameter names, the system fields (owner, created_at) included."""
    found = []
    for key, raw in params:
        if key in ("sort", "offset", "limit", "count", "columns"):
            continue
        rest = urlencode([(k, v) for k, v in params if k != key and k not in ("offset",)])
        found.append({"text": _sentence(page, field_of, key, raw, typed), "remove": rest})
    return found


def _sentence(page: Page, field_of: Callable[[str], FieldDef | None], key: str, raw: str, typed: dict[str, str]) -> str:
    if key == "q":
        return page.t("Search: “{text}”", text=raw)
    name, _, operator = key.partition("__")
    fdef = field_of(name)
    if fdef is None:
        return f"{key} = {raw}"
    field = fdef.label(page.lang)
    if operator == "isnull":
        return page.t("{field} is empty", field=field) if raw.lower() in ("true", "1") else page.t("{field} is not empty", field=field)
    ftype = fdef.type
    if ftype.family == "choice":
        value = page.t(" or ").join(page.show(fdef, part) for part in raw.split(","))
    elif ftype.single_link and fdef.spec.get("target"):
        value = typed.get(name) or _title(page, fdef.spec["target"], raw) or f"#{raw}"
    elif ftype.family == "boolean":
        value = page.t("Yes") if raw.lower() in ("true", "1", "yes") else page.t("No")
    else:
        value = raw
    templates = _templates(page)
    return templates.get(operator or "eq", templates["eq"]).format(field=field, value=value)


def _title(page: Page, object_name: str, raw: str) -> str | None:
    target = page.meta().objects.get(object_name)
    if target is None or not raw.isdigit():
        return None
    return title_of(page.runtime.records, page.actor, target, raw)
