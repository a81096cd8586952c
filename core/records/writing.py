"""Creating and updating records: validation, hooks, checks, the write, field history, webhooks."""

from __future__ import annotations

import datetime as dt
from contextlib import contextmanager, nullcontext
from typing import Any, Iterator, Mapping

import sqlalchemy as sa
from sqlalchemy import Connection, select

from core import search
from core.coretables import field_history, sequence
from core.db import prepare_bulk
from core.fieldtypes import format_autonumber
from core.person_names import with_full_names
from core.metadata.model import FieldDef, ObjectDef
from core.plugins import PluginSet, RecordEvent, Refusal
from core.permissions import TRUSTED, Access
from core.runtime import Runtime, Schema
from core.sameness import same
from core.validation import FieldError, RecordValidationError
from core.words import sentence
from core.records.actor import Actor
from core.records.checks import _holding_field
from core.records.errors import BatchValidationError, Conflict, Forbidden, NotFound
from core.records.reading import _changes
from core.records.rows import _bulk_insert, _insert_one, _insert_plan, BULK_INSERT_MIN
from core.records.transaction import BulkWriter, TransactionRecords
from core.records.values import _field_def, _name_fields, _now, _params, _record_id, _version, json_value, operation_word


def _keep_valid(check, parsed: list[dict], positions: list[int], rejected: dict[int, list[FieldError]] | None
                ) -> tuple[list[dict], list[int]]:
    """Run a batch check; with ``rejected``, move the rows it refuses there instead of raising."""
    try:
        check(parsed)
    except BatchValidationError as exc:
        if rejected is None:
            raise
        for index, errors in exc.rows.items():
            rejected.setdefault(positions[index], []).extend(errors)
        kept = [i for i in range(len(parsed)) if i not in exc.rows]
        return [parsed[i] for i in kept], [positions[i] for i in kept]
    return parsed, positions


def _without_unchanged_read_only(obj: ObjectDef, changes: dict, stored: Mapping, locked: frozenset[str] = frozenset()) -> dict:
    """A form sending back a read-only field (or one the role may only read) unchanged is not trying to write it."""
    kept = {}
    for name, value in changes.items():
        fdef = obj.fields.get(name)
        if fdef is not None and (fdef.spec.get("read_only") or name in locked) and fdef.has_column and same(fdef, stored[name], value):
            continue
        kept[name] = value
    return kept


def _as_json(obj: ObjectDef, values: dict) -> dict:
    """Parsed values as the API shows them (what hooks read and write)."""
    result = {}
    for name, value in values.items():
        fdef = obj.fields.get(name)
        if value is None or fdef is None:
            result[name] = value
        elif fdef.type.name == "many_to_many":
            result[name] = [_link_value(fdef, link) for link in value]
        else:
            result[name] = json_value(fdef.type.format(value, fdef.spec))
    return result


def reserve_numbers(conn: Connection, name: str, count: int) -> int:
    """Reserve ``count`` consecutive numbers of a sequence; return the first.

    The UPDATE takes the row lock (PostgreSQL) or the write lock (SQLite), so concurrent
    transactions get disjoint ranges.
    """
    result = conn.execute(sa.update(sequence).where(sequence.c.name == name).values(value=sequence.c.value + count).returning(sequence.c.value))
    last = result.scalar()
    if last is None:
        try:
            with conn.begin_nested():
                conn.execute(sequence.insert().values(name=name, value=count))
            last = count
        except sa.exc.IntegrityError:
            return reserve_numbers(conn, name, count)
    return last - count + 1


def _with_stored_pairs(obj: ObjectDef, values: dict, stored: Mapping) -> dict:
    """A 'related to' is a pair (object name, id): check the pair even when one half changes."""
    checked = dict(values)
    for fdef in obj.active_fields():
        if fdef.type.name == "dynamic_lookup":
            object_field = fdef.spec["object_field"]
            if fdef.name in values or object_field in values:
                checked.setdefault(fdef.name, stored[fdef.name])
                checked.setdefault(object_field, stored[object_field])
    return checked


def _link_value(fdef: FieldDef, link: dict) -> dict:
    """A link as JSON: its id and relation fields (for history and comparison)."""
    value = {"id": link["id"]}
    for t in fdef.through:
        raw = link.get(t.name)
        value[t.name] = None if raw is None else json_value(t.type.format(raw, t.spec))
    return value


