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
from typing import Any

import sqlalchemy as sa

from core.expressions import ExpressionError, Joins, check, compile_sql
from core.expressions.check import BOOLEAN, DATE, DATETIME, NUMBER, TEXT
from core.metadata.model import FieldDef, MetadataSet
from core.metadata.problems import Problem
from core.permissions import Access
from core.words import sentence

RESULT_TYPES = {"text": TEXT, "integer": NUMBER, "decimal": NUMBER, "currency": NUMBER, "percent": NUMBER,
                "date": DATE, "datetime": DATETIME, "boolean": BOOLEAN}
FORMULA_OPTIONS = frozenset({"name", "type", "label", "help", "former_names", "removed", "expression", "result_type",
                             "scale", "precision", "currency"})


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
        """The field's column: its table's, or its formula compiled on the table."""
        if not fdef.formula:
            return self.table.c[fdef.name]
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
