"""Record validation: a JSON Schema generated per object, compiled once per metadata version.

The schema checks shape (types, lengths, ranges, picklist values, unknown fields); the
field types then parse each value into what the database stores. Every problem is
reported against its field, in words a user can act on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import fastjsonschema
from jsonschema import Draft202012Validator, FormatChecker, ValidationError

from core.fieldtypes import parse_record_id
from core.metadata.model import SYSTEM_FIELDS, FieldDef, ObjectDef
from core.words import LANGUAGES, WORDS, Sentence, WordedError, code_and_params, hint, sentence, sentence_of

FORMAT_CHECKER = FormatChecker(formats=("email", "date"))
WRITABLE_SYSTEM_FIELDS = ("owner",)
OWNER_FIELD_SPEC = {"name": "owner", "type": "lookup", "target": "user", "label": {"en": "Owner", "zh-CN": "负责人"}}

@dataclass(frozen=True)
class FieldError:
    """One field's problem. Built from a Sentence (``FieldError(name, sentence(...))`` or ``FieldError.coded``) it
    keeps the code and params and can be said in either language; ``message`` is its English."""

    field: str
    message: Any  # the English text; given as a Sentence, it becomes that Sentence's English
    code: str = ""  # a code of core.words.WORDS, or of a plugin's wordings
    params: dict = field(default_factory=dict, compare=False)
    said: Sentence | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        said = self.said or sentence_of(self.message) or (Sentence(self.code, self.params) if self.code in WORDS else None)
        if said is not None:
            for name, value in (("said", said), ("message", str(said)), ("code", said.code), ("params", said.params)):
                object.__setattr__(self, name, value)

    @classmethod
    def coded(cls, name: str, code: str, **params: Any) -> "FieldError":
        return cls(name, sentence(code, **params))

    def worded(self, lang: str) -> str:
        """The message in ``lang`` ("en" or "zh-CN"); in English where there is no other wording."""
        return self.said.in_(lang) if self.said is not None else str(self.message)

    def as_dict(self, lang: str = "en") -> dict:
        """The API's shape: field, message (in ``lang``), code and params; a worded problem also spreads its
        params and gives ``messages`` in every language."""
        coded = code_and_params(self.said, lang)
        if self.said is None:
            return {"field": self.field, "message": self.message, **coded}
        return {**coded["params"], "field": self.field, "message": self.worded(lang), **coded,
                "messages": {language: self.worded(language) for language in LANGUAGES}}


class RecordValidationError(ValueError):
    def __init__(self, object_name: str, errors: list[FieldError]) -> None:
        self.object = object_name
        self.errors = errors
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))


class RecordValidator:
    """Validates and parses record input for one object (one metadata version).

    The schema is compiled twice: by fastjsonschema (a fast yes/no on the write path) and
    by jsonschema, which only runs when the answer is no, to report every problem.
    """

    def __init__(self, obj: ObjectDef, owner_field: FieldDef | None = None) -> None:
        self.object = obj
        self.fields = {f.name: f for f in obj.active_fields() if self._writable(f)}
        if owner_field is not None:
            self.fields["owner"] = owner_field
        schema = {"type": "object", "properties": {n: f.type.json_schema(f.spec) for n, f in self.fields.items()}}
        self.schema = schema
        self._validator = Draft202012Validator(schema, format_checker=FORMAT_CHECKER)
        self._fast = fastjsonschema.compile({"$schema": "http://json-schema.org/draft-07/schema#", **schema})
        self.required = [f.name for f in obj.active_fields() if f.required and self._writable(f)]
        self._blank_is_null = {n for n, f in self.fields.items() if not f.type.blank_is_value}
        self._read_only = {n for n, f in self.fields.items() if f.spec.get("read_only")}
        self._computed = {f.name: "formula_read_only" if f.formula else "rollup_read_only" for f in obj.active_fields() if f.computed}
        # Per field: how a valid value is parsed (None: kept as it is); many-to-many links have their own parse.
        self._parsers: dict[str, Callable[[Any], Any] | None] = {
            n: None if f.type.parses_as_given else f.type.parser(f.spec) for n, f in self.fields.items() if f.type.name != "many_to_many"}
        # Per number field with a min or max: its definition (JSON Schema bounds only numbers sent as JSON numbers)
        self._bounded = {n: f.spec for n, f in self.fields.items() if f.type.family == "number" and ("min" in f.spec or "max" in f.spec)}
        self._columns: dict[str, Callable[[list], Any]] = {}  # per field: the schema check of a list of values (validate_many)
        self._shapes: dict[tuple, Any] = {}  # validate_many: what the names a row gives decide (see _shape)

    @staticmethod
    def _writable(fdef: FieldDef) -> bool:
        return fdef.type.name != "autonumber" and not fdef.computed

    def validate(self, data: Any, partial: bool, trusted: bool = False, hidden: frozenset[str] = frozenset(),
                 locked: frozenset[str] = frozenset()) -> dict[str, Any]:
        """Return parsed values, or raise RecordValidationError listing every field's problem.

        ``trusted`` writes (plugin hooks, in-transaction plugin writes) may set read-only
        fields; a user's may not. ``hidden``: fields the writer's role may not see, answered
        exactly like fields that do not exist (and never suggested); ``locked``: fields the
        role may see but not change.
        """
        if not isinstance(data, dict):
            raise RecordValidationError(self.object.name, [FieldError.coded("", "not_an_object")])
        errors = self._missing(data, partial) + [self._unknown(name, hidden) for name in data
                                                 if (name not in self.fields and name not in self._computed) or name in hidden]
        errors += [FieldError.coded(name, self._computed[name]) for name in data
                   if name in self._computed and name not in hidden and data[name] is not None]
        errors += [FieldError.coded(name, "locked_field") for name in data if name in locked and name not in hidden]
        if not trusted:
            errors += [FieldError.coded(name, "read_only") for name in data
                       if name in self._read_only and data[name] is not None]
        failed = {e.field for e in errors}
        # An empty form input means "no value" for everything but text.
        present = {
            k: v for k, v in data.items()
            if k in self.fields and k not in failed and v is not None and not (v == "" and k in self._blank_is_null)
        }
        try:
            self._fast(present)
        except fastjsonschema.JsonSchemaException:
            for error in self._validator.iter_errors(present):
                name = str(error.absolute_path[0]) if error.absolute_path else ""
                if name not in failed:
                    errors.append(field_error(name, error, self.fields.get(name)))
                    failed.add(name)
        parsed: dict[str, Any] = {k: None for k in data if k in self.fields and k not in failed and k not in present}
        for name, value in present.items():
            if name in failed:
                continue
            try:
                if name in self._parsers:
                    parse = self._parsers[name]
                    parsed[name] = value if parse is None else parse(value)
                else:
                    parsed[name] = parse_links(self.fields[name], value)
            except (ValueError, TypeError) as exc:
                errors.append(FieldError(name, sentence_of(exc) or str(exc)))
                continue
            beyond = out_of_bounds(name, self._bounded[name], parsed[name]) if name in self._bounded else None
            if beyond:
                errors.append(beyond)
        if errors:
            raise RecordValidationError(self.object.name, errors)
        return parsed

    def validate_many(self, rows: list, partial: bool = False, trusted: bool = False, hidden: frozenset[str] = frozenset(),
                      locked: frozenset[str] = frozenset()) -> tuple[list[dict | None], dict[int, list[FieldError]]]:
        """``validate`` for each row of a batch: the parsed values of each row (None when refused) and the
        errors of each refused row, by index; the same answers as calling ``validate`` on each.

        For less per row: what depends only on the names a row gives (unknown, hidden, locked, read-only
        and missing fields) is worked out once per set of names, the JSON Schema check runs once per
        field over the batch's values of that field, and each field's parser is looked up once. A row
        that any of this doubts (a problem, or anything unusual) goes through ``validate``, which words
        its errors.
        """
        parsed_rows: list[dict | None] = [None] * len(rows)
        doubtful = [index for index, data in enumerate(rows) if type(data) is not dict]
        groups = positions_by_key(tuple(data) if type(data) is dict else None for data in rows)  # names given -> rows
        hidden, locked = frozenset(hidden), frozenset(locked)
        for names, indexes in groups.items():
            shape = self._shapes.get((names, partial, trusted, hidden, locked))
            if shape is None:
                shape = self._shape(names, partial, trusted, hidden, locked)
            if shape is False or not names:
                doubtful.extend(indexes)
                continue
            picked = [rows[i] for i in indexes]
            suspect: set[int] = set()  # positions in the group left to validate
            parsed_columns = []
            for name in names:
                column = [data[name] for data in picked]
                suspect.update(self._unusual(name, column, shape))
                parse = self._parsers[name]
                if parse is not None:
                    try:
                        column_parsed = list(map(parse, column))
                    except Exception:  # noqa: BLE001 - validate words the problem
                        column_parsed = []
                        for position, value in enumerate(column):
                            try:
                                column_parsed.append(parse(value))
                            except Exception:  # noqa: BLE001
                                column_parsed.append(None)
                                suspect.add(position)
                else:
                    column_parsed = column
                if name in self._bounded:
                    spec = self._bounded[name]
                    suspect.update(p for p, value in enumerate(column_parsed) if out_of_bounds(name, spec, value))
                suspect.update(self._failing(name, column))
                parsed_columns.append(column_parsed)
            for position, values in enumerate(zip(*parsed_columns)):
                if position in suspect:
                    doubtful.append(indexes[position])
                else:
                    parsed_rows[indexes[position]] = dict(zip(names, values))
        errors: dict[int, list[FieldError]] = {}
        for index in sorted(doubtful):
            try:
                parsed_rows[index] = self.validate(rows[index], partial=partial, trusted=trusted, hidden=hidden, locked=locked)
            except RecordValidationError as exc:
                parsed_rows[index] = None
                errors[index] = exc.errors
        return parsed_rows, errors

    def _unusual(self, name: str, column: list, required: frozenset[str]) -> list[int]:
        """Positions of the values validate_many leaves to validate: empty ones (None, or "" where that means
        no value or the field is required, or [] for a required field)."""
        is_required = name in required
        blank = name in self._blank_is_null or is_required
        if None not in column and not (blank and "" in column) and not (is_required and [] in column):
            return []
        return [position for position, value in enumerate(column)
                if value is None or (blank and value == "") or (is_required and value == [])]

    def _shape(self, names: tuple, partial: bool, trusted: bool, hidden: frozenset[str], locked: frozenset[str]) -> Any:
        """For rows giving ``names``: False when each goes to validate (an unknown, hidden, locked or read-only
        name, a many-to-many field, a required field missing), else the required fields among the names."""
        given = set(names)
        if (any(n not in self._parsers or n in hidden or n in locked for n in names)
                or (not trusted and not given.isdisjoint(self._read_only))
                or (not partial and any(n not in given and "default" not in self.fields[n].spec for n in self.required))):
            shape: Any = False
        else:
            shape = frozenset(n for n in self.required if n in given)
        if len(self._shapes) < 1000:
            self._shapes[(names, partial, trusted, hidden, locked)] = shape
        return shape

    def _failing(self, name: str, values: list) -> list[int]:
        """The positions of the values the JSON Schema of field ``name`` refuses (fastjsonschema, like ``validate``)."""
        check = self._columns.get(name)
        if check is None:
            check = self._columns[name] = fastjsonschema.compile(
                {"$schema": "http://json-schema.org/draft-07/schema#", "type": "array", "items": self.schema["properties"][name]})
        failing: list[int] = []
        start = 0
        while start < len(values):
            try:
                check(values[start:] if start else values)
                break
            except fastjsonschema.JsonSchemaValueException as exc:
                position = _item_position(exc)
                if position is None:  # cannot tell which value: let validate look at each
                    return failing + list(range(start, len(values)))
                failing.append(start + position)
                start += position + 1
            except Exception:  # noqa: BLE001 - a value the generated code did not expect: validate judges
                return failing + list(range(start, len(values)))
        return failing

    def _missing(self, data: dict, partial: bool) -> list[FieldError]:
        errors = []
        for name in self.required:
            present = name in data
            if present and data[name] in (None, "", []):
                errors.append(FieldError.coded(name, "required"))
            elif not partial and not present and "default" not in self.fields[name].spec:
                errors.append(FieldError.coded(name, "required"))
        return errors

    def _unknown(self, name: str, hidden: frozenset[str] = frozenset()) -> FieldError:
        fdef = self.object.fields.get(name)
        if name not in hidden and (name in SYSTEM_FIELDS or (fdef is not None and not fdef.removed)):
            return FieldError.coded(name, "system_field")
        known = [n for n in self.fields if n not in hidden]
        return FieldError.coded(name, "unknown_field", object=self.object.name, hint=hint(name, known))


def positions_by_key(keys: Iterable[Any]) -> dict[Any, list[int]]:
    """The positions of each key in ``keys``, None keys left out: ``[a, None, a, b]`` gives ``{a: [0, 2], b: [3]}``."""
    found: dict[Any, list[int]] = {}
    for position, key in enumerate(keys):
        if key is not None:
            group = found.get(key)
            if group is None:
                found[key] = [position]
            else:
                group.append(position)
    return found


def _item_position(exc: fastjsonschema.JsonSchemaValueException) -> int | None:
    """Which item of an array a fastjsonschema error is about (its name is 'data[position]...')."""
    path = exc.path
    return int(path[1]) if len(path) >= 2 and path[0] == "data" and path[1].isdigit() else None


def parse_links(fdef: FieldDef, value: list) -> list[dict]:
    """Many-to-many input ([12, {"id": 13, "role": "buyer"}]) as links with parsed relation fields."""
    through = {t.name: t for t in fdef.through}
    links, seen = [], set()
    for position, item in enumerate(value, start=1):
        item = item if isinstance(item, dict) else {"id": item}
        link = {"id": parse_record_id(item["id"], fdef.spec)}
        for key, raw in item.items():
            if key == "id":
                continue
            tdef = through.get(key)
            if tdef is None:
                raise WordedError("link_unknown_field", position=position, key=key, hint=hint(key, through))
            if raw is None:
                link[key] = None
                continue
            error = next(iter(Draft202012Validator(tdef.type.json_schema(tdef.spec), format_checker=FORMAT_CHECKER).iter_errors(raw)), None)
            if error is not None:
                raise _link_problem(position, key, describe_value_error(error, tdef))
            try:
                link[key] = tdef.type.parse(raw, tdef.spec)
            except (ValueError, TypeError) as exc:
                raise _link_problem(position, key, sentence_of(exc) or str(exc)) from None
            beyond = out_of_bounds(key, tdef.spec, link[key]) if tdef.type.family == "number" else None
            if beyond:
                raise _link_problem(position, key, beyond.said)
        if link["id"] not in seen:
            seen.add(link["id"])
            links.append(link)
    return links


def _link_problem(position: int, key: str, problem: Sentence | str) -> WordedError:
    """A many-to-many link's relation field refused: "link 2: role: ..."."""
    return WordedError("link_problem", position=position, problem=Sentence("field_problem", {"field": key, "problem": problem}))


