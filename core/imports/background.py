"""Imports started over the web (the UI's wizard and the API): uploaded files and background runs.

An uploaded file is kept under ``<files folder>/imports/<token>/`` (Settings.files_path()),
and is named afterwards by its token alone, so a request can never point an import at
another file of the server. A run (a dry run or the real one) is a job of the one job queue
(core/queue.py): kind ``import.run``, queue ``imports``, enqueued in the transaction that makes
the import's own job row (core/imports/jobs.py), which says how far it is to every process.
A worker runs it (``tessera serve`` embeds one, with a worker of its own for the ``imports``
queue so that a long import holds up no webhook or e-mail; ``tessera worker`` is one). A
queue job run again (its worker stopped, its lease ran out) looks at the import's row first:
an import that ended is not run again, and one that stopped half-way goes on after its last
completed batch. The process that runs an import also keeps its report (rejections with row
numbers, warnings) while it lives.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
import secrets
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Iterable

from core import private, queue
from core.imports import jobs
from core.imports.runner import Importer, ImportFailed, ImportOptions, ImportReport
from core.imports.sources import csv_reader
from core.records import Actor
from core.words import say, sentence

SUFFIXES = (".csv", ".txt", ".xlsx")
_TOKEN = re.compile(r"^[0-9a-f]{32}$")
_UNSAFE = re.compile(r"[^\w.\- ]+")
CHUNK = 1 << 20


class UploadError(ValueError):
    """An uploaded file that cannot be taken, or a token that names none."""


@dataclass
class RejectedRows:
    """The first rows of a job's rejected-rows file, or the problem that kept them from being read."""

    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    problem: str | None = None


class Upload:
    def __init__(self, token: str, path: Path) -> None:
        self.token, self.path = token, path

    @property
    def name(self) -> str:
        return self.path.name


def save_upload(runtime, filename: str, content: bytes | IO[bytes] | Iterable[bytes]) -> Upload:
    """Keep an uploaded file (bytes, a binary file or chunks) and return its token and path."""
    name = _safe_name(filename)
    remove_old_uploads(runtime)
    token = secrets.token_hex(16)
    folder = private.folder(_imports_folder(runtime) / token)
    path = folder / name
    with open(path, "wb", opener=private.opener) as out:
        for chunk in _chunks(content):
            out.write(chunk)
    if path.stat().st_size == 0:
        shutil.rmtree(folder, ignore_errors=True)
        raise UploadError(sentence("upload_empty", file=name))
    return Upload(token, path)


def upload(runtime, token: str) -> Upload:
    """The upload a token names."""
    if not isinstance(token, str) or not _TOKEN.match(token):
        raise UploadError(sentence("upload_unknown"))
    folder = _imports_folder(runtime) / token
    files = [p for p in folder.iterdir() if p.is_file()] if folder.is_dir() else []  # rejected rows are in a subfolder
    if not files:
        raise UploadError(sentence("upload_gone"))
    return Upload(token, files[0])


def remove_old_uploads(runtime, now: float | None = None) -> list[str]:
    """Remove the uploads (with their rejected rows) untouched for Settings.upload_retention_days; return their tokens.

    "Touched" is the newest change of the folder's files (a run rewrites its rejected-rows file);
    an upload that a job still runs on (status running, updated within the retention) is kept.
    """
    days = runtime.settings.upload_retention_days
    folder = _imports_folder(runtime)
    if days <= 0 or not folder.is_dir():
        return []
    limit = (time.time() if now is None else now) - days * 86_400
    removed = []
    for candidate in folder.iterdir():
        if candidate.is_dir() and _TOKEN.match(candidate.name) and _last_change(candidate) < limit \
                and not _running_on(runtime, candidate, limit):
            shutil.rmtree(candidate, ignore_errors=True)
            _uploader_path(runtime, candidate.name).unlink(missing_ok=True)
            removed.append(candidate.name)
    return removed


def _last_change(folder: Path) -> float:
    try:
        return max([folder.stat().st_mtime, *(p.stat().st_mtime for p in folder.rglob("*"))])
    except OSError:  # removed meanwhile
        return time.time()


def _running_on(runtime, folder: Path, limit: float) -> bool:
    from sqlalchemy import select  # noqa: PLC0415

    from core.coretables import import_job  # noqa: PLC0415
    from core.db import read_transaction  # noqa: PLC0415

    since = dt.datetime.fromtimestamp(limit, dt.timezone.utc)
    files = [str(p) for p in folder.iterdir() if p.is_file()]
    if not files:
        return False
    with read_transaction(runtime.engine) as conn:
        return conn.execute(select(import_job.c.id).where(import_job.c.source.in_(files), import_job.c.status == "running",
                                                          import_job.c.updated_at >= since).limit(1)).first() is not None


