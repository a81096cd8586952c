"""Running a report as a reader: one statement, with the reader's record scope and filters inside it.

A summary or matrix report is one ``GROUP BY`` over the records the reader may read (the list's
own condition, core/records/reading.py ``aggregate``); a tabular report is one ``SELECT`` of its
columns. Dates are bucketed in SQL; lookups are grouped by id and named afterwards by one query
per target object; subtotals and totals are folded from the grouped rows in Python, except
distinct counts, which cannot be added up and are counted again per level.

Every field a report reads must be visible to the reader, and every object a path follows
readable: otherwise the report is refused (403) naming the place, never run with the field left
out, so that a figure never silently means something else for another reader.
"""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Iterable

import sqlalchemy as sa
from sqlalchemy import func, select
from sqlalchemy.ext.compiler import compiles

from core import recipients
from core.expressions import Joins, compile_sql
from core.metadata.model import FieldDef
from core.naming import title_column
from core.permissions import Access
from core.records.actor import Actor
from core.records.values import json_value
from core.coretables import stage_interval
from core.reports.definition import HISTORY, Definition, Group, Measure, Path, ReportError, read
from core.reports.periods import bounds, valid
from core.words import hint, sentence

RESERVED = ("period", "format", "lang")  # run parameters that are not list filters
FIRST_REPORT_VALUE = 1000  # the report's own filters bind tessera_f1000...: past the run's list filters
MAX_GROUPS = 5000  # grouped rows a report gives at most


@dataclass
class Result:
    report: str
    kind: str
    columns: list[dict]
    rows: list[dict]
    totals: dict
    subtotals: dict = field(default_factory=dict)
    truncated: bool = False

    def as_dict(self) -> dict:
        found = {"report": self.report, "kind": self.kind, "columns": self.columns, "rows": self.rows, "totals": self.totals}
        if self.subtotals:
            found["subtotals"] = self.subtotals
        if self.truncated:
            found["truncated"] = True
        return found


def shared_with(body: dict) -> list[str]:
    """Who may run a report besides administrators: its owner and those it is shared with ("everyone": anyone)."""
    found = list(body.get("shared_with", []))
    if body.get("owner"):
        found.append(f"user:{body['owner']}")
    return found or ["everyone"]


def may_run(conn, tables, body: dict, actor: Actor, access: Access) -> bool:
    """Whether ``actor`` may see the report at all (the object's read right is checked when it runs)."""
    audience = shared_with(body)
    if access.admin or actor.user_id is None or "everyone" in audience:
        return True
    return actor.user_id in recipients.resolve(conn, tables, audience, {}).users


