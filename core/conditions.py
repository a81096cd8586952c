"""Conditions of workflow rules and approval processes, in the list API's filter language.

A condition is a JSON object: each key a field and an operator as the list API reads them
(``amount__gte``, ``stage__in``, ``owner__isnull``; a bare field means ``__eq``), every key
holding; ``"any"``: one of its conditions holds; ``"all"``: each does; ``"previous"``: on an
update, a condition on the values the record had before the save. A value is JSON: a list
for ``__in``, true or false for ``__isnull``, null to test for no value.

``compile`` checks a condition against an object's fields once (unknown fields and operators,
values of the wrong type, each with its JSON pointer) and gives a ``Condition`` that tests a
record in Python (``matches``: rules on a save, with no query) or selects records in SQL
(``where``: scheduled rules), with the list API's own parsing and SQL, so that a condition
means here what the same filter means in a list.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable, Mapping

import sqlalchemy as sa
from sqlalchemy import Connection

from core.metadata.model import FieldDef, ObjectDef
from core.metadata.problems import pointer
from core.query import Filter, _filter
from core.words import Sentence, WordedError, sentence, sentence_of

GROUPS = ("any", "all")
PREVIOUS = "previous"
EXPRESSION = "expression"  # a condition in the formula language: {"expression": "AND(amount > 1000, account.industry = 'energy')"}
Fetch = Callable[[str, int], "Mapping[str, Any] | None"]


class ConditionError(ValueError):
    """A condition that cannot be read: ``problems`` are (JSON pointer inside it, Sentence)."""

    def __init__(self, problems: list[tuple[str, Sentence]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{at or '/'}: {said}" for at, said in problems))


@dataclass(frozen=True)
class Condition:
    """A checked condition: ``filters`` all hold, and each of ``groups`` (("any"|"all", [Condition...])) holds, and
    ``previous`` holds of the values before an update."""

    filters: tuple[Filter, ...] = ()
    groups: tuple[tuple[str, tuple["Condition", ...]], ...] = ()
    previous: "Condition | None" = None
    expressions: tuple = ()  # checked formula-language conditions (core.expressions.Typed) that must give true

    @property
    def empty(self) -> bool:
        return not self.filters and not self.groups and self.previous is None and not self.expressions

    @property
    def uses_previous(self) -> bool:
        return self.previous is not None or any(c.uses_previous for _kind, parts in self.groups for c in parts)

    def fields(self) -> set[str]:
        """The fields it reads (of the record now, and before)."""
        names = {f.field.name for f in self.filters} | {ref.names[0] for typed in self.expressions for ref in typed.refs()}
        for _kind, parts in self.groups:
            for part in parts:
                names |= part.fields()
        return names | (self.previous.fields() if self.previous else set())

    def matches(self, record: Mapping[str, Any], previous: Mapping[str, Any] | None = None, fetch: Fetch | None = None) -> bool:
        """Whether ``record`` (as the record service gives it) meets it; ``previous``: the values before an update
        (a ``previous`` test without them does not hold); ``fetch(object, id)``: a record an expression follows a
        lookup to (without it, a path through a lookup is blank)."""
        if not all(_holds(f, record.get(f.field.name)) for f in self.filters):
            return False
        if self.expressions:
            from core.expressions import evaluate  # noqa: PLC0415 - the expression language reads metadata, as this module does

            if not all(evaluate(typed, record, fetch) is True for typed in self.expressions):
                return False
        for kind, parts in self.groups:
            test = any if kind == "any" else all
            if not test(part.matches(record, previous, fetch) for part in parts):
                return False
        if self.previous is not None:
            return previous is not None and self.previous.matches(previous, None, fetch)
        return True

    def where(self, conn: Connection, schema, table: sa.Table, first: int = 0) -> tuple[sa.ColumnElement, dict[str, Any]]:
        """The condition in SQL on the object's table, and the values to bind (``previous`` has no meaning there);
        ``first``: the number of its first bound value (``tessera_f<first>``), past those of a list query it joins."""
        from core.list_sql import _values, condition  # noqa: PLC0415 - list SQL reads metadata, as this module does

        counter = iter(range(first, first + 10**6))
        values: dict[str, Any] = {}

        def build(node: Condition) -> sa.ColumnElement:
            parts = [_expression_where(schema, table, typed) for typed in node.expressions]
            for flt in node.filters:
                index = next(counter)
                parts.append(condition(conn, schema, table, index, flt))
                values.update(_values(index, flt))
            for kind, children in node.groups:
                joined = [build(child) for child in children]
                parts.append(sa.or_(*joined) if kind == "any" else sa.and_(*joined))
            return sa.and_(sa.true(), *parts)

        return build(self), values


def _expression_where(schema, table: sa.FromClause, typed) -> sa.ColumnElement:
    """An expression condition in SQL on ``table``: directly, or, when it follows lookups, as the ids of a query that
    joins them (the caller's FROM has no room for the joins)."""
    from core.expressions import Joins, compile_sql  # noqa: PLC0415 - see matches

    if not any(len(ref.names) > 1 or ref.fields[-1].formula for ref in typed.refs()):
        return compile_sql(typed, table, Joins(schema.tables.table)).is_(True)
    inner = schema.tables.table(typed.object).alias("condition_record")
    joins = Joins(schema.tables.table)
    holds = compile_sql(typed, inner, joins).is_(True)
    return table.c.id.in_(sa.select(inner.c.id).select_from(joins.select_from(inner)).where(holds))


def compile(obj: ObjectDef, condition: Mapping[str, Any] | None, fields: Mapping[str, FieldDef], at: str = "",
            previous_allowed: bool = True, meta: Any = None) -> Condition:
    """The condition checked against ``fields`` of ``obj``; ConditionError naming every problem and where. ``meta``:
    the metadata an ``expression`` key is checked against (without it, expressions are refused)."""
    problems: list[tuple[str, Sentence]] = []
    made = _compile(obj, condition or {}, fields, at, previous_allowed, problems, meta)
    if problems:
        raise ConditionError(problems)
    return made


def _compile(obj: ObjectDef, node: Mapping[str, Any], fields: Mapping[str, FieldDef], at: str, previous_allowed: bool,
             problems: list[tuple[str, Sentence]], meta: Any = None) -> Condition:
    filters, groups, previous, expressions = [], [], None, []
    for key, value in node.items():
        where = at + pointer(key)
        if key in GROUPS:
            groups.append((key, tuple(_compile(obj, part, fields, where + pointer(i), previous_allowed, problems, meta)
                                      for i, part in enumerate(value))))
        elif key == PREVIOUS:
            if not previous_allowed:
                problems.append((where, sentence("condition_previous_here")))
                continue
            previous = _compile(obj, value, fields, where, False, problems, meta)
        elif key == EXPRESSION:
            typed = _expression(meta, obj, value, where, problems)
            if typed is not None:
                expressions.append(typed)
        else:
            try:
                made = _filter(obj, fields, *_as_query(key, value))
                if made.field.formula:  # its value is not among a write's values: the expression form computes it
                    problems.append((where, sentence("condition_formula_field", field=made.field.name)))
                    continue
                filters.append(made)
            except WordedError as exc:
                problems.append((where, sentence_of(exc)))
            except ValueError as exc:
                problems.append((where, sentence_of(exc) or Sentence("invalid", text=str(exc))))
    return Condition(tuple(filters), tuple(groups), previous, tuple(expressions))


def _expression(meta: Any, obj: ObjectDef, text: Any, where: str, problems: list[tuple[str, Sentence]]):
    from core.expressions import ExpressionError, check  # noqa: PLC0415 - see matches

    if meta is None:
        problems.append((where, sentence("condition_expression_here")))
        return None
    if not isinstance(text, str) or not text.strip():
        problems.append((where, sentence("condition_expression_text")))
        return None
    try:
        return check(meta, obj.name, text, expect="boolean")
    except ExpressionError as exc:
        problems.append((where, exc.as_sentence()))
        return None


def _as_query(key: str, value: Any) -> tuple[str, str]:
    """A JSON key and value as the list API's query parameter and its text."""
    if value is None:
        name, _, operator = key.partition("__")
        if operator in ("", "eq"):
            return f"{name}__isnull", "true"
        if operator == "ne":
            return f"{name}__isnull", "false"
        raise WordedError("condition_null", key=key)
    if isinstance(value, list):
        return key, ",".join(_text(v) for v in value)
    return key, _text(value)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --- testing a record in Python -----------------------------------------------------------------


def _holds(flt: Filter, value: Any) -> bool:
    op, wanted = flt.operator, flt.value
    if op == "isnull":
        return _blank(value) == wanted
    if flt.field.type.multiple:
        have = {_plain(item, flt.field) for item in (value or [])}
        return bool(have & {_plain(w, flt.field) for w in (wanted if isinstance(wanted, list) else [wanted])})
    if _blank(value):
        return op == "ne"
    have = _plain(value, flt.field)
    if op in ("contains", "startswith"):
        text, part = str(have).lower(), str(wanted).lower()
        return part in text if op == "contains" else text.startswith(part)
    if op == "in":
        return have in {_plain(w, flt.field) for w in wanted}
    want = _plain(wanted, flt.field)
    try:
        return COMPARE[op](have, want)
    except TypeError:
        return False


COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: a == b, "ne": lambda a, b: a != b, "gt": lambda a, b: a > b, "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b, "lte": lambda a, b: a <= b,
}


def _blank(value: Any) -> bool:
    return value is None or value == "" or value == []


def _plain(value: Any, fdef: FieldDef) -> Any:
    """A record's value, or a filter's, in one form both compare in: a lookup as its id, a number as a Decimal, a date
    and time in UTC, a date or time written as text parsed as the field's type."""
    if isinstance(value, Mapping):
        value = value.get("id")
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float, Decimal)):
        return Decimal(str(value))
    if isinstance(value, str) and (fdef.type.family in ("date", "number") or (fdef.type.single_link and "target" in fdef.type.options)):
        try:
            value = fdef.type.from_text(value, fdef.spec)
        except (ValueError, TypeError):
            return value
        return _plain(value, fdef)
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)
    return value
