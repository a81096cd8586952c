"""The top of a record page: the highlight fields its detail layout names, and the path of its process field.

An object's ``process_field`` (a picklist: a deal's stage, a ticket's status) is drawn as a row of
steps, the current one marked; choosing another step saves it through the record service with the
version of the record the page shows, like any other change.
"""

from __future__ import annotations

from core.metadata.layouts import LayoutView
from core.metadata.model import ObjectDef
from ui.context import Page
from ui.fields import choices, display, system_field


def highlights(page: Page, obj: ObjectDef, record: dict, layout: LayoutView) -> list[dict]:
    shown = []
    for name in layout.highlights:
        fdef = obj.fields.get(name) or system_field(page.runtime.registry, obj.name, name)
        if fdef is None or fdef.removed or not page.access.visible(obj.name, name) or name not in record:
            continue
        value = record.get(name)
        link = f"/r/{fdef.spec['target']}/{value['id']}" if fdef.type.name == "lookup" and isinstance(value, dict) else None
        shown.append({"name": name, "title": fdef.label(page.lang), "text": page.show(fdef, value), "link": link})
    return shown


def process_path(page: Page, obj: ObjectDef, record: dict) -> dict | None:
    """The steps of the object's process field, or None when it has none the user may see."""
    name = obj.process_field
    fdef = obj.fields.get(name or "")
    if fdef is None or fdef.removed or not fdef.type.single_choice or not page.access.visible(obj.name, name) or name not in record:
        return None
    current = record.get(name)
    values = choices(fdef, page.lang)
    reached = next((i for i, v in enumerate(values) if v["value"] == current), -1)
    steps = [{**v, "state": "current" if i == reached else ("passed" if i < reached else "todo")} for i, v in enumerate(values)]
    return {"field": name, "title": fdef.label(page.lang), "steps": steps,
            "current": values[reached]["label"] if reached >= 0 else "",
            "may_move": page.access.can(obj.name, "update") and page.access.writable(obj.name, name) and not fdef.spec.get("read_only")}