class Runner:
    """Reports of the current metadata, run for one reader."""

    def __init__(self, runtime) -> None:
        self.runtime = runtime

    def available(self, actor: Actor) -> list[dict]:
        """The reports the actor may run: those shared with them on objects they may read."""
        with self.runtime.reading() as (conn, schema):
            access = schema.access(actor)
            found = []
            for name, body in sorted(schema.meta.named["report"].bodies.items()):
                if access.can(body.get("object", ""), "read") and may_run(conn, schema.tables, body, actor, access):
                    found.append({"name": name, "object": body["object"], "kind": body.get("kind", "summary"),
                                  "label": body.get("label") or {}, "description": body.get("description") or {},
                                  "chart": (body.get("chart") or {}).get("type")})
            return found

    def definition(self, actor: Actor, name: str) -> Definition:
        """The report ``name`` as the actor may run it; LookupError when there is none they may see."""
        return self._definition(actor, name)[0]

    def _definition(self, actor: Actor, name: str) -> tuple[Definition, Any]:
        with self.runtime.reading() as (conn, schema):
            body = schema.meta.named["report"].bodies.get(name)
            if body is None or not may_run(conn, schema.tables, body, actor, schema.access(actor)):
                names = [n for n, b in schema.meta.named["report"].bodies.items() if may_run(conn, schema.tables, b, actor, schema.access(actor))]
                raise LookupError(sentence("report_missing", name=name, hint=hint(name, names)))
            return schema.memo(("report", name), lambda: read(schema.meta, body)), schema.version

    def run(self, actor: Actor, name: str, params: Iterable[tuple[str, str]] = (), today: dt.date | None = None,
            reuse: bool = True) -> Result:
        """The report's figures for the actor; ``params``: list filters added to the report's (its prompts), and
        ``period`` (a relative period replacing the report's). With ``reuse``, the figures computed last for the
        same reader and parameters serve until an object the report reads is written (core/reports/cache.py)."""
        definition, version = self._definition(actor, name)
        params = list(params)
        today = today or dt.datetime.now(dt.timezone.utc).date()
        cache = self.runtime.report_cache
        stamp = cache.stamp(sources(definition))
        key = ("run", version, name, actor.user_id, actor.permission_set, tuple(params), today)
        found = cache.get(key, stamp) if reuse else None
        if found is None:
            found = self._run(actor, definition, params, today)
            cache.put(key, stamp, found)
        return copy.deepcopy(found)

    def run_definition(self, actor: Actor, definition: Definition, params: Iterable[tuple[str, str]] = (),
                       today: dt.date | None = None) -> Result:
        """The figures of a definition not saved yet (a report being built in Setup), for the actor, under the same checks
        as a saved report's; nothing is kept, since nothing names it."""
        return self._run(actor, definition, list(params), today or dt.datetime.now(dt.timezone.utc).date())

    def _run(self, actor: Actor, definition: Definition, params: list[tuple[str, str]], today: dt.date) -> Result:
        pairs = [(k, v) for k, v in params if k not in RESERVED]
        period = dict(params).get("period")
        with self.runtime.records.reading(actor) as reads:
            schema = reads.schema
            access = schema.access(actor)
            _check_readable(definition, access)
            span = _span(definition, period, today)
            if definition.kind == "tabular":
                return _tabular(reads, schema, definition, pairs, span)
            return _summary(reads, schema, access, definition, pairs, span)

    def drill(self, actor: Actor, name: str, params: Iterable[tuple[str, str]] = (), cell: dict | None = None,
              limit: int = 50, offset: int = 0, today: dt.date | None = None) -> dict:
        """The records behind one figure of a grouped report (``cell``: group key -> value as the run gave it; keys left
        out are not narrowed), as a list gives them to the actor: ``{"count", "items", "object"}``."""
        definition = self.definition(actor, name)
        pairs = [(k, v) for k, v in params if k not in RESERVED]
        cell = cell or {}
        unknown = [key for key in cell if key not in {g.key for g in definition.groups}]
        if unknown:
            raise ReportError(name, [(f"?{unknown[0]}", sentence("report_sort_unknown", key=unknown[0], keys=", ".join(g.key for g in definition.groups),
                                                                   hint=hint(unknown[0], [g.key for g in definition.groups])))])
        today = today or dt.datetime.now(dt.timezone.utc).date()
        with self.runtime.records.reading(actor) as reads:
            schema = reads.schema
            _check_readable(definition, schema.access(actor))
            span = _span(definition, dict(params).get("period"), today)
            dialect = reads.connection.dialect.name

            def build(reader, where):
                columns = _Columns(schema, reader, definition)
                conditions, values = _where(reads, schema, definition, reader.table, span, columns)
                for i, group in enumerate(definition.groups):
                    if group.key not in cell:
                        continue
                    column = columns.key(group, dialect)
                    value = cell[group.key]
                    if value is None:
                        conditions.append(column.is_(None))
                    else:
                        conditions.append(column == sa.bindparam(f"tessera_cell{i}", _cell_value(group, value), type_=column.type))
                ids = select(reader.table.c.id).select_from(columns.source()).where(where, *conditions).distinct()
                return select(ids.subquery().c.id, func.count().over()).order_by("id").limit(limit).offset(offset), values

            rows = reads.aggregate(definition.object, pairs, build)
            ids = [row[0] for row in rows]
            count = rows[0][1] if rows else 0
            items = reads.list(definition.object, [("id__in", ",".join(map(str, ids))), ("limit", str(max(len(ids), 1)))]).items if ids else []
        order = {record_id: i for i, record_id in enumerate(ids)}
        return {"object": definition.object, "count": count, "items": sorted(items, key=lambda r: order.get(r["id"], 0))}


