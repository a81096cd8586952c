"""The effective metadata: layers merged into objects and fields, checked as a whole.

Layers, in order: base (metadata/objects), plugins, then the customizations kept in
the database. A layer either defines an object or extends one defined before it.
Fields defined by a customization are *custom*: they may be renamed, retyped and
removed. Fields of base and plugin objects keep their API names and types, because
code relies on them; customizations may change their labels, help, picklist values,
default and the required, searchable and indexed flags, and when the field shows, is required, is
given by default or depends on another picklist (core/field_conditions.py).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Callable, Iterable

from sqlalchemy.dialects.postgresql.base import RESERVED_WORDS as PG_RESERVED
from sqlalchemy.sql.compiler import RESERVED_WORDS as SQL_RESERVED

from core import email_templates
from core.fieldtypes import FieldType, FieldTypeRegistry
from core.metadata.layouts import LayoutView, fallback_sections
from core.metadata.problems import MetadataError, Problem, did_you_mean, pointer
from core.words import Sentence, hint, sentence

SYSTEM_FIELDS = ("id", "version", "created_at", "created_by", "updated_at", "updated_by", "owner", "deleted_at")
QUERY_WORDS = ("sort", "limit", "offset", "q", "count", "fields")
RESERVED_NAMES = frozenset(SYSTEM_FIELDS) | frozenset(QUERY_WORDS) | PG_RESERVED | SQL_RESERVED
OVERRIDABLE_KEYS = frozenset({"label", "help", "values", "default", "required", "searchable", "indexed",
                              "visible_if", "required_if", "default_expression", "depends_on"})
CUSTOM_LAYER = "customization"
MAX_COLUMNS = 1600  # PostgreSQL's limit on a table's columns (SQLite's is 2,000)
MAX_LOOKUPS = 62  # a record is read with a join per lookup and one for its owner; SQLite joins at most 64 tables
MAX_NAME = 63  # PostgreSQL's longest name of a table


@dataclass(frozen=True)
class Doc:
    """A metadata document with where it came from."""

    kind: str  # object | extension | layout | permission_set | one of NAMED_KINDS
    body: dict
    source: str  # file path or "database"
    layer: str  # "base", "plugin:<name>", or "customization"
    at: str = ""  # JSON pointer of the document inside its source
    field_at: dict | None = None  # field name -> its JSON pointer, when fields were merged from elsewhere
    rule_at: dict | None = None  # validation rule's name -> its JSON pointer, when rules were merged from elsewhere

    def rule_pointer(self, name: str, index: int) -> str:
        if self.rule_at and name in self.rule_at:
            return self.rule_at[name]
        return self.at + pointer("validation_rules", index)

    def field_pointer(self, name: str, index: int) -> str:
        if self.field_at and name in self.field_at:
            return self.field_at[name]
        return self.at + pointer("fields", index)


@dataclass
class FieldDef:
    name: str
    type: FieldType
    spec: dict
    object: str
    custom: bool
    source: str
    at: str = ""
    through: list["FieldDef"] = field(default_factory=list)  # a many-to-many relation's own fields
    # a formula field: its checked expression (core.expressions.Typed) and every (object, field) it reads, the
    # fields of other formulas it names included; set when the metadata is checked (core/formulas.py)
    typed: object | None = None
    reads: frozenset[tuple[str, str]] = frozenset()
    # its visible_if, required_if and default_expression checked (core.expressions.Typed), by key; set when the metadata
    # is checked (core/field_conditions.py)
    conditions: dict = field(default_factory=dict)

    @property
    def removed(self) -> bool:
        return bool(self.spec.get("removed"))

    @property
    def formula(self) -> bool:
        """A field computed from its expression in the SELECT: no column, never written."""
        return self.spec.get("type") == "formula"

    @property
    def rollup(self) -> bool:
        """A count, sum, minimum, maximum or average of a child object's field, kept in its column (core/rollups.py)."""
        return self.spec.get("type") == "rollup"

    @property
    def computed(self) -> bool:
        """Its value is the engine's to compute (a formula or a roll-up): nobody writes it."""
        return self.formula or self.rollup

    @property
    def required(self) -> bool:
        return bool(self.spec.get("required"))

    @property
    def has_column(self) -> bool:
        return self.type.has_column and not (self.formula and not self.stored)

    @property
    def stored(self) -> bool:
        """A formula kept in a column of its own (indexed), computed again by every write that can change it."""
        return self.formula and bool(self.spec.get("stored"))

    def label(self, lang: str = "en") -> str:
        labels = self.spec.get("label", {})
        return labels.get(lang) or labels.get("en") or self.name


