"""Roll-up fields: a count, sum, minimum, maximum or average of a child object's field, kept on the parent record.

``{"type": "rollup", "rollup": {"object": "opportunity", "via": "account", "aggregate": "sum", "field": "amount",
"filter": {"stage__in": ["prospecting"]}}}`` on the account: a real column, kept current inside the transaction of every
write of a child (create, update, delete, restore, a new parent, a merge), by ``receive``, a subscriber of the record
service's changes. Counts and sums move by the change's difference (``total + 5000``), so concurrent writes of
children of one parent add up instead of overwriting each other; a new minimum or maximum is compared in place; only
when a child holding the current minimum or maximum leaves, or for an average, is the parent computed again from its
own children (through the lookup's index, never a scan of every child). ``recompute`` rebuilds a field in batches of
parents: when the field is added (schema sync) and from ``tessera metadata recompute OBJECT FIELD``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, func, select

from core.conditions import Condition, ConditionError
from core.conditions import compile as compile_condition
from core.db import id_batches
from core.metadata.model import FieldDef, MetadataSet
from core.metadata.problems import Problem
from core.records.events import CREATED, DELETED, RecordChanges
from core.words import hint, sentence

AGGREGATES = ("count", "sum", "min", "max", "avg")
BATCH = 1000


@dataclass(eq=False)
class Rollup:
    """One roll-up field: ``parent``.``name`` = ``aggregate`` of ``child``.``value`` over the children whose ``via``
    names the parent and that meet ``condition``."""

    parent: str
    name: str
    child: str
    via: str
    aggregate: str
    value: str | None
    condition: Condition
    reads: frozenset[str] = field(default_factory=frozenset)  # the child's fields that can change the result
    parse: Callable[[Any], Any] = lambda value: value  # a child's value as the parent's column takes it (SQLite's dates are text)

    @property
    def additive(self) -> bool:
        return self.aggregate in ("count", "sum")


def rollup_fields(meta: MetadataSet) -> list[FieldDef]:
    return [f for obj in meta.objects.values() for f in obj.active_fields() if f.spec.get("type") == "rollup"]


def check_rollups(meta: MetadataSet) -> list[Problem]:
    """Check every roll-up against the metadata and give it its result type (count: a whole number; sum and average: the
    field's number type; minimum and maximum: the field's type); sets ``meta.rollups`` (by child object)."""
    problems: list[Problem] = []
    found: dict[str, list[Rollup]] = {}
    registry = meta.registry
    for fdef in rollup_fields(meta):
        spec = fdef.spec["rollup"]
        at = f"{fdef.at}/rollup"

        def report(where: str, said) -> None:
            problems.append(Problem(fdef.source, at + where, said))

        child = meta.objects.get(spec["object"])
        if child is None:
            report("/object", sentence("rollup_unknown_object", name=spec["object"], hint=hint(spec["object"], meta.objects)))
            continue
        via = child.fields.get(spec["via"])
        if via is None or via.removed or via.type.name != "lookup" or via.spec.get("target") != fdef.object:
            lookups = [f.name for f in child.active_fields() if f.type.name == "lookup" and f.spec.get("target") == fdef.object]
            report("/via", sentence("rollup_not_a_lookup", name=spec["via"], child=child.name, parent=fdef.object,
                                    hint=hint(spec["via"], lookups)))
            continue
        aggregate, value_name = spec["aggregate"], spec.get("field")
        value = child.fields.get(value_name or "")
        if aggregate == "count":
            result = registry["integer"] if registry else None
        elif value is None or value.removed or value.formula or value.spec.get("type") == "rollup":
            usable = [f.name for f in child.active_fields() if f.has_column and f.type.family in ("number", "date")]
            report("/field", sentence("rollup_unknown_field", name=value_name or "", child=child.name, hint=hint(value_name or "", usable)))
            continue
        elif aggregate in ("sum", "avg") and value.type.family != "number":
            report("/field", sentence("rollup_needs_number", aggregate=aggregate, name=value.name, type=value.type.name))
            continue
        elif aggregate in ("min", "max") and value.type.family not in ("number", "date"):
            report("/field", sentence("rollup_needs_ordered", aggregate=aggregate, name=value.name, type=value.type.name))
            continue
        else:
            result = registry["decimal"] if aggregate == "avg" and value.type.whole and registry else value.type
        try:
            condition = compile_condition(child, spec.get("filter"), {f.name: f for f in child.active_fields() if not f.formula},
                                          "", previous_allowed=False)
        except ConditionError as exc:
            for where, said in exc.problems:
                report("/filter" + where, said)
            continue
        if result is not None:
            fdef.type = result
        reads = {via.name} | ({value.name} if value is not None and aggregate != "count" else set()) | condition.fields()
        found.setdefault(child.name, []).append(
            Rollup(fdef.object, fdef.name, child.name, via.name, aggregate, None if aggregate == "count" else value.name, condition,
                   frozenset(reads), value.type.parser(value.spec) if value is not None else (lambda v: v)))
    if not problems:
        meta.rollups = found
    return problems


# --- kept current by the child's writes -------------------------------------------------------------------


def receive(runtime: Any, conn: Connection, change: RecordChanges) -> None:
    """A subscriber of record changes: move every roll-up the written children count in."""
    schema = change.schema or runtime.schema(conn)
    found = schema.meta.rollups.get(change.object_name)
    if not found:
        return
    moves = [_follow(rollup, change) for rollup in found]
    _add_differences(conn, schema, [m for m in moves if m.delta])
    for each in moves:
        each.apply(conn, schema)
    from core import formulas  # noqa: PLC0415 - a parent's stored formulas may read its roll-ups

    moved: dict[str, set[int]] = {}
    for each in moves:
        moved.setdefault(each.rollup.parent, set()).update(each.delta, each.candidates, each.again)
    for parent, ids in moved.items():
        formulas.store(conn, schema, parent, sorted(ids))


def _follow(rollup: Rollup, change: RecordChanges) -> "_Moves":
    moves = _Moves(rollup)
    if change.event == DELETED:
        for record in change.records():
            moves.leave(record)
    else:
        values = change.values()
        for record_id in change.ids:
            record = values.get(record_id)
            if record is None:
                continue
            changes = change.changes_of(record_id) if change.event != CREATED else None
            if changes is None:  # created, or restored
                moves.join(record)
                continue
            if not rollup.reads & set(changes):
                continue
            before = {**record, **{name: old for name, (old, _new) in changes.items()}}
            moves.leave(before)
            moves.join(record)
    return moves


def _add_differences(conn: Connection, schema, moves: list["_Moves"]) -> None:
    """The counts' and sums' differences, one UPDATE per parent row for all the roll-ups of one parent object."""
    by_parent: dict[str, list[_Moves]] = {}
    for each in moves:
        by_parent.setdefault(each.rollup.parent, []).append(each)
    for parent, group in by_parent.items():
        names = tuple(m.rollup.name for m in group)
        statement = schema.memo(("rollup differences", parent, names), lambda: _difference_statement(schema, parent, names))
        rows: dict[int, dict[str, Any]] = {}
        for each in group:
            whole = isinstance(schema.tables.table(parent).c[each.rollup.name].type, sa.Integer)
            for parent_id, delta in each.delta.items():
                if not delta:
                    continue
                row = rows.setdefault(parent_id, {"tessera_parent": parent_id, **{f"tessera_{n}": 0 for n in names}})
                row[f"tessera_{each.rollup.name}"] = int(delta) if whole else delta
        if rows:
            conn.execute(statement, list(rows.values()))


def _difference_statement(schema, parent: str, names: tuple[str, ...]) -> sa.Update:
    table = schema.tables.table(parent)
    return sa.update(table).where(table.c.id == sa.bindparam("tessera_parent")).values(
        {name: func.coalesce(table.c[name], 0) + sa.bindparam(f"tessera_{name}", type_=table.c[name].type) for name in names})


def _number(value: Any) -> Any:
    return value if isinstance(value, (int, Decimal)) else Decimal(str(value))


def _parent_id(value: Any) -> int | None:
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, int) else None


class _Moves:
    """What one write does to each parent's roll-up: a difference to add, or a parent to compute again."""

    def __init__(self, rollup: Rollup) -> None:
        self.rollup = rollup
        self.delta: dict[int, Any] = {}
        self.candidates: dict[int, list[Any]] = {}
        self.again: set[int] = set()

    def _counted(self, record: dict) -> tuple[int | None, Any, bool]:
        rollup = self.rollup
        parent = _parent_id(record.get(rollup.via))
        if parent is None or not rollup.condition.matches(record):
            return None, None, False
        value = 1 if rollup.aggregate == "count" else record.get(rollup.value)
        return parent, value, value is not None

    def join(self, record: dict) -> None:
        parent, value, counted = self._counted(record)
        if not counted:
            return
        if self.rollup.additive:
            self.delta[parent] = self.delta.get(parent, 0) + _number(value)
        elif self.rollup.aggregate == "avg":
            self.again.add(parent)
        else:
            self.candidates.setdefault(parent, []).append(self.rollup.parse(value))

    def leave(self, record: dict) -> None:
        parent, value, counted = self._counted(record)
        if not counted:
            return
        if self.rollup.additive:
            self.delta[parent] = self.delta.get(parent, 0) - _number(value)
        else:
            self.again.add(parent)  # it may have been the minimum or maximum; an average moves anyway

    def apply(self, conn: Connection, schema) -> None:
        rollup = self.rollup
        table = schema.tables.table(rollup.parent)
        column = table.c[rollup.name]
        for parent, values in self.candidates.items():
            if parent in self.again:
                continue
            best = min(values) if rollup.aggregate == "min" else max(values)
            better = column > sa.bindparam("tessera_best") if rollup.aggregate == "min" else column < sa.bindparam("tessera_best")
            conn.execute(sa.update(table).where(table.c.id == parent, sa.or_(column.is_(None), better))
                         .values({rollup.name: sa.bindparam("tessera_best", type_=column.type)}), {"tessera_best": best})
        if self.again:
            recompute(conn, schema, rollup, sorted(self.again))


