"""The write pipeline: the one sequence of named steps every create and update passes through.

``create``, ``create_many``, imports, ``update``, mass updates and the survivor of a merge
all build a ``Write`` of one or more items and run ``STEPS`` over it. A step works on the
whole batch (one query per check, not per row) and does nothing where it does not apply
(an update has no autonumbers, a create no stored row). A problem with one item either
refuses the write (a single record, or a batch that is all-or-nothing) or, when the caller
collects problems by row (imports), takes that item out and lets the others go on.
"""

from __future__ import annotations

import datetime as dt
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping

import sqlalchemy as sa
from sqlalchemy import Connection, select

from core import field_conditions, formulas, search
from core.automations.before_save import run_before_save_rules
from core.approvals.service import refuse_locked
from core.coretables import field_history, sequence
from core.metadata.model import FieldDef, ObjectDef
from core.permissions import Access
from core.person_names import with_full_names
from core.plugins import PluginSet, RecordEvent, Refusal
from core.runtime import Schema
from core.sameness import same
from core.stage_gates import gate_errors
from core.validation_rules import check_rules
from core.validation import FieldError, RecordValidationError
from core.words import sentence
from core.records.actor import Actor
from core.records.checks import _holding_field
from core.records.errors import BatchValidationError, Forbidden, NotFound
from core.records.events import CREATED, UPDATED, RecordChanges, publish
from core.records.values import _field_def, _name_fields, _now, json_value, operation_word

if TYPE_CHECKING:
    from core.records.service import RecordService

CREATE, UPDATE = "create", "update"


@dataclass
class Item:
    """One record on its way through the pipeline."""

    position: int  # its index in what the caller gave
    given: Any  # what the caller gave: a create's values, an update's changes
    record_id: int | None = None
    expected: int | None = None  # the version the caller read (update); None: whatever is stored
    stored: sa.Row | None = None  # the row as it is before an update (locked for the transaction)
    values: dict = field(default_factory=dict)  # parsed: a create's whole row, an update's changes
    previous: dict | None = None  # the record as the API showed it before an update, for hooks
    links: dict[str, list[dict]] = field(default_factory=dict)  # many-to-many values, written after the row
    old_links: dict[str, list[dict]] = field(default_factory=dict)
    diff: dict = field(default_factory=dict)  # an update's columns that really change
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # field -> (old, new), as history records it

    @property
    def changing(self) -> bool:
        return bool(self.diff or self.links)


@dataclass
class Write:
    """A batch of creates or of updates of one object, as one actor, in one transaction."""

    service: RecordService
    conn: Connection
    schema: Schema
    actor: Actor
    access: Access
    obj: ObjectDef
    operation: str  # CREATE or UPDATE
    items: list[Item]
    trusted: bool = False  # plugin code writing as the system: read-only fields may be set
    rejected: dict[int, list[FieldError]] | None = None  # problems by position, when the caller takes them by row
    batch: bool = False  # problems are reported by row (BatchValidationError) rather than for the one record
    now: dt.datetime = field(default_factory=_now)
    held: dict[int, list[FieldError]] = field(default_factory=dict)  # problems kept to report together (see refuse)
    _records: dict[int, dict] | None = None

    @property
    def creating(self) -> bool:
        return self.operation == CREATE

    @property
    def table(self) -> sa.Table:
        return self.schema.tables.table(self.obj.name)

    def refuse(self, problems: Mapping[int, list[FieldError]], hold: bool = False) -> None:
        """Take out the items (by index in ``items``) with problems, or refuse the write when problems are not taken by
        row. ``hold``: in an all-or-nothing batch, keep them to report with the next step's (a batch's input problems
        and its hooks' refusals are reported together, by row)."""
        by_position = {self.items[i].position: errors for i, errors in sorted(problems.items())}
        if self.rejected is None and not (hold and self.batch):
            if not by_position and not self.held:
                return
            every = dict(sorted({**self.held, **by_position}.items()))
            if self.batch:
                raise BatchValidationError(self.obj.name, every)
            raise RecordValidationError(self.obj.name, next(iter(every.values())))
        for position, errors in by_position.items():
            (self.held if self.rejected is None else self.rejected).setdefault(position, []).extend(errors)
        self.items = [item for i, item in enumerate(self.items) if i not in problems]

    def check(self, run: Callable[[list[dict]], None], rows: list[dict] | None = None) -> None:
        """Run a batch check of core/records/checks.py (raising BatchValidationError by row index) over the items."""
        try:
            run([item.values for item in self.items] if rows is None else rows)
        except BatchValidationError as exc:
            self.refuse(exc.rows)

    def records(self) -> dict[int, dict]:
        """The written records as stored now, by id: read once, for after-hooks and subscribers."""
        if self._records is None:
            self._records = self.fetch([item.record_id for item in self.items])  # type: ignore[misc]
        return self._records

    def fetch(self, ids: list[int]) -> dict[int, dict]:
        """Records by id as stored (whoever may read them); one record takes the prepared read by id."""
        if len(ids) == 1:
            return {ids[0]: self.service._fetch(self.conn, self.schema, self.obj.name, ids[0])}
        return {record["id"]: record for record in self.service._fetch_many(self.conn, self.schema, self.obj.name, ids)}


