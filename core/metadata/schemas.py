"""The meta-schemas of metadata/schema/ and the plain-language rendering of their errors."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

from jsonschema import Draft202012Validator, ValidationError
from referencing import Registry, Resource

from core.jsontext import unstorable
from core.metadata.problems import Problem, did_you_mean, pointer

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "metadata" / "schema"
BASE_URI = "https://tessera.dev/schema/"
KINDS = ("object", "field", "extension", "layout", "permission_set", "changeset")


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


_TYPE_WORDS = {
    "string": "a text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "object": "an object ({...})",
    "array": "a list ([...])",
    "null": "null",
}

_PATTERN_HINTS = {
    "^[a-z][a-z0-9_]*$": "use lower-case letters, digits and underscores, starting with a letter",
    "^[a-z0-9][a-z0-9_]*$": "use lower-case letters, digits and underscores",
    "^#[0-9a-fA-F]{6}$": "use a colour like #1f77b4",
    "^[A-Z]{3}$": "use a three-letter currency code like USD or CNY",
    "^[a-z0-9]+(-[a-z0-9]+)*$": "use the name of a Lucide icon, like building-2 (lower-case words joined by hyphens)",
}


def describe(error: ValidationError) -> str:
    """One plain sentence for a JSON Schema error."""
    v, instance, value = error.validator, error.instance, error.validator_value
    if v == "required":
        missing = [name for name in value if isinstance(instance, dict) and name not in instance]
        return f"'{missing[0] if missing else value}' is required"
    if v == "additionalProperties":
        known = list(error.schema.get("properties", {}))
        extras = [k for k in instance if k not in known] if isinstance(instance, dict) else []
        return "; ".join(f"'{k}' is not a known key{did_you_mean(k, known)}" for k in extras) or error.message
    if v == "enum":
        path = list(error.absolute_path)
        what = "a field type" if path and path[-1] == "type" else "one of " + ", ".join(map(repr, value))
        return f"{instance!r} is not {what}{did_you_mean(instance, map(str, value))}"
    if v == "const":
        return f"must be {value!r}"
    if v == "type":
        wanted = value if isinstance(value, list) else [value]
        return "must be " + " or ".join(_TYPE_WORDS.get(t, t) for t in wanted)
    if v == "pattern":
        hint = _PATTERN_HINTS.get(value, f"it must match {value}")
        return f"{instance!r} is not allowed here: {hint}"
    if v == "minLength":
        return "must not be empty" if value == 1 else f"must be at least {value} characters long"
    if v == "maxLength":
        return f"is too long: at most {value} characters"
    if v == "minItems":
        return f"needs at least {value} item{'s' if value != 1 else ''}"
    if v == "maxItems":
        return f"has too many items: at most {value}"
    if v == "uniqueItems":
        return "lists the same item twice"
    if v == "minimum":
        return f"must be at least {value}"
    if v == "maximum":
        return f"must be at most {value}"
    if v == "format":
        return f"{instance!r} is not a valid {value}"
    if v is False or error.schema is False:
        return "is not allowed here"
    return error.message
