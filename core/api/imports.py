"""/api/imports: import a CSV or XLSX file into an object, follow the job, fetch its rejected rows.

An upload is a dry run unless it says ``dry_run=false``: the file is checked row by row
through the record service and nothing is written. ``POST /api/imports/jobs/{id}/run``
then imports what the dry run checked, from the file kept on the server with the same
settings. A run is an ``import.run`` job of the job queue (queue ``imports``), enqueued with the
import's job row (core/imports/background.py); a worker runs it, and the job row says how far
it is, to every process.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Annotated, Any, Literal, TypedDict

from jsonschema import Draft202012Validator
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.exceptions import ClientException, HTTPException
from litestar.openapi.spec import (
    OpenAPIFormat, OpenAPIMediaType, OpenAPIResponse, OpenAPIType, Operation, RequestBody, Schema,
)
from litestar.params import FromPath, QueryParameter
from litestar.response import Stream
from litestar.utils.sync import sync_to_thread

from core import audit
from core.api.errors import ApiError, reader_language
from core.api.security import SIGNED_IN, client_ip, identity
from core.fieldtypes import BIGGEST
from core.imports import jobs
from core.imports.background import (
    Upload, UploadError, discard_upload, job_upload, real_run_of, real_run_options, recent_jobs, save_upload,
)
from core.imports.mapping import MAPPING_SCHEMA, MappingError, read_mapping
from core.imports.runner import ImportOptions
from core.imports.sources import SourceError, named_as
from core.query import MAX_OFFSET
from core.records import Actor, Forbidden
from core.words import Sentence, Several, hint, sentence, sentence_of

DB = {"sync_to_thread": True}
MAX_IMPORT_BYTES = 1 << 30  # 1 GiB: the upload is streamed to disk, never held in memory whole
MAX_OPTIONS_BYTES = 1 << 20
CHUNK = 1 << 16
MAX_BATCH = MAPPING_SCHEMA["properties"]["batch_size"]["maximum"]
SHOWN_REJECTIONS = 20
MAX_PAGE = 100
OPTIONS = ("mapping", "duplicates", "dry_run", "encoding", "sheet", "batch_size")
PARTS = ("file", "options", *OPTIONS)
TRUE, FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")
_WHOLE = re.compile(r"^[0-9]{1,19}$")
_DUPLICATES = Draft202012Validator(MAPPING_SCHEMA["properties"]["duplicates"])


# --- what the answers look like (for the OpenAPI document) -------------------------------------------------


class ImportRejection(TypedDict):
    row: int | None  # null when the job ran in another process: the rejected-rows file has every row, without numbers
    reason: str


class ImportColumn(TypedDict):
    column: str
    field: str


class _JobLinks(TypedDict):
    job: str
    rejected: str


class ImportJobLinks(_JobLinks, total=False):
    """``run`` only for a dry run. (NotRequired is lost under ``from __future__ import annotations``: the
    OpenAPI document called ``run`` required while listings left it out; ``total=False`` is kept.)"""

    run: str


class ImportJob(TypedDict):
    id: int
    object: str
    file: str
    dry_run: bool
    status: Literal["running", "done", "failed", "interrupted"]
    progress: float
    rows_total: int | None
    last_row: int
    created: int
    updated: int
    skipped: int
    rejected: int
    message: str | None
    warnings: list[str]
    rejections: list[ImportRejection]
    columns: list[ImportColumn]
    ignored: list[str] | None
    created_by: int | None
    created_by_name: str
    started_at: str
    updated_at: str
    finished_at: str | None
    links: ImportJobLinks


class ImportJobPage(TypedDict):
    items: list[ImportJob]
    limit: int
    offset: int
    has_more: bool


def _text(description: str) -> Schema:
    return Schema(type=OpenAPIType.STRING, description=description)


UPLOAD_FORM = Schema(
    type=OpenAPIType.OBJECT,
    required=["file"],
    properties={
        "file": Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY, description="The CSV or XLSX file (.csv, .txt, .xlsx)"),
        "options": _text('All the settings as one JSON object: {"mapping": {...}, "duplicates": [...], "dry_run": false, ...}'),
        "mapping": _text("A mapping (JSON, the format of docs/implementer-guide.md, 'Importing records')"),
        "duplicates": _text('Duplicate rules (JSON): [{"match": ["email"], "then": "update"}]; then is update, skip or create'),
        "dry_run": Schema(type=OpenAPIType.STRING, enum=["true", "false"], description="true (the default): check only, write nothing"),
        "encoding": _text("The CSV file's encoding (default: UTF-8, UTF-16 with a BOM, else GBK)"),
        "sheet": _text("The XLSX sheet to read (default: the first)"),
        "batch_size": Schema(type=OpenAPIType.STRING, pattern="^[0-9]+$", description=f"Rows per transaction, 1 to {MAX_BATCH:,} (default 1000)"),
    },
)


@dataclass
class UploadOperation(Operation):
    """The upload is multipart/form-data, read by the handler itself (for exact messages and a streamed file)."""

    def __post_init__(self) -> None:
        self.request_body = RequestBody(content={"multipart/form-data": OpenAPIMediaType(schema=UPLOAD_FORM)}, required=True)
        self.responses = {**(self.responses or {}), "413": OpenAPIResponse(description=f"The file is over {MAX_IMPORT_BYTES:,} bytes")}


@dataclass
class RunOperation(Operation):
    def __post_init__(self) -> None:
        self.responses = {**(self.responses or {}), "409": OpenAPIResponse(description="The job is not a finished dry run, or ran already")}


@dataclass
class RejectedOperation(Operation):
    def __post_init__(self) -> None:
        csv_file = {"text/csv": OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING))}
        self.responses = {**(self.responses or {}), "200": OpenAPIResponse(description="The rejected rows with a reason column", content=csv_file)}


# --- the handlers -----------------------------------------------------------------------------------------


class ImportsController(Controller):
    path = "/api/imports"
    opt = SIGNED_IN
    tags = ["imports"]

    @post("/{object_name:str}", status_code=202, request_max_body_size=MAX_IMPORT_BYTES, operation_class=UploadOperation,
          summary="Upload a CSV or XLSX file and check it (a dry run) or import it")
    async def upload(self, request: Request, object_name: FromPath[str]) -> Response[ImportJob]:
        """multipart/form-data with a ``file`` part and the settings as form fields or one JSON ``options`` part.
        Answers 202 with the job and its Location; the run goes on in the background."""
        form = await _form(request)
        try:
            file, options = _upload_parts(form), await _options(form)
            options.language = reader_language(request)
            return await sync_to_thread(_start, request, object_name, file, options)
        finally:
            for _name, value in form.multi_items():
                if isinstance(value, UploadFile):
                    await value.close()

    @get("/jobs", **DB, summary="My recent import jobs (everybody's for admins), newest first")
    def list_jobs(self, request: Request, limit: Annotated[int, QueryParameter(description=f"1 to {MAX_PAGE}")] = 20,
                  offset: Annotated[int, QueryParameter(description="jobs to skip")] = 0) -> ImportJobPage:
        runtime, actor = request.app.state.runtime, _actor(request)
        _check_page(limit, offset)
        admin = _is_admin(request)
        ids = recent_jobs(runtime, None if admin else actor.user_id, limit + 1, offset)
        items = [job for job in (runtime.imports.status(i, actor, admin) for i in ids[:limit]) if job is not None]
        return {"items": [_shown(runtime, job) for job in items], "limit": limit, "offset": offset, "has_more": len(ids) > limit}

    @get("/jobs/{job_id:str}", **DB, summary="An import job: its status, counts, progress, first rejections and warnings")
    def get_job(self, request: Request, job_id: FromPath[str]) -> ImportJob:
        return _shown(request.app.state.runtime, _job(request, job_id))

    @post("/jobs/{job_id:str}/run", **DB, status_code=202, operation_class=RunOperation,
          summary="Import for real what a dry run checked: the same file and settings")
    def run_job(self, request: Request, job_id: FromPath[str]) -> Response[ImportJob]:
        runtime, checked = request.app.state.runtime, _job(request, job_id)
        with runtime.imports.starting(checked["id"]):  # two calls at once start one run
            _refuse_unless_runnable(runtime, checked)
            up = job_upload(runtime, checked["id"])
            if up is None:
                raise ApiError(404, "not_found", f"the file import job {checked['id']} checked is not kept any more; upload it again")
            new_id = _started(request, checked["object"], up, replace(real_run_options(runtime, checked["id"]), language=reader_language(request)), keep_upload=True)
        _audit(request, checked["object"], new_id, up, dry_run=False, checked=checked["id"])
        return _accepted(request, new_id)

    @get("/jobs/{job_id:str}/rejected", **DB, operation_class=RejectedOperation,
         summary="The rejected rows of an import job, as CSV with a reason column")
    def rejected_rows(self, request: Request, job_id: FromPath[str]) -> Stream:
        runtime, job = request.app.state.runtime, _job(request, job_id)
        path = runtime.imports.rejected_file(job["id"])
        if path is None and not job["rejected"]:
            raise ApiError(404, "not_found", f"import job {job['id']} rejected no rows, so it has no rejected-rows file")
        if path is None:
            raise ApiError(404, "not_found", f"the rejected rows of import job {job['id']} are not kept any more")
        size = path.stat().st_size
        if job["status"] == "running":  # the file grows: send the rows of the batches completed so far
            size = jobs.load(runtime.engine, job["id"]).rejected_bytes or size
        headers = {"Content-Disposition": f'attachment; filename="{path.name}"'}
        return Stream(_file_bytes(path, size), media_type="text/csv", headers=headers)


# --- reading the upload --------------------------------------------------------------------------------------


async def _form(request: Request):
    if request.content_type[0] != "multipart/form-data":
        raise _bad("file", sentence("upload_not_multipart"))
    try:
        return await request.form()
    except HTTPException as exc:
        if exc.status_code == 413:
            raise ApiError(413, "too_large", sentence("upload_too_large", limit=f"{MAX_IMPORT_BYTES:,}")) from None
        if isinstance(exc, ClientException):
            raise _bad("file", sentence("upload_bad_multipart", reason=exc.detail)) from None
        raise


def _upload_parts(form) -> UploadFile:
    unknown = [name for name in form if name not in PARTS and name != "_csrf_token"]
    if unknown:
        raise _bad(unknown[0], sentence("upload_unknown_part", part=unknown[0], hint=hint(unknown[0], PARTS), parts=", ".join(PARTS)))
    for name in form:
        if len(form.getall(name)) > 1:
            raise _bad(name, sentence("upload_part_twice", part=name))
    file = form.get("file")
    if file is None:
        raise _bad("file", sentence("upload_no_file"))
    if not isinstance(file, UploadFile):
        raise _bad("file", sentence("upload_file_is_text"))
    file.file.seek(0, 2)
    empty = file.file.tell() == 0
    file.file.seek(0)
    if empty:
        raise _bad("file", sentence("upload_file_empty", file=file.filename))
    return file


async def _options(form) -> ImportOptions:
    given = await _options_part(form)
    for name in OPTIONS:
        if name in form:
            if name in given:
                raise _bad(name, sentence("option_given_twice", option=name))
            given[name] = _form_value(name, form[name])
    mapping = _mapping(given["mapping"]) if given.get("mapping") is not None else None
    batch_size = _batch_size(given["batch_size"]) if given.get("batch_size") is not None else None
    if batch_size is not None:
        mapping = {**(mapping or {}), "batch_size": batch_size}  # kept with the job's mapping, so a later real run uses it too
    return ImportOptions(
        mapping=mapping,
        duplicates=_duplicates(given["duplicates"]) if given.get("duplicates") is not None else [],
        dry_run=_dry_run(given.get("dry_run", True)),
        encoding=_encoding(given["encoding"]) if given.get("encoding") is not None else None,
        sheet=_sheet(given["sheet"]) if given.get("sheet") is not None else None,
    )


async def _options_part(form) -> dict[str, Any]:
    part = form.get("options")
    if part is None:
        return {}
    if isinstance(part, UploadFile):
        part = (await part.read(MAX_OPTIONS_BYTES + 1)).decode("utf-8", errors="replace")
    data = _json("options", part)
    if not isinstance(data, dict):
        raise _bad("options", sentence("options_not_an_object"))
    unknown = [key for key in data if key not in OPTIONS]
    if unknown:
        raise _bad("options", sentence("options_unknown_key", key=unknown[0], hint=hint(unknown[0], OPTIONS), keys=", ".join(OPTIONS)))
    return dict(data)


def _form_value(name: str, value: Any) -> Any:
    if isinstance(value, UploadFile):
        raise _bad(name, sentence("option_is_a_file", option=name))
    return _json(name, value) if name in ("mapping", "duplicates") else value


def _json(name: str, text: str) -> Any:
    if len(text) > MAX_OPTIONS_BYTES:
        raise ApiError(400, "invalid_json", f"{name}: the JSON is longer than {MAX_OPTIONS_BYTES:,} characters", [{"parameter": name, "message": "too long"}])
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ApiError(400, "invalid_json", f"{name}: not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
                       [{"parameter": name, "message": exc.msg}]) from None
    except RecursionError:
        raise ApiError(400, "invalid_json", f"{name}: not valid JSON: it is nested too deeply", [{"parameter": name, "message": "too deep"}]) from None


def _mapping(value: Any) -> dict:
    try:
        return read_mapping(json.dumps(value), "mapping")
    except MappingError as exc:
        raise _invalid_mapping(exc) from None


def _duplicates(value: Any) -> list[dict]:
    problems = [f"duplicates{''.join(f'/{p}' for p in e.absolute_path)}: {e.message}" for e in _DUPLICATES.iter_errors(value)]
    if problems:
        raise ApiError(400, "bad_request", "; ".join(problems) + ' (duplicates is a list like [{"match": ["email"], "then": "update"}])',
                       [{"parameter": "duplicates", "message": p} for p in problems])
    return value


def _dry_run(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE or text in FALSE:
        return text in TRUE
    raise _bad("dry_run", sentence("option_not_boolean", option="dry_run", value=_short(value)))


def _encoding(value: Any) -> str:
    try:
        if not isinstance(value, str):
            raise LookupError
        codecs.lookup(value)
    except LookupError:
        raise _bad("encoding", sentence("option_unknown_encoding", value=_short(value))) from None
    return value


def _sheet(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _bad("sheet", sentence("option_sheet_needed"))
    return value


def _batch_size(value: Any) -> int:
    text = str(value).strip()
    if isinstance(value, bool) or not _WHOLE.match(text) or not 1 <= int(text) <= MAX_BATCH:
        raise _bad("batch_size", sentence("option_batch_size", value=_short(value), limit=f"{MAX_BATCH:,}"))
    return int(text)


# --- starting a run ----------------------------------------------------------------------------------------------


def _start(request: Request, object_name: str, file: UploadFile, options: ImportOptions) -> Response:
    runtime, actor = request.app.state.runtime, _actor(request)
    runtime.current_metadata().object(object_name)  # an unknown object is a 404 before anything is kept
    if not runtime.records.access(actor).can(object_name, "create"):
        raise Forbidden(f"your role may not create {object_name} records, so it may not import them", object_name, "create")
    try:
        up = save_upload(runtime, file.filename, file.file)
    except UploadError as exc:
        raise _bad("file", sentence_of(exc) or str(exc)) from None
    job_id = _started(request, object_name, up, options)
    _audit(request, object_name, job_id, up, dry_run=options.dry_run)
    return _accepted(request, job_id)


def _started(request: Request, object_name: str, up: Upload, options: ImportOptions, keep_upload: bool = False) -> int:
    """Start the run; what fails before the job exists is answered here, and a new upload is not kept."""
    runtime = request.app.state.runtime
    try:
        return runtime.imports.start(_actor(request), object_name, up, options)
    except BaseException as exc:
        if not keep_upload:
            discard_upload(runtime, up)
        if isinstance(exc, MappingError):
            raise _invalid_mapping(exc) from None
        if isinstance(exc, (SourceError, UnicodeError)):
            message = named_as(exc, str(up.path), up.name)
            raise ApiError(422, "invalid_file", message, [{"parameter": "file", "message": message}]) from None
        raise


def _audit(request: Request, object_name: str, job_id: int, up: Upload, dry_run: bool, checked: int | None = None) -> None:
    detail = {"job": job_id, "file": up.name, "dry_run": dry_run, **({"checked_by": checked} if checked else {})}
    audit.write_now(request.app.state.runtime.engine, "import", identity(request).who(client_ip(request)), object_name, detail=detail)


def _accepted(request: Request, job_id: int) -> Response:
    runtime = request.app.state.runtime
    job = runtime.imports.status(job_id)
    return Response(_shown(runtime, job), status_code=202, headers={"Location": f"/api/imports/jobs/{job_id}"})


def _refuse_unless_runnable(runtime, job: dict) -> None:
    number = job["id"]
    if not job["dry_run"]:
        raise ApiError(409, "refused", f"import job {number} is a real run, not a dry run; GET /api/imports/jobs/{number} says how it went")
    if job["status"] == "running":
        raise ApiError(409, "refused", f"import job {number} is still checking the file ({job['progress']:.0%} done); "
                                       "run it when its status is done")
    if job["status"] != "done":
        raise ApiError(409, "refused", f"import job {number} did not finish checking the file ({job['status']}: "
                                       f"{_public(runtime, job.get('message')) or 'no reason given'}); upload the file again")
    earlier = real_run_of(runtime, number)
    if earlier is not None and earlier[1] in ("done", "running"):
        raise ApiError(409, "refused", f"what import job {number} checked has been imported already, by job {earlier[0]} "
                                       f"({earlier[1]}); GET /api/imports/jobs/{earlier[0]}")


# --- showing a job -----------------------------------------------------------------------------------------------


def _job(request: Request, job_id: str) -> dict:
    """The job, if it exists and is the caller's (any job for admins); else a 404, as if it did not exist."""
    if not _WHOLE.match(job_id) or not 1 <= int(job_id) <= BIGGEST:
        raise ApiError(400, "bad_request", sentence("not_an_import_job_id", value=_short(job_id)),
                       [{"parameter": "job_id", "message": sentence("expected_integer")}])
    job = request.app.state.runtime.imports.status(int(job_id), _actor(request), _is_admin(request))
    if job is None:
        raise ApiError(404, "not_found", sentence("import_job_missing", job=job_id))
    return job


