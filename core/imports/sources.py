"""Import files as rows of text: CSV streamed with the csv module, XLSX with openpyxl's read-only mode.

Rows are numbered as a spreadsheet shows them: the header is row 1, the first record row 2.
Encodings: UTF-8 with or without a BOM, UTF-16 with a BOM, else GBK (what Chinese Excel
writes); or the one the caller names.

Cells: the CSV reader holds cells up to MAX_CELL characters (past that a quote is almost
always left open, and the file cannot be split into rows any more); a column name must fit
in CELL_LIMIT characters and hold no NUL, or the file is refused. A longer cell in a data
row is the import's business: that row is rejected (core/imports/runner.py).
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import io
import zipfile
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from core.words import Sentence, sentence, sentence_of

CHUNK = 1 << 20
MAX_CELL = 10 * CHUNK  # a CSV cell beyond this is almost always a quote left open
CELL_LIMIT = 131_072  # the longest cell taken: csv's default limit, and more than any field holds (max_length 100,000)
DELIMITERS = (",", ";", "\t", "|")
XLSX_SUFFIXES = (".xlsx", ".xlsm")


class SourceError(ValueError):
    """The file cannot be read as a table; its Sentence names the file (``file``, a path) and the place."""


def named_as(problem: Exception, path: str, name: str) -> Sentence | str:
    """A file's problem naming the file by ``name`` (as it was uploaded), not by ``path`` (where the server keeps it)."""
    found = sentence_of(problem)
    if found is None:
        return str(problem).replace(path, name)
    return Sentence(found.code, {k: v.replace(path, name) if isinstance(v, str) else v for k, v in found.params.items()})


@dataclass(slots=True)
class Row:
    number: int  # spreadsheet numbering: the header is row 1
    cells: list[str]


class Source(ABC):
    """A table read from a file: its header and its rows, each read once, in order."""

    name: str
    header: list[str]
    fingerprint: str
    rows_total: int | None = None
    encoding: str | None = None

    @abstractmethod
    def rows(self) -> Iterator[Row]:
        """The data rows, after the header."""

    @abstractmethod
    def progress(self) -> float:
        """How much of the file has been read, from 0 to 1."""

    def close(self) -> None:
        pass


def open_source(path: Path, encoding: str | None = None, sheet: str | None = None) -> Source:
    path = Path(path)
    if not path.is_file():
        raise SourceError(sentence("file_missing", file=str(path)))
    if path.suffix.lower() == ".xls":
        raise SourceError(sentence("file_old_excel", file=str(path)))
    try:
        return XlsxSource(path, sheet) if path.suffix.lower() in XLSX_SUFFIXES else CsvSource(path, encoding)
    except OSError as exc:
        raise SourceError(sentence("file_unreadable", file=str(path), reason=exc.strerror or _reason(exc))) from None


def _blank(cells: list[str]) -> bool:
    return all(not c.strip() for c in cells)


def csv_reader(text_file, **options):
    """A csv.reader that takes cells of up to MAX_CELL characters.

    The csv module's limit belongs to the process (131,072 by default): it is raised here,
    never lowered, before each reader is made, so that a file this module wrote (rejected rows
    keep their cells) reads back in any process."""
    if csv.field_size_limit() < MAX_CELL:
        csv.field_size_limit(MAX_CELL)
    return csv.reader(text_file, **options)


def checked_header(name: str, header: list[str]) -> list[str]:
    """The column names, or SourceError for one that is too long or holds a NUL (neither can be a column's name)."""
    for number, column in enumerate(header, start=1):
        if len(column) > CELL_LIMIT:
            raise SourceError(sentence("column_name_too_long", file=name, column=number, length=f"{len(column):,}",
                                       limit=f"{CELL_LIMIT:,}"))
        if "\x00" in column:
            raise SourceError(sentence("column_name_nul", file=name, column=number))
    return header


# --- CSV ---------------------------------------------------------------------------------


class CsvSource(Source):
    def __init__(self, path: Path, encoding: str | None) -> None:
        self.name = str(path)
        self.fingerprint, detected = _scan(path, encoding)
        self.encoding = encoding or detected
        self._size = path.stat().st_size or 1
        self._binary = path.open("rb")
        self._text = io.TextIOWrapper(self._binary, encoding=self.encoding, errors="strict", newline="")
        try:
            self.header = self._read_header()
        except SourceError:
            self.close()
            raise

    def _read_header(self) -> list[str]:
        try:
            first = self._text.readline(CHUNK)  # enough of the header to see its delimiter
        except UnicodeDecodeError as exc:
            raise self._not_decoded(1, exc) from None
        self._text.seek(0)
        self._reader = csv_reader(self._text, delimiter=_delimiter(first))
        self._number = 0
        header = self._next()
        if header is None:
            raise SourceError(sentence("file_empty", file=self.name))
        return checked_header(self.name, [c.strip().lstrip("\ufeff").strip() for c in header])

    def _next(self) -> list[str] | None:
        try:
            cells = next(self._reader)
        except StopIteration:
            return None
        except csv.Error as exc:
            raise SourceError(sentence("row_problem", file=self.name, row=self._number + 1, problem=_csv_problem(exc))) from None
        except UnicodeDecodeError as exc:
            raise self._not_decoded(self._number + 1, exc) from None
        self._number += 1
        return cells

    def rows(self) -> Iterator[Row]:
        try:
            for cells in self._reader:  # what _next does, without a call per row
                self._number += 1
                if (cells and cells[0] and not cells[0].isspace()) or not _blank(cells):
                    yield Row(self._number, cells)
        except csv.Error as exc:
            raise SourceError(sentence("row_problem", file=self.name, row=self._number + 1, problem=_csv_problem(exc))) from None
        except UnicodeDecodeError as exc:
            raise self._not_decoded(self._number + 1, exc) from None

    def _not_decoded(self, row: int, exc: UnicodeDecodeError) -> SourceError:
        return SourceError(sentence("row_not_decoded", file=self.name, row=row, encoding=self.encoding, reason=exc.reason,
                                    hint=sentence("encoding_hint")))

    def progress(self) -> float:
        return min(self._binary.tell() / self._size, 1.0)

    def close(self) -> None:
        self._text.close()


