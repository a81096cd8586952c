"""/api/reports: the reports a user may run, and their figures as JSON, CSV or XLSX."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Request, Response, get
from litestar.params import FromPath, QueryParameter

from core.api.errors import ApiError, reader_language
from core.api.security import SIGNED_IN, identity
from core.reports.dashboards import Dashboards, Filters
from core.reports.exporting import as_bytes
from core.reports.running import Runner
from core.words import sentence

DB = {"sync_to_thread": True}
MEDIA = {"csv": "text/csv; charset=utf-8", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def _found(function, *args):
    try:
        return function(*args)
    except LookupError as exc:
        raise ApiError(404, "not_found", exc.args[0] if exc.args else str(exc)) from None


class ReportsController(Controller):
    path = "/api/reports"
    opt = SIGNED_IN
    tags = ["reports"]

    @get("/", **DB, summary="The reports you may run")
    def list_reports(self, request: Request) -> dict:
        return {"items": Runner(request.app.state.runtime).available(identity(request).actor)}

    @get("/{name:str}/run", **DB, summary="Run a report: its columns, rows and totals, as JSON, CSV or XLSX")
    def run_report(self, request: Request, name: FromPath[str],
                   fmt: Annotated[str, QueryParameter(name="format", description="json (the default), csv or xlsx")] = "json") -> Response:
        """Every other parameter is a list filter added to the report's own (``amount__gte=1000``, as
        GET /api/records/{object} reads them), or ``period`` (``this_quarter``, ``last_90_days``...) replacing
        the report's period. Figures count only the records you may read; a field you may not see is refused."""
        if fmt not in ("json", *MEDIA):
            raise ApiError(400, "invalid_query", sentence("not_an_export_format", value=fmt),
                           [{"parameter": "format", "message": sentence("csv_or_xlsx")}])
        params = [(k, v) for k, v in request.query_params.multi_items() if k != "format"]
        result = _found(Runner(request.app.state.runtime).run, identity(request).actor, name, params)
        if fmt == "json":
            return Response(result.as_dict())
        headers = {"Content-Disposition": f'attachment; filename="{name}.{fmt}"'}
        return Response(as_bytes(result, reader_language(request), fmt), media_type=MEDIA[fmt], headers=headers)


class DashboardsController(Controller):
    path = "/api/dashboards"
    opt = SIGNED_IN
    tags = ["reports"]

    @get("/", **DB, summary="The dashboards you may see, and the one of your home page")
    def list_dashboards(self, request: Request) -> dict:
        dashboards, actor = Dashboards(request.app.state.runtime), identity(request).actor
        return {"items": dashboards.available(actor), "default": dashboards.default_for(actor)}

    @get("/{name:str}", **DB, summary="A dashboard's tiles with their figures")
    def get_dashboard(self, request: Request, name: FromPath[str]) -> dict:
        """``period`` (this_quarter, last_90_days...), ``owner`` (a user's id) and ``team`` (a team's name) filter every
        tile; a tile you may not see says why instead of its figures."""
        filters = Filters.parse(dict(request.query_params))
        return _found(Dashboards(request.app.state.runtime).compose, identity(request).actor, name, filters, reader_language(request))
