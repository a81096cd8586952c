"""Record pages: the list (with its filter builder, saved views and mass actions), the detail page
(with sharing), create and edit forms.

Every read and write goes through the record service as the signed-in user, so a page
shows exactly what the API would: fields the role may not see are not there, records
outside its scope are not found.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency, Provide
from markupsafe import Markup, escape
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Redirect

from core.api.errors import IdInPath
from core.api.reads import quick_read
from core.metadata.layouts import LayoutView, RelatedList
from core.metadata.model import FieldDef, ObjectDef, UnknownObject
from core.naming import record_name
from core.preferences import NAME_LENGTH, Preferences, ViewError
from core.search import subtitle, subtitle_fields
from core.records import Conflict, Forbidden, NotFound, QueryError, RecordValidationError, Refused
from core.words import say
from ui import lookups
from ui.context import PAGE, VARY, Answer, Page, answer, counted, plural, provide_page, signed_in, singular
from ui.filter_chips import chips
from ui.fields import SYSTEM_COLUMNS, Column, cell, choices, escape_text, column, display, form_value, formatter, from_form, record_title, system_field
from ui.i18n import label
from ui.mass_actions import MASS_LIMIT, Selection, asked_change, delete_each, one, readable, selection, sentence, update_each
from ui.mass_actions import values as sent_values
from ui.record_forms import SAVE_REFUSALS, FormErrors, Submission, expression_defaults, form_state, refused, submitted, without_hidden
from ui import inline_edit
from ui.approvals import approval_view, locked_reason
from ui.composer import composer
from ui import record_rules
from ui.record_head import highlights, process_path
from ui.row_writer import ListColumn, Writers, cell_html, row_writer
from ui.sharing import add_share, remove_share
from ui.timeline import shown_value, timeline

DB = {"sync_to_thread": True}
OBJECT = NamedDependency[ObjectDef]
FORM = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
PAGE_SIZE = 50
UI_PARAMETERS = {"offset", "sort", "q", "limit"}
COLUMNS = "columns"  # the list's own parameter: the columns it shows, in order (never a filter)


def provide_object(page: PAGE, object_name: FromPath[str], request: Request) -> ObjectDef:
    """Dependency: the object the address names, if the user's role may do the route's ``operation`` on it
    (``opt``; reading by default); else the page saying there is no such object or that it is not allowed."""
    obj, refusal = _object(page, object_name, request.route_handler.opt.get("operation", "read"))
    if refusal is not None:
        raise Answer(refusal)
    return obj


class RecordPages(Controller):
    """The pages of records; the page, the signed-in user and the object come from the guard and dependencies."""

    path = "/r"
    include_in_schema = False
    guards = [signed_in]
    dependencies = {"page": Provide(provide_page, sync_to_thread=False), "obj": Provide(provide_object, sync_to_thread=True)}
    exception_handlers = {Answer: answer}

    @get("/{object_name:str}")
    async def list_page(self, page: PAGE, request: Request, object_name: FromPath[str]) -> Response:
        """The list, read on the event loop while that is quick (core/api/reads.py), the object's access checked in
        the list's own read transaction."""
        return await quick_read(request, lambda budget: self._list_page(page, request, object_name, budget))

    @staticmethod
    def _list_page(page: Page, request: Request, object_name: str, budget: float | None) -> Response:
        with page.reading(budget):
            obj, refusal = _object(page, object_name)
            if refusal is not None:
                return refusal
            pairs = list(request.query_params.multi_items())
            clean = urlencode(list_params(pairs))
            if clean != urlencode(pairs):  # empty filters of the form, a choice sent as several values: a shorter address
                if not page.htmx:
                    return Redirect(f"/r/{object_name}" + (f"?{clean}" if clean else ""), status_code=303, headers=VARY)
            partial = page.htmx and request.headers.get("hx-target") == "records"
            answer = _list(page, obj, pairs, partial=partial)
            if page.htmx and clean != urlencode(pairs):
                answer.headers["HX-Push-Url"] = f"/r/{object_name}" + (f"?{clean}" if clean else "")
            return answer

    @get("/{object_name:str}/count", **DB)
    def count(self, page: PAGE, obj: OBJECT, request: Request, object_name: FromPath[str]) -> Response:
        """How many records the list's filters match, exact up to COUNT_CAP, then "10,000+": asked for by the
        list after it is drawn, so that counting never slows the page itself."""
        query = [(k, v) for k, v in list_params(request.query_params.multi_items()) if k not in ("sort", "offset", "limit", COLUMNS)]
        try:
            found = page.list_records(obj.name, query + [("count", "true"), ("limit", "1")])
        except QueryError:  # the list itself says what is wrong with its filters
            return page.render("records/_count.html", count=None)
        matching = f"{found.count:,}+" if found.count_capped else f"{found.count:,}"
        return page.render("records/_count.html", count=found.count, matching=matching,
                           objects=counted(obj, 2 if found.count_capped else found.count, page.lang))

    @post("/{object_name:str}/views", **DB)
    def save_view(self, page: PAGE, obj: OBJECT, object_name: FromPath[str], data: FORM) -> Response:
        """Keep the list's current query under a name, for the user alone or shared with every reader of the object."""
        query, name, shared = view_query(one(data, "query")), one(data, "name"), one(data, "shared") in ("on", "true", "1")
        try:
            Preferences(page.runtime).save_view(page.user.user_id, object_name, name, query, shared,
                                                showable=[c.name for c in column_choices(page, obj)])
        except ViewError as exc:
            return _list(page, obj, parse_qsl(query), status=422, view_error=_view_problem(page, exc), view_name=name, view_shared=shared)
        return _go(page, f"/r/{object_name}" + (f"?{query}" if query else ""))

    @post("/{object_name:str}/views/{view_id:int}/delete", **DB)
    def remove_view(self, page: PAGE, obj: OBJECT, object_name: FromPath[str], view_id: IdInPath) -> Response:
        try:
            Preferences(page.runtime).remove_view(page.user.user_id, view_id, object_name)
        except ViewError as exc:
            return _list(page, obj, [], status=403, views_problem=_view_problem(page, exc))
        return _go(page, f"/r/{object_name}")

    @get(["/{object_name:str}/views", "/{object_name:str}/mass"], **DB)
    def back_to_list(self, object_name: FromPath[str]) -> Response:
        """These addresses take posts; opened again (a bookmark, the back button) they lead to the list."""
        return Redirect(f"/r/{object_name}", status_code=303, headers=VARY)

    @post("/{object_name:str}/mass", **DB)
    def mass(self, page: PAGE, object_name: FromPath[str], data: FORM) -> Response:
        """Set one field on the selected records, or delete them: a step to choose or confirm, then the outcome."""
        deleting = one(data, "action") == "delete"
        obj, refusal = _object(page, object_name, "delete" if deleting else "update")
        if refusal:
            return refusal
        back = view_query(one(data, "back"))
        chosen, matching = selection(data), "matching" in sent_values(data, "all")
        if matching:
            chosen, problem = _every_matching(page, obj, back)
            if problem:
                return _mass_page(page, obj, "problem", chosen, back, status=422, problem=problem)
        if not chosen.ids:
            return _mass_page(page, obj, "problem", chosen, back, status=422, problem=page.t("Select at least one record first."))
        if len(chosen.ids) > MASS_LIMIT:
            return _mass_page(page, obj, "problem", chosen, back, status=422,
                              problem=page.t("Select at most {n} records at a time.", n=MASS_LIMIT))
        return _mass_delete(page, obj, chosen, back, data) if deleting else _mass_update(page, obj, chosen, back, data)

    @get("/{object_name:str}/mass/value", **DB, opt={"operation": "update"})
    def mass_value(self, page: PAGE, obj: OBJECT, object_name: FromPath[str], field: FromQuery[str] = "") -> Response:
        """The input for the field chosen in the list's action bar, the same as the form's (htmx)."""
        if not page.htmx:  # the action bar asks for the value on its next step without JavaScript
            return _go(page, f"/r/{object_name}")
        target = next((c for c in mass_fields(page, obj) if c.name == field), None)
        return page.render("records/_mass_value.html", obj=obj, c=target, **_mass_input(page, target))

    @get("/{object_name:str}/options", **DB)
    def options(self, page: PAGE, obj: OBJECT, request: Request, object_name: FromPath[str], field: FromQuery[str] = "") -> Response:
        """What a lookup picker offers: records of the object the user may read, by search.

        The picker's search box is named ``_<field>`` (so that it never becomes a filter)."""
        q = request.query_params.get(f"_{field}") or request.query_params.get("q") or ""
        params = {"limit": "10", "sort": obj.title_field if obj.fields.get(obj.title_field, None) and obj.fields[obj.title_field].type.sortable else "-id"}
        if q.strip():
            params["q"] = q.strip()
        within = _narrowing(page, request, field)
        params.update(within.conditions if within else {})
        try:
            found = page.runtime.records.list(page.actor, object_name, params).items
        except QueryError:
            found = []
        second = subtitle_fields(page.meta(), obj, page.access)  # what tells records apart: a contact's account and e-mail
        items = [{"id": r["id"], "label": record_name(obj, r) or f"#{r['id']}", "detail": subtitle(second, r, page.lang)} for r in found]
        template = "records/_options.html" if page.htmx else "records/options.html"  # without htmx: the matches as links
        return page.render(template, obj=obj, title=plural(obj, page.lang), items=items, field=field, q=q)

    @get("/{object_name:str}/kanban", **DB)
    def kanban_page(self, page: PAGE, obj: OBJECT, request: Request, object_name: FromPath[str]) -> Response:
        board = kanban_view(page, obj, request.query_params.multi_items())
        if board is None:
            return page.render("error.html", status=404, title=page.t("Not found"),
                               message=page.t("{objects} have no board.", objects=plural(obj, page.lang)))
        template = "records/_board.html" if page.htmx else "records/kanban.html"
        query_pairs = parse_qsl(board["query"])
        return page.render(template, obj=obj, title=plural(obj, page.lang), query_pairs=query_pairs, q=dict(query_pairs).get("q", ""), **board)

    @post("/{object_name:str}/{record_id:int}/move", **DB, opt={"operation": "update"})
    def move(self, page: PAGE, obj: OBJECT, object_name: FromPath[str], record_id: IdInPath, data: FORM) -> Response:
        """Move a card to another column: the same update, validation and permissions as the form."""
        field = page.meta().layout(object_name, "kanban").group_by
        status, problem = 200, None
        if field is None:
            status, problem = 404, page.t("{objects} have no board.", objects=plural(obj, page.lang))
        else:
            try:
                page.runtime.records.update(page.actor, object_name, record_id, {field: data.get("value") or None},
                                            version=data.get("version") or None)
            except RecordValidationError as exc:
                status, problem = 422, "; ".join(e.worded(page.lang) for e in exc.errors)
            except Conflict as exc:
                status, problem = 409, say(exc, page.lang)
            except (Forbidden, NotFound) as exc:
                status, problem = 403, say(exc, page.lang)
        query = parse_qsl(one(data, "query"))  # the board's filters, kept after the move
        if not page.htmx:
            back = urlencode(query + ([("_problem", problem)] if problem else []))
            return _go(page, f"/r/{object_name}/kanban" + (f"?{back}" if back else ""))
        board = {**(kanban_view(page, obj, query) or {}), "problem": problem}
        return page.render("records/_board.html", status=status, obj=obj, **board)

    @get("/{object_name:str}/new", **DB, opt={"operation": "create"})
    def new_page(self, page: PAGE, obj: OBJECT, request: Request, object_name: FromPath[str]) -> Response:
        defaults = {f.name: f.spec["default"] for f in obj.active_fields() if f.spec.get("default") is not None}
        asked = {k: v for k, v in request.query_params.items() if k in obj.fields}
        preset = {**defaults, **asked}
        preset.update(expression_defaults(page, obj, preset, asked))
        return _form(page, obj, None, Submission(preset))

    @post("/{object_name:str}/form", **DB, opt={"operation": "create"})
    def redraw_new(self, page: PAGE, obj: OBJECT, object_name: FromPath[str], data: FORM) -> Response:
        """The new-record form's fields drawn again for the values it holds (a field shown, required or narrowed by them)."""
        return _form(page, obj, None, submitted(page, form_columns(page, obj), data), fields_only=True)

    @post("/{object_name:str}/{record_id:int}/form", **DB, opt={"operation": "update"})
    def redraw_edit(self, page: PAGE, obj: OBJECT, object_name: FromPath[str], record_id: IdInPath, data: FORM) -> Response:
        """The edit form's fields drawn again for the values it holds over the record's."""
        try:
            record = page.runtime.records.get(page.actor, object_name, record_id)
        except NotFound:
            return _missing(page, object_name, record_id)
        return _form(page, obj, record, submitted(page, form_columns(page, obj), data, record), fields_only=True)

    @post("/{object_name:str}/new", **DB, opt={"operation": "create"})
    def create(self, page: PAGE, obj: OBJECT, object_name: FromPath[str], data: FORM) -> Response:
        columns = form_columns(page, obj)
        sent = without_hidden(page, obj, submitted(page, columns, data))
        if sent.problems:
            return _form(page, obj, None, sent, FormErrors(sent.problems), status=422)
        try:
            record = page.runtime.records.create(page.actor, object_name, sent.values)
        except SAVE_REFUSALS as exc:
            errors, status = refused(page, obj, columns, exc)
            return _form(page, obj, None, sent, errors, status=status)
        return _go(page, f"/r/{object_name}/{record['id']}")

    @get("/{object_name:str}/{record_id:int}", **DB)
    def detail_page(self, page: PAGE, obj: OBJECT, request: Request, object_name: FromPath[str], record_id: IdInPath) -> Response:
        try:
            record = page.runtime.records.get(page.actor, object_name, record_id)
        except NotFound:
            return _missing(page, object_name, record_id)
        Preferences(page.runtime).viewed(page.user.user_id, object_name, record_id)
        extra = {}
        if request.query_params.get("compose"):
            extra["composer"] = composer(page, obj, record, request.query_params.get("compose"))
        return _detail(page, obj, record, message=request.query_params.get("message"), notice=request.query_params.get("notice"), **extra)

    @post("/{object_name:str}/{record_id:int}/shares", **DB, opt={"operation": "update"})
    def share(self, page: PAGE, obj: OBJECT, object_name: FromPath[str], record_id: IdInPath, data: FORM) -> Response:
        status, problem = add_share(page, object_name, record_id, data)
        return _sharing_answer(page, obj, record_id, status, problem, data)

    @post("/{object_name:str}/{record_id:int}/shares/{share_id:int}/delete", **DB, opt={"operation": "update"})
    def unshare(self, page: PAGE, obj: OBJECT, object_name: FromPath[str], record_id: IdInPath, share_id: IdInPath) -> Response:
        status, problem = remove_share(page, object_name, record_id, share_id)
        return _sharing_answer(page, obj, record_id, status, problem, {})

    @get("/{object_name:str}/{record_id:int}/edit", **DB, opt={"operation": "update"})
    def edit_page(self, page: PAGE, obj: OBJECT, object_name: FromPath[str], record_id: IdInPath) -> Response:
        try:
            record = page.runtime.records.get(page.actor, object_name, record_id)
        except NotFound:
            return _missing(page, object_name, record_id)
        locked = locked_reason(page, approval_view(page, obj, record))
        if locked:  # the record page says why, instead of a form that fails on save
            return _go(page, f"/r/{object_name}/{record_id}")
        return _form(page, obj, record, Submission())

    @post("/{object_name:str}/{record_id:int}/edit", **DB, opt={"operation": "update"})
    def update(self, page: PAGE, obj: OBJECT, object_name: FromPath[str], record_id: IdInPath, data: FORM) -> Response:
        try:
            record = page.runtime.records.get(page.actor, object_name, record_id)
        except NotFound:
            return _missing(page, object_name, record_id)
        columns = form_columns(page, obj)
        sent = without_hidden(page, obj, submitted(page, columns, data, record), record)
        version = data.get("version") if isinstance(data.get("version"), str) and data.get("version") else None
        if sent.problems:
            return _form(page, obj, record, sent, FormErrors(sent.problems), status=422, version=version)
        try:
            saved = page.runtime.records.update(page.actor, object_name, record_id, sent.values, version=version)
        except Conflict as exc:
            return _form(page, obj, record, sent, status=409, version=str(exc.current_version), conflict=_conflict(page, obj, exc))
        except SAVE_REFUSALS as exc:
            errors, status = refused(page, obj, columns, exc)
            return _form(page, obj, record, sent, errors, status=status, version=version)
        if str(saved["version"]) == version:  # every value was the one the record holds: nothing written, the version stays
            return _go(page, f"/r/{object_name}/{record_id}?" + urlencode({"notice": page.t("Nothing to save: no value was changed.")}))
        return _go(page, f"/r/{object_name}/{record_id}")

    @post("/{object_name:str}/{record_id:int}/delete", **DB, opt={"operation": "delete"})
    def delete(self, page: PAGE, obj: OBJECT, object_name: FromPath[str], record_id: IdInPath, data: FORM) -> Response:
        try:
            page.runtime.records.delete(page.actor, object_name, record_id, version=data.get("version") or None)
        except (Refused, Conflict, Forbidden) as exc:
            return _go(page, f"/r/{object_name}/{record_id}?" + urlencode({"message": page.t("Not deleted: {reason}", reason=say(exc, page.lang))}))
        except NotFound:
            return _missing(page, object_name, record_id)
        return _go(page, f"/r/{object_name}")


