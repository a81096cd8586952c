"""Which column fills which field, and how a cell's text becomes the field's value.

Columns map automatically when their header is a field's name or its label in either
language (case, spaces, '_' and '-' ignored); a mapping file (docs/implementer-guide.md)
names or corrects them, maps values ('technolgy' -> 'technology'), says how lookups
find their records and which rules find duplicates.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Callable

from jsonschema import Draft202012Validator

from core.fieldtypes import as_record_id
from core.metadata.files import parse_json
from core.metadata.model import FieldDef, ObjectDef
from core.metadata.problems import MetadataError
from core.permissions import Access
from core.words import Sentence, hint, sentence, sentence_of

MAPPING_FORMAT = "tessera-import-mapping/1"
THEN = ("update", "skip", "create")
DEFAULT_DATE_FORMATS = ("YYYY/MM/DD", "YYYY.MM.DD", "YYYY年MM月DD日")
TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1", "on", "是", "对"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "0", "off", "否", "不"})
LINK_SEPARATORS = re.compile(r"[;；\n]")  # between the records of a many-to-many cell (names may hold commas)
PICKLIST_MEMO = 10_000  # distinct cell texts a picklist column remembers the value of
_GROUPED = re.compile(r"^-?\d{1,3}(,\d{3})+(\.\d+)?$")
_SPACES = re.compile(r"[\s_\-]+")

_ENTRY = {
    "type": "object",
    "properties": {
        "field": {"type": "string", "minLength": 1},
        "values": {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean", "null"]}},
        "match": {"type": "string", "minLength": 1},
        "trim": {"type": "boolean"},
        "date_formats": {"type": "array", "items": {"type": "string", "minLength": 1}},
    },
    "required": ["field"],
    "additionalProperties": False,
}
MAPPING_SCHEMA = {
    "type": "object",
    "properties": {
        "format": {"const": MAPPING_FORMAT},
        "object": {"type": "string"},
        "columns": {
            "type": "object",
            "additionalProperties": {"anyOf": [{"type": "null"}, {"type": "string", "minLength": 1}, _ENTRY,
                                               {"type": "array", "items": {"anyOf": [{"type": "string", "minLength": 1}, _ENTRY]}}]},
        },
        "date_formats": {"type": "array", "items": {"type": "string", "minLength": 1}},
        "duplicates": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"match": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                               "then": {"enum": list(THEN)}},
                "required": ["match", "then"],
                "additionalProperties": False,
            },
        },
        "batch_size": {"type": "integer", "minimum": 1, "maximum": 50_000},
    },
    "additionalProperties": False,
}


class MappingError(ValueError):
    """The mapping cannot be used; each problem (a Sentence, or English text) names the column, field or key."""

    def __init__(self, problems: list[Sentence | str]) -> None:
        self.problems = problems
        super().__init__("\n".join(map(str, problems)))


class CellError(ValueError):
    """A cell's text is not a value of its field."""


@dataclass(frozen=True)
class Lookup:
    """How a lookup column finds its record: by ``match`` (a field of ``target``, or id)."""

    target: str
    match: str
    self_reference: bool
    many: bool = False  # a many-to-many field: a cell names several records


@dataclass
class Target:
    """One field filled from one column."""

    column: int
    column_name: str
    field: str
    convert: Callable[[str], Any]
    lookup: Lookup | None = None
    key_only: bool = False  # the record id: used to find the record, never written
    trim: bool = True


@dataclass(frozen=True)
class DuplicateRule:
    match: tuple[str, ...]
    then: str


@dataclass
class Plan:
    object_name: str
    targets: list[Target]
    ignored: list[str]
    rules: list[DuplicateRule]
    batch_size: int
    settings: dict = field(default_factory=dict)  # what the plan was built from, kept with the job

    def mapped(self) -> list[tuple[str, str]]:
        return [(t.column_name, t.field) for t in self.targets]

    def column_of(self, field_name: str) -> str | None:
        return next((t.column_name for t in self.targets if t.field == field_name), None)


