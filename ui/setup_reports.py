"""Setup: the report builder. The list of reports (who defines each) and a form that builds one without JSON: the object,
the kind, up to three groupings (fields of the object or one lookup away, dates with their bucket), the measures, a
tabular report's columns, filters as rows of field, operator and value, the period, the sort and the top N, the chart and
who may run it. Choosing the object, a grouping, an aggregate or a filter's field draws the form again (htmx) with the
fields that fit.

"Preview" checks the unsaved report with the metadata service (``dry_run``) and runs it with the report engine as the
user, showing the report page's table; "Save" stores it through the same service (a plugin's report saved becomes a
customization that replaces it). Each problem comes back with its JSON pointer and is shown beside its control and above
the form; nothing is stored while one remains."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect

from core.metadata.model import FieldDef
from core.metadata.problems import MetadataError
from core.query import QueryError
from core.reports.definition import AGGREGATES, BUCKETS, CHARTS, KINDS, ReportError, read
from core.reports.running import Runner
from core.words import say
from ui import rule_form as rf
from ui import setup_forms as forms
from ui.context import VARY, Page, plural
from ui.fields import choices, system_field
from ui.i18n import label
from ui.reports import chart, layout
from ui.setup import DB, FORM, REFUSALS, done, layer_title, not_found, service, setup_page, who

PATH = "/setup/reports"
KIND = "report"
GROUPS = 3
MAX_MEASURES = 10
MAX_COLUMNS = 30
MAX_FILTERS = 20
RANGES = ("today", "yesterday", "this_week", "last_week", "this_month", "last_month", "next_month", "this_quarter", "last_quarter",
          "next_quarter", "this_year", "last_year", "next_year", "last_30_days", "last_90_days", "next_30_days", "next_90_days",
          "all_time")
OPERATORS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "contains", "startswith", "isnull", "notnull")
PREFIX = re.compile(r"^/reports/\d+")
PREVIEW_NAME = "unsaved_report"  # the name a report without one is checked under, for its preview


class ReportsSetup(Controller):
    path = PATH
    include_in_schema = False

    @get("", **DB)
    def reports(self, request: Request) -> Response:
        page, refusal = setup_page(request)
        return refusal or _list(page)

    @get("/new", **DB)
    def new(self, request: Request) -> Response:
        page, refusal = setup_page(request)
        if refusal:
            return refusal
        chosen = request.query_params.get("object", "")
        return _editor(page, None, blank(chosen if chosen in page.meta().objects else ""))

    @post("/editor", **DB)
    def editor(self, request: Request, data: FORM) -> Response:
        """Every button of the builder, and its redraw when a choice changes what it offers: add or remove a row,
        preview, save."""
        page, refusal = setup_page(request)
        if refusal:
            return refusal
        name = forms.text(data, "original") or None
        if name is not None and name not in page.meta().reports:
            return not_found(page, name)
        state = from_form(data)
        do = forms.text(data, "do")
        if state["drawn_for"] != state["object"]:  # another object: the fields chosen were the other one's
            state = {**blank(state["object"]), **{k: state[k] for k in ("name", "label_en", "label_zh", "description_en",
                                                                         "description_zh", "kind", "owner", "shared_with")}}
        for rows, prefix, made in (("measures", "measure", {"aggregate": "count", "field": ""}), ("columns", "column", ""),
                                   ("filters", "filter", {"field": "", "op": "eq", "value": ""})):
            if do == f"add-{prefix}" and len(state[rows]) < {"measures": MAX_MEASURES, "columns": MAX_COLUMNS}.get(rows, MAX_FILTERS):
                state[rows].append(dict(made) if isinstance(made, dict) else made)
            elif do.startswith(f"del-{prefix}-"):
                index = do.removeprefix(f"del-{prefix}-")
                if index.isdigit() and int(index) < len(state[rows]):
                    del state[rows][int(index)]
        if do in ("save", "preview"):
            return _submit(page, name, state, do)
        return _editor(page, name, state)

    @get("/{name:str}", **DB)
    def edit(self, request: Request, name: FromPath[str]) -> Response:
        page, refusal = setup_page(request)
        if refusal:
            return refusal
        body = page.meta().reports.get(name)
        if body is None:
            return not_found(page, name)
        return _editor(page, name, from_body({**body, "name": name}))

    @post("/{name:str}/remove", **DB)
    def remove(self, request: Request, name: FromPath[str]) -> Response:
        page, refusal = setup_page(request)
        if refusal:
            return refusal
        if name not in page.meta().reports:
            return not_found(page, name)
        problems = _attempt(page, lambda: service(page).remove_named(KIND, name, who(page)))
        if problems:
            return _list(page, errors=[said for _at, said in problems], status=409)
        current = page.runtime.current_metadata().named[KIND]
        if name in current.bodies:
            return done(page, PATH, page.t("Customization removed: the report defined by {source} applies again.",
                                           source=layer_title(page, current.layers[name])))
        return done(page, PATH, page.t("Report removed."))


# --- the form as data, and back ----------------------------------------------------------------------------------------


def blank(object_name: str) -> dict:
    return {"name": "", "label_en": "", "label_zh": "", "description_en": "", "description_zh": "", "object": object_name,
            "drawn_for": object_name, "kind": "summary", "groups": [{"field": "", "bucket": ""} for _ in range(GROUPS)],
            "measures": [{"aggregate": "count", "field": ""}], "columns": [], "filters": [], "period_field": "",
            "period_range": "this_year", "sort_by": "", "sort_desc": False, "limit": "", "chart_type": "bar", "chart_measure": "",
            "owner": "", "shared_with": "", "kept": {}}


def _rows(data: dict, pattern: str) -> list[int]:
    found = {int(m.group(1)) for key in data for m in [re.fullmatch(pattern, key)] if m}
    return sorted(found)


def from_form(data: dict) -> dict:
    """The builder's state from the posted form (strings; rows numbered m0_, f0_, c0...)."""
    text = lambda key: forms.text(data, key)  # noqa: E731
    try:
        kept = json.loads(text("kept") or "{}")
    except ValueError:
        kept = {}
    return {
        "name": text("name"), "label_en": text("label_en"), "label_zh": text("label_zh"), "description_en": text("description_en"),
        "description_zh": text("description_zh"), "object": text("object"), "drawn_for": text("drawn_for"),
        "kind": text("kind") or "summary",
        "groups": [{"field": text(f"g{i}_field"), "bucket": text(f"g{i}_bucket")} for i in range(GROUPS)],
        "measures": [{"aggregate": text(f"m{i}_aggregate"), "field": text(f"m{i}_field")}
                     for i in _rows(data, r"m(\d+)_aggregate")][:MAX_MEASURES],
        "columns": [text(f"c{i}") for i in _rows(data, r"c(\d+)")][:MAX_COLUMNS],
        "filters": [{"field": text(f"f{i}_field"), "op": text(f"f{i}_op") or "eq", "value": text(f"f{i}_value")}
                    for i in _rows(data, r"f(\d+)_field")][:MAX_FILTERS],
        "period_field": text("period_field"), "period_range": text("period_range"), "sort_by": text("sort_by"),
        "sort_desc": forms.checked(data, "sort_desc"), "limit": text("limit"), "chart_type": text("chart_type"),
        "chart_measure": text("chart_measure"), "owner": text("owner"), "shared_with": text("shared_with"),
        "kept": kept if isinstance(kept, dict) else {},
    }