def sources(definition: Definition) -> set[str]:
    """The objects whose records a report's figures come from: its own, those its paths follow, the children its roll-up
    fields count and the objects its formulas read."""
    found = {definition.object}
    for _at, path in definition.paths:
        for fdef in path.fields:
            found.add(fdef.object)
            if fdef.type.name == "lookup" and fdef is not path.last:
                found.add(fdef.spec["target"])
            if fdef.rollup:
                found.add(fdef.spec["rollup"]["object"])
            if fdef.formula:
                found.update(f.object for ref in fdef.typed.refs() for f in ref.fields)
    return found


# --- checks -----------------------------------------------------------------------------------


def _check_readable(definition: Definition, access: Access) -> None:
    if not access.can(definition.object, "read"):
        raise ReportError(definition.name, [("/object", sentence("report_object_hidden", object=definition.object))], 403)
    problems = []
    for at, path in definition.paths:
        for fdef in path.fields:
            name = fdef.spec.get("history_of", fdef.name)
            if fdef.name == HISTORY and fdef.spec.get("target", "").startswith(f"{HISTORY}:"):
                continue
            if not access.visible(fdef.object, name) or (fdef is not path.last and not access.can(fdef.spec["target"], "read")):
                problems.append((at, sentence("report_field_hidden", path=path.text)))
                break
    if problems:
        raise ReportError(definition.name, problems, 403)


def _span(definition: Definition, period: str | None, today: dt.date) -> tuple[Path, dt.date, dt.date] | None:
    if period is not None and not valid(period):
        raise ReportError(definition.name, [("?period", sentence("report_period_range", range=period))])
    if definition.period is None:
        if period is not None and period != "all_time":
            raise ReportError(definition.name, [("?period", sentence("report_no_period", name=definition.name))])
        return None
    found = bounds(period or definition.period["range"], today)
    return None if found is None else (definition.period["field"], *found)


# --- SQL ----------------------------------------------------------------------------------------


class _Columns:
    """The columns of field paths on one query: each lookup path joined once (aliases ``rj1_account``...); a report of
    stage intervals joins the intervals of its records (one row per interval)."""

    def __init__(self, schema, reader, definition: Definition) -> None:
        self.reader, self.joins = reader, Joins(schema.tables.table, prefix="rj")
        self.history = definition.history
        self.intervals = stage_interval.alias("report_interval") if definition.history else None
        self.object = definition.object

    def of(self, path: Path) -> sa.ColumnElement:
        if self.intervals is not None and path.fields[0].name == HISTORY:
            return self._interval_column(path.last.name)
        if len(path.fields) == 1:
            return self.reader.column(path.last)
        source = self.reader.table
        for position, fdef in enumerate(path.fields[:-1]):
            source = self.joins.alias(("report", *(f.name for f in path.fields[:position + 1])), source.c[fdef.name], fdef.spec["target"])
        last = path.last
        if last.formula and not last.stored:
            return compile_sql(last.typed, source, self.joins)
        return source.c[last.name]

    def key(self, group: Group, dialect: str) -> sa.ColumnElement:
        """A grouping's column: its field's, a date or time as the text of its bucket."""
        column = self.of(group.path)
        return _bucket(column, group.bucket, dialect, group.path.last) if group.bucket else column

    def _interval_column(self, name: str) -> sa.ColumnElement:
        intervals = self.intervals
        if name != "days":
            return intervals.c[name]
        return sa.type_coerce(_days(intervals.c.entered_at, intervals.c.left_at), sa.Numeric)

    def source(self) -> sa.FromClause:
        source = self.joins.select_from(self.reader.filtered_from)
        if self.intervals is None:
            return source
        intervals = self.intervals
        return source.join(intervals, sa.and_(intervals.c.record_id == self.reader.table.c.id, intervals.c.object == self.object,
                                               intervals.c.field == self.history))


class _days(sa.sql.expression.FunctionElement):
    """The days between two moments (the second one blank: now), fractional."""

    type = sa.Numeric()
    inherit_cache = True
    name = "tessera_days"


@compiles(_days, "sqlite")
def _days_sqlite(element, compiler, **kw):
    entered, left = list(element.clauses)
    return (f"(julianday(COALESCE({compiler.process(left, **kw)}, CURRENT_TIMESTAMP)) - julianday({compiler.process(entered, **kw)}))")


