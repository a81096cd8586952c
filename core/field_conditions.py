"""Dependent picklists, conditional fields and defaults by expression: declared on fields, checked with the metadata,
enforced by the record service's write pipeline, shown by the record form.

* ``depends_on`` (a picklist or multi-picklist): ``{"field": "country", "values": {"cn": ["beijing"], ...}}``. The
  controlling field (a picklist or a boolean of the same object; a boolean's values are ``"true"`` and ``"false"``)
  decides which of the dependent field's values are allowed. A controlling value not listed, or a blank controlling
  picklist, allows none: the dependent field must then be blank (a blank boolean reads as false). A blank dependent field is always allowed (unless it is
  required).
* ``visible_if`` (a boolean expression): whether the record form shows the field. A field hidden this way keeps the
  value it holds: the form does not send it, so nothing clears it.
* ``required_if`` (a boolean expression): when it holds for the record as it will be stored, the field must have a
  value, on every write path.
* ``default_expression`` (an expression of the field's type): on create, the value of a field not given, computed on
  the values given and the plain ``default``\\ s (not on other defaults by expression); blank leaves the plain default.

On update, a dependent pair is checked when the write changes either field, and ``required_if`` when it changes the
field or a field its expression reads (a record stored before the rule keeps what it holds until then).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from core.expressions import ExpressionError, check, evaluate
from core.expressions.check import BOOLEAN, value_type
from core.metadata.model import FieldDef, MetadataSet, ObjectDef
from core.metadata.problems import Problem, pointer
from core.validation import FieldError
from core.words import hint, sentence, sentence_of

CONDITIONS = ("visible_if", "required_if", "default_expression")
OPTIONS = frozenset({*CONDITIONS, "depends_on"})
BOOLEAN_VALUES = ("true", "false")


def _given(spec: dict, key: str) -> Any:
    value = spec.get(key)
    return None if value in (None, "", {}) else value


def controlling_values(fdef: FieldDef) -> list[str]:
    """The values a controlling field can hold, as ``depends_on`` lists them."""
    if fdef.type.family == "boolean":
        return list(BOOLEAN_VALUES)
    return [v["value"] for v in fdef.spec.get("values", [])]


def controlling_key(value: Any) -> str | None:
    """A controlling field's value as a key of ``depends_on.values``; None when blank."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def check_dependencies(meta: MetadataSet) -> list[Problem]:
    """Every ``depends_on``: a controlling picklist or boolean of the same object, known values, no circle."""
    problems: list[Problem] = []
    for obj in meta.objects.values():
        for fdef in obj.active_fields():
            depends = _given(fdef.spec, "depends_on")
            if depends is None or "values" not in fdef.type.options:
                continue  # on another type, the general check says the option does not apply
            problems += _check_dependency(obj, fdef, depends)
        problems += _dependency_cycles(obj)
    return problems


def _check_dependency(obj: ObjectDef, fdef: FieldDef, depends: dict) -> list[Problem]:
    at, problems = f"{fdef.at}/depends_on", []
    name = depends.get("field")
    names = [f.name for f in obj.active_fields()]
    controlling = obj.fields.get(name or "")
    if name == fdef.name:
        return [Problem(fdef.source, at + "/field", sentence("depends_on_itself", field=fdef.name))]
    if controlling is None or controlling.removed:
        return [Problem(fdef.source, at + "/field", sentence("meta_unknown_field", field=name, object=obj.name, hint=hint(str(name), names)))]
    if not (controlling.type.single_choice or controlling.type.family == "boolean"):
        return [Problem(fdef.source, at + "/field", sentence("depends_on_kind", field=name, object=obj.name, type=controlling.type.name))]
    known, mine = controlling_values(controlling), [v["value"] for v in fdef.spec.get("values", [])]
    for key, allowed in (depends.get("values") or {}).items():
        if key not in known:
            problems.append(Problem(fdef.source, at + pointer("values", key),
                                    sentence("meta_unknown_value", value=key, object=obj.name, field=name, hint=hint(key, known))))
        for i, value in enumerate(allowed):
            if value not in mine:
                problems.append(Problem(fdef.source, at + pointer("values", key, i),
                                        sentence("meta_unknown_value", value=value, object=obj.name, field=fdef.name, hint=hint(value, mine))))
    return problems


def _dependency_cycles(obj: ObjectDef) -> list[Problem]:
    """Picklists that depend on each other in a circle (a → b → a): no value of either could ever be chosen first."""
    follows = {f.name: _given(f.spec, "depends_on")["field"] for f in obj.active_fields()
               if _given(f.spec, "depends_on") and isinstance(_given(f.spec, "depends_on").get("field"), str)}
    problems, reported = [], set()
    for start in follows:
        path, name = [start], follows[start]
        while name in follows and name not in path:
            path.append(name)
            name = follows[name]
        if name != start or len(path) < 2 or frozenset(path) in reported:
            continue  # no circle through this field (a field naming itself is reported with it)
        reported.add(frozenset(path))
        first = obj.fields[start]
        problems.append(Problem(first.source, f"{first.at}/depends_on/field", sentence("depends_on_cycle", cycle=" → ".join([*path, start]))))
    return problems


