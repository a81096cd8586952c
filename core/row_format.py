"""Rows of a record SELECT turned into the records the API returns, by a function made once per reader.

A list formats every row of a page the same way: which positions are copied, which go
through a field type's ``format``, which lookups become ``{"id", "label"}``. Looping over
that plan for each row costs more than the formatting itself, so the plan is written out
once as the body of a function (as ``dataclasses`` writes ``__init__``) and compiled. Only
integer positions and ``repr``'d keys go into the source; the formatters, their field specs
and the label function are passed in as the function's globals.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

RowFormatter = Callable[[Sequence[Any]], dict]


def row_formatter(keys: list[str], formatters: dict[str, tuple[Callable, dict]], lookups: dict[str, int],
                  label: Callable[[Any], Any], optional_last: str) -> RowFormatter:
    """A function from a row to its record.

    ``keys`` name the row's first positions, in order; ``formatters`` give, per key, the
    (format, spec) of a value shown differently than stored (``format(value, spec)``, never
    called with None); ``lookups`` give, per key of a lookup shown as ``{"id": ...,
    "label": ...}`` (None stays None), the position of its label; a label that is not text
    goes through ``label``. The key ``optional_last``, which must be the last of ``keys``,
    is left out when its value is None.
    """
    if keys[-1] != optional_last:
        raise ValueError(f"{optional_last!r} must be the last key")
    namespace: dict[str, Any] = {"_label": label}
    for n, (format_value, spec) in enumerate(formatters.values()):
        namespace[f"_f{n}"], namespace[f"_s{n}"] = format_value, spec
    names = {key: n for n, key in enumerate(formatters)}

    def value(key: str, at: int) -> str:
        if key in names:
            return f"None if row[{at}] is None else _f{names[key]}(row[{at}], _s{names[key]})"
        if key in lookups:
            label_at = lookups[key]
            return (f"None if row[{at}] is None else {{'id': row[{at}], 'label': "
                    f"row[{label_at}] if row[{label_at}].__class__ is str else _label(row[{label_at}])}}")
        return f"row[{at}]"

    items = ",\n        ".join(f"{key!r}: {value(key, position)}" for position, key in enumerate(keys[:-1]))
    last = len(keys) - 1
    source = (
        "def format_row(row):\n"
        f"    record = {{\n        {items}\n    }}\n"
        f"    if row[{last}] is not None:\n"
        f"        record[{optional_last!r}] = {value(optional_last, last)}\n"
        "    return record\n"
    )
    exec(compile(source, "<record row formatter>", "exec"), namespace)  # noqa: S102 - generated from positions and repr'd keys only
    return namespace["format_row"]