def load_stored(w: Write) -> None:
    """Update: the rows as stored, locked; refused when the actor may not read them, or may read but not change them."""
    if w.creating:
        return
    stored, may = w.service._current_rows(w.conn, w.schema, w.access, w.actor, w.table, w.obj.name,
                                          [item.record_id for item in w.items])  # type: ignore[misc]
    problems = {}
    for i, item in enumerate(w.items):
        if item.record_id not in stored:
            if not w.batch:
                raise NotFound(sentence("record_missing", object=w.obj.name, id=item.record_id))
            problems[i] = [FieldError.coded("", "record_missing", object=w.obj.name, id=item.record_id)]
        elif item.record_id not in may:
            if not w.batch:
                raise Forbidden(sentence("may_not_this", operation=operation_word(UPDATE), object=w.obj.name), w.obj.name, UPDATE,
                                item.record_id)
            problems[i] = [FieldError.coded("", "may_not_update_this", object=w.obj.name)]
        else:
            item.stored = stored[item.record_id]
            if item.expected is not None and item.stored.version != item.expected:
                raise w.service._conflict(w.conn, w.schema, w.obj.name, item.record_id, item.expected, item.stored.version,
                                          w.access, w.actor)
    w.refuse(problems)


def leave_out_unchanged_read_only(w: Write) -> None:
    """Update: a form sending back a read-only field (or one the role may only read) unchanged is not trying to write it."""
    if w.creating or w.trusted:
        return
    locked = w.access.locked(w.obj.name)
    for item in w.items:
        if isinstance(item.given, dict):
            item.given = {name: value for name, value in item.given.items() if not _unchanged_read_only(w.obj, name, value, item.stored, locked)}


def _unchanged_read_only(obj: ObjectDef, name: str, value: Any, stored: sa.Row | None, locked: frozenset[str]) -> bool:
    fdef = obj.fields.get(name)
    return (fdef is not None and (fdef.spec.get("read_only") or name in locked) and fdef.has_column
            and stored is not None and same(fdef, stored._mapping[name], value))


def validate(w: Write) -> None:
    """Parse the values against the object's JSON Schema (core/validation.py); a create takes the fields' defaults."""
    name = w.obj.name
    validated, problems = w.schema.validator(name).validate_many(
        [item.given for item in w.items], partial=not w.creating, trusted=w.trusted,
        hidden=w.access.hidden(name), locked=w.access.locked(name))
    defaults = _defaults(w.obj) if w.creating else {}
    for item, values in zip(w.items, validated):
        if values is not None:
            item.values = {**defaults, **values} if defaults else values
    w.refuse(problems, hold=True)


