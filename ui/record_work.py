"""What a rep does on a record page without leaving it: log an activity, tick a task done, move the record
along its path, change one field.

Each answers htmx with the parts of the page it changes, and a plain form post (no JavaScript) with a
redirect back to the page, or the page itself showing what went wrong beside what was sent.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath

from core.api.errors import IdInPath
from core.metadata.model import ObjectDef
from core.records import Conflict, NotFound
from ui import composer as composing
from ui import inline_edit
from ui.context import PAGE, Answer, Page, answer, provide_page, signed_in
from ui.fields import record_title
from ui.record_forms import SAVE_REFUSALS, refused
from ui.record_pages import OBJECT, _detail, _go, _missing, column_choices, detail_view, provide_object, shown_cell
from ui.timeline import timeline

DB = {"sync_to_thread": True}
RECORD = NamedDependency[dict]
FORM = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]


def provide_record(page: PAGE, obj: OBJECT, record_id: IdInPath) -> dict:
    """Dependency: the record the address names, as the user may read it; else the page saying it is not there."""
    try:
        return page.runtime.records.get(page.actor, obj.name, record_id)
    except NotFound:
        raise Answer(_missing(page, obj.name, record_id)) from None


class OnRecord(Controller):
    """Controllers of work on a record from its page: the page, the signed-in user, the object and the record come from
    the guard and dependencies (the route's ``operation``, reading by default, is the right the user needs on the
    object). Subclasses add the routes."""

    path = "/r"
    include_in_schema = False
    guards = [signed_in]
    dependencies = {"page": Provide(provide_page, sync_to_thread=False), "obj": Provide(provide_object, sync_to_thread=True),
                    "record": Provide(provide_record, sync_to_thread=True)}
    exception_handlers = {Answer: answer}


class RecordWork(OnRecord):
    """The activity composer, inline edits and the other work on a record from its page."""

    # --- the activity composer ------------------------------------------------------------------

    @get("/{object_name:str}/{record_id:int}/compose/{kind:str}", **DB)
    def compose(self, page: PAGE, obj: OBJECT, record: RECORD, object_name: FromPath[str], record_id: IdInPath, kind: FromPath[str]) -> Response:
        """The composer with one kind's form open (htmx), or the record page with it open."""
        return _composer(page, obj, record, kind)

    @get("/{object_name:str}/{record_id:int}/compose", **DB)
    def close_composer(self, page: PAGE, obj: OBJECT, record: RECORD, object_name: FromPath[str], record_id: IdInPath) -> Response:
        return _composer(page, obj, record, "")

    @post("/{object_name:str}/{record_id:int}/activities", **DB)
    def log_activity(self, page: PAGE, obj: OBJECT, record: RECORD, object_name: FromPath[str], record_id: IdInPath, data: FORM) -> Response:
        kind = composing.BY_NAME.get(str(data.get("kind") or ""))
        if kind is None or kind not in composing.kinds(page, obj):
            return _answer(page, obj, record, 403, page.t("You may not add activities to this record."))
        created, sent, errors, status = composing.log(page, obj, record, kind, data)
        if created is None:
            shown = composing.composer(page, obj, record, kind.name, {**sent.values, **sent.typed}, errors)
            if page.htmx:
                return page.render("records/_composer.html", status=status, obj=obj, record=record, composer=shown)
            return _detail(page, obj, record, status=status, composer=shown)
        if not page.htmx:
            return _go(page, f"/r/{object_name}/{record_id}#timeline")
        done = page.t("Saved: {subject}", subject=created.get("subject") or "")
        return page.render("records/_composer.html", status=200, obj=obj, record=record, oob_timeline=True,
                           composer=composing.composer(page, obj, record, None, done=done), timeline=timeline(page, obj, record))

    @post("/{object_name:str}/{record_id:int}/activities/{activity_id:int}/done", **DB)
    def close_activity(self, page: PAGE, obj: OBJECT, record: RECORD, object_name: FromPath[str], record_id: IdInPath, activity_id: IdInPath, data: FORM) -> Response:
        """Tick an open task done, with the activity's version: someone else's change meanwhile is a conflict."""
        problem, status = None, 200
        try:
            activity = page.runtime.records.get(page.actor, "activity", activity_id)
            if activity.get("related_object") != obj.name or _id(activity.get("related_id")) != record["id"]:
                raise NotFound(f"activity {activity_id} is not one of this record's")
            page.runtime.records.update(page.actor, "activity", activity_id, {"status": "done"}, version=data.get("version") or None)
        except Conflict:
            problem, status = page.t("Someone changed this activity meanwhile; here it is as it is now."), 409
        except NotFound:
            problem, status = page.t("That activity is not here any more."), 404
        except SAVE_REFUSALS as exc:
            errors, status = refused(page, page.meta().objects["activity"], [], exc)
            problem = "; ".join(errors.general)
        if not page.htmx:
            if problem is None:
                return _go(page, f"/r/{object_name}/{record_id}#timeline")
            return _detail(page, obj, record, status=status, timeline={**timeline(page, obj, record), "problem": problem})
        return page.render("records/_timeline.html", status=status, obj=obj, record=record,
                           timeline={**timeline(page, obj, record), "problem": problem})

    # --- the path -------------------------------------------------------------------------------

    @post("/{object_name:str}/{record_id:int}/path", **DB, opt={"operation": "update"})
    def move_along(self, page: PAGE, obj: OBJECT, record: RECORD, object_name: FromPath[str], record_id: IdInPath, data: FORM) -> Response:
        name = obj.process_field
        col = inline_edit.editable(page, obj, name) if name else None
        if col is None:
            return _answer(page, obj, record, 403, page.t("You may not change this field."))
        saved, editing, status = inline_edit.save(page, obj, record, col, {name: data.get("value"), "version": data.get("version")})
        if saved is not None:
            return _changed(page, obj, saved)
        if editing.conflict is not None:
            message = page.t("Not moved: someone changed this record meanwhile. The page now shows it as it is.")
        else:
            message = page.t("Not moved: {reason}", reason=editing.error)
        return _answer(page, obj, _current(page, obj, record), status, message)

    # --- one field --------------------------------------------------------------------------------

    # The same input serves a cell of a list (``in=cell``; ``link=1`` for the row's first cell, which links to the
    # record): there it takes the cell's place, and the cell alone is drawn back instead of the record page's parts.

    @get("/{object_name:str}/{record_id:int}/field/{name:str}", **DB, opt={"operation": "update"})
    def field_input(self, page: PAGE, obj: OBJECT, record: RECORD, request: Request, object_name: FromPath[str], record_id: IdInPath, name: FromPath[str]) -> Response:
        place = inline_edit.Place.asked(page, request.query_params)
        col = inline_edit.editable(page, obj, name)
        if col is None:
            return _refused(page, obj, record, name, place)
        editing = inline_edit.opened(col, record, request.query_params.get("version"), place)
        if page.htmx:
            return page.render(place.template, obj=obj, record=record, **editing.context(page, record))
        return _detail(page, obj, record, editing=editing.context(page, record))

    @get("/{object_name:str}/{record_id:int}/field/{name:str}/show", **DB)
    def field_value(self, page: PAGE, obj: OBJECT, record: RECORD, request: Request, object_name: FromPath[str], record_id: IdInPath, name: FromPath[str]) -> Response:
        """The field's value again when its input is closed without saving: with the whole record as it is now, so that
        after a conflict the page holds the current version and shows what changed."""
        place = inline_edit.Place.asked(page, request.query_params)
        if place.cell and _shown_in_lists(page, obj, name):
            return page.render("records/_cell.html", cell=shown_cell(page, obj, record, name, place.link))
        return _changed(page, obj, record, focus=name)

    @post("/{object_name:str}/{record_id:int}/field/{name:str}", **DB, opt={"operation": "update"})
    def save_field(self, page: PAGE, obj: OBJECT, record: RECORD, object_name: FromPath[str], record_id: IdInPath, name: FromPath[str], data: FORM) -> Response:
        place = inline_edit.Place.asked(page, data)
        col = inline_edit.editable(page, obj, name)
        if col is None:
            return _refused(page, obj, record, name, place)
        saved, editing, status = inline_edit.save(page, obj, record, col, data, place)
        if saved is not None:
            if place.cell:
                return page.render("records/_cell.html", cell=shown_cell(page, obj, saved, name, place.link))
            return _changed(page, obj, saved, focus=name)
        if page.htmx:
            return page.render(place.template, status=status, obj=obj, record=record, **editing.context(page, record))
        return _detail(page, obj, record, status=status, editing=editing.context(page, record))