# --- the list -------------------------------------------------------------------------------


def list_params(pairs) -> list[tuple[str, str]]:
    """The query string as list parameters: empty inputs dropped, a multiple choice joined into one ``__in``."""
    merged: dict[str, list[str]] = {}
    for key, value in pairs:
        if value is None or str(value).strip() == "" or key.startswith("_"):
            continue
        merged.setdefault(key, []).append(str(value))
    return [(key, ",".join(values) if key.endswith("__in") or key == COLUMNS else values[-1]) for key, values in merged.items()]


@dataclass(frozen=True)
class CellEditing:
    """Which cells of a list open an input in place: the columns the user may change, on the records they may
    change; ``sentence``: the pencil's name in the page's language ("Change {field} of {title}")."""

    names: frozenset[str] = frozenset()
    records: frozenset[int] = frozenset()
    sentence: str = ""

    def pencil_names(self, column: Column) -> str | None:
        """The column's pencil name as HTML with the record's title still to put in (``{title}``), if it has pencils."""
        if column.name not in self.names:
            return None
        return str(escape(self.sentence)).replace("{field}", str(escape(column.title)))


def list_columns(columns: list[Column], lang: str, currency: str, zone: str | None, editing: CellEditing,
                 linked: bool = True) -> list[ListColumn]:
    """The columns as their cells are written; the first links to the record when ``linked``."""
    return [ListColumn(c.name, str(escape(c.title)), _cell_writer(c, linked and i == 0, lang, currency, zone), linked and i == 0,
                       editing.pencil_names(c)) for i, c in enumerate(columns)]


