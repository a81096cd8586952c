"""List queries as SQL: one statement per query shape, its values bound at execution.

A list request differs from the last one of its kind mostly in values (stage=won or lost,
offset 50 or 100). The statement is built once per shape (object, permission set,
filters and their operators, search, sort) and metadata version, with every value a
named bound parameter, so that building it and SQLAlchemy's cache key are paid once
rather than on every request.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any, Callable

import sqlalchemy as sa
from sqlalchemy import Connection, Integer, and_, exists, literal, or_, select

from core.db import PreparedRead
from core.metadata.model import FieldDef, ObjectDef
from core.permissions import Access
from core.query import Filter, ListQuery, QueryError
from core.words import sentence

CACHE_LIMIT = 2000
COMPARISONS = {"eq": operator.eq, "gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le}
LIKE_ESCAPE = "/"


@dataclass(frozen=True)
class ListStatement:
    select: sa.Select  # the page, LIMIT :tessera_limit OFFSET :tessera_offset
    where: sa.ColumnElement  # for counts
    prepared: PreparedRead  # the page, compiled once and run on the driver's cursor


def like_pattern(text: str, prefix: bool = False) -> str:
    """``text`` as a LIKE pattern matching it literally (anywhere, or at the start)."""
    escaped = text.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2).replace("%", LIKE_ESCAPE + "%").replace("_", LIKE_ESCAPE + "_")
    return f"{escaped}%" if prefix else f"%{escaped}%"


class ListStatements:
    def __init__(self) -> None:
        self._cache: dict[tuple, ListStatement] = {}

    def build(self, conn: Connection, schema, obj: ObjectDef, query: ListQuery, access: Access, reader,
              flag: sa.ColumnElement | None = None) -> tuple[ListStatement, dict]:
        """The statement for the query's shape, and the values to execute it with; ``flag``, a condition on the
        records (the reader's right to change them, say), is selected after the columns, as 1 or 0."""
        params: dict[str, Any] = {"tessera_limit": query.limit + 1, "tessera_offset": query.offset}
        for index, flt in enumerate(query.filters):
            params.update(_values(index, flt))
        if query.q:
            params["tessera_q"] = like_pattern(query.q)
        shape = (schema.version, obj.name, access.name, conn.dialect.name, query.q is not None,
                 tuple((f.field.name, f.operator, f.value if f.operator == "isnull" else None) for f in query.filters),
                 tuple((s.field.name, s.descending) for s in query.sort), flag is not None)
        statement = self._cache.get(shape)
        if statement is None:
            statement = self._statement(conn, schema, obj, query, access, reader, flag)
            if len(self._cache) >= CACHE_LIMIT:
                self._cache.clear()
            self._cache[shape] = statement
        return statement, params

    def _statement(self, conn: Connection, schema, obj: ObjectDef, query: ListQuery, access: Access, reader,
                   flag: sa.ColumnElement | None) -> ListStatement:
        table = reader.table
        conditions = [table.c.deleted_at.is_(None)] + [condition(conn, schema, table, i, f, reader.column)
                                                        for i, f in enumerate(query.filters)]
        if query.q:
            conditions.append(search(obj, table, access))
        visible = schema.row_condition(access, obj.name, "read")
        if visible is not None:
            conditions.append(visible)
        where = and_(*conditions)
        order = [reader.column(s.field).desc() if s.descending else reader.column(s.field).asc() for s in query.sort]
        last_descending = query.sort[-1].descending if query.sort else True
        order.append(table.c.id.desc() if last_descending else table.c.id.asc())
        base = reader.base if flag is None else reader.base.add_columns(sa.case((flag, 1), else_=0).label("tessera_flag"))
        limit, offset = sa.bindparam("tessera_limit", type_=Integer), sa.bindparam("tessera_offset", type_=Integer)
        if _sorted_by_index(table, query):
            page = base.where(where).order_by(*order).limit(limit).offset(offset)
        else:
            # The page's ids first, then their columns and lookups' titles: for a sort no index serves, a database may
            # join every matching row before it sorts (SQLite does: 9 s instead of 0.9 s over a million deals).
            ids = select(table.c.id).select_from(reader.filtered_from).where(where).order_by(*order).limit(limit).offset(offset)
            page = base.where(table.c.id.in_(ids.correlate(None))).order_by(*order)
        return ListStatement(page, where, PreparedRead(page))


def _sorted_by_index(table: sa.Table, query: ListQuery) -> bool:
    """Whether an index gives the rows in the list's order: sorted by id, or an index of the table starting with the sort
    field, or with fields the list asks to equal a value and then the sort field (a board column's cards)."""
    if not query.sort or query.sort[0].field.name == "id":
        return True
    first = query.sort[0].field.name
    equal = {f.field.name for f in query.filters if f.operator == "eq"}
    for index in table.indexes:
        names = [column.name for column in index.columns]
        position = names.index(first) if first in names else -1
        if position >= 0 and all(name in equal for name in names[:position]):
            return True
    return False


def _values(index: int, flt: Filter) -> dict[str, Any]:
    if flt.operator == "isnull":
        return {}
    if flt.operator == "contains":
        return {f"tessera_f{index}": like_pattern(flt.value)}
    if flt.operator == "startswith":
        return {f"tessera_f{index}": like_pattern(flt.value, prefix=True)}
    if flt.field.type.multiple and not isinstance(flt.value, list):
        return {f"tessera_f{index}": [flt.value]}
    return {f"tessera_f{index}": flt.value}


def condition(conn: Connection, schema, table: sa.Table, index: int, flt: Filter,
              column_of: Callable[[FieldDef], sa.ColumnElement] | None = None) -> sa.ColumnElement:
    """One filter, its value the bound parameter ``tessera_f<index>``; ``column_of``: a field's column (a formula's
    expression), else the table's column."""
    fdef, op = flt.field, flt.operator
    kind = fdef.type.name
    name = f"tessera_f{index}"
    if kind == "many_to_many":
        junction = schema.tables.objects[fdef.object].junctions[fdef.name]
        return exists().where(junction.c.source_id == table.c.id, junction.c.target_id.in_(sa.bindparam(name, expanding=True)))
    column = column_of(fdef) if column_of is not None else table.c[fdef.name]
    if kind == "multi_picklist" and op in ("eq", "in"):
        if conn.dialect.name == "postgresql":
            return column.op("?|")(sa.cast(sa.bindparam(name, type_=sa.ARRAY(sa.Text)), sa.ARRAY(sa.Text)))
        each = sa.func.json_each(column).table_valued("value")
        return exists(select(literal(1)).select_from(each).where(each.c.value.in_(sa.bindparam(name, expanding=True))))
    if op == "isnull":
        return column.is_(None) if flt.value else column.is_not(None)
    if op == "in":
        return column.in_(sa.bindparam(name, expanding=True, type_=column.type))
    if op in ("contains", "startswith"):
        return sa.func.lower(column).like(sa.func.lower(sa.bindparam(name, type_=sa.String)), escape=LIKE_ESCAPE)
    value = sa.bindparam(name, type_=column.type)
    if op == "ne":
        return or_(column != value, column.is_(None))
    if op in COMPARISONS:
        return COMPARISONS[op](column, value)
    raise QueryError([{"parameter": f"{fdef.name}__{op}", "message": f"'{op}' is not supported"}])


def search(obj: ObjectDef, table: sa.Table, access: Access) -> sa.ColumnElement:
    """``q``: any searchable field the actor may see contains the text (bound as ``tessera_q``)."""
    names = [f.name for f in obj.active_fields() if f.spec.get("searchable") and f.type.searchable and access.visible(obj.name, f.name)]
    if not names and access.visible(obj.name, obj.title_field) and obj.title_field in table.c:
        names = [obj.title_field]
    if not names:
        raise QueryError.of([("q", sentence("nothing_to_search", object=obj.name))])
    pattern = sa.func.lower(sa.bindparam("tessera_q", type_=sa.String))
    return or_(*[sa.func.lower(table.c[n]).like(pattern, escape=LIKE_ESCAPE) for n in names])