def from_body(body: dict) -> dict:
    """The builder's state for a stored report; what the form does not edit (prompts, filters beyond field-operator-value
    rows) is kept as it is."""
    state = blank(body.get("object", ""))
    labels, description = body.get("label") or {}, body.get("description") or {}
    groups = list(body.get("group_by", []))
    state.update(name=body.get("name", ""), label_en=labels.get("en", ""), label_zh=labels.get("zh-CN", ""),
                 description_en=description.get("en", ""), description_zh=description.get("zh-CN", ""),
                 kind=body.get("kind", "summary"),
                 groups=[{"field": g.get("field", ""), "bucket": g.get("bucket", "")} for g in groups[:GROUPS]]
                 + [{"field": "", "bucket": ""} for _ in range(GROUPS - len(groups[:GROUPS]))],
                 measures=[{"aggregate": m.get("aggregate", "count"), "field": m.get("field", "")} for m in body.get("measures", [])],
                 columns=list(body.get("columns", [])), sort_by=(body.get("sort") or {}).get("by", ""),
                 sort_desc=bool((body.get("sort") or {}).get("descending")), limit=str(body.get("limit", "")),
                 chart_type=(body.get("chart") or {}).get("type", ""), chart_measure=(body.get("chart") or {}).get("measure", ""),
                 owner=body.get("owner", ""), shared_with=", ".join(body.get("shared_with", [])))
    if body.get("period"):
        state.update(period_field=body["period"].get("field", ""), period_range=body["period"].get("range", ""))
    rows, other = [], {}
    for key, value in (body.get("filters") or {}).items():
        row = _filter_row(key, value)
        if row is None:
            other[key] = value
        else:
            rows.append(row)
    state["filters"] = rows
    state["kept"] = {k: v for k, v in (("prompts", body.get("prompts")), ("filters", other)) if v}
    return state