# --- computed from the children ----------------------------------------------------------------------------


def find(meta: MetadataSet, object_name: str, field_name: str) -> Rollup | None:
    return next((r for rollups in meta.rollups.values() for r in rollups if (r.parent, r.name) == (object_name, field_name)), None)


def _aggregate(conn: Connection, schema, rollup: Rollup, parent_table: sa.Table) -> tuple[sa.ScalarSelect, dict]:
    """The roll-up of one parent row of ``parent_table`` as a correlated subquery over its live children."""
    child = schema.tables.table(rollup.child).alias("rollup_child")
    where, values = rollup.condition.where(conn, schema, child) if not rollup.condition.empty else (sa.true(), {})
    if rollup.aggregate == "count":
        measure = func.count()
    else:
        measure = {"sum": func.sum, "min": func.min, "max": func.max, "avg": func.avg}[rollup.aggregate](child.c[rollup.value])
        if rollup.aggregate == "sum":
            measure = func.coalesce(measure, 0)
    subquery = (select(measure).where(child.c[rollup.via] == parent_table.c.id, child.c.deleted_at.is_(None), where)
                .scalar_subquery())
    return subquery, values


def recompute(conn: Connection, schema, rollup: Rollup, parent_ids: Iterable[int] | None = None, batch: int = BATCH,
              progress: Callable[[int, int], None] | None = None) -> int:
    """Compute the roll-up again from the children, for ``parent_ids`` or for every parent, ``batch`` parents per
    statement in the order of ids; ``progress(done, total)`` after each batch. Returns how many parents were computed."""
    table = schema.tables.table(rollup.parent)
    subquery, values = _aggregate(conn, schema, rollup, table)
    statement = sa.update(table).where(table.c.id.in_(sa.bindparam("tessera_ids", expanding=True))).values({rollup.name: subquery})
    if parent_ids is not None:
        ids = list(parent_ids)
        for start in range(0, len(ids), batch):
            conn.execute(statement, {**values, "tessera_ids": ids[start:start + batch]})
        return len(ids)
    total = conn.execute(select(func.count()).select_from(table)).scalar_one()
    done = 0
    for ids in id_batches(conn, table, batch):
        conn.execute(statement, {**values, "tessera_ids": ids})
        done += len(ids)
        if progress is not None:
            progress(done, total)
    return done


def fill_added(conn: Connection, schema, added: set[str]) -> list[tuple[str, str, int]]:
    """Compute the roll-ups whose columns ``added`` holds ("object.field"): (object, field, parents) of each."""
    filled = []
    for rollups in schema.meta.rollups.values():
        for rollup in rollups:
            if f"{rollup.parent}.{rollup.name}" in added:
                filled.append((rollup.parent, rollup.name, recompute(conn, schema, rollup)))
    return filled
