"""The notification centre: the bell in the top bar (its unread count, refreshed every minute and after each action),
its panel of the latest notifications, and the page of them all; and the people a note may mention, offered after "@".

Every notification is the signed-in user's own (core/notifications.py reads and marks only theirs). Opening one
(``/notifications/{id}/open``) marks it read and goes to the record it is about; the panel and the page mark one
or all read with a form (CSRF-checked), answered to htmx with the parts that change and to a plain form post
with a redirect.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import Provide
from litestar.params import FromQuery

from core import notifications
from core.api.errors import IdInPath, IdInQuery
from core.db import read_transaction, write_transaction
from core.query import QueryError
from core.records import RecordError
from ui.context import PAGE, Answer, Page, answer, provide_page, signed_in
from ui.fields import in_zone
from ui.i18n import label
from ui.record_pages import DB, _go

PANEL_SHOWN = 8
MENTION_SHOWN, MENTION_TYPED = 6, 60  # people offered after "@"; characters of what was typed that are looked for
PAGE_SHOWN = 25
KIND_ICONS = {"mention": "at-sign", "reminder": "alarm-clock", "approval": "circle-check-big", "rule": "zap"}


class NotificationPages(Controller):
    path = "/notifications"
    include_in_schema = False
    guards = [signed_in]
    dependencies = {"page": Provide(provide_page, sync_to_thread=False)}
    exception_handlers = {Answer: answer}

    @get("", **DB)
    def everything(self, page: PAGE, unread: FromQuery[str] = "", before: IdInQuery = None) -> Response:
        """Every notification of the user, newest first, a page at a time (``before``: the last id seen)."""
        only_unread = unread in ("1", "true")
        with read_transaction(page.runtime.engine) as conn:
            found, more = notifications.items(conn, page.user.user_id, page.lang, unread_only=only_unread, limit=PAGE_SHOWN,
                                              before_id=before, words=page.runtime.plugins.words)
            count = notifications.unread_count(conn, page.user.user_id)
        older = f"/notifications?{'unread=1&' if only_unread else ''}before={found[-1].id}" if more and found else None
        return page.render("notifications/page.html", title=page.t("Notifications"), items=shown(page, found), unread=count,
                           only_unread=only_unread, older=older, paged=before is not None)

    @get("/panel", **DB)
    def panel(self, page: PAGE) -> Response:
        """The bell's panel (htmx): the latest notifications, the unread count drawn again beside it."""
        return _panel(page)

    @get("/count", **DB)
    def count(self, page: PAGE) -> Response:
        """The bell's badge (htmx polls it)."""
        return page.render("notifications/_count.html", unread=_unread(page))

    @get("/{notification_id:int}/open", **DB)
    def open(self, page: PAGE, notification_id: IdInPath) -> Response:
        """Mark the notification read and go to the record it is about (or to the list, when it names none)."""
        with write_transaction(page.runtime.engine) as conn:
            found = notifications.one(conn, page.user.user_id, notification_id, page.lang)
            if found is not None:
                notifications.mark_read(conn, page.user.user_id, [notification_id])
        if found is None:
            return page.render("error.html", status=404, title=page.t("Not found"),
                               message=page.t("There is no such notification of yours."))
        return _go(page, found.link or "/notifications")

    @post("/{notification_id:int}/read", **DB)
    def read_one(self, page: PAGE, request: Request, notification_id: IdInPath) -> Response:
        with write_transaction(page.runtime.engine) as conn:
            notifications.mark_read(conn, page.user.user_id, [notification_id])
            found = notifications.one(conn, page.user.user_id, notification_id, page.lang, page.runtime.plugins.words)
        if page.htmx and request.query_params.get("in") == "page":
            if found is None:
                return page.render("notifications/_marked.html", status=404, unread=_unread(page), item=None)
            return page.render("notifications/_marked.html", unread=_unread(page), item=shown(page, [found])[0])
        return _after(page, request)

    @post("/read-all", **DB)
    def read_all(self, page: PAGE, request: Request) -> Response:
        with write_transaction(page.runtime.engine) as conn:
            notifications.mark_read(conn, page.user.user_id, notifications.ALL)
        return _after(page, request)


