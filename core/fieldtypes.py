"""Field types, each defined once: SQL type, JSON Schema fragment, parse, format, operators, family and widget.

A field type turns a field definition (a dict from metadata) into everything the
rest of the engine needs. The registry is built per application so that plugins can
add their own types later without touching a global. The core, the import, the API
and the UI ask a field's type what it is (its family, its widget, its scale...) and
never list type names, so that a type a plugin registers is drawn, filtered, summed,
imported and described like the built-in ones of its family.
"""

from __future__ import annotations

import copy
import datetime as dt
import decimal
import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from sqlalchemy import JSON, BigInteger, Boolean, Date, DateTime, Integer, Numeric, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeEngine

from core.jsontext import text_problem
from core.words import WordedError

EQUALITY = frozenset({"eq", "ne", "in", "isnull"})
ORDERED = EQUALITY | {"gt", "gte", "lt", "lte"}
TEXTUAL = EQUALITY | {"contains", "startswith"}

# What kind of value a type holds, which decides how lists, boards, filters, imports and the UI treat it:
#   number    a quantity: summed on boards and in group totals, filtered by ranges, aligned and formatted as a number
#   text      words a person types or reads: searched, filtered with "contains"
#   date      a day, or a moment when the type declares with_time
#   boolean   yes or no
#   choice    one value of a list (a picklist), or several when the type declares multiple
#   relation  a link to another record (a lookup), or to several when the type declares multiple
#   other     anything else (a JSON document): stored and returned, not filtered beyond "is empty"
FAMILIES = ("number", "text", "date", "boolean", "choice", "relation", "other")
# The form inputs the UI draws (ui/templates/records/_input.html); a type names one as its widget.
WIDGETS = ("text", "textarea", "email", "tel", "url", "number", "date", "datetime", "checkbox", "select", "multiselect",
           "lookup", "links", "readonly")

ID_TYPE = BigInteger().with_variant(Integer, "sqlite")
BIGGEST = 2**63 - 1  # what a BIGINT (and SQLite's INTEGER) holds


