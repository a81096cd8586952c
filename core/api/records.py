"""/api/records: list, create, read, update and delete the records of every object.

Thin handlers over the record service: permissions, validation, hooks and history all
happen there. Updates carry the version read (``If-Match: "3"`` or ``"version": 3``); a
stale one is a 409 with what changed since.
"""

from __future__ import annotations

import csv
import io
from typing import Any, Iterator

from litestar.params import FromPath, RawBody
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.response import Stream

from core import audit
from core.api.errors import ApiError, json_body
from core.api.security import client_ip, identity, signed_in
from core.records import Actor, RecordService

DB = {"sync_to_thread": True}
EXPORT_PAGE = 500
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _service(request: Request) -> RecordService:
    return request.app.state.runtime.records


def _actor(request: Request) -> Actor:
    return identity(request).actor


def _query_pairs(request: Request) -> list[tuple[str, str]]:
    return list(request.query_params.multi_items())


def _etag(record: dict) -> dict[str, str]:
    return {"ETag": f'"{record["version"]}"'}


def _version_from(request: Request, data: Any) -> Any:
    header = request.headers.get("if-match")
    if header:
        return header
    if isinstance(data, dict) and data.get("version") is not None:
        return data["version"]
    raise ApiError(428, "version_required", "send the version you read, as 'If-Match: \"<version>\"' or a 'version' field, "
                                           "so that your change cannot overwrite someone else's")


class RecordsController(Controller):
    path = "/api/records"
    guards = [signed_in]
    tags = ["records"]

    @get("/{object_name:str}", **DB, summary="List records")
    def list_records(self, request: Request, object_name: FromPath[str]) -> dict:
        return _service(request).list(_actor(request), object_name, _query_pairs(request)).as_dict()

    @post("/{object_name:str}", **DB, summary="Create a record")
    def create_record(self, request: Request, object_name: FromPath[str], body: RawBody) -> Response:
        data = json_body(body)
        record = _service(request).create(_actor(request), object_name, data)
        headers = {**_etag(record), "Location": f"/api/records/{object_name}/{record['id']}"}
        return Response(record, status_code=201, headers=headers)

    @get("/{object_name:str}/{record_id:str}", **DB, summary="Read a record")
    def get_record(self, request: Request, object_name: FromPath[str], record_id: FromPath[str]) -> Response:
        record = _service(request).get(_actor(request), object_name, record_id)
        return Response(record, headers=_etag(record))

    @patch("/{object_name:str}/{record_id:str}", **DB, summary="Change a record")
    def update_record(self, request: Request, object_name: FromPath[str], record_id: FromPath[str], body: RawBody) -> Response:
        data = json_body(body)
        version = _version_from(request, data)
        changes = {k: v for k, v in data.items() if k != "version"} if isinstance(data, dict) else data
        record = _service(request).update(_actor(request), object_name, record_id, changes, version=version)
        return Response(record, headers=_etag(record))

    @delete("/{object_name:str}/{record_id:str}", **DB, summary="Delete a record (it can be restored)", status_code=204)
    def delete_record(self, request: Request, object_name: FromPath[str], record_id: FromPath[str]) -> None:
        _service(request).delete(_actor(request), object_name, record_id, version=request.headers.get("if-match"))

    @post("/{object_name:str}/{record_id:str}/restore", **DB, summary="Restore a deleted record", status_code=200)
    def restore_record(self, request: Request, object_name: FromPath[str], record_id: FromPath[str]) -> Response:
        record = _service(request).restore(_actor(request), object_name, record_id)
        return Response(record, headers=_etag(record))

    @get("/{object_name:str}/{record_id:str}/history", **DB, summary="A record's field history")
    def record_history(self, request: Request, object_name: FromPath[str], record_id: FromPath[str]) -> dict:
        return {"items": _service(request).history(_actor(request), object_name, record_id)}

    @get("/{object_name:str}/{record_id:str}/related", **DB, summary="The related lists of a record")
    def related_lists(self, request: Request, object_name: FromPath[str], record_id: FromPath[str]) -> dict:
        service, actor = _service(request), _actor(request)
        service.get(actor, object_name, record_id)
        return {"items": _relations(request, object_name, actor)}

    @get("/{object_name:str}/{record_id:str}/related/{child:str}/{field_name:str}", **DB, summary="One related list")
    def related_list(self, request: Request, object_name: FromPath[str], record_id: FromPath[str], child: FromPath[str], field_name: FromPath[str]) -> dict:
        service, actor = _service(request), _actor(request)
        parent = service.get(actor, object_name, record_id)
        if not any(r["object"] == child and r["field"] == field_name for r in _relations(request, object_name, actor)):
            raise ApiError(404, "not_found", f"{child}.{field_name} does not point to {object_name} (GET .../related lists the related lists)")
        params = [(k, v) for k, v in _query_pairs(request) if k != field_name] + [(field_name, str(parent["id"]))]
        return service.list(actor, child, params).as_dict()

    @get("/{object_name:str}/{record_id:str}/shares", **DB, summary="Who a record is shared with")
    def list_shares(self, request: Request, object_name: FromPath[str], record_id: FromPath[str]) -> dict:
        return {"items": _service(request).shares(_actor(request), object_name, record_id)}

    @post("/{object_name:str}/{record_id:str}/shares", **DB, summary="Share a record with a user or a team", status_code=201)
    def add_share(self, request: Request, object_name: FromPath[str], record_id: FromPath[str], body: RawBody) -> dict:
        data = json_body(body)
        if not isinstance(data, dict) or set(data) - {"user", "team", "access"}:
            raise ApiError(400, "bad_request", 'send {"user": <user id>} or {"team": <team id>}, with "access": "read" or "edit"')
        return _service(request).share(_actor(request), object_name, record_id, user=data.get("user"), team=data.get("team"),
                                       level=data.get("access", "read"))

    @delete("/{object_name:str}/{record_id:str}/shares/{share_id:str}", **DB, summary="Stop sharing", status_code=204)
    def remove_share(self, request: Request, object_name: FromPath[str], record_id: FromPath[str], share_id: FromPath[str]) -> None:
        _service(request).unshare(_actor(request), object_name, record_id, share_id)