def rejected_path(up: Upload, dry_run: bool) -> Path:
    """Where a run of the upload writes its rejected rows: a subfolder, so the upload stays the folder's one file."""
    return private.folder(up.path.parent / "rejected") / f"{up.path.stem}{'.check' if dry_run else ''}.rejected.csv"


def _imports_folder(runtime) -> Path:
    return runtime.settings.files_path().absolute() / "imports"


def _safe_name(filename: str) -> str:
    name = _UNSAFE.sub("_", Path(filename or "").name).strip(" .") or "upload.csv"
    if not name.lower().endswith(SUFFIXES):
        raise UploadError(sentence("upload_not_a_table", file=name))
    return name[-120:]


def _chunks(content) -> Iterable[bytes]:
    if isinstance(content, (bytes, bytearray)):
        yield bytes(content)
    elif hasattr(content, "read"):
        while chunk := content.read(CHUNK):
            yield chunk
    else:
        yield from content


KIND = "import.run"  # the queue job that runs an import (a check or the real run)
QUEUE = "imports"
WAIT_LOOK = 0.05  # seconds between looks of ``wait`` at an import another worker runs


class BackgroundImports:
    """Starts imports as jobs of the queue, runs them (the handler of ``import.run``) and remembers the reports of the
    runs of this process."""

    def __init__(self, runtime) -> None:
        self.runtime = runtime
        self._lock = threading.Lock()
        self._reports: dict[int, ImportReport] = {}  # the runs of this process: rejections with row numbers, warnings
        self._plans: dict[int, tuple[list, list]] = {}  # the columns and ignored ones of the jobs started here
        self._running: set[int] = set()
        self._starting: dict[int, threading.Lock] = {}

    def starting(self, job_id: int) -> threading.Lock:
        """The lock to hold while deciding whether to start the real run of a checked job (or resume a run) and
        starting it: the UI's and the API's requests of this process take the same one, so two clicks or calls at
        once start one run."""
        with self._lock:
            return self._starting.setdefault(job_id, threading.Lock())

    def start(self, actor: Actor, object_name: str, up: Upload, options: ImportOptions) -> int:
        """Make the import's job row and enqueue its run (``import.run``, queue ``imports``) in one transaction; its id.

        What fails before the job exists (an unknown object, a bad mapping, an unreadable
        file, a role that may not create, another run of the file going on) is raised here, in the caller.
        """
        options.rejected_path = rejected_path(up, options.dry_run)

        def enqueue(conn, job: jobs.Job) -> None:
            queue.enqueue(conn, KIND, {"import": job.id, "object": object_name, "file": str(up.path),
                                       "actor": {"user_id": actor.user_id, "name": actor.name, "permission_set": actor.permission_set},
                                       "options": _options_payload(options)}, queue=QUEUE)

        report = Importer(self.runtime, actor, object_name, up.path, options, None).start(enqueue)
        with self._lock:
            self._plans[report.job_id] = ([list(pair) for pair in report.columns], list(report.ignored))
            self._reports.pop(report.job_id, None)  # a resumed run's report is made afresh
        return report.job_id

    def run(self, job: queue.Job) -> None:
        """Run the import a queue job names, from its next row, unless it ended already: a queue job run again (its
        worker stopped and its lease ran out) goes on after the last completed batch and never imports a row twice.
        A run's failure is the import's (its row says why, and a real run resumes from the import's page), not the
        queue job's."""
        engine, payload = self.runtime.engine, job.payload
        found = jobs.load(engine, payload["import"])
        if found is None or found.status != "running":
            return
        if job.attempts > 1:  # its worker stopped: taken over once nobody moved it on for jobs.STALLED (ImportBusy: later)
            jobs.claim(engine, found)
        extended = [time.monotonic()]

        def remember(report: ImportReport) -> None:
            with self._lock:
                self._reports[report.job_id] = report
            if time.monotonic() - extended[0] > queue.LEASE.total_seconds() / 4:  # a long import keeps its lease
                queue.extend(engine, job, job.worker)
                extended[0] = time.monotonic()

        options = _options_of(payload["options"])
        importer = Importer(self.runtime, Actor(**payload["actor"]), payload["object"], Path(payload["file"]), options, remember)
        with self._lock:
            self._running.add(found.id)
        try:
            importer.run_started(found)
        except ImportFailed:
            pass  # the job row and the kept report say why
        except Exception as exc:  # noqa: BLE001 - before its batches (the file gone, the mapping no longer fits): the import failed
            jobs.finish(engine, found, "failed", f"{say(exc, options.language)} (nothing was written)"
                        if found.next_row <= 2 else f"{say(exc, options.language)} (rows up to {found.next_row - 1} are done)")
        finally:
            with self._lock:
                self._running.discard(found.id)

    def wait(self, job_id: int, timeout: float | None = None) -> bool:
        """Wait for an import to end; True when it has (or does not exist), False after ``timeout`` seconds. While
        nobody runs it (no worker in this process: a test, a command), its queue job runs here, in this thread."""
        deadline = None if timeout is None else time.monotonic() + timeout
        worker = queue.Worker(self.runtime, {KIND: run_job}, [QUEUE])
        while True:
            found = jobs.load(self.runtime.engine, job_id)
            if found is None or found.status != "running":
                return True
            if deadline is not None and time.monotonic() > deadline:
                return False
            if worker.run_once() is None:
                time.sleep(WAIT_LOOK)

    def held(self, job_id: int) -> bool:
        """Whether a run of this import is going on here, or is in the queue (waiting, or running under a live lease)."""
        if job_id in self._running:
            return True
        from sqlalchemy import select  # noqa: PLC0415

        from core.coretables import job as job_table  # noqa: PLC0415
        from core.db import read_transaction  # noqa: PLC0415

        c = job_table.c
        with read_transaction(self.runtime.engine) as conn:
            rows = conn.execute(select(c.payload, c.state, c.locked_until).where(c.kind == KIND, c.state.in_(("queued", "running")))).all()
        moment = queue.now()
        return any(payload.get("import") == job_id and (state == "queued" or _aware(locked_until) > moment)
                   for payload, state, locked_until in rows)

    def status(self, job_id: int, actor: Actor | None = None, admin: bool = False) -> dict | None:
        """The job as the UI and the API show it; None when it does not exist or is not the actor's."""
        job = jobs.describe(self.runtime.engine, job_id)
        if job is None or (actor is not None and not admin and job["created_by"] != actor.user_id):
            return None
        report, plan = self._reports.get(job_id), self._plans.get(job_id)
        job["running_here"] = job["status"] == "running" and self.held(job_id)
        job["progress"] = 1.0 if job["status"] == "done" else (report.progress if report else _ratio(job))
        job["warnings"] = list(report.warnings) if report else []
        job["rejections"] = [{"row": r.row, "reason": r.reason} for r in report.rejections] if report else None
        job["columns"] = [list(pair) for pair in report.columns] if report else (plan[0] if plan else None)
        job["ignored"] = list(report.ignored) if report else (plan[1] if plan else None)
        job["source"] = Path(job["source"]).name  # the server's folders are not the caller's business
        for internal in ("fingerprint", "settings_digest", "pending", "rejected_bytes", "rejected_path"):
            job.pop(internal, None)
        return job

    def rejected_rows(self, job_id: int, limit: int = 100) -> RejectedRows:
        """The header and the first ``limit`` rows of a job's rejected-rows file (the reason is the last cell).

        Never raises for what is in the file: a file that cannot be read (damaged, not UTF-8, changed by
        hand) gives no rows and a problem to show beside the job."""
        path = self.rejected_file(job_id)
        if path is None:
            return RejectedRows()
        try:
            with path.open(encoding="utf-8-sig", newline="") as file:
                reader = csv_reader(file)
                header = next(reader, [])
                return RejectedRows(header, [row for _, row in zip(range(limit), reader)])
        except (OSError, UnicodeError, csv.Error) as exc:
            return RejectedRows(problem=f"the rejected rows cannot be shown: their file cannot be read ({type(exc).__name__}: {exc}); "
                                        "upload the file again to check it once more")

    def rejected_file(self, job_id: int) -> Path | None:
        job = jobs.load(self.runtime.engine, job_id)
        if job is None or not job.rejected_path:
            return None
        path = Path(job.rejected_path)
        return path if path.is_file() else None