def _filter_row(key: str, value: Any) -> dict | None:
    if key in ("any", "all", "expression", "previous") or isinstance(value, dict):
        return None
    field_name, _, op = key.partition("__")
    op = op or "eq"
    if op == "isnull":
        return {"field": field_name, "op": "isnull" if value else "notnull", "value": ""}
    if op not in OPERATORS:
        return None
    if op == "in":
        if not isinstance(value, list):
            return None
        return {"field": field_name, "op": op, "value": ", ".join(_text(v) for v in value)}
    return {"field": field_name, "op": op, "value": _text(value)}


def _text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else "" if value is None else str(value)


@dataclass
class Built:
    """A report document from the builder's state, and which control each JSON pointer belongs to."""

    body: dict = field(default_factory=dict)
    controls: dict = field(default_factory=dict)

    def control(self, pointer: str) -> str | None:
        pointer = PREFIX.sub("", pointer)
        while pointer:
            if pointer in self.controls:
                return self.controls[pointer]
            pointer = pointer.rsplit("/", 1)[0]
        return None


def to_body(state: dict, fields: dict[str, FieldDef]) -> Built:
    """The report document the form describes; ``fields``: the object's own fields by name (typing filter values)."""
    built = Built()
    body, controls = built.body, built.controls
    controls.update({"/name": "name", "/label": "label_en", "/label/en": "label_en", "/label/zh-CN": "label_zh",
                     "/description": "description_en", "/description/en": "description_en", "/description/zh-CN": "description_zh",
                     "/object": "object", "/kind": "kind", "/period": "period_field", "/period/field": "period_field",
                     "/period/range": "period_range", "/sort": "sort_by", "/sort/by": "sort_by", "/sort/descending": "sort_by",
                     "/limit": "limit", "/chart": "chart_type", "/chart/type": "chart_type", "/chart/measure": "chart_measure",
                     "/owner": "owner", "/shared_with": "shared_with", "/group_by": "g0_field", "/measures": "measures",
                     "/columns": "columns", "/filters": "filters", "/prompts": "filters"})
    body["object"] = state["object"]
    body["label"] = {"en": state["label_en"], **({"zh-CN": state["label_zh"]} if state["label_zh"] else {})}
    if state["description_en"] or state["description_zh"]:
        body["description"] = {k: v for k, v in (("en", state["description_en"]), ("zh-CN", state["description_zh"])) if v}
    kind = state["kind"]
    body["kind"] = kind
    if kind == "tabular":
        body["columns"] = [c for c in state["columns"] if c]
        for n, (i, _c) in enumerate((i, c) for i, c in enumerate(state["columns"]) if c):
            controls[f"/columns/{n}"] = f"c{i}"
        if state["columns"]:
            controls["/columns"] = "c0"
    else:
        groups = [(i, g) for i, g in enumerate(state["groups"]) if g["field"]]
        body["group_by"] = [{"field": g["field"], **({"bucket": g["bucket"]} if g["bucket"] else {})} for _i, g in groups]
        for n, (i, g) in enumerate(groups):
            controls[f"/group_by/{n}"] = controls[f"/group_by/{n}/field"] = f"g{i}_field"
            controls[f"/group_by/{n}/bucket"] = f"g{i}_bucket"
        body["measures"] = [{"aggregate": m["aggregate"]} if m["aggregate"] == "count" else
                            {"aggregate": m["aggregate"], **({"field": m["field"]} if m["field"] else {})} for m in state["measures"]]
        for n, _m in enumerate(state["measures"]):
            controls[f"/measures/{n}"] = controls[f"/measures/{n}/aggregate"] = f"m{n}_aggregate"
            controls[f"/measures/{n}/field"] = f"m{n}_field"
        if state["measures"]:
            controls["/measures"] = "m0_aggregate"
    condition = _condition(state, fields, controls)
    if condition:
        body["filters"] = condition
    if state["kept"].get("prompts"):
        body["prompts"] = state["kept"]["prompts"]
    if state["period_field"]:
        body["period"] = {"field": state["period_field"], "range": state["period_range"]}
    if state["sort_by"]:
        body["sort"] = {"by": state["sort_by"], "descending": state["sort_desc"]}
    if state["limit"]:
        body["limit"] = int(state["limit"]) if state["limit"].isdigit() else state["limit"]
    if state["chart_type"] and kind != "tabular":
        body["chart"] = {"type": state["chart_type"], **({"measure": state["chart_measure"]} if state["chart_measure"] else {})}
    if state["owner"]:
        body["owner"] = state["owner"]
    shared = [entry for entry in re.split(r"[,\s]+", state["shared_with"]) if entry]
    if shared:
        body["shared_with"] = shared
        for n in range(len(shared)):
            controls[f"/shared_with/{n}"] = "shared_with"
    return built


