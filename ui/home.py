"""The home page: my open activities, what I looked at lately, the plugins' widgets and my default dashboard."""

from __future__ import annotations

import datetime as dt
import logging

from core.preferences import Preferences
from core.records import Conflict, Forbidden, NotFound, QueryError, RecordValidationError, Refused
from core.reports.dashboards import Dashboards, Filters
from core.reports.definition import ReportError
from core.words import say
from ui.context import Page, singular
from ui.dashboards import tiles_view
from ui.i18n import label
from ui.widgets import widget_content

log = logging.getLogger("tessera.ui")
OPEN_ACTIVITY = "planned,in_progress"


def home_view(page: Page) -> dict:
    dashboard = my_dashboard(page)
    on_dashboard = dashboard["widgets"] if dashboard else set()  # a widget the dashboard shows is not shown twice
    return {"activities": my_activities(page), "recent": recently_viewed(page), "dashboard": dashboard,
            "widgets": widgets(page, skip=on_dashboard)}


def my_dashboard(page: Page) -> dict | None:
    """The user's default dashboard (Dashboards.default_for) with its default filters, its tiles laid out as the
    dashboard page lays them; None for a user without one. Its figures come from the reports' cache after the first view."""
    dashboards = Dashboards(page.runtime)
    name = dashboards.default_for(page.actor)
    if name is None:
        return None
    try:
        body = dashboards.body(page.actor, name)
        composed = dashboards.compose(page.actor, name, Filters(period=(body.get("filters") or {}).get("period")), page.lang)
    except (LookupError, ReportError):
        return None
    return {"name": name, "title": label(composed["label"], page.lang, name), "tiles": tiles_view(page, composed),
            "widgets": {tile["widget"] for tile in body["tiles"] if "widget" in tile}}


def my_activities(page: Page) -> list[dict]:
    activity = page.meta().objects.get("activity")
    if activity is None or "assigned_to" not in activity.fields or not page.access.can("activity", "read"):
        return []
    try:
        found = page.runtime.records.list(page.actor, "activity", {"assigned_to": page.user.user_id, "status__in": OPEN_ACTIVITY,
                                                                    "sort": "due_date", "limit": 10})
    except (QueryError, Forbidden):
        return []
    today = dt.date.today().isoformat()
    may_finish = page.access.can("activity", "update") and page.access.writable("activity", "status")
    return [{"id": a["id"], "version": a["version"], "href": f"/r/activity/{a['id']}", "subject": a.get("subject"), "due": a.get("due_date"),
             "overdue": bool(a.get("due_date")) and a["due_date"] < today, "may_finish": may_finish,
             "related": (a.get("related_id") or {}).get("label")} for a in found.items]


def finish_task(page: Page, task_id: int, version: str | None) -> str | None:
    """Mark one of the user's activities done (with the version the home page showed); why not, if it cannot be."""
    try:
        page.runtime.records.update(page.actor, "activity", task_id, {"status": "done"}, version=version)
    except RecordValidationError as exc:
        return "; ".join(e.worded(page.lang) for e in exc.errors)
    except Conflict:
        return page.t("Someone changed this activity since the page was shown; here it is as it is now.")
    except (Forbidden, NotFound, Refused) as exc:
        return say(exc, page.lang)
    return None


def recently_viewed(page: Page) -> list[dict]:
    meta, shown = page.meta(), []
    for object_name, record_id in Preferences(page.runtime).recent(page.user.user_id):
        obj = meta.objects.get(object_name)
        if obj is None:
            continue
        try:
            record = page.runtime.records.get(page.actor, object_name, record_id)
        except (NotFound, Forbidden):
            continue  # deleted since, or no longer theirs to see
        title = record.get(obj.title_field)
        shown.append({"href": f"/r/{object_name}/{record_id}", "title": title if title not in (None, "") else f"#{record_id}",
                      "object": singular(obj, page.lang)})
    return shown


def widgets(page: Page, skip: set[str] = frozenset()) -> list[dict]:
    """What each plugin's dashboard widget shows this user. A widget refused what the user's role may not
    see is left out quietly; one that fails otherwise is left out and logged."""
    drawn = []
    for name, widget in page.runtime.dashboard_widgets().items():
        if name in skip:
            continue
        try:
            content = widget.render(runtime=page.runtime, actor=page.actor, lang=page.lang)
        except (Forbidden, QueryError) as refused:  # the role's business, not a fault: no traceback on every home page
            log.info("dashboard widget %s is not shown to %s: %s", name, page.actor.name, refused)
            continue
        except Exception:  # one plugin's broken widget must not take the home page down
            log.exception("dashboard widget %s failed", name)
            continue
        if content:
            drawn.append({"name": name, "title": label(widget.label, page.lang, name), **widget_content(page, content)})
    return drawn
