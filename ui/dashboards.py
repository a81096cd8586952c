"""Dashboards in the web UI: the dashboards a user may see (``/dashboards``) and one dashboard's tiles
(``/dashboards/{name}``), filtered as a whole by a period, an owner and a team kept in the address.

The engine (core/reports/dashboards.py) composes every tile as the signed-in user, through the reports' cache;
the page lays each tile out as the report page draws the report (ui/reports.py: the same chart, big number and
results table), a widget tile as the home page draws the widget, a hidden tile with the reason it is hidden.
"""

from __future__ import annotations

from urllib.parse import urlencode

from litestar import Controller, Request, Response, get
from litestar.di import Provide
from litestar.params import FromPath

from core.query import QueryError
from core.records import Forbidden
from core.reports.dashboards import Dashboards, Filters
from core.reports.definition import ReportError
from core.reports.running import Result, Runner
from core.words import say
from ui.context import PAGE, Answer, Page, answer, provide_page, signed_in
from ui.i18n import label
from ui.reports import PERIODS, chart, layout, not_found, problem_text
from ui.widgets import widget_content

DB = {"sync_to_thread": True}
PEOPLE = 200  # users and teams offered in the filter bar's choices
FILTERS = ("period", "owner", "team")


class DashboardPages(Controller):
    path = "/dashboards"
    include_in_schema = False
    guards = [signed_in]
    dependencies = {"page": Provide(provide_page, sync_to_thread=False)}
    exception_handlers = {Answer: answer}

    @get("/", **DB)
    def index(self, page: PAGE) -> Response:
        dashboards = Dashboards(page.runtime)
        default = dashboards.default_for(page.actor)
        shown = [{**d, "title": label(d["label"], page.lang, d["name"]), "text": label(d["description"], page.lang),
                  "default": d["name"] == default} for d in dashboards.available(page.actor)]
        return page.render("dashboards/index.html", title=page.t("Dashboards"), dashboards=shown)

    @get("/{name:str}", **DB)
    def dashboard(self, page: PAGE, request: Request, name: FromPath[str]) -> Response:
        view = dashboard_view(page, name, {k: v for k, v in request.query_params.items() if k in FILTERS})
        if view is None:
            return not_found(page)
        template = "dashboards/_board.html" if page.htmx else "dashboards/dashboard.html"
        return page.render(template, **view)


def dashboard_view(page: Page, name: str, query: dict[str, str]) -> dict | None:
    """The dashboard with the filters of the query: its filter bar, its tiles, or the alert naming a filter that
    cannot be read (status 400). None when there is no such dashboard the user may see."""
    dashboards = Dashboards(page.runtime)
    try:
        body = dashboards.body(page.actor, name)
    except LookupError:
        return None
    offered = body.get("filters") or {}
    view = {"name": name, "title": label(body.get("label"), page.lang, name), "description": label(body.get("description"), page.lang),
            "status": 200, "problem": None, "tiles": [], "chosen": {k: query.get(k, "") for k in FILTERS}}
    try:  # the dashboard's own period applies until another is chosen, as its filter bar shows
        filters = Filters.parse({**query, "period": query.get("period") or offered.get("period") or ""})
        composed = dashboards.compose(page.actor, name, filters, page.lang)
    except (ReportError, QueryError) as exc:
        view.update(problem=problem_text(page, exc), status=getattr(exc, "status", 400))
        filters, composed = None, None
    period = (composed or {}).get("period") or query.get("period") or offered.get("period")
    view["bar"] = filter_bar(page, offered, period, filters)
    view["query"] = urlencode([(k, v) for k, v in query.items() if v])
    if composed is not None:
        view["tiles"] = tiles_view(page, composed)
    return view


def filter_bar(page: Page, offered: dict, period: str | None, filters: Filters | None) -> dict:
    """The choices of the dashboard's filter bar: the periods, the active users (by id) and the teams (by name) the
    user may read, the chosen ones first selected."""
    bar: dict = {"period": None, "owners": None, "teams": None}
    if offered.get("period"):
        bar["period"] = {"value": period, "values": list(PERIODS) + ([period] if period and period not in PERIODS else [])}
    owner = filters.owner if filters else None
    if offered.get("owner"):
        people = _listed(page, "user", {"active": "true", "sort": "full_name,username", "limit": str(PEOPLE)})
        owners = [{"value": str(u["id"]), "text": u.get("full_name") or u.get("username") or f"#{u['id']}"} for u in people]
        if page.user.user_id is not None and all(o["value"] != str(page.user.user_id) for o in owners):
            owners.insert(0, {"value": str(page.user.user_id), "text": page.user.full_name or page.user.username})
        if owner is not None and all(o["value"] != str(owner) for o in owners):
            owners.append({"value": str(owner), "text": f"#{owner}"})
        bar["owners"] = {"value": "" if owner is None else str(owner), "values": owners}
    if offered.get("team"):
        team = filters.team if filters else None
        teams = [found["name"] for found in _listed(page, "team", {"sort": "name", "limit": str(PEOPLE)}) if found.get("name")]
        if team and team not in teams:
            teams.append(team)
        bar["teams"] = {"value": team or "", "values": teams}
    return bar


def _listed(page: Page, object_name: str, params: dict) -> list[dict]:
    if not page.access.can(object_name, "read"):
        return []
    try:
        return page.runtime.records.list(page.actor, object_name, params).items
    except (QueryError, Forbidden):
        return []


def tiles_view(page: Page, composed: dict) -> list[dict]:
    """Each composed tile as the page draws it: its title in the page's language, its chart or big number (or its
    results table, for a tile drawn as a table), the link to its report with the dashboard's filters; a widget's
    content; a hidden tile's reason."""
    runner = Runner(page.runtime)
    drawn = []
    for n, tile in enumerate(composed["tiles"], start=1):
        shown = {"n": n, "width": max(1, min(int(tile.get("width") or 6), 12)), "hidden": tile.get("hidden")}
        own_title = tile.get("title")
        own_title = label(own_title, page.lang) if isinstance(own_title, dict) else own_title
        if "widget" in tile:
            shown["title"] = own_title or label(tile.get("label"), page.lang, tile["widget"])
            if not shown["hidden"]:
                shown["widget"] = widget_content(page, tile.get("content") or {})
                shown["key"] = f"tile-{n}-" + tile["widget"].replace(".", "-")
            drawn.append(shown)
            continue
        name = tile["report"]
        shown["report"] = name
        shown["title"] = own_title or label(tile.get("label"), page.lang, name)
        if not shown["hidden"]:
            try:
                definition = runner.definition(page.actor, name)
            except LookupError as exc:
                shown["hidden"] = say(exc.args[0], page.lang) if exc.args else name
                drawn.append(shown)
                continue
            if not own_title:
                shown["title"] = label(definition.body.get("label"), page.lang, name)
            found = tile["result"]
            result = Result(found["report"], found["kind"], found["columns"], found["rows"], found["totals"],
                            found.get("subtotals") or {}, bool(found.get("truncated")))
            params = [tuple(p) for p in tile.get("params") or []]
            shown["href"] = f"/reports/{name}" + (f"?{urlencode(params)}" if params else "")
            kind = tile.get("chart") or "table"
            shown["chart"] = None if definition.kind == "tabular" else chart(page, definition, result, kind=kind)
            if shown["chart"] is None:
                shown["table"] = layout(page, definition, result, name, params)
        drawn.append(shown)
    return drawn
