"""The checks a write passes before it is stored: owners, privileged grants, references, unique values."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator, Mapping

import sqlalchemy as sa
from sqlalchemy import Connection, select

from core import grants
from core.db import PreparedRead
from core.metadata.model import FieldDef, ObjectDef
from core.permissions import TRUSTED, Access, assignable_owners
from core.runtime import Runtime, Schema
from core.validation import FieldError, RecordValidationError, positions_by_key
from core.words import Sentence, sentence
from core.records.actor import Actor
from core.records.errors import BatchValidationError, Forbidden, Refused
from core.records.values import _params, operation_word


GRANTING_FIELDS = {"role": "permission_set", "user": "role"}  # the field through which each object grants a permission set


HOLDING_FIELDS = {"user": ("active", "role"), "role": ("permission_set",)}  # changing one may change who holds a set


def _holding_field(object_name: str, diff: Mapping) -> str | None:
    """The first field of ``diff`` that may change who holds a privileged permission set, if any."""
    return next((name for name in HOLDING_FIELDS.get(object_name, ()) if name in diff), None)


def _missing_statement(conn: Connection, schema: Schema, target: str) -> tuple[Any, Any]:
    """The ids of a list given as one parameter that are not live records of ``target``, and how to pass the
    list: an array on PostgreSQL (``unnest``), a JSON array on SQLite (``json_each``)."""
    table = conn.dialect.identifier_preparer.format_table(schema.tables.table(target))
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY  # noqa: PLC0415

        statement = sa.text(f"SELECT given.id FROM unnest(:tessera_ids) AS given(id) WHERE NOT EXISTS "
                            f"(SELECT 1 FROM {table} t WHERE t.id = given.id AND t.deleted_at IS NULL)")
        return statement.bindparams(sa.bindparam("tessera_ids", type_=ARRAY(sa.BigInteger))), list
    statement = sa.text(f"SELECT given.value FROM json_each(:tessera_ids) AS given WHERE NOT EXISTS "
                        f"(SELECT 1 FROM {table} t WHERE t.id = given.value AND t.deleted_at IS NULL)")
    return statement, _json_list


def _json_list(ids: list[int]) -> str:
    return "[" + ",".join(map(str, ids)) + "]"


_SQLITE_JSON: list[bool] = []


def _sqlite_has_json() -> bool:
    """Whether this process's SQLite has the JSON functions (built in since 3.38 unless left out)."""
    if not _SQLITE_JSON:
        import sqlite3  # noqa: PLC0415

        try:
            sqlite3.connect(":memory:").execute("SELECT json_each.value FROM json_each('[1]')").fetchall()
            _SQLITE_JSON.append(True)
        except sqlite3.Error:
            _SQLITE_JSON.append(False)
    return _SQLITE_JSON[0]


def _referenced_ids(fdef: FieldDef, value: Any) -> list[int]:
    if value is None:
        return []
    if fdef.type.name == "many_to_many":
        return [int(v["id"]) if isinstance(v, dict) else int(v) for v in value]
    return [int(value)]


def _already_held(name: str, wanted: dict[int, list[int]], stored: list | None) -> set[int]:
    """The ids in ``wanted`` that each of their rows already holds in field ``name`` (a lookup's id, a set of linked ids)."""
    if stored is None:
        return set()

    def holds(index: int, rid: int) -> bool:
        held = stored[index][name] if name in stored[index] else None
        return rid in held if isinstance(held, set) else held == rid

    return {rid for rid, indexes in wanted.items() if all(holds(i, rid) for i in indexes)}