def _delimiter(header_line: str) -> str:
    """The delimiter the header uses most (Excel writes ';' in some locales, tabs as 'Unicode text')."""
    counts = {d: header_line.count(d) for d in DELIMITERS}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def _csv_problem(exc: csv.Error) -> Sentence:
    text = str(exc)
    if "field larger than field limit" in text:
        return sentence("csv_cell_too_long", limit=f"{MAX_CELL:,}")
    return sentence("csv_not_valid", reason=text)


def _scan(path: Path, encoding: str | None) -> tuple[str, str]:
    """One pass over the bytes: their sha256, and whether they decode (as ``encoding``, or else as
    UTF-8; a second pass tries GBK when UTF-8 fails). An undecodable byte is named by line and offset."""
    digest = hashlib.sha256()
    failure: tuple[int, int] | None = None  # (offset, line) of the first byte that does not decode
    decoder = _decoder(path, encoding or "utf-8")
    offset, lines = 0, 1
    with path.open("rb") as file:
        head = file.read(4)
        file.seek(0)
        while chunk := file.read(CHUNK):
            digest.update(chunk)
            if decoder is not None:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as exc:
                    failure = (offset + exc.start, lines + chunk.count(b"\n", 0, exc.start))
                    decoder = None
                lines += chunk.count(b"\n")
            offset += len(chunk)
    if decoder is not None:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            failure = (offset, lines)
    if encoding is not None:
        if failure is not None:
            raise SourceError(sentence("byte_not_decoded", file=str(path), line=failure[1], byte=failure[0], encoding=encoding,
                                       hint=sentence("encoding_hint")))
        return digest.hexdigest(), encoding
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return digest.hexdigest(), "utf-16"
    if failure is None:
        return digest.hexdigest(), "utf-8-sig"  # -sig: a BOM, if there is one, is not part of the first column's name
    if _decodes(path, "gbk"):
        return digest.hexdigest(), "gbk"
    where, line = failure
    raise SourceError(sentence("neither_utf8_nor_gbk", file=str(path), line=line, byte=where, hint=sentence("encoding_hint")))


def _decoder(path: Path, encoding: str):
    try:
        return codecs.getincrementaldecoder(encoding)()
    except LookupError:
        raise SourceError(sentence("unknown_encoding", file=str(path), encoding=encoding)) from None


def _decodes(path: Path, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        with path.open("rb") as file:
            while chunk := file.read(CHUNK):
                decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


# --- XLSX --------------------------------------------------------------------------------


class XlsxSource(Source):
    def __init__(self, path: Path, sheet: str | None) -> None:
        import openpyxl  # noqa: PLC0415 - only XLSX imports need it
        from openpyxl.utils.exceptions import InvalidFileException  # noqa: PLC0415

        self.name = str(path)
        self.fingerprint = _sha256(path)
        try:
            self._book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as exc:
            raise SourceError(sentence("xlsx_unreadable", file=str(path), reason=_reason(exc))) from None
        except Exception as exc:  # openpyxl raises XML parser errors of several kinds for a damaged workbook
            raise SourceError(sentence("xlsx_damaged", file=str(path), reason=_reason(exc))) from None
        try:
            self._start(sheet)
        except SourceError:
            self.close()
            raise

    def _start(self, sheet: str | None) -> None:
        try:
            self._sheet = self._book[sheet] if sheet else self._book.worksheets[0]
        except (KeyError, IndexError):
            raise SourceError(sentence("no_such_sheet", file=self.name, sheet=sheet, sheets=", ".join(self._book.sheetnames))) from None
        self._read = 0
        self._cells = self._sheet.iter_rows(values_only=True)
        header = self._next()
        if header is None:
            raise SourceError(sentence("sheet_empty", file=self.name))
        while header and not header[-1].strip():
            header.pop()
        self.header = checked_header(self.name, [c.strip() for c in header])
        max_row = getattr(self._sheet, "max_row", None)
        self.rows_total = max_row - 1 if max_row else None

    def _next(self) -> list[str] | None:
        try:
            values = next(self._cells)
        except StopIteration:
            return None
        except Exception as exc:  # a damaged sheet fails while it is read, with whatever the XML parser raises
            raise SourceError(sentence("row_problem", file=self.name, row=self._read + 1,
                                       problem=sentence("xlsx_damaged_here", reason=_reason(exc)))) from None
        self._read += 1
        return [_xlsx_text(v) for v in values]

    def rows(self) -> Iterator[Row]:
        while (cells := self._next()) is not None:
            while len(cells) > len(self.header) and not cells[-1].strip():
                cells.pop()  # read-only sheets pad rows to the widest one
            if not _blank(cells):
                yield Row(self._read, cells)

    def progress(self) -> float:
        return min(self._read / (self.rows_total + 1), 1.0) if self.rows_total else 0.0

    def close(self) -> None:
        self._book.close()


def _xlsx_text(value) -> str:
    """A cell as the text a CSV export of it would hold."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _reason(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