def list_rows(page: Page, obj: ObjectDef, records: list[dict], columns: list[Column], selectable: bool,
              editing: CellEditing = CellEditing()) -> list[str]:
    """The table's rows as HTML: the first cell links to the record, the others as ``cell`` writes them; a cell
    ``editing`` allows has a pencil opening its input.

    Written by a function generated once per list shape (ui/row_writer.py) rather than in the template: a list
    page is mostly these rows, and Jinja, or a loop deciding each cell's markup, spends several times longer on
    them; every value is escaped like the template would."""
    if not records:
        return []
    lang, currency, zone = page.lang, page.currency, page.zone
    key = (obj.name, tuple(c.name for c in columns), selectable, editing.names, currency, zone)

    def build():
        return row_writer(obj.name, list_columns(columns, lang, currency, zone, editing), selectable,
                          page.t("Select {title}"), lambda record: escape_text(record_title(obj, record, lang)))
    write = page.memo(("list_row_writers",), Writers).get(key, build)
    changeable = editing.records
    return [write(record, record["id"] in changeable) for record in records]


def _cell_writer(col: Column, first: bool, lang: str, currency: str, zone: str | None):
    return _plain_cell(col.field, lang, currency, zone) if first else cell(col.field, lang, currency, zone)


def _shown_input(record: dict, oob: bool = False) -> str:
    """The version the list showed of the record, which a mass action checks before changing it."""
    swap = ' hx-swap-oob="true"' if oob else ""
    return f'<input type="hidden" id="shown-{record["id"]}" name="shown" value="{record["id"]}:{record["version"]}"{swap}>'