def _defaults(obj: ObjectDef) -> dict:
    defaults = {}
    for fdef in obj.active_fields():
        if "default" in fdef.spec and fdef.spec["default"] is not None and fdef.has_column:
            defaults[fdef.name] = fdef.type.parse(fdef.spec["default"], fdef.spec)
    return defaults


def _changed(schema: Schema, obj: ObjectDef, stored: Mapping, values: dict) -> dict:
    """The values that are not the same as the stored ones (core/sameness.py): what an update writes and records."""
    return {name: value for name, value in values.items() if not same(_field_def(schema, obj, name), stored[name], value)}


def _keeping_relation_values(fdef: FieldDef, given: list[dict], held: list[dict]) -> list[dict]:
    """Links as an update writes them: a link already held that leaves out one of its relation fields (a form
    sends the linked ids alone) keeps the value it holds there; only a value given, null included, replaces it."""
    held_by_id = {link["id"]: link for link in held}
    kept = []
    for link in given:
        before = held_by_id.get(link["id"])
        missing = [t for t in fdef.through if t.name not in link] if before is not None else []
        kept.append({**link, **{t.name: _parsed_again(t, before.get(t.name)) for t in missing}} if missing else link)
    return kept


def _parsed_again(fdef: FieldDef, shown: Any) -> Any:
    """A relation field's value as read (formatted) back as the junction table stores it."""
    if shown is None:
        return None
    try:
        return fdef.type.parse(shown, fdef.spec)
    except (ValueError, TypeError, ArithmeticError):
        return shown  # a value the field's definition no longer offers: kept as it is


def _history_row(obj: ObjectDef, record_id: int, name: str, old: Any, new: Any, version: int, now: dt.datetime, actor: Actor) -> dict:
    return dict(object=obj.name, record_id=record_id, field=name,
                old_value=_as_json(obj, {name: old})[name], new_value=_as_json(obj, {name: new})[name],
                record_version=version, changed_at=now, changed_by=actor.user_id, changed_by_name=actor.name)


def _plugin_problem(plugins: PluginSet, problem: Refusal | tuple) -> FieldError:
    """A problem ``tessera_validate_record`` returned: a Refusal, or a (field, message) pair."""
    if isinstance(problem, Refusal):
        return FieldError(problem.field, plugins.sentence(problem))
    field, message = problem
    return FieldError(field, message)


def _run_after(plugins: PluginSet, hook, event: RecordEvent, refused: type[Exception] | None = None) -> None:
    """Run an after-hook. A Refusal raised in it refuses the whole write, which is then rolled back, as one raised
    in a before-hook does: a field error (or ``refused``, for deletes), never an unexpected failure."""
    try:
        hook(event=event)
    except Refusal as exc:
        if refused is not None:
            raise refused(plugins.sentence(exc)) from None
        raise RecordValidationError(event.object, [FieldError(exc.field, plugins.sentence(exc))]) from None


