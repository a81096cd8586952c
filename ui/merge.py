"""Merging duplicates from the list page: choose the record to keep and, field by field, the value to keep.

The list's action bar posts the ticked rows here (``id`` and ``shown=<id>:<version>``, as for
the other mass actions); the merge page shows one column per record and one row per field
whose values differ, with a radio button for each. Posting it with ``confirmed`` merges
through core/merge.py as the signed-in user; the versions the page showed travel with the
form, so a record changed meanwhile is reported, not overwritten.

A record's page leads here as well: its "Merge with…" page (``/r/<object>/<id>/merge``)
searches the object's records the user may see, and the records picked there open this
merge page with that record chosen as the one to keep.
"""

from __future__ import annotations

from typing import Annotated, Any, NamedTuple
from urllib.parse import urlencode

from litestar import Controller, Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath

from core.api.errors import IdInPath
from core.merge import MergeError, choosable_fields, differing, merge, read_records
from core.words import labelled, listed
from core.metadata.model import FieldDef, ObjectDef
from core.query import QueryError
from core.records import Conflict, Forbidden, NotFound, RecordError, RecordValidationError
from ui.context import Page, page_for, plural, sign_in_first
from ui.fields import display, record_title
from ui.mass_actions import RECORD_ID, Selection, one, readable, reason, selection, values
from ui.record_pages import _go, _missing, _object, may_merge

DB = {"sync_to_thread": True}
FORM = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
FEWEST, MOST = 2, 5
PICK = "field_"  # the form's radio group for a field is named field_<name>
PICKED = "with"  # the "Merge with…" page's checkboxes: the records to merge into the one it is for
CANDIDATES = 20  # the records the "Merge with…" page lists at a time


class MergePages(Controller):
    path = "/r"
    include_in_schema = False

    @get("/{object_name:str}/merge", **DB)
    def merge_page(self, request: Request, object_name: FromPath[str]) -> Response:
        """The merge page for ``?id=..&id=..`` (a link can open it as well as the list's form)."""
        page = page_for(request)
        if page.user is None:
            return sign_in_first(request)
        return _answer(page, object_name, dict(_multi(request.query_params.multi_items())))

    @post("/{object_name:str}/merge", **DB)
    def merge_form(self, request: Request, object_name: FromPath[str], data: FORM) -> Response:
        """From the list: the merge page for the ticked rows; from the merge page (``confirmed``): the merge."""
        page = page_for(request)
        if page.user is None:
            return sign_in_first(request)
        return _answer(page, object_name, data)

    @get("/{object_name:str}/{record_id:int}/merge", **DB)
    def merge_with_page(self, request: Request, object_name: FromPath[str], record_id: IdInPath) -> Response:
        """From a record's page: search the records to merge into it (``?q=``)."""
        page, obj, refusal = _merging(request, object_name)
        if refusal:
            return refusal
        return _merge_with(page, obj, record_id, request.query_params.get("q") or "")

    @post("/{object_name:str}/{record_id:int}/merge", **DB)
    def merge_with_form(self, request: Request, object_name: FromPath[str], record_id: IdInPath, data: FORM) -> Response:
        """The records picked: on to the merge page, this record chosen as the one to keep."""
        page, obj, refusal = _merging(request, object_name)
        if refusal:
            return refusal
        q = one(data, "q")
        if record_id not in readable(page, obj, [record_id]):
            return _missing(page, obj.name, record_id)
        picked = values(data, PICKED)
        if not picked:
            return _merge_with(page, obj, record_id, q, status=422, problem=page.t("Tick at least one record to merge into this one."))
        if len(set(picked)) > MOST - 1:
            return _merge_with(page, obj, record_id, q, status=422, picked=picked,
                               problem=page.t("Select between {low} and {high} records to merge.", low=FEWEST, high=MOST))
        problem, status = _wrong_pick(page, obj, record_id, picked)
        if problem:
            return _merge_with(page, obj, record_id, q, status=status, picked=picked, problem=problem)
        ids = [str(record_id), *dict.fromkeys(picked)]
        return _go(page, f"/r/{obj.name}/merge?" + urlencode([("id", i) for i in ids] + [("survivor", str(record_id)),
                                                                                          ("record", str(record_id))]))