def read_mapping(text: str, source: str) -> dict:
    """Parse and check a mapping file's text."""
    try:
        data = parse_json(text, source)
    except MetadataError as exc:
        raise MappingError([f"{source}: {problem.message}" for problem in exc.problems]) from None
    problems = [f"{source}: {'/' + '/'.join(map(str, e.absolute_path)) if e.absolute_path else '/'}: {_schema_message(e)}"
                for e in Draft202012Validator(MAPPING_SCHEMA).iter_errors(data)]
    if problems:
        raise MappingError(problems)
    return data


def read_mapping_file(path: Path) -> dict:
    """Read and check a mapping file (UTF-8, with or without a BOM)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise MappingError([f"{path}: is not UTF-8 text; save it as UTF-8"]) from None
    except OSError as exc:
        raise MappingError([f"{path}: cannot be read ({exc.strerror or exc})"]) from None
    return read_mapping(text, str(path))


def _schema_message(error) -> str:
    if error.validator == "additionalProperties":
        return f"{error.message}; a mapping has format, object, columns, date_formats, duplicates and batch_size"
    if error.validator == "anyOf":
        return "a column maps to a field name, null (not imported), {\"field\": ...} or a list of those"
    return error.message


def build_plan(obj: ObjectDef, owner: FieldDef, target_objects: dict[str, ObjectDef], access: Access, header: list[str],
               mapping: dict | None = None, duplicates: list[dict] | None = None, batch_size: int = 1000) -> Plan:
    """Decide each column's field and conversion; raise MappingError naming every problem."""
    mapping = mapping or {}
    problems: list[Sentence] = []
    if mapping.get("object") not in (None, obj.name):
        raise MappingError([sentence("mapping_other_object", mapped=mapping["object"], object=obj.name)])
    fields = {f.name: f for f in obj.active_fields() if access.visible(obj.name, f.name)}
    fields["owner"] = owner
    positions = _column_positions(header, problems)
    explicit = mapping.get("columns", {})
    for column in explicit:
        if column not in positions:
            problems.append(sentence("mapping_unknown_column", column=column, hint=hint(column, positions)))
    date_formats = [_strptime(f) for f in [*mapping.get("date_formats", []), *DEFAULT_DATE_FORMATS]]
    targets, ignored, taken = [], [], {}
    for position, name in enumerate(header):
        if not name or positions.get(name) != position:
            ignored.append(name or f"column {position + 1}")
            continue
        entries = _entries(explicit[name]) if name in explicit else _automatic(name, obj, fields, taken)
        if not entries:
            ignored.append(name)
        for entry in entries:
            target = _target(entry, position, name, obj, fields, target_objects, access, date_formats, problems)
            if target is None:
                continue
            if target.field in taken and name in explicit:
                problems.append(sentence("mapping_same_field", first=taken[target.field], second=name, field=target.field))
                continue
            taken[target.field] = name
            targets.append(target)
    rules = _rules(mapping.get("duplicates", []) + (duplicates or []), {t.field for t in targets},
                   {t.field for t in targets if t.lookup is not None and t.lookup.many}, problems)
    if problems:
        raise MappingError(problems)
    settings = {"columns": {t.column_name: t.field for t in targets}, "duplicates": [r.__dict__ for r in rules], "mapping": mapping}
    return Plan(obj.name, targets, ignored, rules, mapping.get("batch_size", batch_size), settings)


def _column_positions(header: list[str], problems: list[Sentence]) -> dict[str, int]:
    positions: dict[str, int] = {}
    for position, name in enumerate(header):
        if name in positions and name:
            problems.append(sentence("mapping_same_column_name", first=positions[name] + 1, second=position + 1, name=name))
        positions.setdefault(name, position)
    return positions


def _entries(value: Any) -> list[dict]:
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    return [{"field": item} if isinstance(item, str) else item for item in items]


def normalized(text: str) -> str:
    return _SPACES.sub("", text.casefold())


