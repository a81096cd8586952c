"""Setup: an object's validation rules (core/validation_rules.py), listed on the object's Setup page and edited on a
page of their own: name, expression (checked as it is typed: the problems with their columns), the field the message
is shown at, the message in both languages, whether it is active and when it applies along the process field.

Each change is a metadata change in the customization layer (an extension's ``validation_rules``, through the
metadata service the API uses), so it is recorded, audited and carried by the configuration export. A rule a plugin
defines is replaced or deactivated by the customization; deleting the customization's version brings the plugin's
back. A refused rule comes back with what was typed and the problems, and nothing is saved.
"""

from __future__ import annotations

import re

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath

from core.expressions import ExpressionError, check
from core.metadata.model import FieldDef, ObjectDef
from core.metadata.service import MetadataService
from core.words import sentence
from ui.context import Page, plural
from ui.i18n import label
from ui.mass_actions import one
from ui.record_pages import DB, FORM
from ui.setup import attempt, done, service, setup_object, who

NAME = re.compile(r"^[a-z][a-z0-9_]*$")
ARROW = re.compile(r"\s*(?:->|→)\s*")


class ValidationRuleSetup(Controller):
    path = "/setup/objects/{name:str}/validation-rules"
    include_in_schema = False

    @get("/new", **DB)
    def new(self, request: Request, name: FromPath[str]) -> Response:
        page, obj, refusal = setup_object(request, name)
        return refusal or _editor(page, obj, {}, [], None)

    @get("/{rule:str}", **DB)
    def edit(self, request: Request, name: FromPath[str], rule: FromPath[str]) -> Response:
        page, obj, refusal = setup_object(request, name)
        if refusal:
            return refusal
        found = _rule(obj, rule)
        if found is None:
            return _missing(page, obj, rule)
        return _editor(page, obj, _as_form(found), [], found)

    @post("", **DB)
    def save(self, request: Request, name: FromPath[str], data: FORM) -> Response:
        page, obj, refusal = setup_object(request, name)
        if refusal:
            return refusal
        editing = _rule(obj, one(data, "original")) if one(data, "original") else None
        errors: list[str] = []
        body = _from_form(page, obj, data, editing, errors)
        if not errors:
            errors = attempt(page, lambda: service(page).put_validation_rule(obj.name, body["name"], body, who(page),
                                                                              f"Setup: validation rule {body['name']} of {obj.name}"))
        if errors:
            return _editor(page, obj, data, errors, editing, status=422)
        return done(page, f"/setup/objects/{name}#validation-rules", page.t("Saved."))

    @post("/check", **DB)
    def check_expression(self, request: Request, name: FromPath[str], data: FORM) -> Response:
        """The expression's problems as it is typed, each with its column (htmx swaps them under the box)."""
        page, obj, refusal = setup_object(request, name)
        if refusal:
            return refusal
        return page.render("setup/_expression_check.html", **_checked(page, obj, one(data, "expression")))

    @post("/{rule:str}/active", **DB)
    def set_active(self, request: Request, name: FromPath[str], rule: FromPath[str], data: FORM) -> Response:
        page, obj, refusal = setup_object(request, name)
        if refusal:
            return refusal
        found = _rule(obj, rule)
        if found is None:
            return _missing(page, obj, rule)
        active = one(data, "active") == "true"
        body = {"name": rule, "active": active} if not _own(obj, rule) else {**_definition(found), "active": active}
        errors = attempt(page, lambda: service(page).put_validation_rule(obj.name, rule, body, who(page),
                                                                          f"Setup: validation rule {rule} of {obj.name}"))
        if errors:
            return _object_page(page, obj, errors)
        return done(page, f"/setup/objects/{name}#validation-rules", page.t("Activated.") if active else page.t("Deactivated."))

    @post("/{rule:str}/remove", **DB)
    def remove(self, request: Request, name: FromPath[str], rule: FromPath[str]) -> Response:
        page, obj, refusal = setup_object(request, name)
        if refusal:
            return refusal
        errors = attempt(page, lambda: service(page).remove_validation_rule(obj.name, rule, who(page)))
        if errors:
            return _object_page(page, obj, errors)
        return done(page, f"/setup/objects/{name}#validation-rules", page.t("Deleted."))


