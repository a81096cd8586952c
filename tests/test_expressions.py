"""The expression language (core/expressions/): parsing with columns, type checks against the metadata with hints in
both languages, lookup paths up to three names, blanks and division by zero, and the differential test: hundreds of
random well-typed expressions computed in SQL (on the test's database) and in Python give the same values."""

from __future__ import annotations

import datetime as dt
import random
import re
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from core.expressions import FUNCTIONS, ExpressionError, Joins, check, compile_sql, evaluate
from helpers import changeset, label

STAGES = ["new", "won", "lost"]
GRAND = {"name": "xgrand", "label": label("Grand"), "title_field": "name", "fields": [
    {"name": "name", "type": "text", "label": label("Name")},
    {"name": "level", "type": "integer", "label": label("Level")},
]}
PARENT = {"name": "xparent", "label": label("Parent"), "title_field": "title", "fields": [
    {"name": "title", "type": "text", "label": label("Title")},
    {"name": "score", "type": "decimal", "label": label("Score")},
    {"name": "day", "type": "date", "label": label("Day")},
    {"name": "grand", "type": "lookup", "label": label("Grand"), "target": "xgrand", "on_delete": "set_null"},
]}
THING = {"name": "xthing", "label": label("Thing"), "title_field": "label", "fields": [
    {"name": "label", "type": "text", "label": label("Label")},
    {"name": "n", "type": "integer", "label": label("N")},
    {"name": "d", "type": "decimal", "label": label("D")},
    {"name": "amount", "type": "currency", "label": label("Amount")},
    {"name": "day", "type": "date", "label": label("Day")},
    {"name": "at", "type": "datetime", "label": label("At")},
    {"name": "flag", "type": "boolean", "label": label("Flag")},
    {"name": "stage", "type": "picklist", "label": label("Stage"), "values": [{"value": v, "label": label(v)} for v in STAGES]},
    {"name": "tags", "type": "multi_picklist", "label": label("Tags"), "values": [{"value": "x", "label": label("x")}]},
    {"name": "parent", "type": "lookup", "label": label("Parent"), "target": "xparent", "on_delete": "set_null"},
]}


@pytest.fixture
def world(runtime, actor):
    runtime.import_changeset(changeset(GRAND, PARENT, THING), "test", "tester")
    records = runtime.records
    grands = [records.create(actor, "xgrand", v)["id"] for v in
              ({"name": "Ünïcode 北京", "level": 3}, {"name": "", "level": 0}, {"name": None, "level": None})]
    parents = [records.create(actor, "xparent", v)["id"] for v in (
        {"title": "Alpha", "score": "2.5", "day": "2024-02-29", "grand": grands[0]},
        {"title": "beta", "score": "-0.0001", "day": None, "grand": grands[1]},
        {"title": None, "score": None, "day": "1999-12-31", "grand": grands[2]},
        {"title": "O'Neil", "score": "0", "day": "2030-01-01", "grand": None},
    )]
    columns = {
        "label": ["alpha", "Beta", "", None, "Zürich", "北京市", "a%b_c", "O'Neil", " spaced ", "ALPHA"],
        "n": [None, 0, -5, 7, 1000000, 12, -1, 3],
        "d": [None, "0", "-2.5", "1.2345", "0.0001", "999999.9999", "3", "-0.5"],
        "amount": [None, "0", "10.05", "-0.01", "123456.78", "2.5", "-1000", "0.5", "7"],
        "day": [None, "2024-02-29", "1999-12-31", "2030-01-01", "2026-07-15"],
        "at": [None, "2024-03-01T23:30:00Z", "2000-01-01T00:00:00.250000Z", "2031-12-31T12:00:00Z", "2026-07-15T06:05:04Z"],
        "flag": [None, True, False],
        "stage": [None, *STAGES],
        "parent": [None, *parents],
    }
    made = []
    for i in range(14):
        values = {name: options[(i * (k + 2) + k) % len(options)] for k, (name, options) in enumerate(columns.items())}
        made.append(records.create(actor, "xthing", values)["id"])
    return made


def rows(runtime, object_name: str) -> dict[int, dict]:
    with runtime.reading() as (conn, schema):
        table = schema.tables.table(object_name)
        return {row["id"]: dict(row) for row in conn.execute(sa.select(table)).mappings()}


def meta_of(runtime):
    return runtime.current_metadata()


def sql_values(runtime, typed_list) -> dict[int, list]:
    """Each record's values of the expressions, computed in one SELECT."""
    with runtime.reading() as (conn, schema):
        table = schema.tables.table("xthing")
        joins = Joins(schema.tables.table)
        columns = [compile_sql(typed, table, joins).label(f"e{i}") for i, typed in enumerate(typed_list)]
        query = sa.select(table.c.id, *columns).select_from(joins.select_from(table)).order_by(table.c.id)
        return {row[0]: list(row[1:]) for row in conn.execute(query)}


