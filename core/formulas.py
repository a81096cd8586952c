"""Formula fields: checked with the metadata, computed in the SELECT, hidden from whoever may not read what they use.

A formula field (``{"type": "formula", "expression": ..., "result_type": "currency"}``) has no
column. ``check_formulas`` type-checks every formula when the metadata is built, refuses
cycles between formulas, and records on each field its checked expression (``typed``) and
every field it reads (``reads``, through lookups and other formulas). ``Formulas`` compiles an
object's formulas into column expressions of one query, sharing one outer join per lookup
path, so that a list selects, filters and sorts on them like on columns. ``hide_unreadable``
hides a formula from a permission set that may not read one of the fields it uses.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, func, select

from core.db import id_batches
from core.expressions import ExpressionError, Joins, check, compile_sql
from core.expressions.check import BOOLEAN, DATE, DATETIME, NUMBER, TEXT
from core.metadata.model import FieldDef, MetadataSet
from core.metadata.problems import Problem
from core.permissions import Access
from core.words import sentence

RESULT_TYPES = {"text": TEXT, "integer": NUMBER, "decimal": NUMBER, "currency": NUMBER, "percent": NUMBER,
                "date": DATE, "datetime": DATETIME, "boolean": BOOLEAN}
FORMULA_OPTIONS = frozenset({"name", "type", "label", "help", "former_names", "removed", "expression", "result_type",
                             "scale", "precision", "currency", "stored"})


def formula_fields(meta: MetadataSet) -> list[FieldDef]:
    return [f for obj in meta.objects.values() for f in obj.active_fields() if f.formula]


def check_formulas(meta: MetadataSet) -> list[Problem]:
    """Type-check every formula against the metadata, then refuse cycles; sets each field's ``typed`` and ``reads``."""
    problems: list[Problem] = []
    formulas = formula_fields(meta)
    for fdef in formulas:
        for key in fdef.spec:
            if key not in FORMULA_OPTIONS:
                problems.append(Problem(fdef.source, f"{fdef.at}/{key}", sentence("option_not_for_type", key=key, type="formula")))
        try:
            fdef.typed = check(meta, fdef.object, fdef.spec["expression"], expect=RESULT_TYPES[fdef.spec["result_type"]])
        except ExpressionError as exc:
            problems.append(Problem(fdef.source, f"{fdef.at}/expression", exc.as_sentence()))
    checked = [f for f in formulas if f.typed is not None]
    problems += _cycles(checked)
    if not problems:
        for fdef in checked:
            fdef.reads = frozenset(_reads(fdef, ()))
    return problems


def _uses(fdef: FieldDef) -> list[FieldDef]:
    """The formulas ``fdef``'s expression names (on its own object or through lookups)."""
    return [ref.fields[-1] for ref in fdef.typed.refs() if ref.fields and ref.fields[-1].formula]


def _cycles(formulas: list[FieldDef]) -> list[Problem]:
    problems: list[Problem] = []
    done: set[int] = set()

    def visit(fdef: FieldDef, path: list[FieldDef]) -> None:
        if any(f is fdef for f in path):
            cycle = path[next(i for i, f in enumerate(path) if f is fdef):] + [fdef]
            names = " → ".join(f"{f.object}.{f.name}" for f in cycle)
            problems.append(Problem(fdef.source, f"{fdef.at}/expression", sentence("formula_cycle", cycle=names)))
            return
        if id(fdef) in done or fdef.typed is None:
            return
        for used in _uses(fdef):
            visit(used, [*path, fdef])
        done.add(id(fdef))

    for fdef in formulas:
        before = len(problems)
        visit(fdef, [])
        del problems[before + 1:]  # one report per cycle found from this field
    seen, unique = set(), []
    for problem in problems:
        if (problem.source, problem.pointer) not in seen:
            seen.add((problem.source, problem.pointer))
            unique.append(problem)
    return unique


def _reads(fdef: FieldDef, stack: tuple) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for ref in fdef.typed.refs():
        for used in ref.fields:
            found.add((used.object, used.name))
            if used.formula and used not in stack:
                found |= _reads(used, (*stack, fdef))
    return found


def hide_unreadable(access: Access, meta: MetadataSet) -> Access:
    """``access`` with every roll-up and formula hidden that reads a field the set may not see, or a field of an object
    it may not read: what a computed field shows must not tell what its fields hide. A formula using a hidden roll-up
    is hidden too."""
    if access.unrestricted:
        return access
    hidden: dict[str, dict[str, str]] = {}

    def sees(obj: str, name: str) -> bool:
        return access.can(obj, "read") and access.visible(obj, name) and name not in hidden.get(obj, {})

    for rollups in meta.rollups.values():
        for rollup in rollups:
            if not all(sees(rollup.child, name) for name in rollup.reads):
                hidden.setdefault(rollup.parent, {})[rollup.name] = "hidden"
    for fdef in formula_fields(meta):
        if not all(sees(obj, name) for obj, name in fdef.reads if (obj, name) != (fdef.object, fdef.name)):
            hidden.setdefault(fdef.object, {})[fdef.name] = "hidden"
    if not hidden:
        return access
    fields = {obj: dict(levels) for obj, levels in access.fields.items()}
    for obj, names in hidden.items():
        fields.setdefault(obj, {}).update(names)
    return Access(access.name, access.admin, access.customizer, access.objects, fields, access.trusted)