@dataclass
class ObjectDef:
    name: str
    spec: dict
    source: str
    layer: str
    at: str = ""
    fields: dict[str, FieldDef] = field(default_factory=dict)
    gate_at: dict[str, tuple[str, str]] = field(default_factory=dict)  # gated value -> (source, JSON pointer) of its gate
    gate_sets: dict[str, dict] = field(default_factory=dict)  # permission sets the gates name -> their labels
    rule_at: dict[str, tuple[str, str]] = field(default_factory=dict)  # validation rule's name -> (source, JSON pointer) of its definition
    rule_layers: dict[str, str] = field(default_factory=dict)  # validation rule's name -> the layer defining it
    rules_customized: set[str] = field(default_factory=set)  # rules the customization layer defines or changes

    @property
    def custom(self) -> bool:
        return self.layer == CUSTOM_LAYER

    @property
    def title_field(self) -> str:
        return self.spec.get("title_field") or next(
            (f.name for f in self.active_fields() if f.type.name == "text"), "id"
        )

    @property
    def indexes(self) -> list[dict]:
        return self.spec.get("indexes", [])

    @property
    def process_field(self) -> str | None:
        """The picklist drawn as the record's path of steps (a deal's stage), if the object names one."""
        return self.spec.get("process_field") or None

    @property
    def stage_gates(self) -> dict[str, dict]:
        """What it takes to move a record into each value of the process field (core/stage_gates.py), by value."""
        return self.spec.get("stage_gates") or {}

    @property
    def validation_rules(self) -> list[dict]:
        """The conditions a record must meet to be saved (core/validation_rules.py), active or not, in the order defined."""
        return self.spec.get("validation_rules") or []

    def active_fields(self) -> list[FieldDef]:
        return [f for f in self.fields.values() if not f.removed]

    def label(self, lang: str = "en") -> str:
        labels = self.spec.get("label", {})
        return labels.get(lang) or labels.get("en") or self.name


@dataclass
class NamedDocs:
    """The documents of one named kind in effect, by name."""

    bodies: dict[str, dict] = field(default_factory=dict)
    layers: dict[str, str] = field(default_factory=dict)  # name -> "base", "plugin:<name>" or "customization"
    sources: dict[str, str] = field(default_factory=dict)  # name -> the file (or "database") it comes from


@dataclass
class MetadataSet:
    objects: dict[str, ObjectDef]
    layouts: dict[str, dict]
    permission_sets: dict[str, dict]
    named: dict[str, NamedDocs] = field(default_factory=lambda: {kind: NamedDocs() for kind in NAMED_KINDS})
    registry: FieldTypeRegistry | None = None
    rollups: dict = field(default_factory=dict)  # child object -> its core.rollups.Rollup list, set when checked

    def fields_with_system(self, object_name: str) -> dict[str, FieldDef]:
        """The object's active fields and its system fields (id, owner, created_at...), as conditions may read them."""
        from core.runtime import SYSTEM_FIELD_SPECS  # noqa: PLC0415 - the runtime builds on this module

        obj = self.object(object_name)
        found = {f.name: f for f in obj.active_fields()}
        if self.registry is not None:
            for name, spec in SYSTEM_FIELD_SPECS.items():
                found[name] = FieldDef(name, self.registry[spec["type"]], spec, object_name, False, "system")
        return found

    @property
    def email_templates(self) -> dict[str, dict]:
        return self.named["email_template"].bodies

    @property
    def email_template_layers(self) -> dict[str, str]:
        return self.named["email_template"].layers

    @property
    def email_template_sources(self) -> dict[str, str]:
        return self.named["email_template"].sources

    @property
    def automations(self) -> dict[str, dict]:
        return self.named["automation"].bodies

    @property
    def approval_processes(self) -> dict[str, dict]:
        return self.named["approval_process"].bodies

    @property
    def reports(self) -> dict[str, dict]:
        return self.named["report"].bodies

    @property
    def dashboards(self) -> dict[str, dict]:
        return self.named["dashboard"].bodies

    def object(self, name: str) -> ObjectDef:
        try:
            return self.objects[name]
        except KeyError:
            raise UnknownObject(name, list(self.objects)) from None

    def layout(self, object_name: str, kind: str, name: str = "default") -> LayoutView:
        """The object's layout of that kind; an empty one (every key at its default) when there is none."""
        return LayoutView(self.layouts.get(f"{object_name}:{kind}:{name}") or {})

    def detail_layout(self, obj: ObjectDef) -> LayoutView:
        """The detail layout, else all the object's fields in one section."""
        found = self.layout(obj.name, "detail")
        return found if found.exists else fallback_sections(obj.spec, [f.name for f in obj.active_fields()])

    def form_layout(self, obj: ObjectDef) -> LayoutView:
        """The form layout, else the detail layout, else all the object's fields in one section."""
        found = self.layout(obj.name, "form")
        return found if found.exists else self.detail_layout(obj)


class UnknownObject(LookupError):
    def __init__(self, name: str, known: Iterable[str]) -> None:
        self.name = name
        super().__init__(sentence("no_object", name=name, hint=hint(name, known)))


def junction_name(obj: str, field_name: str) -> str:
    """The table holding a many-to-many field's links."""
    return f"{obj}__{field_name}"


def layout_key(layout: dict) -> str:
    return f"{layout['object']}:{layout['kind']}:{layout.get('name', 'default')}"


def build(docs: list[Doc], registry: FieldTypeRegistry) -> MetadataSet:
    """Merge layered documents into one checked MetadataSet, or raise MetadataError."""
    problems: list[Problem] = []
    objects: dict[str, ObjectDef] = {}
    for doc in (d for d in docs if d.kind == "object"):
        _define_object(doc, objects, registry, problems)
    for doc in (d for d in docs if d.kind == "extension"):
        _extend_object(doc, objects, registry, problems)
    layouts = _layouts(docs, objects, problems)
    permission_sets = {d.body["name"]: d.body for d in docs if d.kind == "permission_set"}
    result = MetadataSet(objects, layouts, permission_sets, registry=registry)
    for kind in NAMED_KINDS:
        _named(kind, docs, result, problems)
    problems.extend(_check_references(result, [d for d in docs if not _dormant(d)]))
    from core.field_conditions import check_conditions, check_dependencies  # noqa: PLC0415 - they check this module's metadata

    problems.extend(check_dependencies(result))
    if not problems:
        from core.formulas import check_formulas  # noqa: PLC0415 - formulas are checked against this module's metadata
        from core.rollups import check_rollups  # noqa: PLC0415 - so are roll-ups

        problems.extend(check_rollups(result))
        problems.extend(check_formulas(result))
        problems.extend(check_conditions(result))
    if problems:
        raise MetadataError(problems)
    for obj in objects.values():
        obj.gate_sets = {name: permission_sets[name].get("label", {}) for gate in obj.stage_gates.values()
                         for key in ("entered_by", "left_by") for name in gate.get(key, []) if name in permission_sets}
    return result