def run_job(runtime, job: queue.Job) -> None:
    """The handler of ``import.run`` (core/scheduler.py BUILT_IN)."""
    runtime.imports.run(job)


def _options_payload(options: ImportOptions) -> dict:
    return {"mapping": options.mapping, "duplicates": options.duplicates, "dry_run": options.dry_run, "encoding": options.encoding,
            "sheet": options.sheet, "batch_size": options.batch_size, "language": options.language,
            "rejected_path": str(options.rejected_path) if options.rejected_path else None}


def _options_of(payload: dict) -> ImportOptions:
    """The options of a started run: it resumes its own job, never another."""
    given = dict(payload)
    rejected = given.pop("rejected_path", None)
    return ImportOptions(**given, rejected_path=Path(rejected) if rejected else None, resume=False)


def _aware(value: dt.datetime | None) -> dt.datetime:
    if value is None:
        return dt.datetime.min.replace(tzinfo=dt.timezone.utc)
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value


def _ratio(job: dict) -> float:
    total = job.get("rows_total")
    if not total:
        return 0.0
    return min(1.0, max(0.0, (job["next_row"] - 2) / total))


# --- for the web UI's import wizard (additive) ------------------------------------------------------


def set_uploader(runtime, up: Upload, user_id: int | None) -> None:
    """Remember who uploaded a file, so that nobody else's request may use its token.

    Kept beside the upload's folder (``<token>.owner``), never in it, so ``upload`` still finds the file alone."""
    with open(_uploader_path(runtime, up.token), "w", encoding="ascii", opener=private.opener) as file:
        file.write("" if user_id is None else str(user_id))


