"""The customization layer kept in the database, and the metadata version counter.

Customizations are stored as JSON documents (custom objects, extensions of objects
defined elsewhere, layouts, permission sets, e-mail templates, workflow rules, approval processes). Every process compares the version
counter with the one its caches were built from and rebuilds when it is newer.
"""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import Connection, select, update

from core.coretables import meta_document, meta_state
from core.db import PreparedRead
from core.metadata.model import CUSTOM_LAYER, NAMED_KINDS, Doc, layout_key
from core.metadata.problems import MetadataError, Problem, pointer
from core.words import sentence

STORE_SOURCE = "database"


@dataclass
class CustomConfig:
    """The customization layer: what an export writes and an import merges into."""

    objects: dict[str, dict] = field(default_factory=dict)
    extensions: dict[str, dict] = field(default_factory=dict)
    layouts: dict[str, dict] = field(default_factory=dict)
    permission_sets: dict[str, dict] = field(default_factory=dict)
    email_templates: dict[str, dict] = field(default_factory=dict)
    automations: dict[str, dict] = field(default_factory=dict)
    approval_processes: dict[str, dict] = field(default_factory=dict)
    reports: dict[str, dict] = field(default_factory=dict)
    dashboards: dict[str, dict] = field(default_factory=dict)
    # Where documents touched by a changeset came from, so problems point into that file.
    origins: dict[tuple[str, str], tuple[str, str, dict]] = field(default_factory=dict)
    rule_origins: dict[tuple[str, str], dict] = field(default_factory=dict)  # (kind, name) -> {rule name: its pointer}

    def documents(self) -> list[Doc]:
        docs = []
        for kind, attr in KIND_TO_ATTR.items():
            for name, body in getattr(self, attr).items():
                source, at, field_at = self.origins.get((kind, name), (STORE_SOURCE, pointer(attr, name), None))
                docs.append(Doc(kind, body, source, CUSTOM_LAYER, at, field_at, self.rule_origins.get((kind, name))))
        return docs

    def as_changeset(self) -> dict:
        return {"format": "tessera-changeset/1", **{attr: list(getattr(self, attr).values()) for attr in KIND_TO_ATTR.values()}}

    def copy(self) -> "CustomConfig":
        return copy.deepcopy(self)

    def fields_holder(self, object_name: str) -> dict | None:
        """The stored document holding custom fields of an object, if any."""
        return self.objects.get(object_name) or self.extensions.get(object_name)


KIND_TO_ATTR = {"object": "objects", "extension": "extensions", "layout": "layouts", "permission_set": "permission_sets",
                **{kind: named.section for kind, named in NAMED_KINDS.items()}}


VERSION_QUERY = PreparedRead(select(meta_state.c.version).where(meta_state.c.id == 1))  # run by every unit of work


def current_version(conn: Connection) -> int:
    row = VERSION_QUERY.first(conn)
    return (row.version or 0) if row is not None else 0


def bump_version(conn: Connection) -> int:
    now = dt.datetime.now(dt.timezone.utc)
    result = conn.execute(
        update(meta_state).where(meta_state.c.id == 1).values(version=meta_state.c.version + 1, changed_at=now)
    )
    if result.rowcount == 0:
        conn.execute(meta_state.insert().values(id=1, version=1, changed_at=now))
    return current_version(conn)


def load_config(conn: Connection) -> CustomConfig:
    config = CustomConfig()
    rows = conn.execute(select(meta_document.c.kind, meta_document.c.name, meta_document.c.document).order_by(meta_document.c.id))
    for kind, name, document in rows:
        getattr(config, KIND_TO_ATTR[kind])[name] = document
    return config