def _define_object(doc: Doc, objects: dict, registry: FieldTypeRegistry, problems: list[Problem]) -> None:
    body, name = doc.body, doc.body["name"]
    if name in objects:
        other = objects[name]
        problems.append(
            Problem(doc.source, doc.at + "/name", f"object '{name}' is already defined by {other.source}")
        )
        return
    if not body.get("system"):
        _check_name(name, "name_an_object", doc, doc.at + "/name", problems)
    obj = ObjectDef(name, copy.deepcopy(body), doc.source, doc.layer, doc.at)
    obj.gate_at = {value: (doc.source, doc.at + pointer("stage_gates", value)) for value in body.get("stage_gates", {})}
    obj.spec.pop("validation_rules", None)
    _add_validation_rules(obj, body.get("validation_rules", []), doc, problems)
    for index, fspec in enumerate(body.get("fields", [])):
        _add_field(obj, fspec, doc, doc.field_pointer(fspec["name"], index), registry, problems)
    objects[name] = obj


def _extend_object(doc: Doc, objects: dict, registry: FieldTypeRegistry, problems: list[Problem]) -> None:
    body, name = doc.body, doc.body["object"]
    obj = objects.get(name)
    if obj is None:
        if not _dormant(doc):
            problems.append(
                Problem(doc.source, doc.at + "/object", f"there is no object '{name}' to extend{did_you_mean(name, objects)}")
            )
        return
    for key in ("label", "plural_label", "icon", "nav_order", "process_field"):
        if key in body and body[key] is None:
            obj.spec.pop(key, None)  # "process_field": null leaves the object without a path
        elif key in body:
            obj.spec[key] = body[key]
    for index, fspec in enumerate(body.get("fields", [])):
        where = doc.field_pointer(fspec["name"], index)
        existing = obj.fields.get(fspec["name"])
        if existing is not None and not existing.custom and existing.source != doc.source:
            if doc.layer != CUSTOM_LAYER:
                problems.append(Problem(doc.source, where + "/name", f"field '{name}.{fspec['name']}' is already defined by {existing.source}"))
                continue
            _override_field(existing, fspec, doc, where, problems)
        else:
            _add_field(obj, fspec, doc, where, registry, problems)
    obj.spec.setdefault("indexes", [])
    obj.spec["indexes"] = obj.spec["indexes"] + body.get("indexes", [])
    for field_name, values in body.get("picklist_values", {}).items():
        _add_picklist_values(obj, field_name, values, doc, doc.at + pointer("picklist_values", field_name), problems)
    _add_stage_gates(obj, body.get("stage_gates", {}), doc, problems)
    _add_validation_rules(obj, body.get("validation_rules", []), doc, problems)


def _add_validation_rules(obj: ObjectDef, rules: list, doc: Doc, problems: list[Problem]) -> None:
    """Rules join the object's by name. A rule naming one another layer defines replaces it, or with only ``active``
    (and ``label``) changes whether it is checked: a customization's right, not a plugin's. A stored customization
    naming a rule that is gone (its plugin disabled) is kept, not applied."""
    kept = obj.spec.setdefault("validation_rules", [])
    seen: dict[str, str] = {}
    for index, rule in enumerate(rules):
        name, where = rule["name"], doc.rule_pointer(rule["name"], index)
        if name in seen:
            problems.append(Problem(doc.source, where + "/name", sentence("vrule_twice", name=name, object=obj.name, first=seen[name])))
            continue
        seen[name] = where
        position = next((i for i, held in enumerate(kept) if held["name"] == name), None)
        held_at = obj.rule_at.get(name)
        if held_at is not None and held_at[0] != doc.source and doc.layer != CUSTOM_LAYER:
            problems.append(Problem(doc.source, where + "/name", sentence("vrule_defined", name=name, object=obj.name, source=held_at[0])))
            continue
        if "expression" not in rule:  # a change of a rule defined before: whether it is checked
            if position is None:
                if not _dormant(doc):
                    problems.append(Problem(doc.source, where + "/name", sentence("vrule_unknown", name=name, object=obj.name,
                                                                                  hint=hint(name, [r["name"] for r in kept]))))
                continue
            kept[position] = {**kept[position], **{k: copy.deepcopy(v) for k, v in rule.items() if k in ("active", "label")}}
            if doc.layer == CUSTOM_LAYER:
                obj.rules_customized.add(name)
            continue
        if position is None:
            kept.append(copy.deepcopy(rule))
        else:
            kept[position] = copy.deepcopy(rule)
        obj.rule_at[name], obj.rule_layers[name] = (doc.source, where), doc.layer
        if doc.layer == CUSTOM_LAYER:
            obj.rules_customized.add(name)
    if not kept:
        obj.spec.pop("validation_rules", None)


