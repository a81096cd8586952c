"""A report's figures as a table for people: headers in the reader's language, lookups and picklist values by their
labels, then the totals; written as CSV or XLSX with the list exports' writers (core/exports.py)."""

from __future__ import annotations

import io
from typing import Any

from core.exports import _write_csv, _write_xlsx, cell
from core.reports.running import Result

TOTAL = {"en": "Total", "zh-CN": "合计"}


def table(result: Result, lang: str) -> tuple[list[str], list[list[Any]]]:
    """The headers and rows of ``result`` in ``lang``; a grouped report ends with its totals."""
    headers = [column["label"].get(lang) or column["label"]["en"] for column in result.columns]
    rows = [[cell(shown(row, column, lang)) for column in result.columns] for row in result.rows]
    if result.kind != "tabular":
        groups = [c for c in result.columns if c["role"] == "group"]
        rows.append([TOTAL.get(lang, "Total") if groups and column is groups[0] else
                     cell(result.totals.get(column["key"])) if column["role"] == "measure" else "" for column in result.columns])
    return headers, rows


def shown(row: dict, column: dict, lang: str) -> Any:
    """A row's value of a column as people read it: a lookup's title, a picklist value's label."""
    key = column["key"]
    if lang == "zh-CN" and f"{key}__label_zh" in row:
        return row[f"{key}__label_zh"]
    return row.get(f"{key}__label", row.get(key))


def as_bytes(result: Result, lang: str, fmt: str) -> bytes:
    headers, rows = table(result, lang)
    buffer = io.BytesIO()
    (_write_xlsx if fmt == "xlsx" else _write_csv)(buffer, result.report, headers, iter(rows), None)
    return buffer.getvalue()