def _merging(request: Request, object_name: str) -> tuple[Page, ObjectDef | None, Response | None]:
    """The signed-in user's page and the object whose records they may merge; else the refusal (or sign-in)."""
    page = page_for(request)
    if page.user is None:
        return page, None, sign_in_first(request)
    obj, refusal = _merger(page, object_name)
    return page, obj, refusal


def _merger(page: Page, object_name: str) -> tuple[ObjectDef | None, Response | None]:
    """The object, if the user may merge its records (change the one kept, delete the others); else the refusal."""
    obj, refusal = _object(page, object_name, "update")
    if refusal is None:
        obj, refusal = _object(page, object_name, "delete")
    return obj, refusal


def _wrong_pick(page: Page, obj: ObjectDef, record_id: int, picked: list[str]) -> tuple[str | None, int]:
    """Why the records picked cannot be merged into this one (and the status to answer with), or None."""
    for value in picked:
        if not RECORD_ID.match(value):
            return page.t("“{value}” is not a record number.", value=value), 422
        if int(value) == record_id:
            return page.t("Record #{id} is this record: pick another record to merge into it.", id=record_id), 422
    found = readable(page, obj, list(dict.fromkeys(int(v) for v in picked)))
    missing = next((v for v in picked if int(v) not in found), None)
    if missing is not None:
        return page.t("There is no record {id} here that you may see.", id=missing), 404
    return None, 200


def _merge_with(page: Page, obj: ObjectDef, record_id: int, q: str, status: int = 200, problem: str | None = None,
                picked: list[str] | None = None) -> Response:
    """The "Merge with…" page: this record, a search box, and the matching records the user may see, this one left out."""
    if not may_merge(page, obj):
        return page.render("error.html", status=422, title=page.t("Not allowed"),
                           message=page.t("{objects} cannot be merged.", objects=plural(obj, page.lang)))
    try:
        record = page.runtime.records.get(page.actor, obj.name, record_id)
    except NotFound:
        return _missing(page, obj.name, record_id)
    q = q.strip()
    title_field = obj.fields.get(obj.title_field)
    params = [("limit", str(CANDIDATES + 1)), ("sort", obj.title_field if title_field is not None and title_field.type.sortable else "-id")]
    if q:
        params.append(("q", q))
    try:
        found = page.runtime.records.list(page.actor, obj.name, params).items
    except QueryError:
        found = []
    others = [r for r in found if r["id"] != record_id][:CANDIDATES]
    ticked = set(picked or [])
    candidates = [{"id": r["id"], "title": record_title(obj, r, page.lang), "checked": str(r["id"]) in ticked} for r in others]
    return page.render("records/merge_with.html", status=status, obj=obj, record=record, title=record_title(obj, record, page.lang),
                       objects=plural(obj, page.lang), q=q, candidates=candidates, problem=problem)


class Back(NamedTuple):
    """Where the merge page's Cancel leads: the list with its query, or the record it was opened from."""

    query: str
    record: int | None


def _multi(pairs) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for key, value in pairs:
        found.setdefault(key, []).append(value)
    return found


def _answer(page: Page, object_name: str, data: dict) -> Response:
    obj, refusal = _merger(page, object_name)
    if refusal:
        return refusal
    chosen = selection(data)
    record = one(data, "record")
    # Opened from a record's page (Merge with…): Cancel goes back to that record, else to the list as it was.
    back = Back(one(data, "back"), int(record) if RECORD_ID.match(record) and int(record) in chosen.ids else None)
    if not FEWEST <= len(chosen.ids) <= MOST:
        return _page(page, obj, chosen, back, status=422, problem=page.t("Select between {low} and {high} records to merge.", low=FEWEST, high=MOST))
    if one(data, "confirmed"):
        return _merge(page, obj, chosen, back, data)
    return _page(page, obj, chosen, back, survivor=one(data, "survivor"))


