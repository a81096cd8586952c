"""Setup: roll-up fields. A new roll-up (which child records, through which lookup; count, sum, minimum, maximum or
average of which of their fields; which of them, as list filters), or an existing one changed. Saving goes through the
metadata service like every other field change: the figures are computed for the records at once (core/rollups.py)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath

from core.metadata.model import FieldDef, ObjectDef
from core.rollups import AGGREGATES
from ui import setup_forms as forms
from ui.context import Page, plural
from ui.setup import DB, FORM, add_field_shown, attempt, done, service, setup_object, who


class RollupSetup(Controller):
    path = "/setup/objects/{name:str}/rollups"
    include_in_schema = False

    @get("/new", **DB)
    def new(self, request: Request, name: FromPath[str]) -> Response:
        page, obj, refusal = setup_object(request, name)
        if refusal:
            return refusal
        relations = _relations(page, obj)
        first = relations[0][0] if relations else ""
        return _editor(page, obj, None, {"relation": first, "aggregate": "count", "in_form": "on"}, [])

    @post("", **DB)
    def create(self, request: Request, name: FromPath[str], data: FORM) -> Response:
        page, obj, refusal = setup_object(request, name)
        if refusal:
            return refusal
        return add_field_shown(page, obj, _spec(data), data, lambda errors: _editor(page, obj, None, data, errors, status=422),
                               page.t("Roll-up field added."))

    @get("/{field_name:str}", **DB)
    def edit(self, request: Request, name: FromPath[str], field_name: FromPath[str]) -> Response:
        page, obj, refusal = setup_object(request, name, field_name)
        if refusal:
            return refusal
        fdef = obj.fields[field_name]
        if not fdef.rollup:
            return done(page, f"/setup/objects/{name}/fields/{field_name}", "")
        rollup = fdef.spec["rollup"]
        data = {"relation": f"{rollup['object']}.{rollup['via']}", "aggregate": rollup["aggregate"], "field": rollup.get("field", ""),
                "filter": _filter_text(rollup.get("filter") or {}), "label_en": fdef.label("en"),
                "label_zh": fdef.spec.get("label", {}).get("zh-CN", "")}
        return _editor(page, obj, fdef, data, [])

    @post("/{field_name:str}", **DB)
    def change(self, request: Request, name: FromPath[str], field_name: FromPath[str], data: FORM) -> Response:
        page, obj, refusal = setup_object(request, name, field_name)
        if refusal:
            return refusal
        spec = _spec(data)
        errors = attempt(page, lambda: service(page).change_field(name, field_name, {"label": spec["label"], "rollup": spec["rollup"]},
                                                                   who(page)))
        if errors:
            return _editor(page, obj, obj.fields[field_name], data, errors, status=422)
        return done(page, f"/setup/objects/{name}/fields/{field_name}", page.t("Saved."))

    @post("/form", **DB)
    def refresh(self, request: Request, name: FromPath[str], data: FORM) -> Response:
        """The editor again for another child relation or aggregate: the fields it offers follow the choice."""
        page, obj, refusal = setup_object(request, name)
        if refusal:
            return refusal
        original = forms.text(data, "original")
        fdef = obj.fields.get(original) if original else None
        return _editor(page, obj, fdef if fdef is not None and fdef.rollup else None, data, [])


def _spec(data: dict) -> dict:
    labels = forms.label_from(data, "label")
    child, _, via = forms.text(data, "relation").partition(".")
    rollup: dict[str, Any] = {"object": child, "via": via, "aggregate": forms.text(data, "aggregate")}
    if rollup["aggregate"] != "count" and forms.text(data, "field"):
        rollup["field"] = forms.text(data, "field")
    condition = _filter_of(forms.text(data, "filter"))
    if condition:
        rollup["filter"] = condition
    return {"name": forms.text(data, "name") or forms.identifier(labels["en"]), "type": "rollup", "label": labels, "rollup": rollup}


def _filter_of(text: str) -> dict:
    """``stage__in=prospecting,qualification&amount__gte=1000`` (a list's filters, as in its address) as a condition."""
    condition: dict[str, Any] = {}
    for key, value in parse_qsl(text.strip().lstrip("?"), keep_blank_values=True):
        condition[key] = [v.strip() for v in value.split(",") if v.strip()] if key.endswith("__in") else value
    return condition


def _filter_text(condition: dict) -> str:
    return "&".join(f"{k}={','.join(map(str, v)) if isinstance(v, list) else v}" for k, v in condition.items()
                    if not isinstance(v, dict))


def _relations(page: Page, obj: ObjectDef) -> list[tuple[str, str]]:
    """Every lookup of another object to this one: ("opportunity.account", "Opportunities (Account)")."""
    found = []
    for child in page.meta().objects.values():
        for fdef in child.active_fields():
            if fdef.type.name == "lookup" and fdef.spec.get("target") == obj.name and not fdef.computed:
                found.append((f"{child.name}.{fdef.name}", f"{plural(child, page.lang)} ({fdef.label(page.lang)})"))
    return sorted(found, key=lambda pair: pair[1])


def _summed(page: Page, obj: ObjectDef, relation: str, aggregate: str) -> list[tuple[str, str]]:
    """The child's fields the aggregate can read: numbers for sum and average, numbers and dates for minimum and maximum."""
    child = page.meta().objects.get(relation.partition(".")[0])
    if child is None or aggregate == "count":
        return []
    families = ("number",) if aggregate in ("sum", "avg") else ("number", "date")
    return [(f.name, f"{f.label(page.lang)} ({f.type.title(page.lang)})") for f in child.active_fields()
            if f.has_column and not f.computed and f.type.family in families]


def _editor(page: Page, obj: ObjectDef, fdef: FieldDef | None, data: dict, errors: list[str], status: int = 200) -> Response:
    aggregates = {"count": page.t("Count of records"), "sum": page.t("Sum"), "min": page.t("Minimum"), "max": page.t("Maximum"),
                  "avg": page.t("Average")}
    relation, aggregate = forms.text(data, "relation"), forms.text(data, "aggregate") or "count"
    title = fdef.label(page.lang) if fdef is not None else page.t("New roll-up field")
    return page.render("setup/rollup.html", status=status, title=f"{plural(obj, page.lang)}: {title}", obj=obj, fdef=fdef, data=data,
                       errors=errors, relations=_relations(page, obj), aggregates=[(a, aggregates[a]) for a in AGGREGATES],
                       summed=_summed(page, obj, relation, aggregate), aggregate=aggregate)
