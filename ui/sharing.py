"""Sharing a record from its detail page: with a user or a team, to read or to edit.

The record service decides who may share (whoever may change the record) and keeps the
shares; this module turns the form into its call. The form's pickers send an id when an
option was chosen; without JavaScript only the typed name arrives, and it is looked up
among the users (or teams) the signed-in user may read.
"""

from __future__ import annotations

from core.permissions import SHARE_ACCESS
from core.records import Forbidden, NotFound, QueryError, RecordError, RecordValidationError
from ui.context import Page
from ui.mass_actions import RECORD_ID, one


class ShareInputError(ValueError):
    """The form names nobody, or no single user or team."""


def add_share(page: Page, object_name: str, record_id: int, data: dict) -> tuple[int, str | None]:
    """Share as the form asks; (HTTP status, problem or None)."""
    level = one(data, "access") or "read"
    if level not in SHARE_ACCESS:
        return 422, page.t("Access: choose “can read” or “can edit”.")
    try:
        user, team = whom(page, data)
    except ShareInputError as exc:
        return 422, str(exc)
    try:
        page.runtime.records.share(page.actor, object_name, record_id, user=user, team=team, level=level)
    except RecordValidationError as exc:
        return 422, "; ".join(e.message for e in exc.errors)
    except Forbidden:
        return 403, page.t("Your role may not share this record: sharing needs the right to change it.")
    except NotFound:
        return 404, page.t("There is no record {id} here that you may see.", id=record_id)
    return 200, None


def remove_share(page: Page, object_name: str, record_id: int, share_id: int) -> tuple[int, str | None]:
    try:
        page.runtime.records.unshare(page.actor, object_name, record_id, share_id)
    except Forbidden:
        return 403, page.t("Your role may not share this record: sharing needs the right to change it.")
    except NotFound:
        return 404, page.t("That share was already removed, or the record is not yours to see.")
    return 200, None


def whom(page: Page, data: dict) -> tuple[int | None, int | None]:
    """The user id or the team id the form names (one of them, never both)."""
    user = _chosen(page, data, "user", page.t("User"))
    team = _chosen(page, data, "team", page.t("Team"))
    if user is None and team is None:
        raise ShareInputError(page.t("Share with: choose a user or a team."))
    if user is not None and team is not None:
        raise ShareInputError(page.t("Share with: choose a user or a team, not both."))
    return user, team


def _chosen(page: Page, data: dict, target: str, title: str) -> int | None:
    picked, typed = one(data, target).strip(), one(data, f"_{target}").strip()
    if RECORD_ID.match(picked):
        return int(picked)
    if not typed:
        return None
    return _by_name(page, target, typed, title)


def _by_name(page: Page, target: str, typed: str, title: str) -> int:
    obj = page.meta().object(target)
    try:
        exact = page.runtime.records.list(page.actor, target, [(obj.title_field, typed), ("limit", "2")]).items
        found = exact or page.runtime.records.list(page.actor, target, [("q", typed), ("limit", "2")]).items
    except (QueryError, Forbidden, RecordError):
        found = []
    if len(found) == 1:
        return found[0]["id"]
    if not found:
        raise ShareInputError(page.t("{field}: no match for “{text}”.", field=title, text=typed))
    raise ShareInputError(page.t("{field}: more than one matches “{text}”; choose one from the list.", field=title, text=typed))
