"""Reports in the web UI: the reports a user may run (``/reports``), one report's chart and figures
(``/reports/{name}``) and the records behind a figure (``/reports/{name}/records``).

The report engine (core/reports/running.py) computes everything as the signed-in user; the pages only
lay its result out: a summary's groups with subtotals and totals, a matrix pivoted into rows and columns,
a tabular report's records, each figure linking to the records it counts.
"""

from __future__ import annotations

from typing import Any, Callable
from urllib.parse import urlencode

from litestar import Controller, Request, Response, get
from litestar.di import Provide
from litestar.params import FromPath
from markupsafe import Markup

from core.query import QueryError
from core.reports.definition import Definition, ReportError
from core.reports.exporting import shown
from core.reports.running import Result, Runner
from core.words import labelled, listed, say
from ui.context import PAGE, Answer, Page, answer, plural, provide_page, signed_in, singular
from ui.fields import cell as cell_html, formatter, money
from ui.i18n import label

DB = {"sync_to_thread": True}
PERIODS = ("this_month", "last_month", "this_quarter", "last_quarter", "this_year", "last_year", "last_30_days", "last_90_days",
           "all_time")
PAGE_SIZE = 50  # records per page of a drill-down
PALETTE = ("#1b96ff", "#f59e0b", "#2e844a", "#ba0517", "#9050e9", "#0d9dda", "#e3066a", "#3ba755", "#8e8e8e", "#032d60")
SKIPPED = ("format", "offset")  # query parameters that are not the report's


class ReportPages(Controller):
    path = "/reports"
    include_in_schema = False
    guards = [signed_in]
    dependencies = {"page": Provide(provide_page, sync_to_thread=False)}
    exception_handlers = {Answer: answer}

    @get("/", **DB)
    def index(self, page: PAGE) -> Response:
        return page.render("reports/index.html", title=page.t("Reports"), groups=available(page))

    @get("/{name:str}", **DB)
    def report(self, page: PAGE, request: Request, name: FromPath[str]) -> Response:
        view = report_view(page, name, list(request.query_params.multi_items()))
        if view is None:
            return not_found(page)
        template = "reports/_result.html" if page.htmx else "reports/report.html"
        return page.render(template, **view)

    @get("/{name:str}/records", **DB)
    def records(self, page: PAGE, request: Request, name: FromPath[str]) -> Response:
        view = drill_view(page, name, list(request.query_params.multi_items()))
        if view is None:
            return not_found(page)
        return page.render("reports/records.html", **view)


def not_found(page: Page) -> Response:
    return page.render("error.html", status=404, title=page.t("Not found"), message=page.t("There is no page at this address."))


def available(page: Page) -> list[dict]:
    """The reports the user may run, by object (in the side bar's order of names), each in the page's language."""
    meta, by_object = page.meta(), {}
    for report in Runner(page.runtime).available(page.actor):
        obj = meta.objects.get(report["object"])
        by_object.setdefault(report["object"], {"label": plural(obj, page.lang) if obj else report["object"], "reports": []})
        by_object[report["object"]]["reports"].append({**report, "title": label(report["label"], page.lang, report["name"]),
                                                        "text": label(report["description"], page.lang)})
    return sorted(by_object.values(), key=lambda group: group["label"])


def problem_text(page: Page, exc: Exception) -> str:
    """A refused report or filter in the page's language, each problem with its place."""
    if isinstance(exc, ReportError):
        return listed((labelled(f"{exc.report}{at}", say(said, page.lang), page.lang) for at, said in exc.problems), page.lang)
    return exc.sentence(page.lang)


# --- the report page ----------------------------------------------------------------------------


def run_params(definition: Definition, query: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], list[dict]]:
    """The run's parameters (list filters and ``period``) from the query string, and the prompts as the form shows them:
    a prompt left out of the query runs with its default; one sent empty is not applied."""
    given = [(k, v) for k, v in query if k not in SKIPPED]
    sent = {k for k, _v in given}
    prompts = []
    for prompt in definition.prompts:
        key = prompt["filter"]
        if key in sent:
            value = next(v for k, v in given if k == key)
        else:
            value = "" if prompt.get("default") is None else _text(prompt["default"])
            if value:
                given.append((key, value))
        prompts.append({"filter": key, "value": value, "label": prompt.get("label")})
    return [(k, v) for k, v in given if v != ""], prompts


