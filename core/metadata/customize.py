"""Field operations on the customization layer: rename, remove, restore.

Each returns a transform for Runtime.change_metadata, so that the stored documents and
the schema change in one transaction. Only custom fields (defined by a customization)
can be renamed or removed: base and plugin fields are relied on by code.
"""

from __future__ import annotations

from typing import Callable

from core.metadata.model import MetadataSet
from core.metadata.problems import MetadataError, Problem
from core.words import hint, sentence
from core.metadata.store import CustomConfig

Transform = Callable[[CustomConfig], CustomConfig]


def _custom_field(config: CustomConfig, meta: MetadataSet, object_name: str, field_name: str, source: str) -> dict:
    obj = meta.objects.get(object_name)
    if obj is None:
        raise MetadataError([Problem(source, "", sentence("no_object", name=object_name, hint=hint(object_name, meta.objects)))])
    fdef = obj.fields.get(field_name)
    if fdef is None:
        raise MetadataError([Problem(source, "", sentence("not_a_field_of", field=field_name, object=object_name, hint=hint(field_name, obj.fields)))])
    if not fdef.custom:
        raise MetadataError([Problem(source, "", sentence("only_custom_fields", object=object_name, field=field_name, source=fdef.source))])
    holder = config.fields_holder(object_name)
    return next(f for f in holder["fields"] if f["name"] == field_name)


def rename_field(meta: MetadataSet, object_name: str, old: str, new: str, source: str = "rename") -> Transform:
    def transform(config: CustomConfig) -> CustomConfig:
        config = config.copy()
        spec = _custom_field(config, meta, object_name, old, source)
        if new in meta.objects[object_name].fields:
            raise MetadataError([Problem(source, "", sentence("field_name_taken", object=object_name, field=new))])
        spec["name"] = new
        spec["former_names"] = list(dict.fromkeys(spec.get("former_names", []) + [old]))
        return config

    return transform


def set_removed(meta: MetadataSet, object_name: str, field_name: str, removed: bool, source: str = "remove") -> Transform:
    def transform(config: CustomConfig) -> CustomConfig:
        config = config.copy()
        spec = _custom_field(config, meta, object_name, field_name, source)
        if removed:
            spec["removed"] = True
        else:
            spec.pop("removed", None)
        return config

    return transform


def forget_field(meta: MetadataSet, object_name: str, field_name: str, source: str = "purge") -> Transform:
    """Drop a removed field's definition (its column is dropped by the caller)."""

    def transform(config: CustomConfig) -> CustomConfig:
        config = config.copy()
        spec = _custom_field(config, meta, object_name, field_name, source)
        if not spec.get("removed"):
            raise MetadataError([Problem(source, "", sentence("field_in_use", object=object_name, field=field_name))])
        holder = config.fields_holder(object_name)
        holder["fields"] = [f for f in holder["fields"] if f["name"] != field_name]
        return config

    return transform
