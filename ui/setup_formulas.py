"""Setup: the formula editor. A new formula field, or a formula field's expression changed: a field picker that follows
lookups, the functions with their help in the page's language, a check of syntax and types as the expression is typed
(each problem with its column), and a preview of the value on a record the user chooses, computed as that user reads it.

Saving goes through the metadata service like every other field change; the formula lands in changesets with it."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath

from core.expressions import MAX_PATH, ExpressionError, check, evaluate
from core.expressions.check import value_type
from core.expressions.help import FUNCTION_HELP
from core.formulas import RESULT_TYPES
from core.formulas import formatter as formula_format
from core.metadata.model import FieldDef, ObjectDef
from core.records import RecordError
from ui import setup_forms as forms
from ui.context import Page, plural
from ui.fields import record_title
from ui.setup import DB, FORM, add_field_shown, attempt, done, service, setup_object, who

PREVIEW_RECORDS = 20


class FormulaSetup(Controller):
    path = "/setup/objects/{name:str}/formulas"
    include_in_schema = False

    @get("/new", **DB)
    def new(self, request: Request, name: FromPath[str]) -> Response:
        page, obj, refusal = setup_object(request, name)
        given = request.query_params  # a link may start the name and the type (the lead scoring page's score_...)
        result_type = given.get("result_type") if given.get("result_type") in RESULT_TYPES else "decimal"
        return refusal or _editor(page, obj, None, {"result_type": result_type, "in_form": "on", "name": given.get("name", "")}, [])

    @post("", **DB)
    def create(self, request: Request, name: FromPath[str], data: FORM) -> Response:
        page, obj, refusal = setup_object(request, name)
        if refusal:
            return refusal
        return add_field_shown(page, obj, _spec(data), data, lambda errors: _editor(page, obj, None, data, errors, status=422),
                               page.t("Formula field added."))

    @get("/{field_name:str}", **DB)
    def edit(self, request: Request, name: FromPath[str], field_name: FromPath[str]) -> Response:
        page, obj, refusal = setup_object(request, name, field_name)
        if refusal:
            return refusal
        fdef = obj.fields[field_name]
        if not fdef.formula:
            return done(page, f"/setup/objects/{name}/fields/{field_name}", "")
        spec = fdef.spec
        data = {"expression": spec["expression"], "result_type": spec["result_type"], "label_en": fdef.label("en"),
                "label_zh": spec.get("label", {}).get("zh-CN", ""), "scale": str(spec.get("scale", "")),
                "stored": "on" if fdef.stored else ""}
        return _editor(page, obj, fdef, data, [])

    @post("/{field_name:str}", **DB)
    def change(self, request: Request, name: FromPath[str], field_name: FromPath[str], data: FORM) -> Response:
        page, obj, refusal = setup_object(request, name, field_name)
        if refusal:
            return refusal
        fdef = obj.fields[field_name]
        changes = {k: v for k, v in _spec(data).items() if k not in ("name", "type")}
        if "scale" not in changes and "scale" in fdef.spec:
            changes["scale"] = None
        if "stored" not in changes and fdef.stored:
            changes["stored"] = None
        errors = attempt(page, lambda: service(page).change_field(name, field_name, _without_blanks(changes, fdef), who(page)))
        if errors:
            return _editor(page, obj, fdef, data, errors, status=422)
        return done(page, f"/setup/objects/{name}/fields/{field_name}", page.t("Saved."))

    @post("/check", **DB)
    def check_expression(self, request: Request, name: FromPath[str], data: FORM) -> Response:
        """The editor's live check: the problems with their columns, else what the expression gives and its preview."""
        page, obj, refusal = setup_object(request, name)
        if refusal:
            return refusal
        return page.render("setup/_formula_check.html", ck=_checked(page, obj, data))

    @get("/fields", **DB)
    def fields(self, request: Request, name: FromPath[str]) -> Response:
        """The field picker at a path of lookups (``?path=account.owner``)."""
        page, obj, refusal = setup_object(request, name)
        if refusal:
            return refusal
        return page.render("setup/_formula_fields.html", pk=_picker(page, obj, request.query_params.get("path", "")))


def _spec(data: dict) -> dict:
    labels = forms.label_from(data, "label")
    spec: dict[str, Any] = {"name": forms.text(data, "name") or forms.identifier(labels["en"]), "type": "formula", "label": labels,
                            "expression": forms.text(data, "expression"), "result_type": forms.text(data, "result_type")}
    if forms.checked(data, "stored"):
        spec["stored"] = True
    if forms.text(data, "scale") and spec["result_type"] in ("decimal", "currency", "percent"):
        spec["scale"] = forms._number(forms.text(data, "scale"), int)
    return spec


def _without_blanks(changes: dict, fdef: FieldDef) -> dict:
    """A blank scale takes the type's own back; the rest is sent as it is, for the service to judge."""
    return {k: v for k, v in changes.items() if v is not None or k in fdef.spec}