def apply_default_expressions(w: Write) -> None:
    """Create: the fields not given take their ``default_expression`` computed on the values given (core/field_conditions.py)."""
    if not w.creating or not any("default_expression" in f.conditions for f in w.obj.active_fields()):
        return
    problems = {}
    for i, item in enumerate(w.items):
        found, errors = field_conditions.default_values(w.obj, item.values, item.given, _fetcher(w))
        item.values.update(found)
        if errors:
            problems[i] = errors
    w.refuse(problems, hold=True)


def check_field_conditions(w: Write) -> None:
    """Dependent picklists hold a value their controlling field allows; a field whose ``required_if`` holds has a value
    (core/field_conditions.py). An update is checked on the record as it will be stored, where it changes what is read."""
    obj = w.obj
    if not any(f.conditions.get("required_if") or f.spec.get("depends_on") for f in obj.active_fields()):
        return
    problems = {}
    for i, item in enumerate(w.items):
        if w.creating:
            record, changed = item.values, None
        else:
            record, changed = {**item.stored._mapping, **item.values}, set(item.values)  # type: ignore[union-attr]
        errors = field_conditions.record_problems(obj, record, changed, _fetcher(w))
        if errors:
            problems[i] = errors
    w.refuse(problems)


def _fetcher(w: Write) -> Callable[[str, int], dict | None]:
    """How an expression in the write reads a record a lookup points to (None: there is none)."""
    def fetch(object_name: str, record_id: int) -> dict | None:
        try:
            return w.service._fetch(w.conn, w.schema, object_name, record_id)
        except NotFound:
            return None
    return fetch


def check_stage_gates(w: Write) -> None:
    """The object's stage gates (core/stage_gates.py): where a record may come from, what it needs, who may move it."""
    if not w.obj.stage_gates:
        return
    w.refuse({i: errors for i, item in enumerate(w.items)
              if (errors := gate_errors(w.obj, None if item.stored is None else item.stored._mapping, item.values, w.actor, w.trusted))},
             hold=True)


def run_before_hooks(w: Write) -> None:
    """The plugins' before-hooks and validators; what they set is checked like input."""
    plugins = w.service.runtime.plugins
    hook_name = "tessera_before_create" if w.creating else "tessera_before_update"
    if not (plugins.caller(hook_name, w.obj.name) or plugins.caller("tessera_validate_record", w.obj.name)):
        w.refuse({})  # what validation held
        return
    if not w.creating:
        previous = w.fetch([item.record_id for item in w.items])  # type: ignore[misc]
        for item in w.items:
            item.previous = previous.get(item.record_id)  # type: ignore[arg-type]
    problems = {}
    for i, item in enumerate(w.items):
        try:
            item.values = w.service._run_before(w.conn, w.schema, w.actor, w.obj, hook_name, item.values, item.previous, w.now)
        except RecordValidationError as exc:
            problems[i] = exc.errors
    w.refuse(problems)


def check_references(w: Write) -> None:
    """Lookups point at live records the actor may read (a value an update keeps need only exist)."""
    if w.creating:
        w.check(lambda rows: w.service._check_references(w.conn, w.schema, w.obj, rows, rows_are_batch=True, access=w.access, actor=w.actor))
        return
    held = _held(w)
    rows = [_with_stored_pairs(w.obj, item.values, item.stored._mapping) for item in w.items]  # type: ignore[union-attr]
    w.check(lambda rows: w.service._check_references(w.conn, w.schema, w.obj, rows, rows_are_batch=True, access=w.access, actor=w.actor,
                                                     stored=held), rows)


def _held(w: Write) -> list[Mapping]:
    """Per item, what it holds now: the stored row, and the linked ids of each many-to-many field it changes."""
    held = [dict(item.stored._mapping) for item in w.items]  # type: ignore[union-attr]
    for fdef in _many_to_many(w.obj):
        changing = [i for i, item in enumerate(w.items) if fdef.name in item.values]
        if changing:
            links = w.service._links(w.conn, w.schema, fdef, [w.items[i].record_id for i in changing])  # type: ignore[misc]
            for i in changing:
                held[i][fdef.name] = {link["id"] for link in links[w.items[i].record_id]}  # type: ignore[index]
    return held


