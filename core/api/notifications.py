"""/api/notifications: the signed-in user's own notifications (core/notifications.py), newest first.

    GET  /api/notifications?unread=true&limit=20&before_id=96   a page of them, and how many are unread
    GET  /api/notifications/count                                 {"unread": 3}
    POST /api/notifications/{id}/read                             one marked read (404 unless it is yours)
    POST /api/notifications/read-all                              every one marked read

Messages are said in the reader's language, with the ``code`` and ``params`` they were written with.
"""

from __future__ import annotations

from litestar import Controller, Request, get, post
from litestar.params import FromQuery

from core import notifications
from core.api.errors import ApiError, IdInPath, IdInQuery, reader_language
from core.api.security import SIGNED_IN, identity
from core.db import read_transaction, write_transaction
from core.words import sentence

DB = {"sync_to_thread": True}


def _limit(limit: int) -> int:
    if not 1 <= limit <= notifications.PAGE_MAX:
        between = sentence("between", name="limit", low=1, high=notifications.PAGE_MAX)
        raise ApiError(400, "invalid_query", between, [{"parameter": "limit", "message": between}])
    return limit


class NotificationsController(Controller):
    path = "/api/notifications"
    opt = SIGNED_IN
    tags = ["notifications"]

    @get("/", **DB, summary="Your notifications, newest first")
    def list_notifications(self, request: Request, unread: FromQuery[bool] = False, limit: FromQuery[int] = notifications.PAGE_DEFAULT,
                           before_id: IdInQuery = None) -> dict:
        """``unread=true``: the unread ones only; ``limit``: 1 to 100 (20); page back with ``before_id`` (the last id
        seen) while ``has_more``. ``unread_count`` counts every unread one, whatever the page."""
        runtime, user = request.app.state.runtime, identity(request)
        with read_transaction(runtime.engine) as conn:
            found, more = notifications.items(conn, user.user_id, reader_language(request), unread_only=unread, limit=_limit(limit),
                                              before_id=before_id, words=runtime.plugins.words)
            count = notifications.unread_count(conn, user.user_id)
        return {"items": [n.as_json() for n in found], "unread_count": count, "limit": limit, "has_more": more}

    @get("/count", **DB, summary="How many of your notifications are unread")
    def count_notifications(self, request: Request) -> dict:
        with read_transaction(request.app.state.runtime.engine) as conn:
            return {"unread": notifications.unread_count(conn, identity(request).user_id)}

    @post("/{notification_id:int}/read", **DB, status_code=200, summary="Mark one of your notifications read")
    def read_notification(self, request: Request, notification_id: IdInPath) -> dict:
        """The notification as it is now (reading one already read changes nothing). Another user's is not found."""
        runtime, user = request.app.state.runtime, identity(request)
        with write_transaction(runtime.engine) as conn:
            notifications.mark_read(conn, user.user_id, [notification_id])
            found = notifications.one(conn, user.user_id, notification_id, reader_language(request), runtime.plugins.words)
            count = notifications.unread_count(conn, user.user_id)
        if found is None:
            raise ApiError(404, "not_found", sentence("notification_missing", id=notification_id))
        return {**found.as_json(), "unread_count": count}

    @post("/read-all", **DB, status_code=200, summary="Mark every one of your notifications read")
    def read_all_notifications(self, request: Request) -> dict:
        with write_transaction(request.app.state.runtime.engine) as conn:
            marked = notifications.mark_read(conn, identity(request).user_id, notifications.ALL)
            count = notifications.unread_count(conn, identity(request).user_id)
        return {"marked": marked, "unread_count": count}