class Formulas:
    """One query's formula columns on ``table``: each compiled once, the lookups they follow joined once."""

    def __init__(self, table_for: Callable[[str], sa.Table], table: sa.FromClause) -> None:
        self.table = table
        self.joins = Joins(table_for)
        self._columns: dict[str, sa.ColumnElement] = {}

    def column(self, fdef: FieldDef) -> sa.ColumnElement:
        """The field's column: its table's (a stored formula's too), or its formula compiled on the table."""
        if not fdef.formula or fdef.stored:
            return self.table.c[fdef.name]
        return self.computed(fdef)

    def computed(self, fdef: FieldDef) -> sa.ColumnElement:
        """The formula compiled on the table."""
        found = self._columns.get(fdef.name)
        if found is None:
            found = self._columns[fdef.name] = compile_sql(fdef.typed, self.table, self.joins)
        return found

    def select_from(self, source: sa.FromClause) -> sa.FromClause:
        """``source`` with the joins the compiled formulas need."""
        return self.joins.select_from(source)


def formatter(fdef: FieldDef) -> Callable[[Any, dict], Any]:
    """A computed value as its result type's reads give it: numbers kept to the type's scale, whole numbers as int."""
    ftype, spec = fdef.type, fdef.spec

    if ftype.family == "number":
        scale = 0 if ftype.whole else spec.get("scale", ftype.scale if ftype.scale is not None else 2)
        quantum = decimal.Decimal(1).scaleb(-scale)

        def number(value: Any, _spec: dict) -> Any:
            if value is None:
                return None
            try:
                rounded = decimal.Decimal(str(value)).quantize(quantum, rounding=decimal.ROUND_HALF_UP)
            except decimal.InvalidOperation:
                return None
            return int(rounded) if scale == 0 else float(rounded)

        return number
    if ftype.family == "boolean":
        return lambda value, _spec: None if value is None else bool(value)
    if ftype.family == "date" and not ftype.with_time:
        return lambda value, _spec: None if value is None else (value.isoformat() if isinstance(value, dt.date) else str(value)[:10])
    return ftype.format


def database_problems(conn: Connection, new: MetadataSet, tables) -> list[Problem]:
    """Each formula, run once by the database (no rows: the statement is planned, not read): what the language allows may
    still be beyond a database (SQLite parses at most about 20 nested IFs; a formula using another holds its expression),
    and a read that fails would fail every read of its object."""
    problems: list[Problem] = []
    for fdef in formula_fields(new):
        table = tables.table(fdef.object)
        formulas = Formulas(tables.table, table)
        statement = select(formulas.computed(fdef)).select_from(formulas.select_from(table)).limit(0)
        try:
            with conn.begin_nested():
                conn.execute(statement)
        except sa.exc.DBAPIError as exc:
            reason = str(getattr(exc, "orig", exc)).splitlines()[0][:200]
            problems.append(Problem(fdef.source, f"{fdef.at}/expression", sentence("formula_beyond_database", reason=reason)))
    return problems


# --- stored formulas ---------------------------------------------------------------------------------------

KIND = "formula.recompute"  # the job that computes stored formulas again after a record they follow a lookup to changed
BATCH = 1000


def stored_statement(schema, object_name: str, where: Callable[[sa.Table], sa.ColumnElement] | None = None) -> sa.Update | None:
    """UPDATE setting every stored formula of the object from its expression, for the rows ``where`` picks (default:
    the ids bound as ``tessera_ids``); None when the object has none. A formula that follows lookups reads them in a
    subquery of its own."""
    obj = schema.meta.object(object_name)
    stored = [f for f in obj.active_fields() if f.stored]
    if not stored:
        return None
    table = schema.tables.table(object_name)
    inner = table.alias("stored_formula")
    formulas = Formulas(schema.tables.table, inner)
    values = {}
    for fdef in stored:
        value = formulas.computed(fdef)
        if fdef.type.family == "text":  # the column's length, not an error, for a long result
            value = sa.func.substr(value, 1, fdef.spec.get("max_length", 255))
        values[fdef.name] = select(value).select_from(formulas.select_from(inner)).where(inner.c.id == table.c.id).scalar_subquery()
    chosen = where(table) if where is not None else table.c.id.in_(sa.bindparam("tessera_ids", expanding=True))
    return sa.update(table).where(chosen).values(values)