def _automatic(column: str, obj: ObjectDef, fields: dict[str, FieldDef], taken: dict) -> list[dict]:
    """A column whose header is a field's name or label (en or zh-CN); the object's own name or label
    stands for its title field ('Account' in a list of accounts); 'id' finds records by id."""
    wanted = normalized(column)
    if wanted == "id":
        return [{"field": "id"}]
    for fdef in fields.values():
        names = [fdef.name, *fdef.spec.get("label", {}).values()]
        if wanted in {normalized(n) for n in names} and fdef.name not in taken:
            return [{"field": fdef.name}]
    own_names = {normalized(n) for n in [obj.name, *obj.spec.get("label", {}).values()]}
    if wanted in own_names and obj.title_field in fields and obj.title_field not in taken:
        return [{"field": obj.title_field}]
    return []


def _target(entry: dict, position: int, column: str, obj: ObjectDef, fields: dict[str, FieldDef], target_objects: dict[str, ObjectDef],
            access: Access, date_formats: list[str], problems: list[Sentence]) -> Target | None:
    name = entry["field"]
    where = lambda problem: sentence("in_column", column=column, problem=problem)  # noqa: E731
    if name == "id":
        return Target(position, column, "id", _record_id, key_only=True)
    fdef = fields.get(name)
    if fdef is None:
        problems.append(where(sentence("mapping_unknown_field", field=name, object=obj.name, hint=hint(name, fields))))
        return None
    if not _importable_type(fdef.type):
        problems.append(where(sentence("mapping_not_importable", object=obj.name, field=name, type=fdef.type.name)))
        return None
    if fdef.spec.get("read_only") or fdef.computed:
        problems.append(where(sentence("mapping_read_only", object=obj.name, field=name)))
        return None
    formats = [_strptime(f) for f in entry.get("date_formats", [])] + date_formats
    convert = _converter(fdef, formats)
    values = entry.get("values")
    if values:
        convert = _with_value_map(values, convert)
    lookup = None
    if fdef.type.family == "relation":
        lookup = _lookup(fdef, entry.get("match"), obj, target_objects, access, where, problems)
        if lookup is None:
            return None
        if lookup.many:
            convert = _chain(convert, _record_ids if lookup.match == "id" else _link_texts)
        elif lookup.match == "id":
            convert = _chain(convert, _record_id)
    elif "match" in entry:
        problems.append(where(sentence("mapping_match_not_lookup", field=name, type=fdef.type.name)))
    return Target(position, column, name, convert, lookup, trim=entry.get("trim", True))


def _lookup(fdef: FieldDef, match: str | None, obj: ObjectDef, target_objects: dict[str, ObjectDef], access: Access,
            where: Callable[[Sentence], Sentence], problems: list[Sentence]) -> Lookup | None:
    target = target_objects[fdef.spec["target"]]
    match = match or target.title_field
    if match != "id":
        mfield = target.fields.get(match)
        if mfield is None or mfield.removed or not access.visible(target.name, match):
            known = [f.name for f in target.active_fields() if access.visible(target.name, f.name)]
            problems.append(where(sentence("mapping_match_unknown", field=fdef.name, target=target.name, match=match,
                                           hint=hint(match, known))))
            return None
        if not mfield.has_column or mfield.type.multiple or mfield.type.family == "other":
            problems.append(where(sentence("mapping_match_type", target=target.name, match=match, type=mfield.type.name)))
            return None
    if not access.can(target.name, "read"):
        problems.append(where(sentence("mapping_target_unreadable", target=target.name, field=fdef.name)))
        return None
    return Lookup(target.name, match, target.name == obj.name, many=fdef.type.multiple)


