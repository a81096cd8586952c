"""Merging duplicate records: the survivor keeps its id, takes the values chosen from the others,
and inherits everything that pointed at them.

``merge`` reads the records as the actor, works out the survivor's new values from the
choices (``{field: id of the record whose value to take}``; a field not named keeps the
survivor's value) and hands them to ``RecordService.merge``, which does the rest in one
transaction: permissions (update on the survivor, delete on each merged record), the
survivor's update with its validation and history, the references moved, the merged
records soft-deleted. A choice may name only a field the actor may see and change; a
hidden field is answered exactly like a field that does not exist.

The references of other records move whether or not the actor could edit those records:
they pointed at a duplicate, and the right to merge (update on the survivor, delete on
the duplicates) is what is checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.fieldtypes import as_record_id
from core.metadata.model import FieldDef, ObjectDef
from core.permissions import Access
from core.records import Actor, NotFound, RecordError
from core.runtime import Runtime
from core.sameness import comparable
from core.words import Sentence, code_and_params, hint, labelled, listed, say, sentence

MAX_MERGED = 9  # with the survivor, ten records at most in one merge
CHOOSABLE_SYSTEM_FIELDS = ("owner",)


class MergeError(RecordError):
    """The merge asked for cannot be done as asked: ``errors`` names each place ({"field": ..., "message": ...})."""

    status = 422

    def __init__(self, message: str, errors: list[dict], said: list[Sentence] | None = None) -> None:
        super().__init__(message)
        self.errors = errors
        self.said = said or []  # each error's Sentence, in the order of ``errors``

    def worded(self, lang: str) -> list[dict]:
        """The errors in ``lang``, each with its code and params."""
        return [{"field": e["field"], "message": say(said, lang), **code_and_params(said, lang)} for e, said in zip(self.errors, self.said)]

    def sentence(self, lang: str) -> str:
        return listed((labelled(e["field"], e["message"], lang) for e in self.worded(lang)), lang)


def _refused_merge(problems: list[tuple[str, Sentence]]) -> MergeError:
    errors = [{"field": place, "message": str(said)} for place, said in problems]
    return MergeError("; ".join(f"{e['field']}: {e['message']}" for e in errors), errors, [said for _place, said in problems])


def _refuse(place: str, code: str, **params: Any) -> MergeError:
    return _refused_merge([(place, sentence(code, **params))])


@dataclass
class Merged:
    record: dict  # the survivor after the merge, as the actor sees it
    merged_ids: list[int]
    moved: dict[str, int] = field(default_factory=dict)  # "object.field" (or "shares") -> how many records moved


def merge(runtime: Runtime, actor: Actor, object_name: str, survivor: Any, merged: Any, values: Mapping[str, Any] | None = None,
          versions: Mapping[Any, Any] | None = None) -> Merged:
    """Merge ``merged`` (record ids) into ``survivor``; ``values``: field -> the id of the record whose value the survivor takes.

    ``versions`` (record id -> version), when given, are the versions the caller read: a record
    changed since is a Conflict and nothing is merged.
    """
    survivor_id, merged_ids = merge_ids(survivor, merged)
    obj, fields = choosable_fields(runtime, actor, object_name)
    picks = _picks(obj, fields, values or {}, [survivor_id, *merged_ids])
    given = _versions_given(versions, [survivor_id, *merged_ids])
    records = read_records(runtime, actor, object_name, [survivor_id, *merged_ids])
    expected = {rid: given.get(rid, records[rid]["version"]) for rid in records}
    changes = {}
    for name, source in picks.items():
        if source != survivor_id:
            changes[name] = input_value(fields[name], records[source].get(name))
    record, moved = runtime.records.merge(actor, object_name, survivor_id, merged_ids, changes, expected)
    return Merged(record, merged_ids, moved)


def merge_ids(survivor: Any, merged: Any) -> tuple[int, list[int]]:
    """The survivor's id and the merged ids (each once), or a MergeError naming what is wrong."""
    survivor_id = _id("survivor", survivor)
    if not isinstance(merged, list) or not merged:
        raise _refuse("merged", "merge_list_needed")
    merged_ids = list(dict.fromkeys(_id("merged", value) for value in merged))
    if survivor_id in merged_ids:
        raise _refuse("merged", "merge_into_itself", id=survivor_id)
    if len(merged_ids) > MAX_MERGED:
        raise _refuse("merged", "merge_too_many", limit=MAX_MERGED)
    return survivor_id, merged_ids


