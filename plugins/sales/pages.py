"""The lead scoring page (``/sales/lead-scoring``): what makes a lead's score, each part with where to change it in
Setup, and a button that scores every lead again (a job). For administrators and customizers."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect

from ui.context import Page, provide_page, signed_in

TITLE = {"en": "Lead scoring", "zh-CN": "线索评分"}
FORM = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]
PAGE = NamedDependency[Page]
PAGE_ROUTE = {"guards": [signed_in], "dependencies": {"page": Provide(provide_page, sync_to_thread=False)}, "sync_to_thread": True,
              "include_in_schema": False}


@get("/sales/lead-scoring", **PAGE_ROUTE)
def scoring_page(page: PAGE) -> Response:
    return _page(page, queued=page.request.query_params.get("queued"))


@post("/sales/lead-scoring/rescore", **PAGE_ROUTE)
def rescore(page: PAGE, data: FORM) -> Response:
    """Queue the job that scores every lead again."""
    if not page.access.may_customize:
        return _page(page, status=403)
    from core import queue  # noqa: PLC0415 - only this action needs it
    from plugins.sales import RESCORE_JOB  # noqa: PLC0415 - the plugin's module imports this one's routes

    with page.runtime.writing() as (conn, _schema):
        job = queue.enqueue(conn, RESCORE_JOB, {})
    return Redirect(f"/sales/lead-scoring?queued={job}", status_code=303)


def _page(page: Page, status: int = 200, queued: str | None = None) -> Response:
    from plugins.sales import score_formulas, weighted_fields  # noqa: PLC0415 - see rescore

    title = TITLE.get(page.lang, TITLE["en"])
    if not page.access.may_customize:
        return page.render("error.html", status=403, title=title, message=page.t("Setup is for administrators and customizers."))
    meta = page.meta()
    lead = meta.object("lead")

    def values(name: str, key: str) -> list[dict[str, Any]]:
        fdef = lead.fields[name]
        return [{"label": _label(v.get("label"), v["value"], page.lang), "number": (v.get("properties") or {}).get(key)}
                for v in fdef.spec.get("values", []) if not v.get("inactive")]

    weighted = [{"name": name, "label": lead.fields[name].label(page.lang), "values": values(name, "score")}
                for name in weighted_fields(meta)]
    formulas = [{"name": f.name, "label": f.label(page.lang), "expression": f.spec["expression"]} for f in score_formulas(meta)]
    return page.render("sales/lead_scoring.html", status=status, title=title, weighted=weighted, formulas=formulas,
                       bands=values("budget_band", "min_budget") if "budget_band" in lead.fields else [],
                       band_scores=values("budget_band", "score") if "budget_band" in lead.fields else [],
                       ratings=values("rating", "min_score") if "rating" in lead.fields else [], queued=queued)


def _label(labels: dict | None, fallback: str, lang: str) -> str:
    labels = labels or {}
    return labels.get(lang) or labels.get("en") or fallback
