"""Fleet's web routes: a page of the inspections due, and the same list as JSON for integrations.

Both read as the signed-in user, so each person sees the vehicles their role lets them read.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from litestar import Request, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath
from litestar.response import Redirect

from core.api.security import SIGNED_IN, identity
from core.records import Actor, Forbidden, QueryError, RecordError
from core.validation import RecordValidationError
from core.words import say
from ui.context import Page, provide_page, signed_in

from tessera_fleet import IN_SERVICE

DUE_WITHIN_DAYS = 30
TITLE = {"en": "Inspections due", "zh-CN": "待年检车辆"}
FORM = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]  # a form's fields
PAGE = NamedDependency[Page]  # the parameter ``page``: the page being drawn, for the signed-in user in their language
PAGE_ROUTE = {  # a page: signed-in users only (others go to the sign-in page), with ``page`` for the handler
    "guards": [signed_in],
    "dependencies": {"page": Provide(provide_page, sync_to_thread=False)},
    "sync_to_thread": True,  # the handler reads the database: not on the event loop
    "include_in_schema": False,
}


def vehicles_due(runtime, actor: Actor) -> list[dict]:
    """Vehicles in service whose inspection is due within DUE_WITHIN_DAYS days, or overdue, as ``actor`` may read them."""
    until = dt.date.today() + dt.timedelta(days=DUE_WITHIN_DAYS)
    params = {"next_inspection__lte": until.isoformat(), "status__in": ",".join(IN_SERVICE), "sort": "next_inspection", "limit": 100}
    return runtime.records.list(actor, "vehicle", params).items


@get("/fleet/due", **PAGE_ROUTE)
def inspections_due_page(page: PAGE) -> Response:
    return _due_page(page, None)


@post("/fleet/vehicles/{vehicle_id:int}/inspected", **PAGE_ROUTE)
def mark_inspected(page: PAGE, vehicle_id: FromPath[int], data: FORM) -> Response:
    """The vehicle passed its inspection: the next one is due in a year. Written as the user, with their role's rights."""
    next_year = (dt.date.today() + dt.timedelta(days=365)).isoformat()
    try:
        page.runtime.records.update(page.actor, "vehicle", vehicle_id, {"next_inspection": next_year}, version=data.get("version"))
    except RecordValidationError as exc:
        return _due_page(page, "; ".join(error.worded(page.lang) for error in exc.errors), status=422)
    except RecordError as exc:  # NotFound, Forbidden, Conflict: said in the page's language
        return _due_page(page, say(exc, page.lang), status=exc.status)
    return Redirect("/fleet/due", status_code=303)


def _due_page(page: Page, problem: str | None, status: int = 200) -> Response:
    try:
        vehicles = vehicles_due(page.runtime, page.actor)
    except (Forbidden, QueryError):  # the role may not read vehicles, or not the fields the list filters on
        vehicles = None
    fields = page.meta().object("vehicle").fields
    return page.render(
        "fleet/due.html", status=status,
        title=TITLE.get(page.lang, TITLE["en"]),
        vehicles=vehicles,
        headings={name: fields[name].label(page.lang) for name in ("plate_number", "customer", "next_inspection")},
        today=dt.date.today().isoformat(),
        problem=problem,
    )


@get("/api/fleet/due", opt=SIGNED_IN, sync_to_thread=True, include_in_schema=False)
def inspections_due_api(request: Request) -> dict:
    """``{"items": [...]}``: the vehicles due, for a bearer token or a session; 401 without either."""
    runtime = request.app.state.runtime
    actor = identity(request).actor
    return {"items": vehicles_due(runtime, actor)}
