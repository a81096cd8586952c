"""Setup's forms turned into metadata: labels, field definitions, picklist values, layouts, permission sets.

Pure functions from posted form data (a dict of strings, lists for repeated names) to the
JSON the metadata service takes. They never decide what is valid: the meta-schemas and
the metadata service do, and their messages are shown beside the form.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any, Mapping

from core.fieldtypes import FieldType

SCOPES = ("none", "own", "team", "all")
OPERATIONS = ("read", "create", "update", "delete")
FIELD_ACCESS = ("edit", "read", "hidden")
NUMBER_OPTIONS = {"max_length": int, "precision": int, "scale": int, "min": float, "max": float}


def text(data: dict, key: str) -> str:
    value = data.get(key, "")
    if isinstance(value, list):
        value = value[-1] if value else ""
    return str(value).strip()


def many(data: dict, key: str) -> list[str]:
    value = data.get(key, [])
    return [str(v) for v in (value if isinstance(value, list) else [value]) if str(v) != ""]


def checked(data: dict, key: str) -> bool:
    return text(data, key) in ("on", "true", "1", "yes")


def label_from(data: dict, prefix: str) -> dict:
    """``<prefix>_en`` and ``<prefix>_zh`` as a metadata label; an empty Chinese text is left out."""
    labels = {"en": text(data, f"{prefix}_en")}
    if text(data, f"{prefix}_zh"):
        labels["zh-CN"] = text(data, f"{prefix}_zh")
    return labels


def identifier(words: str) -> str:
    """A name for metadata from a person's words: 'Customer Tier' -> 'customer_tier'."""
    ascii_words = unicodedata.normalize("NFKD", words).encode("ascii", "ignore").decode()
    name = re.sub(r"[^a-z0-9]+", "_", ascii_words.lower()).strip("_")
    if name and not name[0].isalpha():
        name = f"f_{name}"
    return name[:63]


def picklist_lines(block: str) -> list[dict]:
    """Values typed one per line as ``English | 中文`` (the Chinese part optional)."""
    values = []
    for line in block.splitlines():
        if not line.strip():
            continue
        english, _, chinese = (part.strip() for part in line.partition("|"))
        entry: dict[str, Any] = {"value": identifier(english) or english, "label": {"en": english}}
        if chinese:
            entry["label"]["zh-CN"] = chinese
        values.append(entry)
    return values


def field_spec(data: dict, types: Mapping[str, FieldType]) -> dict:
    """A new field from the add-field form; ``types`` the field types by name (an unknown one is left to the
    metadata service to name)."""
    labels = label_from(data, "label")
    spec: dict[str, Any] = {"name": text(data, "name") or identifier(labels["en"]), "type": text(data, "type"), "label": labels}
    ftype = types.get(spec["type"])
    spec.update(field_options(data, ftype))
    taken = ftype.options if ftype is not None else frozenset()
    if "values" in taken:
        spec["values"] = picklist_lines(text(data, "values"))
    if "target" in taken:
        spec["target"] = text(data, "target")
    if "prefix" in taken and text(data, "prefix"):
        spec["prefix"] = text(data, "prefix")
    return spec


def typed_text(ftype: FieldType | None) -> bool:
    """A type of text a person types (found by quick search when the field says so)."""
    return ftype is not None and ftype.family == "text" and ftype.widget != "readonly"


def field_options(data: dict, ftype: FieldType | None) -> dict:
    """The settings a field form shows: help, required, searchable and the numbers its type takes."""
    options: dict[str, Any] = {"required": checked(data, "required")}
    if text(data, "help_en") or text(data, "help_zh"):
        options["help"] = label_from(data, "help")
    if typed_text(ftype):
        options["searchable"] = checked(data, "searchable")
    for key, kind in NUMBER_OPTIONS.items():
        raw = text(data, key)
        if raw:
            options[key] = _number(raw, kind)
    if ftype is not None and "currency" in ftype.options and text(data, "currency"):
        options["currency"] = text(data, "currency").upper()
    return options


def _number(raw: str, kind) -> Any:
    try:
        return kind(raw)
    except ValueError:
        return raw  # the schema names it as not a number, with its place


