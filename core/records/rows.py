"""Inserting many rows fast: one statement per batch, ids reserved ahead on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import decimal
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from core.db import fetch_on_driver
from core.runtime import Schema


BULK_INSERT_MIN = 2  # from this many rows on, _insert_rows takes the bulk path


@dataclass(frozen=True)
class _BulkPlan:
    """How rows naming ``names`` go into a table in one statement, prepared once per metadata version."""

    names: tuple[str, ...]  # the rows' keys, in the table's column order (the id comes first in ``sql``)
    processors: tuple[tuple[int, Any], ...]  # (position in names, SQLAlchemy's bind processor) where one applies
    sql: str
    one_sql: str  # one row, without its id: INSERT ... RETURNING id, in the driver's parameter style
    defaulted: tuple[str, ...]  # names whose column has a default: every row must give them (else the grouped insert)
    next_id: str | None = None  # SQLite: the query of the largest id
    sequence: str | None = None  # PostgreSQL: the sequence of the id column
    # PostgreSQL, when every column has a binary form psycopg can write: COPY's binary statement, the
    # PostgreSQL type of each column (id first) and the Python type its values must have to be sent so
    binary_sql: str | None = None
    binary_types: tuple[str, ...] = ()
    python_types: tuple[type, ...] = ()


def _insert_plan(conn: Connection, table: sa.Table, parsed: list[dict], schema: Schema | None) -> _BulkPlan | None:
    """The prepared insert of rows naming these keys; None when SQLAlchemy's own insert must do it."""
    if conn.dialect.name not in ("sqlite", "postgresql") or table.kwargs.get("sqlite_autoincrement"):
        return None
    keys = set().union(*parsed)
    if "id" in keys:
        return None
    key = ("bulk insert", table.name, frozenset(keys))
    plan = schema.memo(key, lambda: _bulk_plan(conn, table, keys)) if schema is not None else _bulk_plan(conn, table, keys)
    if plan is None or any(name not in values for name in plan.defaulted for values in parsed):
        return None
    return plan


def _insert_one(conn: Connection, plan: _BulkPlan, values: dict) -> int:
    """One row with ``INSERT ... RETURNING id`` on the driver's cursor: a record created through the API."""
    row = [values.get(name) for name in plan.names]
    for position, process in plan.processors:
        row[position] = process(row[position])
    return fetch_on_driver(conn, plan.one_sql, row, one=True)[0][0]


def _bulk_insert(conn: Connection, table: sa.Table, parsed: list[dict], schema: Schema | None) -> list[int] | None:
    """Insert many rows with one statement and known ids, in the rows' order; None when this table cannot.

    The ids are drawn first: on PostgreSQL from the id column's sequence (``nextval`` for each row,
    in one query), then the rows go in one ``COPY``; on SQLite the writing transaction holds the
    database's write lock (BEGIN IMMEDIATE, core/db.py), so the ids after the largest one are free,
    and the rows go in one ``executemany``. Values are converted with SQLAlchemy's own bind
    processors of each column, so that they are stored exactly as ``table.insert()`` stores them;
    a key some rows lack is NULL for them, as in a grouped insert, unless its column has a default
    (version's, which the record service always sets): then the grouped insert applies it.
    """
    dialect = conn.dialect.name
    plan = _insert_plan(conn, table, parsed, schema)
    if plan is None:
        return None
    count = len(parsed)
    columns = [[values.get(name) for values in parsed] for name in plan.names]
    for position, process in plan.processors:
        column, last, done = columns[position], _UNSET, None
        for index, value in enumerate(column):
            if value is not last:  # the stamps repeat one value for every row
                last, done = value, process(value)
            column[index] = done
    if dialect == "sqlite":
        first = (conn.exec_driver_sql(plan.next_id).scalar() or 0) + 1
        ids = list(range(first, first + count))
        conn.exec_driver_sql(plan.sql, list(zip(ids, *columns)))
        return ids
    ids = sorted(conn.execute(_NEXT_IDS, {"sequence": plan.sequence, "count": count}).scalars())
    if len(ids) != count:
        raise RuntimeError(f"the sequence {plan.sequence} gave {len(ids)} ids for {count} rows")
    binary = plan.binary_sql is not None and _all_of_types(columns, plan.python_types)
    statement = plan.binary_sql if binary else plan.sql
    try:
        with conn.connection.driver_connection.cursor() as cursor, cursor.copy(statement) as copy:
            if binary:
                copy.set_types(plan.binary_types)
            for row in zip(ids, *columns):
                copy.write_row(row)
    except conn.dialect.loaded_dbapi.Error as exc:  # raised as SQLAlchemy raises the driver's errors
        raise sa.exc.DBAPIError.instance(statement, None, exc, conn.dialect.loaded_dbapi.Error, dialect=conn.dialect) from exc
    return ids


