"""Changing the configuration at run time: objects, fields, picklist values, layouts, changesets.

Every change is expressed as a changeset (checked against the meta-schemas like a file
would be) or as one of the field transforms of customize.py, then applied by
``Runtime.change_metadata``: the stored documents, the schema sync and the metadata
version bump commit together, and every process sees the change at its next request.

Custom objects and fields may be changed in every way; objects and fields defined by
the base or a plugin accept what a customization may override (labels, help, picklist
values, default, required, searchable, indexed), since code relies on the rest.

Permission sets, with the roles that name them, are core/roles.py's; a changeset may still
carry them, under the same rules (core/grants.py, checked by ``Runtime.change_metadata``).
"""

from __future__ import annotations

import copy
from typing import Any

from sqlalchemy import Connection

from core import audit
from core.audit import Who
from core.db import write_transaction
from core.metadata.customize import set_removed
from core.metadata.model import CUSTOM_LAYER, NAMED_KINDS, OVERRIDABLE_KEYS, ObjectDef, layout_key
from core.metadata.problems import MetadataError, Problem
from core.metadata.store import CustomConfig, forget_rule
from core.permissions import Access
from core.runtime import Runtime
from core.schema_sync import Change
from core.words import Sentence, hint, sentence

FORMAT = "tessera-changeset/1"
EXAMPLES = {  # the shape of each named kind, for who sent something else
    "email_template": '{"object": "account", "subject": {"en": ..., "zh-CN": ...}, "body": {"en": ..., "zh-CN": ...}}',
    "automation": '{"object": "opportunity", "label": {"en": ...}, "trigger": {"on": "created"}, "actions": [...]}',
    "approval_process": '{"object": "quote", "label": {"en": ...}, "steps": [{"name": ..., "approvers": ["role:sales_manager"]}]}',
    "report": '{"object": "opportunity", "kind": "summary", "group_by": [{"field": "stage"}], "measures": [{"aggregate": "sum", "field": "amount"}]}',
    "dashboard": '{"label": {"en": ...}, "tiles": [{"report": "pipeline", "width": 6}], "filters": {"period": "this_quarter", "owner": true}}',
    "validation_rule": '{"expression": "OR(ISBLANK(amount), amount >= 0)", "field": "amount", "message": {"en": ..., "zh-CN": ...}}',
}


def _refuse(source: str, message: str | Sentence, pointer: str = "") -> MetadataError:
    return MetadataError([Problem(source, pointer, message)])


