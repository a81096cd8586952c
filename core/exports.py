"""Exporting a list (an object and list filters, as the records API takes them) to CSV or XLSX.

Records come through the record service, so the actor's permissions apply in its SQL: the
rows they may read, the fields they may see (hidden fields are never selected). Pages are
read by id (keyset) unless a sort is given, so a long export stays fast. A cell that a
spreadsheet would run as a formula (=, +, -, @ first) gets a leading single quote.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterable, Iterator, Sequence

from core import private
from core.query import MAX_LIMIT, QueryError
from core.records import Actor
from core.words import hint, sentence

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
FORMATS = ("csv", "xlsx")
LABEL_LANGUAGES = ("en", "zh-CN")
SYSTEM_COLUMNS = ("version", "created_at", "created_by", "updated_at", "updated_by", "owner")


class ExportError(ValueError):
    """The export cannot be made as asked."""


def columns(runtime, actor: Actor, object_name: str, chosen: Sequence[str] = ()) -> list[str]:
    """The columns exported to this actor: those ``chosen``, in their order (each once), else the id, the fields
    they may see and the system fields. A chosen column they may not see is refused (QueryError) like an unknown one."""
    access = runtime.records.access(actor)
    obj = runtime.current_metadata().object(object_name)
    visible = [f.name for f in obj.active_fields() if access.visible(object_name, f.name)]
    every = ["id", *visible, *SYSTEM_COLUMNS]
    if not chosen:
        return every
    names = list(dict.fromkeys(chosen))
    unknown = next((name for name in names if name not in every), None)
    if unknown is not None:
        raise QueryError.of([("columns", sentence("not_an_export_column", column=unknown, object=object_name, hint=hint(unknown, every)))])
    return names


def chosen_columns(text: str | None) -> list[str]:
    """The column names of a comma-separated ``columns`` parameter, blanks left out."""
    return [name.strip() for name in (text or "").split(",") if name.strip()]


def list_query(runtime, actor: Actor, object_name: str, params: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The export's list query without paging; a wrong filter or sort is refused here (QueryError), before anything is written."""
    pairs = [(k, v) for k, v in params if k not in ("limit", "offset", "count")]
    runtime.records.list(actor, object_name, pairs + [("limit", "1")])
    return pairs


def records(runtime, actor: Actor, object_name: str, params: Iterable[tuple[str, str]]) -> Iterator[dict]:
    """Every record the list query matches, as the actor sees it."""
    pairs = list_query(runtime, actor, object_name, params)
    service = runtime.records
    if any(k == "sort" for k, _ in pairs):
        yield from service.each(actor, object_name, dict(pairs))
        return
    last = 0
    while True:
        page = service.list(actor, object_name, pairs + [("sort", "id"), ("id__gt", str(last)), ("limit", str(MAX_LIMIT))])
        yield from page.items
        if not page.has_more:
            return
        last = page.items[-1]["id"]


def headers(runtime, object_name: str, names: list[str], labels: str | None) -> list[str]:
    """The header row: the columns' names, or with ``labels`` (a language, "en" or "zh-CN") their labels in it."""
    if not labels:
        return names
    obj = runtime.current_metadata().object(object_name)
    return [obj.fields[name].label(labels) if name in obj.fields else name for name in names]


def readers(runtime, object_name: str, names: list[str], labels: str | None) -> list[Callable[[Any], Any]]:
    """How each column's value becomes a cell: with ``labels``, a picklist's codes as their labels in that language."""
    obj = runtime.current_metadata().object(object_name)
    found = []
    for name in names:
        fdef = obj.fields.get(name)
        if labels and fdef is not None and "values" in fdef.type.options:
            words = {v["value"]: (v.get("label") or {}).get(labels) or (v.get("label") or {}).get("en") or v["value"]
                     for v in fdef.spec.get("values", [])}
            found.append(lambda value, words=words: cell([words.get(v, v) for v in value] if isinstance(value, list)
                                                         else words.get(value, value)))
        else:
            found.append(cell)
    return found