@dataclass(frozen=True)
class FieldType:
    """How one kind of field is stored, validated, parsed, formatted and filtered.

    ``sql_type(field)`` returns the SQLAlchemy column type, or None for types that
    live outside the object's table (many-to-many). ``json_schema(field)`` returns
    the JSON Schema fragment of a value (without null). ``parse`` turns a valid JSON
    value into what the database stores; ``format`` turns a stored value back into
    JSON. ``operators`` are the list filter operators the type allows.

    ``family`` (one of FAMILIES) and ``widget`` (one of WIDGETS) say what the type is to
    the rest of the engine: a "number" type is summed on boards and filtered by ranges, a
    "choice" type draws its values as a select, and so on. ``label`` names the type in
    Setup in each language ({"en": ..., "zh-CN": ...}); ``in_setup`` False keeps it out of
    the types Setup offers for a new field. The attributes after them refine a family
    where the engine needs more than the family tells.
    """

    name: str
    sql_type: Callable[[dict], TypeEngine | None]
    json_schema: Callable[[dict], dict]
    operators: frozenset[str]
    parse: Callable[[Any, dict], Any] = lambda value, _field: value
    format: Callable[[Any, dict], Any] = lambda value, _field: value  # noqa: E731 - identity by default
    parse_text: Callable[[str, dict], Any] | None = None  # from a query string or CSV cell
    searchable: bool = False
    sortable: bool = True
    has_column: bool = True
    options: frozenset[str] = field(default_factory=frozenset)
    # parse bound to one field's definition, for the validator's loops; must give parse's answers (None: parse itself)
    make_parser: Callable[[dict], Callable[[Any], Any]] | None = None
    # format gives the same answer for the database driver's own value as for SQLAlchemy's (a date as
    # SQLite's ISO text or as a date, a number as a float or a Decimal), so lists skip SQLAlchemy's conversion
    formats_driver_values: bool = False
    family: str = "other"
    widget: str = "text"
    label: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    in_setup: bool = True
    # number: the decimal places its values keep by default (0: whole numbers, shown without separators)
    scale: int | None = None
    unit: str = ""  # number: written after a value ("%")
    multiple: bool = False  # choice or relation: a value is a list of several (multi-select, links)
    with_time: bool = False  # date: a moment (date and time, in UTC) rather than a day
    blank_is_value: bool = False  # text: an empty string is a value of its own, not "no value"
    names_records: bool = False  # its values may name a record: an import finds a lookup's record by such a field
    # a value as reads return it, as a JSON Schema (OpenAPI); None: the type's json_schema
    read_schema: Callable[[dict], dict] | None = None
    # an imported cell's text as a value to write; None: the family's way (numbers, dates, yes/no...), else the text
    parse_cell: Callable[[str, dict], Any] | None = None

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"field type '{self.name}' has the family '{self.family}'; families are {', '.join(FAMILIES)}")
        if self.widget not in WIDGETS:
            raise ValueError(f"field type '{self.name}' has the widget '{self.widget}'; widgets are {', '.join(WIDGETS)}")

    def title(self, lang: str = "en") -> str:
        """The type's name in Setup, in ``lang`` else English, else its name."""
        return self.label.get(lang) or self.label.get("en") or self.name

    @property
    def whole(self) -> bool:
        """A number type whose values are whole numbers."""
        return self.family == "number" and self.scale == 0

    @property
    def single_choice(self) -> bool:
        """A choice of one value from a list (a picklist): what a board's columns and a record's path are made of."""
        return self.family == "choice" and not self.multiple

    @property
    def groups(self) -> bool:
        """Records can be grouped by its value: one choice, yes or no, or one linked record of a named object."""
        return self.single_choice or self.family == "boolean" or (self.single_link and "target" in self.options)

    @property
    def single_link(self) -> bool:
        """A relation to one record (a lookup), whose value reads as {"id", "label"}."""
        return self.family == "relation" and not self.multiple

    def output_schema(self, fdef: dict) -> dict:
        """A stored value as reads return it (loose: a value kept from before a change still fits)."""
        if self.read_schema is not None:
            return self.read_schema(fdef)
        if self.family == "text" or (self.family == "choice" and not self.multiple):
            return {"type": "string"}
        if self.family == "number":
            return {"type": "integer" if self.whole else "number"}
        return copy.deepcopy(self.json_schema(fdef))

    @property
    def parses_as_given(self) -> bool:
        """True when ``parse`` returns its input (nothing to do per value)."""
        return self.parse is FieldType.__dataclass_fields__["parse"].default

    def parser(self, fdef: dict) -> Callable[[Any], Any]:
        """``parse`` for the values of one field: ``parser(fdef)(value) == parse(value, fdef)``, raising the same errors."""
        if self.make_parser is not None:
            return self.make_parser(fdef)
        parse = self.parse
        return lambda value: parse(value, fdef)

    @property
    def formats_as_stored(self) -> bool:
        """True when stored values are already JSON (no format step needed on reads)."""
        return self.format is FieldType.__dataclass_fields__["format"].default

    def from_text(self, raw: str, fdef: dict) -> Any:
        """Parse a query-string value; raise ValueError with a plain sentence."""
        if self.parse_text is not None:
            return self.parse_text(raw, fdef)
        return self.parse(raw, fdef)


# --- parse and format helpers --------------------------------------------------


def _parse_date(value: Any, _f: dict) -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise WordedError("not_a_date", value=value) from None


def _parse_datetime(value: Any, _f: dict) -> dt.datetime:
    if isinstance(value, dt.datetime):
        parsed = value
    else:
        text = str(value)
        try:
            parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise WordedError("not_a_datetime", value=value) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed.astimezone(dt.timezone.utc)


def _format_date(value: Any, _f: dict) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return value.isoformat()


def iso_utc(value: Any, _f: dict | None = None) -> str | None:
    """A stored timestamp as ISO 8601 in UTC ('...Z'); naive values are already UTC.

    Also the datetime type's format, and fast for what a list formats most: SQLite's text
    of a UTC time as SQLAlchemy writes it ('2026-03-01 09:30:00.000000'), which is the ISO
    form with a space for the 'T', and PostgreSQL's timestamps already in UTC.
    """
    if value is None:
        return None
    if isinstance(value, str):
        if len(value) == 26 and value[10] == " " and value[19] == ".":
            return f"{value[:10]}T{value[11:19]}Z" if value.endswith(".000000") else f"{value[:10]}T{value[11:]}Z"
        value = dt.datetime.fromisoformat(value)
    offset = value.utcoffset()
    if offset is None:  # naive: UTC already
        return value.isoformat() + "Z"
    if offset:  # a zero offset is false: the time is in UTC already
        value = value.astimezone(dt.timezone.utc)
    return value.isoformat()[:-6] + "Z"  # without its "+00:00"