@compiles(_days, "postgresql")
def _days_postgresql(element, compiler, **kw):
    entered, left = list(element.clauses)
    return (f"(EXTRACT(EPOCH FROM COALESCE({compiler.process(left, **kw)}, now()) - {compiler.process(entered, **kw)}) / 86400.0)")


def _bucket(column: sa.ColumnElement, bucket: str, dialect: str, fdef: FieldDef) -> sa.ColumnElement:
    """A date or time as the text of its bucket: 2026-12-08 (day; a week by its Monday), 2026-12, 2026-Q4, 2026."""
    if dialect == "postgresql":
        day = sa.func.timezone("UTC", column) if fdef.type.with_time else column
        formats = {"day": "YYYY-MM-DD", "month": "YYYY-MM", "quarter": 'YYYY-"Q"Q', "year": "YYYY"}
        if bucket == "week":
            return func.to_char(func.date_trunc("week", day), "YYYY-MM-DD")
        return func.to_char(day, formats[bucket])
    if bucket == "day":
        return func.date(column)
    if bucket == "week":
        return func.date(column, "weekday 0", "-6 days")
    if bucket == "quarter":
        quarter = (sa.cast(func.strftime("%m", column), sa.Integer) + 2) // 3
        return sa.type_coerce(func.strftime("%Y", column), sa.String) + "-Q" + sa.cast(quarter, sa.String)
    return func.strftime({"month": "%Y-%m", "year": "%Y"}[bucket], column)


def _aggregate(measure: Measure, column: sa.ColumnElement | None) -> sa.ColumnElement:
    if measure.aggregate == "count":
        return func.count()
    if measure.aggregate == "count_distinct":
        return func.count(sa.distinct(column))
    if measure.aggregate == "sum":
        return func.coalesce(func.sum(column), 0)
    return getattr(func, measure.aggregate)(column)


def _where(reads, schema, definition: Definition, table, span, columns: _Columns) -> tuple[list, dict]:
    condition, values = definition.condition.where(reads.connection, schema, table, FIRST_REPORT_VALUE)
    conditions = [condition]
    if span is not None:
        path, start, end = span
        column = columns.of(path)
        if path.last.type.with_time:
            start, end = (dt.datetime.combine(d, dt.time(), dt.timezone.utc) for d in (start, end))
        conditions += [column >= sa.bindparam("tessera_period_start", start, type_=column.type),
                       column < sa.bindparam("tessera_period_end", end, type_=column.type)]
    return conditions, values


def _summary(reads, schema, access: Access, definition: Definition, pairs, span) -> Result:
    dialect = reads.connection.dialect.name
    measures = list(definition.measures)
    helpers = [m for m in measures if m.aggregate == "avg"]  # an average is its sum (in its place) over this count

    def build(reader, where):
        columns = _Columns(schema, reader, definition)
        keys = [columns.key(group, dialect) for group in definition.groups]
        figures = [func.sum(columns.of(m.path)) if m.aggregate == "avg" else _aggregate(m, columns.of(m.path) if m.path else None)
                   for m in measures]
        figures += [func.count(columns.of(h.path)) for h in helpers]
        conditions, values = _where(reads, schema, definition, reader.table, span, columns)
        statement = (select(*[k.label(f"g{i}") for i, k in enumerate(keys)], *[f.label(f"m{i}") for i, f in enumerate(figures)])
                     .select_from(columns.source()).where(where, *conditions).group_by(*keys).limit(MAX_GROUPS + 1))
        return statement, values

    raw = reads.aggregate(definition.object, pairs, build)
    truncated = len(raw) > MAX_GROUPS
    raw = raw[:MAX_GROUPS]
    width = len(definition.groups)
    grouped = [(tuple(row[:width]), list(row[width:])) for row in raw]
    rows = [{**{g.key: _plain(v) for g, v in zip(definition.groups, values)}, **_fold(measures, [figures], helpers)}
            for values, figures in grouped]
    totals = _fold(measures, [f for _v, f in grouped], helpers)
    levels = _levels(definition)
    subtotals = {key: _subtotals(definition, measures, helpers, grouped, positions) for key, positions in levels.items()}
    distinct = [i for i, m in enumerate(measures) if m.aggregate == "count_distinct"]
    if distinct and grouped:
        _recount_distinct(reads, schema, definition, pairs, span, distinct, totals, subtotals, levels)
    result = Result(definition.name, definition.kind, _describe(definition), rows, totals, subtotals, truncated)
    _name_lookups(reads, schema, access, definition, result)
    _order(definition, result)
    _funnel(definition, result)
    return result