def cell(value: Any) -> Any:
    """A value as a spreadsheet cell that never runs as a formula; numbers stay numbers."""
    if value is None:
        return ""
    if isinstance(value, dict):
        value = value.get("label") if value.get("label") is not None else value.get("id")
    elif isinstance(value, list):
        value = "; ".join(str(v.get("label") or v.get("id")) if isinstance(v, dict) else str(v) for v in value)
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return value  # a negative number is a number, not a formula
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def export(runtime, actor: Actor, object_name: str, path: Path, params: Iterable[tuple[str, str]] = (), fmt: str | None = None,
           progress: Callable[[int], None] | None = None, labels: str | None = None, chosen: Sequence[str] = ()) -> int:
    """Write the list to ``path`` (CSV or XLSX, from ``fmt`` or the file's suffix); return the number of records.

    The file appears whole or not at all (it is written beside ``path`` and renamed at the end), readable by its owner alone.
    ``labels`` (a language): headers and picklist values as labels in it, for people; without it, names and codes, for imports.
    ``chosen``: the columns to write, in order (see ``columns``); none: every column.
    """
    path = Path(path)
    fmt = export_format(fmt, path)
    with private.replacing(path) as file:
        return write(file, runtime, actor, object_name, params, fmt, progress, labels, chosen)


def export_format(fmt: str | None, path: Path | None = None) -> str:
    """The format asked for, else the file's suffix, else csv; ExportError for one we do not write."""
    fmt = (fmt or (path.suffix.lstrip(".") if path else "") or "csv").lower()
    if fmt not in FORMATS:
        raise ExportError(f"'{fmt}' is not an export format; use csv or xlsx (from --format or the file's suffix)")
    return fmt


def write(file: BinaryIO, runtime, actor: Actor, object_name: str, params: Iterable[tuple[str, str]] = (), fmt: str = "csv",
          progress: Callable[[int], None] | None = None, labels: str | None = None, chosen: Sequence[str] = ()) -> int:
    """Write the list to an open binary file (standard output, say) as ``fmt``; return the number of records."""
    names = columns(runtime, actor, object_name, chosen)
    shown = list(zip(names, readers(runtime, object_name, names, labels)))
    rows = ([show(record.get(name)) for name, show in shown] for record in records(runtime, actor, object_name, list(params)))
    return (_write_xlsx if export_format(fmt) == "xlsx" else _write_csv)(file, object_name, headers(runtime, object_name, names, labels),
                                                                        rows, progress)


def _write_csv(file: BinaryIO, _object_name: str, names: list[str], rows: Iterator[list], progress) -> int:
    count = 0
    text = io.TextIOWrapper(file, encoding="utf-8-sig", newline="")  # the BOM makes spreadsheets read UTF-8
    writer = csv.writer(text)
    writer.writerow(names)
    for count, row in enumerate(rows, start=1):
        writer.writerow(row)
        if progress and count % MAX_LIMIT == 0:
            progress(count)
    text.flush()
    text.detach()  # the file stays open: it is the caller's
    return count


def _write_xlsx(file: BinaryIO, object_name: str, names: list[str], rows: Iterator[list], progress) -> int:
    from openpyxl import Workbook  # noqa: PLC0415 - only XLSX exports need it
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE  # noqa: PLC0415

    def clean(value: Any) -> Any:  # control characters cannot be stored in XLSX
        return ILLEGAL_CHARACTERS_RE.sub("", value) if isinstance(value, str) else value

    book = Workbook(write_only=True)  # streams rows to the file instead of keeping them
    sheet = book.create_sheet(object_name[:31])
    sheet.append(names)
    count = 0
    for count, row in enumerate(rows, start=1):
        sheet.append([clean(value) for value in row])
        if progress and count % MAX_LIMIT == 0:
            progress(count)
    book.save(file)
    return count


def csv_chunks(runtime, actor: Actor, object_name: str, params: Iterable[tuple[str, str]], labels: str | None = None,
               chosen: Sequence[str] = ()) -> Iterator[str]:
    """The CSV export as text chunks, for a streamed HTTP response."""
    names = columns(runtime, actor, object_name, chosen)
    shown = list(zip(names, readers(runtime, object_name, names, labels)))
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    yield "\ufeff"
    writer.writerow(headers(runtime, object_name, names, labels))
    for record in records(runtime, actor, object_name, list(params)):
        writer.writerow([show(record.get(name)) for name, show in shown])
        if buffer.tell() > 64_000:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
