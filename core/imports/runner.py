"""Running an import: read, convert, resolve lookups, find duplicates and write, batch by batch.

Each batch is one transaction through the record service (permissions, validation and
plugins' hooks apply) together with the job's progress, so a batch is written entirely
or not at all, and a resumed run starts after the last completed one. Lookups are
resolved with one query per lookup field and batch (plus a cache); new records are
inserted with one statement per batch. Rows that cannot be taken go to the rejected-rows
file: their original cells and a ``reason`` column.
"""

from __future__ import annotations

import csv
import gc
import io
import logging
import threading
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from core import private
from core.db import refresh_statistics
from core.imports import jobs
from core.imports.mapping import CellError, DuplicateRule, Plan, Target, build_plan, keep_text
from core.imports.sources import CELL_LIMIT, Row, Source, SourceError, open_source
from core.metadata.model import FieldDef
from core.records import Actor, BulkWriter, Forbidden
from core.validation import FieldError, RecordValidationError
from core.words import say, sentence, sentence_of

log = logging.getLogger("tessera.imports")

SHOWN_REJECTIONS = 1000  # the report lists this many; the rejected-rows file has them all
CACHE_LIMIT = 200_000  # lookup values remembered across batches
REASON_LIMIT = 1000
_VALUE, _LOOKUP, _ID = "value", "lookup", "id"  # where a cell's value goes (Importer._steps)


@dataclass
class ImportOptions:
    mapping: dict | None = None
    duplicates: list[dict] = field(default_factory=list)  # [{"match": [fields], "then": "update|skip|create"}]
    dry_run: bool = False
    encoding: str | None = None
    sheet: str | None = None
    batch_size: int = 1000
    rejected_path: Path | None = None  # default: NAME.rejected.csv in the current folder (NAME: the file's name)
    resume: bool = True
    language: str = "en"  # what the rejected rows' reasons are written in: the language of whoever started the import


@dataclass
class Rejection:
    row: int
    reason: str


@dataclass
class ImportReport:
    job_id: int
    object: str
    source: str
    dry_run: bool
    columns: list[tuple[str, str]]
    ignored: list[str]
    rejected_path: str
    status: str = "running"
    created: int = 0
    updated: int = 0
    skipped: int = 0
    rejected: int = 0
    last_row: int = 1
    progress: float = 0.0
    resumed_from: int | None = None
    message: str | None = None
    rejections: list[Rejection] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


class _FewerCollections:
    """The garbage collector's young generation collected every BULK_THRESHOLD allocations while imports run.

    Each batch keeps thousands of objects alive (its rows, their values, their errors) until
    it is written. With the default threshold (700) they were promoted to the oldest generation
    batch after batch and kept triggering full collections, each a walk over every object in
    the process: a sixth of an import's time at 300,000 rows. An import makes almost no
    reference cycles, so the garbage a larger threshold lets wait is small. The setting is the
    process's, so it is put back when the last import running in the process ends.
    """

    BULK_THRESHOLD = 50_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = 0
        self._saved: tuple[int, int, int] | None = None

    @contextmanager
    def during_import(self) -> Iterator[None]:
        with self._lock:
            if self._running == 0:
                self._saved = gc.get_threshold()
                gc.set_threshold(max(self.BULK_THRESHOLD, self._saved[0]), *self._saved[1:])
            self._running += 1
        try:
            yield
        finally:
            with self._lock:
                self._running -= 1
                if self._running == 0 and self._saved is not None:
                    gc.set_threshold(*self._saved)


FEWER_COLLECTIONS = _FewerCollections()


class ImportFailed(Exception):
    """The import stopped; the rows of completed batches stay written (see ``report``)."""

    def __init__(self, message: str, report: ImportReport | None = None) -> None:
        super().__init__(message)
        self.report = report


class Prepared:
    """One row on its way: converted values, lookups to resolve, problems, and what to do with it."""

    __slots__ = ("row", "values", "lookups", "given_id", "errors", "action", "record_id", "deferred")

    def __init__(self, row: Row) -> None:
        self.row = row
        self.values: dict[str, Any] = {}
        self.lookups: dict[str, str] = {}
        self.given_id: int | None = None
        self.errors: list[FieldError] = []
        self.action = "create"  # create | update | skip | counted (a dry run's update of a row it would create)
        self.record_id: int | None = None
        self.deferred: list[tuple[str, str]] = []  # self-references to rows later in the file