class Writes:
    """The record service's part for creating and updating records (see core/records/service.py)."""

    runtime: Runtime

    def create(self, actor: Actor, object_name: str, data: Any) -> dict:
        with self.runtime.writing() as (conn, schema):
            access = self._allowed(schema, actor, object_name, "create")
            return self._create(conn, schema, actor, object_name, data, access=access)

    def _create(self, conn: Connection, schema: Schema, actor: Actor, object_name: str, data: Any, trusted: bool = False,
                access: Access = TRUSTED) -> dict:
        record_id = self._insert(conn, schema, actor, object_name, [data], trusted, access)[0]
        # The creator sees what they made even when their read scope would not cover it (a record given to a teammate).
        return self._fetch(conn, schema, object_name, record_id, access=access, actor=actor, row_scope=False)

    def create_many(self, actor: Actor, object_name: str, rows: list[Any]) -> list[int]:
        """Create many records in one transaction: all are created, or none."""
        with self.runtime.writing() as (conn, schema):
            access = self._allowed(schema, actor, object_name, "create")
            return self._insert(conn, schema, actor, object_name, rows, access=access)

    @contextmanager
    def bulk(self, actor: Actor, object_name: str, dry_run: bool = False) -> Iterator["BulkWriter"]:
        """One transaction of batch writes for an import: each invalid row is reported, not raised.

        With ``dry_run`` everything runs (validation, hooks, checks) and is rolled back at the end.
        """
        with self.runtime.writing() as (conn, schema):
            schema.meta.object(object_name)
            prepare_bulk(conn)
            yield BulkWriter(self, conn, schema, actor, object_name)
            if dry_run:
                search.forget(conn)
                conn.get_transaction().rollback()

    def _insert(self, conn: Connection, schema: Schema, actor: Actor, object_name: str, rows: list[Any], trusted: bool = False,
                access: Access = TRUSTED, rejected: dict[int, list[FieldError]] | None = None) -> list[int]:
        """Insert ``rows``; return their ids in order.

        Without ``rejected`` any invalid row refuses the whole batch. With it (imports), each
        invalid row's errors go there by index, its id is None, and the valid rows are inserted.
        """
        obj = schema.meta.object(object_name)
        validator = schema.validator(object_name)
        defaults = _defaults(obj)
        plugins = self.runtime.plugins
        before = plugins.caller("tessera_before_create", object_name) or plugins.caller("tessera_validate_record", object_name)
        hidden, locked = access.hidden(object_name), access.locked(object_name)
        parsed, positions, now = [], [], _now()
        validated, errors = validator.validate_many(rows, partial=False, trusted=trusted, hidden=hidden, locked=locked)
        for index, values in enumerate(validated):
            if values is None:
                continue
            if defaults:
                values = {**defaults, **values}
            if before:
                try:
                    values = self._run_before(conn, schema, actor, obj, "tessera_before_create", values, None, now)
                except RecordValidationError as exc:
                    errors[index] = exc.errors
                    continue
            parsed.append(values)
            positions.append(index)
        if before and errors:
            errors = dict(sorted(errors.items()))  # by row, as when each row was validated and then hooked
        if errors and rejected is None:
            if len(rows) == 1:
                raise RecordValidationError(object_name, errors[0])
            raise BatchValidationError(object_name, errors)
        if rejected is not None:
            rejected.update(errors)
        batch = len(rows) > 1 or rejected is not None

        def stamp_and_check_owners(kept: list[dict]) -> None:
            stamp = {"version": 1, "created_at": now, "updated_at": now, "created_by": actor.user_id, "updated_by": actor.user_id}
            owner = actor.user_id
            for values in kept:
                values.update(stamp)
                if values.get("owner") is None:
                    values["owner"] = owner
            self._check_owners(conn, schema, access, actor, object_name, "create", kept, rows_are_batch=batch)

        for check in (lambda kept: self._check_references(conn, schema, obj, kept, rows_are_batch=batch, access=access, actor=actor),
                      lambda kept: self._check_unique(conn, schema, obj, kept, None, rows_are_batch=batch),
                      stamp_and_check_owners,
                      lambda kept: self._refuse_privileged_grants(conn, schema, access, object_name, kept, rows_are_batch=batch)):
            if not parsed:
                return [None] * len(rows)  # type: ignore[list-item]
            parsed, positions = _keep_valid(check, parsed, positions, rejected)
        if not parsed:
            return [None] * len(rows)  # type: ignore[list-item]
        links = {f.name: [values.pop(f.name, None) for values in parsed] for f in obj.active_fields() if f.type.name == "many_to_many"}
        named = _name_fields(schema, obj)
        for values in parsed:
            with_full_names(named, None, values)
        self._assign_autonumbers(conn, obj, parsed)
        table = schema.tables.table(object_name)
        ids = self._insert_rows(conn, table, parsed, schema)
        search.touch(conn, object_name, ids)
        for name, values_per_row in links.items():
            fdef = obj.fields[name]
            for record_id, links_value in zip(ids, values_per_row):
                if links_value:
                    self._write_links(conn, schema, fdef, record_id, links_value)
        after = plugins.caller("tessera_after_create", object_name)
        if after:
            records = TransactionRecords(self, conn, schema, actor)
            for record in self._fetch_many(conn, schema, object_name, ids):
                _run_after(self.runtime.plugins, after, RecordEvent(object_name, actor, records, meta=schema.meta, hooks=self.runtime.plugins.hook, values=record,
                                              record=record))
        self.runtime.webhooks.enqueue(conn, object_name, "created", lambda: self._fetch_many(conn, schema, object_name, ids))
        if len(ids) == len(rows):
            return ids
        by_position: list[int | None] = [None] * len(rows)
        for position, record_id in zip(positions, ids):
            by_position[position] = record_id
        return by_position  # type: ignore[return-value]

    def _run_before(self, conn, schema: Schema, actor: Actor, obj: ObjectDef, hook_name: str, values: dict,
                    previous: dict | None, now: dt.datetime) -> dict:
        """Run a before-hook and the validators of plugins; what hooks set is checked like input."""
        plugins = self.runtime.plugins
        shown = _as_json(obj, values)
        event = RecordEvent(obj.name, actor, TransactionRecords(self, conn, schema, actor), meta=schema.meta,
                            hooks=plugins.hook, values=dict(shown), previous=previous, now=now)
        hook = plugins.caller(hook_name, obj.name)
        if hook:
            try:
                hook(event=event)
            except Refusal as exc:
                raise RecordValidationError(obj.name, [FieldError(exc.field, plugins.sentence(exc))]) from None
            if event.values != shown:  # only what hooks changed needs checking again
                values = schema.validator(obj.name).validate(event.values, partial=previous is not None, trusted=True)
                event.values = _as_json(obj, values)
        validators = plugins.caller("tessera_validate_record", obj.name)
        problems = [p for result in reversed(validators(event=event)) for p in (result or [])] if validators else []
        if problems:
            raise RecordValidationError(obj.name, [_plugin_problem(plugins, problem) for problem in problems])
        return values

    def _insert_rows(self, conn: Connection, table: sa.Table, parsed: list[dict], schema: Schema | None = None) -> list[int]:
        """Insert the rows; return their ids in the rows' order.

        Several rows go in one statement (see ``_bulk_insert``), one row in one ``INSERT ... RETURNING
        id`` on the driver's cursor; a table these cannot serve takes SQLAlchemy's own insert.
        """
        if len(parsed) >= BULK_INSERT_MIN:
            ids = _bulk_insert(conn, table, parsed, schema)
            if ids is not None:
                return ids
        elif parsed and (plan := _insert_plan(conn, table, parsed, schema)) is not None:
            return [_insert_one(conn, plan, parsed[0])]
        # Rows may name different columns; group them so each executemany is uniform.
        ids: list[int | None] = [None] * len(parsed)
        groups: dict[tuple[str, ...], list[int]] = {}
        for i, values in enumerate(parsed):
            groups.setdefault(tuple(sorted(values)), []).append(i)
        for columns, indexes in groups.items():
            statement = table.insert().returning(table.c.id, sort_by_parameter_order=True)
            result = conn.execute(statement, [parsed[i] for i in indexes])
            for i, row in zip(indexes, result):
                ids[i] = row[0]
        return ids  # type: ignore[return-value]

    def _assign_autonumbers(self, conn: Connection, obj: ObjectDef, parsed: list[dict]) -> None:
        for fdef in obj.active_fields():
            if fdef.type.name != "autonumber":
                continue
            first = reserve_numbers(conn, f"{obj.name}.{fdef.name}", len(parsed))
            for offset, values in enumerate(parsed):
                values[fdef.name] = format_autonumber(fdef.spec, first + offset)

    def update(self, actor: Actor, object_name: str, record_id: Any, changes: Any, version: Any = None) -> dict:
        record_id = _record_id(record_id)
        if isinstance(changes, dict):
            changes = dict(changes)
            if version is None:
                version = changes.pop("version", None)
            else:
                changes.pop("version", None)
        expected = _version(version)
        with self.runtime.writing() as (conn, schema):
            access = self._allowed(schema, actor, object_name, "update")
            return self._update(conn, schema, actor, object_name, record_id, changes, expected, access=access)

    def _update(self, conn: Connection, schema: Schema, actor: Actor, object_name: str, record_id: int, changes: Any, expected: int,
                trusted: bool = False, access: Access = TRUSTED) -> dict:
        obj = schema.meta.object(object_name)
        table = schema.tables.table(object_name)
        current = self._current(conn, schema, access, actor, table, object_name, record_id, "update")
        if current.version != expected:
            raise self._conflict(conn, schema, object_name, record_id, expected, current.version, access, actor)
        if not trusted and isinstance(changes, dict):
            changes = _without_unchanged_read_only(obj, changes, current._mapping, access.locked(object_name))
        values = schema.validator(object_name).validate(changes, partial=True, trusted=trusted,
                                                        hidden=access.hidden(object_name), locked=access.locked(object_name))
        if "owner" in values and values["owner"] != current.owner:
            self._check_owners(conn, schema, access, actor, object_name, "update", [values])
        self._refuse_privileged_grants(conn, schema, access, object_name, [values], [current._mapping])
        plugins, now = self.runtime.plugins, _now()
        if plugins.caller("tessera_before_update", object_name) or plugins.caller("tessera_validate_record", object_name):
            previous = self._fetch(conn, schema, object_name, record_id)
            values = self._run_before(conn, schema, actor, obj, "tessera_before_update", values, previous, now)
        held = {**current._mapping, **{name: {link["id"] for link in self._links(conn, schema, obj.fields[name], [record_id])[record_id]}
                                       for name in values if obj.fields.get(name) and obj.fields[name].type.name == "many_to_many"}}
        self._check_references(conn, schema, obj, [_with_stored_pairs(obj, values, current._mapping)], access=access, actor=actor,
                               stored=[held])
        link_changes = {n: values.pop(n) for n in list(values) if obj.fields.get(n) and obj.fields[n].type.name == "many_to_many"}
        stored = current._mapping
        diff = _changed(schema, obj, stored, with_full_names(_name_fields(schema, obj), stored, values))
        self._check_unique(conn, schema, obj, [diff], record_id)  # a value kept as it is needs no check
        old_links = {}
        for name in list(link_changes):
            fdef = obj.fields[name]
            held = self._links(conn, schema, fdef, [record_id])[record_id]
            link_changes[name] = _keeping_relation_values(fdef, link_changes[name] or [], held)
            old = [_link_value(fdef, link) for link in held]
            if same(fdef, old, [_link_value(fdef, link) for link in link_changes[name]]):
                del link_changes[name]
            else:
                old_links[name] = old
        if not diff and not link_changes:
            return self._fetch(conn, schema, object_name, record_id, access=access, actor=actor, row_scope=False)
        holding = _holding_field(object_name, diff)
        with self._grants_kept(conn, schema, access, object_name, "update", holding) if holding else nullcontext():
            result = conn.execute(
                sa.update(table)
                .where(table.c.id == record_id, table.c.version == expected)
                .values(**diff, version=table.c.version + 1, updated_at=now, updated_by=actor.user_id)
            )
            if result.rowcount != 1:
                latest = conn.execute(select(table.c.version).where(table.c.id == record_id)).scalar()
                raise self._conflict(conn, schema, object_name, record_id, expected, latest, access, actor)
        if search.indexes_any(obj, diff):
            search.touch(conn, object_name, [record_id])
        history = [
            _history_row(obj, record_id, name, stored[name], value, expected + 1, now, actor) for name, value in diff.items()
        ]
        for name, links_value in link_changes.items():
            fdef = obj.fields[name]
            self._write_links(conn, schema, fdef, record_id, links_value or [], replace=True)
            new = [_link_value(fdef, link) for link in links_value or []]
            history.append(dict(object=obj.name, record_id=record_id, field=name, old_value=old_links[name], new_value=new,
                                record_version=expected + 1, changed_at=now, changed_by=actor.user_id, changed_by_name=actor.name))
        if history:
            conn.execute(field_history.insert(), history)
        record = self._fetch(conn, schema, object_name, record_id)
        changed = {h["field"]: (h["old_value"], h["new_value"]) for h in history}
        after = plugins.caller("tessera_after_update", object_name)
        if after:
            event = RecordEvent(object_name, actor, TransactionRecords(self, conn, schema, actor), meta=schema.meta, hooks=self.runtime.plugins.hook,
                                values=_as_json(obj, {**diff}), record=record, changes=changed)
            _run_after(self.runtime.plugins, after, event)
        self.runtime.webhooks.enqueue(conn, object_name, "updated", lambda: [record], changed)
        if access.unrestricted:
            return record
        return self._fetch(conn, schema, object_name, record_id, access=access, actor=actor, row_scope=False)

    def _update_many(self, conn: Connection, schema: Schema, actor: Actor, access: Access, object_name: str,
                     items: list[tuple[int, dict]]) -> tuple[dict[int, list[FieldError]], list[int]]:
        """``_update`` for many records at their current versions, in a few statements: the problems of each
        refused item by index, and the items left to ``_update`` one by one.

        The same checks in the same order (read and update scope, read-only and locked fields,
        validation, owners, references), one query each for the whole batch; then one UPDATE
        per set of changed fields (executemany) and one insert of the field history. Left to
        ``_update``: everything when a plugin hooks updates of the object, when a record is
        named twice or the object is a user or role (privileged grants); an item changing a
        many-to-many or unique field.
        """
        obj = schema.meta.object(object_name)
        plugins = self.runtime.plugins
        ids = [record_id for record_id, _changes in items]
        if (len(set(ids)) != len(ids) or object_name in ("role", "user")
                or any(plugins.caller(hook, object_name) for hook in ("tessera_before_update", "tessera_validate_record", "tessera_after_update"))):
            return {}, list(range(len(items)))
        table = schema.tables.table(object_name)
        current, may = self._current_rows(conn, schema, access, actor, table, object_name, ids)
        linked = {f.name for f in obj.active_fields() if f.type.name == "many_to_many"}
        unique = {f.name for f in obj.active_fields() if f.spec.get("unique")}
        hidden, locked = access.hidden(object_name), access.locked(object_name)
        problems: dict[int, list[FieldError]] = {}
        one_by_one: list[int] = []
        given, positions = [], []
        for index, (record_id, changes) in enumerate(items):
            if record_id not in current:
                problems[index] = [FieldError.coded("", "record_missing", object=object_name, id=record_id)]
            elif record_id not in may:
                problems[index] = [FieldError.coded("", "may_not_update_this", object=object_name)]
            elif not isinstance(changes, dict) or not linked.isdisjoint(changes):
                one_by_one.append(index)
            else:
                given.append(_without_unchanged_read_only(obj, changes, current[record_id]._mapping, locked))
                positions.append(index)
        validated, refused = schema.validator(object_name).validate_many(given, partial=True, hidden=hidden, locked=locked)
        problems.update((positions[i], errors) for i, errors in refused.items())
        parsed = [values for values in validated if values is not None]
        positions = [position for position, values in zip(positions, validated) if values is not None]

        def stored(rows_positions: list[int]) -> list[sa.Row]:
            return [current[items[position][0]] for position in rows_positions]

        parsed, positions = _keep_valid(lambda rows: self._check_moved_owners(conn, schema, access, actor, object_name, rows, stored(positions)),
                                        parsed, positions, problems)
        paired = any(f.type.name == "dynamic_lookup" for f in obj.active_fields())
        parsed, positions = _keep_valid(lambda rows: self._check_references(
            conn, schema, obj, [_with_stored_pairs(obj, v, row._mapping) for v, row in zip(rows, stored(positions))] if paired else rows,
            rows_are_batch=True, access=access, actor=actor, stored=[row._mapping for row in stored(positions)]), parsed, positions, problems)
        changed: dict[tuple[str, ...], list[tuple[sa.Row, dict]]] = {}  # the fields changed -> (stored row, their new values)
        named = _name_fields(schema, obj)
        for values, position, row in zip(parsed, positions, stored(positions)):
            diff = _changed(schema, obj, row._mapping, with_full_names(named, row._mapping, values))
            if not unique.isdisjoint(diff):
                one_by_one.append(position)
            elif diff:
                changed.setdefault(tuple(diff), []).append((row, diff))
        self._write_changes(conn, schema, actor, obj, table, changed)
        return problems, sorted(one_by_one)

    def _current_rows(self, conn: Connection, schema: Schema, access: Access, actor: Actor, table: sa.Table, object_name: str,
                      ids: list[int]) -> tuple[dict[int, sa.Row], set[int]]:
        """``_current`` for many: the stored rows the actor may read (locked for the transaction), and the ids they may update."""
        params, wanted = _params(actor), sa.bindparam("tessera_ids", expanding=True)
        statement = select(table).where(table.c.id.in_(wanted), table.c.deleted_at.is_(None))
        visible = schema.row_condition(access, object_name, "read")
        if visible is not None:
            statement = statement.where(visible)
        current = {row.id: row for row in conn.execute(statement.with_for_update(), {**params, "tessera_ids": ids})}
        allowed = schema.row_condition(access, object_name, "update")
        if allowed is None or not current:
            return current, set(current)
        may = conn.execute(select(table.c.id).where(table.c.id.in_(wanted), allowed), {**params, "tessera_ids": list(current)}).scalars()
        return current, set(may)

    def _write_changes(self, conn: Connection, schema: Schema, actor: Actor, obj: ObjectDef, table: sa.Table,
                       changed: dict[tuple[str, ...], list[tuple[sa.Row, dict]]]) -> None:
        """One UPDATE per set of changed fields, the field history, and the updated webhooks (the rows are locked)."""
        now, history, announced = _now(), [], []
        for names, rows in changed.items():
            if search.indexes_any(obj, names):
                search.touch(conn, obj.name, [row.id for row, _diff in rows])
            statement = (sa.update(table).where(table.c.id == sa.bindparam("tessera_row_id"))
                         .values({**{n: sa.bindparam(f"tessera_set_{n}") for n in names}, "version": table.c.version + 1,
                                  "updated_at": sa.bindparam("tessera_now"), "updated_by": sa.bindparam("tessera_by")}))
            stamp = {"tessera_now": now, "tessera_by": actor.user_id}
            conn.execute(statement, [{"tessera_row_id": row.id, **stamp, **{f"tessera_set_{n}": diff[n] for n in names}} for row, diff in rows])
            for row, diff in rows:
                entries = [_history_row(obj, row.id, name, row._mapping[name], value, row.version + 1, now, actor) for name, value in diff.items()]
                history += entries
                announced.append((row.id, {h["field"]: (h["old_value"], h["new_value"]) for h in entries}))
        if history:
            conn.execute(field_history.insert(), history)
        if not announced or not self.runtime.webhooks.subscribers(conn, obj.name, "updated"):
            return
        fetched: dict[int, dict] = {}

        def record(record_id: int) -> list[dict]:
            if not fetched:
                fetched.update((r["id"], r) for r in self._fetch_many(conn, schema, obj.name, [rid for rid, _c in announced]))
            return [fetched[record_id]]

        for record_id, changes in announced:
            self.runtime.webhooks.enqueue(conn, obj.name, "updated", lambda record_id=record_id: record(record_id), changes)

    def _current(self, conn: Connection, schema: Schema, access: Access, actor: Actor | None, table: sa.Table,
                 object_name: str, record_id: int, operation: str) -> sa.Row:
        """The stored row the actor is about to change: NotFound unless they may read it, Forbidden unless they may change it."""
        statement = select(table).where(table.c.id == record_id, table.c.deleted_at.is_(None))
        visible = schema.row_condition(access, object_name, "read")
        params = _params(actor)
        current = conn.execute(statement if visible is None else statement.where(visible), params).first()
        if current is None:
            raise NotFound(sentence("record_missing", object=object_name, id=record_id))
        allowed = schema.row_condition(access, object_name, operation)
        if allowed is not None and conn.execute(select(table.c.id).where(table.c.id == record_id, allowed), params).first() is None:
            raise Forbidden(sentence("may_not_this", operation=operation_word(operation), object=object_name), object_name, operation, record_id)
        return current

    def _conflict(self, conn: Connection, schema: Schema, object_name: str, record_id: int, expected: int, current: int | None,
                  access: Access, actor: Actor) -> Conflict:
        """The stale update's refusal, with what changed since ``expected`` (real changes the actor may see)."""
        changes = _changes(conn, schema, access, actor, object_name, record_id, field_history.c.record_version > expected)
        return Conflict(
            sentence("stale_version", object=object_name, id=record_id, expected=expected, current=current),
            current or 0,
            changes,
        )

    def _write_links(self, conn: Connection, schema: Schema, fdef: FieldDef, record_id: int, links: list[dict], replace: bool = False) -> None:
        """Links arrive parsed by the validator: [{"id": 12, "role": "buyer"}, ...]."""
        junction = schema.tables.objects[fdef.object].junctions[fdef.name]
        if replace:
            conn.execute(junction.delete().where(junction.c.source_id == record_id))
        rows = [{"source_id": record_id, "target_id": link["id"], **{t.name: link.get(t.name) for t in fdef.through}} for link in links]
        if rows:
            conn.execute(junction.insert(), rows)