class MetadataService:
    """Configuration changes made by someone with ``access`` (their role's; TRUSTED for the command line):
    the rules on privileged permission sets (core/grants.py) apply to every change."""

    def __init__(self, runtime: Runtime, access: Access) -> None:
        self.runtime, self.access = runtime, access

    # --- reading ----------------------------------------------------------------------------

    def objects(self, access: Access) -> list[dict]:
        meta = self.runtime.current_metadata()
        return [self._summary(obj) for obj in sorted(meta.objects.values(), key=lambda o: o.name)
                if access.may_customize or access.can(obj.name, "read")]

    def object(self, name: str, access: Access) -> dict:
        meta = self.runtime.current_metadata()
        obj = meta.object(name)
        if not (access.may_customize or access.can(name, "read")):
            raise LookupError(f"there is no object '{name}' you may read")
        fields = [self._field(obj, f.name, access) for f in obj.fields.values()
                  if (access.may_customize or access.visible(name, f.name)) and (access.may_customize or not f.removed)]
        layouts = [v for v in meta.layouts.values() if v["object"] == name]
        return {**self._summary(obj), "title_field": obj.title_field, "fields": fields, "layouts": layouts,
                "process_field": obj.process_field, "stage_gates": obj.stage_gates, "validation_rules": self.validation_rules(obj),
                "permissions": {op: access.scope(name, op) for op in ("read", "create", "update", "delete")}}

    @staticmethod
    def validation_rules(obj: ObjectDef) -> list[dict]:
        """The object's validation rules, each with who defines it (``defined_by``) and whether the customization
        layer defines or changes it (``custom``: removing it there brings back what another layer says, or nothing)."""
        return [{**rule, "active": rule.get("active", True), "defined_by": _layer(obj.rule_layers.get(rule["name"], obj.layer)),
                 "custom": rule["name"] in obj.rules_customized} for rule in obj.validation_rules]

    def _summary(self, obj: ObjectDef) -> dict:
        return {"name": obj.name, "label": obj.spec.get("label"), "plural_label": obj.spec.get("plural_label"),
                "description": obj.spec.get("description"), "custom": obj.custom, "defined_by": _layer(obj.layer),
                "field_count": len(obj.active_fields())}

    def _field(self, obj: ObjectDef, name: str, access: Access) -> dict:
        fdef = obj.fields[name]
        spec = {k: v for k, v in fdef.spec.items() if k != "former_names"}
        return {**spec, "custom": fdef.custom, "removed": fdef.removed, "access": access.field_access(obj.name, name)}

    def field(self, object_name: str, field_name: str, access: Access) -> dict:
        obj = self.runtime.current_metadata().object(object_name)
        fdef = obj.fields.get(field_name)
        if fdef is None or not (access.may_customize or access.visible(object_name, field_name)):
            raise LookupError(f"'{field_name}' is not a field of {object_name}")
        return self._field(obj, field_name, access)

    def layouts(self, object_name: str | None = None) -> list[dict]:
        meta = self.runtime.current_metadata()
        return [v for v in meta.layouts.values() if object_name is None or v["object"] == object_name]

    # --- changing -----------------------------------------------------------------------------

    def apply(self, changeset: dict, who: Who, source: str, dry_run: bool = False, conn: Connection | None = None) -> list[Change]:
        """Import a changeset (what the file import and every change below come down to); ``conn``: a write
        transaction to make it in, with what else that transaction holds."""
        changes = self.runtime.import_changeset(changeset, source, _who(who), dry_run=dry_run, access=self.access, conn=conn)
        if not dry_run:
            self._audit(who, source, changeset, changes, conn)
        return changes

    def transform(self, transform, who: Who, source: str, detail: dict) -> list[Change]:
        """Apply a function of the customization layer (core/metadata/customize.py, say); ``detail`` names what it touches."""
        changes = self.runtime.change_metadata(transform, _who(who), access=self.access)
        self._audit(who, source, detail, changes)
        return changes

    def _audit(self, who: Who, source: str, detail: dict, changes: list[Change], conn: Connection | None = None) -> None:
        if conn is None:
            with write_transaction(self.runtime.engine) as own:
                return self._audit(who, source, detail, changes, own)
        audit.write(conn, "metadata.changed", who, detail={"change": source, "operations": [c.detail for c in changes],
                                                            "documents": _names(detail)})

    def create_object(self, body: Any, who: Who) -> list[Change]:
        if not isinstance(body, dict) or not isinstance(body.get("name"), str):
            raise _refuse("POST /api/meta/objects", sentence("send_object", example='{"name": ..., "label": {"en": ..., "zh-CN": ...}, "fields": [...]}'))
        meta = self.runtime.current_metadata()
        if body["name"] in meta.objects:
            raise _refuse("POST /api/meta/objects", sentence("object_exists", name=body["name"]), "/name")
        return self.apply({"format": FORMAT, "objects": [{"fields": [], **body}]}, who, "POST /api/meta/objects")

    def change_object(self, name: str, changes: Any, who: Who) -> list[Change]:
        source = f"PATCH /api/meta/objects/{name}"
        obj = self.runtime.current_metadata().object(name)
        if not isinstance(changes, dict) or "fields" in changes or "name" in changes:
            raise _refuse(source, sentence("send_object_changes", allowed="label, plural_label, description, title_field, indexes, icon, nav_order"))
        if obj.custom:
            stored = copy.deepcopy(self._config().objects[name])
            stored.update(changes)
            stored["fields"] = []  # fields merge by name: none sent, none changed
            return self.apply({"format": FORMAT, "objects": [stored]}, who, source)
        allowed = {"label", "plural_label", "indexes", "icon", "nav_order"}
        refused = sorted(set(changes) - allowed)
        if refused:
            raise _refuse(source, sentence("customization_may_change", what=name, source=obj.source, allowed=", ".join(sorted(allowed)),
                                           refused=", ".join(refused)))
        return self.apply({"format": FORMAT, "extensions": [{"object": name, **changes}]}, who, source)

    def arrange_navigation(self, places: dict[str, dict], who: Who) -> list[Change]:
        """Set objects' places in the side bar and their icons in one change: ``{name: {"nav_order": n or None,
        "icon": "building-2"}}`` (None: listed under More)."""
        meta = self.runtime.current_metadata()
        for name in places:
            meta.object(name)  # UnknownObject names it
        extensions = [{"object": name, **{k: v for k, v in place.items() if k in ("nav_order", "icon")}} for name, place in places.items()]
        return self.apply({"format": FORMAT, "extensions": extensions}, who, "Setup: navigation")

    def arrange_record_page(self, object_name: str, detail_layout: dict, process_field: str | None, who: Who) -> list[Change]:
        """Set what an object's record page shows in one change: its detail layout (highlights, related lists) and its
        process field (None: no path), the latter only when it differs from the one in effect."""
        obj = self.runtime.current_metadata().object(object_name)  # UnknownObject names it
        changeset: dict[str, Any] = {"format": FORMAT, "layouts": [{**detail_layout, "object": object_name, "kind": "detail"}]}
        if process_field != obj.process_field:
            extension: dict[str, Any] = {"object": object_name, "process_field": process_field}
            chosen = obj.fields.get(process_field or "")
            if chosen is not None and chosen.type.single_choice:  # another path: the gates of values it lacks go
                values = {v["value"] for v in chosen.spec.get("values", [])}
                if unfit := {value: None for value in obj.stage_gates if value not in values}:
                    extension["stage_gates"] = unfit
            changeset["extensions"] = [extension]
        return self.apply(changeset, who, f"Setup: record page of {object_name}")

    def set_stage_gates(self, object_name: str, gates: dict[str, dict | None], who: Who) -> list[Change]:
        """Set the gates of an object's process field in one change: ``{value: gate}`` replaces each value's gate, ``{value:
        None}`` takes it away; values not named keep theirs (core/stage_gates.py says what a gate holds)."""
        self.runtime.current_metadata().object(object_name)  # UnknownObject names it
        return self.apply({"format": FORMAT, "extensions": [{"object": object_name, "stage_gates": gates}]}, who,
                          f"Setup: stage gates of {object_name}")

    def put_validation_rule(self, object_name: str, name: str, body: Any, who: Who, source: str = "") -> list[Change]:
        """Create or replace the object's rule ``name`` in the customization layer; ``{"active": false}`` alone
        deactivates a rule another layer defines (core/validation_rules.py says what a rule holds)."""
        source = source or f"PUT /api/meta/objects/{object_name}/validation_rules/{name}"
        self.runtime.current_metadata().object(object_name)  # UnknownObject names it
        what = Sentence("what_validation_rule")
        if not isinstance(body, dict):
            raise _refuse(source, sentence("send_named", what=what, example=EXAMPLES["validation_rule"]))
        if "name" in body and body["name"] != name:
            raise _refuse(source, sentence("named_name_differs", what=what, name=body["name"], path=name), "/name")
        return self.apply({"format": FORMAT, "extensions": [{"object": object_name, "validation_rules": [{**body, "name": name}]}]},
                          who, source)

    def remove_validation_rule(self, object_name: str, name: str, who: Who) -> list[Change]:
        """Take the customization's rule ``name`` (or its change of another layer's rule) away: a plugin's rule of that
        name applies again as the plugin defines it. LookupError when the customization holds none."""
        obj = self.runtime.current_metadata().object(object_name)
        source = f"DELETE /api/meta/objects/{object_name}/validation_rules/{name}"
        if name not in obj.rules_customized:
            raise LookupError(sentence("vrule_unknown", name=name, object=object_name, hint=hint(name, sorted(obj.rules_customized))))

        def transform(config: CustomConfig) -> CustomConfig:
            config = config.copy()
            forget_rule(config, object_name, name)
            return config

        return self.transform(transform, who, source, {"extensions": [{"object": object_name}]})

    def remove_object(self, name: str, who: Who) -> list[Change]:
        """Remove a custom object's definition. Its table and data stay (nothing is dropped on its own)."""
        source = f"DELETE /api/meta/objects/{name}"
        obj = self.runtime.current_metadata().object(name)
        if not obj.custom:
            raise _refuse(source, sentence("only_custom_objects_removed", object=name, source=obj.source))

        def transform(config: CustomConfig) -> CustomConfig:
            config = config.copy()
            del config.objects[name]
            config.layouts = {k: v for k, v in config.layouts.items() if v["object"] != name}
            for body in config.permission_sets.values():
                body.get("objects", {}).pop(name, None)
                body.get("fields", {}).pop(name, None)
            return config

        return self.transform(transform, who, source, {"objects": [{"name": name}]})

    def add_field(self, object_name: str, spec: Any, who: Who, layouts: list[dict] = (), source: str = "") -> list[Change]:
        """Add a field; ``layouts`` (changed layouts that show it) are applied in the same transaction."""
        source = source or f"POST /api/meta/objects/{object_name}/fields"
        obj = self.runtime.current_metadata().object(object_name)
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
            raise _refuse(source, sentence("send_field", example='{"name": ..., "type": ..., "label": {"en": ..., "zh-CN": ...}}'))
        if spec["name"] in obj.fields:
            raise _refuse(source, sentence("field_exists", object=object_name, field=spec["name"]), "/name")
        changeset = self._field_changeset(obj, spec)
        if layouts:
            changeset["layouts"] = list(layouts)
        return self.apply(changeset, who, source)

    def change_field(self, object_name: str, field_name: str, changes: Any, who: Who) -> list[Change]:
        """Change a field's settings; for a custom field ``name`` renames it (its data kept) and ``type`` converts it."""
        source = f"PATCH /api/meta/objects/{object_name}/fields/{field_name}"
        obj = self.runtime.current_metadata().object(object_name)
        fdef = obj.fields.get(field_name)
        if fdef is None:
            raise _refuse(source, sentence("meta_unknown_field", field=field_name, object=object_name, hint=hint(field_name, obj.fields)))
        if not isinstance(changes, dict) or not changes:
            raise _refuse(source, sentence("send_field_changes", example='{"label": {"en": ..., "zh-CN": ...}, "required": true}'))
        if not fdef.custom:
            refused = sorted(set(changes) - OVERRIDABLE_KEYS)
            if refused:
                raise _refuse(source, sentence("customization_may_change", what=f"{object_name}.{field_name}", source=fdef.source,
                                               allowed=", ".join(sorted(OVERRIDABLE_KEYS)), refused=", ".join(refused)))
        spec = {**copy.deepcopy(fdef.spec), **changes}
        if "name" in changes and changes["name"] != field_name:
            spec["former_names"] = list(dict.fromkeys(fdef.spec.get("former_names", []) + [field_name]))
        spec.pop("removed", None)
        return self.apply(self._field_changeset(obj, spec), who, source)

    def remove_field(self, object_name: str, field_name: str, who: Who, removed: bool = True) -> list[Change]:
        """Hide a custom field (its column and data stay) or bring it back."""
        verb = "DELETE" if removed else "POST"
        source = f"{verb} /api/meta/objects/{object_name}/fields/{field_name}"
        meta = self.runtime.current_metadata()
        return self.transform(set_removed(meta, object_name, field_name, removed, source), who, source,
                               {"fields": [f"{object_name}.{field_name}"]})

    def set_picklist_value(self, object_name: str, field_name: str, value: Any, who: Who) -> list[Change]:
        """Add a picklist value, or change the one with the same ``value`` (label, colour, order via ``position``)."""
        source = f"POST /api/meta/objects/{object_name}/fields/{field_name}/values"
        fdef = self._picklist(object_name, field_name, source)
        if not isinstance(value, dict) or not isinstance(value.get("value"), str):
            raise _refuse(source, sentence("send_picklist_value", example='{"value": "won", "label": {"en": ..., "zh-CN": ...}}'))
        value = dict(value)
        position = value.pop("position", None)
        values = [v for v in fdef.spec.get("values", []) if v["value"] != value["value"]]
        current = next((v for v in fdef.spec.get("values", []) if v["value"] == value["value"]), None)
        merged = {**(current or {}), **value}
        if position is None:
            position = next((i for i, v in enumerate(fdef.spec.get("values", [])) if v["value"] == value["value"]), len(values))
        if not isinstance(position, int) or isinstance(position, bool) or position < 0:
            raise _refuse(source, sentence("position_from_zero"), "/position")
        values.insert(min(position, len(values)), merged)
        return self.change_field(object_name, field_name, {"values": values}, who)

    def remove_picklist_value(self, object_name: str, field_name: str, value: str, who: Who) -> list[Change]:
        """Take a value off the list. Records keeping it still show it; new writes may not use it."""
        source = f"DELETE /api/meta/objects/{object_name}/fields/{field_name}/values/{value}"
        fdef = self._picklist(object_name, field_name, source)
        values = fdef.spec.get("values", [])
        if value not in [v["value"] for v in values]:
            raise _refuse(source, sentence("meta_unknown_value", value=value, object=object_name, field=field_name,
                                           hint=hint(value, [v["value"] for v in values])))
        if len(values) == 1:
            raise _refuse(source, sentence("picklist_needs_a_value"))
        changes: dict[str, Any] = {"values": [v for v in values if v["value"] != value]}
        if fdef.spec.get("default") == value:
            changes["default"] = None
        return self.change_field(object_name, field_name, changes, who)

    def _picklist(self, object_name: str, field_name: str, source: str):
        obj = self.runtime.current_metadata().object(object_name)
        fdef = obj.fields.get(field_name)
        if fdef is None or "values" not in fdef.type.options:
            raise _refuse(source, sentence("meta_not_a_picklist", field=field_name, object=object_name, hint=hint(field_name, obj.fields)))
        return fdef

    def _field_changeset(self, obj: ObjectDef, spec: dict) -> dict:
        spec = {k: v for k, v in spec.items() if v is not None or k == "default"}
        if spec.get("default", 0) is None:
            del spec["default"]
        if obj.custom:
            stored = copy.deepcopy(self._config().objects[obj.name])
            stored["fields"] = [spec]
            return {"format": FORMAT, "objects": [stored]}
        return {"format": FORMAT, "extensions": [{"object": obj.name, "fields": [spec]}]}

    def put_layout(self, body: Any, who: Who) -> list[Change]:
        if not isinstance(body, dict):
            raise _refuse("PUT /api/meta/layouts", sentence("send_layout", example='{"object": ..., "kind": "list", "columns": [...]}'))
        return self.apply({"format": FORMAT, "layouts": [body]}, who, "PUT /api/meta/layouts")

    def remove_layout(self, key: str, who: Who) -> list[Change]:
        """Remove a customized layout; the base or plugin layout under it applies again."""
        source = f"DELETE /api/meta/layouts/{key}"
        if key not in self._config().layouts:
            raise _refuse(source, sentence("no_custom_layout", key=key))

        def transform(config: CustomConfig) -> CustomConfig:
            config = config.copy()
            del config.layouts[key]
            return config

        return self.transform(transform, who, source, {"layouts": [key]})

    # --- named documents: e-mail templates, workflow rules, approval processes -------------------

    def named_documents(self, kind: str) -> list[dict]:
        """Every document of a named kind in effect, by name, with who defines it (``defined_by``) and ``custom``."""
        meta = self.runtime.current_metadata()
        return [self._named(meta, kind, name) for name in sorted(meta.named[kind].bodies)]

    def named_document(self, kind: str, name: str) -> dict:
        meta = self.runtime.current_metadata()
        if name not in meta.named[kind].bodies:
            raise LookupError(sentence("no_named", what=Sentence(f"what_{kind}"), name=name, hint=hint(name, meta.named[kind].bodies)))
        return self._named(meta, kind, name)

    @staticmethod
    def _named(meta, kind: str, name: str) -> dict:
        layer = meta.named[kind].layers[name]
        return {**meta.named[kind].bodies[name], "defined_by": _layer(layer), "custom": layer == CUSTOM_LAYER}

    def put_named(self, kind: str, name: str, body: Any, who: Who, source: str = "", dry_run: bool = False) -> list[Change]:
        """Create or replace the document ``name`` in the customization layer (one of the base or a plugin is replaced
        by it, and comes back when it is removed). ``dry_run``: check it, change nothing."""
        section = NAMED_KINDS[kind].section
        source = source or f"PUT /api/meta/{section}/{name}"
        what = Sentence(f"what_{kind}")
        if not isinstance(body, dict):
            raise _refuse(source, sentence("send_named", what=what, example=EXAMPLES[kind]))
        if "name" in body and body["name"] != name:
            raise _refuse(source, sentence("named_name_differs", what=what, name=body["name"], path=name), "/name")
        return self.apply({"format": FORMAT, section: [{**body, "name": name}]}, who, source, dry_run=dry_run)

    def remove_named(self, kind: str, name: str, who: Who) -> list[Change]:
        """Remove a customized document; the base's or plugin's of the same name, if any, applies again."""
        section = NAMED_KINDS[kind].section
        source = f"DELETE /api/meta/{section}/{name}"
        if name not in getattr(self._config(), section):
            meta = self.runtime.current_metadata()
            what = Sentence(f"what_{kind}")
            if name not in meta.named[kind].bodies:
                raise LookupError(sentence("no_named", what=what, name=name, hint=hint(name, meta.named[kind].bodies)))
            raise _refuse(source, sentence("no_custom_named", what=what, name=name, source=meta.named[kind].sources[name]))

        def transform(config: CustomConfig) -> CustomConfig:
            config = config.copy()
            del getattr(config, section)[name]
            return config

        return self.transform(transform, who, source, {section: [{"name": name}]})

    def email_templates(self) -> list[dict]:
        return self.named_documents("email_template")

    def email_template(self, name: str) -> dict:
        return self.named_document("email_template", name)

    def put_email_template(self, name: str, body: Any, who: Who, source: str = "", dry_run: bool = False) -> list[Change]:
        return self.put_named("email_template", name, body, who, source, dry_run)

    def remove_email_template(self, name: str, who: Who) -> list[Change]:
        return self.remove_named("email_template", name, who)

    def _config(self) -> CustomConfig:
        return self.runtime.custom_config()


def _who(who: Who) -> str:
    return f"api:{who.username}" if who.username else "api"


def _layer(layer: str) -> str:
    return "customization" if layer == CUSTOM_LAYER else layer


def _names(changeset: Any) -> dict:
    """What a change touched, for the audit log (names, not whole documents). A changeset may also be a bare
    list of documents (layouts, say), as a metadata file may be."""
    if isinstance(changeset, list):
        return {"documents": [_name(item) for item in changeset]}
    if not isinstance(changeset, dict):
        return {}
    return {key: [_name(item) for item in items] for key, items in changeset.items() if isinstance(items, list)}


def _name(item: Any) -> Any:
    if not isinstance(item, dict):
        return item
    if "kind" in item and "object" in item:
        return layout_key(item)
    return item.get("name") or item.get("object")
