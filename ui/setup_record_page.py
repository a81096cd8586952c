"""Setup: an object's record page. The implementer chooses the fields shown under the record's title (the
detail layout's ``highlights``), the picklist drawn as its path of steps (the object's ``process_field``) and
the related lists (which ones, in what order, their columns and how many rows). Saved as one metadata
change, so it moves between installations in changesets like the rest of the configuration.
A form naming a field or list that is not there, a process field that is not a picklist, or a number
of rows out of range is refused with a message naming it, and nothing is saved."""

from __future__ import annotations

from dataclasses import dataclass, field

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath

from core.metadata.layouts import RELATED_ROWS, LayoutView, RelatedList
from core.metadata.model import ObjectDef
from ui.context import Page, plural
from ui.mass_actions import one
from ui.record_pages import DB, FORM
from ui.setup import attempt, current_layout, done, service, setup_object, who

MAX_HIGHLIGHTS = 8
MAX_ROWS = 50
MAX_RELATED_COLUMNS = 8


@dataclass
class RecordPageChoice:
    """What the form asks for, or what is wrong with it."""

    highlights: list[str] = field(default_factory=list)
    process_field: str | None = None
    related: list[RelatedList] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class RecordPageSetup(Controller):
    path = "/setup/objects/{name:str}/record-page"
    include_in_schema = False

    @get("", **DB)
    def record_page(self, request: Request, name: FromPath[str]) -> Response:
        page, obj, refusal = setup_object(request, name)
        return refusal or _page(page, obj, {}, [])

    @post("", **DB)
    def arrange(self, request: Request, name: FromPath[str], data: FORM) -> Response:
        page, obj, refusal = setup_object(request, name)
        if refusal:
            return refusal
        chosen = _chosen(page, obj, data)
        errors = chosen.errors or attempt(page, lambda: _save(page, obj, chosen))
        if errors:
            return _page(page, obj, data, errors, status=422)
        return done(page, f"/setup/objects/{name}/record-page", page.t("Saved."))


def relations(page: Page, obj: ObjectDef) -> dict[str, tuple[ObjectDef, object]]:
    """Every list the record page can show: ``child.field`` -> (child object, its field pointing here)."""
    found = {}
    for child in page.meta().objects.values():
        if child.spec.get("system"):
            continue
        for fdef in child.active_fields():
            if fdef.type.name in ("lookup", "many_to_many") and fdef.spec.get("target") == obj.name:
                found[f"{child.name}.{fdef.name}"] = (child, fdef)
    return found


def _chosen(page: Page, obj: ObjectDef, data: dict) -> RecordPageChoice:
    chosen = RecordPageChoice()
    chosen.highlights = _highlights(page, obj, data, chosen.errors)
    chosen.process_field = _process_field(page, obj, one(data, "process_field").strip(), chosen.errors)
    chosen.related = _related(page, obj, data, chosen.errors)
    return chosen


def _many(data: dict, key: str) -> list[str]:
    raw = data.get(key)
    values = raw if isinstance(raw, list) else ([] if raw is None else [raw])
    return [str(v).strip() for v in values if str(v).strip()]


def _order(data: dict, key: str, fallback: int) -> float:
    try:
        return float(one(data, key))
    except ValueError:
        return float(fallback)


def _highlights(page: Page, obj: ObjectDef, data: dict, errors: list[str]) -> list[str]:
    names = list(dict.fromkeys(_many(data, "highlight")))
    for name in names:
        if name not in obj.fields or obj.fields[name].removed:
            errors.append(page.t("Highlights: {objects} have no field “{field}”.", objects=plural(obj, page.lang), field=name))
    if len(names) > MAX_HIGHLIGHTS:
        errors.append(page.t("Highlights: choose at most {n} fields.", n=MAX_HIGHLIGHTS))
    return sorted(names, key=lambda n: _order(data, f"highlight_order_{n}", 1000))


def _process_field(page: Page, obj: ObjectDef, name: str, errors: list[str]) -> str | None:
    if not name:
        return None
    fdef = obj.fields.get(name)
    if fdef is None or fdef.removed:
        errors.append(page.t("Process field: {objects} have no field “{field}”.", objects=plural(obj, page.lang), field=name))
    elif not fdef.type.single_choice:
        errors.append(page.t("Process field: “{field}” is not a picklist field; a path needs a picklist's values as its steps.",
                             field=fdef.label(page.lang)))
    return name