def uploader(runtime, token: str) -> int | None:
    """Who uploaded the file a token names, as ``set_uploader`` kept it; None when nobody was recorded."""
    if not isinstance(token, str) or not _TOKEN.match(token):
        return None
    try:
        text = _uploader_path(runtime, token).read_text(encoding="ascii").strip()
    except (OSError, UnicodeError):
        return None
    return int(text) if text.isdigit() else None


def discard_upload(runtime, up: Upload) -> None:
    """Remove an upload that cannot be used (an unreadable file): its folder and what is kept beside it."""
    shutil.rmtree(up.path.parent, ignore_errors=True)
    _uploader_path(runtime, up.token).unlink(missing_ok=True)


def job_upload(runtime, job_id: int) -> Upload | None:
    """The uploaded file a job reads, or None (a job of a file elsewhere, as the CLI's are, or an upload since removed)."""
    job = jobs.load(runtime.engine, job_id)
    if job is None:
        return None
    path = Path(job.source)
    if path.parent.parent != _imports_folder(runtime):
        return None
    try:
        found = upload(runtime, path.parent.name)
    except UploadError:
        return None
    return found if found.path == path else None


def _uploader_path(runtime, token: str) -> Path:
    return _imports_folder(runtime) / f"{token}.owner"


# --- for the REST API (additive) ------------------------------------------------------------------------


def recent_jobs(runtime, user_id: int | None, limit: int, offset: int = 0) -> list[int]:
    """The ids of a page of import jobs, newest first: the ones ``user_id`` started (everybody's for None)."""
    from sqlalchemy import select  # noqa: PLC0415 - imported here to keep this section self-contained

    from core.coretables import import_job  # noqa: PLC0415
    from core.db import read_transaction  # noqa: PLC0415

    statement = select(import_job.c.id).order_by(import_job.c.id.desc()).limit(limit).offset(offset)
    if user_id is not None:
        statement = statement.where(import_job.c.created_by == user_id)
    with read_transaction(runtime.engine) as conn:
        return list(conn.execute(statement).scalars())


def real_run_of(runtime, job_id: int) -> tuple[int, str] | None:
    """The latest real run (its id and status) of the file that job ``job_id`` read, or None."""
    from sqlalchemy import select  # noqa: PLC0415

    from core.coretables import import_job  # noqa: PLC0415
    from core.db import read_transaction  # noqa: PLC0415

    job = jobs.load(runtime.engine, job_id)
    if job is None:
        return None
    with read_transaction(runtime.engine) as conn:
        row = conn.execute(select(import_job.c.id, import_job.c.status)
                           .where(import_job.c.source == job.source, import_job.c.dry_run.is_(False))
                           .order_by(import_job.c.id.desc()).limit(1)).first()
    return (row.id, row.status) if row is not None else None


def real_run_options(runtime, job_id: int) -> ImportOptions:
    """The options of a real run of what job ``job_id`` read: its mapping (with its batch size), the duplicate
    rules given beside the mapping, the file's encoding and sheet."""
    settings = (jobs.describe(runtime.engine, job_id) or {}).get("settings") or {}
    mapping = settings.get("mapping") or {}
    rules = settings.get("duplicates", [])[len(mapping.get("duplicates", [])):]  # the mapping's own rules come first
    return ImportOptions(mapping=mapping or None, duplicates=[{"match": list(r["match"]), "then": r["then"]} for r in rules],
                         encoding=settings.get("encoding"), sheet=settings.get("sheet"), dry_run=False)