def rule_rows(page: Page, obj: ObjectDef) -> list[dict]:
    """The object's rules as its Setup page lists them."""
    rows = []
    for rule in MetadataService.validation_rules(obj):
        fdef = obj.fields.get(rule.get("field") or "")
        rows.append({"name": rule["name"], "label": label(rule.get("label"), page.lang, rule["name"]), "expression": rule["expression"],
                     "field": fdef.label(page.lang) if fdef is not None else page.t("The whole record"),
                     "message": label(rule.get("message"), page.lang), "active": rule["active"],
                     "when": _when_said(page, obj, rule.get("when")), "custom": rule["custom"],
                     "defined_by": rule["defined_by"], "own": _own(obj, rule["name"])})
    return rows


def _object_page(page: Page, obj: ObjectDef, errors: list[str]) -> Response:
    from ui.setup import object_page  # noqa: PLC0415 - the object page lists the rules through this module

    return object_page(page, page.meta().object(obj.name), {}, errors, status=422)


def _rule(obj: ObjectDef, name: str) -> dict | None:
    return next((r for r in obj.validation_rules if r["name"] == name), None)


def _own(obj: ObjectDef, name: str) -> bool:
    """Whether the customization layer defines the rule (not only changes another layer's)."""
    return obj.rule_layers.get(name) == "customization"


def _definition(rule: dict) -> dict:
    return {k: v for k, v in rule.items() if k in ("name", "label", "expression", "field", "message", "active", "when")}


def _missing(page: Page, obj: ObjectDef, rule: str) -> Response:
    return page.render("error.html", status=404, title=page.t("Not found"),
                       message=page.t("{objects} have no validation rule “{name}”.", objects=plural(obj, page.lang), name=rule))


def _process(obj: ObjectDef) -> FieldDef | None:
    fdef = obj.fields.get(obj.process_field or "")
    return fdef if fdef is not None and not fdef.removed and fdef.type.single_choice else None


def _value_labels(page: Page, obj: ObjectDef) -> dict[str, str]:
    process = _process(obj)
    return {v["value"]: label(v.get("label"), page.lang, v["value"]) for v in process.spec.get("values", [])} if process else {}


def _when_said(page: Page, obj: ObjectDef, when: dict | None) -> str:
    if not when:
        return page.t("Every save")
    labels = _value_labels(page, obj)
    if "values" in when:
        return page.t("While at: {steps}", steps=", ".join(labels.get(v, v) for v in when["values"]))
    moves = [f"{labels.get(m['from'], m['from']) if 'from' in m else page.t('any')} → {labels.get(m['to'], m['to']) if 'to' in m else page.t('any')}"
             for m in when.get("transitions", [])]
    return page.t("On moves: {moves}", moves="; ".join(moves))


def _as_form(rule: dict) -> dict:
    """A rule as the editor's inputs hold it."""
    when = rule.get("when") or {}
    return {"name": rule["name"], "original": rule["name"], "expression": rule.get("expression", ""), "field": rule.get("field", ""),
            "message_en": (rule.get("message") or {}).get("en", ""), "message_zh": (rule.get("message") or {}).get("zh-CN", ""),
            "label_en": (rule.get("label") or {}).get("en", ""), "label_zh": (rule.get("label") or {}).get("zh-CN", ""),
            "active": "on" if rule.get("active", True) else "",
            "when": "values" if "values" in when else "transitions" if "transitions" in when else "always",
            "values": when.get("values", []),
            "transitions": "\n".join(f"{m.get('from', '')} -> {m.get('to', '')}" for m in when.get("transitions", []))}