def _version_input(record: dict, oob: bool = False) -> str:
    """The record's version for its cells' inputs; belonging to no form, it is sent only by the pencils that include it."""
    swap = ' hx-swap-oob="true"' if oob else ""
    return f'<input type="hidden" id="version-{record["id"]}" name="version" value="{record["version"]}" form="row-versions"{swap}>'


def _cell_editing(page: Page, obj: ObjectDef, columns: list[Column], records: list[dict],
                  updatable: frozenset[int] | None = None) -> CellEditing:
    """The list's cells that open an input: the columns the user may change, on the shown records they may change
    (``updatable``, when the list's read already says which)."""
    changeable = page.memo(("cell_editing", obj.name), lambda: frozenset(
        c.name for c in column_choices(page, obj) if inline_edit.editable(page, obj, c.name) is not None))
    names = changeable.intersection(c.name for c in columns)
    if not names or not records:
        return CellEditing()
    ids = updatable if updatable is not None else page.updatable(obj.name, [r["id"] for r in records])
    return CellEditing(names, frozenset(ids), page.t("Change {field} of {title}"))


def shown_cell(page: Page, obj: ObjectDef, record: dict, name: str, first: bool, note: str = "") -> Markup:
    """One cell of the list drawn again after its input closed (saved or cancelled), with the record's version
    for the row's other cells and its selection (htmx swaps them out of band)."""
    col = next(c for c in column_choices(page, obj) if c.name == name)
    editing = _cell_editing(page, obj, [col], [record])
    shown = list_columns([col], page.lang, page.currency, page.zone, editing, linked=first)[0]
    pencil = shown.pencil_name(record["id"] in editing.records, str(escape(record_title(obj, record, page.lang))))
    html = cell_html(obj.name, record, name, shown.label, shown.write(record.get(name)), first, pencil, note, focus=True)
    return Markup(html + _version_input(record, True) + _shown_input(record, True))


def _plain_cell(fdef: FieldDef, lang: str, currency: str, zone: str | None):
    text = formatter(fdef, lang, currency, zone)
    return lambda value: escape_text(text(value))


def list_view(page: PAGE, obj: OBJECT, pairs, partial: bool = False) -> dict:
    """What the list page shows; ``partial``: only what its table partial (the htmx swap) needs."""
    access, meta = page.access, page.meta()
    pairs = list(pairs)
    params = list_params(pairs)
    layout = meta.layout(obj.name, "list")
    chosen = dict(params)
    columns, column_error = _shown_columns(page, obj, layout.columns, chosen.get(COLUMNS))
    if column_error:
        params = [(k, v) for k, v in params if k != COLUMNS]
    sort = chosen.get("sort") or layout.sort
    offset = _offset(chosen.get("offset"))
    query = [(k, v) for k, v in params if k not in ("sort", "offset", "limit", COLUMNS)] + [("limit", str(PAGE_SIZE)), ("offset", str(offset))]
    if sort:
        query.append(("sort", sort))
    error, result = None, None
    try:
        result = page.list_records(obj.name, query, updatable=True)
    except QueryError as exc:
        error = exc.worded(page.lang)
    here = [(k, v) for k, v in params if k != "offset"]
    may_update, may_delete = access.can(obj.name, "update"), access.can(obj.name, "delete")
    items = result.items if result else []
    rows = list_rows(page, obj, items, columns, may_update or may_delete,
                     _cell_editing(page, obj, columns, items, result.updatable if result else None))
    view = {
        "columns": columns, "rows": rows, "rows_html": Markup("".join(rows)), "error": error, "column_error": column_error,
        "column_options": _column_options(page, obj, columns, not chosen.get(COLUMNS) or bool(column_error)), "columns_param": chosen.get(COLUMNS, "") if not column_error else "",
        "column_keep": [(k, v) for k, v in here if k != COLUMNS], "sort": sort, "q": chosen.get("q", ""),
        "offset": offset, "has_more": bool(result and result.has_more), "page_size": PAGE_SIZE, "query": urlencode(here),
        "previous": urlencode(here + [("offset", str(max(0, offset - PAGE_SIZE)))]) if offset else None,
        "next": urlencode(here + [("offset", str(offset + PAGE_SIZE))]) if result and result.has_more else None,
        "sort_links": _sort_links(here, sort, columns),
        "view_query": view_query(urlencode(here)), "view_error": None, "view_name": "", "view_shared": False,
        "may_update": may_update, "may_delete": may_delete, "may_merge": may_merge(page, obj),
        "mass_fields": page.memo(("mass_fields", obj.name), lambda: mass_fields(page, obj)) if may_update else [],
        "chips": chips(page, obj, here, {k[1:]: str(v) for k, v in pairs if k.startswith("_") and v},
                       lambda name: obj.fields.get(name) or _system_field(page, obj, name)),
        "count_query": urlencode([(k, v) for k, v in here if k not in ("sort", COLUMNS)]),
        "kanban": meta.layout(obj.name, "kanban").exists,
    }
    if partial:
        return view
    return {
        **view, "filters": filter_controls(page, obj, chosen), "may_create": access.can(obj.name, "create"),
        "export": _export_query(params, sort if "sort" not in chosen else None, columns if COLUMNS in dict(params) else None),
        "views": saved_views(page, obj, view["view_query"]), "views_problem": None,
    }


def _export_query(params: list[tuple[str, str]], layout_sort: str | None, chosen: list[Column] | None) -> str:
    """The export link's query: the list's filters and sort, and the columns the user chose as the list shows them
    (none chosen: the export writes every column)."""
    query = [(k, v) for k, v in params if k not in ("offset", "limit", COLUMNS)]
    if layout_sort:
        query.append(("sort", layout_sort))
    if chosen:
        query.append((COLUMNS, ",".join(c.name for c in chosen)))
    return urlencode(query)


def _list(page: PAGE, obj: OBJECT, pairs, status: int = 200, partial: bool = False, **extra: Any) -> Response:
    template = "records/_table.html" if partial else "records/list.html"
    view = list_view(page, obj, pairs, partial)
    if view["column_error"] and status == 200:
        status = 400
    return page.render(template, status=status, obj=obj, title=plural(obj, page.lang), **{**view, **extra})


# --- saved views ----------------------------------------------------------------------------


