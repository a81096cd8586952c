"""The import wizard: upload a CSV or XLSX file, map its columns, check it (a dry run), run it, see the result.

Every step is a server-rendered page; the job page follows a running import with an htmx
fragment that asks again every second until the job is done. The wizard holds no import
logic of its own: the mapping it builds from the form is a mapping file's JSON
(core/imports/mapping.py checks it, docs/implementer-guide.md "Importing records"
documents it), the automatic choices are mapping.py's, and runs go through
``runtime.imports`` (core/imports/background.py), exactly as ``tessera import --mapping``
would run them. An upload and its jobs belong to the person who uploaded it (and admins).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath
from litestar.response import File, Redirect

from core.api.errors import IdInPath
from core.imports import MAPPING_FORMAT, ImportOptions, MappingError, SourceError, describe_job, read_mapping
from core.imports import jobs
from core.imports.background import (RejectedRows, Upload, UploadError, discard_upload, job_upload, real_run_of, real_run_options,
                                     save_upload, set_uploader, upload, uploader)
from core.imports.mapping import importable, suggest_columns, unknown_picklist_values
from core.imports.sources import open_source
from core.metadata.model import FieldDef, ObjectDef, UnknownObject
from core.records import Forbidden
from core.runtime import SYSTEM_FIELD_SPECS
from core.words import say
from ui.context import VARY, Page, page_for, plural, sign_in_first
from ui.mass_actions import one, values

DB = {"sync_to_thread": True}
FORM = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
UPLOAD = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)]
UPLOAD_LIMIT = 1 << 30  # 1 GiB: an import file of millions of rows
SAMPLE_ROWS = 2000  # rows read for the examples and the picklist hints of the mapping page
EXAMPLES = 3
DISTINCT = 200  # distinct values kept per column of the sample
UNKNOWN_SHOWN = 12
REJECTIONS_SHOWN = 20
GLIMPSE = 200  # characters of a cell shown in a table
REPORTED_REJECTIONS = 1000  # a run's report names this many rejected rows (core/imports/runner.py SHOWN_REJECTIONS)
ENCODINGS = ("utf-8-sig", "utf-16", "gbk", "gb18030", "big5", "shift_jis", "cp1252", "latin-1")
ENCODING_NAMES = {"utf-8-sig": "UTF-8", "utf-16": "UTF-16", "gbk": "GBK", "gb18030": "GB18030", "big5": "Big5",
                  "shift_jis": "Shift JIS", "cp1252": "Windows-1252", "latin-1": "ISO-8859-1"}
THEN = ("update", "skip", "create")


class ImportPages(Controller):
    path = "/import"
    include_in_schema = False

    # --- 1. choose the object and upload the file ---------------------------------------------

    @get("/", **DB)
    def upload_form(self, request: Request) -> Response:
        page = page_for(request)
        if page.user is None:
            return sign_in_first(request)
        chosen = request.query_params.get("object") or ""
        return _upload_page(page, chosen, request.query_params.get("encoding") or "")

    @post("/", request_max_body_size=UPLOAD_LIMIT, **DB)
    def receive_upload(self, request: Request, data: UPLOAD) -> Response:
        page = page_for(request)
        if page.user is None:
            return sign_in_first(request)
        chosen, encoding = _text(data.get("object")), _encoding(_text(data.get("encoding")))
        obj, refusal = _target(page, chosen)
        if refusal is not None:
            return _upload_page(page, chosen, encoding, refusal)
        file = data.get("file")
        if not isinstance(file, UploadFile) or not file.filename:
            return _upload_page(page, chosen, encoding, (400, page.t("Choose a CSV or XLSX file to import.")))
        try:
            up = save_upload(page.runtime, file.filename, file.file)  # copied in chunks from the request's spooled file
        except UploadError as exc:
            return _upload_page(page, chosen, encoding, (400, _upload_problem(page, exc)))
        try:
            sample(up.path, encoding or None, None)
        except SourceError as exc:
            discard_upload(page.runtime, up)
            return _upload_page(page, chosen, encoding, (400, _without_path(say(exc, page.lang), up)))
        set_uploader(page.runtime, up, page.user.user_id)
        query = {"object": obj.name, **({"encoding": encoding} if encoding else {})}
        return Redirect(f"/import/{up.token}/map?{urlencode(query)}", status_code=303, headers=VARY)

    # --- 2. map the columns ---------------------------------------------------------------------

    @get("/{token:str}/map", **DB)
    def map_form(self, request: Request, token: FromPath[str]) -> Response:
        step = _step(request, token, request.query_params.get("object") or "")
        if isinstance(step, Response):
            return step
        page, obj, up = step
        params = request.query_params
        encoding, sheet = _encoding(params.get("encoding") or ""), params.get("sheet") or ""
        from_job = params.get("job") or ""
        mapping = None
        if from_job.isdigit():
            job = page.runtime.imports.status(int(from_job), page.actor, page.access.unrestricted)
            if job is not None and job["object"] == obj.name:
                settings = (describe_job(page.runtime.engine, int(from_job)) or {}).get("settings") or {}
                mapping = {**(settings.get("mapping") or {}), "duplicates": settings.get("duplicates") or []}
                encoding = _encoding(settings.get("encoding") or encoding)
                sheet = settings.get("sheet") or sheet
        try:
            found = sample(up.path, encoding or None, sheet or None)
        except SourceError as exc:
            return _map_page(page, obj, up, None, Choices([], encoding=encoding, sheet=sheet), [_without_path(say(exc, page.lang), up)], 400)
        choices = (Choices.from_mapping(found.header, mapping, _suggested(page, obj, found.header)) if mapping is not None
                   else Choices.suggested(found.header, _suggested(page, obj, found.header)))
        choices.encoding, choices.sheet = encoding, sheet
        return _map_page(page, obj, up, found, choices, [])

    @post("/{token:str}/map", **DB)
    def refresh_map(self, request: Request, token: FromPath[str], data: FORM) -> Response:
        """The mapping form drawn again with what was chosen (its options follow the fields chosen; without JavaScript)."""
        step = _step(request, token, one(data, "object"))
        if isinstance(step, Response):
            return step
        page, obj, up = step
        choices = Choices.from_form(data)
        try:
            found = sample(up.path, choices.encoding or None, choices.sheet or None)
        except SourceError as exc:
            return _map_page(page, obj, up, None, choices, [_without_path(say(exc, page.lang), up)], 400)
        return _map_page(page, obj, up, found, choices.fitted(found.header, _suggested(page, obj, found.header)), [])

    @get("/{token:str}/column", **DB)
    def column_options(self, request: Request, token: FromPath[str]) -> Response:
        """The options of one column for the field just chosen (htmx swaps them in beside the field's menu)."""
        params = request.query_params
        step = _step(request, token, params.get("object") or "")
        if isinstance(step, Response):
            return step
        page, obj, up = step
        index = params.get("i") or ""
        try:
            found = sample(up.path, _encoding(params.get("encoding") or "") or None, params.get("sheet") or None)
        except SourceError as exc:
            return Response(_without_path(say(exc, page.lang), up), status_code=400, media_type="text/plain", headers=VARY)
        if not index.isdigit() or int(index) >= len(found.header):
            return page.render("error.html", status=404, title=page.t("Not found"), message=page.t("There is no page at this address."),
                               fragment=True)
        column = ColumnChoice.from_form(dict(params.multi_items()), int(index), found.header[int(index)])
        fields = import_fields(page, obj)
        return page.render("imports/_column.html", token=up.token, obj=obj, c=column, fields=fields,
                           o=column_view(page, obj, fields, column, found))

    @post("/{token:str}/mapping.json", **DB)
    def download_form_mapping(self, request: Request, token: FromPath[str], data: FORM) -> Response:
        """The mapping chosen on the form as a file, for ``tessera import --mapping``."""
        step = _step(request, token, one(data, "object"))
        if isinstance(step, Response):
            return step
        page, obj, up = step
        choices = Choices.from_form(data)
        mapping, problems = choices.mapping(page, obj, import_fields(page, obj))
        if problems:
            return self._map_again(page, obj, up, choices, problems, 400)
        return _mapping_file(obj, mapping)

    # --- 3. check: the dry run ------------------------------------------------------------------

    @post("/{token:str}/check", **DB)
    def check(self, request: Request, token: FromPath[str], data: FORM) -> Response:
        step = _step(request, token, one(data, "object"))
        if isinstance(step, Response):
            return step
        page, obj, up = step
        choices = Choices.from_form(data)
        mapping, problems = choices.mapping(page, obj, import_fields(page, obj))
        if problems:
            return self._map_again(page, obj, up, choices, problems, 400)
        options = ImportOptions(mapping=mapping, dry_run=True, encoding=choices.encoding or None, sheet=choices.sheet or None,
                                language=page.lang)
        try:
            job_id = page.runtime.imports.start(page.actor, obj.name, up, options)
        except MappingError as exc:
            return self._map_again(page, obj, up, choices, [say(p, page.lang) for p in exc.problems], 400)
        except SourceError as exc:
            return self._map_again(page, obj, up, choices, [_without_path(say(exc, page.lang), up)], 400)
        except Forbidden as exc:
            return self._map_again(page, obj, up, choices, [say(exc, page.lang)], 403)
        except UnknownObject:
            return _not_found(page)
        return Redirect(f"/import/jobs/{job_id}", status_code=303, headers=VARY)

    def _map_again(self, page: Page, obj: ObjectDef, up: Upload, choices: "Choices", problems: list[str], status: int) -> Response:
        """The mapping form with what was chosen and what is wrong with it."""
        try:
            found = sample(up.path, choices.encoding or None, choices.sheet or None)
        except SourceError as exc:
            return _map_page(page, obj, up, None, choices, [*problems, _without_path(say(exc, page.lang), up)], status)
        return _map_page(page, obj, up, found, choices.fitted(found.header, _suggested(page, obj, found.header)), problems, status)

    # --- 4. the job: progress, outcome, the real run ----------------------------------------------

    @get("/jobs/{job_id:int}", **DB)
    def job_page(self, request: Request, job_id: IdInPath) -> Response:
        page = page_for(request)
        if page.user is None:
            return sign_in_first(request)
        job = page.runtime.imports.status(job_id, page.actor, page.access.unrestricted)
        if job is None:
            return _not_found(page)
        return _job_page(page, job)

    @post("/jobs/{job_id:int}/run", **DB)
    def run(self, request: Request, job_id: IdInPath) -> Response:
        """The real run of a finished check, with exactly its settings."""
        page = page_for(request)
        if page.user is None:
            return sign_in_first(request)
        job = page.runtime.imports.status(job_id, page.actor, page.access.unrestricted)
        if job is None:
            return _not_found(page)
        resuming = _resumable(job)
        if not (job["dry_run"] and job["status"] == "done") and not resuming:
            return _job_page(page, job, [page.t("Only a finished check can be run.")], 409)
        with page.runtime.imports.starting(job_id):  # two clicks at once start one run
            if not resuming:
                earlier = real_run_of(page.runtime, job_id)
                if earlier is not None and earlier[1] == "running":  # a second click, the back button: that run's page
                    return Redirect(f"/import/jobs/{earlier[0]}", status_code=303, headers=VARY)
                if earlier is not None and earlier[1] == "done":
                    return _job_page(page, job, [page.t("What this check read has been imported already, by import {id}; "
                                                        "upload the file again to import it once more.", id=earlier[0])], 409)
            up = job_upload(page.runtime, job_id)
            if up is None:
                return _job_page(page, job, [page.t("The uploaded file is not kept any more; upload it again.")], 404)
            try:  # exactly what was checked (or, resuming, what ran): the API's real runs are started the same way
                options = replace(real_run_options(page.runtime, job_id), language=page.lang)
                run_id = page.runtime.imports.start(page.actor, job["object"], up, options)
            except MappingError as exc:
                return _job_page(page, job, [say(p, page.lang) for p in exc.problems], 400)
            except SourceError as exc:
                return _job_page(page, job, [_without_path(say(exc, page.lang), up)], 400)
            except Forbidden as exc:
                return _job_page(page, job, [say(exc, page.lang)], 403)
            except jobs.ImportBusy as exc:
                return _job_page(page, job, [say(exc, page.lang)], 409)
            except UnknownObject:
                return _not_found(page)
        return Redirect(f"/import/jobs/{run_id}", status_code=303, headers=VARY)

    @get("/jobs/{job_id:int}/rejected.csv", **DB)
    def rejected(self, request: Request, job_id: IdInPath) -> Response:
        """The rejected rows with their reason as the last column: fix them and import this file again."""
        page = page_for(request)
        if page.user is None:
            return sign_in_first(request)
        job = page.runtime.imports.status(job_id, page.actor, page.access.unrestricted)
        path = page.runtime.imports.rejected_file(job_id) if job is not None else None
        if path is None:
            return _not_found(page)
        stem = Path(job["source"]).stem
        return File(path, filename=f"{stem}-{'check-' if job['dry_run'] else ''}rejected.csv", media_type="text/csv; charset=utf-8",
                    headers=VARY)

    @get("/jobs/{job_id:int}/mapping.json", **DB)
    def download_job_mapping(self, request: Request, job_id: IdInPath) -> Response:
        """The mapping a job ran with, for ``tessera import --mapping``."""
        page = page_for(request)
        if page.user is None:
            return sign_in_first(request)
        job = page.runtime.imports.status(job_id, page.actor, page.access.unrestricted)
        if job is None:
            return _not_found(page)
        settings = (describe_job(page.runtime.engine, job_id) or {}).get("settings") or {}
        mapping = {"format": MAPPING_FORMAT, "object": job["object"], **(settings.get("mapping") or {})}
        if "columns" not in mapping and settings.get("columns"):  # an automatic mapping (a CLI import's): spelled out
            mapping["columns"] = dict(settings["columns"])
        if settings.get("duplicates"):
            mapping["duplicates"] = settings["duplicates"]
        try:
            obj = page.meta().object(job["object"])
        except UnknownObject:
            return _not_found(page)
        return _mapping_file(obj, mapping)


# --- what the form chooses ----------------------------------------------------------------------


@dataclass
class ColumnChoice:
    """One column of the file: the field it fills, how a lookup finds its record, replaced values, a second field."""

    index: int
    name: str
    field: str = ""
    match: str = ""
    values: str = ""  # one per line: text in the file = value
    also: str = ""

    @classmethod
    def from_form(cls, data: dict, index: int, name: str) -> "ColumnChoice":
        key = f"c{index}"
        return cls(index, name, one(data, key), one(data, f"{key}_match"), one(data, f"{key}_values"), one(data, f"{key}_also"))

    def entries(self, fields: dict[str, dict], problems: list[str], page: Page) -> Any:
        """The column as a mapping file has it: null, a field name, an entry or a list of them."""
        if not self.field:
            return None
        entry: dict[str, Any] = {"field": self.field}
        if self.match and fields.get(self.field, {}).get("lookup"):
            entry["match"] = self.match
        replaced = parse_values(self.values, self.name, problems, page)
        if replaced:
            entry["values"] = replaced
        items = [entry]
        if self.also and self.also != self.field:
            items.append({"field": self.also})
        if len(items) > 1:
            return items
        return entry if len(entry) > 1 else self.field


@dataclass
class Choices:
    columns: list[ColumnChoice]
    date_formats: str = ""
    keys: list[str] = field(default_factory=list)
    then: str = "update"
    encoding: str = ""
    sheet: str = ""

    @classmethod
    def suggested(cls, header: list[str], suggested: dict[str, str | None]) -> "Choices":
        return cls([ColumnChoice(i, name, suggested.get(name) or "") for i, name in enumerate(header)])

    @classmethod
    def from_mapping(cls, header: list[str], mapping: dict, suggested: dict[str, str | None]) -> "Choices":
        """The form for a mapping (a job's): what it names, and the automatic choice for columns it leaves out."""
        named = mapping.get("columns") or {}
        columns = []
        for index, name in enumerate(header):
            if name not in named:
                columns.append(ColumnChoice(index, name, suggested.get(name) or ""))
                continue
            value = named[name]
            items = value if isinstance(value, list) else [] if value is None else [value]
            items = [{"field": item} if isinstance(item, str) else item for item in items]
            first = items[0] if items else {}
            columns.append(ColumnChoice(index, name, first.get("field", ""), first.get("match", ""), values_text(first.get("values")),
                                        items[1]["field"] if len(items) > 1 else ""))
        rules = mapping.get("duplicates") or []
        keys = list(rules[0]["match"]) if rules else []
        return cls(columns, ", ".join(mapping.get("date_formats") or []), keys, rules[0]["then"] if rules else "update")

    @classmethod
    def from_form(cls, data: dict) -> "Choices":
        names = values(data, "column")
        columns = [ColumnChoice.from_form(data, index, name) for index, name in enumerate(names)]
        then = one(data, "then")
        return cls(columns, one(data, "date_formats"), [k for k in values(data, "keys") if k], then if then in THEN else "update",
                   _encoding(one(data, "encoding")), one(data, "sheet"))

    def fitted(self, header: list[str], suggested: dict[str, str | None]) -> "Choices":
        """The choices for the file's header as it is now (another encoding or sheet may name other columns,
        which start from the automatic mapping)."""
        if [c.name for c in self.columns] == header:
            return self
        by_name = {c.name: c for c in self.columns}
        columns = []
        for index, name in enumerate(header):
            known = by_name.get(name)
            columns.append(ColumnChoice(index, name, known.field, known.match, known.values, known.also) if known
                           else ColumnChoice(index, name, suggested.get(name) or ""))
        return Choices(columns, self.date_formats, self.keys, self.then, self.encoding, self.sheet)

    def mapping(self, page: Page, obj: ObjectDef, fields: list[dict]) -> tuple[dict, list[str]]:
        """The mapping file's JSON for these choices, checked against the mapping schema; or the problems of the form."""
        problems: list[str] = []
        by_name = {f["name"]: f for f in fields}
        columns = {}
        for column in self.columns:
            if column.name:
                columns[column.name] = column.entries(by_name, problems, page)
        mapping: dict[str, Any] = {"format": MAPPING_FORMAT, "object": obj.name, "columns": columns}
        formats = [f.strip() for f in self.date_formats.replace(";", ",").split(",") if f.strip()]
        if formats:
            mapping["date_formats"] = formats
        if self.keys:
            mapping["duplicates"] = [{"match": list(dict.fromkeys(self.keys)), "then": self.then}]
        if not problems:
            try:
                read_mapping(json.dumps(mapping), page.t("the mapping"))
            except MappingError as exc:
                problems += [say(p, page.lang) for p in exc.problems]
        return mapping, problems


def parse_values(text: str, column: str, problems: list[str], page: Page) -> dict[str, str | None]:
    """'technolgy = technology' lines as a mapping's ``values``; nothing after '=' leaves the field empty."""
    replaced: dict[str, str | None] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        before, equals, after = line.partition("=")
        if not equals or not before.strip():
            problems.append(page.t("Column “{column}”, replaced values, line {line}: write the text in the file, “=”, then the value.",
                                   column=column, line=number))
            continue
        replaced[before.strip()] = after.strip() or None
    return replaced


def values_text(replaced: dict | None) -> str:
    if not replaced:
        return ""
    shown = {True: "true", False: "false", None: ""}
    return "\n".join(f"{key} = {shown.get(value, value) if isinstance(value, (bool, type(None))) else value}"
                     for key, value in replaced.items())


# --- what the pages show ------------------------------------------------------------------------


@dataclass
class Sample:
    """The file's header and its first rows: examples per column, and the distinct values seen."""

    header: list[str]
    examples: list[list[str]]
    distinct: list[list[str]]
    rows: int
    encoding: str | None
    sheets: list[str]
    xlsx: bool


def sample(path: Path, encoding: str | None, sheet: str | None) -> Sample:
    stat = path.stat()
    return _sample(str(path), stat.st_size, stat.st_mtime_ns, encoding, sheet)


@functools.lru_cache(maxsize=16)
def _sample(path: str, _size: int, _mtime: int, encoding: str | None, sheet: str | None) -> Sample:
    """Read once per file and setting (the column fragments ask again as fields are chosen)."""
    source = open_source(Path(path), encoding, sheet)
    try:
        header = list(source.header)
        examples: list[list[str]] = []
        distinct: list[dict[str, None]] = [{} for _ in header]
        count = 0
        for row in source.rows():
            count += 1
            if len(examples) < EXAMPLES:
                examples.append([_glimpse(c) for c in row.cells])
            for index, cell in enumerate(row.cells[:len(header)]):
                text = cell.strip()
                if text and len(text) <= GLIMPSE and len(distinct[index]) < DISTINCT:  # hints of picklist values
                    distinct[index].setdefault(text, None)
            if count >= SAMPLE_ROWS:
                break
    finally:
        source.close()
    xlsx = Path(path).suffix.lower() in (".xlsx", ".xlsm")
    return Sample(header, examples, [list(d) for d in distinct], count, source.encoding, _sheets(Path(path)) if xlsx else [], xlsx)


def _sheets(path: Path) -> list[str]:
    import openpyxl  # noqa: PLC0415 - only XLSX files need it

    try:
        book = openpyxl.load_workbook(path, read_only=True)
    except Exception:  # the source opened it a moment ago; a sheet menu is not worth a failure
        return []
    try:
        return list(book.sheetnames)
    finally:
        book.close()


def import_fields(page: Page, obj: ObjectDef) -> list[dict]:
    """The fields a column may fill: those an import can fill and the user's role may change, and the owner."""
    access = page.access
    found = []
    for fdef in [*obj.active_fields(), _owner(page, obj)]:
        if not importable(fdef) or not access.visible(obj.name, fdef.name) or not access.writable(obj.name, fdef.name):
            continue
        found.append({"name": fdef.name, "label": fdef.label(page.lang), "type": fdef.type.name, "fdef": fdef,
                      "lookup": fdef.type.family == "relation" and bool(fdef.spec.get("target")),
                      "links": fdef.type.family == "relation" and fdef.type.multiple, "required": fdef.required})
    return found


def _owner(page: Page, obj: ObjectDef) -> FieldDef:
    spec = SYSTEM_FIELD_SPECS["owner"]
    return FieldDef("owner", page.runtime.registry[spec["type"]], spec, obj.name, False, "system")


def _suggested(page: Page, obj: ObjectDef, header: list[str]) -> dict[str, str | None]:
    """mapping.py's automatic choice for each column, kept where the form offers the field."""
    offered = {f["name"] for f in import_fields(page, obj)} | {"id"}
    return {column: name if name in offered else None for column, name in suggest_columns(obj, _owner(page, obj), page.access, header).items()}


def match_choices(page: Page, fdef: FieldDef) -> list[dict]:
    """What a lookup column may find its record by: the target's title field, its unique fields, its id, other plain fields."""
    try:
        target = page.meta().object(fdef.spec["target"])
    except UnknownObject:
        return []
    access, title = page.access, target.title_field
    candidates = [f for f in target.active_fields() if f.has_column and f.type.names_records and access.visible(target.name, f.name)]
    first = [f for f in candidates if f.name == title]
    unique = [f for f in candidates if f.spec.get("unique") and f.name != title]
    rest = [f for f in candidates if f not in first and f not in unique]
    shown = [{"name": f.name, "label": f.label(page.lang)} for f in first + unique]
    shown.append({"name": "id", "label": page.t("ID")})
    return shown + [{"name": f.name, "label": f.label(page.lang)} for f in rest]


def column_view(page: Page, obj: ObjectDef, fields: list[dict], column: ColumnChoice, found: Sample | None) -> dict:
    """What the options cell of a column shows for the field chosen."""
    chosen = next((f for f in fields if f["name"] == column.field), None)
    view: dict[str, Any] = {"matches": [], "allowed": [], "unknown": [], "more_unknown": 0, "type": chosen["type"] if chosen else ""}
    if chosen is None:
        return view
    fdef = chosen["fdef"]
    if chosen["lookup"]:
        view["matches"] = match_choices(page, fdef)
        view["default_match"] = page.meta().object(fdef.spec["target"]).title_field if fdef.spec.get("target") in page.meta().objects else ""
    view["links"] = chosen["links"]
    if fdef.type.single_choice and "values" in fdef.type.options:
        view["allowed"] = [f"{item['value']}" for item in fdef.spec.get("values", [])]
        if found is not None and column.index < len(found.distinct):
            replaced = {k.casefold() for k in parse_values(column.values, column.name, [], page)}
            unknown = [t for t in unknown_picklist_values(fdef, found.distinct[column.index]) if t.casefold() not in replaced]
            view["unknown"], view["more_unknown"] = unknown[:UNKNOWN_SHOWN], max(0, len(unknown) - UNKNOWN_SHOWN)
    return view


def _upload_page(page: Page, chosen: str, encoding: str, refusal: tuple[int, str] | None = None) -> Response:
    access = page.access
    objects = [o for o in page.meta().objects.values() if access.can(o.name, "create")]
    objects.sort(key=lambda o: (bool(o.spec.get("system")), plural(o, page.lang)))
    status, problem = refusal or (200, None)
    if refusal is None and chosen:
        _obj, found = _target(page, chosen)
        if found is not None:
            status, problem = found
    if refusal is None and not objects:
        status, problem = 403, page.t("Your role may not create records, so it may not import any.")
    return page.render("imports/upload.html", status=status, title=page.t("Import records"), problem=problem,
                       objects=[{"name": o.name, "label": plural(o, page.lang)} for o in objects], chosen=chosen,
                       encoding=encoding, encodings=_encodings(page))


def _map_page(page: Page, obj: ObjectDef, up: Upload, found: Sample | None, choices: Choices, problems: list[str],
              status: int = 200) -> Response:
    fields = import_fields(page, obj)
    rows = []
    for column in choices.columns:
        examples = [row[column.index] for row in (found.examples if found else []) if column.index < len(row) and row[column.index].strip()]
        rows.append({"c": column, "examples": examples, "o": column_view(page, obj, fields, column, found)})
    required = [f["label"] for f in fields if f["required"] and f["name"] not in {c.field for c in choices.columns} | {c.also for c in choices.columns}]
    return page.render("imports/map.html", status=status, title=page.t("Map the columns of {file}", file=up.name), obj=obj,
                       objects_title=plural(obj, page.lang), token=up.token, file=up.name, rows=rows, fields=fields, choices=choices,
                       problems=problems, sample=found, encodings=_encodings(page), required=required, then_choices=_then(page),
                       encoding_name=ENCODING_NAMES.get(found.encoding, found.encoding) if found and found.encoding else "",
                       key_fields=[{"name": "id", "label": page.t("ID")}] + [{"name": f["name"], "label": f["label"]} for f in fields])


def _job_page(page: Page, job: dict, problems: list[str] | None = None, status: int = 200) -> Response:
    try:
        obj = page.meta().object(job["object"])
        objects_title = plural(obj, page.lang)
    except UnknownObject:
        obj, objects_title = None, job["object"]
    view = job_view(page, job)
    template = "imports/_job.html" if page.htmx and not problems else "imports/job.html"
    title = (page.t("Check of {file}", file=job["source"]) if job["dry_run"] else page.t("Import of {file}", file=job["source"]))
    return page.render(template, status=status, title=title, job=job, v=view, obj=obj, object_name=job["object"],
                       objects_title=objects_title, problems=problems or [])


def job_view(page: Page, job: dict) -> dict:
    """A job as its page shows it: the bar, the counts, the first rejected rows, what may be done next."""
    stalled = _stalled(job)
    running = job["status"] == "running" and not stalled
    percent = 100 if job["status"] == "done" else int(max(0.0, min(1.0, job.get("progress") or 0.0)) * 100)
    kept = page.runtime.imports.rejected_rows(job["id"], REJECTIONS_SHOWN) if job["rejected"] else RejectedRows()
    numbers = [r["row"] for r in job.get("rejections") or []]
    if len(numbers) != job["rejected"] and len(numbers) < REPORTED_REJECTIONS:
        numbers = []  # a resumed run's report has only the rows since it resumed: the file's first rows are older ones
    rejected = [{"row": numbers[i] if i < len(numbers) else None, "reason": row[-1] if row else "", "cells": [_glimpse(c) for c in row[:-1]]}
                for i, row in enumerate(kept.rows)]
    warnings = list(job.get("warnings") or [])
    if kept.problem:
        warnings.append(page.t("The rejected rows cannot be shown: their file cannot be read. Upload the file again to check it once more."))
    upload_token, earlier = None, None
    if job["dry_run"]:
        found = job_upload(page.runtime, job["id"])
        upload_token = found.token if found is not None else None
        earlier = real_run_of(page.runtime, job["id"]) if job["status"] == "done" else None
    columns = job.get("columns")
    if columns is None:
        settings = (describe_job(page.runtime.engine, job["id"]) or {}).get("settings") or {}
        columns = [[column, name] for column, name in (settings.get("columns") or {}).items()]
    if job["dry_run"]:
        labels = {"created": page.t("Would be created"), "updated": page.t("Would be updated"), "skipped": page.t("Would be skipped"),
                  "rejected": page.t("Would be rejected")}
    else:
        labels = {"created": page.t("Created"), "updated": page.t("Updated"), "skipped": page.t("Skipped"), "rejected": page.t("Rejected")}
    if stalled:
        state = page.t("This import has not moved for a while: the server that ran it may have stopped. Start it again to go on from its last completed batch.")
    elif job["status"] == "running":
        state = page.t("Checking the file…") if job["dry_run"] else page.t("Importing…")
    elif job["status"] == "done":
        state = page.t("Check done: nothing was written.") if job["dry_run"] else page.t("Import done.")
    elif job["status"] == "interrupted":
        state = page.t("The import was interrupted.")
    else:
        state = page.t("The import stopped.")
    return {
        "running": running, "percent": percent, "state": state, "counts": [(key, labels[key], job[key]) for key in labels],
        "header": [_glimpse(h) for h in kept.header[:-1]], "rejected": rejected, "more_rejected": max(0, job["rejected"] - len(rejected)),
        "columns": columns, "ignored": job.get("ignored") or [], "warnings": warnings,
        "token": upload_token, "read": max(0, (job.get("next_row") or 2) - 2), "total": job.get("rows_total"),
        "may_run": job["dry_run"] and job["status"] == "done" and upload_token is not None and not (earlier and earlier[1] in ("running", "done")),
        "real_run": earlier[0] if earlier else None,
        "may_resume": _resumable(job),
    }


def _glimpse(text: str) -> str:
    """A cell as a table shows it: the start of a long one (the rejected-rows file keeps it whole)."""
    return text if len(text) <= GLIMPSE else text[:GLIMPSE - 1] + "…"


def _stalled(job: dict) -> bool:
    """A run that no process of this server is moving on: its own ended without saying so (a restart, say)."""
    return job["status"] == "running" and not job.get("running_here") and _quiet_since(job.get("updated_at")) > jobs.STALLED


def _resumable(job: dict) -> bool:
    """A real run that stopped before its end: started again with its settings, it goes on after its last completed batch."""
    return not job["dry_run"] and (job["status"] in ("failed", "interrupted") or _stalled(job))


def _quiet_since(updated_at: str | None) -> dt.timedelta:
    if not updated_at:
        return dt.timedelta(0)
    moved = dt.datetime.fromisoformat(updated_at)
    if moved.tzinfo is None:
        moved = moved.replace(tzinfo=dt.timezone.utc)
    return dt.datetime.now(dt.timezone.utc) - moved


def _mapping_file(obj: ObjectDef, mapping: dict) -> Response:
    body = json.dumps(mapping, ensure_ascii=False, indent=2)
    return Response(body, status_code=200, media_type="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{obj.name}-mapping.json"', **VARY})


# --- guards and small helpers -------------------------------------------------------------------


def _target(page: Page, name: str) -> tuple[ObjectDef | None, tuple[int, str] | None]:
    """The object to import into, or the status and sentence that refuse it."""
    if not name:
        return None, (400, page.t("Choose the object to import into."))
    try:
        obj = page.meta().object(name)
    except UnknownObject:
        return None, (404, page.t("There is no object '{name}'.", name=name))
    if not page.access.can(name, "create"):
        return None, (403, page.t("Your role may not {verb} {objects}.", verb=page.t("create"), objects=plural(obj, page.lang)))
    return obj, None


def _step(request: Request, token: str, object_name: str) -> tuple[Page, ObjectDef, Upload] | Response:
    """A step about an upload: the signed-in uploader (or an admin), the object they may create records of, the file."""
    page = page_for(request)
    if page.user is None:
        return sign_in_first(request)
    try:
        up = upload(page.runtime, token)
    except UploadError:
        return _not_found(page, page.t("The uploaded file is not known any more; upload it again."))
    if uploader(page.runtime, token) != page.user.user_id and not page.access.unrestricted:
        return _not_found(page, page.t("The uploaded file is not known any more; upload it again."))
    obj, refusal = _target(page, object_name)
    if refusal is not None:
        status, message = refusal
        titles = {404: page.t("Not found"), 403: page.t("Not allowed")}
        return page.render("error.html", status=status, title=titles.get(status) or page.t("This request could not be handled"),
                           message=message, fragment=page.htmx)
    return page, obj, up


def _not_found(page: Page, message: str | None = None) -> Response:
    return page.render("error.html", status=404, title=page.t("Not found"), message=message or page.t("There is no page at this address."),
                       fragment=page.htmx)


def _text(value: Any) -> str:
    if isinstance(value, list):
        value = value[-1] if value else ""
    return value.strip() if isinstance(value, str) else ""


def _encoding(name: str) -> str:
    return name if name in ENCODINGS else ""


def _encodings(page: Page) -> list[dict]:
    return [{"value": "", "label": page.t("Detect (UTF-8, UTF-16 or GBK)")}] + [{"value": e, "label": ENCODING_NAMES[e]} for e in ENCODINGS]


def _then(page: Page) -> list[dict]:
    return [{"value": "update", "label": page.t("update that record")}, {"value": "skip", "label": page.t("skip the row")},
            {"value": "create", "label": page.t("create a new record anyway")}]


def _upload_problem(page: Page, exc: UploadError) -> str:
    text = str(exc)
    if "is empty" in text:
        return page.t("The file is empty: choose a CSV or XLSX file whose first row names the columns.")
    if "is not a CSV or XLSX" in text:
        return page.t("This is not a CSV or XLSX file: its name must end with .csv, .txt or .xlsx.")
    return say(exc, page.lang)


def _without_path(message: str, up: Upload) -> str:
    """A file's problem named by the file's name, not by where the server keeps it."""
    return message.replace(str(up.path), up.name)
