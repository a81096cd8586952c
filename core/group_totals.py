"""Each board column's count and sum, kept by the database as records are written.

A board shows, per value of its column field, how many records have it and the sum of its sum field.
Counting a million deals on every view is too slow, so each board layout's (object, column field, sum
field) gets triggers on the object's table that add every written row's part to ``tessera_group_total``
in the writing statement's own transaction, whichever path wrote it: the record service, an import, a
merge, a schema change. A reader with no filter and no record scope then reads a handful of rows.

SQLite keeps one row per value: it has one writer at a time. PostgreSQL's triggers run once per
statement and add a row of differences per value, so concurrent writers never wait on one another's
totals; readers sum the rows, and fold them into one per value when they find many.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Iterable

import sqlalchemy as sa
from sqlalchemy import Connection

from core.coretables import group_total
from core.metadata.layouts import LayoutView
from core.metadata.model import MetadataSet

PREFIX = "tessera_gt_"
FOLD_AFTER = 200  # rows of differences for one board before a reader folds them


@dataclass(frozen=True)
class Kept:
    """One board's totals: the object, the column field, and the summed field ("" for none)."""

    object: str
    field: str
    sum_field: str

    @property
    def name(self) -> str:
        digest = hashlib.sha1(f"{self.object}.{self.field}.{self.sum_field}".encode()).hexdigest()[:10]
        return f"{PREFIX}{digest}"

    def trigger_names(self) -> list[str]:
        return [f"{self.name}_{op}" for op in ("i", "u", "d")]

    def key(self):
        return sa.and_(group_total.c.object == self.object, group_total.c.field == self.field,
                       group_total.c.sum_field == self.sum_field)


def kept(meta: MetadataSet) -> set[Kept]:
    """The totals the boards of ``meta`` need: one per board on a picklist column field."""
    wanted = set()
    for layout in map(LayoutView, meta.layouts.values()):
        obj = meta.objects.get(layout.object)
        if layout.kind != "kanban" or obj is None or obj.spec.get("system"):
            continue
        group = obj.fields.get(layout.group_by or "")
        if group is None or group.removed or not group.type.single_choice or not group.has_column:
            continue
        summed = obj.fields.get(layout.sum_field or "")
        usable = summed is not None and not summed.removed and summed.has_column and summed.type.family == "number"
        wanted.add(Kept(obj.name, group.name, summed.name if usable else ""))
    return wanted


def find(meta: MetadataSet, object_name: str, field: str, sum_field: str | None) -> Kept | None:
    """The totals kept for this grouping, if a board keeps them."""
    candidate = Kept(object_name, field, sum_field or "")
    return candidate if candidate in kept(meta) else None


# --- reading -------------------------------------------------------------------------------------


def read(conn: Connection, totals: Kept) -> tuple[list[dict], bool]:
    """The count and sum per value (values with no records left out), and whether the rows should be folded."""
    rows = conn.execute(
        sa.select(group_total.c.value, sa.func.sum(group_total.c.records), sa.func.sum(group_total.c.total), sa.func.count())
        .where(totals.key()).group_by(group_total.c.value)).all()
    found = [{"value": value, "count": int(count), "sum": _number(total)} for value, count, total, _rows in rows if count]
    return found, sum(r[3] for r in rows) > FOLD_AFTER + len(rows)


def fold(conn: Connection, totals: Kept) -> None:
    """Replace a board's rows of differences by one row per value (PostgreSQL: rows another writer is adding stay)."""
    if conn.dialect.name != "postgresql":
        return
    conn.execute(sa.text(
        "WITH gone AS (DELETE FROM tessera_group_total WHERE object = :o AND field = :f AND sum_field = :s "
        "RETURNING value, records, total) "
        "INSERT INTO tessera_group_total (object, field, sum_field, value, records, total) "
        "SELECT :o, :f, :s, value, sum(records), sum(total) FROM gone GROUP BY value"),
        {"o": totals.object, "f": totals.field, "s": totals.sum_field})


def _number(total) -> int | float | Decimal:
    if isinstance(total, float):
        return round(total, 6)  # SQLite adds floats: keep the sum from drifting in its last digits
    return total if total is not None else 0


# --- keeping -------------------------------------------------------------------------------------