def _condition(state: dict, fields: dict[str, FieldDef], controls: dict) -> dict:
    """The filter rows as a list API condition: ``{"stage__in": ["won", "lost"], "amount__gte": 1000}`` (rows naming
    the same field and operator twice: all of them, under ``all``), with the filters the form does not show."""
    parts = []
    for i, row in enumerate(state["filters"]):
        if not row["field"]:
            continue
        op = row["op"] if row["op"] in OPERATORS else "eq"
        key = row["field"] if op == "eq" else f"{row['field']}__isnull" if op == "notnull" else f"{row['field']}__{op}"
        fdef = fields.get(row["field"])
        if op in ("isnull", "notnull"):
            value: Any = op == "isnull"
        elif op == "in":
            value = [rf.typed(fdef, part) for part in row["value"].split(",") if part.strip()]
        else:
            value = rf.typed(fdef, row["value"])
        parts.append((i, key, value))
    kept = dict(state["kept"].get("filters") or {})
    keys = [key for _i, key, _v in parts]
    if len(set(keys)) < len(keys) or any(key in kept for key in keys):
        before = list(kept.pop("all", []))
        for n, (i, _key, _value) in enumerate(parts):
            controls[f"/filters/all/{len(before) + n}"] = f"f{i}_value"
        return {**kept, "all": before + [{key: value} for _i, key, value in parts]}
    for i, key, _v in parts:
        controls[f"/filters/{key}"] = f"f{i}_value"
    return {**kept, **{key: value for _i, key, value in parts}}


# --- what the form offers ----------------------------------------------------------------------------------------------


def _usable(page: Page, object_name: str) -> list[tuple[FieldDef, str]]:
    """The fields of an object a report can group, sum or list, which the user may see, with their labels."""
    meta = page.meta()
    found = []
    for name, fdef in meta.fields_with_system(object_name).items():
        if (fdef.removed or fdef.type.multiple or fdef.type.family == "other" or not (fdef.has_column or fdef.formula)
                or name == "deleted_at" or not page.access.visible(object_name, name)):
            continue
        shown = (system_field(page.runtime.registry, object_name, name) if fdef.source == "system" else None) or fdef
        found.append((fdef, shown.label(page.lang)))
    return sorted(found, key=lambda pair: pair[1].lower())