def _relations(request: Request, object_name: str, actor: Actor) -> list[dict]:
    """Lookups and many-to-many fields of readable objects that point at ``object_name``."""
    access = _service(request).access(actor)
    meta = request.app.state.runtime.current_metadata()
    found = []
    for obj in meta.objects.values():
        if not access.can(obj.name, "read"):
            continue
        for fdef in obj.active_fields():
            if fdef.type.name in ("lookup", "many_to_many") and fdef.spec.get("target") == object_name and access.visible(obj.name, fdef.name):
                found.append({"object": obj.name, "field": fdef.name, "label": obj.spec.get("plural_label") or obj.spec["label"],
                              "path": f"related/{obj.name}/{fdef.name}"})
    return found


class ExportController(Controller):
    path = "/api/export"
    guards = [signed_in]
    tags = ["records"]

    @get("/{object_name:str}", **DB, summary="Export a list as CSV")
    def export(self, request: Request, object_name: FromPath[str]) -> Stream:
        service, actor = _service(request), _actor(request)
        params = [(k, v) for k, v in _query_pairs(request) if k not in ("limit", "offset", "count")]
        service.list(actor, object_name, params + [("limit", "1")])  # refuses bad filters before the download starts
        user = identity(request)
        audit.write_now(request.app.state.runtime.engine, "export", user.who(client_ip(request)), object_name,
                        detail={"format": "csv", "query": dict(params)})
        headers = {"Content-Disposition": f'attachment; filename="{object_name}.csv"'}
        columns = _columns(request, actor, object_name)
        return Stream(_csv_rows(service, actor, object_name, params, columns), media_type="text/csv", headers=headers)


def _columns(request: Request, actor: Actor, object_name: str) -> list[str]:
    """The columns a list shows this actor: the fields they may see, with the system fields."""
    access = _service(request).access(actor)
    obj = request.app.state.runtime.current_metadata().object(object_name)
    visible = [f.name for f in obj.active_fields() if access.visible(object_name, f.name)]
    return ["id", *visible, "version", "created_at", "created_by", "updated_at", "updated_by", "owner"]


def _csv_rows(service: RecordService, actor: Actor, object_name: str, params: list, columns: list[str]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    yield "\ufeff"  # so spreadsheets read UTF-8
    writer.writerow(columns)
    for record in service.each(actor, object_name, dict(params)):
        writer.writerow([_cell(record.get(c)) for c in columns])
        if buffer.tell() > 64_000:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _cell(value: Any) -> str:
    """A value as a spreadsheet cell that is never run as a formula."""
    if value is None:
        return ""
    if isinstance(value, dict):
        value = value.get("label") if value.get("label") is not None else value.get("id")
    elif isinstance(value, list):
        value = "; ".join(str(v.get("label") or v.get("id")) if isinstance(v, dict) else str(v) for v in value)
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return str(value)  # a negative number is a number, not a formula
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text