_UNSET = object()


_NEXT_IDS = sa.text("SELECT nextval(CAST(:sequence AS regclass)) FROM generate_series(1, :count)")


def _bulk_plan(conn: Connection, table: sa.Table, keys: set[str]) -> _BulkPlan | None:
    if not keys <= set(table.c.keys()):
        return None  # an unknown key: the grouped insert raises SQLAlchemy's error about it
    dialect = conn.dialect
    names = tuple(c.name for c in table.columns if c.name in keys)
    processors = []
    for position, name in enumerate(names):
        process = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            processors.append((position, process))
    defaulted = tuple(n for n in names if table.c[n].default is not None or table.c[n].server_default is not None)
    quoted = ", ".join(dialect.identifier_preparer.quote(n) for n in ("id", *names))
    name = dialect.identifier_preparer.format_table(table)
    placeholder = "?" if dialect.name == "sqlite" else "%s"
    one_sql = (f"INSERT INTO {name} ({', '.join(dialect.identifier_preparer.quote(n) for n in names)}) "
               f"VALUES ({', '.join([placeholder] * len(names))}) RETURNING id")
    if dialect.name == "sqlite":
        return _BulkPlan(names, tuple(processors), f"INSERT INTO {name} ({quoted}) VALUES ({', '.join('?' * (len(names) + 1))})",
                         one_sql, defaulted, next_id=f"SELECT max(id) FROM {name}")
    sequence = conn.execute(sa.text("SELECT pg_get_serial_sequence(:table, 'id')"), {"table": name}).scalar()
    if sequence is None:
        return None
    copy = f"COPY {name} ({quoted}) FROM STDIN"
    binary = [_binary_type(table.c[n].type.dialect_impl(dialect)) for n in ("id", *names)]
    if all(binary) and binary[0][1] is int:
        return _BulkPlan(names, tuple(processors), copy, one_sql, defaulted, sequence=sequence, binary_sql=f"{copy} (FORMAT BINARY)",
                         binary_types=tuple(b[0] for b in binary), python_types=tuple(b[1] for b in binary[1:]))
    return _BulkPlan(names, tuple(processors), copy, one_sql, defaulted, sequence=sequence)


def _binary_type(sql_type: Any) -> tuple[str, type] | None:
    """The PostgreSQL type psycopg writes a column's values as in a binary COPY, and their Python type."""
    if isinstance(sql_type, sa.Boolean):
        return "bool", bool
    if isinstance(sql_type, sa.BigInteger):
        return "int8", int
    if isinstance(sql_type, sa.SmallInteger):
        return "int2", int
    if isinstance(sql_type, sa.Integer):
        return "int4", int
    if isinstance(sql_type, sa.Numeric) and not isinstance(sql_type, sa.Float):
        return "numeric", decimal.Decimal
    if isinstance(sql_type, sa.DateTime):
        return ("timestamptz", dt.datetime) if sql_type.timezone else None
    if isinstance(sql_type, sa.Date):
        return "date", dt.date
    if isinstance(sql_type, (sa.String, sa.Text)) and not isinstance(sql_type, (sa.Enum, sa.JSON)):
        return "text", str
    return None  # JSON and others: the text COPY, where the server parses what SQLAlchemy's processor wrote


def _all_of_types(columns: list[list], python_types: tuple[type, ...]) -> bool:
    """Whether each value is None or exactly of its column's Python type (datetimes aware: timestamptz)."""
    for column, wanted in zip(columns, python_types):
        for value in column:
            if value is not None and type(value) is not wanted:
                return False
        if wanted is dt.datetime and any(v is not None and v.tzinfo is None for v in column):
            return False
    return True