def _rules(specs: list[dict], mapped: set[str], linked: set[str], problems: list[Sentence]) -> list[DuplicateRule]:
    rules = []
    for index, spec in enumerate(specs, start=1):
        if linked.intersection(spec["match"]):
            problems.append(sentence("rule_many_to_many", rule=index, fields=", ".join(sorted(linked.intersection(spec["match"])))))
            continue
        missing = [f for f in spec["match"] if f not in mapped]
        if missing:
            problems.append(sentence("rule_unmapped_field" if len(missing) == 1 else "rule_unmapped_fields", rule=index,
                                     fields=", ".join(missing), mapped=", ".join(sorted(mapped)) or sentence("none_mapped")))
            continue
        if spec["then"] not in THEN:
            problems.append(sentence("rule_then", rule=index, then=spec["then"]))
            continue
        rules.append(DuplicateRule(tuple(spec["match"]), spec["then"]))
    return rules


# --- converting cells -----------------------------------------------------------------------


def _converter(fdef: FieldDef, date_formats: list[str]) -> Callable[[str], Any]:
    """How a cell's text becomes a value of the field: the type's own way if it declares one, else its family's."""
    ftype = fdef.type
    if ftype.parse_cell is not None:
        return _declared(ftype.parse_cell, fdef.spec)
    if ftype.family == "number":
        return _integer if ftype.whole else _number
    if ftype.family == "boolean":
        return _boolean
    if ftype.family == "date":
        return (lambda text: _datetime(text, date_formats)) if ftype.with_time else (lambda text: _date(text, date_formats))
    if ftype.family == "choice" and "values" in ftype.options:
        single = _picklist(fdef)
        if not ftype.multiple:
            return single
        return lambda text: [single(part.strip()) for part in re.split(r"[;,，；]", text) if part.strip()]
    return keep_text


def _importable_type(ftype) -> bool:
    """Whether an import may write the type's values: not a value the engine makes (an auto number, a link whose
    object another field names)."""
    return ftype.widget != "readonly"


def _declared(parse: Callable[[str, dict], Any], spec: dict) -> Callable[[str], Any]:
    def convert(text: str) -> Any:
        try:
            return parse(text, spec)
        except CellError:
            raise
        except (ValueError, TypeError, ArithmeticError) as exc:
            raise CellError(sentence_of(exc) or str(exc)) from None

    return convert


def keep_text(text: str) -> str:
    """The converter of text fields: the cell's text is the value."""
    return text



def _link_texts(text: str) -> tuple[str, ...] | None:
    """A many-to-many cell: the texts naming its records, one per part ("Ann Lee; Bo Chen")."""
    return tuple(dict.fromkeys(part.strip() for part in LINK_SEPARATORS.split(text) if part.strip())) or None


def _record_ids(text: str) -> list[int] | None:
    return list(dict.fromkeys(_record_id(part) for part in _link_texts(text) or ())) or None


def _chain(first: Callable[[str], Any], then: Callable[[Any], Any]) -> Callable[[str], Any]:
    return lambda text: then(first(text))


def _with_value_map(values: dict, convert: Callable[[str], Any]) -> Callable[[str], Any]:
    """Map a cell's text first (exactly, then ignoring case); a value mapped to null leaves the field empty."""
    folded = {str(k).strip().casefold(): v for k, v in values.items()}

    def mapped(text: str) -> Any:
        replacement = values[text] if text in values else folded.get(text.casefold(), text)
        if replacement is None:
            return None
        return convert(str(replacement).lower() if isinstance(replacement, bool) else str(replacement))

    return mapped


def _record_id(text: Any) -> int:
    number = as_record_id(str(text).strip())
    if number is None:
        raise CellError(sentence("cell_not_an_id", value=text))
    return number


def _plain_number(text: str) -> str:
    cleaned = text.replace(" ", "").replace("\u00a0", "").lstrip("$€£¥￥").rstrip("%")
    if _GROUPED.match(cleaned):
        cleaned = cleaned.replace(",", "")
    return cleaned


def _integer(text: str) -> Any:
    cleaned = _plain_number(text)
    try:
        number = Decimal(cleaned)
    except InvalidOperation:
        return text  # the validator says what a whole number looks like
    return int(number) if number.is_finite() and number == number.to_integral_value() else text


def _number(text: str) -> Any:
    cleaned = _plain_number(text)
    try:
        Decimal(cleaned)
    except InvalidOperation:
        return text
    return cleaned