def _editor(page: Page, obj: ObjectDef, fdef: FieldDef | None, data: dict, errors: list[str], status: int = 200) -> Response:
    registry = page.runtime.registry
    results = [(name, registry[name].title(page.lang)) for name in RESULT_TYPES]
    functions = [{"name": name, "signature": help_["signature"], "example": help_["example"],
                  "said": help_.get(page.lang) or help_["en"]} for name, help_ in FUNCTION_HELP.items()]
    title = fdef.label(page.lang) if fdef is not None else page.t("New formula field")
    return page.render("setup/formula.html", status=status, title=f"{plural(obj, page.lang)}: {title}", obj=obj, fdef=fdef,
                       data=data, errors=errors, results=results, functions=functions, records=_preview_records(page, obj),
                       picker=_picker(page, obj, ""), checked=_checked(page, obj, data) if data.get("expression") else None)


def _preview_records(page: Page, obj: ObjectDef) -> list[tuple[int, str]]:
    if not page.access.can(obj.name, "read"):
        return []
    found = page.list_records(obj.name, [("sort", "-updated_at"), ("limit", str(PREVIEW_RECORDS))])
    return [(r["id"], record_title(obj, r, page.lang)) for r in found.items]


def _picker(page: Page, obj: ObjectDef, path: str) -> dict:
    """The fields of the object a path of lookups leads to: those an expression can read, and the lookups to follow."""
    meta, names = page.meta(), [n for n in path.split(".") if n]
    here = obj
    for name in names[:MAX_PATH - 1]:
        fdef = here.fields.get(name)
        if fdef is None or fdef.type.name != "lookup" or fdef.spec.get("target") not in meta.objects:
            names = []
            here = obj
            break
        here = meta.objects[fdef.spec["target"]]
    prefix = "".join(f"{n}." for n in names)
    fields = [f for f in meta.fields_with_system(here.name).values()
              if not f.removed and (value_type(f.type) or f.formula) and page.access.visible(here.name, f.name)]
    readable = [f for f in fields if f.type.name != "lookup" or page.access.can(f.spec.get("target", ""), "read")]
    return {"obj": obj, "path": ".".join(names), "prefix": prefix, "here": here,
            "options": [(prefix + f.name, f.label(page.lang), f.type.title(page.lang)) for f in readable],
            "follow": [(prefix + f.name, f.label(page.lang)) for f in readable
                       if f.type.name == "lookup" and len(names) < MAX_PATH - 1 and f.spec.get("target") in meta.objects],
            "up": ".".join(names[:-1]) if names else None}


def _checked(page: Page, obj: ObjectDef, data: dict) -> dict:
    text = forms.text(data, forms.text(data, "expression_in") or "expression")  # a field's condition names its input
    wanted = RESULT_TYPES.get(forms.text(data, "result_type"))
    answer: dict[str, Any] = {"text": text, "problems": [], "caret": "", "gives": None, "preview": None, "preview_note": None}
    if not text:
        return answer
    try:
        typed = check(page.meta(), obj.name, text, expect=wanted)
    except ExpressionError as exc:
        answer["problems"] = [{"column": column, "said": said.in_(page.lang)} for column, said in exc.problems]
        if "\n" not in text:  # a mark under each column with a problem
            columns = {column for column, _said in exc.problems if column}
            answer["caret"] = "".join("^" if i in columns else " " for i in range(1, max(columns, default=0) + 1))
        return answer
    answer["gives"] = _kind_words(page)[typed.type]
    hidden = [f"{f.object}.{f.name}" for ref in typed.refs() for f in ref.fields if not page.access.visible(f.object, f.name)]
    record_id = forms.text(data, "record")
    if hidden:
        answer["preview_note"] = page.t("No preview: you may not read {fields}.", fields=", ".join(hidden))
    elif record_id.isdigit():
        answer["preview"] = _preview(page, obj, typed, int(record_id), forms.text(data, "result_type"))
    return answer


def _kind_words(page: Page) -> dict[str, str]:
    return {"number": page.t("a number"), "text": page.t("a text"), "date": page.t("a date"), "datetime": page.t("a date and time"),
            "boolean": page.t("a condition (true or false)"), "null": page.t("blank")}


def _preview(page: Page, obj: ObjectDef, typed, record_id: int, result_type: str) -> str:
    """The value on one record as the user reads it (their scope; a record they may not read is not found)."""
    records = page.runtime.records
    try:
        record = records.get(page.actor, obj.name, record_id)
    except RecordError:
        return page.t("That record was not found.")
    value = evaluate(typed, record, lambda target, rid: _fetch(page, target, rid))
    registry = page.runtime.registry
    if result_type not in RESULT_TYPES:
        return "" if value is None else str(value)
    shown = FieldDef("preview", registry[result_type], {"type": "formula", "result_type": result_type}, obj.name, False, "preview")
    if value is None:
        return page.t("(blank)")
    return page.show(shown, formula_format(shown)(value, shown.spec))


def _fetch(page: Page, object_name: str, record_id: int) -> dict | None:
    try:
        return page.runtime.records.get(page.actor, object_name, record_id)
    except (RecordError, PermissionError):
        return None