def field_options(page: Page, object_name: str) -> list[dict]:
    """The paths a report of this object may name: its fields, then one lookup away (``account.industry``, "Account ›
    Industry"), each with its group (the lookup followed, "" for the object's own)."""
    meta = page.meta()
    if object_name not in meta.objects:
        return []
    own = _usable(page, object_name)
    found = [{"path": f.name, "label": shown, "family": f.type.family, "group": "", "fdef": f} for f, shown in own]
    for fdef, shown in own:
        target = fdef.spec.get("target")
        if fdef.type.name != "lookup" or fdef.formula or target not in meta.objects or not page.access.can(target, "read"):
            continue
        found += [{"path": f"{fdef.name}.{f.name}", "label": f"{shown} › {sub}", "family": f.type.family, "group": shown, "fdef": f}
                  for f, sub in _usable(page, target)]
    return found


def _fits(aggregate: str, family: str) -> bool:
    if aggregate in ("sum", "avg"):
        return family == "number"
    if aggregate in ("min", "max"):
        return family in ("number", "date")
    return True


def words(page: Page) -> dict:
    t = page.t
    return {
        "kinds": {"summary": t("Summary"), "matrix": t("Matrix"), "tabular": t("Tabular")},
        "aggregates": {"count": t("Count of records"), "sum": t("Sum"), "avg": t("Average"), "min": t("Minimum"),
                       "max": t("Maximum"), "count_distinct": t("Count of distinct values")},
        "buckets": {"day": t("Day"), "week": t("Week"), "month": t("Month"), "quarter": t("Quarter"), "year": t("Year")},
        "charts": {"bar": t("Bar chart"), "stacked_bar": t("Stacked bar chart"), "line": t("Line chart"), "pie": t("Pie chart"),
                   "donut": t("Donut chart"), "funnel": t("Funnel chart"), "kpi": t("Key figure"), "table": t("Table only")},
        "ops": {"eq": t("is"), "ne": t("is not"), "gt": t("is greater than"), "gte": t("is at least"), "lt": t("is less than"),
                "lte": t("is at most"), "in": t("is one of"), "contains": t("contains"), "startswith": t("starts with"),
                "isnull": t("is empty"), "notnull": t("is not empty")},
        "ranges": {"today": t("Today"), "yesterday": t("Yesterday"), "this_week": t("This week"), "last_week": t("Last week"),
                   "this_month": t("This month"), "last_month": t("Last month"), "next_month": t("Next month"),
                   "this_quarter": t("This quarter"), "last_quarter": t("Last quarter"), "next_quarter": t("Next quarter"),
                   "this_year": t("This year"), "last_year": t("Last year"), "next_year": t("Next year"),
                   "last_30_days": t("Last 30 days"), "last_90_days": t("Last 90 days"), "next_30_days": t("Next 30 days"),
                   "next_90_days": t("Next 90 days"), "all_time": t("All time")},
    }


def _keys(page: Page, state: dict, by_path: dict, w: dict) -> list[tuple[str, str]]:
    """What rows may be sorted by (a grouping or a figure; a tabular report's column) and charted, with their names."""
    shown = lambda path: by_path[path]["label"] if path in by_path else path  # noqa: E731
    if state["kind"] == "tabular":
        return [(c, shown(c)) for c in state["columns"] if c]
    found = [(g["field"], shown(g["field"])) for g in state["groups"] if g["field"]]
    for m in state["measures"] or [{"aggregate": "count", "field": ""}]:
        if m["aggregate"] == "count" or not m["field"]:
            found.append(("count", w["aggregates"]["count"]))
        else:
            found.append((f"{m['aggregate']}_{m['field']}", page.t("{aggregate} of {field}", aggregate=w["aggregates"].get(m["aggregate"], m["aggregate"]),
                                                                      field=shown(m["field"]))))
    return list(dict.fromkeys(found))


