"""Global search in the web UI: the results page (``/search?q=``) and the top bar's suggestions
(``/search/suggest?q=``, an htmx fragment), both through core/search.py as the signed-in user."""

from __future__ import annotations

from litestar import Controller, Request, Response, get
from litestar.di import Provide
from litestar.enums import MediaType

from core import search
from core.query import QueryError
from ui.context import PAGE, VARY, Answer, Page, answer, plural, provide_page, signed_in

DB = {"sync_to_thread": True}
PAGE_LIMIT = 20  # results per object on the results page
SUGGESTIONS = 5  # per object in the top bar's list


class SearchPages(Controller):
    path = "/search"
    include_in_schema = False
    guards = [signed_in]
    dependencies = {"page": Provide(provide_page, sync_to_thread=False)}
    exception_handlers = {Answer: answer}

    @get("/", **DB)
    def results(self, page: PAGE, request: Request) -> Response:
        q = request.query_params.get("q", "")
        groups, problem = _found(page, q, PAGE_LIMIT)
        return page.render("search/results.html", status=400 if problem else 200, title=page.t("Search"), q=q,
                           groups=groups, problem=problem)

    @get("/suggest", **DB)
    def suggest(self, page: PAGE, request: Request) -> Response:
        q = request.query_params.get("q", "")
        if not q.strip():
            return Response("", media_type=MediaType.HTML, headers=VARY)
        groups, problem = _found(page, q, SUGGESTIONS)
        return page.render("search/_suggest.html", q=q, groups=groups or [], problem=problem)


def _found(page: Page, q: str, limit: int) -> tuple[list[dict] | None, str | None]:
    """The results grouped by object, shown in the page's language, or why the text cannot be searched for."""
    if not q.strip():
        return None, None
    try:
        q, _objects, limit = search.parse({"q": q, "limit": str(limit)}, page.meta())
    except QueryError as exc:
        return None, _problem(page, exc)
    groups = search.search(page.runtime.records, page.actor, q, None, limit)
    return [{"label": plural(g.object, page.lang), "name": g.object.name,
             "items": [{**item, "href": f"/r/{item['object']}/{item['id']}"} for item in g.items(page.lang)]}
            for g in groups], None


def _problem(page: Page, exc: QueryError) -> str:
    if any("NUL" in p["message"] or "Unicode" in p["message"] for p in exc.problems):
        return page.t("The search text holds characters that cannot be searched for.")
    return page.t("Search for at most {count} characters.", count=search.MAX_QUERY)