def _boolean(text: str) -> Any:
    lowered = text.casefold()
    if lowered in TRUE_WORDS:
        return True
    if lowered in FALSE_WORDS:
        return False
    raise CellError(sentence("cell_not_boolean", value=text))


def _strptime(pattern: str) -> str:
    """'DD/MM/YYYY' as strptime's '%d/%m/%Y'; strptime patterns pass through."""
    if "%" in pattern:
        return pattern
    return pattern.replace("YYYY", "%Y").replace("YY", "%y").replace("MM", "%m").replace("DD", "%d")


def _shown(pattern: str) -> str:
    return pattern.replace("%Y", "YYYY").replace("%y", "YY").replace("%m", "MM").replace("%d", "DD")


def _date(text: str, formats: list[str]) -> str:
    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        pass
    for pattern in formats:
        try:
            return dt.datetime.strptime(text, pattern).date().isoformat()
        except ValueError:
            continue
    if "T" in text or " " in text:  # a timestamp where a date is expected: its date
        try:
            return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).date().isoformat()
        except ValueError:
            pass
    shown = ", ".join(["YYYY-MM-DD", *dict.fromkeys(_shown(f) for f in formats)])
    raise CellError(sentence("cell_not_a_date", value=_short(text), formats=shown))


def _datetime(text: str, formats: list[str]) -> str:
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).isoformat()
    except ValueError:
        pass
    for pattern in formats:
        for with_time in (pattern + " %H:%M:%S", pattern + " %H:%M", pattern):
            try:
                return dt.datetime.strptime(text, with_time).isoformat()
            except ValueError:
                continue
    raise CellError(sentence("cell_not_a_datetime", value=_short(text)))


def _picklist(fdef: FieldDef) -> Callable[[str], Any]:
    """A picklist cell may hold the value, or its label in either language, in any case."""
    known: dict[str, str] = {}
    for item in fdef.spec.get("values", []):
        for word in [item["value"], *item.get("label", {}).values()]:
            known.setdefault(normalized(str(word)), item["value"])
    values = {item["value"] for item in fdef.spec.get("values", [])}
    seen: dict[str, str] = {}  # cell text -> value: a column repeats a few texts many times

    def convert(text: str) -> str:
        if text in values:
            return text
        found = seen.get(text)
        if found is None:
            found = known.get(normalized(text), text)
            if len(seen) < PICKLIST_MEMO:
                seen[text] = found
        return found

    return convert


def _short(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."


# --- suggestions for the web UI's import wizard (additive: build_plan does not use these) ----------


def importable(fdef: FieldDef) -> bool:
    """Whether an import may fill the field at all (build_plan refuses the others, naming why)."""
    return _importable_type(fdef.type) and not fdef.spec.get("read_only") and not fdef.computed


def suggest_columns(obj: ObjectDef, owner: FieldDef, access: Access, header: list[str]) -> dict[str, str | None]:
    """For each named column of ``header``: the field build_plan would fill from it without a mapping
    ('id' for the record id), or None where it would fill none or refuse the one it found."""
    fields = {f.name: f for f in obj.active_fields() if access.visible(obj.name, f.name)}
    fields["owner"] = owner
    positions = _column_positions(header, [])
    suggested: dict[str, str | None] = {}
    taken: dict[str, str] = {}
    for position, name in enumerate(header):
        if not name or positions.get(name) != position:
            continue
        entries = _automatic(name, obj, fields, taken)
        chosen = entries[0]["field"] if entries else None
        if chosen not in (None, "id") and not importable(fields[chosen]):
            chosen = None
        suggested[name] = chosen
        if chosen is not None:
            taken[chosen] = name
    return suggested


def unknown_picklist_values(fdef: FieldDef, texts) -> list[str]:
    """Of ``texts`` (a column's cells), those a picklist field would not take: neither one of its values nor a label."""
    convert = _picklist(fdef)
    values = {item["value"] for item in fdef.spec.get("values", [])}
    return [text for text in texts if convert(text) not in values]