def _add_stage_gates(obj: ObjectDef, gates: dict, doc: Doc, problems: list[Problem]) -> None:
    """An extension's gates replace those of the values they name (null: no gate). A plugin may gate a value no other
    layer gates; only a customization replaces or takes away another layer's gate."""
    for value, gate in gates.items():
        where = doc.at + pointer("stage_gates", value)
        held = obj.gate_at.get(value)
        if held is not None and held[0] != doc.source and doc.layer != CUSTOM_LAYER:
            problems.append(Problem(doc.source, where, sentence("gate_defined", value=value, object=obj.name, source=held[0])))
            continue
        kept = obj.spec.setdefault("stage_gates", {})
        if gate is None:
            kept.pop(value, None)
            obj.gate_at.pop(value, None)
        else:
            kept[value], obj.gate_at[value] = copy.deepcopy(gate), (doc.source, where)


def _add_picklist_values(obj: ObjectDef, field_name: str, values: list, doc: Doc, where: str, problems: list[Problem]) -> None:
    fdef = obj.fields.get(field_name)
    if fdef is None or "values" not in fdef.type.options:
        problems.append(Problem(doc.source, where, f"'{field_name}' is not a picklist field of '{obj.name}'{did_you_mean(field_name, obj.fields)}"))
        return
    existing = {v["value"] for v in fdef.spec.get("values", [])}
    for index, value in enumerate(values):
        if value["value"] in existing:
            problems.append(Problem(doc.source, f"{where}/{index}/value", f"'{obj.name}.{field_name}' already has the value '{value['value']}' (from {fdef.source})"))
    fdef.spec["values"] = fdef.spec.get("values", []) + [copy.deepcopy(v) for v in values if v["value"] not in existing]


def _dormant(doc: Doc) -> bool:
    """A stored customization of an object that is gone (its plugin disabled): kept, not applied."""
    return doc.layer == CUSTOM_LAYER and doc.source == "database"


def _layouts(docs: list[Doc], objects: dict, problems: list[Problem]) -> dict[str, dict]:
    """Layouts by key; later layers replace only through customization, plugins may not clash.

    A customized layout is kept as a whole (Setup stores the layout in effect, plugins' sections
    included), so a plugin's section adds only the fields the layout does not show yet: the
    section comes once, and a layout customized before the plugin was installed still gets it.
    In the result each field appears once per layout (its first place), and only fields that exist.
    """
    layouts: dict[str, dict] = {}
    sources: dict[str, Doc] = {}
    for doc in (d for d in docs if d.kind == "layout"):
        if doc.body["object"] not in objects and _dormant(doc):
            continue
        key = layout_key(doc.body)
        first = sources.get(key)
        if first is not None and doc.layer != CUSTOM_LAYER and first.layer != CUSTOM_LAYER:
            problems.append(Problem(doc.source, doc.at, f"layout '{key}' is already defined by {first.source}; add sections with an extension's layout_sections instead"))
            continue
        layouts[key], sources[key] = copy.deepcopy(doc.body), doc
    for doc in (d for d in docs if d.kind == "extension"):
        for index, added in enumerate(doc.body.get("layout_sections", [])):
            key = f"{doc.body['object']}:{added['kind']}:{added.get('name', 'default')}"
            if key not in layouts:
                if not _dormant(doc):
                    problems.append(Problem(doc.source, doc.at + pointer("layout_sections", index), f"there is no layout '{key}' to add a section to"))
                continue
            _add_section(layouts[key], added["section"])
        _add_related_lists(layouts.get(f"{doc.body['object']}:detail:default"), doc.body.get("related_lists", []))
    return {key: _placed_once(layout, objects.get(layout["object"])) for key, layout in layouts.items()}


def _named(kind: str, docs: list[Doc], meta: MetadataSet, problems: list[Problem]) -> None:
    """Documents of a named kind by name: a customization replaces the base's or a plugin's; two plugins (or a plugin
    and the base) may not define the same one. A stored customization of an object that is gone is kept, not applied."""
    firsts: dict[str, Doc] = {}
    found = meta.named[kind]
    for doc in (d for d in docs if d.kind == kind):
        name = doc.body["name"]
        if doc.body.get("object", "") not in meta.objects and "object" in doc.body and _dormant(doc):
            continue  # a dashboard is about no one object
        first = firsts.get(name)
        if first is not None and doc.layer != CUSTOM_LAYER and first.layer != CUSTOM_LAYER:
            problems.append(Problem(doc.source, doc.at + "/name", sentence("named_defined", what=Sentence(f"what_{kind}"), name=name,
                                                                            source=first.source)))
            continue
        firsts[name] = doc
        found.bodies[name] = copy.deepcopy(doc.body)
        found.bodies[name].pop("$schema", None)
        found.layers[name], found.sources[name] = doc.layer, doc.source


def check_email_template(meta: MetadataSet, body: dict, source: str, at: str = "") -> list[Problem]:
    """A template's object exists, and each of its texts compiles and uses only the variables, fields and keys there are."""
    obj = meta.objects.get(body.get("object", ""))
    if obj is None:
        return [Problem(source, at + "/object", sentence("no_object", name=body.get("object"), hint=hint(str(body.get("object")), meta.objects)))]
    names = [*obj.fields, *SYSTEM_FIELDS]
    return [Problem(source, at + pointer(p.part, p.lang), p.message) for p in email_templates.problems(body, obj.name, names)]