def _merge(page: Page, obj: ObjectDef, chosen: Selection, back: Back, data: dict) -> Response:
    survivor = one(data, "survivor")
    if survivor not in {str(i) for i in chosen.ids}:
        return _page(page, obj, chosen, back, survivor, data, status=422, problem=page.t("Choose the record to keep."))
    merged = [i for i in chosen.ids if str(i) != survivor]
    picks = {key[len(PICK):]: one(data, key) for key in data if key.startswith(PICK)}
    versions = {rid: version for rid, version in chosen.versions.items() if version is not None}
    try:
        done = merge(page.runtime, page.actor, obj.name, survivor, merged, picks, versions)
    except MergeError as exc:
        problem = listed((labelled(_place(page, obj, e["field"]), e["message"], page.lang) for e in exc.worded(page.lang)), page.lang)
        return _page(page, obj, chosen, back, survivor, data, status=422, problem=problem)
    except Conflict:
        fresh = Selection(chosen.ids, {})  # the page is drawn again with the versions as they are now
        problem = page.t("Someone changed one of these records after this page was shown; look at the values again, then merge.")
        return _page(page, obj, fresh, back, survivor, data, status=409, problem=problem)
    except Forbidden:
        problem = page.t("Your role may not merge these records: it takes the right to change the record kept and to delete the others.")
        return _page(page, obj, chosen, back, survivor, data, status=403, problem=problem)
    except (NotFound, RecordValidationError, RecordError) as exc:
        status = 422 if isinstance(exc, RecordValidationError) else getattr(exc, "status", 400)
        return _page(page, obj, chosen, back, survivor, data, status=status, problem=reason(page, obj, exc, "merge"))
    notice = page.t("{n} duplicate(s) merged into this record.", n=len(done.merged_ids))
    return _go(page, f"/r/{obj.name}/{done.record['id']}?" + urlencode({"notice": notice}))


def _place(page: Page, obj: ObjectDef, name: str) -> str:
    fdef = obj.fields.get(name)
    if fdef is not None and page.access.visible(obj.name, name):
        return fdef.label(page.lang)
    return {"survivor": page.t("Record to keep"), "merged": page.t("Records to merge")}.get(name, name)


def _page(page: Page, obj: ObjectDef, chosen: Selection, back: Back, survivor: str = "", data: dict | None = None,
          status: int = 200, problem: str | None = None) -> Response:
    view = {"obj": obj, "title": plural(obj, page.lang), "back": back.query, "from_record": back.record, "problem": problem,
            "records": [], "rows": [], "survivor": None}
    if problem is None or (status in (403, 409, 422) and FEWEST <= len(chosen.ids) <= MOST):
        try:
            view.update(merge_view(page, obj, chosen, survivor, data or {}))
        except NotFound:
            status, view["problem"] = 404, page.t("One of these records was deleted meanwhile, or is not yours to see.")
        except MergeError as exc:
            status, view["problem"] = 422, exc.worded(page.lang)[0]["message"]
    return page.render("records/merge.html", status=status, **view)


def merge_view(page: Page, obj: ObjectDef, chosen: Selection, survivor: str, data: dict) -> dict:
    """The records side by side and, for each field whose values differ, which record's value is chosen."""
    _obj, fields = choosable_fields(page.runtime, page.actor, obj.name)
    found = read_records(page.runtime, page.actor, obj.name, chosen.ids)
    records = [found[i] for i in chosen.ids]
    keep = int(survivor) if RECORD_ID.match(survivor or "") and int(survivor) in found else min(found)
    rows = []
    for fdef in differing(fields, records):
        picked = one(data, PICK + fdef.name)
        default = _default(fdef, found, keep)
        chosen_id = int(picked) if RECORD_ID.match(picked) and int(picked) in found else default
        rows.append({"name": fdef.name, "title": fdef.label(page.lang),
                     "cells": [{"id": r["id"], "text": _shown(page, fdef, r.get(fdef.name)), "checked": r["id"] == chosen_id} for r in records]})
    columns = [{"id": r["id"], "title": record_title(obj, r, page.lang), "version": chosen.versions.get(r["id"]) or r["version"]} for r in records]
    return {"records": columns, "rows": rows, "survivor": keep, "links": _linked_fields(page, obj)}


def _default(fdef: FieldDef, found: dict[int, dict], keep: int) -> int:
    """The survivor's value, unless it is empty and another record has one."""
    if found[keep].get(fdef.name) not in (None, "", []):
        return keep
    return next((rid for rid, r in found.items() if r.get(fdef.name) not in (None, "", [])), keep)


def _shown(page: Page, fdef: FieldDef, value: Any) -> str:
    return page.t("(empty)") if value in (None, "", []) else page.show(fdef, value)


def _linked_fields(page: Page, obj: ObjectDef) -> list[str]:
    """Many-to-many fields the user sees: their links are combined, not chosen."""
    return [f.label(page.lang) for f in obj.active_fields() if f.type.name == "many_to_many" and page.access.visible(obj.name, f.name)]

