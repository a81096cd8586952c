"""Sharing a record from its detail page: with a user or a team, to read or to edit.

The record service decides who may share (whoever may change the record) and keeps the
shares; this module turns the form into its call. The form's pickers are lookups
(ui/lookups.py): an id chosen from the options holds while the box shows its name, else the
typed name is looked up among the users (or teams) the signed-in user may read.
"""

from __future__ import annotations

from core.permissions import SHARE_ACCESS
from core.records import Forbidden, NotFound, RecordValidationError
from ui import lookups
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
        return 422, "; ".join(e.worded(page.lang) for e in exc.errors)
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
    """The record the picker names: the one chosen while its search box shows its title, else the one its text names."""
    picked = one(data, target).strip()
    if f"_{target}" not in data:  # no search box sent: the id alone
        return int(picked) if RECORD_ID.match(picked) else None
    choice = lookups.choose(page, page.meta().object(target), picked, one(data, f"_{target}"))
    if choice.problem is not None:
        raise ShareInputError(f"{title}: {choice.problem}")
    return choice.value