def _check_automation(meta: MetadataSet, body: dict, source: str, at: str = "") -> list[Problem]:
    from core.automations.documents import problems  # noqa: PLC0415 - rules read the query language, which reads this module

    return problems(meta, body, source, at)


def _check_report(meta: MetadataSet, body: dict, source: str, at: str = "") -> list[Problem]:
    from core.reports.definition import problems  # noqa: PLC0415 - as for rules

    return [Problem(source, at + where, said) for where, said in problems(meta, body)]


def _check_dashboard(meta: MetadataSet, body: dict, source: str, at: str = "") -> list[Problem]:
    from core.reports.dashboards import problems  # noqa: PLC0415 - as for rules

    return [Problem(source, at + where, said) for where, said in problems(meta, body)]


def _check_approval_process(meta: MetadataSet, body: dict, source: str, at: str = "") -> list[Problem]:
    from core.approvals.documents import problems  # noqa: PLC0415 - as for rules

    return problems(meta, body, source, at)


@dataclass(frozen=True)
class NamedKind:
    """A kind of document about one object, known by its name alone, layered like layouts: e-mail templates,
    workflow rules, approval processes. ``section``: its key in changesets, its folder and its API path."""

    kind: str
    section: str
    check: Callable[[MetadataSet, dict, str, str], list[Problem]]
    # the base's and plugins' documents are checked where they are used, not when metadata is built: an implementer's
    # change (a process field taken away, a field removed) that one of them no longer fits must not be refused for it
    checked_when_used: bool = False


NAMED_KINDS = {named.kind: named for named in (NamedKind("email_template", "email_templates", check_email_template),
                                               NamedKind("automation", "automations", _check_automation),
                                               NamedKind("approval_process", "approval_processes", _check_approval_process),
                                               NamedKind("report", "reports", _check_report, checked_when_used=True),
                                               NamedKind("dashboard", "dashboards", _check_dashboard, checked_when_used=True))}


def _add_section(layout: dict, section: dict) -> None:
    """Add a plugin's section for the fields the layout does not show yet, into the section of the same label if there is one."""
    sections = layout.setdefault("sections", [])
    shown = {name for s in sections for name in s["fields"]}
    missing = [name for name in section["fields"] if name not in shown]
    if not missing:
        return
    same = next((s for s in sections if s.get("label") == section.get("label")), None)
    if same is not None:
        same["fields"] = [*same["fields"], *missing]
    else:
        sections.append({**copy.deepcopy(section), "fields": missing})


def _add_related_lists(layout: dict | None, added: list) -> None:
    """A plugin's related lists join a detail layout that names its lists (one naming none shows every list anyway)."""
    if layout is None or not layout.get("related_lists") or not added:
        return
    named = {item if isinstance(item, str) else item["list"] for item in layout["related_lists"]}
    layout["related_lists"] = [*layout["related_lists"], *(copy.deepcopy(item) for item in added
                                                           if (item if isinstance(item, str) else item["list"]) not in named)]


def _placed_once(layout: dict, obj: ObjectDef | None) -> dict:
    """The layout with each field in its first place only, without names of fields that are gone (a stored
    customization may name a disabled plugin's field) and without sections left empty."""
    if obj is None:
        return layout  # refused by _check_layout
    known = set(SYSTEM_FIELDS) | set(obj.fields)
    result = dict(layout)
    if "sections" in layout:
        shown: set[str] = set()
        sections = [{**s, "fields": _first_places(s["fields"], known, shown)} for s in layout["sections"]]
        result["sections"] = [s for s in sections if s["fields"]]
    for key in ("columns", "card_fields", "highlights"):
        if key in layout:
            result[key] = _first_places(layout[key], known, set())
    return result


def _first_places(names: list[str], known: set[str], shown: set[str]) -> list[str]:
    """The names that exist and are not ``shown`` yet, each once; ``shown`` grows with them."""
    kept = [n for n in dict.fromkeys(names) if n in known and n not in shown]
    shown.update(kept)
    return kept


def _override_field(existing: FieldDef, fspec: dict, doc: Doc, where: str, problems: list[Problem]) -> None:
    changed = {k for k, v in fspec.items() if k != "name" and existing.spec.get(k) != v}
    refused = sorted(changed - OVERRIDABLE_KEYS)
    if refused:
        problems.append(
            Problem(
                doc.source,
                where,
                f"field '{existing.object}.{existing.name}' is defined by {existing.source}; "
                f"a customization may not change its {', '.join(refused)}",
            )
        )
        return
    existing.spec.update({k: fspec[k] for k in changed})


def _add_field(obj: ObjectDef, fspec: dict, doc: Doc, where: str, registry, problems: list[Problem]) -> None:
    name = fspec["name"]
    if name in obj.fields:
        problems.append(Problem(doc.source, where + "/name", sentence("field_defined_twice", field=name, object=obj.name)))
        return
    _check_name(name, "name_a_field", doc, where + "/name", problems)
    obj.fields[name] = FieldDef(
        name=name,
        type=field_type(registry, fspec),
        spec=copy.deepcopy(fspec),
        object=obj.name,
        custom=doc.layer == CUSTOM_LAYER,
        source=doc.source,
        at=where,
        through=[
            FieldDef(t["name"], registry[t["type"]], copy.deepcopy(t), f"{obj.name}__{name}", False, doc.source,
                     f"{where}/through_fields/{i}")
            for i, t in enumerate(fspec.get("through_fields", []))
        ],
    )