def python_values(runtime, typed_list, now) -> dict[int, list]:
    found = {name: rows(runtime, name) for name in ("xthing", "xparent", "xgrand")}

    def fetch(object_name, record_id):
        return found[object_name].get(record_id)

    return {record_id: [evaluate(typed, record, fetch, now=now) for typed in typed_list]
            for record_id, record in sorted(found["xthing"].items())}


def normal(value, kind):
    if value is None:
        return None
    if kind == "number":
        return Decimal(str(value))
    if kind == "datetime":
        if isinstance(value, str):
            value = dt.datetime.fromisoformat(value)
        value = value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)
        return value.isoformat()
    if kind == "date":
        return value.isoformat() if not isinstance(value, str) else value
    if kind == "boolean":
        return bool(value)
    return value


def same(left, right, kind) -> bool:
    left, right = normal(left, kind), normal(right, kind)
    if kind == "number" and left is not None and right is not None:
        return abs(left - right) <= Decimal("1e-9") * max(Decimal(1), abs(left), abs(right))
    return left == right


# --- random well-typed expressions -------------------------------------------------------------------

FIELDS = {
    "number": ["n", "d", "amount", "parent.score", "parent.grand.level"],
    "text": ["label", "stage", "parent.title", "parent.grand.name"],
    "date": ["day", "parent.day"],
    "datetime": ["at"],
    "boolean": ["flag"],
}
NUMBERS = ["0", "1", "2", "2.5", "0.125", "1000000", "3", "0.01"]
TEXTS = ["'a'", "''", "'Zürich'", "\"北京\"", "'it\\'s'", "'ALPHA'", "'alpha'", "' '"]


