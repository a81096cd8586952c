"""Evaluating a checked expression in Python, on a record's values, with the same result as its SQL.

Numbers are Decimals (computed with 40 significant digits), texts str, dates ``datetime.date``,
dates and times aware ``datetime.datetime`` in UTC, conditions bool, and a blank None. A
condition follows SQL's three values (true, false, blank): ``blank AND false`` is false,
``blank AND true`` blank, ``NOT blank`` blank; IF takes a blank condition as false.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from typing import Any

from core.expressions.check import BOOLEAN, DATE, DATETIME, NUMBER, TEXT, Typed
from core.expressions.syntax import Call, Literal, Node, Op, Ref

UTC = dt.UTC
PRECISION = 40
WHOLE_LIMIT = 1_000_000_000
TEXT_DECIMALS = 6  # TEXT(number) rounds to this many decimals
ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")

Fetch = Callable[[str, int], "Mapping[str, Any] | None"]


def evaluate(typed: Typed, record: Mapping[str, Any], fetch: Fetch | None = None, now: dt.datetime | None = None) -> Any:
    """The value of ``typed`` for ``record`` (field name -> value, as stored or as the record service gives it).

    A lookup's value is its record's id or a dict of that record's values (``{"id": 7, "name": ...}``);
    a path through a lookup reads the dict when it holds the field, else ``fetch(object, id)``
    (None: no such record, the path is blank). ``now``: the moment TODAY() and NOW() mean (default: now, UTC).
    """
    with localcontext() as ctx:
        ctx.prec = PRECISION
        return _Evaluation(record, fetch, now or dt.datetime.now(UTC)).value(typed.root)


def blank(value: Any) -> bool:
    return value is None or value == ""


def _number(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return Decimal(int(value))
    if isinstance(value, Decimal):
        return value
    if isinstance(value, Mapping):
        return _number(value.get("id"))
    return Decimal(str(value))


def _date(value: Any) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return _datetime(value).date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def _datetime(value: Any) -> dt.datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, dt.datetime):
        if isinstance(value, dt.date):
            return dt.datetime(value.year, value.month, value.day, tzinfo=UTC)
        value = dt.datetime.fromisoformat(str(value))
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _boolean(value: Any) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


AS = {NUMBER: _number, TEXT: _text, DATE: _date, DATETIME: _datetime, BOOLEAN: _boolean}


def whole(number: Decimal) -> int:
    """A number as a whole number of days or characters: its decimals dropped (toward zero), cut to +-1e9."""
    return max(min(int(number), WHOLE_LIMIT), -WHOLE_LIMIT)


def round_half_away(number: Decimal, digits: int) -> Decimal:
    try:
        return number.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    except InvalidOperation:  # more digits than the precision holds: already as round as it can be
        return number


def number_text(number: Decimal) -> str:
    """TEXT of a number: rounded to 6 decimals, without trailing zeros, never '-0'."""
    rounded = round_half_away(number, TEXT_DECIMALS)
    if rounded == 0:
        return "0"
    text = format(rounded, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def as_text(value: Any, kind: str) -> str | None:
    if value is None:
        return None
    if kind == NUMBER:
        return number_text(value)
    if kind == DATE:
        return value.isoformat()
    if kind == DATETIME:
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if kind == BOOLEAN:
        return "true" if value else "false"
    return value


def equal(left: Any, right: Any) -> bool | None:
    if left is None or right is None:
        return None
    return left == right


COMPARE = {
    "=": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b, "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
}


class _Evaluation:
    def __init__(self, record: Mapping[str, Any], fetch: Fetch | None, now: dt.datetime) -> None:
        self.record, self.fetch, self.now = record, fetch, now.astimezone(UTC)

    def value(self, node: Node) -> Any:
        if isinstance(node, Literal):
            return node.value
        if isinstance(node, Ref):
            return AS[node.type](self.read(node))
        if isinstance(node, Op):
            return self.op(node)
        return getattr(self, "call_" + node.name.lower())(node)

    def read(self, ref: Ref) -> Any:
        values: Mapping[str, Any] | None = self.record
        for position, fdef in enumerate(ref.fields[:-1]):
            linked = values.get(fdef.name)
            if blank(linked):
                return None
            following = ref.fields[position + 1].name
            if isinstance(linked, Mapping) and following in linked:
                values = linked
                continue
            record_id = linked.get("id") if isinstance(linked, Mapping) else linked
            if self.fetch is None or record_id is None:
                return None
            values = self.fetch(fdef.spec["target"], int(record_id))
            if values is None:
                return None
        last = ref.fields[-1]
        if last.formula:  # another formula: computed on the record the path leads to
            return _Evaluation(values, self.fetch, self.now).value(last.typed.root)
        return values.get(last.name)

    def op(self, node: Op) -> Any:
        args = [self.value(arg) for arg in node.args]
        if node.op == "&":
            return "".join(a or "" for a in args)
        if node.op == "neg":
            return None if args[0] is None else -args[0]
        left, right = args
        if left is None or right is None:
            return None
        if node.op in COMPARE:
            return COMPARE[node.op](left, right)
        if node.op == "+":
            return left + right
        if node.op == "-":
            return left - right
        if node.op == "*":
            return left * right
        return None if right == 0 else left / right

    # --- functions, by name ------------------------------------------------------------------------

    def call_and(self, node: Call) -> bool | None:
        values = [self.value(arg) for arg in node.args]
        if any(v is False for v in values):
            return False
        return None if any(v is None for v in values) else True

    def call_or(self, node: Call) -> bool | None:
        values = [self.value(arg) for arg in node.args]
        if any(v is True for v in values):
            return True
        return None if any(v is None for v in values) else False

    def call_not(self, node: Call) -> bool | None:
        value = self.value(node.args[0])
        return None if value is None else not value

    def call_if(self, node: Call) -> Any:
        if self.value(node.args[0]) is True:
            return self.value(node.args[1])
        return self.value(node.args[2]) if len(node.args) == 3 else None

    def call_case(self, node: Call) -> Any:
        subject = self.value(node.args[0])
        pairs = node.args[1:-1]
        for match, result in zip(pairs[::2], pairs[1::2]):
            if equal(subject, self.value(match)) is True:
                return self.value(result)
        return self.value(node.args[-1])

    def call_isblank(self, node: Call) -> bool:
        return blank(self.value(node.args[0]))

    def call_blankvalue(self, node: Call) -> Any:
        value = self.value(node.args[0])
        return self.value(node.args[1]) if blank(value) else value

    def call_ispickval(self, node: Call) -> bool:
        return self.value(node.args[0]) == node.args[1].value

    def call_today(self, _node: Call) -> dt.date:
        return self.now.date()

    def call_now(self, _node: Call) -> dt.datetime:
        return self.now

    def call_days_between(self, node: Call) -> Decimal | None:
        start, end = (_date(self.value(arg)) for arg in node.args)
        if start is None or end is None:
            return None
        return Decimal((end - start).days)

    def call_hours_between(self, node: Call) -> Decimal | None:
        start, end = (_datetime(self.value(arg)) for arg in node.args)
        if start is None or end is None:
            return None
        return round_half_away(Decimal(str((end - start).total_seconds())) / Decimal(3600), 4)

    def call_add_days(self, node: Call) -> Any:
        moment, days = (self.value(arg) for arg in node.args)
        if moment is None or days is None:
            return None
        day = _date(moment)
        count = min(max(whole(days), (dt.date.min - day).days), (dt.date.max - day).days)
        return moment + dt.timedelta(days=count)

    def call_year(self, node: Call) -> Decimal | None:
        day = _date(self.value(node.args[0]))
        return None if day is None else Decimal(day.year)

    def call_month(self, node: Call) -> Decimal | None:
        day = _date(self.value(node.args[0]))
        return None if day is None else Decimal(day.month)

    def call_day(self, node: Call) -> Decimal | None:
        day = _date(self.value(node.args[0]))
        return None if day is None else Decimal(day.day)

    def call_concat(self, node: Call) -> str:
        return "".join(self.value(arg) or "" for arg in node.args)

    def call_left(self, node: Call) -> str | None:
        text, count = (self.value(arg) for arg in node.args)
        if text is None or count is None:
            return None
        return text[:max(whole(count), 0)]

    def call_upper(self, node: Call) -> str | None:
        text = self.value(node.args[0])
        return None if text is None else text.translate(ASCII_UPPER)

    def call_lower(self, node: Call) -> str | None:
        text = self.value(node.args[0])
        return None if text is None else text.translate(ASCII_LOWER)

    def call_contains(self, node: Call) -> bool:
        text, part = (self.value(arg) for arg in node.args)
        return (part or "") in (text or "")

    def call_text(self, node: Call) -> str | None:
        return as_text(self.value(node.args[0]), node.args[0].type)

    def call_len(self, node: Call) -> Decimal:
        return Decimal(len(self.value(node.args[0]) or ""))

    def call_round(self, node: Call) -> Decimal | None:
        number = self.value(node.args[0])
        digits = int(self.value(node.args[1]))
        return None if number is None else round_half_away(number, digits)

    def call_abs(self, node: Call) -> Decimal | None:
        number = self.value(node.args[0])
        return None if number is None else abs(number)

    def call_min(self, node: Call) -> Any:
        values = [v for v in (self.value(arg) for arg in node.args) if v is not None]
        return min(values) if values else None

    def call_max(self, node: Call) -> Any:
        values = [v for v in (self.value(arg) for arg in node.args) if v is not None]
        return max(values) if values else None
