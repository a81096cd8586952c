"""The list's rows written by a function generated per list shape: the same cells as one cell drawn alone, every
text escaped, braces in labels and values kept as text."""

from __future__ import annotations

from markupsafe import escape

from ui import fields
from ui.fields import escape_text
from ui.row_writer import KEPT, ListColumn, Writers, cell_html, row_writer

HOSTILE = '<script>alert("{rid}")</script> & {t} {{v0}}'


def _columns() -> list[ListColumn]:
    label = str(escape("Name {v1} <b>"))
    return [ListColumn("name", label, lambda v: escape(v or ""), True, str(escape("Change {x} of ")) + "{title}"),
            ListColumn("phone", "Phone", lambda v: escape(v or ""), False, "Change Phone of {title}"),
            ListColumn("notes", "Notes {k0}", lambda v: escape(v or ""), False, None)]


def _writer(selectable: bool = True):
    return row_writer("account", _columns(), selectable, "Select {title} {v0}", lambda r: escape_text(r["name"]))


def test_a_row_the_reader_may_change_has_the_same_cells_as_cells_drawn_alone():
    record = {"id": 7, "version": 3, "name": HOSTILE, "phone": "+1 {rid}", "notes": "<i>{ver}</i>"}
    row = _writer()(record, True)
    title = str(escape(HOSTILE))
    cells = "".join(cell_html("account", record, c.name, c.label, c.write(record.get(c.name)), c.first, c.pencil_name(True, title))
                    for c in _columns())
    select = (f'<td><input type="checkbox" id="select-7" name="id" value="7" data-select-row><label for="select-7" '
              f'class="visually-hidden">Select {title} {{v0}}</label><input type="hidden" id="shown-7" name="shown" value="7:3">'
              f'<input type="hidden" id="version-7" name="version" value="3" form="row-versions"></td>')
    assert row == f"<tr>{select}{cells}</tr>"
    assert "<script>" not in row and "&lt;script&gt;" in row
    assert 'href="/r/account/7/field/name" data-cell-pencil data-link aria-label="Change {x} of &lt;script&gt;' in row
    assert 'href="/r/account/7/field/phone" data-cell-pencil aria-label="Change Phone of &lt;script&gt;' in row
    assert "/field/notes" not in row and '<td data-label="Notes {k0}">&lt;i&gt;{ver}&lt;/i&gt;</td>' in row


def test_a_row_the_reader_may_not_change_has_no_pencil_nor_version():
    record = {"id": 8, "version": 1, "name": "", "phone": None, "notes": None}
    row = _writer()(record, False)
    assert "data-cell-pencil" not in row and 'id="version-8"' not in row and 'id="shown-8" name="shown" value="8:1"' in row
    assert '<td data-label="Name {v1} &lt;b&gt;"><a href="/r/account/8">#8</a></td>' in row  # no title: the id
    plain = _writer(selectable=False)(record, False)
    assert plain.startswith('<tr><td data-label="Name') and "checkbox" not in plain


def test_writers_keep_the_most_recently_used_shapes():
    writers, built = Writers(), []
    for n in range(KEPT + 1):
        writers.get(("shape", n), lambda n=n: built.append(n) or _writer())
    writers.get(("shape", KEPT), lambda: built.append("again") or _writer())
    writers.get(("shape", 0), lambda: built.append("rebuilt") or _writer())
    assert built[-1] == "rebuilt" and "again" not in built


def test_cell_text_is_escaped_as_markupsafe_escapes_it(monkeypatch):
    texts = [HOSTILE, "O'Brien & \"Sons\" <Ltd>", "", "张伟 & 李娜", "&amp; already"]
    assert [escape_text(t) for t in texts] == [str(escape(t)) for t in texts]
    monkeypatch.setattr(fields, "_escaped", None)  # without MarkupSafe's C extension
    assert [escape_text(t) for t in texts] == [str(escape(t)) for t in texts]