def _decimal_parser(default_precision: int, default_scale: int) -> Callable[[Any, dict], decimal.Decimal]:
    def parse(value: Any, fdef: dict) -> decimal.Decimal:
        try:
            number = decimal.Decimal(str(value))
        except decimal.InvalidOperation:
            raise WordedError("not_a_number", value=value) from None
        if not number.is_finite():
            raise WordedError("not_finite", value=value)
        scale = fdef.get("scale", default_scale)
        digits = fdef.get("precision", default_precision) - scale
        if abs(number) >= decimal.Decimal(10) ** digits:
            raise WordedError("too_many_digits", value=value, digits=digits)
        quantum = decimal.Decimal(1).scaleb(-scale)
        try:
            rounded = number.quantize(quantum, rounding=decimal.ROUND_HALF_EVEN)
        except decimal.InvalidOperation:
            raise WordedError("too_many_decimals", value=value, scale=scale) from None
        if rounded != number:
            raise WordedError("too_many_decimals", value=value, scale=scale)
        return rounded

    return parse


def _format_decimal(value: Any, fdef: dict) -> float | None:
    if value is None:
        return None
    return float(value)


def _parse_int(value: Any, _f: dict) -> int:
    if isinstance(value, bool):
        raise WordedError("not_whole", value=value)
    if isinstance(value, int):
        return _in_range(value)
    text = str(value).strip()
    try:
        return _in_range(int(text))
    except ValueError as exc:
        if isinstance(exc, WordedError):
            raise
        try:
            number = decimal.Decimal(text)
        except decimal.InvalidOperation:
            raise WordedError("not_whole", value=value) from None
        if not number.is_finite() or number != number.to_integral_value():
            raise WordedError("not_whole", value=value) from None
        return _in_range(int(number))


def _in_range(number: int) -> int:
    if not -BIGGEST - 1 <= number <= BIGGEST:
        raise WordedError("too_large_whole", value=number, limit=f"{BIGGEST:,}")
    return number


def _parse_text(value: Any, _f: dict) -> Any:
    """Text the databases can store: no NUL characters, no halves of a surrogate pair."""
    if isinstance(value, str):
        problem = text_problem(value)
        if problem:
            raise ValueError(problem)
    return value


def _text_parser(fdef: dict) -> Callable[[Any], Any]:
    def parse(value: Any) -> Any:
        if type(value) is str and value.isascii() and "\x00" not in value:
            return value  # ASCII encodes; the rest is _parse_text's to judge
        return _parse_text(value, fdef)

    return parse


def _int_parser(fdef: dict) -> Callable[[Any], Any]:
    def parse(value: Any) -> int:
        if type(value) is int and -BIGGEST - 1 <= value <= BIGGEST:
            return value
        return _parse_int(value, fdef)

    return parse


def _record_id_parser(fdef: dict) -> Callable[[Any], Any]:
    def parse(value: Any) -> int:
        if type(value) is int and 1 <= value <= BIGGEST:
            return value
        return parse_record_id(value, fdef)

    return parse


def _picklist_parser(fdef: dict) -> Callable[[Any], Any]:
    allowed = frozenset(v["value"] for v in fdef.get("values", []))

    def parse(value: Any) -> str:
        if type(value) is str and value in allowed:
            return value
        return _parse_picklist(value, fdef)

    return parse


def _parse_bool_text(raw: str, _f: dict) -> bool:
    lowered = raw.strip().lower()
    if lowered in {"true", "1", "yes", "y", "t"}:
        return True
    if lowered in {"false", "0", "no", "n", "f"}:
        return False
    raise WordedError("not_boolean", value=raw)


def _parse_picklist(value: Any, fdef: dict) -> str:
    allowed = [v["value"] for v in fdef.get("values", [])]
    if value not in allowed:
        raise WordedError("not_a_value", value=value, field=fdef["name"], values=", ".join(allowed), hint="")
    return value


def _parse_multi(value: Any, fdef: dict) -> list[str]:
    items = value if isinstance(value, list) else [v.strip() for v in str(value).split(",") if v.strip()]
    return [_parse_picklist(v, fdef) for v in items]


