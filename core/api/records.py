"""/api/records: list, create, read, update and delete the records of every object.

Thin handlers over the record service: permissions, validation, hooks and history all
happen there. Updates carry the version read (``If-Match: "3"`` or ``"version": 3``); a
stale one is a 409 with what changed since.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from litestar.background_tasks import BackgroundTask
from litestar.openapi.spec import OpenAPIFormat, OpenAPIMediaType, OpenAPIResponse, OpenAPIType, Operation, Schema
from litestar.params import FromPath, QueryParameter, RawBody
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.response import File, Stream

from core import audit, exports
from core.api.errors import ApiError, json_body
from core.api.reads import quick_read
from core.api.security import SIGNED_IN, client_ip, identity
from core.fieldtypes import ID_SCHEMA
from core.permissions import SHARE_ACCESS
from core.records import Actor, RecordService
from core.words import sentence

NEW_SHARE = {"type": "object", "properties": {"user": ID_SCHEMA, "team": ID_SCHEMA, "access": {"enum": list(SHARE_ACCESS)}},
             "minProperties": 1, "additionalProperties": False}
DB = {"sync_to_thread": True}
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


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
    raise ApiError(428, "version_required", sentence("version_required"))


class RecordsController(Controller):
    path = "/api/records"
    opt = SIGNED_IN
    tags = ["records"]

    @get("/{object_name:str}", summary="List records")
    async def list_records(self, request: Request, object_name: FromPath[str]) -> dict:
        service, actor, params = _service(request), _actor(request), _query_pairs(request)
        return await quick_read(request, lambda budget: service.list(actor, object_name, params, budget=budget).as_dict())

    @post("/{object_name:str}", **DB, summary="Create a record")
    def create_record(self, request: Request, object_name: FromPath[str], body: RawBody) -> Response:
        data = json_body(body)
        record = _service(request).create(_actor(request), object_name, data)
        headers = {**_etag(record), "Location": f"/api/records/{object_name}/{record['id']}"}
        return Response(record, status_code=201, headers=headers)

    @get("/{object_name:str}/{record_id:str}", summary="Read a record")
    async def get_record(self, request: Request, object_name: FromPath[str], record_id: FromPath[str]) -> Response:
        service, actor = _service(request), _actor(request)
        record = await quick_read(request, lambda budget: service.get(actor, object_name, record_id, budget=budget))
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
            raise ApiError(404, "not_found", sentence("not_related", child=child, field=field_name, object=object_name))
        params = [(k, v) for k, v in _query_pairs(request) if k != field_name] + [(field_name, str(parent["id"]))]
        return service.list(actor, child, params).as_dict()

    @get("/{object_name:str}/{record_id:str}/shares", **DB, summary="Who a record is shared with")
    def list_shares(self, request: Request, object_name: FromPath[str], record_id: FromPath[str]) -> dict:
        return {"items": _service(request).shares(_actor(request), object_name, record_id)}

    @post("/{object_name:str}/{record_id:str}/shares", **DB, opt={"body": NEW_SHARE}, summary="Share a record with a user or a team", status_code=201)
    def add_share(self, request: Request, object_name: FromPath[str], record_id: FromPath[str], body: RawBody) -> dict:
        data = json_body(body, NEW_SHARE)
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


@dataclass
class ExportOperation(Operation):
    """The export answers a file: CSV, or XLSX with ?format=xlsx."""

    def __post_init__(self) -> None:
        files = {"text/csv": OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING)),
                 XLSX_TYPE: OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY))}
        self.responses = {**(self.responses or {}), "200": OpenAPIResponse(description="The list as a file", content=files)}


class ExportController(Controller):
    path = "/api/export"
    opt = SIGNED_IN
    tags = ["records"]

    @get("/{object_name:str}", **DB, summary="Export a list as CSV or XLSX", operation_class=ExportOperation)
    def export(self, request: Request, object_name: FromPath[str],
               fmt: Annotated[str, QueryParameter(name="format", description="csv (the default) or xlsx")] = "csv",
               labels: Annotated[str | None, QueryParameter(description="en or zh-CN: headers and picklist values as their labels "
                                                                          "in that language, for people (without it: names and codes, "
                                                                          "as imports take them)")] = None,
               columns: Annotated[str | None, QueryParameter(description="the columns to write, comma-separated, in order "
                                                                           "(as the list page shows them); without it: the id, "
                                                                           "every field you may see and the system fields")] = None) -> Response:
        """The whole list (the list filters, sort and q of GET /api/records/{object}, without paging), as you may see it."""
        runtime, actor = request.app.state.runtime, _actor(request)
        if fmt not in exports.FORMATS:
            raise ApiError(400, "invalid_query", sentence("not_an_export_format", value=fmt),
                           [{"parameter": "format", "message": sentence("csv_or_xlsx")}])
        if labels is not None and labels not in exports.LABEL_LANGUAGES:
            raise ApiError(400, "invalid_query", sentence("not_a_label_language", value=labels),
                           [{"parameter": "labels", "message": sentence("en_or_zh")}])
        params = exports.list_query(runtime, actor, object_name,
                                    [(k, v) for k, v in _query_pairs(request) if k not in ("format", "labels", "columns")])
        named = exports.chosen_columns(columns)
        chosen = exports.columns(runtime, actor, object_name, named) if named else []  # a column refused before the download starts
        detail = {"format": fmt, "query": dict(params), **({"columns": chosen} if chosen else {})}
        audit.write_now(runtime.engine, "export", identity(request).who(client_ip(request)), object_name, detail=detail)
        if fmt == "xlsx":
            return _xlsx_file(runtime, actor, object_name, params, labels, chosen)
        headers = {"Content-Disposition": f'attachment; filename="{object_name}.csv"'}
        return Stream(exports.csv_chunks(runtime, actor, object_name, params, labels, chosen), media_type="text/csv", headers=headers)


def _xlsx_file(runtime, actor: Actor, object_name: str, params: list[tuple[str, str]], labels: str | None = None,
               chosen: list[str] | None = None) -> File:
    """The XLSX is written (in bounded memory) to a private temporary folder, sent, then removed."""
    folder = Path(tempfile.mkdtemp(prefix="tessera-export-"))
    path = folder / f"{object_name}.xlsx"
    try:
        exports.export(runtime, actor, object_name, path, params, "xlsx", labels=labels, chosen=chosen or ())
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return File(path, filename=path.name, media_type=XLSX_TYPE, background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True))