def _text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def report_view(page: Page, name: str, query: list[tuple[str, str]]) -> dict | None:
    runner = Runner(page.runtime)
    try:
        definition = runner.definition(page.actor, name)
    except LookupError:
        return None
    params, prompts = run_params(definition, query)
    result, problem, status = None, None, 200
    try:
        result = runner.run(page.actor, name, params)
    except (ReportError, QueryError) as exc:
        problem, status = problem_text(page, exc), getattr(exc, "status", 400)
    meta = page.meta()
    fields = meta.fields_with_system(definition.object)
    period = dict(params).get("period") or (definition.period["range"] if definition.period else None)
    shown_params = [(k, v) for k, v in params]
    view = {"name": name, "definition": definition, "status": status, "problem": problem, "object": meta.objects.get(definition.object),
            "title": label(definition.body.get("label"), page.lang, name),
            "description": label(definition.body.get("description"), page.lang),
            "prompts": [{**p, "title": label(p["label"], page.lang) or (fields[p["filter"].split("__")[0]].label(page.lang)
                                                                         if p["filter"].split("__")[0] in fields else p["filter"])}
                        for p in prompts],
            "period": period if definition.period else None,
            "periods": list(PERIODS) + ([period] if period and period not in PERIODS else []),
            "query": urlencode(shown_params), "chart": None, "table": None}
    if result is not None:
        view["table"] = layout(page, definition, result, name, shown_params)
        view["chart"] = chart(page, definition, result, view["table"])
    return view


class Figures:
    """How the report's figures read: each measure's values formatted, each group's values named."""

    def __init__(self, page: Page, definition: Definition, result: Result) -> None:
        self.page, self.definition, self.result = page, definition, result
        self.columns = {c["key"]: c for c in result.columns}
        self.measures = [c for c in result.columns if c["role"] == "measure"]
        self.formats = {m.key: self._format(m) for m in definition.measures}

    def _format(self, measure) -> Callable[[Any], str]:
        if measure.aggregate in ("count", "count_distinct"):
            return lambda v: f"{v:,}"
        fdef = measure.path.last
        if self.columns[measure.key].get("currency"):
            return money(fdef.spec.get("currency") or self.page.currency, self.page.lang, fdef.spec.get("scale", fdef.type.scale or 2))
        if fdef.type.family == "date":
            return formatter(fdef, self.page.lang, None, self.page.zone)
        unit = fdef.type.unit or ""
        return lambda v: (f"{v:,}" if isinstance(v, int) else f"{v:,.2f}") + unit

    def figure(self, key: str, value: Any) -> str:
        return "" if value is None else self.formats[key](value)

    def group(self, entry: dict, key: str) -> str:
        """A group's value as people read it: a lookup's title, a picklist's label, a date's bucket, '(Blank)'."""
        value = entry.get(key)
        if value is None:
            return self.page.t("(Blank)")
        column = self.columns[key]
        if column["type"] == "boolean":
            return self.page.t("Yes") if value else self.page.t("No")
        text = shown(entry, column, self.page.lang)
        if isinstance(text, int) and not isinstance(text, bool) and column["type"] != "lookup":
            return f"{text:,}"
        return str(text)


def _value(value: Any) -> str:
    return "" if value is None else _text(value)


def drill_link(name: str, cell: dict, params: list[tuple[str, str]]) -> str:
    return f"/reports/{name}/records?" + urlencode([*((k, _value(v)) for k, v in cell.items()), *params])