def _composer(page: Page, obj: ObjectDef, record: dict, kind: str) -> Response:
    if not page.htmx:
        return _go(page, f"/r/{obj.name}/{record['id']}" + (f"?{urlencode({'compose': kind})}#composer" if kind else ""))
    return page.render("records/_composer.html", obj=obj, record=record, composer=composing.composer(page, obj, record, kind))


def _current(page: Page, obj: ObjectDef, record: dict) -> dict:
    try:
        return page.runtime.records.get(page.actor, obj.name, record["id"])
    except NotFound:
        return record


def _changed(page: Page, obj: ObjectDef, record: dict, focus: str | None = None) -> Response:
    """After a change to the record: its head, fields and timeline drawn again (htmx), else back to its page."""
    if not page.htmx:
        return _go(page, f"/r/{obj.name}/{record['id']}")
    view = detail_view(page, obj, record)
    response = page.render("records/_changed.html", obj=obj, record=record, focus=focus, title=record_title(obj, record, page.lang), **view)
    response.headers.update({"HX-Retarget": "#record-head", "HX-Reswap": "outerHTML"})
    return response


def _refused(page: Page, obj: ObjectDef, record: dict, name: str, place: inline_edit.Place) -> Response:
    """A field the user may not change: said in the cell that asked, else at the top of the record page."""
    message = page.t("You may not change this field.")
    if place.cell and _shown_in_lists(page, obj, name):
        return page.render("records/_cell.html", status=403, cell=shown_cell(page, obj, record, name, place.link, note=message))
    return _answer(page, obj, record, 403, message)


def _shown_in_lists(page: Page, obj: ObjectDef, name: str) -> bool:
    return name in {c.name for c in column_choices(page, obj)}


def _answer(page: Page, obj: ObjectDef, record: dict, status: int, message: str) -> Response:
    """A refusal at the top of the page: the head alone for htmx, else the whole page."""
    if page.htmx:
        response = page.render("records/_changed.html", status=status, obj=obj, record=record, message=message, title=record_title(obj, record, page.lang),
                               **detail_view(page, obj, record))
        response.headers.update({"HX-Retarget": "#record-head", "HX-Reswap": "outerHTML"})
        return response
    return _detail(page, obj, record, status=status, message=message)


def _id(value: Any) -> int | None:
    if isinstance(value, dict):
        value = value.get("id")
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