def view_query(raw: str) -> str:
    """A list's query string as a saved view keeps it: filters, search and sort, not the page it was on."""
    return urlencode([(k, v) for k, v in parse_qsl(raw or "") if k not in ("offset", "limit") and not k.startswith("_")])


def saved_views(page: PAGE, obj: OBJECT, current: str) -> list[dict]:
    """The user's own views of the object and those shared with its readers; ``current`` marks the one open now."""
    now = sorted(parse_qsl(current))
    return [{**v, "current": sorted(parse_qsl(v["query"])) == now}
            for v in Preferences(page.runtime).views(page.user.user_id, obj.name, page.connection)]


def _view_problem(page: Page, exc: ViewError) -> str:
    if exc.field == "name":
        return page.t("View name: use 1 to {n} characters, on one line.", n=NAME_LENGTH)
    if exc.field == "query":
        return page.t("These filters are too long to keep as a view.")
    if exc.field == COLUMNS:
        return page.t("Columns: there is no field “{name}” you may show in this list.", name=exc.value)
    return page.t("That view is not one of yours: only the person who saved it may remove it.")


# --- mass update and delete -----------------------------------------------------------------


def mass_fields(page: Page, obj: ObjectDef) -> list[Column]:
    """The fields a mass update may set: those the user may change on the form."""
    return [c for section in form_sections(page, obj) for c in section["fields"] if c.editable and c.widget != "readonly"]


def _mass_input(page: Page, target: Column | None, data: dict | None = None, error: str | None = None) -> dict:
    """What records/_input.html needs to draw the field's input in the action bar or on the step page (with what was
    sent, when it comes back with a problem)."""
    options = {target.name: choices(target.field, page.lang)} if target and target.widget in ("select", "multiselect") else {}
    value = from_form(target.field, data.get("value"), page.zone) if target and data else None
    return {"options": options, "lookups": {}, "value": value, "error": error, "fid": "mass-value-input", "input_name": "value",
            "clearing": bool(data) and one(data, "clear") in ("1", "on", "true")}


def _mass_update(page: PAGE, obj: OBJECT, chosen: Selection, back: str, data: dict) -> Response:
    """Choose the value (a step of its own without JavaScript), confirm the change, then make it."""
    name = one(data, "field")
    target = next((c for c in mass_fields(page, obj) if c.name == name), None)
    if target is None:
        problem = (page.t("Field: choose the field to set.") if not name
                   else page.t("Field: “{field}” is not a field you may change here.", field=name))
        return _mass_page(page, obj, "problem", chosen, back, status=422, problem=problem)
    if "_set" not in data:  # the action bar had no input for the value (no JavaScript): ask for it on a step of its own
        return _mass_page(page, obj, "choose", chosen, back, c=target, **_mass_input(page, target))
    value = _mass_value(page, target, data)
    if value.problem is not None:
        return _mass_page(page, obj, "choose", chosen, back, status=422, c=target,
                          **_mass_input(page, target, data, f"{target.title}: {value.problem}"))
    change, problem = asked_change(page, obj, target.field, data, value.value)
    if change is None:
        return _mass_page(page, obj, "choose", chosen, back, status=422, c=target, **_mass_input(page, target, data, problem))
    said = sentence(page, obj, len(chosen.ids), change)
    if "confirmed" not in data:
        return _mass_page(page, obj, "confirm", chosen, back, c=target, change=change, sentence=said)
    outcome = update_each(page, obj, chosen, change.field, change.value)
    return _mass_page(page, obj, "updated", chosen, back, c=target, change=change, sentence=said, outcome=outcome)


def _every_matching(page: PAGE, obj: OBJECT, query: str) -> tuple[Selection, str | None]:
    """"Select all N matching": every record the list's filters match, with the versions read now (the
    confirmation step names them), or why they are too many for one change."""
    params = [(k, v) for k, v in list_params(parse_qsl(query)) if k not in ("offset", "limit", COLUMNS)]
    try:
        found = page.list_records(obj.name, params + [("limit", str(MASS_LIMIT)), ("count", "true")])
    except QueryError as exc:
        return Selection([], {}), exc.sentence(page.lang)
    if found.count > MASS_LIMIT:
        many = f"{found.count:,}+" if found.count_capped else f"{found.count:,}"
        return Selection([], {}), page.t("{n} records match: change at most {limit} at a time. Narrow the filters, then try again.",
                                         n=many, limit=MASS_LIMIT)
    return Selection([r["id"] for r in found.items], {r["id"]: r["version"] for r in found.items}), None


def _mass_value(page: Page, target: Column, data: dict) -> lookups.Choice:
    """The value to set; for a lookup, the record its picker's text names."""
    value = from_form(target.field, data.get("value"), page.zone)
    if target.widget != "lookup" or "_value" not in data:
        return lookups.Choice(value)
    return lookups.choose(page, page.meta().object(target.field.spec["target"]), value, one(data, "_value"))


def _narrowing(page: Page, request: Request, field: str) -> lookups.Within | None:
    """What a lookup picker's search is narrowed by: the values its form sends of the fields its layout names
    (``from``: the form's object), else those of the record being edited (an inline edit sends none)."""
    source = page.meta().objects.get(request.query_params.get("from") or "")
    lookup = source.fields.get(field) if source is not None else None
    if lookup is None or lookup.type.name != "lookup":
        return None
    held = _held(page, source, request.query_params.get("record"))
    held.update({name: request.query_params[name] for name in source.fields if name in request.query_params})
    return lookups.Within.of(page, lookup, held)


def _held(page: Page, source: ObjectDef, record_id: str | None) -> dict:
    try:
        return page.runtime.records.get(page.actor, source.name, int(record_id)) if record_id else {}
    except (ValueError, Forbidden, NotFound):
        return {}


def _mass_delete(page: PAGE, obj: OBJECT, chosen: Selection, back: str, data: dict) -> Response:
    said = sentence(page, obj, len(chosen.ids))
    if "confirmed" not in data:
        return _mass_page(page, obj, "confirm", chosen, back, sentence=said)
    return _mass_page(page, obj, "deleted", chosen, back, sentence=said, outcome=delete_each(page, obj, chosen))


def _mass_page(page: PAGE, obj: OBJECT, step: str, chosen: Selection, back: str, status: int = 200, **values: Any) -> Response:
    """A step of a mass action (choose the value, confirm the change), its outcome, or why it cannot start."""
    records = []
    if step in ("choose", "confirm"):
        found = readable(page, obj, chosen.ids)
        records = [{"id": i, "title": record_title(obj, found[i], page.lang)} for i in chosen.ids if i in found]
    return page.render("records/mass.html", status=status, obj=obj, title=plural(obj, page.lang), step=step, chosen=chosen,
                       back=back, records=records, objects=counted(obj, len(chosen.ids), page.lang), **values)