BOUNDS = {"minimum": "minimum", "exclusiveMinimum": "exclusive_minimum", "maximum": "maximum"}


def field_error(name: str, error: ValidationError, fdef: FieldDef | None) -> FieldError:
    """A JSON Schema error of one field as the FieldError a person reads (with its code where WORDS has one)."""
    leaf = _leaf(error)
    if leaf.validator in BOUNDS:
        return FieldError.coded(name, BOUNDS[leaf.validator], limit=number_text(leaf.validator_value))
    return FieldError(name, describe_value_error(error, fdef))


def out_of_bounds(name: str, spec: dict, value: Any) -> FieldError | None:
    """A parsed number beyond the field's min or max (a number sent as text too, which JSON Schema does not bound)."""
    if value is None or isinstance(value, bool):
        return None
    low, high = spec.get("min"), spec.get("max")
    if low is not None and spec.get("min_exclusive") and value <= low:
        return FieldError.coded(name, "exclusive_minimum", limit=number_text(low))
    if low is not None and value < low:
        return FieldError.coded(name, "minimum", limit=number_text(low))
    if high is not None and value > high:
        return FieldError.coded(name, "maximum", limit=number_text(high))
    return None


def number_text(value: Any) -> Any:
    """A limit as written for people: 100, not 100.0."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _leaf(error: ValidationError) -> ValidationError:
    if error.validator == "anyOf" and error.context:
        # the first alternative is null; report against the field's own schema
        relevant = [e for e in error.context if e.schema_path and e.schema_path[0] != 0]
        return max(relevant or error.context, key=lambda e: len(e.absolute_path))
    return error


def describe_value_error(error: ValidationError, fdef: FieldDef | None) -> Sentence:
    leaf = _leaf(error)
    v, value, instance = leaf.validator, leaf.validator_value, leaf.instance
    type_name = fdef.type.name if fdef else ""
    if v == "enum":
        values = [str(x) for x in value]
        shown = ", ".join(values[:12]) + (", ..." if len(values) > 12 else "")
        return sentence("not_a_value", value=instance, field=fdef.name if fdef else "", values=shown, hint=hint(instance, values))
    if v == "maxLength":
        return sentence("too_long", length=len(instance), limit=value)
    if v == "minLength":
        return sentence("too_short", limit=value)
    if v in BOUNDS:
        return sentence(BOUNDS[v], limit=number_text(value))
    if v == "uniqueItems":
        return sentence("repeated_value")
    if v == "required" and fdef is not None and fdef.type.family == "relation":
        return sentence("record_id_shape")
    expected = f"expected_{type_name}" if f"expected_{type_name}" in WORDS else ("expected_text" if type_name else "expected_valid")
    return sentence("wrong_type", expected=sentence(expected), value=_short(instance))


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _typed_as_text(ftype) -> bool:
    """Text a person types, or one choice of a list: a value of another JSON type is taken as its text."""
    return (ftype.family == "text" and ftype.widget != "readonly") or ftype.single_choice


def field_validator(fdef: FieldDef) -> Callable[[Any], Any]:
    """Check and parse one value for ``fdef`` (used when converting stored values)."""
    validator = Draft202012Validator(fdef.type.json_schema(fdef.spec), format_checker=FORMAT_CHECKER)

    def check(value: Any) -> Any:
        candidates = [value]
        if fdef.type.family == "number" and isinstance(value, str):
            candidates.append(value.strip())
        if fdef.type.family == "choice" and fdef.type.multiple and isinstance(value, str):
            candidates = [[value]]
        if _typed_as_text(fdef.type) and not isinstance(value, str):
            candidates = [str(value).lower() if isinstance(value, bool) else str(value)]
        for candidate in candidates:
            error = next(iter(validator.iter_errors(candidate)), None)
            if error is None:
                return fdef.type.parse(candidate, fdef.spec)
        raise WordedError("field_problem", field=_short(value), problem=describe_value_error(error, fdef))

    return check