def _levels(definition: Definition) -> dict[str, list[int]]:
    """The subtotals a report shows, by the key they are filed under and the groups' positions they add up by: a
    summary's first grouping (when it has more than one); a matrix's rows and its columns."""
    width = len(definition.groups)
    if definition.kind == "matrix":
        return {definition.groups[width - 2].key: list(range(width - 1)), definition.groups[-1].key: [width - 1]}
    return {definition.groups[0].key: [0]} if width > 1 else {}


def _fold(measures: list[Measure], figure_rows: list[list], helpers: list[Measure]) -> dict:
    """The measures over one or several groups' rows: counts and sums added, extremes compared, averages from their
    sums (in their place) and counts (``helpers``' columns, after the measures); a distinct count is a group's own, and
    over several groups is left for ``_recount_distinct``."""
    totals = {}
    width = len(measures)
    for i, measure in enumerate(measures):
        column = [row[i] for row in figure_rows if row[i] is not None]
        if measure.aggregate in ("count", "sum"):
            value = sum(column, Decimal(0) if measure.aggregate == "sum" else 0)
        elif measure.aggregate in ("min", "max"):
            value = (min if measure.aggregate == "min" else max)(column) if column else None
        elif measure.aggregate == "avg":
            at = width + helpers.index(measure)
            total = sum((Decimal(str(v)) for v in column), Decimal(0))
            count = sum(row[at] or 0 for row in figure_rows)
            value = total / count if count else None
        else:
            value = column[0] if len(figure_rows) == 1 and column else None
        totals[measure.key] = _figure(measure, value)
    return totals


def _subtotals(definition: Definition, measures, helpers, grouped, positions) -> list[dict]:
    by: dict[tuple, list] = {}
    for values, figures in grouped:
        by.setdefault(tuple(values[p] for p in positions), []).append(figures)
    return [{**{definition.groups[p].key: _plain(v) for p, v in zip(positions, key)}, **_fold(measures, rows, helpers)}
            for key, rows in by.items()]


def _recount_distinct(reads, schema, definition: Definition, pairs, span, distinct: list[int], totals: dict, subtotals: dict,
                      levels: dict[str, list[int]]) -> None:
    """Distinct counts of the totals and subtotals: counted again, since groups' distinct counts do not add up."""
    dialect = reads.connection.dialect.name
    for key, positions in [(None, []), *levels.items()]:
        groups = [definition.groups[p] for p in positions]

        def build(reader, where, groups=groups):
            columns = _Columns(schema, reader, definition)
            keys = [columns.key(g, dialect) for g in groups]
            figures = [func.count(sa.distinct(columns.of(definition.measures[i].path))) for i in distinct]
            conditions, values = _where(reads, schema, definition, reader.table, span, columns)
            return select(*keys, *figures).select_from(columns.source()).where(where, *conditions).group_by(*keys), values

        rows = reads.aggregate(definition.object, pairs, build)
        found = {tuple(_plain(v) for v in row[:len(groups)]): row[len(groups):] for row in rows}
        for entry in ([totals] if key is None else subtotals[key]):
            counts = found.get(tuple(entry[g.key] for g in groups), [0] * len(distinct))
            for i, value in zip(distinct, counts):
                entry[definition.measures[i].key] = value


