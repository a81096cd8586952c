"""A list's rows as HTML, by a function written once per list shape.

A list page is mostly its rows: fifty of them, several hundred cells. Looping over the columns
for each row, with a call per cell to decide its markup, costs more than the values themselves,
so the rows of one shape (the object, its shown columns, whether rows have selection boxes,
which columns carry pencils, the reader's language, currency and time zone) are written by a
function generated for that shape, as core/row_format.py does for the API's records. Only
variable names go into its source; every piece of text (the object's and fields' names, the
columns' labels, the sentences of the page's language, all escaped here once) is passed in as
a constant of the function, and each value goes through its column's writer (ui/fields.cell),
which escapes it.

A cell the reader may change has a pencil: a plain link to the field's input (which works
without JavaScript), named for screen readers "Change <field> of <record>". The page's script
(ui/static/js/tessera.js) opens the input in place of the cell, sending the row's version, so
the link carries no request attributes of its own.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable

from markupsafe import escape

RowWriter = Callable[[dict, bool], str]  # (record, whether the reader may change it) -> the row's <tr>
KEPT = 256  # writers kept per metadata version: a user may ask for any columns in any order


@dataclass(frozen=True)
class ListColumn:
    """What every cell of one list column shares, escaped once: its name, label, writer and pencil name."""

    name: str
    label: str  # HTML
    write: Any  # value -> HTML
    first: bool
    pencil: str | None  # HTML with ``{title}``

    def pencil_name(self, editable: bool, title: str) -> str | None:
        """The cell's pencil name (``title``: the record's, escaped), if the cell opens an input."""
        return self.pencil.replace("{title}", title) if editable and self.pencil else None


def cell_html(object_name: str, record: dict, name: str, label: str, html: str, first: bool, pencil: str | None,
              note: str = "", focus: bool = False) -> str:
    """One cell of a list (drawn alone, when it comes back after its input closed): the first links to the record;
    one with a ``pencil`` (its name) opens the field's input in place (``focus``: the pencil takes the focus back
    once drawn again); a ``note`` says why an input did not open. ``label`` (the column's) and ``pencil`` are HTML,
    escaped by the caller. The same markup as the generated rows' cells."""
    rid = record["id"]
    if first:
        html = f'<a href="/r/{object_name}/{rid}">{html or f"#{rid}"}</a>'
    if note:
        html += f' <small class="field-error" role="alert">{escape(note)}</small>'
    if pencil is None:
        return f'<td data-label="{label}">{html}</td>'
    return (f'<td id="cell-{rid}-{name}" class="cell-editable" data-label="{label}"><span class="value" data-cell-value>{html}</span>'
            f'<a class="pencil" href="/r/{object_name}/{rid}/field/{name}" data-cell-pencil{" data-link" if first else ""} '
            f'aria-label="{pencil}"{" data-focus-after-swap" if focus else ""}></a></td>')


def row_writer(object_name: str, columns: list[ListColumn], selectable: bool, select_sentence: str,
               title: Callable[[dict], Any]) -> RowWriter:
    """The function writing one row of this list shape: ``write(record, editable)``.

    ``columns``' labels and pencils are HTML already; ``select_sentence`` ("Select {title}") is text in the page's
    language; ``title(record)`` names a record, as HTML (escaped by it). A row the reader may change (``editable``)
    carries its version (for its cells' inputs) and a pencil in each column that has one."""
    obj = str(escape(object_name))
    constants: dict[str, Any] = {"_title": title}
    pencils = any(c.pencil for c in columns)

    def constant(value: Any) -> str:
        name = f"_k{len(constants)}"
        constants[name] = value
        return name

    lines = ["rid = r['id']"]
    for i, c in enumerate(columns):
        value = f"{constant(c.write)}(r.get({constant(c.name)}))"
        lines.append(f"v{i} = {value} or '#' + str(rid)" if c.first else f"v{i} = {value}")

    def template(editable: bool) -> str:
        """The row as an f-string's text: literal HTML (braces doubled) around names of the function's variables."""
        parts = ["<tr>"]
        if selectable:
            before, _, after = str(escape(select_sentence)).partition("{title}")
            parts.append(f'<td><input type="checkbox" id="select-{{rid}}" name="id" value="{{rid}}" data-select-row>'
                         f'<label for="select-{{rid}}" class="visually-hidden">{_braced(before)}{{t}}{_braced(after)}</label>'
                         f'<input type="hidden" id="shown-{{rid}}" name="shown" value="{{rid}}:{{ver}}">')
            if editable:
                parts.append('<input type="hidden" id="version-{rid}" name="version" value="{ver}" form="row-versions">')
            parts.append("</td>")
        for i, c in enumerate(columns):
            label = _braced(c.label)
            inner = f'<a href="/r/{_braced(obj)}/{{rid}}">{{v{i}}}</a>' if c.first else f"{{v{i}}}"
            if not (editable and c.pencil):
                parts.append(f'<td data-label="{label}">{inner}</td>')
                continue
            name = _braced(str(escape(c.name)))
            before, _, after = c.pencil.partition("{title}")
            parts.append(f'<td id="cell-{{rid}}-{name}" class="cell-editable" data-label="{label}">'
                         f'<span class="value" data-cell-value>{inner}</span>'
                         f'<a class="pencil" href="/r/{_braced(obj)}/{{rid}}/field/{name}" data-cell-pencil'
                         f'{" data-link" if c.first else ""} aria-label="{_braced(before)}{{t}}{_braced(after)}"></a></td>')
        parts.append("</tr>")
        return "".join(parts)

    titled = "t = _title(r); " if selectable else ""
    if pencils:
        lines.append("if editable:")
        lines.append(f"    t = _title(r); ver = r['version']; return f{template(True)!r}")
    lines.append(f"{titled}ver = r['version']; return f{template(False)!r}" if selectable else f"return f{template(False)!r}")
    body = "\n".join("        " + line for line in lines)
    names = ", ".join(constants)
    source = f"def make({names}):\n    def write_row(r, editable):\n{body}\n    return write_row\n"
    namespace: dict[str, Any] = {}
    exec(compile(source, "<list row writer>", "exec"), namespace)  # noqa: S102 - variable names only; text comes in as constants
    return namespace["make"](**constants)


def _braced(text: str) -> str:
    """Literal text inside an f-string."""
    return text.replace("{", "{{").replace("}", "}}")


class Writers:
    """The row writers of one metadata version, the most recently used KEPT of them."""

    def __init__(self) -> None:
        self._kept: OrderedDict[tuple, RowWriter] = OrderedDict()
        self._lock = threading.Lock()  # pages are drawn on the event loop and on worker threads

    def get(self, key: tuple, build: Callable[[], RowWriter]) -> RowWriter:
        with self._lock:
            writer = self._kept.get(key)
            if writer is not None:
                self._kept.move_to_end(key)
                return writer
        writer = build()
        with self._lock:
            self._kept[key] = writer
            if len(self._kept) > KEPT:
                self._kept.popitem(last=False)
        return writer