def _list_columns(page: PAGE, obj: OBJECT, names: list[str]) -> list[Column]:
    """The columns named that the user may see; none named: the title and the first five other fields."""
    access = page.access
    names = names or [obj.title_field] + [f.name for f in obj.active_fields() if f.name != obj.title_field][:5]
    result = []
    for name in _not_yet(names, set()):
        fdef = obj.fields.get(name) or _system_field(page, obj, name)
        if fdef is None or fdef.removed or not access.visible(obj.name, name):
            continue
        result.append(column(fdef, page.lang, False))
    return result


def column_choices(page: Page, obj: ObjectDef) -> list[Column]:
    """Every column the user may show in the object's list, in the object's order: the fields they may see, then
    the system fields a layout may name (owner, created and updated). Hidden fields are never among them."""
    def build() -> list[Column]:
        names = [f.name for f in obj.active_fields()] + sorted(SYSTEM_COLUMNS)
        return _list_columns(page, obj, names)
    return page.memo(("column_choices", obj.name), build)


def _shown_columns(page: Page, obj: ObjectDef, layout_columns: list[str], asked: str | None) -> tuple[list[Column], str | None]:
    """The list's columns: those ``asked`` (the ``columns`` parameter), else the layout's; with the problem when
    the parameter names a field the user may not show (unknown, or hidden from them), and then the layout's."""
    default = page.memo(("list_columns", obj.name), lambda: _list_columns(page, obj, layout_columns))
    if not asked:
        return default, None
    offered = {c.name: c for c in column_choices(page, obj)}
    names = [n.strip() for n in asked.split(",") if n.strip()]
    unknown = next((n for n in names if n not in offered), None)
    if unknown is not None:
        return default, page.t("Columns: there is no field “{name}” you may show in this list.", name=unknown)
    return [offered[n] for n in dict.fromkeys(names)] or default, None


def _column_options(page: Page, obj: ObjectDef, shown: list[Column], layout_columns: bool = False) -> list[dict]:
    """What the column chooser lists: the columns shown now, in their order, then the others the user may show, with
    the names of their buttons that move them; for the layout's columns (``layout_columns``), worded once per metadata
    version, role and language."""
    def build() -> list[dict]:
        names = {c.name for c in shown}
        rest = [c for c in column_choices(page, obj) if c.name not in names]
        return [{"name": c.name, "title": c.title, "shown": c.name in names, "up": page.t("Move {column} up", column=c.title),
                 "down": page.t("Move {column} down", column=c.title)} for c in [*shown, *rest]]
    if layout_columns:  # most lists
        return page.memo(("column_options", obj.name), build)
    return build()


def _sort_links(here: list[tuple[str, str]], sort: str, columns: list[Column]) -> dict[str, str]:
    """Each sortable column's heading link: the list's query with the column's sort (the other way round when the list
    is sorted by it already). The rest of the query is encoded once for every column."""
    rest = urlencode([(k, v) for k, v in here if k != "sort"])
    rest = rest + "&" if rest else ""
    return {c.name: rest + urlencode([("sort", _toggled(sort, c.name))]) for c in columns if c.field.type.sortable}


def _not_yet(names: list[str], shown: set[str]) -> list[str]:
    """The names not ``shown`` yet, each once (and now shown): a page never has two inputs or cells for one field."""
    fresh = [name for name in dict.fromkeys(names) if name not in shown]
    shown.update(fresh)
    return fresh


def _system_field(page: PAGE, obj: OBJECT, name: str) -> FieldDef | None:
    return system_field(page.runtime.registry, obj.name, name)


def _offset(raw: str | None) -> int:
    try:
        return max(0, int(raw or 0))
    except ValueError:
        return 0


def _toggled(sort: str, name: str) -> str:
    first = sort.split(",")[0] if sort else ""
    return f"-{name}" if first == name else name


def filter_controls(page: PAGE, obj: OBJECT, chosen: dict) -> list[dict]:
    """One control per filterable field the user may see, fitting its type, with what is chosen now."""
    controls = []
    for fdef in obj.active_fields():
        if not page.access.visible(obj.name, fdef.name):
            continue
        ftype, name = fdef.type, fdef.name
        family, operators = ftype.family, ftype.operators
        control = {"name": name, "title": fdef.label(page.lang), "type": ftype.name}
        if family == "choice" and "values" in ftype.options:
            selected = set((chosen.get(f"{name}__in") or chosen.get(name) or "").split(","))
            control.update(widget="choices", options=[{**o, "selected": o["value"] in selected} for o in choices(fdef, page.lang)])
        elif family in ("number", "date") and {"gte", "lte"} <= operators:
            control.update(widget="range", input="number" if family == "number" else "date",
                           low=chosen.get(f"{name}__gte", ""), high=chosen.get(f"{name}__lte", ""))
        elif family == "boolean" and "eq" in operators:
            control.update(widget="boolean", value=chosen.get(name, ""))
        elif ftype.single_link and fdef.spec.get("target") and "eq" in operators:
            control.update(widget="lookup", target=fdef.spec["target"], value=chosen.get(name, ""), shown=chosen.get(f"_{name}", ""))
        elif family == "text" and ftype.sortable and "contains" in operators:
            control.update(widget="text", value=chosen.get(f"{name}__contains", ""))
        else:
            continue
        control["active"] = any(key == name or key.startswith(f"{name}__") for key in chosen)
        controls.append(control)
    return controls


# --- kanban ---------------------------------------------------------------------------------

BOARD_CARDS = 50


def kanban_view(page: PAGE, obj: OBJECT, pairs) -> dict | None:
    """A column per value of the board's picklist (and one for records without a value, when there are
    any), the count and sum of each under the list's filters, and the latest cards with their days in
    the column."""
    pairs = list(pairs)  # read twice: for the filters and for the problem a move left
    layout = page.meta().layout(obj.name, "kanban")
    if layout.group_by not in obj.fields or not page.access.visible(obj.name, layout.group_by):
        return None
    group = obj.fields[layout.group_by]
    sum_field = layout.sum_field if layout.sum_field and page.access.visible(obj.name, layout.sum_field) else None
    params = [(k, v) for k, v in list_params(pairs) if k not in ("offset", "limit", "sort", COLUMNS, group.name, f"{group.name}__in")]
    totals = {row["value"]: row for row in page.runtime.records.summarize(page.actor, obj.name, group.name, sum_field, params)}
    card_fields = [obj.fields[n] for n in layout.card_fields
                   if n in obj.fields and n != obj.title_field and page.access.visible(obj.name, n)]
    values = choices(group, page.lang)
    if totals.get(None, {}).get("count"):
        values = values + [{"value": "", "label": page.t("No value"), "color": None}]
    columns = []
    for option in values:
        chosen = (group.name, option["value"]) if option["value"] else (f"{group.name}__isnull", "true")
        found = page.list_records(obj.name, params + [chosen, ("limit", str(BOARD_CARDS)), ("sort", "-updated_at")])
        total = totals.get(option["value"] or None, {})
        columns.append({**option, "cards": _cards(page, obj, group, card_fields, found.items), "count": total.get("count", 0),
                        "more": f"/r/{obj.name}?{urlencode(params + [chosen])}" if found.has_more else None,
                        "sum": page.show(obj.fields[sum_field], total.get("sum", 0)) if sum_field else None})
    return {"columns": columns, "field": group, "values": values, "sum_title": obj.fields[sum_field].label(page.lang) if sum_field else None,
            "may_update": page.access.can(obj.name, "update") and page.access.writable(obj.name, group.name),
            "problem": dict(pairs).get("_problem"), "query": urlencode(params), "chips": chips(page, obj, params, {},
            lambda name: obj.fields.get(name) or _system_field(page, obj, name)), "views": saved_views(page, obj, urlencode(params))}