def _tabular(reads, schema, definition: Definition, pairs, span) -> Result:
    def build(reader, where):
        columns = _Columns(schema, reader, definition)
        shown = [columns.of(path).label(f"c{i}") for i, path in enumerate(definition.columns)]
        conditions, values = _where(reads, schema, definition, reader.table, span, columns)
        order = []
        if definition.sort:
            position = [p.text for p in definition.columns].index(definition.sort[0])
            column = columns.of(definition.columns[position])
            order.append(column.desc() if definition.sort[1] else column.asc())
        statement = (select(reader.table.c.id, *shown).select_from(columns.source()).where(where, *conditions)
                     .order_by(*order, reader.table.c.id).limit(definition.limit))
        return statement, values

    raw = reads.aggregate(definition.object, pairs, build)
    rows = [{"id": row[0], **{p.text: _plain(v) for p, v in zip(definition.columns, row[1:])}} for row in raw]
    columns = [_column(path, "column") for path in definition.columns]
    result = Result(definition.name, definition.kind, columns, rows, {"count": len(rows)})
    _name_lookups(reads, schema, schema.access(reads.actor), definition, result)
    return result


# --- presenting ---------------------------------------------------------------------------------


def _cell_value(group: Group, value: Any) -> Any:
    """A group's value as a drill-down names it (text from a URL) in the column's own type."""
    if group.bucket:
        return str(value)
    fdef = group.path.last
    if isinstance(value, str) and fdef.type.family in ("number", "relation"):
        try:
            return int(value) if fdef.type.family == "relation" or fdef.type.whole else Decimal(value)
        except (ValueError, ArithmeticError):
            raise ReportError("", [(f"?{group.key}", sentence("report_cell_value", value=value, key=group.key))]) from None
    if isinstance(value, str) and fdef.type.family == "boolean":
        return value.lower() in ("true", "1", "yes")
    if isinstance(value, str) and fdef.type.family == "date":
        try:
            return dt.datetime.fromisoformat(value) if fdef.type.with_time else dt.date.fromisoformat(value)
        except ValueError:
            raise ReportError("", [(f"?{group.key}", sentence("report_cell_value", value=value, key=group.key))]) from None
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal) and value == value.to_integral_value() and abs(value) < 10**15:
        return int(value) if value.as_tuple().exponent >= 0 else json_value(value)
    return json_value(value)


def _figure(measure: Measure, value: Any) -> Any:
    if value is None:
        return None
    if measure.aggregate in ("count", "count_distinct"):
        return int(value)
    if measure.path is not None and measure.path.last.type.family == "date":
        return json_value(value) if not isinstance(value, str) else value
    number = Decimal(str(value)) if not isinstance(value, Decimal) else value
    if measure.aggregate == "avg":
        number = round(number, 2)
    return float(number) if number != number.to_integral_value() else int(number)


def _column(path: Path, role: str, bucket: str | None = None, aggregate: str | None = None, key: str | None = None) -> dict:
    last = path.last
    shown = [f for f in path.fields if f.name != HISTORY or f is last]  # a stage interval's path reads as its own field
    found = {"key": key or path.text, "role": role, "field": path.text, "type": last.type.name,
             "label": {lang: " · ".join(f.label(lang) for f in shown) for lang in ("en", "zh-CN")}}
    if bucket:
        found["bucket"] = bucket
    if aggregate:
        found["aggregate"] = aggregate
    if last.type.name == "currency" or last.spec.get("result_type") == "currency":
        found["currency"] = True
    return found


def _describe(definition: Definition) -> list[dict]:
    columns = [_column(g.path, "group", g.bucket) for g in definition.groups]
    for measure in definition.measures:
        if measure.path is None:
            columns.append({"key": "count", "role": "measure", "aggregate": "count", "type": "integer",
                            "label": {"en": "Record count", "zh-CN": "记录数"}})
        else:
            column = _column(measure.path, "measure", aggregate=measure.aggregate, key=measure.key)
            if measure.aggregate in ("count", "count_distinct"):
                column["type"] = "integer"
            column["label"] = {lang: f"{AGGREGATE_WORDS[measure.aggregate][lang]} {text}" if lang == "en" else f"{text}{AGGREGATE_WORDS[measure.aggregate][lang]}"
                               for lang, text in column["label"].items()}
            columns.append(column)
        if measure.label:
            columns[-1]["label"] = {"en": measure.label["en"], "zh-CN": measure.label.get("zh-CN") or measure.label["en"]}
    return columns


AGGREGATE_WORDS = {"count": {"en": "Count of", "zh-CN": "计数"}, "sum": {"en": "Sum of", "zh-CN": "合计"},
                   "avg": {"en": "Average", "zh-CN": "平均值"}, "min": {"en": "Smallest", "zh-CN": "最小值"},
                   "max": {"en": "Largest", "zh-CN": "最大值"}, "count_distinct": {"en": "Distinct", "zh-CN": "去重计数"}}