def run_import(runtime, actor: Actor, object_name: str, path: Path, options: ImportOptions | None = None,
               progress: Callable[[ImportReport], None] | None = None) -> ImportReport:
    """Import (or with ``options.dry_run`` check) FILE into OBJECT; see the module's docstring.

    ``progress`` is called with the report once the job exists (before the first batch) and after each batch.
    """
    return Importer(runtime, actor, object_name, Path(path), options or ImportOptions(), progress).run()


class Importer:
    def __init__(self, runtime, actor: Actor, object_name: str, path: Path, options: ImportOptions,
                 progress: Callable[[ImportReport], None] | None) -> None:
        self.runtime, self.actor, self.object_name, self.path, self.options = runtime, actor, object_name, path, options
        self.progress = progress
        self.caches: dict[tuple[str, str], dict[str, list[int]]] = {}
        self.seen: dict[tuple, int] = {}  # a dry run's keys of rows it would create
        self.file_values: dict[str, set[str]] = {}  # per self-referencing field: the values rows of this file give
        self._steps_of: tuple[Plan, list[tuple]] | None = None  # see _steps

    def run(self) -> ImportReport:
        """The whole import in this thread: the job, then its batches."""
        self.runtime.current_metadata().object(self.object_name)  # an unknown object is named before the file is read
        source = open_source(self.path, self.options.encoding, self.options.sheet)
        self.header, self.width = source.header, len(source.header)
        try:
            plan = self._plan(source)
            job, resumed = self._job(source, plan)
            return self._batches_of(source, plan, job, resumed)
        finally:
            source.close()

    def start(self, then: Callable[[Connection, jobs.Job], None]) -> ImportReport:
        """Make the job (or take over the unfinished run it resumes) without running it: ``then`` is called in the
        transaction that does, to enqueue its run (core/imports/background.py). What is wrong before the job exists (an
        unknown object, a bad mapping, an unreadable file, a role that may not create) is raised here. The report so
        far: the columns and the job."""
        self.runtime.current_metadata().object(self.object_name)
        source = open_source(self.path, self.options.encoding, self.options.sheet)
        self.header, self.width = source.header, len(source.header)
        try:
            plan = self._plan(source)
            job, resumed = self._job(source, plan, then)
            return self._report(job, plan, resumed)
        finally:
            source.close()

    def run_started(self, job: jobs.Job) -> ImportReport:
        """Run the batches of a job ``start`` made, from its next row."""
        source = open_source(self.path, self.options.encoding, self.options.sheet)
        self.header, self.width = source.header, len(source.header)
        try:
            return self._batches_of(source, self._plan(source), job, job.next_row > 2)
        finally:
            source.close()

    def _report(self, job: jobs.Job, plan: Plan, resumed: bool) -> ImportReport:
        return ImportReport(job.id, self.object_name, str(self.path), self.options.dry_run, plan.mapped(), plan.ignored,
                            job.rejected_path or "", resumed_from=job.next_row if resumed else None,
                            **job.counts, last_row=job.next_row - 1)

    def _batches_of(self, source: Source, plan: Plan, job: jobs.Job, resumed: bool) -> ImportReport:
        self.file_values = self._self_reference_values(plan)
        report = self._report(job, plan, resumed)
        if self.progress:
            self.progress(report)
        with FEWER_COLLECTIONS.during_import():
            self._run_batches(source, plan, job, report)
        return report

    # --- preparation -----------------------------------------------------------------------

    def _plan(self, source: Source) -> Plan:
        with self.runtime.reading() as (_conn, schema):
            obj = schema.meta.object(self.object_name)
            access = schema.access(self.actor)
            if not access.can(self.object_name, "create"):
                raise Forbidden(f"your role may not create {self.object_name} records", self.object_name, "create")
            self.fields: dict[str, FieldDef] = {**{f.name: f for f in obj.active_fields()}, **schema.system_fields(self.object_name)}
            self.objects = schema.meta.objects
            self.validator = schema.validator(self.object_name)
            return build_plan(obj, schema.system_fields(self.object_name)["owner"], schema.meta.objects, access, source.header,
                              self.options.mapping, self.options.duplicates, self.options.batch_size)

    def _self_reference_values(self, plan: Plan) -> dict[str, set[str]]:
        """For lookups to the same object: the values the file's rows give the matched field (a first pass)."""
        wanted = {t.field: t.lookup.match for t in plan.targets
                  if t.lookup and t.lookup.self_reference and not t.lookup.many and t.lookup.match != "id"}
        sources = {name: next((t for t in plan.targets if t.field == match), None) for name, match in wanted.items()}
        found: dict[str, set[str]] = {name: set() for name, target in sources.items() if target is not None}
        if not found:
            return {}
        reread = open_source(self.path, self.options.encoding, self.options.sheet)
        try:
            for row in reread.rows():
                for name in found:
                    try:
                        value = _converted(sources[name], row.cells)
                    except CellError:
                        continue
                    if value is not None:
                        found[name].add(str(value))
        finally:
            reread.close()
        return found

    def _job(self, source: Source, plan: Plan, then: Callable[[Connection, jobs.Job], None] | None = None) -> tuple[jobs.Job, bool]:
        engine = self.runtime.engine
        settings = {**plan.settings, "encoding": source.encoding, "sheet": self.options.sheet}
        if not self.options.dry_run and self.options.resume:
            job = jobs.resumable(engine, self.object_name, source.fingerprint, settings)
            if job is not None:
                jobs.claim(engine, job, then)
                return job, True
        rejected = (self.options.rejected_path or Path(self.path.name + ".rejected.csv")).absolute()
        job = jobs.start(engine, self.object_name, str(self.path), source.fingerprint, settings, self.options.dry_run,
                         source.rows_total, str(rejected), self.actor, then)
        return job, False

    # --- the batches -------------------------------------------------------------------------

    def _run_batches(self, source: Source, plan: Plan, job: jobs.Job, report: ImportReport) -> None:
        engine = self.runtime.engine
        rejected = RejectedFile(Path(job.rejected_path), source.header, job.rejected_bytes)
        job.rejected_bytes = rejected.size
        try:
            for batch in self._batches(source, plan, job.next_row):
                self._run_batch(batch, plan, job, report, rejected)
                report.last_row, report.progress = batch[-1].row.number, source.progress()
                if self.progress:
                    self.progress(report)
            self._finish_pending(job, plan, report)
        except KeyboardInterrupt:
            rejected.cut(job.rejected_bytes)
            jobs.finish(engine, job, "interrupted", f"interrupted after row {job.next_row - 1}")
            report.status = "interrupted"
            raise
        except (SourceError, jobs.JobTaken, Forbidden) as exc:
            self._fail(job, report, rejected, say(exc, self.options.language))
        except Exception as exc:
            self._fail(job, report, rejected, f"row {report.last_row + 1} or after: {type(exc).__name__}: {exc}", exc)
        finally:
            rejected.close()
        jobs.finish(engine, job, "done")
        if not job.dry_run:
            try:
                refresh_statistics(engine, job.object)
            except DBAPIError:  # the rows are in; fresh statistics are a help the next start gives again
                log.warning("import job %s: the planner statistics of %s could not be refreshed", job.id, job.object, exc_info=True)
        report.status, report.progress = "done", 1.0

    def _fail(self, job: jobs.Job, report: ImportReport, rejected: "RejectedFile", message: str, cause: Exception | None = None):
        rejected.cut(job.rejected_bytes)
        done = f"rows up to {job.next_row - 1} are done" if job.next_row > 2 and not job.dry_run else "nothing was written"
        message = f"{message} ({done})"
        jobs.finish(self.runtime.engine, job, "failed", message)
        report.status, report.message = "failed", message
        raise ImportFailed(message, report) from cause

    def _batches(self, source: Source, plan: Plan, start: int) -> Iterator[list[Prepared]]:
        """Rows in batches of ``plan.batch_size``; a row whose duplicate key repeats one of its batch starts the next
        batch, so that it meets the record the earlier row wrote."""
        cutting = [r for r in plan.rules if r.then != "create"]
        batch: list[Prepared] = []
        keys: set = set()
        prepare, size = self._prepare, plan.batch_size
        for row in source.rows():
            if row.number < start:
                continue
            prepared = prepare(row, plan)
            if cutting:
                row_keys = {(i, key) for i, rule in enumerate(cutting) if (key := _raw_key(prepared, rule)) is not None}
                if batch and not keys.isdisjoint(row_keys):
                    yield batch
                    batch, keys = [], set()
                keys |= row_keys
            batch.append(prepared)
            if len(batch) >= size:  # written before the next row is read, which may be unreadable
                yield batch
                batch, keys = [], set()
        if batch:
            yield batch

    def _prepare(self, row: Row, plan: Plan) -> Prepared:
        prepared = Prepared(row)
        cells, width = row.cells, self.width
        if len(cells) != width and not (len(cells) > width and all(not c.strip() for c in cells[width:])):
            prepared.errors.append(FieldError.coded("", "cell_count", cells=len(cells), columns=width))
            return prepared
        if max(map(len, cells), default=0) > CELL_LIMIT:
            prepared.errors.append(FieldError("", self._too_long(cells)))
            return prepared
        values, lookups = prepared.values, prepared.lookups
        for column, name, trim, convert, kind in self._steps(plan):  # what _converted does, per cell
            text = cells[column]
            if trim:
                text = text.strip()
            if not text:
                continue
            if convert is not None:
                try:
                    text = convert(text)
                except CellError as exc:
                    prepared.errors.append(FieldError(name, sentence_of(exc) or str(exc)))
                    continue
                if text is None:
                    continue
            if kind is _VALUE:
                values[name] = text
            elif kind is _LOOKUP:
                lookups[name] = text if type(text) is tuple else str(text)  # a tuple: a many-to-many cell's texts
            else:
                prepared.given_id = text
        return prepared

    def _too_long(self, cells: list[str]) -> str:
        number, cell = next((n, c) for n, c in enumerate(cells, start=1) if len(c) > CELL_LIMIT)
        return (f"column '{self.header[number - 1]}' (column {number}): the cell has {len(cell):,} characters; "
                f"a cell may have at most {CELL_LIMIT:,}")

    def _steps(self, plan: Plan) -> list[tuple]:
        """Per target: (column, field, trim, converter or None for text kept as it is, where the value goes)."""
        steps = self._steps_of
        if steps is None or steps[0] is not plan:
            kinds = [_ID if t.key_only else _LOOKUP if t.lookup is not None and t.lookup.match != "id" else _VALUE for t in plan.targets]
            self._steps_of = steps = (plan, [(t.column, t.field, t.trim, None if t.convert is keep_text else t.convert, kind)
                                             for t, kind in zip(plan.targets, kinds)])
        return steps[1]

    def _run_batch(self, batch: list[Prepared], plan: Plan, job: jobs.Job, report: ImportReport, rejected: "RejectedFile") -> None:
        before = (job.next_row, job.counts, job.rejected_bytes, list(job.pending))
        try:
            self._write_batch(batch, plan, job, report, rejected)
        except BaseException:
            job.next_row, counts, job.rejected_bytes, job.pending = before
            for name, value in counts.items():
                setattr(job, name, value)
                setattr(report, name, value)
            raise

    def _write_batch(self, batch: list[Prepared], plan: Plan, job: jobs.Job, report: ImportReport, rejected: "RejectedFile") -> None:
        dry_run = self.options.dry_run
        with self.runtime.records.bulk(self.actor, self.object_name, dry_run=dry_run) as writer:
            self._resolve(writer, batch, plan)
            self._classify(writer, batch, plan)
            self._write(writer, batch)
            if not dry_run:
                self._queue_deferred(batch, job)
                self._fix_references(writer, job, plan, report)
            self._count(batch, plan, job, report, rejected)
            if not dry_run:
                jobs.save_progress(writer.connection, job, batch[-1].row.number + 1)
        if dry_run:
            jobs.save_dry_progress(self.runtime.engine, job, batch[-1].row.number + 1)

    # --- lookups -----------------------------------------------------------------------------

    def _resolve(self, writer: BulkWriter, batch: list[Prepared], plan: Plan) -> None:
        for target in plan.targets:
            lookup = target.lookup
            if lookup is None or lookup.match == "id":
                continue
            if lookup.many:
                self._resolve_links(writer, batch, target)
                continue
            texts = {p.lookups[target.field] for p in batch if target.field in p.lookups}
            if not texts:
                continue
            ids = self._lookup_ids(writer, lookup, texts)
            single = {text: found[0] for text, found in ids.items() if len(found) == 1}
            name = target.field
            for prepared in batch:
                text = prepared.lookups.get(name)
                if text is None:
                    continue
                record_id = single.get(text)
                if record_id is not None:
                    prepared.values[name] = record_id
                    continue
                found = ids.get(text, [])
                if not found and text in self.file_values.get(target.field, ()):
                    prepared.deferred.append((target.field, text))
                elif not found:
                    prepared.errors.append(FieldError.coded(target.field, "no_match", object=lookup.target, match=lookup.match, value=f"'{_short(text)}'"))
                else:
                    shown = ", ".join(map(str, found[:5]))
                    prepared.errors.append(FieldError.coded(target.field, "several_match", value=_short(text), match=lookup.match,
                                                            count=len(found), object=lookup.target, ids=shown))

    def _resolve_links(self, writer: BulkWriter, batch: list[Prepared], target: Target) -> None:
        """A many-to-many column: each text of a cell must find exactly one record (the links are all or none)."""
        lookup, name = target.lookup, target.field
        texts = {text for p in batch for text in p.lookups.get(name, ())}
        if not texts:
            return
        ids = self._lookup_ids(writer, lookup, texts)
        for prepared in batch:
            given = prepared.lookups.get(name)
            if given is None:
                continue
            missing = [t for t in given if not ids.get(t)]
            several = [t for t in given if len(ids.get(t, [])) > 1]
            if missing:
                shown = ", ".join(f"'{_short(t)}'" for t in missing[:5])
                prepared.errors.append(FieldError.coded(name, "no_match", object=lookup.target, match=lookup.match, value=shown))
            elif several:
                prepared.errors.append(FieldError.coded(name, "several_match_no_ids", value=_short(several[0]), match=lookup.match,
                                                        count=len(ids[several[0]]), object=lookup.target))
            else:
                prepared.values[name] = [ids[t][0] for t in given]

    def _lookup_ids(self, writer: BulkWriter, lookup, texts: set[str]) -> dict[str, list[int]]:
        # A self-reference is never cached: this import creates the records it finds.
        cache = {} if lookup.self_reference else self.caches.setdefault((lookup.target, lookup.match), {})
        missing = [t for t in texts if t not in cache]
        if missing:
            match_field = self.objects[lookup.target].fields[lookup.match]
            queried: dict[Any, str] = {}
            for text in missing:
                try:
                    queried[match_field.type.parse(text, match_field.spec)] = text
                except (ValueError, TypeError):
                    cache[text] = []
            found = writer.find(lookup.target, lookup.match, list(queried)) if queried else {}
            if len(cache) + len(queried) > CACHE_LIMIT:
                cache.clear()
            for value, text in queried.items():
                cache[text] = found.get(value, [])
        return {t: cache.get(t, []) for t in texts}

    # --- duplicates --------------------------------------------------------------------------

    def _classify(self, writer: BulkWriter, batch: list[Prepared], plan: Plan) -> None:
        undecided = [p for p in batch if not p.errors]
        for rule in plan.rules:
            keyed: dict[tuple, list[Prepared]] = {}
            for prepared in undecided:
                key = self._key(prepared, rule)
                if key is not None:
                    keyed.setdefault(key, []).append(prepared)
            if not keyed:
                continue
            fields = rule.match[0] if len(rule.match) == 1 else rule.match
            found = writer.find(self.object_name, fields, [k[0] if len(rule.match) == 1 else k for k in keyed])
            decided = set()
            for key, rows in keyed.items():
                ids = found.get(key[0] if len(rule.match) == 1 else key, [])
                for prepared in rows:
                    if self._decide(prepared, rule, ids, key):
                        decided.add(id(prepared))
            undecided = [p for p in undecided if id(p) not in decided]
        if self.options.dry_run and plan.rules:
            for prepared in batch:
                if prepared.action == "create" and not prepared.errors:
                    for rule in plan.rules:
                        key = self._key(prepared, rule)
                        if key is not None:
                            self.seen.setdefault((rule.match, key), prepared.row.number)

    def _decide(self, prepared: Prepared, rule: DuplicateRule, ids: list[int], key: tuple) -> bool:
        """Apply a rule to a row; True when the rule settled what happens to it."""
        by = ", ".join(rule.match)
        if len(ids) > 1:
            prepared.errors.append(FieldError.coded("", "matches_several", count=len(ids), object=self.object_name, by=by,
                                                    ids=", ".join(map(str, ids[:5]))))
            return True
        earlier = self.seen.get((rule.match, key)) if self.options.dry_run and not ids else None
        if not ids and earlier is None:
            return False
        if rule.then == "skip":
            prepared.action = "skip"
        elif rule.then == "update":
            prepared.action, prepared.record_id = ("update", ids[0]) if ids else ("counted", None)
        return True

    def _key(self, prepared: Prepared, rule: DuplicateRule) -> tuple | None:
        key = []
        for name in rule.match:
            value = prepared.given_id if name == "id" else prepared.values.get(name)
            if value is None:
                return None
            if name != "id":
                fdef = self.fields[name]
                try:
                    value = fdef.type.parse(value, fdef.spec)
                except (ValueError, TypeError):
                    return None  # the validator reports it
            key.append(value)
        return tuple(key)

    # --- writing -----------------------------------------------------------------------------

    def _write(self, writer: BulkWriter, batch: list[Prepared]) -> None:
        for prepared in batch:
            if prepared.errors and prepared.action == "create":
                self._add_validation_errors(prepared)
        creates = [p for p in batch if p.action == "create" and not p.errors]
        if creates:
            ids, refused = writer.create([p.values for p in creates])
            for index, prepared in enumerate(creates):
                if index in refused:
                    prepared.errors.extend(refused[index])
                else:
                    prepared.record_id = ids[index]
        updates = [p for p in batch if p.action == "update" and not p.errors and p.values]
        if updates:
            for index, errors in writer.update_many([(p.record_id, p.values) for p in updates]).items():
                updates[index].errors.extend(errors)

    def _add_validation_errors(self, prepared: Prepared) -> None:
        """A row refused before the record service saw it: add what validation says about its other fields."""
        failed = {e.field for e in prepared.errors}
        if "" in failed:
            return  # the row itself is malformed
        values = {k: v for k, v in prepared.values.items() if k not in failed}
        try:
            self.validator.validate(values, partial=False)
        except RecordValidationError as exc:
            prepared.errors.extend(e for e in exc.errors if e.field not in failed and e not in prepared.errors)

    # --- self-references ---------------------------------------------------------------------

    def _queue_deferred(self, batch: list[Prepared], job: jobs.Job) -> None:
        for prepared in batch:
            if prepared.deferred and prepared.record_id is not None and not prepared.errors:
                for name, text in prepared.deferred:
                    job.pending.append({"row": prepared.row.number, "id": prepared.record_id, "field": name, "value": text})

    def _fix_references(self, writer: BulkWriter, job: jobs.Job, plan: Plan, report: ImportReport) -> None:
        """Set the self-references whose record now exists; the others wait for a later batch."""
        if not job.pending:
            return
        lookups = {t.field: t.lookup for t in plan.targets if t.lookup is not None}
        waiting = []
        for name, lookup in lookups.items():
            items = [item for item in job.pending if item["field"] == name]
            if not items:
                continue
            found = writer.find(lookup.target, lookup.match, list({item["value"] for item in items}))
            for item in items:
                ids = found.get(item["value"], [])
                if not ids:
                    waiting.append(item)
                elif len(ids) > 1:
                    report.warnings.append(f"row {item['row']}: {name} was left empty: '{_short(item['value'])}' is the "
                                           f"{lookup.match} of {len(ids)} {lookup.target} records")
                else:
                    problems = writer.update(item["id"], {name: ids[0]})
                    if problems:
                        report.warnings.append(f"row {item['row']}: {name} was left empty: {_reason(problems, plan, self.options.language)}")
        job.pending = waiting

    def _finish_pending(self, job: jobs.Job, plan: Plan, report: ImportReport) -> None:
        lookups = {t.field: t.lookup for t in plan.targets if t.lookup is not None}
        for item in job.pending:
            lookup = lookups.get(item["field"])
            report.warnings.append(f"row {item['row']}: {item['field']} was left empty: no {lookup.target if lookup else 'record'} "
                                   f"with the {lookup.match if lookup else 'value'} '{_short(item['value'])}' was imported")

    # --- counting ----------------------------------------------------------------------------

    def _count(self, batch: list[Prepared], plan: Plan, job: jobs.Job, report: ImportReport, rejected: "RejectedFile") -> None:
        refused = []
        for prepared in batch:
            if prepared.errors:
                reason = _reason(prepared.errors, plan, self.options.language)
                refused.append((prepared.row.cells, reason))
                job.rejected += 1
                if len(report.rejections) < SHOWN_REJECTIONS:
                    report.rejections.append(Rejection(prepared.row.number, reason))
            elif prepared.action == "create":
                job.created += 1
            elif prepared.action in ("update", "counted"):
                job.updated += 1
            else:
                job.skipped += 1
        job.rejected_bytes = rejected.append(refused)
        report.created, report.updated, report.skipped, report.rejected = job.created, job.updated, job.skipped, job.rejected