def save_config(conn: Connection, old: CustomConfig, new: CustomConfig, who: str) -> bool:
    """Write the documents that differ; return whether anything changed."""
    now = dt.datetime.now(dt.timezone.utc)
    changed = False
    for kind, attr in KIND_TO_ATTR.items():
        before, after = getattr(old, attr), getattr(new, attr)
        for name, body in after.items():
            if name not in before:
                conn.execute(meta_document.insert().values(kind=kind, name=name, document=body, updated_at=now, updated_by=who))
                changed = True
            elif before[name] != body:
                conn.execute(
                    update(meta_document)
                    .where(meta_document.c.kind == kind, meta_document.c.name == name)
                    .values(document=body, updated_at=now, updated_by=who)
                )
                changed = True
        for name in set(before) - set(after):
            conn.execute(meta_document.delete().where(meta_document.c.kind == kind, meta_document.c.name == name))
            changed = True
    return changed


def merge_changeset(config: CustomConfig, docs: list[Doc], defined_elsewhere: dict[str, str]) -> CustomConfig:
    """Merge a changeset's documents into a copy of the customization layer.

    Objects and fields named in the changeset are created or replaced; nothing it does
    not name is removed. A field whose ``former_names`` include a stored field's name
    replaces (renames) that field. ``defined_elsewhere`` maps object names of the base
    and plugin layers to their source, so that a changeset cannot redefine them.
    """
    merged = config.copy()
    problems: list[Problem] = _duplicates(docs) + _duplicate_rules(docs)
    for doc in docs:
        body = copy.deepcopy(doc.body)
        body.pop("$schema", None)
        _remember_origin(merged, doc)
        if doc.kind == "object":
            name = body["name"]
            if name in defined_elsewhere:
                problems.append(
                    Problem(doc.source, doc.at + "/name",
                            f"object '{name}' is defined by {defined_elsewhere[name]}; add fields to it under 'extensions' instead")
                )
                continue
            stored = merged.objects.get(name)
            if stored is not None:
                body["fields"] = merge_fields(stored.get("fields", []), body.get("fields", []))
            merged.objects[name] = body
        elif doc.kind == "extension":
            name = body["object"]
            if name in merged.objects:  # extending a custom object: merge into it
                target = merged.objects[name]
                target["fields"] = merge_fields(target.get("fields", []), body.get("fields", []))
                for key in ("label", "plural_label", "indexes", "icon", "nav_order", "process_field"):
                    if key in body and body[key] is None:  # "nav_order": null takes the object out of the side bar's first part
                        target.pop(key, None)
                    elif key in body:
                        target[key] = body[key]
                if "validation_rules" in body:
                    target["validation_rules"] = merge_rules(target.get("validation_rules", []), body["validation_rules"])
                if "stage_gates" in body:
                    gates = {**target.get("stage_gates", {}), **body["stage_gates"]}
                    target["stage_gates"] = {value: gate for value, gate in gates.items() if gate is not None}
                    if not target["stage_gates"]:
                        del target["stage_gates"]
                continue
            stored = merged.extensions.get(name, {"object": name, "fields": []})
            body["fields"] = merge_fields(stored.get("fields", []), body.get("fields", []))
            if "stage_gates" in body:  # by value: a gate the changeset does not name stays (null is kept: it takes a plugin's gate away)
                body["stage_gates"] = {**stored.get("stage_gates", {}), **body["stage_gates"]}
            if "validation_rules" in body:  # by name: a rule the changeset does not name stays
                body["validation_rules"] = merge_rules(stored.get("validation_rules", []), body["validation_rules"])
            merged.extensions[name] = {**stored, **body}
        elif doc.kind == "layout":
            merged.layouts[layout_key(body)] = body
        elif doc.kind == "permission_set":
            merged.permission_sets[body["name"]] = body
        elif doc.kind in NAMED_KINDS:
            getattr(merged, KIND_TO_ATTR[doc.kind])[body["name"]] = body
    if problems:
        raise MetadataError(problems)
    return merged