def stamp(w: Write) -> None:
    """Create: the system fields, and the actor as owner unless one is given."""
    if not w.creating:
        return
    user = w.actor.user_id
    system = {"version": 1, "created_at": w.now, "updated_at": w.now, "created_by": user, "updated_by": user}
    for item in w.items:
        item.values.update(system)
        if item.values.get("owner") is None:
            item.values["owner"] = user


def check_owners(w: Write) -> None:
    """A role with own or team scope gives records only to the actor, or to a teammate."""
    if w.creating:
        w.check(lambda rows: w.service._check_owners(w.conn, w.schema, w.access, w.actor, w.obj.name, CREATE, rows, rows_are_batch=True))
        return
    moving = [i for i, item in enumerate(w.items) if "owner" in item.values and item.values["owner"] != item.stored.owner]  # type: ignore[union-attr]
    if not moving:
        return
    try:
        w.service._check_owners(w.conn, w.schema, w.access, w.actor, w.obj.name, UPDATE, [w.items[i].values for i in moving],
                                rows_are_batch=True)
    except BatchValidationError as exc:
        w.refuse({moving[i]: errors for i, errors in exc.rows.items()})


def check_grants(w: Write) -> None:
    """Giving or taking a privileged permission set (through a role or a user) needs that privilege (core/grants.py)."""
    stored = None if w.creating else [item.stored._mapping for item in w.items]  # type: ignore[union-attr]
    rows = [item.values for item in w.items]
    if not w.batch:  # a single record is refused as forbidden, not as invalid
        w.service._refuse_privileged_grants(w.conn, w.schema, w.access, w.obj.name, rows, stored)
        return
    w.check(lambda rows: w.service._refuse_privileged_grants(w.conn, w.schema, w.access, w.obj.name, rows, stored, rows_are_batch=True))


def set_aside_links(w: Write) -> None:
    """Many-to-many values are written to junction tables after the row; an update keeps only the links that change."""
    fields = _many_to_many(w.obj)
    for item in w.items:
        for fdef in fields:
            if fdef.name in item.values:
                item.links[fdef.name] = item.values.pop(fdef.name) or []
    if w.creating:
        return
    for fdef in fields:
        changing = [item for item in w.items if fdef.name in item.links]
        if not changing:
            continue
        held = w.service._links(w.conn, w.schema, fdef, [item.record_id for item in changing])  # type: ignore[misc]
        for item in changing:
            kept = _keeping_relation_values(fdef, item.links[fdef.name], held[item.record_id])  # type: ignore[index]
            old = [_link_value(fdef, link) for link in held[item.record_id]]  # type: ignore[index]
            if same(fdef, old, [_link_value(fdef, link) for link in kept]):
                del item.links[fdef.name]
            else:
                item.links[fdef.name], item.old_links[fdef.name] = kept, old


def find_changes(w: Write) -> None:
    """Full names from their parts; an update's values that differ from the stored ones (core/sameness.py)."""
    named = _name_fields(w.schema, w.obj)
    for item in w.items:
        if w.creating:
            with_full_names(named, None, item.values)
        else:
            stored = item.stored._mapping  # type: ignore[union-attr]
            item.diff = _changed(w.schema, w.obj, stored, with_full_names(named, stored, item.values))


def check_unique(w: Write) -> None:
    """Unique fields: no repeats within the batch, none already taken (an update checks only the values it changes)."""
    if w.creating:
        w.check(lambda rows: w.service._check_unique(w.conn, w.schema, w.obj, rows, None, rows_are_batch=True))
        return
    diffs = [item.diff for item in w.items]
    record_id = w.items[0].record_id if len(w.items) == 1 else None  # a changed value is never the record's own
    w.check(lambda rows: w.service._check_unique(w.conn, w.schema, w.obj, rows, record_id, rows_are_batch=True), diffs)