def _shown(runtime, job: dict) -> dict:
    """A job as the API answers it (ImportJob)."""
    number = job["id"]
    rejections, columns, problems = _report(runtime, job)
    links = {"job": f"/api/imports/jobs/{number}", "rejected": f"/api/imports/jobs/{number}/rejected"}
    if job["dry_run"]:
        links["run"] = f"/api/imports/jobs/{number}/run"
    return {
        "id": number, "object": job["object"], "file": job["source"], "dry_run": job["dry_run"], "status": job["status"],
        "progress": float(job["progress"]), "rows_total": job["rows_total"], "last_row": job["next_row"] - 1,
        **{name: job[name] for name in ("created", "updated", "skipped", "rejected")},
        "message": _public(runtime, job["message"]), "warnings": job["warnings"] + problems, "rejections": rejections,
        "columns": columns, "ignored": job["ignored"], "created_by": job["created_by"], "created_by_name": job["created_by_name"],
        **{name: _utc(job[name]) for name in ("started_at", "updated_at", "finished_at")}, "links": links,
    }


def _report(runtime, job: dict) -> tuple[list[dict], list[dict], list[str]]:
    """The first rejections, the mapped columns and what kept them from being read: from the run's report in
    this process, else from the rejected-rows file (without row numbers) and the job's settings, in the file's
    column order."""
    if job["rejections"] is not None:
        return job["rejections"][:SHOWN_REJECTIONS], [{"column": c, "field": f} for c, f in job["columns"] or []], []
    kept = runtime.imports.rejected_rows(job["id"], SHOWN_REJECTIONS)
    position = {name: index for index, name in enumerate(kept.header)}
    mapped = sorted(((job.get("settings") or {}).get("columns") or {}).items(), key=lambda pair: position.get(pair[0], len(position)))
    return ([{"row": None, "reason": row[-1]} for row in kept.rows if row], [{"column": c, "field": f} for c, f in mapped],
            [kept.problem] if kept.problem else [])


