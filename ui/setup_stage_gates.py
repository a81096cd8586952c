"""Setup: the stage gates of an object's process field (core/stage_gates.py). For each value of the process field the
implementer chooses the values a record may come from, the fields it must have filled, and the permission sets whose
users may move a record into it and out of it. Saved as one metadata change (an extension's ``stage_gates``), so it
is recorded, audited and carried by the configuration export. A form naming a value, field or permission set that is
not there is refused with a message naming it, and nothing is saved."""

from __future__ import annotations

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath

from core.metadata.model import FieldDef, ObjectDef
from ui.context import Page, plural
from ui.i18n import label
from ui.mass_actions import one
from ui.record_pages import DB, FORM
from ui.setup import attempt, done, service, setup_object, who

KEYS = ("from", "required", "entered_by", "left_by")


class StageGateSetup(Controller):
    path = "/setup/objects/{name:str}/stage-gates"
    include_in_schema = False

    @get("", **DB)
    def gates(self, request: Request, name: FromPath[str]) -> Response:
        page, obj, refusal = setup_object(request, name)
        return refusal or _page(page, obj, {}, [])

    @post("", **DB)
    def save(self, request: Request, name: FromPath[str], data: FORM) -> Response:
        page, obj, refusal = setup_object(request, name)
        if refusal:
            return refusal
        process = _process(obj)
        if process is None:
            return _page(page, obj, data, [_no_path(page, obj)], status=422)
        errors: list[str] = []
        gates = _chosen(page, obj, process, data, errors)
        errors = errors or attempt(page, lambda: service(page).set_stage_gates(obj.name, gates, who(page)))
        if errors:
            return _page(page, obj, data, errors, status=422)
        return done(page, f"/setup/objects/{name}/stage-gates", page.t("Saved."))


def _process(obj: ObjectDef) -> FieldDef | None:
    fdef = obj.fields.get(obj.process_field or "")
    return fdef if fdef is not None and not fdef.removed and fdef.type.single_choice else None


def _no_path(page: Page, obj: ObjectDef) -> str:
    return page.t("{objects} have no process field: choose one on the Record page first.", objects=plural(obj, page.lang))


def _values(process: FieldDef) -> list[str]:
    return [v["value"] for v in process.spec.get("values", [])]


def _many(data: dict, key: str) -> list[str]:
    raw = data.get(key)
    values = raw if isinstance(raw, list) else ([] if raw is None else [raw])
    return list(dict.fromkeys(str(v).strip() for v in values if str(v).strip()))


def _chosen(page: Page, obj: ObjectDef, process: FieldDef, data: dict, errors: list[str]) -> dict[str, dict | None]:
    """The gates the form gives, by value: a gate, or None for a value whose gate goes (values without one are left out)."""
    values, sets = _values(process), page.meta().permission_sets
    labels = {v["value"]: label(v.get("label"), page.lang, v["value"]) for v in process.spec.get("values", [])}
    gates: dict[str, dict | None] = {}
    for value in values:
        title, gate = labels[value], {}
        came_from = _many(data, f"from_{value}")
        for other in came_from:
            if other not in values or other == value:
                errors.append(page.t("{value}: “{other}” is not another value of {field}.", value=title, other=other,
                                     field=process.label(page.lang)))
        if came_from:
            gate["from"] = [v for v in values if v in came_from]
        required = _fields(page, obj, title, one(data, f"required_{value}"), errors)
        if required:
            gate["required"] = required
        for key in ("entered_by", "left_by"):
            chosen = _many(data, f"{key}_{value}")
            for name in chosen:
                if name not in sets:
                    errors.append(page.t("{value}: there is no permission set “{name}”.", value=title, name=name))
            if chosen:
                gate[key] = [name for name in chosen if name in sets]
        if gate:
            gates[value] = gate
        elif value in obj.stage_gates:
            gates[value] = None
    return gates


def _fields(page: Page, obj: ObjectDef, title: str, raw: str, errors: list[str]) -> list[str]:
    """The required fields typed as names or labels (in either language), separated by commas."""
    known = {}
    for fdef in obj.active_fields():
        for word in (fdef.name, *(fdef.spec.get("label") or {}).values()):
            known.setdefault(word.strip().lower(), fdef)
    names = []
    for typed in dict.fromkeys(part.strip() for part in raw.replace("，", ",").split(",") if part.strip()):
        fdef = known.get(typed.lower())
        if fdef is None:
            errors.append(page.t("{value}: {objects} have no field “{field}”.", value=title, objects=plural(obj, page.lang), field=typed))
        elif not fdef.has_column:
            errors.append(page.t("{value}: “{field}” links several records; a gate can require only a field that holds one value.",
                                 value=title, field=fdef.label(page.lang)))
        elif fdef.name not in names:
            names.append(fdef.name)
    return names


def _ticker(data: dict, value: str, gate: dict):
    """Whether a choice of a gate's key is ticked: as the form sent it, else as the gate in effect has it."""
    def ticked(key: str, choice: str) -> bool:
        return choice in _many(data, f"{key}_{value}") if data else choice in gate.get(key, [])
    return ticked


def _summary(page: Page, obj: ObjectDef, row: dict) -> list[str]:
    """A step's gate in a line or two, shown while its details are closed: what restricts entering and leaving it."""
    def ticked(key: str) -> str:
        return ", ".join(choice["label"] for choice in row[key] if choice["checked"])

    names = [name.strip() for name in row["required"].split(",") if name.strip()]
    required = ", ".join(obj.fields[name].label(page.lang) if name in obj.fields else name for name in names)
    parts = [(page.t("From: {steps}", steps=ticked("from")) if ticked("from") else ""),
             (page.t("Requires: {fields}", fields=required) if required else ""),
             (page.t("Moved here by: {roles}", roles=ticked("entered_by")) if ticked("entered_by") else ""),
             (page.t("Moved away by: {roles}", roles=ticked("left_by")) if ticked("left_by") else "")]
    return [part for part in parts if part]


def _page(page: Page, obj: ObjectDef, data: dict, errors: list[str], status: int = 200) -> Response:
    process = _process(obj)
    sets = sorted(({"name": name, "label": label(body.get("label"), page.lang, name)} for name, body in page.meta().permission_sets.items()),
                  key=lambda s: s["label"].lower())
    rows = []
    if process is not None:
        values = process.spec.get("values", [])
        for item in values:
            value, gate = item["value"], obj.stage_gates.get(item["value"], {})
            ticked = _ticker(data, value, gate)
            rows.append({
                "value": value, "label": label(item.get("label"), page.lang, value),
                "from": [{"value": other["value"], "label": label(other.get("label"), page.lang, other["value"]),
                          "checked": ticked("from", other["value"])} for other in values if other["value"] != value],
                "required": one(data, f"required_{value}") if data else ", ".join(gate.get("required", [])),
                "entered_by": [{**s, "checked": ticked("entered_by", s["name"])} for s in sets],
                "left_by": [{**s, "checked": ticked("left_by", s["name"])} for s in sets],
            })
            rows[-1]["summary"] = _summary(page, obj, rows[-1])
    fields = ", ".join(f.name for f in obj.active_fields() if f.has_column)
    return page.render("setup/stage_gates.html", status=status, title=page.t("Stage gates of {objects}", objects=plural(obj, page.lang)),
                       obj=obj, process=process.label(page.lang) if process is not None else None, rows=rows, fields=fields,
                       errors=errors, done=page.request.query_params.get("done", ""), no_path=None if process else _no_path(page, obj))