def assign_autonumbers(w: Write) -> None:
    if w.creating and w.items:
        w.service._assign_autonumbers(w.conn, w.obj, [item.values for item in w.items])


def store(w: Write) -> None:
    """Create: insert the rows (one statement per batch). Update: one UPDATE per set of changed fields, at the stored versions."""
    if w.creating:
        ids = w.service._insert_rows(w.conn, w.table, [item.values for item in w.items], w.schema)
        for item, record_id in zip(w.items, ids):
            item.record_id = record_id
        return
    w.items = [item for item in w.items if item.changing]
    holding = next((h for item in w.items if (h := _holding_field(w.obj.name, item.diff))), None)
    with w.service._grants_kept(w.conn, w.schema, w.access, w.obj.name, UPDATE, holding) if holding else nullcontext():
        groups: dict[tuple[str, ...], list[Item]] = {}
        for item in w.items:  # links alone changing still make a new version
            groups.setdefault(tuple(item.diff), []).append(item)
        for names, items in groups.items():
            _update_rows(w, names, items)


def _update_rows(w: Write, names: tuple[str, ...], items: list[Item]) -> None:
    table = w.table
    statement = (sa.update(table).where(table.c.id == sa.bindparam("tessera_row_id"), table.c.version == sa.bindparam("tessera_version"))
                 .values({**{n: sa.bindparam(f"tessera_set_{n}") for n in names}, "version": table.c.version + 1,
                          "updated_at": sa.bindparam("tessera_now"), "updated_by": sa.bindparam("tessera_by")}))
    common = {"tessera_now": w.now, "tessera_by": w.actor.user_id}
    rows = [{"tessera_row_id": item.record_id, "tessera_version": item.stored.version, **common,  # type: ignore[union-attr]
             **{f"tessera_set_{n}": item.diff[n] for n in names}} for item in items]
    result = w.conn.execute(statement, rows[0] if len(rows) == 1 else rows)
    if len(rows) == 1 and result.rowcount != 1:  # the rows are locked: only a write in this transaction could get here first
        item = items[0]
        latest = w.conn.execute(select(table.c.version).where(table.c.id == item.record_id)).scalar()
        raise w.service._conflict(w.conn, w.schema, w.obj.name, item.record_id, item.stored.version, latest, w.access, w.actor)  # type: ignore[union-attr,arg-type]


def write_links(w: Write) -> None:
    for item in w.items:
        for name, links in item.links.items():
            if links or not w.creating:
                w.service._write_links(w.conn, w.schema, w.obj.fields[name], item.record_id, links, replace=not w.creating)  # type: ignore[arg-type]


def index_for_search(w: Write) -> None:
    ids = [item.record_id for item in w.items if w.creating or search.indexes_any(w.obj, item.diff)]
    if ids:
        search.touch(w.conn, w.obj.name, ids)  # type: ignore[arg-type]


def write_history(w: Write) -> None:
    """Update: one history entry per changed field (many-to-many fields as their links)."""
    if w.creating:
        return
    history = []
    for item in w.items:
        version = item.stored.version + 1  # type: ignore[union-attr]
        entries = [_history_row(w.obj, item.record_id, name, item.stored._mapping[name], value, version, w.now, w.actor)  # type: ignore[union-attr,arg-type]
                   for name, value in item.diff.items()]
        for name, links in item.links.items():
            new = [_link_value(w.obj.fields[name], link) for link in links]
            entries.append(dict(object=w.obj.name, record_id=item.record_id, field=name, old_value=item.old_links[name], new_value=new,
                                record_version=version, changed_at=w.now, changed_by=w.actor.user_id, changed_by_name=w.actor.name))
        item.changes = {entry["field"]: (entry["old_value"], entry["new_value"]) for entry in entries}
        history += entries
    if history:
        w.conn.execute(field_history.insert(), history)