def check_conditions(meta: MetadataSet) -> list[Problem]:
    """Type-check every ``visible_if``, ``required_if`` (boolean) and ``default_expression`` (the field's type); keeps
    each checked expression on its field (``FieldDef.conditions``)."""
    problems: list[Problem] = []
    for obj in meta.objects.values():
        for fdef in obj.active_fields():
            fdef.conditions = {}
            for key in CONDITIONS:
                text = _given(fdef.spec, key)
                if text is None:
                    continue
                expect = BOOLEAN if key != "default_expression" else _default_type(fdef)
                if expect is None:
                    problems.append(Problem(fdef.source, f"{fdef.at}/{key}", sentence("no_default_expression_for", type=fdef.type.name)))
                    continue
                try:
                    fdef.conditions[key] = check(meta, obj.name, text, expect=expect)
                except ExpressionError as exc:
                    problems.append(Problem(fdef.source, f"{fdef.at}/{key}", exc.as_sentence()))
    return problems


def _default_type(fdef: FieldDef) -> str | None:
    if fdef.computed or fdef.type.family == "relation" or fdef.type.widget == "readonly" or not fdef.has_column:
        return None
    return value_type(fdef.type)


# --- on records --------------------------------------------------------------------------------


def blank(value: Any) -> bool:
    return value is None or value == "" or value == []


def holds(typed: Any, record: Mapping[str, Any], fetch: Callable | None = None) -> bool:
    """Whether a condition is true for ``record``; a blank or a value that cannot be read is false."""
    try:
        return evaluate(typed, record, fetch) is True
    except (ValueError, ArithmeticError, TypeError):
        return False


def allowed_values(fdef: FieldDef, record: Mapping[str, Any], obj: ObjectDef | None = None) -> list[str] | None:
    """The values of a dependent picklist the record's controlling field allows; None: the field depends on nothing.
    With ``obj``, a blank boolean controlling field reads as false (an unticked checkbox)."""
    depends = _given(fdef.spec, "depends_on")
    if depends is None:
        return None
    key = _key(depends, record, obj)
    return list((depends.get("values") or {}).get(key, [])) if key is not None else []


def _key(depends: dict, record: Mapping[str, Any], obj: ObjectDef | None) -> str | None:
    key = controlling_key(record.get(depends["field"]))
    controlling = obj.fields.get(depends["field"]) if obj is not None else None
    if key is None and controlling is not None and controlling.type.family == "boolean":
        return "false"
    return key


def reads(typed: Any) -> set[str]:
    """The fields of its own object an expression reads (a path through a lookup reads the lookup)."""
    return {ref.fields[0].name for ref in typed.refs() if ref.fields}


def default_values(obj: ObjectDef, values: Mapping[str, Any], given: Any, fetch: Callable | None = None
                   ) -> tuple[dict[str, Any], list[FieldError]]:
    """The defaults by expression of the fields not ``given``, computed on ``values``, parsed as the fields store them."""
    found, problems = {}, []
    for fdef in obj.active_fields():
        typed = fdef.conditions.get("default_expression")
        if typed is None or (isinstance(given, Mapping) and fdef.name in given):
            continue
        try:
            value = evaluate(typed, values, fetch)
        except (ValueError, ArithmeticError, TypeError):
            continue
        if blank(value):
            continue
        try:
            found[fdef.name] = fdef.type.parse(_as_input(fdef, value), fdef.spec)
        except (ValueError, TypeError, ArithmeticError) as exc:
            problems.append(FieldError(fdef.name, sentence_of(exc) or str(exc)))
    return found, problems


def _as_input(fdef: FieldDef, value: Any) -> Any:
    """An expression's value as a field's parser takes it (what the API would send)."""
    if fdef.type.family == "number":
        scale = fdef.spec.get("scale", 0 if fdef.type.whole else 2)
        return str(round(value, scale)) if not fdef.type.whole else str(int(round(value, 0)))
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def record_problems(obj: ObjectDef, record: Mapping[str, Any], changed: set[str] | None,
                    fetch: Callable | None = None) -> list[FieldError]:
    """What a record as it will be stored breaks: a dependent value its controlling value does not allow, a field
    required by its condition left blank. ``changed``: the fields an update writes (None: a create, all checked)."""
    problems = []
    for fdef in obj.active_fields():
        depends = _given(fdef.spec, "depends_on")
        if depends is not None and (changed is None or fdef.name in changed or depends["field"] in changed):
            problems += _dependency_problems(obj, fdef, depends, record)
        typed = fdef.conditions.get("required_if")
        if typed is None or (changed is not None and fdef.name not in changed and not (reads(typed) & changed)):
            continue
        if changed is not None and fdef.name not in record:
            continue  # a many-to-many field the update does not write
        if blank(record.get(fdef.name)) and holds(typed, record, fetch):
            problems.append(FieldError.coded(fdef.name, "required"))
    return problems


def _dependency_problems(obj: ObjectDef, fdef: FieldDef, depends: dict, record: Mapping[str, Any]) -> list[FieldError]:
    value = record.get(fdef.name)
    if blank(value):
        return []
    allowed = allowed_values(fdef, record, obj) or []
    controlling = depends["field"]
    key = _key(depends, record, obj)
    for one in value if isinstance(value, list) else [value]:
        if one not in allowed:
            if key is None:
                return [FieldError.coded(fdef.name, "dependent_needs_controlling", value=one, controlling=controlling)]
            return [FieldError.coded(fdef.name, "dependent_not_allowed", value=one, controlling=controlling, controlling_value=key)]
    return []