class MentionPeople(Controller):
    """The people a note may mention, as the composer's description asks after "@" (htmx): those whose login or full
    name holds the text typed, as the user may read the users (nobody, when they may not)."""

    path = "/mentions"
    include_in_schema = False
    guards = [signed_in]
    dependencies = {"page": Provide(provide_page, sync_to_thread=False)}
    exception_handlers = {Answer: answer}

    @get("", **DB)
    def people(self, page: PAGE, q: FromQuery[str] = "") -> Response:
        text = q.strip()[:MENTION_TYPED]
        found: list[dict] = []
        if text and not any(ch.isspace() or not ch.isprintable() for ch in text) and page.access.can("user", "read"):
            try:
                listed = page.runtime.records.list(page.actor, "user", {"q": text, "sort": "username", "limit": str(MENTION_SHOWN * 2)})
            except (QueryError, RecordError):
                listed = None
            found = [u for u in (listed.items if listed else []) if u.get("active") is not False and u.get("id") != page.user.user_id]
        return page.render("notifications/_people.html", people=found[:MENTION_SHOWN])


def _after(page: Page, request: Request) -> Response:
    """After marking: the panel drawn again (htmx from the panel), the page's list (htmx from the page), else back."""
    if not page.htmx:
        return _go(page, "/notifications")
    return _panel(page)


def _panel(page: Page) -> Response:
    with read_transaction(page.runtime.engine) as conn:
        found, more = notifications.items(conn, page.user.user_id, page.lang, limit=PANEL_SHOWN, words=page.runtime.plugins.words)
        count = notifications.unread_count(conn, page.user.user_id)
    return page.render("notifications/_panel.html", items=shown(page, found), unread=count, more=more, oob_count=True)


def _unread(page: Page) -> int:
    with read_transaction(page.runtime.engine) as conn:
        return notifications.unread_count(conn, page.user.user_id)


def unread_for(page: Page) -> int:
    """The signed-in user's unread count, for the bell of every page (read when the page's frame is drawn)."""
    if page.user is None:
        return 0
    conn = page.connection
    if conn is not None:
        return notifications.unread_count(conn, page.user.user_id)
    return _unread(page)


def shown(page: Page, found: list[notifications.Notification]) -> list[dict[str, Any]]:
    """What a template draws of each: its message, when (in words and exactly), its icon, where it leads."""
    meta = page.meta()
    moment = notifications.now()
    drawn = []
    for n in found:
        obj = meta.objects.get(n.object) if n.object else None
        drawn.append({
            "id": n.id, "kind": n.kind, "icon": KIND_ICONS.get(n.kind, "bell"), "message": n.message, "actor": n.actor,
            "read": n.read, "href": f"/notifications/{n.id}/open" if n.link else None,
            "object_label": label(obj.spec.get("label"), page.lang, obj.name) if obj is not None else None,
            "ago": ago(page, n.created_at, moment), "exact": _exact(page, n.created_at), "at": n.created_at,
            "kind_label": kind_label(page, n.kind),
        })
    return drawn


def kind_label(page: Page, kind: str) -> str:
    words = {"mention": page.t("Mention"), "reminder": page.t("Reminder"), "approval": page.t("Approval"), "rule": page.t("Automation")}
    return words.get(kind, kind)


def ago(page: Page, stamp: str, moment: dt.datetime) -> str:
    """How long ago, in words, for the last day; then the date (and the time, this year) in the reader's zone."""
    then = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    seconds = max(0, int((moment - then).total_seconds()))
    if seconds < 60:
        return page.t("just now")
    if seconds < 3600:
        return page.t("{n} min ago", n=seconds // 60)
    if seconds < 86400:
        return page.t("{n} h ago", n=seconds // 3600)
    local = in_zone(stamp, page.zone)
    if local.year == in_zone(moment.isoformat(), page.zone).year:
        return local.strftime("%m-%d %H:%M")
    return local.strftime("%Y-%m-%d")


def _exact(page: Page, stamp: str) -> str:
    return in_zone(stamp, page.zone).strftime("%Y-%m-%d %H:%M")