def _file_bytes(path, size: int) -> Iterator[bytes]:
    with path.open("rb") as file:
        while size > 0 and (chunk := file.read(min(size, CHUNK))):
            size -= len(chunk)
            yield chunk


def _utc(text: str | None) -> str | None:
    """A stored UTC time as the rest of the API writes it (SQLite gives it back without its zone)."""
    if text is None:
        return None
    if text.endswith("+00:00"):
        return text[:-6] + "Z"
    return text if text.endswith("Z") or "+" in text[10:] else text + "Z"


def _public(runtime, text: str | None) -> str | None:
    """A message without the server's folders: an uploaded file is named by its own name."""
    if not text:
        return text
    folder = re.escape(str(runtime.settings.files_path().absolute() / "imports"))
    return re.sub(folder + r"[/\\][0-9a-f]{32}[/\\]", "", text)


# --- small things --------------------------------------------------------------------------------------------------


def _actor(request: Request) -> Actor:
    return identity(request).actor


def _is_admin(request: Request) -> bool:
    return request.app.state.runtime.records.access(_actor(request)).unrestricted


def _check_page(limit: int, offset: int) -> None:
    problems = []
    if not 1 <= limit <= MAX_PAGE:
        problems.append({"parameter": "limit", "message": sentence("between", name="limit", low=1, high=MAX_PAGE)})
    if not 0 <= offset <= MAX_OFFSET:
        problems.append({"parameter": "offset", "message": sentence("between", name="offset", low=0, high=MAX_OFFSET)})
    if problems:
        raise ApiError(400, "invalid_query", Several("several", parts=tuple(p["message"] for p in problems)), problems)


def _bad(part: str, message: str | Sentence) -> ApiError:
    return ApiError(400, "bad_request", message, [{"parameter": part, "message": message}])


def _invalid_mapping(exc: MappingError) -> ApiError:
    problems = tuple(exc.problems)
    return ApiError(422, "invalid_mapping", sentence("import_settings_misfit", problems=Several("several", parts=problems)),
                    [{"parameter": "duplicates" if str(problem).startswith("duplicate rule") else "mapping", "message": problem}
                     for problem in problems])


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."