ID_TEXT = re.compile(r"[1-9][0-9]{0,18}")


def as_record_id(value: Any) -> int | None:
    """A record id as the API writes it, a whole number from 1 or its ASCII digits; None for any other
    spelling (' 1', '１', '+1', '01', true), so that one record has one id."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 1 <= value <= BIGGEST else None
    if isinstance(value, str) and ID_TEXT.fullmatch(value) and int(value) <= BIGGEST:
        return int(value)
    return None


def parse_record_id(value: Any, _f: dict) -> int:
    if isinstance(value, dict):
        value = value.get("id")
    number = as_record_id(value)
    if number is None:
        raise WordedError("not_a_record_id", value=value)
    return number


def _parse_json_text(raw: str, _f: dict) -> Any:
    raise WordedError("json_filter")


def _parse_json_cell(text: str, _f: dict) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise WordedError("cell_not_json", reason=exc.msg, position=exc.pos + 1) from None


# --- SQL and JSON Schema per type ------------------------------------------------


def _text_sql(fdef: dict) -> TypeEngine:
    return String(fdef.get("max_length", 255))


def _text_schema(fdef: dict) -> dict:
    schema: dict = {"type": "string", "maxLength": fdef.get("max_length", 255)}
    if fdef.get("min_length"):
        schema["minLength"] = fdef["min_length"]
    return schema


def _bounded(schema: dict, fdef: dict) -> dict:
    if "min" in fdef:
        schema["exclusiveMinimum" if fdef.get("min_exclusive") else "minimum"] = fdef["min"]
    if "max" in fdef:
        schema["maximum"] = fdef["max"]
    return schema


def _numeric_sql(default_precision: int, default_scale: int) -> Callable[[dict], TypeEngine]:
    def build(fdef: dict) -> TypeEngine:
        return Numeric(fdef.get("precision", default_precision), fdef.get("scale", default_scale))

    return build


def _number_schema(fdef: dict) -> dict:
    # Numbers may arrive as JSON numbers or as decimal strings (exact money values).
    return _bounded({"type": ["number", "string"], "pattern": r"^-?\d+(\.\d+)?$"}, fdef)


def _picklist_schema(fdef: dict) -> dict:
    return {"type": "string", "enum": [v["value"] for v in fdef.get("values", [])]}


def _multi_schema(fdef: dict) -> dict:
    return {"type": "array", "items": _picklist_schema(fdef), "uniqueItems": True}


def _json_sql(_f: dict) -> TypeEngine:
    return JSON().with_variant(JSONB(), "postgresql")


ID_SCHEMA = {"type": ["integer", "string"], "pattern": r"^[1-9][0-9]{0,18}$", "minimum": 1, "maximum": BIGGEST}
LOOKUP_SCHEMA = {
    "anyOf": [
        ID_SCHEMA,
        {"type": "object", "properties": {"id": ID_SCHEMA}, "required": ["id"]},
    ]
}


def _label(en: str, zh: str) -> dict[str, str]:
    return {"en": en, "zh-CN": zh}


LINK_READ = {"type": "object", "properties": {"id": {"type": "integer"}, "label": {}}, "required": ["id"]}


def builtin_types() -> list[FieldType]:
    """The built-in types, in the order Setup offers them."""
    text_like = dict(
        operators=TEXTUAL, searchable=True, parse=_parse_text, parse_text=_parse_text, make_parser=_text_parser, family="text"
    )
    numbers = dict(family="number", widget="number")
    return [
        FieldType("text", _text_sql, _text_schema, options=frozenset({"max_length", "min_length"}), blank_is_value=True,
                  names_records=True, label=_label("Text", "文本"), **text_like),
        FieldType(
            "long_text",
            lambda f: Text(),
            lambda f: {"type": "string", "maxLength": f.get("max_length", 100_000)},
            options=frozenset({"max_length"}),
            sortable=False,
            widget="textarea",
            blank_is_value=True,
            label=_label("Long text", "长文本"),
            **text_like,
        ),
        FieldType(
            "integer",
            lambda f: BigInteger(),
            lambda f: _bounded({"type": ["integer", "string"], "pattern": r"^-?\d+$"}, f),
            ORDERED,
            parse=_parse_int,
            options=frozenset({"min", "min_exclusive", "max"}),
            make_parser=_int_parser,
            scale=0,
            label=_label("Whole number", "整数"),
            names_records=True,
            **numbers,
        ),
        FieldType(
            "decimal",
            _numeric_sql(18, 4),
            _number_schema,
            ORDERED,
            parse=_decimal_parser(18, 4),
            format=_format_decimal,
            formats_driver_values=True,
            options=frozenset({"min", "min_exclusive", "max", "precision", "scale"}),
            scale=4,
            label=_label("Decimal number", "小数"),
            names_records=True,
            **numbers,
        ),
        FieldType(
            "currency",
            _numeric_sql(18, 2),
            _number_schema,
            ORDERED,
            parse=_decimal_parser(18, 2),
            format=_format_decimal,
            formats_driver_values=True,
            options=frozenset({"min", "min_exclusive", "max", "precision", "scale", "currency"}),
            scale=2,
            label=_label("Currency", "货币"),
            **numbers,
        ),
        FieldType(
            "percent",
            _numeric_sql(7, 2),
            _number_schema,
            ORDERED,
            parse=_decimal_parser(7, 2),
            format=_format_decimal,
            formats_driver_values=True,
            options=frozenset({"min", "min_exclusive", "max", "precision", "scale"}),
            scale=2,
            unit=" %",
            label=_label("Percent", "百分比"),
            **numbers,
        ),
        FieldType(
            "boolean",
            lambda f: Boolean(),
            lambda f: {"type": "boolean"},
            frozenset({"eq", "ne", "isnull"}),
            parse_text=_parse_bool_text,
            family="boolean",
            widget="checkbox",
            label=_label("Yes or no", "是/否"),
            read_schema=lambda f: {"type": "boolean"},
        ),
        FieldType(
            "date",
            lambda f: Date(),
            lambda f: {"type": "string", "format": "date"},
            ORDERED,
            parse=_parse_date,
            format=_format_date,
            formats_driver_values=True,
            family="date",
            widget="date",
            label=_label("Date", "日期"),
            read_schema=lambda f: {"type": "string", "format": "date"},
        ),
        FieldType(
            "datetime",
            lambda f: DateTime(timezone=True),
            lambda f: {"type": "string", "format": "date-time"},
            ORDERED,
            parse=_parse_datetime,
            format=iso_utc,
            formats_driver_values=True,
            family="date",
            widget="datetime",
            with_time=True,
            label=_label("Date and time", "日期时间"),
            read_schema=lambda f: {"type": "string", "format": "date-time"},
        ),
        FieldType(
            "email",
            lambda f: String(254),
            lambda f: {"type": "string", "maxLength": 254, "format": "email"},
            widget="email",
            label=_label("Email", "电子邮件"),
            names_records=True,
            **text_like,
        ),
        FieldType(
            "phone",
            lambda f: String(40),
            lambda f: {"type": "string", "maxLength": 40, "pattern": r"^[0-9+()./ xX#*-]*$"},
            widget="tel",
            label=_label("Phone", "电话"),
            names_records=True,
            **text_like,
        ),
        FieldType(
            "url",
            lambda f: String(2000),
            lambda f: {"type": "string", "maxLength": 2000, "pattern": r"^(https?://|mailto:)\S+$"},
            widget="url",
            label=_label("Web address", "网址"),
            names_records=True,
            **text_like,
        ),
        FieldType(
            "picklist",
            lambda f: String(80),
            _picklist_schema,
            EQUALITY,
            parse=_parse_picklist,
            options=frozenset({"values"}),
            make_parser=_picklist_parser,
            family="choice",
            widget="select",
            label=_label("Picklist", "选项列表"),
        ),
        FieldType(
            "multi_picklist",
            _json_sql,
            _multi_schema,
            frozenset({"eq", "in", "isnull"}),
            parse=_parse_multi,
            parse_text=lambda raw, f: _parse_picklist(raw, f),
            sortable=False,
            options=frozenset({"values"}),
            family="choice",
            widget="multiselect",
            multiple=True,
            label=_label("Multi-select picklist", "多选列表"),
            read_schema=lambda f: {"type": "array", "items": {"type": "string"}},
        ),
        FieldType(
            "lookup",
            lambda f: ID_TYPE,
            lambda f: LOOKUP_SCHEMA,
            EQUALITY,
            parse=parse_record_id,
            options=frozenset({"target", "on_delete"}),
            make_parser=_record_id_parser,
            family="relation",
            widget="lookup",
            label=_label("Lookup", "查找关联"),
            read_schema=lambda f: copy.deepcopy(LINK_READ),
        ),
        FieldType(
            "dynamic_lookup",
            lambda f: ID_TYPE,
            lambda f: LOOKUP_SCHEMA,
            EQUALITY,
            parse=parse_record_id,
            options=frozenset({"object_field"}),
            make_parser=_record_id_parser,
            family="relation",
            widget="readonly",
            in_setup=False,
            label=_label("Link to a record of any object", "任意对象记录的关联"),
            read_schema=lambda f: {"type": "object", "properties": {"id": {"type": "integer"}, "object": {}, "label": {}}, "required": ["id"]},
        ),
        FieldType(
            "many_to_many",
            lambda f: None,
            lambda f: {
                "type": "array",
                "items": {
                    "anyOf": [
                        ID_SCHEMA,
                        {"type": "object", "properties": {"id": ID_SCHEMA}, "required": ["id"]},
                    ]
                },
            },
            frozenset({"eq", "in"}),
            parse=lambda v, f: v,
            parse_text=lambda raw, f: parse_record_id(raw, f),
            sortable=False,
            has_column=False,
            options=frozenset({"target", "through_fields"}),
            family="relation",
            widget="links",
            multiple=True,
            label=_label("Many-to-many link", "多对多关联"),
            read_schema=lambda f: {"type": "array", "items": copy.deepcopy(LINK_READ)},
        ),
        FieldType(
            "autonumber",
            lambda f: String(len(f.get("prefix", "")) + max(f.get("padding", 6), 12)),
            lambda f: {"type": "string"},
            TEXTUAL,
            parse_text=lambda raw, f: raw,
            searchable=True,
            options=frozenset({"prefix", "padding"}),
            family="text",
            widget="readonly",
            label=_label("Auto number", "自动编号"),
            names_records=True,
        ),
        FieldType(
            "json",
            _json_sql,
            lambda f: {},
            frozenset({"isnull"}),
            parse_text=_parse_json_text,
            sortable=False,
            family="other",
            widget="textarea",
            in_setup=False,
            label=_label("JSON document", "JSON 文档"),
            read_schema=lambda f: {},
            parse_cell=_parse_json_cell,
        ),
        # A formula field's definition names this type; the field itself reads as its result type (FieldDef.type),
        # computed in the SELECT from its expression (core/formulas.py), never written.
        FieldType(
            "formula",
            lambda f: None,
            lambda f: {},
            frozenset(),
            sortable=False,
            has_column=False,
            options=frozenset({"expression", "result_type"}),
            family="other",
            widget="readonly",
            in_setup=False,
            label=_label("Formula", "公式"),
        ),
        # A roll-up field's definition names this type; the field reads as what it counts or sums (core/rollups.py).
        FieldType(
            "rollup",
            lambda f: None,
            lambda f: {},
            frozenset(),
            has_column=False,
            options=frozenset({"rollup"}),
            family="other",
            widget="readonly",
            in_setup=False,
            label=_label("Roll-up summary", "汇总"),
        ),
    ]


class FieldTypeRegistry:
    """The field types known to one application; plugins may register more."""

    def __init__(self, types: list[FieldType] | None = None) -> None:
        self._types: dict[str, FieldType] = {}
        for ftype in types if types is not None else builtin_types():
            self.register(ftype)

    def register(self, ftype: FieldType) -> None:
        if ftype.name in self._types:
            raise ValueError(f"field type '{ftype.name}' is registered twice")
        self._types[ftype.name] = ftype

    def __getitem__(self, name: str) -> FieldType:
        return self._types[name]

    def __contains__(self, name: object) -> bool:
        return name in self._types

    def names(self) -> list[str]:
        return list(self._types)

    def types(self) -> list[FieldType]:
        """Every type, the built-in ones first in the order Setup offers them, then the plugins' in load order."""
        return list(self._types.values())

    def of_family(self, family: str) -> list[FieldType]:
        return [t for t in self._types.values() if t.family == family]


def format_autonumber(fdef: dict, number: int) -> str:
    return f"{fdef.get('prefix', '')}{number:0{fdef.get('padding', 6)}d}"