def choosable_fields(runtime: Runtime, actor: Actor, object_name: str) -> tuple[ObjectDef, dict[str, FieldDef]]:
    """The object and the fields whose value a merge may take from another record: stored fields the actor
    may see and change, and the owner.

    Many-to-many links are not chosen: those of every merged record are kept. UnknownObject for an
    unknown object; a MergeError for the objects records cannot be merged on (users, roles, teams).
    """
    with runtime.reading() as (_conn, schema):
        obj, access = schema.meta.object(object_name), schema.access(actor)
        system = schema.system_fields(object_name)
    if obj.spec.get("system"):
        raise _refuse("merged", "merge_not_for", object=object_name)
    chosen = {f.name: f for f in obj.active_fields() if _choosable(f, access)}
    chosen.update({name: system[name] for name in CHOOSABLE_SYSTEM_FIELDS if access.writable(object_name, name)})
    return obj, chosen


def _choosable(fdef: FieldDef, access: Access) -> bool:
    return (fdef.has_column and fdef.type.name != "autonumber" and not fdef.spec.get("read_only") and not fdef.computed
            and access.writable(fdef.object, fdef.name))


def differing(fields: Mapping[str, FieldDef], records: list[dict]) -> list[FieldDef]:
    """The fields whose values are not the same on every record (what a person has to choose)."""
    return [fdef for name, fdef in fields.items() if len({comparable(fdef, r.get(name)) for r in records}) > 1]


def read_records(runtime: Runtime, actor: Actor, object_name: str, ids: list[int]) -> dict[int, dict]:
    """The records as the actor sees them, by id; NotFound names the first one missing."""
    found = runtime.records.list(actor, object_name, [("id__in", ",".join(map(str, ids))), ("limit", str(len(ids)))]).items
    by_id = {r["id"]: r for r in found}
    for rid in ids:
        if rid not in by_id:
            raise NotFound(f"{object_name} {rid} does not exist")
    return by_id


def input_value(fdef: FieldDef, value: Any) -> Any:
    """A value as a record shows it, as an update takes it (a lookup by its id)."""
    if isinstance(value, dict) and fdef.type.name in ("lookup", "dynamic_lookup"):
        return value.get("id")
    return value


def _picks(obj: ObjectDef, fields: Mapping[str, FieldDef], values: Mapping[str, Any], ids: list[int]) -> dict[str, int]:
    if not isinstance(values, Mapping):
        raise _refuse("values", "merge_values_shape")
    picks, errors = {}, []
    for name, source in values.items():
        if name not in fields:
            errors.append((name, sentence("merge_unknown_field", object=obj.name, hint=hint(name, fields))))
            continue
        try:
            picks[name] = _id(name, source)
        except MergeError as exc:
            errors += [(e["field"], said) for e, said in zip(exc.errors, exc.said)]
            continue
        if picks[name] not in ids:
            errors.append((name, sentence("merge_not_among", id=source)))
    _pair_dynamic_lookups(obj, fields, picks, errors)
    if errors:
        raise _refused_merge(errors)
    return picks


def _pair_dynamic_lookups(obj: ObjectDef, fields: Mapping[str, FieldDef], picks: dict[str, int], errors: list[tuple]) -> None:
    """A 'related to' is a pair (the object, the id): both halves come from the same record."""
    for fdef in fields.values():
        if fdef.type.name != "dynamic_lookup" or fdef.spec["object_field"] not in fields:
            continue
        halves = [n for n in (fdef.name, fdef.spec["object_field"]) if n in picks]
        sources = {picks[n] for n in halves}
        if len(sources) > 1:
            errors.append((fdef.name, sentence("merge_pair", field=fdef.name, kind=fdef.spec["object_field"])))
        elif sources:
            source = sources.pop()
            picks[fdef.name] = picks[fdef.spec["object_field"]] = source


def _id(place: str, value: Any) -> int:
    number = as_record_id(value)
    if number is None:
        raise _refuse(place, "merge_not_an_id", value=value)
    return number


def _versions_given(versions: Any, ids: list[int]) -> dict[int, int]:
    """The versions the caller read, by record id: each key one of the records being merged, each value a version."""
    if versions is None:
        return {}
    if not isinstance(versions, Mapping):
        raise _refuse("versions", "merge_versions_shape")
    given = {}
    for key, version in versions.items():
        record_id = as_record_id(key)
        if record_id not in ids:
            raise _refuse("versions", "merge_version_not_among", key=key, ids=", ".join(map(str, ids)))
        number = as_record_id(version)
        if number is None:
            raise _refuse("versions", "merge_not_a_version", value=version, id=record_id)
        given[record_id] = number
    return given