def _many(data: dict, key: str) -> list[str]:
    raw = data.get(key)
    values = raw if isinstance(raw, list) else ([] if raw is None else [raw])
    return list(dict.fromkeys(str(v).strip() for v in values if str(v).strip()))


def _from_form(page: Page, obj: ObjectDef, data: dict, editing: dict | None, errors: list[str]) -> dict:
    """The rule the form gives; what cannot be one is said in ``errors`` (the rest the metadata check says)."""
    name = editing["name"] if editing is not None else one(data, "name").strip()
    if not NAME.match(name):
        errors.append(page.t("The name is lower-case letters, digits and underscores, starting with a letter: amount_cap."))
    elif editing is None and _rule(obj, name) is not None:
        errors.append(page.t("{objects} already have a validation rule “{name}”.", objects=plural(obj, page.lang), name=name))
    body: dict = {"name": name, "expression": one(data, "expression").strip(), "active": bool(one(data, "active"))}
    if not body["expression"]:
        errors.append(page.t("Write the condition a record must meet."))
    message = {"en": one(data, "message_en").strip(), "zh-CN": one(data, "message_zh").strip()}
    if not message["en"]:
        errors.append(page.t("Write the message in English; the Chinese one is shown to Chinese readers."))
    body["message"] = {k: v for k, v in message.items() if v}
    rule_label = {"en": one(data, "label_en").strip(), "zh-CN": one(data, "label_zh").strip()}
    if rule_label["en"]:
        body["label"] = {k: v for k, v in rule_label.items() if v}
    if one(data, "field"):
        body["field"] = one(data, "field")
    when = one(data, "when")
    values = list(_value_labels(page, obj))
    if when == "values":
        chosen = _many(data, "values")
        if not chosen:
            errors.append(page.t("Tick the steps the rule applies at."))
        body["when"] = {"values": [v for v in values if v in chosen] or chosen}
    elif when == "transitions":
        moves = []
        for line in (part.strip() for part in one(data, "transitions").splitlines() if part.strip()):
            ends = ARROW.split(line)
            if len(ends) != 2 or not any(ends):
                errors.append(page.t("“{line}” is not a move: write from -> to, one a line (leave a side empty for any step).", line=line))
                continue
            moves.append({key: end for key, end in zip(("from", "to"), ends) if end})
        if not moves and not errors:
            errors.append(page.t("Write the moves the rule applies on, one a line: negotiation -> closed_won."))
        body["when"] = {"transitions": moves}
    return body


def _checked(page: Page, obj: ObjectDef, expression: str) -> dict:
    """The check of an expression as the editor shows it: its problems, each with its column, or that it reads."""
    if not expression.strip():
        return {"problems": [], "fine": ""}
    try:
        check(page.meta(), obj.name, expression, expect="boolean")
    except ExpressionError as exc:
        return {"problems": [sentence("expression_problem", where=sentence("expression_at", column=column), problem=problem).in_(page.lang)
                             for column, problem in exc.problems], "fine": ""}
    return {"problems": [], "fine": page.t("The condition reads well.")}


def _editor(page: Page, obj: ObjectDef, data: dict, errors: list[str], editing: dict | None, status: int = 200) -> Response:
    process = _process(obj)
    fields = sorted(((f.name, f.label(page.lang)) for f in obj.active_fields() if f.has_column), key=lambda pair: pair[1].lower())
    chosen = data.get("values") if isinstance(data.get("values"), list) else _many(data, "values")
    steps = [{"value": value, "label": shown, "checked": value in chosen} for value, shown in _value_labels(page, obj).items()]
    title = page.t("Validation rule “{name}”", name=editing["name"]) if editing else page.t("New validation rule")
    return page.render("setup/validation_rule.html", status=status, title=title, obj=obj, data=data, errors=errors,
                       editing=editing, fields=fields, steps=steps, process=process.label(page.lang) if process else None,
                       overriding=editing is not None and not _own(obj, editing["name"]),
                       **_checked(page, obj, one(data, "expression")))