def follow_metadata(conn: Connection, meta: MetadataSet, changed_objects: Iterable[str]) -> list[Kept]:
    """Install the triggers the boards of ``meta`` need and drop the others; count again each board whose
    triggers were missing (new, or lost with a rebuilt table) or whose object's table changed. Returns those."""
    wanted = kept(meta)
    installed = _installed(conn)
    wanted_names = {name for totals in wanted for name in totals.trigger_names()}
    for name, table in installed.items():
        if name not in wanted_names:
            _drop_trigger(conn, name, table)
    if conn.dialect.name == "postgresql":  # a function outlives its triggers when their table is dropped
        functions = conn.execute(sa.text("SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                                         "WHERE n.nspname = current_schema() AND p.proname LIKE :prefix"), {"prefix": PREFIX + "%"})
        for stale in set(functions.scalars()) - {totals.name for totals in wanted}:
            conn.execute(sa.text(f'DROP FUNCTION IF EXISTS "{stale}"()'))
    names_in_use = {(t.object, t.field, t.sum_field) for t in wanted}
    for row in conn.execute(sa.select(group_total.c.object, group_total.c.field, group_total.c.sum_field).distinct()).all():
        if tuple(row) not in names_in_use:
            conn.execute(sa.delete(group_total).where(Kept(*row).key()))
    changed = set(changed_objects)
    recounted = []
    for totals in sorted(wanted, key=lambda t: t.name):
        if set(totals.trigger_names()) <= set(installed) and totals.object not in changed:
            continue
        for name in totals.trigger_names():
            if name in installed:
                _drop_trigger(conn, name, installed[name])
        _create_triggers(conn, totals)
        recount(conn, totals)
        recounted.append(totals)
    return recounted


def recount(conn: Connection, totals: Kept) -> None:
    """Count a board's totals from its records."""
    q = conn.dialect.identifier_preparer.quote
    summed = f"coalesce(sum({q(totals.sum_field)}), 0)" if totals.sum_field else "0"
    conn.execute(sa.delete(group_total).where(totals.key()))
    conn.execute(sa.text(
        f"INSERT INTO tessera_group_total (object, field, sum_field, value, records, total) "
        f"SELECT :o, :f, :s, {q(totals.field)}, count(*), {summed} FROM {q(totals.object)} "
        f"WHERE deleted_at IS NULL GROUP BY {q(totals.field)}"),
        {"o": totals.object, "f": totals.field, "s": totals.sum_field})


def _installed(conn: Connection) -> dict[str, str]:
    """The totals' triggers in the database: name to table."""
    if conn.dialect.name == "postgresql":
        rows = conn.execute(sa.text(
            "SELECT t.tgname, c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE NOT t.tgisinternal AND n.nspname = current_schema() "
            "AND t.tgname LIKE :prefix"), {"prefix": PREFIX + "%"})
    else:
        rows = conn.execute(sa.text("SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger' AND name LIKE :prefix"),
                            {"prefix": PREFIX + "%"})
    return {name: table for name, table in rows}


def _drop_trigger(conn: Connection, name: str, table: str) -> None:
    q = conn.dialect.identifier_preparer.quote
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text(f"DROP TRIGGER IF EXISTS {q(name)} ON {q(table)}"))
    else:
        conn.execute(sa.text(f"DROP TRIGGER IF EXISTS {q(name)}"))


def _create_triggers(conn: Connection, totals: Kept) -> None:
    statements = _postgresql_triggers(conn, totals) if conn.dialect.name == "postgresql" else _sqlite_triggers(conn, totals)
    for statement in statements:
        conn.exec_driver_sql(statement)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _sqlite_triggers(conn: Connection, totals: Kept) -> list[str]:
    q = conn.dialect.identifier_preparer.quote
    table, field = q(totals.object), q(totals.field)
    key = (f"object = {_literal(totals.object)} AND field = {_literal(totals.field)} "
           f"AND sum_field = {_literal(totals.sum_field)}")

    def part(row: str, sign: str) -> str:
        amount = f"coalesce({row}.{q(totals.sum_field)}, 0)" if totals.sum_field else "0"
        return (f"INSERT INTO tessera_group_total (object, field, sum_field, value, records, total) "
                f"SELECT {_literal(totals.object)}, {_literal(totals.field)}, {_literal(totals.sum_field)}, {row}.{field}, 0, 0 "
                f"WHERE {row}.deleted_at IS NULL AND NOT EXISTS "
                f"(SELECT 1 FROM tessera_group_total WHERE {key} AND value IS {row}.{field}); "
                f"UPDATE tessera_group_total SET records = records {sign} 1, total = total {sign} {amount} "
                f"WHERE {row}.deleted_at IS NULL AND {key} AND value IS {row}.{field};")

    insert, update, delete = totals.trigger_names()
    watched = ", ".join([field, *([q(totals.sum_field)] if totals.sum_field else []), "deleted_at"])
    changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in [field, *([q(totals.sum_field)] if totals.sum_field else []), "deleted_at"])
    return [
        f"CREATE TRIGGER {q(insert)} AFTER INSERT ON {table} BEGIN {part('NEW', '+')} END",
        f"CREATE TRIGGER {q(update)} AFTER UPDATE OF {watched} ON {table} WHEN {changed} "
        f"BEGIN {part('OLD', '-')} {part('NEW', '+')} END",
        f"CREATE TRIGGER {q(delete)} AFTER DELETE ON {table} BEGIN {part('OLD', '-')} END",
    ]


def _postgresql_triggers(conn: Connection, totals: Kept) -> list[str]:
    q = conn.dialect.identifier_preparer.quote
    table, field = q(totals.object), q(totals.field)
    amount = f"coalesce({q(totals.sum_field)}, 0)" if totals.sum_field else "0"
    head = (f"INSERT INTO tessera_group_total (object, field, sum_field, value, records, total) "
            f"SELECT {_literal(totals.object)}, {_literal(totals.field)}, {_literal(totals.sum_field)}, value, sum(n), sum(t) FROM (")
    tail = ") parts GROUP BY value HAVING sum(n) <> 0 OR sum(t) <> 0 ORDER BY value;"
    added = f"SELECT {field} AS value, 1 AS n, {amount} AS t FROM new_rows WHERE deleted_at IS NULL"
    taken = f"SELECT {field} AS value, -1 AS n, -{amount} AS t FROM old_rows WHERE deleted_at IS NULL"
    function = q(totals.name)
    insert, update, delete = totals.trigger_names()
    return [
        f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"IF TG_OP = 'INSERT' THEN {head}{added}{tail} "
        f"ELSIF TG_OP = 'DELETE' THEN {head}{taken}{tail} "
        f"ELSE {head}{taken} UNION ALL {added}{tail} END IF; RETURN NULL; END $$",
        f"CREATE TRIGGER {q(insert)} AFTER INSERT ON {table} REFERENCING NEW TABLE AS new_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
        f"CREATE TRIGGER {q(update)} AFTER UPDATE ON {table} REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
        f"CREATE TRIGGER {q(delete)} AFTER DELETE ON {table} REFERENCING OLD TABLE AS old_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
    ]