class Checks:
    """The record service's part for the checks before a write (see core/records/service.py)."""

    runtime: Runtime

    def _check_moved_owners(self, conn: Connection, schema: Schema, access: Access, actor: Actor, object_name: str,
                            rows: list[dict], stored: list[sa.Row]) -> None:
        """_check_owners for the rows of a batch whose owner changes; a BatchValidationError indexed like ``rows``."""
        moving = [i for i, (values, row) in enumerate(zip(rows, stored)) if "owner" in values and values["owner"] != row.owner]
        if not moving:
            return
        try:
            self._check_owners(conn, schema, access, actor, object_name, "update", [rows[i] for i in moving], rows_are_batch=True)
        except BatchValidationError as exc:
            raise BatchValidationError(object_name, {moving[i]: errors for i, errors in exc.rows.items()}) from None

    def _check_owners(self, conn: Connection, schema: Schema, access: Access, actor: Actor, object_name: str, operation: str,
                      rows: list[dict], rows_are_batch: bool = False) -> None:
        """A role with own or team scope may only give records to the actor, or to a teammate."""
        allowed = assignable_owners(conn, access, schema.memberships, object_name, operation, actor.user_id)
        if allowed is None:
            return
        scope = access.scope(object_name, operation)
        whom = sentence("whom_own" if scope == "own" else "whom_team")
        errors = {i: [FieldError.coded("owner", "owned_only", operation=operation_word(operation), object=object_name, whom=whom)]
                  for i, values in enumerate(rows) if values.get("owner") not in allowed}
        if errors:
            if rows_are_batch:
                raise BatchValidationError(object_name, errors)
            raise RecordValidationError(object_name, next(iter(errors.values())))

    def _refuse_privileged_grants(self, conn: Connection, schema: Schema, access: Access, object_name: str, rows: list[dict],
                                  stored: list[Mapping] | None = None, rows_are_batch: bool = False) -> None:
        """A role pointed at (or away from) a privileged permission set, or a user given (or taken off) a role naming one,
        needs that privilege (core/grants.py). ``stored``: the rows as they are, for an update."""
        if access.unrestricted or object_name not in GRANTING_FIELDS:
            return
        name = GRANTING_FIELDS[object_name]
        wanted = self._granted_levels(conn, schema, object_name, rows, stored or [None] * len(rows))
        errors = {i: [FieldError(name, grants.refusal(level, sentence("through_field", object=object_name, field=name)))]
                  for i, level in enumerate(wanted) if not grants.may_grant(access, level)}
        if not errors:
            return
        if rows_are_batch:
            raise BatchValidationError(object_name, errors)
        raise Forbidden(next(iter(errors.values()))[0].said or next(iter(errors.values()))[0].message, object_name, "create" if stored is None else "update")

    def _granted_levels(self, conn: Connection, schema: Schema, object_name: str, rows: list[dict],
                        stored: list[Mapping | None]) -> list[int]:
        """Per row, the highest privilege it gives or takes away through its granting field (a changed one, on update)."""
        name = GRANTING_FIELDS[object_name]
        named = []
        for values, old in zip(rows, stored):
            if name not in values or (old is not None and old[name] == values[name]):
                named.append([])
            else:
                named.append([values[name]] + ([old[name]] if old is not None else []))
        if object_name == "user":
            role_sets = self._role_sets(conn, schema, {role_id for ids in named for role_id in ids if role_id is not None})
            named = [[role_sets.get(role_id) for role_id in ids] for ids in named]
        sets = schema.meta.permission_sets
        return [max((grants.level_of(sets, set_name) for set_name in names), default=grants.NONE) for names in named]

    def _role_sets(self, conn: Connection, schema: Schema, role_ids: set[int]) -> dict[int, str | None]:
        if not role_ids:
            return {}
        roles = schema.tables.table("role")
        return dict(conn.execute(select(roles.c.id, roles.c.permission_set).where(roles.c.id.in_(role_ids))).all())

    @contextmanager
    def _grants_kept(self, conn: Connection, schema: Schema, access: Access, object_name: str, operation: str,
                     field: str | None = None) -> Iterator[None]:
        """Around a write that may change who holds a privileged permission set (core/grants.py): refuse it when
        the actor may not make that change (Forbidden), or when it leaves no active admin (on ``field`` when given,
        else Refused)."""
        before = self._holders(conn, schema)
        yield
        after = self._holders(conn, schema)
        problem = grants.refused_change(before, after, access)
        if problem:
            raise Forbidden(problem, object_name, operation)
        if not grants.fewer_admins(before, after):
            return
        grants.lock_admins(conn)
        after = self._holders(conn, self.runtime.schema(conn))  # as committed by whoever held the lock before
        problem = grants.lost_every_admin(before, after)
        if problem and field:
            raise RecordValidationError(object_name, [FieldError(field, problem)])
        if problem:
            raise Refused(problem)

    @staticmethod
    def _holders(conn: Connection, schema: Schema) -> grants.Holders:
        tables = schema.tables
        return grants.holders(conn, tables.table("user"), tables.table("role"), schema.meta.permission_sets)

    def _deletes_reach_people(self, schema: Schema, object_name: str) -> bool:
        """Whether deleting (or merging) records of the object can delete or repoint users or roles."""
        return schema.memo(("reaches people", object_name), lambda: self._cascades_to_people(schema, object_name, set()))

    def _cascades_to_people(self, schema: Schema, object_name: str, seen: set[str]) -> bool:
        if object_name in HOLDING_FIELDS:
            return True
        seen.add(object_name)
        return any(fdef.spec.get("on_delete") == "cascade" and obj.name not in seen and self._cascades_to_people(schema, obj.name, seen)
                   for obj, fdef in self._referencing(schema, object_name))

    def _check_references(self, conn: Connection, schema: Schema, obj: ObjectDef, rows: list[dict], rows_are_batch: bool = False,
                          access: Access = TRUSTED, actor: Actor | None = None, stored: list | None = None) -> None:
        """Lookups must point at live records ``access`` may read: one query per field for the whole batch.

        A record outside the actor's read scope is refused exactly as a missing one, so that a lookup
        tells nobody whether it exists. A value the record already holds (``stored``: the rows before
        an update) need only exist: someone else may have linked what the actor cannot see."""
        errors: dict[int, list[FieldError]] = {}
        owner = schema.system_fields(obj.name)["owner"]
        reader = (access, actor)
        for fdef in [f for f in obj.active_fields() if f.type.name in ("lookup", "many_to_many")] + [owner]:
            target, name = fdef.spec["target"], fdef.name
            wanted: dict[int, list[int]] = {}
            if fdef.type.name == "lookup":
                wanted = positions_by_key(None if (value := values.get(name)) is None else int(value) for values in rows)
            else:
                for index, values in enumerate(rows):
                    for rid in _referenced_ids(fdef, values.get(name)):
                        wanted.setdefault(rid, []).append(index)
            if not wanted:
                continue
            kept = _already_held(name, wanted, stored)
            found = self._existing(conn, schema, target, {rid: at for rid, at in wanted.items() if rid not in kept}, *reader)
            if kept:
                found |= self._existing(conn, schema, target, {rid: wanted[rid] for rid in kept})
            for rid, indexes in wanted.items():
                if rid not in found:
                    for index in indexes:
                        errors.setdefault(index, []).append(FieldError.coded(fdef.name, "record_missing", object=target, id=rid))
        for fdef in [f for f in obj.active_fields() if f.type.name == "dynamic_lookup"]:
            for index, values in enumerate(rows):
                held = stored is not None and stored[index][fdef.name] == values.get(fdef.name)
                problem = self._dynamic_problem(conn, schema, obj, fdef, values, *((TRUSTED, None) if held else reader))
                if problem:
                    errors.setdefault(index, []).append(FieldError(fdef.name, problem))
        if errors:
            if rows_are_batch:
                raise BatchValidationError(obj.name, errors)
            raise RecordValidationError(obj.name, next(iter(errors.values())))

    def _existing(self, conn: Connection, schema: Schema, target: str, wanted: dict[int, list[int]], access: Access = TRUSTED,
                  actor: Actor | None = None) -> set[int]:
        """The ids of ``wanted`` that are live records of ``target`` which ``access`` may read."""
        ids = list(wanted)
        if not ids:
            return set()
        visible = schema.row_condition(access, target, "read")
        if visible is not None:
            statement = schema.memo(("existing", target, access.name), lambda: self._existing_statement(schema, target).where(visible))
            return {rid for start in range(0, len(ids), 5000)
                    for rid in conn.execute(statement, {**_params(actor), "tessera_ids": ids[start : start + 5000]}).scalars()}
        if len(ids) == 1:  # a single record's write: a statement with no list to expand
            statement = schema.memo(("exists", target), lambda: PreparedRead(self._existing_statement(schema, target, one=True)))
            return set(ids) if statement.first(conn, tessera_id=ids[0]) is not None else set()
        if conn.dialect.name == "postgresql" or (conn.dialect.name == "sqlite" and _sqlite_has_json()):
            # The list as one parameter (no statement of its own per length), and only the missing ids come back.
            statement, pack = schema.memo(("missing", target, conn.dialect.name), lambda: _missing_statement(conn, schema, target))
            missing: set[int] = set()
            for start in range(0, len(ids), 5000):
                missing.update(conn.execute(statement, {"tessera_ids": pack(ids[start : start + 5000])}).scalars().all())
            return set(ids) - missing
        statement = schema.memo(("existing", target), lambda: self._existing_statement(schema, target))
        found: set[int] = set()
        for start in range(0, len(ids), 5000):
            found.update(conn.execute(statement, {"tessera_ids": ids[start : start + 5000]}).scalars().all())
        return found

    @staticmethod
    def _existing_statement(schema: Schema, target: str, one: bool = False) -> sa.Select:
        table = schema.tables.table(target)
        wanted = table.c.id == sa.bindparam("tessera_id") if one else table.c.id.in_(sa.bindparam("tessera_ids", expanding=True))
        return select(table.c.id).where(wanted, table.c.deleted_at.is_(None))

    def _dynamic_problem(self, conn: Connection, schema: Schema, obj: ObjectDef, fdef: FieldDef, values: dict, access: Access = TRUSTED,
                         actor: Actor | None = None) -> Sentence | None:
        object_field = fdef.spec["object_field"]
        record_id = values.get(fdef.name)
        target_name = values.get(object_field)
        if record_id is None:
            return None
        if target_name is None:
            return sentence("kind_needed", kind=object_field, field=fdef.name)
        if target_name not in schema.meta.objects:
            return sentence("unknown_object", name=target_name)
        if not self._existing(conn, schema, target_name, {record_id: [0]}, access, actor):
            return sentence("record_missing", object=target_name, id=record_id)
        return None

    def _check_unique(self, conn: Connection, schema: Schema, obj: ObjectDef, rows: list[dict], record_id: int | None,
                      rows_are_batch: bool | None = None) -> None:
        """Unique fields: no repeats within the batch, none already taken (deleted records keep theirs)."""
        table = schema.tables.table(obj.name)
        errors: dict[int, list[FieldError]] = {}
        for fdef in obj.active_fields():
            if not fdef.spec.get("unique"):
                continue
            positions: dict[Any, list[int]] = {}
            for index, values in enumerate(rows):
                if values.get(fdef.name) is not None:
                    positions.setdefault(values[fdef.name], []).append(index)
            if not positions:
                continue
            statement = select(table.c[fdef.name]).where(table.c[fdef.name].in_(list(positions)))
            if record_id is not None:
                statement = statement.where(table.c.id != record_id)
            taken = set(conn.execute(statement).scalars())
            for value, indexes in positions.items():
                if value in taken:
                    message = sentence("not_unique", value=value, object=obj.name)
                elif len(indexes) > 1:
                    message = sentence("repeated_in_batch", value=value, rows=", ".join(map(str, indexes)))
                else:
                    continue
                for index in indexes:
                    errors.setdefault(index, []).append(FieldError(fdef.name, message))
        if errors:
            if rows_are_batch or (rows_are_batch is None and len(rows) > 1):
                raise BatchValidationError(obj.name, errors)
            raise RecordValidationError(obj.name, errors[0])