def field_type(registry: FieldTypeRegistry, fspec: dict) -> FieldType:
    """The type a field's values have: its own, or a formula's result type."""
    if fspec["type"] == "formula" and fspec.get("result_type") in registry:
        return registry[fspec["result_type"]]
    if fspec["type"] == "rollup":
        return registry["decimal"]  # until core/rollups.py gives it the type of what it sums
    return registry[fspec["type"]]


def _check_name(name: str, what: str, doc: Doc, where: str, problems: list[Problem]) -> None:
    """``what``: the code of what the name would name (name_a_field, name_an_object)."""
    if name in SYSTEM_FIELDS:
        problems.append(Problem(doc.source, where, sentence("name_system_field", name=name)))
    elif name.lower() in RESERVED_NAMES:
        problems.append(Problem(doc.source, where, sentence("name_reserved", name=name, what=sentence(what))))
    elif "__" in name or name.startswith("tessera_"):
        problems.append(Problem(doc.source, where, sentence("name_kept_for_engine", name=name)))


def _check_references(meta: MetadataSet, docs: list[Doc]) -> list[Problem]:
    problems: list[Problem] = []
    for obj in meta.objects.values():
        for fdef in obj.fields.values():
            problems.extend(_check_field(meta, obj, fdef))
        problems.extend(_check_table(obj))
        problems.extend(_check_stage_gates(meta, obj))
        problems.extend(_check_validation_rules(meta, obj))
        process = obj.fields.get(obj.spec.get("process_field", ""))
        if "process_field" in obj.spec and (process is None or not process.type.single_choice):
            problems.append(Problem(obj.source, obj.at + "/process_field", sentence("process_field_not_picklist", field=obj.spec["process_field"], object=obj.name)))
        shown = obj.fields.get(obj.spec.get("display_field", ""))
        if "display_field" in obj.spec and (shown is None or shown.type.name != "text"):
            problems.append(Problem(obj.source, obj.at + "/display_field", sentence("display_field_not_text", field=obj.spec["display_field"], object=obj.name)))
        if "title_field" in obj.spec and obj.spec["title_field"] not in obj.fields:
            problems.append(
                Problem(obj.source, obj.at + "/title_field", sentence("title_field_unknown", field=obj.spec["title_field"], object=obj.name))
            )
        for i, index in enumerate(obj.indexes):
            for name in index["fields"]:
                if name not in obj.fields and name not in SYSTEM_FIELDS:
                    problems.append(
                        Problem(obj.source, obj.at + pointer("indexes", i, "fields"), sentence("index_unknown_field", field=name, object=obj.name))
                    )
    for doc in docs:
        if doc.kind == "extension" and doc.body["object"] in meta.objects:
            obj = meta.objects[doc.body["object"]]
            for i, added in enumerate(doc.body.get("layout_sections", [])):
                for j, name in enumerate(added["section"]["fields"]):
                    if name not in obj.fields and name not in SYSTEM_FIELDS:
                        problems.append(Problem(doc.source, doc.at + pointer("layout_sections", i, "section", "fields", j),
                                                f"'{name}' is not a field of '{obj.name}'{did_you_mean(name, obj.fields)}"))
        if doc.kind == "layout":
            problems.extend(_check_layout(meta, doc))
        elif doc.kind == "permission_set":
            problems.extend(_check_permission_set(meta, doc))
        elif doc.kind in NAMED_KINDS:
            found = NAMED_KINDS[doc.kind].check(meta, doc.body, doc.source, doc.at)
            if NAMED_KINDS[doc.kind].checked_when_used and doc.layer != CUSTOM_LAYER:
                continue  # a plugin's report that no longer fits the configuration is refused when it runs, naming why
            problems.extend(found)
    return problems


def _check_stage_gates(meta: MetadataSet, obj: ObjectDef) -> list[Problem]:
    """Each gate names values of the process field, fields of the object that hold one value each, and permission sets
    that exist. Without a process field (an administrator took the path away) the gates wait: only their fields and
    permission sets are checked."""
    problems: list[Problem] = []
    process = obj.fields.get(obj.process_field or "")
    values = [v["value"] for v in process.spec.get("values", [])] if process is not None and process.type.single_choice else None
    for value, gate in obj.stage_gates.items():
        source, at = obj.gate_at.get(value, (obj.source, obj.at + pointer("stage_gates", value)))

        def report(where: str, message: Sentence) -> None:
            problems.append(Problem(source, at + where, message))

        if values is not None and value not in values:
            report("", sentence("gate_unknown_value", value=value, field=process.name, object=obj.name, hint=hint(value, values)))
        for i, before in enumerate(gate.get("from", [])):
            if values is not None and before not in values:
                report(pointer("from", i), sentence("gate_unknown_value", value=before, field=process.name, object=obj.name, hint=hint(before, values)))
        for i, name in enumerate(gate.get("required", [])):
            fdef = obj.fields.get(name)
            if fdef is None or fdef.removed:
                report(pointer("required", i), sentence("gate_unknown_field", field=name, object=obj.name,
                                                        hint=hint(name, [f.name for f in obj.active_fields()])))
            elif not fdef.has_column:
                report(pointer("required", i), sentence("gate_field_many", field=name, type=fdef.type.name))
        for key in ("entered_by", "left_by"):
            for i, name in enumerate(gate.get(key, [])):
                if name not in meta.permission_sets:
                    report(pointer(key, i), sentence("gate_unknown_set", name=name, hint=hint(name, meta.permission_sets)))
    return problems