def layout(page: Page, definition: Definition, result: Result, name: str, params: list[tuple[str, str]]) -> dict:
    """The results table: its header rows and body rows, each cell with its text and the link to its records."""
    figures = Figures(page, definition, result)
    groups = [g.key for g in definition.groups]
    measures = [m.key for m in definition.measures]
    heading = lambda key: label(figures.columns[key]["label"], page.lang, key)  # noqa: E731

    def figure_cells(entry: dict, cell: dict) -> list[dict]:
        link = drill_link(name, cell, params)
        return [{"text": figures.figure(key, entry.get(key)), "href": link, "figure": True} for key in measures]

    if definition.kind == "tabular":
        obj = page.meta().objects[definition.object]
        shows = {p.text: formatter(p.last, page.lang, page.currency, page.zone) for p in definition.columns}
        rows = []
        for row in result.rows:
            cells = []
            for path in definition.columns:
                column = figures.columns[path.text]
                value = shown(row, column, page.lang) if f"{path.text}__label" in row else row.get(path.text)
                text = str(value) if f"{path.text}__label" in row else shows[path.text](value)
                cells.append({"text": text})
            rows.append({"cells": cells, "href": f"/r/{obj.name}/{row['id']}", "record": f"#{row['id']}"})
        return {"kind": "tabular", "head": [[{"text": heading(p.text)} for p in definition.columns]], "rows": rows,
                "count": len(result.rows), "truncated": result.truncated}

    total_label = page.t("Total")
    if definition.kind == "summary":
        head = [[{"text": heading(k)} for k in groups] + [{"text": heading(k), "figure": True} for k in measures]]
        conversion = next((f"{k}__conversion" for k in measures if any(f"{k}__conversion" in row for row in result.rows)), None)
        if conversion:  # a funnel: each step's share of the step before
            head[0].append({"text": page.t("Conversion from the step before"), "figure": True})
            plain = figure_cells

            def figure_cells(entry: dict, cell: dict) -> list[dict]:  # noqa: F811 - the funnel's cells have one more
                rate = entry.get(conversion)
                return [*plain(entry, cell), {"text": "" if not cell else "—" if rate is None else f"{rate:g}%"}]
        rows = []
        first = groups[0]
        blocks: dict = {}
        for row in result.rows:
            blocks.setdefault(row.get(first), []).append(row)
        subtotals = {entry.get(first): entry for entry in result.subtotals.get(first, [])}
        for value, members in blocks.items():
            for i, row in enumerate(members):
                cell = {k: row.get(k) for k in groups}
                headers = [{"text": figures.group(row, k), "href": drill_link(name, {k2: row.get(k2) for k2 in groups[:j + 1]}, params)}
                           for j, k in enumerate(groups)]
                if len(groups) > 1 and i > 0:
                    headers[0] = {"text": "", "repeat": figures.group(row, first)}
                rows.append({"headers": headers, "cells": figure_cells(row, cell)})
            if len(groups) > 1 and value in subtotals:
                entry = subtotals[value]
                rows.append({"subtotal": True, "headers": [{"text": page.t("Subtotal: {group}", group=figures.group(entry, first)),
                                                            "span": len(groups)}],
                             "cells": figure_cells(entry, {first: value})})
        foot = {"headers": [{"text": total_label, "span": len(groups)}], "cells": figure_cells(result.totals, {})}
        return {"kind": "summary", "head": head, "rows": rows, "foot": foot, "truncated": result.truncated}

    # matrix: the last grouping's values across, the others down
    across, down = groups[-1], groups[:-1]
    column_entries = result.subtotals.get(across, [])
    row_entries = result.subtotals.get(down[-1], [])
    values = [entry.get(across) for entry in column_entries]
    by_cell = {(tuple(row.get(k) for k in down), row.get(across)): row for row in result.rows}
    many = len(measures) > 1

    def cells_of(entry: dict | None, cell: dict) -> list[dict]:
        if entry is None:
            return [{"text": "", "figure": True, "empty": True} for _ in measures]
        return figure_cells(entry, cell)

    head_top = [{"text": heading(k), "rowspan": 2 if many else 1} for k in down]
    head_top += [{"text": figures.group(entry, across), "span": len(measures), "figure": True, "scope": "colgroup" if many else "col"}
                 for entry in column_entries]
    head_top.append({"text": total_label, "span": len(measures), "figure": True, "scope": "colgroup" if many else "col"})
    head = [head_top]
    if many:
        head.append([{"text": heading(k), "figure": True} for _ in range(len(column_entries) + 1) for k in measures])
    rows = []
    for entry in row_entries:
        key = tuple(entry.get(k) for k in down)
        down_cell = dict(zip(down, key))
        headers = [{"text": figures.group(entry, k), "href": drill_link(name, {k2: entry.get(k2) for k2 in down[:j + 1]}, params)}
                   for j, k in enumerate(down)]
        cells = [c for value in values for c in cells_of(by_cell.get((key, value)), {**down_cell, across: value})]
        cells += [{**c, "total": True} for c in cells_of(entry, down_cell)]
        rows.append({"headers": headers, "cells": cells})
    foot_cells = [c for entry in column_entries for c in cells_of(entry, {across: entry.get(across)})]
    foot_cells += [{**c, "total": True} for c in cells_of(result.totals, {})]
    foot = {"headers": [{"text": total_label, "span": len(down)}], "cells": foot_cells}
    return {"kind": "matrix", "head": head, "rows": rows, "foot": foot, "truncated": result.truncated,
            "across": heading(across)}