def _converted(target: Target, cells: list[str]) -> Any:
    text = cells[target.column] if target.column < len(cells) else ""
    if target.trim:
        text = text.strip()
    if not text:
        return None
    return target.convert(text)


def _raw_key(prepared: Prepared, rule: DuplicateRule) -> tuple | None:
    key = []
    for name in rule.match:
        value = prepared.given_id if name == "id" else prepared.values.get(name, prepared.lookups.get(name))
        if value is None:
            return None
        key.append(str(value))
    return tuple(key)


def _reason(errors: list[FieldError], plan: Plan, lang: str = "en") -> str:
    """Why a row was refused, in ``lang``: each problem after its field (and the column it came from)."""
    parts = []
    for error in errors:
        column = plan.column_of(error.field) if error.field else None
        where = say(sentence("field_in_column", field=error.field, column=column), lang) if column and column != error.field else error.field
        parts.append(f"{where}: {error.worded(lang)}" if where else error.worded(lang))
    text = "; ".join(dict.fromkeys(parts))
    return text if len(text) <= REASON_LIMIT else text[: REASON_LIMIT - 3] + "..."


def _short(text: str) -> str:
    return text if len(text) <= 80 else text[:77] + "..."


class RejectedFile:
    """The rejected rows as CSV (UTF-8 with a BOM, for spreadsheets): the original columns plus ``reason``.

    The file is made at the first rejected row: a run that rejects nothing leaves none (and
    removes one an earlier run left at the same place). A resumed run cuts it back to its
    length after the last completed batch.
    """

    def __init__(self, path: Path, header: list[str], keep_bytes: int) -> None:
        self.path, self._header = path, header
        self._file: io.BufferedRandom | io.BufferedWriter | None = None
        self.size = 0
        if keep_bytes > 0 and path.is_file() and path.stat().st_size >= keep_bytes:
            self._file = path.open("r+b")
            self.cut(keep_bytes)
            self.size = keep_bytes
        else:
            path.unlink(missing_ok=True)

    @staticmethod
    def _encode(rows: list[list[str]], bom: bool = False) -> bytes:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerows(rows)
        return ("\ufeff" if bom else "").encode("utf-8") + buffer.getvalue().encode("utf-8")

    def append(self, rows: list[tuple[list[str], str]]) -> int:
        """Add rows; the file's length after them."""
        if rows:
            if self._file is None:
                self._file = open(self.path, "wb", opener=private.opener)
                self._file.write(self._encode([self._header + ["reason"]], bom=True))
            self._file.write(self._encode([list(cells) + [reason] for cells, reason in rows]))
            self._file.flush()
            self.size = self._file.tell()
        return self.size

    def cut(self, length: int) -> None:
        """Back to ``length`` bytes, the rows of completed batches; none at all for 0."""
        if self._file is None or self._file.closed:
            return
        if length:
            self._file.truncate(length)
            self._file.seek(length)
        else:
            self._file.close()
            self.path.unlink(missing_ok=True)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