def _check_validation_rules(meta: MetadataSet, obj: ObjectDef) -> list[Problem]:
    from core.validation_rules import problems  # noqa: PLC0415 - the expression language reads this module

    return problems(meta, obj)


def _check_table(obj: ObjectDef) -> list[Problem]:
    """What both databases can hold and read: columns per table, joins per read, names of tables."""
    problems, where, system = [], obj.at + "/fields", len(SYSTEM_FIELDS)
    columns = system + sum(1 for f in obj.fields.values() if f.has_column)
    if columns > MAX_COLUMNS:
        problems.append(Problem(obj.source, where, f"object '{obj.name}' would need a table of {columns:,} columns (its fields and "
                                                   f"{system} system columns); PostgreSQL's tables hold at most {MAX_COLUMNS:,}: give it "
                                                   f"at most {MAX_COLUMNS - system:,} fields with a column, or split it into objects linked by lookups"))
    lookups = sum(1 for f in obj.active_fields() if f.type.name == "lookup")
    if lookups > MAX_LOOKUPS:
        problems.append(Problem(obj.source, where, f"object '{obj.name}' has {lookups} lookup fields; at most {MAX_LOOKUPS}: each is a "
                                                   "join when its records are read, and SQLite joins at most 64 tables"))
    for fdef in obj.fields.values():
        table = junction_name(obj.name, fdef.name)
        if fdef.type.name == "many_to_many" and len(table) > MAX_NAME:
            problems.append(Problem(fdef.source, fdef.at + "/name", f"the many-to-many field '{obj.name}.{fdef.name}' keeps its links in a "
                                                                    f"table named '{table}', {len(table)} characters; PostgreSQL's names have "
                                                                    f"at most {MAX_NAME}: shorten the field's name"))
    return problems


def _check_field(meta: MetadataSet, obj: ObjectDef, fdef: FieldDef) -> list[Problem]:
    spec, problems = fdef.spec, []

    def report(key: str, message: str | Sentence) -> None:
        problems.append(Problem(fdef.source, f"{fdef.at}/{key}", message))

    unknown_options = _misplaced_options(fdef)
    for key in unknown_options:
        report(key, sentence("option_not_for_type", key=key, type=fdef.type.name))
    if fdef.type.name in ("lookup", "many_to_many") and spec.get("target") not in meta.objects:
        report("target", sentence("target_not_an_object", target=spec.get("target"), hint=hint(str(spec.get("target")), meta.objects)))
    if fdef.type.name == "dynamic_lookup":
        other = obj.fields.get(spec.get("object_field", ""))
        if other is None or other.type.name not in ("text", "picklist"):
            report("object_field", sentence("object_field_kind", field=spec.get("object_field"), object=obj.name))
    if "values" in spec:
        seen = [v["value"] for v in spec["values"]]
        duplicates = sorted({v for v in seen if seen.count(v) > 1})
        if duplicates:
            report("values", sentence("value_listed_twice", value=duplicates[0]))
    if "default" in spec and spec["default"] is not None:
        message = _default_problem(fdef)
        if message:
            report("default", message)
    for bound in ("min", "max"):
        message = _bound_problem(fdef, bound)
        if message:
            report(bound, message)
    if "min" in spec and "max" in spec and spec["min"] > spec["max"]:
        report("min", sentence("min_above_max", min=spec["min"], max=spec["max"]))
    if spec.get("min_exclusive") and "min" not in spec:
        report("min_exclusive", sentence("min_exclusive_needs_min"))
    elif spec.get("min_exclusive") and "max" in spec and spec["min"] >= spec["max"]:
        report("min", sentence("no_value_between", min=spec["min"], max=spec["max"]))
    for part, name in spec.get("full_name_of", {}).items():
        source = obj.fields.get(name)
        if source is None or source.type.name != "text":
            report(f"full_name_of/{part}", sentence("not_a_text_field", field=name, object=obj.name, hint=hint(name, obj.fields)))
    for i, through in enumerate(spec.get("through_fields", [])):
        if through["type"] in ("many_to_many", "autonumber"):
            report(f"through_fields/{i}/type", sentence("through_type", type=through["type"]))
    return problems


ROLLUP_OPTIONS = frozenset({"name", "type", "label", "help", "former_names", "removed", "rollup", "scale", "precision", "currency"})
GENERAL_OPTIONS = frozenset(
    {"name", "type", "label", "help", "required", "unique", "indexed", "searchable", "read_only", "default", "former_names", "removed",
     "visible_if", "required_if", "default_expression"}
)


def _misplaced_options(fdef: FieldDef) -> list[str]:
    if fdef.formula:
        return []  # core/formulas.py checks a formula's options
    if fdef.rollup:
        return [k for k in fdef.spec if k not in ROLLUP_OPTIONS]
    allowed = GENERAL_OPTIONS | fdef.type.options
    if fdef.type.name in ("lookup",):
        allowed |= {"on_delete"}
    if fdef.type.name == "text":
        allowed |= {"full_name_of"}
    if "values" in fdef.type.options:
        allowed |= {"depends_on"}  # a dependent picklist (core/field_conditions.py)
    return [k for k in fdef.spec if k not in allowed]