def _name_lookups(reads, schema, access: Access, definition: Definition, result: Result) -> None:
    """Each lookup's value named by its record's title (``KEY__label``), one query per looked-up object; picklist
    values get their labels in both languages (``KEY__labels``) from metadata."""
    paths = [g.path for g in definition.groups] + list(definition.columns)
    entries = [*result.rows, *(entry for level in result.subtotals.values() for entry in level)]
    for path in paths:
        last = path.last
        if last.type.name == "lookup":
            target = schema.meta.object(last.spec["target"])
            ids = {e[path.text] for e in entries if isinstance(e.get(path.text), int)}
            titles = {}
            if ids and access.can(target.name, "read") and access.visible(target.name, target.title_field):
                table = schema.tables.table(target.name)
                found = reads.connection.execute(select(table.c.id, title_column(target, table, access.visible)).where(table.c.id.in_(ids)))
                titles = dict(found.all())
            for entry in entries:
                if entry.get(path.text) is not None:
                    entry[f"{path.text}__label"] = titles.get(entry[path.text], f"#{entry[path.text]}")
        elif "values" in last.spec:
            words = {v["value"]: v.get("label") or {} for v in last.spec["values"]}
            for entry in entries:
                value = entry.get(path.text)
                if value in words:
                    entry[f"{path.text}__label"] = words[value].get("en") or value
                    entry[f"{path.text}__label_zh"] = words[value].get("zh-CN") or words[value].get("en") or value


def _funnel(definition: Definition, result: Result) -> None:
    """A chart with steps: its rows are the steps in order (a step no record reached shows 0); on a funnel each has the
    share of the step before that reached it (``KEY__conversion``, a percentage of the chart's figure)."""
    chart = definition.body.get("chart") or {}
    steps = chart.get("steps")
    if not steps or not definition.groups:
        return
    group = definition.groups[0].key
    key = chart.get("measure") or definition.measures[0].key
    by_value = {row.get(group): row for row in result.rows}
    labels = {v["value"]: v.get("label") or {} for v in definition.groups[0].path.last.spec.get("values", [])}
    rows, before = [], None
    for step in steps:
        row = by_value.get(step) or {group: step, **{m.key: 0 for m in definition.measures},
                                     f"{group}__label": labels.get(step, {}).get("en", step),
                                     f"{group}__label_zh": labels.get(step, {}).get("zh-CN") or labels.get(step, {}).get("en", step)}
        figure = row.get(key) or 0
        if chart.get("type") == "funnel":
            row[f"{key}__conversion"] = None if before is None else (round(100 * figure / before, 1) if before else None)
        rows.append(row)
        before = figure
    result.rows = rows


def _order(definition: Definition, result: Result) -> None:
    """Rows in the groups' own order (a picklist's values as listed, then values in order, blanks last), or by the
    report's ``sort``, then cut to its ``limit``."""
    def key_of(group: Group):
        order = {v["value"]: i for i, v in enumerate(group.path.last.spec.get("values", []))}

        def key(entry: dict):
            value = entry.get(group.key)
            label = entry.get(f"{group.key}__label")
            shown = order.get(value, len(order)) if order else (label if group.path.last.type.name == "lookup" else value)
            return (value is None, shown if shown is not None else "", str(value))
        return key

    def ordered(entries: list[dict], groups) -> list[dict]:
        for group in reversed(groups):
            entries = sorted(entries, key=key_of(group))
        return entries

    result.rows = ordered(result.rows, definition.groups)
    for key, level in result.subtotals.items():
        result.subtotals[key] = ordered(level, [g for g in definition.groups if g.key in level[0]] if level else [])
    if definition.sort:
        by, descending = definition.sort
        present = [r for r in result.rows if r.get(by) is not None]
        result.rows = sorted(present, key=lambda r: r[by], reverse=descending) + [r for r in result.rows if r.get(by) is None]
    if definition.limit:
        result.truncated = result.truncated or len(result.rows) > definition.limit
        result.rows = result.rows[: definition.limit]
