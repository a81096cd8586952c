"""Setup: a field's conditions and a picklist's dependency (core/field_conditions.py).

The field's page edits ``visible_if``, ``required_if`` and ``default_expression`` as text, each checked as it is
typed by the formula editor's check; a picklist's page has a dependency editor: the controlling field, then a table
of its values by the field's values, a tick for each value allowed. Saving goes through the metadata service like
every other field change, so it lands in changesets.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath

from core.expressions.check import BOOLEAN, DATE, DATETIME, NUMBER, TEXT
from core.field_conditions import CONDITIONS, _default_type, controlling_values
from core.metadata.model import FieldDef, ObjectDef
from ui import setup_forms as forms
from ui.context import Page
from ui.i18n import label
from ui.setup import DB, FORM, attempt, done, field_page, service, setup_object, who

RESULT_TYPE = {NUMBER: "decimal", TEXT: "text", DATE: "date", DATETIME: "datetime", BOOLEAN: "boolean"}  # for the formula check


def condition_inputs(fdef: FieldDef) -> list[dict]:
    """The conditions the field's page offers, with the result type the formula check is asked for."""
    if fdef.computed:
        return []
    found = [{"key": "visible_if", "result_type": "boolean"}, {"key": "required_if", "result_type": "boolean"}]
    kind = _default_type(fdef)
    if kind is not None:
        found.append({"key": "default_expression", "result_type": RESULT_TYPE[kind]})
    return found


def condition_changes(data: dict, fdef: FieldDef) -> dict[str, Any]:
    """The conditions a field's form sends: an expression, or None to take one away."""
    changes: dict[str, Any] = {}
    for key in CONDITIONS:
        if key not in data:
            continue
        text = forms.text(data, key)
        if text:
            changes[key] = text
        elif fdef.spec.get(key):
            changes[key] = None
    return changes


def controlling_fields(obj: ObjectDef, fdef: FieldDef) -> list[FieldDef]:
    return [f for f in obj.active_fields() if f.name != fdef.name and (f.type.single_choice or f.type.family == "boolean")
            and not f.computed]


def dependency_view(page: Page, obj: ObjectDef, fdef: FieldDef, chosen: str | None = None) -> dict | None:
    """The dependency editor of a picklist: its controlling field (``chosen``, else the one it names) and the table."""
    if "values" not in fdef.type.options:
        return None
    depends = fdef.spec.get("depends_on") or {}
    name = depends.get("field") if chosen is None else chosen
    controlling = obj.fields.get(name or "")
    choices = controlling_fields(obj, fdef)
    view = {"fields": [(f.name, f.label(page.lang)) for f in choices], "chosen": controlling.name if controlling else "", "rows": [],
            "values": [(v["value"], label(v.get("label"), page.lang, v["value"])) for v in fdef.spec.get("values", [])]}
    if controlling is None or controlling not in choices:
        view["chosen"] = ""
        return view
    allowed = depends.get("values", {}) if depends.get("field") == controlling.name else {}
    if controlling.type.family == "boolean":
        captions = {"true": page.t("Yes"), "false": page.t("No")}
    else:
        captions = {v["value"]: label(v.get("label"), page.lang, v["value"]) for v in controlling.spec.get("values", [])}
    for value in controlling_values(controlling):
        view["rows"].append({"value": value, "caption": captions.get(value, value), "allowed": set(allowed.get(value, []))})
    view["controlling_label"] = controlling.label(page.lang)
    return view


def _dependency_from(data: dict, fdef: FieldDef, controlling: FieldDef) -> dict:
    values = [v["value"] for v in fdef.spec.get("values", [])]
    table = {}
    for key in controlling_values(controlling):
        table[key] = [v for v in values if forms.checked(data, f"allow_{key}__{v}")]
    return {"field": controlling.name, "values": table}


class ConditionSetup(Controller):
    path = "/setup/objects/{name:str}/fields/{field_name:str}/dependency"
    include_in_schema = False

    @get("", **DB)
    def table(self, request: Request, name: FromPath[str], field_name: FromPath[str]) -> Response:
        """The dependency table for the controlling field chosen (``?controlling=``), drawn again as the choice changes."""
        page, obj, refusal = setup_object(request, name, field_name)
        if refusal:
            return refusal
        view = dependency_view(page, obj, obj.fields[field_name], request.query_params.get("controlling", ""))
        if view is None:
            return field_page(page, obj, field_name, {}, [])
        return page.render("setup/_dependency_table.html", obj=obj, fdef=obj.fields[field_name], dep=view)

    @post("", **DB)
    def save(self, request: Request, name: FromPath[str], field_name: FromPath[str], data: FORM) -> Response:
        page, obj, refusal = setup_object(request, name, field_name)
        if refusal:
            return refusal
        fdef = obj.fields[field_name]
        if "values" not in fdef.type.options:
            return field_page(page, obj, field_name, {}, [])
        controlling = obj.fields.get(forms.text(data, "controlling"))
        changes = {"depends_on": _dependency_from(data, fdef, controlling) if controlling is not None else None}
        if changes["depends_on"] is None and not fdef.spec.get("depends_on"):
            return done(page, f"/setup/objects/{name}/fields/{field_name}", page.t("Saved."))
        errors = attempt(page, lambda: service(page).change_field(name, field_name, changes, who(page)))
        if errors:
            return field_page(page, obj, field_name, data, errors, status=422)
        return done(page, f"/setup/objects/{name}/fields/{field_name}", page.t("Dependency saved."))