def picklist_values(data: dict, current: list[dict]) -> tuple[list[dict], str | None]:
    """The value table of a picklist field: labels, colours, order, default, removals and one new value."""
    rows = []
    keys = property_keys(current)
    added = identifier(text(data, "new_property")) if text(data, "new_property") else ""
    for index, value in enumerate(current):
        key = value["value"]
        if checked(data, f"remove_{key}"):
            continue
        entry = {**value, "label": label_from(data, f"label_{key}")}
        properties = _properties(data, key, keys, added, dict(value.get("properties") or {}))
        if properties:
            entry["properties"] = properties
        else:
            entry.pop("properties", None)
        colour = text(data, f"color_{key}")
        if colour and colour.lower() != "#000000":
            entry["color"] = colour
        else:
            entry.pop("color", None)
        rows.append((_position(text(data, f"position_{key}"), index), index, entry))
    if text(data, "new_label_en"):
        new = {"value": text(data, "new_value") or identifier(text(data, "new_label_en")), "label": label_from(data, "new_label")}
        if text(data, "new_color") and text(data, "new_color").lower() != "#000000":
            new["color"] = text(data, "new_color")
        rows.append((_position(text(data, "new_position"), len(current)), len(current), new))
    values = [entry for _, _, entry in sorted(rows, key=lambda row: (row[0], row[1]))]
    default = text(data, "default") or None
    return values, default if default in {v["value"] for v in values} else None


def property_keys(values: list[dict]) -> list[str]:
    """The keys of the values' properties that hold numbers (a stage's probability, a value's score): the columns a
    picklist's value table lets an implementer change."""
    keys: dict[str, None] = {}
    for value in values:
        for key, held in (value.get("properties") or {}).items():
            if isinstance(held, (int, float)) and not isinstance(held, bool):
                keys[key] = None
    return list(keys)


def _properties(data: dict, value: str, keys: list[str], added: str, properties: dict) -> dict:
    """A value's properties with the numbers typed in its row (an empty cell takes the property away)."""
    for key in [*keys, *([added] if added and added not in keys else [])]:
        raw = text(data, f"prop_{key}_{value}") if key in keys else text(data, f"prop__new_{value}")
        if raw == "":
            properties.pop(key, None)
        else:
            number = _number(raw, float)
            properties[key] = int(number) if isinstance(number, float) and number.is_integer() else number
    return properties


def _position(raw: str, fallback: int) -> float:
    try:
        return float(raw)
    except ValueError:
        return fallback


def list_layout(data: dict, current: dict, object_name: str) -> dict:
    """List columns: the ticked fields in the order typed beside them."""
    chosen = [(_position(text(data, f"order_{name}"), i), i, name) for i, name in enumerate(many(data, "_fields")) if checked(data, f"show_{name}")]
    layout = {**current, "object": object_name, "kind": "list", "columns": [name for _, _, name in sorted(chosen)]}
    sort = text(data, "sort")
    if sort:
        layout["sort"] = sort
    else:
        layout.pop("sort", None)
    return layout


def sections_layout(data: dict, current: dict, object_name: str, kind: str) -> dict:
    """Form or detail sections: each field goes to the section chosen beside it, in the order typed."""
    sections = []
    for number in range(1, int(text(data, "section_count") or 0) + 1):
        if not text(data, f"section_{number}_en"):
            continue
        columns = text(data, f"section_{number}_columns") or "2"
        section: dict[str, Any] = {"label": label_from(data, f"section_{number}"), "columns": int(columns) if columns.isdigit() else columns}
        members = [(_position(text(data, f"order_{name}"), i), i, name) for i, name in enumerate(many(data, "_fields"))
                   if text(data, f"section_of_{name}") == str(number)]
        section["fields"] = [name for _, _, name in sorted(members)]
        if section["fields"]:
            sections.append(section)
    return {**current, "object": object_name, "kind": kind, "sections": sections}


def kanban_layout(data: dict, current: dict, object_name: str) -> dict | None:
    group_by = text(data, "group_by")
    if not group_by:
        return None
    layout = {**current, "object": object_name, "kind": "kanban", "group_by": group_by}
    if text(data, "sum_field"):
        layout["sum_field"] = text(data, "sum_field")
    else:
        layout.pop("sum_field", None)
    return layout


def permission_set(data: dict, current: dict, object_names: list[str], field_object: str | None, field_names: list[str]) -> dict:
    """The matrix: a scope per object and operation; field access for the object shown; customizer."""
    body = {key: value for key, value in current.items() if key not in ("custom", "name")}
    body["label"] = label_from(data, "label") if text(data, "label_en") else current.get("label", {"en": ""})
    body["customizer"] = checked(data, "customizer")
    if not body["customizer"]:
        body.pop("customizer")
    objects = {}
    for name in object_names:
        scopes = {op: text(data, f"{name}.{op}") or "none" for op in OPERATIONS}
        if any(scope != "none" for scope in scopes.values()):
            objects[name] = scopes
    body["objects"] = objects
    if field_object:
        fields = {k: v for k, v in current.get("fields", {}).items() if k != field_object}
        chosen = {name: text(data, f"field.{name}") for name in field_names if text(data, f"field.{name}") not in ("", "edit")}
        if chosen:
            fields[field_object] = chosen
        body["fields"] = fields
    if not body.get("fields"):
        body.pop("fields", None)
    return body