def _cards(page: PAGE, obj: OBJECT, group: FieldDef, card_fields: list[FieldDef], records: list[dict]) -> list[dict]:
    """Cards of one column: title, labelled values, and how many days the record has been in the column."""
    moved = page.runtime.records.last_changed(page.actor, obj.name, group.name, [r["id"] for r in records])
    today = dt.datetime.now(dt.timezone.utc)
    cards = []
    for r in records:
        since = moved.get(r["id"]) or _when(r.get("created_at"))
        cards.append({"id": r["id"], "version": r["version"], "title": r.get(obj.title_field) or f"#{r['id']}",
                      "days": (today - since).days if since else None,
                      "details": [{"label": f.label(page.lang), "text": page.show(f, r.get(f.name))}
                                  for f in card_fields if r.get(f.name) not in (None, "")]})
    return cards


def _when(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    when = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)


# --- detail ---------------------------------------------------------------------------------


def detail_view(page: PAGE, obj: OBJECT, record: dict) -> dict:
    meta, access = page.meta(), page.access
    layout = meta.detail_layout(obj)
    sections, shown = [], set()
    for section in layout.sections:
        fields = []
        for name in _not_yet(section.fields, shown):
            fdef = obj.fields.get(name) or _system_field(page, obj, name)
            if fdef is None or fdef.removed or not access.visible(obj.name, name) or name not in record:
                continue
            value = record.get(name)
            link = _link(fdef, value, record)
            fields.append({"name": name, "title": fdef.label(page.lang), "text": page.show(fdef, value), "link": link,
                           "type": fdef.type.name, "multiline": fdef.type.family == "text" and fdef.type.widget == "textarea",
                           "links": _links(fdef, value), "editable": inline_edit.editable(page, obj, name) is not None})
        if fields:
            sections.append({"title": label(section.label, page.lang), "tab": label(section.tab, page.lang),
                             "columns": section.columns, "fields": fields})
    tabs = list(dict.fromkeys(s["tab"] for s in sections if s["tab"]))
    approval = approval_view(page, obj, record)
    locked = locked_reason(page, approval)
    process = process_path(page, obj, record)
    if locked:  # nothing offers a change that the save would refuse
        for section in sections:
            for shown_field in section["fields"]:
                shown_field["editable"] = False
        if process:
            process["may_move"] = False
    return {
        "sections": sections, "tabs": tabs, "related": related_lists(page, obj, record, layout),
        "highlights": highlights(page, obj, record, layout), "process": process,
        "timeline": timeline(page, obj, record), "composer": composer(page, obj, record), "shares": _shares(page, obj, record),
        "may_update": access.can(obj.name, "update") and not locked, "may_delete": access.can(obj.name, "delete") and not locked,
        "may_merge": may_merge(page, obj) and not locked,
        "may_share": access.can(obj.name, "update"), "share_error": None, "share_typed": {}, "editing": None,
        "approval": approval, "locked": locked,
        **record_rules.shown_on_page(page, obj, record),
    }


def _detail(page: PAGE, obj: OBJECT, record: dict, status: int = 200, **extra: Any) -> Response:
    return page.render("records/detail.html", status=status, obj=obj, record=record, title=record_title(obj, record, page.lang),
                       **{**detail_view(page, obj, record), **extra})


def _sharing_answer(page: PAGE, obj: OBJECT, record_id: int, status: int, problem: str | None, typed: dict) -> Response:
    """After sharing: the sharing section alone (htmx), else the detail page, with the problem beside the form."""
    if page.htmx:
        record = {"id": record_id}
        return page.render("records/_sharing.html", status=status, obj=obj, record=record, shares=_shares(page, obj, record),
                           may_share=page.access.can(obj.name, "update"), share_error=problem, share_typed=typed if problem else {})
    if problem is None:
        return _go(page, f"/r/{obj.name}/{record_id}#sharing")
    try:
        record = page.runtime.records.get(page.actor, obj.name, record_id)
    except NotFound:
        return _missing(page, obj.name, record_id)
    return _detail(page, obj, record, status=status, share_error=problem, share_typed=typed)


def _link(fdef: FieldDef, value: Any, record: dict) -> str | None:
    if not isinstance(value, dict) or value.get("id") is None:
        return None
    if not fdef.type.single_link:
        return None
    if fdef.spec.get("target"):
        return f"/r/{fdef.spec['target']}/{value['id']}"
    if value.get("object"):
        return f"/r/{value['object']}/{value['id']}"
    return None


def _links(fdef: FieldDef, value: Any) -> list[dict]:
    if fdef.type.family != "relation" or not fdef.type.multiple or not value:
        return []
    extra = [t for t in fdef.through]
    return [{"href": f"/r/{fdef.spec['target']}/{link['id']}", "text": link.get("label") or f"#{link['id']}",
             "details": ", ".join(f"{t.label()}: {link.get(t.name)}" for t in extra if link.get(t.name) is not None)} for link in value]


def related_lists(page: PAGE, obj: OBJECT, record: dict, layout: LayoutView) -> list[dict]:
    """Records pointing here by a lookup (or linking here many-to-many), a few of each, with how many there are.

    A detail layout naming its ``related_lists`` shows those, in its order (each a name ``object.field``, or an
    object with the list's ``columns`` and number of ``rows``); one naming none shows every relation."""
    meta, access = page.meta(), page.access
    relations = {}
    for child in meta.objects.values():
        for fdef in child.active_fields():
            if fdef.type.family == "relation" and fdef.spec.get("target") == obj.name:
                relations[f"{child.name}.{fdef.name}"] = (child, fdef)
    chosen = ([(relations[w.name], w) for w in layout.shown_related_lists if w.name in relations] if layout.names_related_lists
              else [(r, RelatedList(name)) for name, r in relations.items()])
    shown = [((child, fdef), options) for (child, fdef), options in chosen
             if not child.spec.get("system") and access.can(child.name, "read") and access.visible(child.name, fdef.name)]
    with page.runtime.records.reading(page.actor) as reads:  # one read transaction for every list, not one each
        return [item for item in (_related_list(page, reads, child, fdef, options, record) for (child, fdef), options in shown) if item]