# --- the pages ---------------------------------------------------------------------------------------------------------


def _list(page: Page, errors: list[str] | None = None, status: int = 200) -> Response:
    meta, w = page.meta(), words(page)
    rows = []
    for doc in service(page).named_documents(KIND):
        obj = meta.objects.get(doc.get("object", ""))
        rows.append({"name": doc["name"], "label": label(doc.get("label"), page.lang, doc["name"]),
                     "object": plural(obj, page.lang) if obj else doc.get("object", ""), "kind": w["kinds"].get(doc.get("kind", "summary"), ""),
                     "defined_by": layer_title(page, doc["defined_by"]), "custom": doc["custom"],
                     "replaces": doc["custom"] and _defined_elsewhere(page, doc["name"])})
    rows.sort(key=lambda r: (r["object"].lower(), r["label"].lower()))
    return page.render("setup/reports.html", status=status, title=page.t("Reports"), rows=rows, errors=errors or [],
                       done=page.request.query_params.get("done", ""))


def _defined_elsewhere(page: Page, name: str) -> bool:
    return any(d.kind == KIND and d.body.get("name") == name for d in page.runtime.defined_documents())


def _attempt(page: Page, change) -> list[tuple[str, str]]:
    """Run a change; the problems that refused it, each with its JSON pointer ("" when it has none)."""
    try:
        change()
    except MetadataError as exc:
        return [(p.pointer or "", p.in_(page.lang)) for p in exc.problems]
    except REFUSALS as exc:
        return [("", say(exc, page.lang))]
    return []


def _submit(page: Page, name: str | None, state: dict, do: str) -> Response:
    """Preview or save: the report checked by the metadata service (a preview with ``dry_run``), then run or stored."""
    meta = page.meta()
    built = to_body(state, meta.fields_with_system(state["object"]) if state["object"] in meta.objects else {})
    new_name = name or state["name"]
    problems: list[tuple[str, str]] = []
    if do == "save" and not new_name:
        problems.append(("/name", page.t("Give the report a name for the API.")))
    elif do == "save" and name is None and new_name in meta.reports:
        problems.append(("/name", page.t("There is already a report called {name}.", name=new_name)))
    checked_as = new_name if re.fullmatch(r"[a-z][a-z0-9_]{0,47}", new_name) or do == "save" else PREVIEW_NAME
    if not problems:
        problems = _attempt(page, lambda: service(page).put_named(KIND, checked_as, built.body, who(page), source=f"Setup: report {checked_as}",
                                                                  dry_run=do == "preview"))
    if problems:
        return _editor(page, name, state, problems=problems, built=built, status=422)
    if do == "save":
        return Redirect(f"/reports/{new_name}", status_code=303, headers=VARY)
    return _editor(page, name, state, built=built, preview=_preview(page, built.body, checked_as))


def _preview(page: Page, body: dict, name: str) -> dict:
    """The report's first figures, run as the user against the data: the table (and chart) of the report page."""
    title = label(body.get("label"), page.lang, name)
    view: dict[str, Any] = {"title": title, "name": name, "problem": None, "table": None, "chart": None}
    try:
        definition = read(page.meta(), {**body, "name": name})
        result = Runner(page.runtime).run_definition(page.actor, definition)
    except (ReportError, QueryError) as exc:
        problems = getattr(exc, "problems", None)
        view["problem"] = " ".join(say(said, page.lang) for _at, said in problems) if problems else say(exc, page.lang)
        return view
    table = layout(page, definition, result, name, [])
    for row in [*table["rows"], table.get("foot") or {}]:  # the records behind a figure are found by a saved report's name
        for cell in [*row.get("headers", []), *row.get("cells", [])]:
            cell.pop("href", None)
    view.update(table=table, chart=chart(page, definition, result, table))
    return view