def _bound_problem(fdef: FieldDef, bound: str) -> str | None:
    """A min or max must be a value the field's column can hold, or no value could ever be checked against it."""
    if bound not in fdef.spec:
        return None
    unbounded = {k: v for k, v in fdef.spec.items() if k not in ("min", "max", "default")}
    try:
        fdef.type.parse(fdef.spec[bound], unbounded)
    except (ValueError, TypeError, ArithmeticError) as exc:
        return f"{bound} {fdef.spec[bound]!r} is not a value this {fdef.type.name} field can hold: {exc}"
    return None


def _default_problem(fdef: FieldDef) -> str | Sentence | None:
    default = fdef.spec["default"]
    if "values" in fdef.type.options:
        values = [v["value"] for v in fdef.spec.get("values", [])]
        defaults = default if isinstance(default, list) else [default]
        bad = [d for d in defaults if d not in values]
        if bad:
            return sentence("default_not_a_value", value=bad[0], values=", ".join(values), hint=hint(bad[0], values))
        return None
    if fdef.type.family == "relation" or fdef.type.widget == "readonly":
        return sentence("no_default_for", type=fdef.type.name)
    try:
        fdef.type.parse(default, fdef.spec)
    except (ValueError, TypeError) as exc:
        return f"default {default!r} is not valid: {exc}"
    return None


def _check_layout(meta: MetadataSet, doc: Doc) -> list[Problem]:
    body, problems = doc.body, []
    obj = meta.objects.get(body["object"])
    if obj is None:
        return [Problem(doc.source, doc.at + "/object", sentence("no_object", name=body["object"], hint=hint(body["object"], meta.objects)))]
    names = set(obj.fields) | set(SYSTEM_FIELDS)

    def check(name: str, where: str) -> None:
        if name not in names:
            problems.append(Problem(doc.source, doc.at + where, sentence("not_a_field_of", field=name, object=obj.name, hint=hint(name, names))))

    for i, name in enumerate(body.get("columns", [])):
        check(name, pointer("columns", i))
    for i, section in enumerate(body.get("sections", [])):
        for j, name in enumerate(section["fields"]):
            check(name, pointer("sections", i, "fields", j))
    for key in ("card_fields", "highlights"):
        for i, name in enumerate(body.get(key, [])):
            check(name, pointer(key, i))
    for key in ("group_by", "sum_field"):
        if key in body:
            check(body[key], "/" + key)
    group = obj.fields.get(body.get("group_by", ""))
    if group is not None and not group.type.single_choice:
        problems.append(Problem(doc.source, doc.at + "/group_by", sentence("kanban_group", field=group.name, type=group.type.name)))
    total = obj.fields.get(body.get("sum_field", ""))
    if total is not None and total.type.family != "number":
        problems.append(Problem(doc.source, doc.at + "/sum_field", sentence("kanban_sum", field=total.name, type=total.type.name)))
    for name, pairs in body.get("narrow_by", {}).items():
        problems.extend(_check_narrowing(meta, obj, name, pairs, doc))
    return problems


def _check_narrowing(meta: MetadataSet, obj: ObjectDef, name: str, pairs: dict, doc: Doc) -> list[Problem]:
    """A narrowed lookup is a lookup of the object; each of its pairs names a field of the record it points to and a
    field of the object holding the same kind of value."""
    where = doc.at + pointer("narrow_by", name)
    lookup = obj.fields.get(name)
    if lookup is None or lookup.type.name != "lookup":
        return [Problem(doc.source, where, f"'{name}' is not a lookup field of '{obj.name}'{did_you_mean(name, obj.fields)}")]
    target = meta.objects.get(lookup.spec.get("target", ""))
    if target is None:
        return []  # reported with the field
    problems = []
    for theirs, ours in pairs.items():
        at = where + pointer(theirs)
        other, mine = target.fields.get(theirs), obj.fields.get(ours)
        if other is None:
            problems.append(Problem(doc.source, at, f"'{theirs}' is not a field of '{target.name}'{did_you_mean(theirs, target.fields)}"))
        elif mine is None:
            problems.append(Problem(doc.source, at, f"'{ours}' is not a field of '{obj.name}'{did_you_mean(ours, obj.fields)}"))
        elif (other.type.name, other.spec.get("target")) != (mine.type.name, mine.spec.get("target")):
            problems.append(Problem(doc.source, at, f"'{target.name}.{theirs}' and '{obj.name}.{ours}' do not hold the same kind of value"))
    return problems


def _check_permission_set(meta: MetadataSet, doc: Doc) -> list[Problem]:
    body, problems = doc.body, []
    for name in body.get("objects", {}):
        if name not in meta.objects:
            problems.append(Problem(doc.source, doc.at + pointer("objects", name), f"there is no object '{name}'{did_you_mean(name, meta.objects)}"))
    for name, fields in body.get("fields", {}).items():
        obj = meta.objects.get(name)
        if obj is None:
            problems.append(Problem(doc.source, doc.at + pointer("fields", name), f"there is no object '{name}'{did_you_mean(name, meta.objects)}"))
            continue
        for fname in fields:
            if fname not in obj.fields:
                problems.append(Problem(doc.source, doc.at + pointer("fields", name, fname), f"'{fname}' is not a field of '{name}'{did_you_mean(fname, obj.fields)}"))
    return problems