def _related_list(page: PAGE, reads, child: ObjectDef, fdef: FieldDef, options: RelatedList, record: dict) -> dict | None:
    access = page.access
    try:
        found = reads.list(child.name, {fdef.name: record["id"], "limit": options.rows, "sort": "-updated_at", "count": "true"})
    except QueryError:
        return None
    columns = _related_columns(page, child, options.columns)
    rows = [{"href": f"/r/{child.name}/{r['id']}", "cells": [page.show(c.field, r.get(c.name)) for c in columns]} for r in found.items]
    return {"title": f"{plural(child, page.lang)} ({fdef.label(page.lang)})", "columns": columns, "rows": rows,
            "name": f"{child.name}-{fdef.name}", "count": found.count, "capped": found.count_capped,
            "all": f"/r/{child.name}?{urlencode({fdef.name: record['id']})}",
            "new": f"/r/{child.name}/new?{urlencode({fdef.name: record['id']})}" if fdef.type.name == "lookup" and access.can(child.name, "create") else None}


def _related_columns(page: Page, child: ObjectDef, names: list[str]) -> list[Column]:
    if names:
        return _list_columns(page, child, names)
    return _list_columns(page, child, page.meta().layout(child.name, "list").columns)[:4]


def _shares(page: PAGE, obj: OBJECT, record: dict) -> list[dict]:
    try:
        return page.runtime.records.shares(page.actor, obj.name, record["id"])
    except (Forbidden, NotFound):
        return []


# --- forms ----------------------------------------------------------------------------------


def form_sections(page: Page, obj: ObjectDef) -> list[dict]:
    meta, access = page.meta(), page.access
    sections, shown = [], set()
    for section in meta.form_layout(obj).sections:
        columns = []
        for name in _not_yet(section.fields, shown):
            fdef = obj.fields.get(name) or _system_field(page, obj, name)
            if fdef is None or fdef.removed or not access.visible(obj.name, name) or name in ("created_at", "updated_at"):
                continue
            columns.append(lookups.narrowed(page, column(fdef, page.lang, access.writable(obj.name, name))))
        if columns:
            sections.append({"title": label(section.label, page.lang), "columns": section.columns, "fields": columns})
    return sections


def form_columns(page: Page, obj: ObjectDef) -> list[Column]:
    return [col for section in form_sections(page, obj) for col in section["fields"]]


def _form(page: PAGE, obj: OBJECT, record: dict | None, sent: Submission, errors: FormErrors | None = None, status: int = 200,
          version: str | None = None, conflict: dict | None = None, fields_only: bool = False) -> Response:
    """The form with the record's values under what was sent; a refused save's messages beside their fields and above.
    ``fields_only``: its fields alone, as the form redraws them when a value they depend on changes."""
    errors = errors or FormErrors()
    shown = {name: form_value(record, name) for name in (record or {})}
    shown.update(sent.values)
    shown.update({name: None for name in sent.typed})  # a lookup whose text named no record holds none
    sections = form_sections(page, obj)
    fields = [col.field for section in sections for col in section["fields"]]
    titles = {name: v["label"] for name, v in (record or {}).items() if isinstance(v, dict) and v.get("label")}  # dynamic lookups
    titles.update(lookups.shown_titles(page, fields, shown, record, sent.typed))
    options = {f.name: choices(f, page.lang) for f in obj.active_fields() if "values" in f.type.options}
    state = form_state(page, obj, shown)
    for name, allowed in state.allowed.items():  # a dependent picklist offers what its controlling value allows
        kept = set(allowed)
        depends = obj.fields[name].spec["depends_on"]["field"]
        if record is not None and shown.get(depends) == form_value(record, depends):
            held = form_value(record, name)  # what the record holds stays offered while its controlling value stays
            kept |= set(held if isinstance(held, list) else [held])
        options[name] = [o for o in options[name] if o["value"] in kept]
    hidden = state.hidden - set(errors.fields)  # a field refused is shown, so that it can be put right
    drawn = dict(sections=sections, values=shown, errors=errors.fields, options=options, lookups=titles, hidden=hidden,
                 required_now=state.required, redraws=state.redraws,
                 redraw_url=f"/r/{obj.name}/{record['id']}/form" if record else f"/r/{obj.name}/form")
    if fields_only:
        return page.render("records/_form_fields.html", status=status, obj=obj, record=record, **drawn)
    title = record_title(obj, record, page.lang) if record else page.t("New {object}", object=singular(obj, page.lang))
    return page.render("records/form.html", status=status, obj=obj, record=record, title=title, problems=errors.general,
                       conflict=conflict, version=version or (str(record["version"]) if record else None), **drawn)


def _conflict(page: PAGE, obj: OBJECT, exc: Conflict) -> dict:
    changes = []
    for change in exc.changes:
        fdef = obj.fields.get(change["field"])
        changes.append({"field": fdef.label(page.lang) if fdef else change["field"], "who": change["changed_by_label"],
                        "old": shown_value(fdef, change["old"], page.lang), "new": shown_value(fdef, change["new"], page.lang)})
    return {"message": say(exc, page.lang), "changes": changes, "version": exc.current_version}


# --- shared helpers -------------------------------------------------------------------------


def _object(page: Page, object_name: str, operation: str = "read") -> tuple[ObjectDef | None, Response | None]:
    _ = page.t
    try:
        obj = page.meta().object(object_name)
    except UnknownObject:
        return None, page.render("error.html", status=404, title=_("Not found"), message=_("There is no page for '{name}'.", name=object_name))
    if not page.access.can(object_name, operation):
        verb = {"read": _("see"), "create": _("create"), "update": _("change"), "delete": _("delete")}[operation]
        return None, page.render("error.html", status=403, title=_("Not allowed"),
                                 message=_("Your role may not {verb} {objects}.", verb=verb, objects=plural(obj, page.lang)))
    return obj, None


def may_merge(page: Page, obj: ObjectDef) -> bool:
    """Whether to offer merging the object's records: it takes the right to change them and to delete them."""
    return page.access.can(obj.name, "update") and page.access.can(obj.name, "delete") and not obj.spec.get("system")


def _missing(page: Page, object_name: str, record_id: int) -> Response:
    return page.render("error.html", status=404, title=page.t("Not found"),
                       message=page.t("There is no record {id} here that you may see.", id=record_id))


def _go(page: Page, target: str) -> Response:
    if page.htmx:
        return Response("", status_code=200, headers={"HX-Redirect": target, **VARY})
    return Redirect(target, status_code=303, headers=VARY)