def chart(page: Page, definition: Definition, result: Result, table: dict | None = None, kind: str | None = None) -> dict | None:
    """What the chart draws: its kind (the report's, unless ``kind`` says otherwise, as a dashboard's tile may), the labels
    along it and one series per dataset (a stacked bar: one per value of the last grouping), in the numbers of the chart's
    measure; None for a table or a tabular report."""
    kind = kind or (definition.body.get("chart") or {}).get("type")
    if definition.kind == "tabular" or kind in (None, "table"):
        return None
    figures = Figures(page, definition, result)
    keys = [m.key for m in definition.measures]
    measure = (definition.body.get("chart") or {}).get("measure")
    measure = measure if measure in keys else keys[0]
    title = label(figures.columns[measure]["label"], page.lang, measure)
    if kind == "kpi":
        return {"type": "kpi", "title": title, "value": figures.figure(measure, result.totals.get(measure))}
    groups = [g.key for g in definition.groups]
    first = groups[0]
    outer = result.subtotals.get(first) if len(groups) > 1 and result.subtotals.get(first) else result.rows
    if definition.kind == "matrix":
        outer = result.subtotals.get(groups[-2], [])
    down = groups[:-1] if definition.kind == "matrix" else [first]
    row_key = lambda entry: tuple(entry.get(k) for k in down)  # noqa: E731
    labels = [" · ".join(figures.group(entry, k) for k in down) for entry in outer]
    number = lambda v: 0 if v is None else v  # noqa: E731
    if kind == "stacked_bar" and len(groups) > 1:
        across = groups[-1]
        values = [entry.get(across) for entry in (result.subtotals.get(across) or _distinct(result.rows, across))]
        by_cell = {(row_key(row), row.get(across)): row for row in result.rows}
        series = [{"label": figures.group({across: value, **_labels_of(result.rows, across, value)}, across),
                   "values": [number((by_cell.get((row_key(entry), value)) or {}).get(measure)) for entry in outer],
                   "shown": [figures.figure(measure, (by_cell.get((row_key(entry), value)) or {}).get(measure)) for entry in outer],
                   "color": PALETTE[i % len(PALETTE)]} for i, value in enumerate(values)]
    else:
        series = [{"label": title, "values": [number(entry.get(measure)) for entry in outer],
                   "shown": [figures.figure(measure, entry.get(measure)) for entry in outer], "color": PALETTE[0]}]
    config = {"type": kind, "labels": labels, "series": [{"label": s["label"], "values": s["values"], "color": s["color"]} for s in series],
              "colors": [PALETTE[i % len(PALETTE)] for i in range(len(labels))]}
    return {"type": kind, "title": title, "labels": labels, "series": series, "config": config,
            "group": label(figures.columns[first]["label"], page.lang, first)}