def _editor(page: Page, name: str | None, state: dict, problems: list[tuple[str, str]] | None = None, built: Built | None = None,
            preview: dict | None = None, status: int = 200) -> Response:
    meta = page.meta()
    w = words(page)
    obj = meta.objects.get(state["object"])
    fields = field_options(page, state["object"]) if obj else []
    by_path = {f["path"]: f for f in fields}
    own = [f for f in fields if not f["group"]]
    built = built or to_body(state, meta.fields_with_system(obj.name) if obj else {})
    captions = _captions(page, state)
    by_control: dict[str, list[str]] = {}
    summary = []
    for pointer, message in problems or []:
        control = built.control(pointer) if pointer else None
        if control and control.endswith("_bucket") and by_path.get(state["groups"][int(control[1])]["field"], {}).get("family") != "date":
            control = control.replace("_bucket", "_field")  # no bucket offered: the grouping's field is not a date
        if control:
            by_control.setdefault(control, []).append(message)
        summary.append({"control": control, "text": f"{captions[control]}: {message}" if control in captions else message})
    for g in state["groups"]:
        g["date"] = by_path.get(g["field"], {}).get("family") == "date"
    for m in state["measures"]:
        m["options"] = [f for f in fields if _fits(m["aggregate"], f["family"])] if m["aggregate"] != "count" else []
    filter_fields = {f["path"]: f for f in own}
    for row in state["filters"]:
        fdef = filter_fields.get(row["field"], {}).get("fdef")
        row["ops"] = rf.operators_for(fdef.type) if fdef is not None else OPERATORS
        row["choices"] = choices(fdef, page.lang) if fdef is not None and "values" in fdef.type.options else []
        row["input"] = "date" if fdef is not None and fdef.type.family == "date" else "text"
    keys = _keys(page, state, by_path, w)
    layer = meta.named[KIND].layers.get(name) if name else None
    title = page.t("Report {name}", name=label(meta.reports[name].get("label"), page.lang, name)) if name else page.t("New report")
    return page.render(
        "setup/report_builder.html", status=status, title=title, name=name, s=state, w=w, obj=obj,
        objects=sorted(((o.name, plural(o, page.lang)) for o in meta.objects.values() if page.access.can(o.name, "read")),
                       key=lambda pair: pair[1].lower()),
        fields=fields, by_path=by_path, own=own, dates=[f for f in fields if f["family"] == "date"], keys=keys,
        kinds=KINDS, aggregates=AGGREGATES, buckets=BUCKETS, charts=CHARTS, ranges=list(RANGES) + (
            [state["period_range"]] if state["period_range"] and state["period_range"] not in RANGES else []),
        by_control=by_control, report_errors=summary, preview=preview, kept=json.dumps(state["kept"], ensure_ascii=False),
        custom=layer == "customization", defined_by=layer_title(page, layer) if layer and layer != "customization" else "",
        kept_filters=bool(state["kept"].get("filters")), kept_prompts=bool(state["kept"].get("prompts")))


def _captions(page: Page, state: dict) -> dict[str, str]:
    """Each control's name, for the problems listed above the form."""
    t = page.t
    found = {"name": t("Name in the API"), "label_en": t("Label in English"), "label_zh": t("Label in Chinese"),
             "description_en": t("Description in English"), "description_zh": t("Description in Chinese"), "object": t("Object"),
             "kind": t("Report type"), "period_field": t("Period: date field"), "period_range": t("Period: range"),
             "sort_by": t("Sort by"), "limit": t("Show at most"), "chart_type": t("Chart"), "chart_measure": t("Figure charted"),
             "owner": t("Owner (login)"), "shared_with": t("Shared with"), "measures": t("Measures"), "columns": t("Columns"),
             "filters": t("Filters")}
    for i in range(GROUPS):
        found[f"g{i}_field"] = found[f"g{i}_bucket"] = t("Grouping {n}", n=i + 1)
    for i in range(len(state["measures"])):
        found[f"m{i}_aggregate"] = found[f"m{i}_field"] = t("Measure {n}", n=i + 1)
    for i in range(len(state["columns"])):
        found[f"c{i}"] = t("Column {n}", n=i + 1)
    for i in range(len(state["filters"])):
        found[f"f{i}_value"] = found[f"f{i}_field"] = t("Filter {n}", n=i + 1)
    return found
