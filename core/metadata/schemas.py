"""The meta-schemas of metadata/schema/ and the plain-language rendering of their errors."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

from jsonschema import Draft202012Validator, ValidationError
from referencing import Registry, Resource

from core.jsontext import unstorable
from core.metadata.problems import Problem, pointer
from core.words import Sentence, Several, hint, sentence

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "metadata" / "schema"
BASE_URI = "https://tessera.dev/schema/"
KINDS = ("object", "field", "extension", "layout", "permission_set", "email_template", "automation", "approval_process", "report", "dashboard", "changeset")


@lru_cache(maxsize=None)
def _raw_schema(kind: str) -> dict:
    return json.loads((SCHEMA_DIR / f"{kind}.schema.json").read_text(encoding="utf-8"))


def _registry(field_types: tuple[str, ...]) -> Registry:
    resources = []
    for path in sorted(SCHEMA_DIR.glob("*.schema.json")):
        contents = json.loads(path.read_text(encoding="utf-8"))
        if path.name == "field.schema.json":
            # Plugins may register field types: the enum follows the live registry.
            contents["properties"]["type"]["enum"] = list(field_types)
        resources.append((contents["$id"], Resource.from_contents(contents)))
    return Registry().with_resources(resources)


@lru_cache(maxsize=8)
def validator_for(kind: str, field_types: tuple[str, ...]) -> Draft202012Validator:
    if kind not in KINDS:
        raise KeyError(kind)
    schema = {"$ref": BASE_URI + f"{kind}.schema.json"}
    return Draft202012Validator(schema, registry=_registry(field_types))


def check_document(kind: str, doc: Any, source: str, field_types: Iterable[str], at: str = "") -> list[Problem]:
    """Validate one document against its meta-schema; return the problems found."""
    validator = validator_for(kind, tuple(field_types))
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
    problems: list[Problem] = []
    for error in errors:
        for leaf in _leaves(error):
            problems.append(Problem(source, at + pointer(*leaf.absolute_path), describe(leaf)))
    found = unstorable(doc)
    if found:
        problems.append(Problem(source, at + found[0], found[1]))
    return _unique(problems)


def _leaves(error: ValidationError) -> list[ValidationError]:
    # $ref and allOf wrap the real error; anyOf/oneOf keep alternatives in context.
    if error.validator in ("anyOf", "oneOf") and error.context:
        deepest = max(error.context, key=lambda e: len(e.absolute_path))
        return [deepest]
    return [error]


def _unique(problems: list[Problem]) -> list[Problem]:
    seen, result = set(), []
    for p in problems:
        if (p.pointer, p.message) not in seen:
            seen.add((p.pointer, p.message))
            result.append(p)
    return result


_TYPE_WORDS = {  # the code of each JSON type's wording in core/words.py
    "string": "json_string",
    "integer": "json_integer",
    "number": "json_number",
    "boolean": "json_boolean",
    "object": "json_object",
    "array": "json_array",
    "null": "json_null",
}

_PATTERN_HINTS = {  # the code of the wording that says what a pattern allows
    "^[a-z][a-z0-9_]*$": "pattern_name",
    "^[a-z0-9][a-z0-9_]*$": "pattern_value",
    "^#[0-9a-fA-F]{6}$": "pattern_colour",
    "^[A-Z]{3}$": "pattern_currency",
    "^[a-z0-9]+(-[a-z0-9]+)*$": "pattern_icon",
}


def describe(error: ValidationError) -> Sentence:
    """One plain sentence for a JSON Schema error (English as ``str``, Chinese ``in_("zh-CN")``)."""
    v, instance, value = error.validator, error.instance, error.validator_value
    if v == "required":
        missing = [name for name in value if isinstance(instance, dict) and name not in instance]
        return sentence("key_required", key=missing[0] if missing else value)
    if v == "additionalProperties":
        return _unknown_keys(error)
    if v == "enum":
        return _not_among(error)
    if v == "const":
        return sentence("must_be_constant", value=repr(value))
    if v == "type":
        wanted = value if isinstance(value, list) else [value]
        return sentence("must_be_type", types=json_types(*wanted))
    if v == "pattern":
        allowed = sentence(_PATTERN_HINTS[value]) if value in _PATTERN_HINTS else sentence("pattern_other", pattern=value)
        return sentence("not_allowed_pattern", value=repr(instance), hint=allowed)
    return _bounded(v, value, error) or _plain(error)


def _bounded(v: str, value: Any, error: ValidationError) -> Sentence | None:
    if v == "minLength":
        return sentence("must_not_be_empty") if value == 1 else sentence("at_least_characters", limit=value)
    if v == "maxLength":
        return sentence("at_most_characters", limit=value)
    if v == "minItems":
        return sentence("at_least_one_item") if value == 1 else sentence("at_least_items", limit=value)
    if v == "maxItems":
        return sentence("at_most_items", limit=value)
    if v == "uniqueItems":
        return sentence("same_item_twice")
    if v == "minimum":
        return sentence("minimum", limit=value)
    if v == "maximum":
        return sentence("maximum", limit=value)
    if v == "format":
        return sentence("not_valid_format", value=repr(error.instance), format=value)
    return None


def _plain(error: ValidationError) -> Sentence:
    if error.validator is False or error.schema is False:
        return sentence("not_allowed_here")
    return Sentence("schema_other", {}, text=error.message)


def _unknown_keys(error: ValidationError) -> Sentence:
    known = list(error.schema.get("properties", {}))
    extras = [k for k in error.instance if k not in known] if isinstance(error.instance, dict) else []
    if not extras:
        return Sentence("schema_other", {}, text=error.message)
    said = [sentence("not_a_known_key", key=k, hint=hint(k, known)) for k in extras]
    return said[0] if len(said) == 1 else Several("several", parts=tuple(said))


def _not_among(error: ValidationError) -> Sentence:
    path, instance, value = list(error.absolute_path), error.instance, error.validator_value
    choices = hint(instance, map(str, value))
    if path and path[-1] == "type":
        return sentence("not_a_field_type", value=repr(instance), hint=choices)
    return sentence("not_one_of", value=repr(instance), values=", ".join(map(repr, value)), hint=choices)


def json_types(*names: str) -> Sentence | str:
    """JSON types ("integer", "null") as the words saying them, joined by "or"; a name without words stays as it is."""
    return _either(*(sentence(_TYPE_WORDS[t]) if t in _TYPE_WORDS else t for t in names))


def _either(*words: Sentence | str) -> Sentence | str:
    """"a text or null": the types a value may have, joined by "or"."""
    return words[0] if len(words) == 1 else sentence("either", first=words[0], other=_either(*words[1:]))