def _distinct(rows: list[dict], key: str) -> list[dict]:
    seen, found = set(), []
    for row in rows:
        if row.get(key) not in seen:
            seen.add(row.get(key))
            found.append(row)
    return found


def _labels_of(rows: list[dict], key: str, value: Any) -> dict:
    """The label entries (``KEY__label``...) a row gives for one value of a grouping."""
    for row in rows:
        if row.get(key) == value:
            return {k: v for k, v in row.items() if k.startswith(f"{key}__")}
    return {}


# --- the records behind a figure -----------------------------------------------------------------


def drill_view(page: Page, name: str, query: list[tuple[str, str]]) -> dict | None:
    runner = Runner(page.runtime)
    try:
        definition = runner.definition(page.actor, name)
    except LookupError:
        return None
    keys = {g.key for g in definition.groups}
    cell = {k: (v if v != "" else None) for k, v in query if k in keys}
    rest = [(k, v) for k, v in query if k not in keys and k not in SKIPPED and v != ""]
    try:
        offset = max(int(dict(query).get("offset") or 0), 0)
    except ValueError:
        offset = 0
    meta = page.meta()
    obj = meta.objects[definition.object]
    view = {"name": name, "definition": definition, "status": 200, "problem": None, "object": obj,
            "report_title": label(definition.body.get("label"), page.lang, name),
            "report_href": f"/reports/{name}?" + urlencode(rest), "offset": offset, "items": [], "count": 0}
    view["title"] = page.t("Records of {report}", report=view["report_title"])
    try:
        found = runner.drill(page.actor, name, rest, cell=cell, limit=PAGE_SIZE, offset=offset)
    except (ReportError, QueryError) as exc:
        view.update(problem=problem_text(page, exc), status=getattr(exc, "status", 400))
        return view
    fields = meta.fields_with_system(definition.object)
    names = [obj.title_field] + [path.text for _at, path in definition.paths if len(path.fields) == 1]
    shown_fields = [fields[n] for n in dict.fromkeys(names) if n in fields and page.access.visible(obj.name, n)]
    writers = [cell_html(f, page.lang, page.currency, page.zone) for f in shown_fields]
    view["columns"] = [f.label(page.lang) for f in shown_fields]
    view["rows"] = [{"href": f"/r/{obj.name}/{item['id']}", "id": item["id"],
                     "cells": [Markup(w(item.get(f.name))) if f.name != obj.title_field else (item.get(f.name) or f"#{item['id']}")
                               for f, w in zip(shown_fields, writers)]} for item in found["items"]]
    view["count"] = found["count"]
    view["objects"] = (singular(obj, page.lang) if found["count"] == 1 else plural(obj, page.lang))
    groups = {g.key: g for g in definition.groups}
    view["cell"] = [{"label": " · ".join(f.label(page.lang) for f in groups[k].path.fields),
                     "value": _cell_text(page, groups[k], v, found["items"])} for k, v in cell.items()]
    base = [(k, _value(v)) for k, v in cell.items()] + rest
    view["previous"] = urlencode(base + [("offset", str(max(offset - PAGE_SIZE, 0)))]) if offset > 0 else None
    view["next"] = urlencode(base + [("offset", str(offset + PAGE_SIZE))]) if offset + PAGE_SIZE < found["count"] else None
    return view


def _cell_text(page: Page, group, value: str | None, items: list[dict]) -> str:
    """The cell's value of one grouping as people read it: a lookup by its record's title, a picklist by its label."""
    if value is None:
        return page.t("(Blank)")
    fdef = group.path.last
    if len(group.path.fields) == 1 and not group.bucket:
        if fdef.type.name == "lookup":
            for item in items:
                found = item.get(fdef.name)
                if isinstance(found, dict) and str(found.get("id")) == value:
                    return str(found.get("label") or value)
            return f"#{value}"
        if "values" in fdef.spec:
            return formatter(fdef, page.lang)(value)
    return value