def _related(page: Page, obj: ObjectDef, data: dict, errors: list[str]) -> list[RelatedList]:
    known, chosen = relations(page, obj), []
    for position, name in enumerate(dict.fromkeys(_many(data, "related"))):
        if name not in known:
            errors.append(page.t("Related lists: there is no list “{list}” of records pointing to {objects}.", list=name,
                                 objects=plural(obj, page.lang)))
            continue
        child, fdef = known[name]
        title = f"{plural(child, page.lang)} ({fdef.label(page.lang)})"
        rows = _rows(page, title, one(data, f"related_rows_{name}").strip(), errors)
        columns = _columns(page, title, child, one(data, f"related_columns_{name}"), errors)
        chosen.append((_order(data, f"related_order_{name}", position), RelatedList(name, columns, rows)))
    shown = [item for _order_, item in sorted(chosen, key=lambda pair: pair[0])]
    named = {item.name for item in shown}
    return shown + [RelatedList(name, hidden=True) for name in known if name not in named]  # a plugin's list stays away too


def _rows(page: Page, title: str, raw: str, errors: list[str]) -> int:
    if not raw:
        return RELATED_ROWS
    if raw.lstrip("-").isdigit() and 1 <= int(raw) <= MAX_ROWS:
        return int(raw)
    errors.append(page.t("{list}: the number of rows is a whole number from 1 to {most}, not “{rows}”.", list=title, most=MAX_ROWS, rows=raw))
    return RELATED_ROWS


def _columns(page: Page, title: str, child: ObjectDef, raw: str, errors: list[str]) -> list[str]:
    names = list(dict.fromkeys(n.strip() for n in raw.replace("，", ",").split(",") if n.strip()))
    for name in names:
        if name not in child.fields or child.fields[name].removed:
            errors.append(page.t("{list}: {objects} have no field “{field}”.", list=title, objects=plural(child, page.lang), field=name))
    if len(names) > MAX_RELATED_COLUMNS:
        errors.append(page.t("{list}: show at most {n} columns.", list=title, n=MAX_RELATED_COLUMNS))
    return names


def _save(page: Page, obj: ObjectDef, chosen: RecordPageChoice) -> None:
    layout = {k: v for k, v in current_layout(page, obj, "detail").items() if k not in ("generated", "highlights", "related_lists")}
    if chosen.highlights:
        layout["highlights"] = chosen.highlights
    layout["related_lists"] = [item.as_entry() for item in chosen.related]
    service(page).arrange_record_page(obj.name, layout, chosen.process_field, who(page))


def _page(page: Page, obj: ObjectDef, data: dict, errors: list[str], status: int = 200) -> Response:
    layout = LayoutView(current_layout(page, obj, "detail"))
    fields = [f for f in obj.active_fields() if not (f.type.family == "relation" and f.type.multiple)]
    highlighted = {name: i + 1 for i, name in enumerate(layout.highlights)}
    shown = {item.name: (i + 1, item) for i, item in enumerate(layout.shown_related_lists)}
    named = layout.names_related_lists
    rows = []
    for number, (name, (child, fdef)) in enumerate(relations(page, obj).items(), 1):
        place, item = shown.get(name, (None, RelatedList(name)))
        rows.append({"name": name, "title": f"{plural(child, page.lang)} ({fdef.label(page.lang)})",
                     "shown": name in _many(data, "related") if data else (place is not None or not named),
                     "order": one(data, f"related_order_{name}") if data else str(place or len(shown) + number),
                     "rows": one(data, f"related_rows_{name}") if data else str(item.rows),
                     "columns": one(data, f"related_columns_{name}") if data else ", ".join(item.columns),
                     "fields": ", ".join(f.name for f in child.active_fields())})
    context = {
        "obj": obj, "errors": errors, "done": page.request.query_params.get("done", ""),
        "fields": [{"name": f.name, "label": f.label(page.lang),
                    "shown": f.name in _many(data, "highlight") if data else f.name in highlighted,
                    "order": one(data, f"highlight_order_{f.name}") if data else str(highlighted.get(f.name, number + 100))}
                   for number, f in enumerate(fields, 1)],
        "picklists": [{"name": f.name, "label": f.label(page.lang)} for f in fields if f.type.single_choice],
        "process_field": one(data, "process_field") if data else (obj.process_field or ""),
        "related": rows, "max_rows": MAX_ROWS,
    }
    return page.render("setup/record_page.html", status=status, title=page.t("Record page of {objects}", objects=plural(obj, page.lang)),
                       **context)