def run_after_hooks(w: Write) -> None:
    plugins = w.service.runtime.plugins
    after = plugins.caller("tessera_after_create" if w.creating else "tessera_after_update", w.obj.name)
    if not after or not w.items:
        return
    from core.records.transaction import TransactionRecords  # noqa: PLC0415 - it reads and writes through the service

    records, inside = w.records(), TransactionRecords(w.service, w.conn, w.schema, w.actor)
    for item in w.items:
        record = records[item.record_id]  # type: ignore[index]
        values = record if w.creating else _as_json(w.obj, dict(item.diff))
        event = RecordEvent(w.obj.name, w.actor, inside, meta=w.schema.meta, hooks=plugins.hook, values=values, record=record,
                            changes=None if w.creating else item.changes)
        _run_after(plugins, after, event)


def compute_stored_formulas(w: Write) -> None:
    """The object's stored formulas, computed in the database from the rows just stored (core/formulas.py)."""
    formulas.store(w.conn, w.schema, w.obj.name, [item.record_id for item in w.items])  # type: ignore[misc]


def publish_changes(w: Write) -> None:
    """Tell the subscribers (webhooks, rules) what was written, inside this transaction."""
    ids = [item.record_id for item in w.items]
    changes = None if w.creating else {item.record_id: item.changes for item in w.items}
    publish(w.service.runtime.record_subscribers, w.conn,
            RecordChanges(w.obj.name, CREATED if w.creating else UPDATED, w.actor, ids,  # type: ignore[arg-type]
                          lambda: [w.records()[i] for i in ids if i in w.records()], changes, lambda: _raw_rows(w),  # type: ignore[arg-type]
                          schema=w.schema))


def _raw_rows(w: Write) -> dict[int, Mapping[str, Any]]:
    """The written rows' columns as now stored, from what the write holds (no read)."""
    if w.creating:
        return {item.record_id: {**item.values, "id": item.record_id} for item in w.items}  # type: ignore[misc]
    return {item.record_id: {**item.stored._mapping, **item.diff} for item in w.items}  # type: ignore[union-attr,misc]


STEPS: tuple[tuple[str, Callable[[Write], None]], ...] = (
    ("load the stored rows", load_stored),
    ("refuse records awaiting approval", refuse_locked),
    ("leave out unchanged read-only fields", leave_out_unchanged_read_only),
    ("validate", validate),
    ("apply default expressions", apply_default_expressions),
    ("run before-save rules", run_before_save_rules),
    ("check validation rules", check_rules),
    ("check stage gates", check_stage_gates),
    ("run before-hooks and plugin validators", run_before_hooks),
    ("check dependent picklists and conditional requirements", check_field_conditions),
    ("check references", check_references),
    ("stamp the system fields", stamp),
    ("check owners", check_owners),
    ("check privileged grants", check_grants),
    ("set aside many-to-many links", set_aside_links),
    ("find the changes", find_changes),
    ("check unique values", check_unique),
    ("assign autonumbers", assign_autonumbers),
    ("store", store),
    ("compute stored formulas", compute_stored_formulas),
    ("write links", write_links),
    ("index for search", index_for_search),
    ("write history", write_history),
    ("run after-hooks", run_after_hooks),
    ("publish the changes", publish_changes),
)


def run(w: Write) -> Write:
    """Run every step over the write; stops early when no item is left."""
    for _name, step in STEPS:
        if not w.items:
            break
        step(w)
    w.refuse({})  # every row was refused before the step that reports what was held
    if w.rejected:  # by row, whichever step found each problem
        ordered = sorted(w.rejected.items())
        w.rejected.clear()
        w.rejected.update(ordered)
    return w


def _many_to_many(obj: ObjectDef) -> list:
    return [f for f in obj.active_fields() if f.type.name == "many_to_many"]



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
        elif fdef.rollup and fdef.spec["rollup"]["aggregate"] in ("count", "sum"):
            defaults[fdef.name] = 0  # a new parent has no children yet
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