class Generator:
    """Random expressions of a wanted type. ``exact``: the value will be compared, rounded or written as text, so no
    division and no product of two fields (SQLite's binary numbers would differ in the last digits)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def pick(self, options):
        return self.rng.choice(options)

    def expr(self, kind: str, depth: int, exact: bool = False) -> str:
        if depth <= 0 or self.rng.random() < 0.25:
            return self.leaf(kind)
        return getattr(self, kind)(depth - 1, exact)

    def leaf(self, kind: str) -> str:
        if kind == "number":
            return self.pick(FIELDS["number"] * 2 + NUMBERS + ["-1"])
        if kind == "text":
            return self.pick(FIELDS["text"] * 2 + TEXTS)
        if kind == "boolean":
            return self.pick(["flag", "flag", "TRUE", "false"])
        if kind == "date":
            return self.pick(FIELDS["date"] * 3 + ["TODAY()"])
        return "at"

    def number(self, depth: int, exact: bool) -> str:
        e = self.expr
        choices = [
            lambda: f"{e('number', depth, exact)} + {e('number', depth, exact)}",
            lambda: f"{e('number', depth, exact)} - {e('number', depth, exact)}",
            lambda: f"-{e('number', depth, exact)}",
            lambda: f"({e('number', depth, exact)}) * {self.pick(['2', '3', '-1', '0'])}",
            lambda: f"ABS({e('number', depth, exact)})",
            lambda: f"ROUND({e('number', depth, True)}, {self.pick(['0', '1', '2', '-1', '3'])})",
            lambda: f"MIN({e('number', depth, exact)}, {e('number', depth, exact)})",
            lambda: f"max({e('number', depth, exact)}, {e('number', depth, exact)}, {e('number', depth, exact)})",
            lambda: f"IF({e('boolean', depth)}, {e('number', depth, exact)}, {self.pick([e('number', depth, exact), 'NULL'])})",
            lambda: f"CASE({e('number', depth, True)}, 0, {e('number', depth, exact)}, 7, {e('number', depth, exact)}, {e('number', depth, exact)})",
            lambda: f"CASE(stage, 'won', {e('number', depth, exact)}, 'lost', -1, {e('number', depth, exact)})",
            lambda: f"BLANKVALUE({e('number', depth, exact)}, {e('number', depth, exact)})",
            lambda: f"LEN({e('text', depth)})",
            lambda: f"DAYS_BETWEEN({e(self.pick(['date', 'datetime']), depth)}, {e(self.pick(['date', 'datetime']), depth)})",
            lambda: f"{self.pick(['YEAR', 'MONTH', 'DAY'])}({self.pick([e('date', depth), e('datetime', depth), 'NOW()'])})",
        ]
        if not exact:
            choices += [
                lambda: f"{e('number', depth)} / {e('number', depth)}",
                lambda: f"({e('number', depth)}) * ({e('number', depth)})",
            ]
        return self.pick(choices)()

    def text(self, depth: int, exact: bool) -> str:
        e = self.expr
        return self.pick([
            lambda: f"{e('text', depth)} & {e('text', depth)}",
            lambda: f"CONCAT({e('text', depth)}, {e('text', depth)}, {e('text', depth)})",
            lambda: f"LEFT({e('text', depth)}, {e('number', depth, True)})",
            lambda: f"UPPER({e('text', depth)})",
            lambda: f"lower({e('text', depth)})",
            lambda: f"TEXT({e(self.pick(['number', 'date', 'datetime', 'boolean', 'text']), depth, True)})",
            lambda: f"IF({e('boolean', depth)}, {e('text', depth)}, {e('text', depth)})",
            lambda: f"CASE({e('text', depth)}, 'alpha', {e('text', depth)}, '', 'empty', {e('text', depth)})",
            lambda: f"BLANKVALUE({e('text', depth)}, {e('text', depth)})",
        ])()

    def date(self, depth: int, exact: bool) -> str:
        e = self.expr
        return self.pick([
            lambda: f"ADD_DAYS({e('date', depth)}, {e('number', depth, True)})",
            lambda: f"IF({e('boolean', depth)}, {e('date', depth)}, {e('date', depth)})",
            lambda: f"BLANKVALUE({e('date', depth)}, {e('date', depth)})",
            lambda: f"MIN({e('date', depth)}, {e('date', depth)})",
            lambda: f"MAX({e('date', depth)}, {e('date', depth)})",
        ])()

    def datetime(self, depth: int, exact: bool) -> str:
        e = self.expr
        return self.pick([
            lambda: f"ADD_DAYS({e('datetime', depth)}, {e('number', depth, True)})",
            lambda: f"IF({e('boolean', depth)}, {e('datetime', depth)}, NULL)",
            lambda: f"MAX({e('datetime', depth)}, {e('datetime', depth)})",
        ])()

    def boolean(self, depth: int, exact: bool) -> str:
        e = self.expr
        kind = self.pick(["number", "number", "text", "date", "datetime"])
        return self.pick([
            lambda: f"{e(kind, depth, True)} {self.pick(['=', '==', '!=', '<>', '<', '<=', '>', '>='])} {e(kind, depth, True)}",
            lambda: f"{e('boolean', depth)} {self.pick(['AND', 'or'])} {e('boolean', depth)}",
            lambda: f"NOT {e('boolean', depth)}",
            lambda: f"AND({e('boolean', depth)}, {e('boolean', depth)}, {e('boolean', depth)})",
            lambda: f"OR({e('boolean', depth)}, {e('boolean', depth)})",
            lambda: f"ISBLANK({e(self.pick(list(FIELDS)), depth)})",
            lambda: f"ISPICKVAL(stage, '{self.pick(STAGES)}')",
            lambda: f"CONTAINS({e('text', depth)}, {e('text', depth)})",
            lambda: f"IF({e('boolean', depth)}, {e('boolean', depth)}, {e('boolean', depth)})",
            lambda: f"flag = ({e('boolean', depth)})",
        ])()


def test_random_expressions_give_the_same_values_in_sql_and_in_python(runtime, world):
    meta = meta_of(runtime)
    generator = Generator(20260301)
    typed_list = []
    for i in range(600):
        kind = ["number", "text", "date", "datetime", "boolean"][i % 5]
        text = generator.expr(kind, 3)
        typed_list.append(check(meta, "xthing", text))
    now = dt.datetime.now(dt.timezone.utc)
    python = python_values(runtime, typed_list, now)
    compared, problems = 0, []
    for start in range(0, len(typed_list), 60):
        batch = typed_list[start:start + 60]
        try:
            sql = sql_values(runtime, batch)
        except sa.exc.DBAPIError:
            pytest.fail(f"the database refuses {failing(runtime, batch)}")
        for record_id, values in sql.items():
            for offset, (typed, value) in enumerate(zip(batch, values)):
                compared += 1
                expected = python[record_id][start + offset]
                if not same(value, expected, typed.type):
                    problems.append(f"{typed.text!r} on record {record_id}: SQL {value!r}, Python {expected!r}")
    assert not problems, f"{len(problems)} differences, e.g.:\n" + "\n".join(problems[:15])
    assert len(typed_list) >= 500 and compared == len(typed_list) * len(world)


def failing(runtime, typed_list) -> str:
    """The first expression whose SQL the database refuses, for a readable failure."""
    for typed in typed_list:
        try:
            sql_values(runtime, [typed])
        except sa.exc.DBAPIError as exc:
            return f"{typed.text}: {str(exc.orig).splitlines()[0]}"
    return "none alone"