def store(conn: Connection, schema, object_name: str, ids: list[int]) -> None:
    """Compute the object's stored formulas for the records ``ids`` (just written)."""
    statement = schema.memo(("stored formulas", object_name), lambda: stored_statement(schema, object_name))
    if statement is None:
        return
    for start in range(0, len(ids), BATCH):
        conn.execute(statement, {"tessera_ids": ids[start:start + BATCH]})


def recompute(conn: Connection, schema, object_name: str, progress: Callable[[int, int], None] | None = None) -> int:
    """Compute every stored formula of the object again, for every record, a batch of ids at a time."""
    table = schema.tables.table(object_name)
    total = conn.execute(select(func.count()).select_from(table)).scalar_one()
    done = 0
    for ids in id_batches(conn, table, BATCH):
        store(conn, schema, object_name, ids)
        done += len(ids)
        if progress is not None:
            progress(done, total)
    return done


@dataclass(frozen=True)
class Dependent:
    """A stored formula of ``formula.object`` reading ``fields`` of the object at the end of ``path`` (lookups from the
    formula's object; empty: its own fields)."""

    formula: FieldDef
    path: tuple[FieldDef, ...]
    fields: frozenset[str]


def dependents(meta: MetadataSet) -> dict[str, list[Dependent]]:
    """By object: the stored formulas that read its fields, and through which lookups."""
    found: dict[tuple[int, tuple[str, ...]], tuple[FieldDef, tuple[FieldDef, ...], set[str]]] = {}

    def walk(formula: FieldDef, typed, prefix: tuple[FieldDef, ...], depth: int) -> None:
        for ref in typed.refs():
            for i, used in enumerate(ref.fields):
                path = prefix + tuple(ref.fields[:i])
                key = (id(formula), tuple(f"{f.object}.{f.name}" for f in path))
                found.setdefault(key, (formula, path, set()))[2].add(used.name)
            last = ref.fields[-1] if ref.fields else None
            if last is not None and last.formula and depth < 8:
                walk(formula, last.typed, prefix + tuple(ref.fields[:-1]), depth + 1)

    for formula in formula_fields(meta):
        if formula.stored and formula.typed is not None:
            walk(formula, formula.typed, (), 0)
    by_object: dict[str, list[Dependent]] = {}
    for formula, path, fields in found.values():
        target = path[-1].spec["target"] if path else formula.object
        by_object.setdefault(target, []).append(Dependent(formula, path, frozenset(fields)))
    return by_object


def receive(runtime: Any, conn: Connection, change: Any) -> None:
    """A subscriber of record changes: records whose stored formulas follow a lookup to a changed record are computed
    again by a job; a change made outside the write pipeline (a delete's set-null, a merge moving references) is
    computed again here for the record itself."""
    if change.event != "updated":
        return
    schema = change.schema or runtime.schema(conn)
    found = schema.memo(("formula dependents",), lambda: dependents(schema.meta)).get(change.object_name)
    if not found:
        return
    from core import queue  # noqa: PLC0415 - the queue reads the runtime's tables

    own: set[int] = set()
    for dependent in found:
        touched = [rid for rid in change.ids if (change.changes_of(rid) is None or dependent.fields & set(change.changes_of(rid) or {}))]
        if not touched:
            continue
        if not dependent.path:
            if change.schema is None:  # the pipeline computed its own writes already
                own.update(touched)
            continue
        queue.enqueue(conn, KIND, {"object": dependent.formula.object, "path": [f.name for f in dependent.path], "ids": touched})
    if own:
        store(conn, schema, change.object_name, sorted(own))


def run_job(runtime: Any, job: Any) -> None:
    """The handler of ``formula.recompute``: the records whose lookups lead to the changed ones, computed again."""
    payload = job.payload
    with runtime.writing() as (conn, schema):
        if payload["object"] not in schema.meta.objects:
            return
        obj = schema.meta.object(payload["object"])
        chain, here = [], obj
        for name in payload["path"]:
            lookup = here.fields.get(name)
            if lookup is None or lookup.spec.get("target") not in schema.meta.objects:
                return  # the metadata changed since: a full recompute is the metadata change's
            chain.append(lookup)
            here = schema.meta.object(lookup.spec["target"])

        def affected(table: sa.Table) -> sa.ColumnElement:
            ids: Any = sa.bindparam("tessera_changed", expanding=True)
            for lookup in reversed(chain[1:]):
                source = schema.tables.table(lookup.object)
                ids = select(source.c.id).where(source.c[lookup.name].in_(ids))
            return table.c[chain[0].name].in_(ids)

        statement = stored_statement(schema, obj.name, affected)
        if statement is not None:
            conn.execute(statement, {"tessera_changed": payload["ids"]})