def _remember_origin(config: CustomConfig, doc: Doc) -> None:
    name = layout_key(doc.body) if doc.kind == "layout" else doc.body.get("name", doc.body.get("object"))
    fields = doc.body.get("fields", []) if doc.kind in ("object", "extension") else []
    field_at = {f["name"]: doc.at + pointer("fields", i) for i, f in enumerate(fields)}
    kind = doc.kind
    if kind == "extension" and name in config.objects:
        kind = "object"  # merged into a custom object
        previous = config.origins.get((kind, name))
        field_at = {**(previous[2] if previous else {}), **field_at}
    config.origins[(kind, name)] = (doc.source, doc.at, field_at)
    rules = doc.body.get("validation_rules", []) if doc.kind in ("object", "extension") else []
    config.rule_origins[(kind, name)] = {**(config.rule_origins.get((kind, name), {}) if kind != doc.kind else {}),
                                         **{r["name"]: doc.at + pointer("validation_rules", i) for i, r in enumerate(rules)}}


def _duplicates(docs: list[Doc]) -> list[Problem]:
    """The same object, extension, layout, permission set or named document twice in one changeset."""
    seen: dict[tuple[str, str], Doc] = {}
    problems = []
    for doc in docs:
        key = {"extension": lambda b: b["object"], "layout": layout_key}.get(doc.kind, lambda b: b["name"])(doc.body)
        if (doc.kind, key) in seen:
            first = seen[(doc.kind, key)]
            problems.append(Problem(doc.source, doc.at, f"{doc.kind.replace('_', ' ')} '{key}' appears twice (first at {first.at})"))
        else:
            seen[(doc.kind, key)] = doc
    return problems


def _duplicate_rules(docs: list[Doc]) -> list[Problem]:
    """A validation rule named twice in one document (merging by name would keep only the last)."""
    problems = []
    for doc in docs:
        if doc.kind not in ("object", "extension"):
            continue
        seen: dict[str, str] = {}
        for i, rule in enumerate(doc.body.get("validation_rules", [])):
            where = doc.at + pointer("validation_rules", i)
            if rule["name"] in seen:
                problems.append(Problem(doc.source, where + "/name", sentence("vrule_twice", name=rule["name"],
                                                                             object=doc.body.get("name", doc.body.get("object")), first=seen[rule["name"]])))
            else:
                seen[rule["name"]] = where
    return problems


def merge_rules(stored: list[dict], incoming: list[dict]) -> list[dict]:
    """Validation rules by name: a whole rule replaces the stored one of its name (or joins the list); a change
    (``{"name": ..., "active": false}``) changes the stored one's keys, or is kept to change another layer's rule."""
    result = [copy.deepcopy(r) for r in stored]
    for new in incoming:
        position = next((i for i, r in enumerate(result) if r["name"] == new["name"]), None)
        if position is None:
            result.append(copy.deepcopy(new))
        elif "expression" in new:
            result[position] = copy.deepcopy(new)
        else:
            result[position] = {**result[position], **copy.deepcopy(new)}
    return result


def forget_rule(config: CustomConfig, object_name: str, name: str) -> bool:
    """Take the customization's rule (or its change of another layer's rule) of that name off; whether there was one."""
    holder = config.objects.get(object_name) or config.extensions.get(object_name)
    rules = (holder or {}).get("validation_rules", [])
    kept = [r for r in rules if r["name"] != name]
    if len(kept) == len(rules):
        return False
    if kept:
        holder["validation_rules"] = kept  # type: ignore[index]
    else:
        del holder["validation_rules"]  # type: ignore[union-attr]
    return True


def merge_fields(stored: list[dict], incoming: list[dict]) -> list[dict]:
    result = [copy.deepcopy(f) for f in stored]
    for new in incoming:
        new = copy.deepcopy(new)
        names = {new["name"], *new.get("former_names", [])}
        position = next((i for i, f in enumerate(result) if f["name"] in names), None)
        if position is None:
            result.append(new)
            continue
        old = result[position]
        former = list(dict.fromkeys(old.get("former_names", []) + new.get("former_names", [])))
        if old["name"] != new["name"] and old["name"] not in former:
            former.append(old["name"])
        if former:
            new["former_names"] = former
        result[position] = new
    return result
