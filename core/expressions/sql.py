"""Compiling a checked expression to one SQLAlchemy column expression, the same on SQLite and PostgreSQL.

Lookups are followed with LEFT OUTER JOINs, one aliased join per path prefix (``account``,
``account.owner``), collected in a ``Joins`` that the caller adds to its FROM
(``joins.select_from(table)``); a record whose lookup is empty still appears, with the path
blank. Joins rather than correlated subqueries: the planners of both databases turn them into
index lookups on the target's primary key, a list can filter, sort and group on the result,
and several expressions of one query share a join per path.

Where the two databases differ, a ``Dialectal`` element holds both forms and the compiler
picks one: PostgreSQL computes numbers as NUMERIC (exact), SQLite as REAL (15 significant
digits), so on SQLite numbers compare equal within 1e-9 + 1e-12 of their size and ROUND
allows for the binary error at a half; PostgreSQL orders texts with COLLATE "C" (by code
point, as SQLite and Python do); dates and times are UTC on both.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import Grouping
from sqlalchemy.sql.functions import FunctionElement

from core.expressions.check import BOOLEAN, DATE, DATETIME, NULL, NUMBER, TEXT, Typed
from core.expressions.syntax import Call, Literal, Node, Op, Ref

TYPES = {
    NUMBER: sa.Numeric(asdecimal=True), TEXT: sa.String(), DATE: sa.Date(), DATETIME: sa.DateTime(timezone=True),
    BOOLEAN: sa.Boolean(), NULL: sa.String(),
}
CAST_TYPES = {NUMBER: sa.Numeric(), TEXT: sa.String(), DATE: sa.Date(), DATETIME: sa.DateTime(timezone=True),
              BOOLEAN: sa.Boolean(), NULL: sa.String()}
WHOLE_LIMIT = 1_000_000_000  # a count of days or characters is cut to this
FIRST_DAY, LAST_DAY = "0001-01-01", "9999-12-31"
CALENDAR_DAYS = 3_652_059  # from the first day to the last
LOWER_LETTERS, UPPER_LETTERS = "abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


class Dialectal(FunctionElement):
    """One value written for SQLite (first clause) and for PostgreSQL (second); rendered in brackets."""

    name = "dialectal"
    inherit_cache = True

    def __init__(self, sqlite, postgresql, type_) -> None:
        super().__init__(sqlite, postgresql)
        self.type = type_


@compiles(Dialectal)
def _dialectal(element, compiler, **kw):
    sqlite, postgresql = element.clauses.clauses
    chosen = sqlite if compiler.dialect.name == "sqlite" else postgresql
    return "(" + compiler.process(chosen, **kw) + ")"


class Joins:
    """The outer joins the compiled expressions need, one aliased target table per lookup path."""

    def __init__(self, table_for: Callable[[str], sa.Table], prefix: str = "xj") -> None:
        self.table_for, self.prefix = table_for, prefix
        self._aliases: dict[tuple[str, ...], sa.FromClause] = {}
        self._joined: list[tuple[sa.FromClause, sa.ColumnElement]] = []

    def alias(self, path: tuple[str, ...], source: sa.ColumnElement, target: str) -> sa.FromClause:
        found = self._aliases.get(path)
        if found is None:
            found = self.table_for(target).alias(f"{self.prefix}{len(self._aliases) + 1}_{target}"[:60])
            self._aliases[path] = found
            self._joined.append((found, found.c.id == source))
        return found

    def select_from(self, table: sa.FromClause) -> sa.FromClause:
        """``table`` with the joins added (itself when there are none)."""
        joined = table
        for alias, on in self._joined:
            joined = joined.outerjoin(alias, on)
        return joined


def compile_sql(typed: Typed, table: sa.FromClause, joins: Joins) -> sa.ColumnElement:
    """``typed`` as a column expression on ``table`` (the object's table or an alias of it), typed as its result
    (Numeric as Decimal, String, Date, DateTime, Boolean); joins for lookup paths are added to ``joins``."""
    return sa.type_coerce(_Compiler(table, joins).sql(typed.root), TYPES[typed.type])


def both(sqlite, postgresql, kind: str) -> Dialectal:
    return Dialectal(sqlite, postgresql, TYPES[kind])


def _n(text: str) -> sa.ColumnElement:
    return sa.literal_column(text, sa.Numeric())


def _whole(number) -> Dialectal:
    """A number as a whole count, its decimals dropped (SQLite's allowing for binary error), cut to +-1e9."""
    limit = _n(str(WHOLE_LIMIT))
    sqlite = sa.cast(sa.case((number < 0, number - _n("1e-9")), else_=number + _n("1e-9")), sa.Integer)
    sqlite = sa.func.max(sa.func.min(sqlite, limit), -limit)
    exact = sa.cast(number, sa.Numeric)  # a CASE, not LEAST and GREATEST, which would turn a blank into the limit
    postgresql = sa.cast(sa.func.trunc(sa.case((exact < -limit, -limit), (exact > limit, limit), else_=exact)), sa.Integer)
    return Dialectal(sqlite, postgresql, sa.Integer())


def _tolerance(left, right):
    return _n("1e-9") + _n("1e-12") * sa.func.max(sa.func.abs(left), sa.func.abs(right))


def compare(op: str, kind: str, left, right) -> sa.ColumnElement:
    """``left op right`` for values of ``kind``: numbers on SQLite within the tolerance, texts ordered by code point."""
    if op == "!=":
        plain = left != right
    else:
        plain = {"=": left.__eq__, "<": left.__lt__, "<=": left.__le__, ">": left.__gt__, ">=": left.__ge__}[op](right)
    if kind == NUMBER:
        tol = _tolerance(left, right)
        sqlite = {
            "=": sa.func.abs(left - right) <= tol, "!=": sa.func.abs(left - right) > tol,
            "<": right - left > tol, "<=": left - right <= tol, ">": left - right > tol, ">=": right - left <= tol,
        }[op]
        return both(sqlite, plain, BOOLEAN)
    if kind == TEXT and op not in ("=", "!="):
        ordered = {"<": "__lt__", "<=": "__le__", ">": "__gt__", ">=": "__ge__"}[op]
        return both(plain, getattr(left.collate("C"), ordered)(right), BOOLEAN)
    return plain


def round_sql(number, digits: int) -> Dialectal:
    """``number`` rounded half away from zero to ``digits`` decimals (negative: tens, hundreds...)."""
    size = sa.func.abs(number)
    if digits >= 0:
        scaled, unscale = size * _n(f"{10 ** digits}.0"), lambda whole: whole / _n(f"{10 ** digits}.0")
    else:
        scaled, unscale = size / _n(f"{10 ** -digits}.0"), lambda whole: whole * _n(str(10 ** -digits))
    nudged = scaled + _n("0.5") + _n("1e-9") + scaled * _n("4e-15")  # a half stored a little under it still rounds up
    sign = sa.case((number < 0, _n("-1")), else_=_n("1"))
    sqlite = sign * unscale(sa.cast(nudged, sa.Integer))
    postgresql = sa.func.round(sa.cast(number, sa.Numeric), digits)
    return both(sqlite, postgresql, NUMBER)


def _utc(moment) -> sa.ColumnElement:
    return sa.func.timezone("UTC", moment)


def _pg_day(node_kind: str, value):
    return sa.cast(_utc(value), sa.Date) if node_kind == DATETIME else value


def _pg_moment(node_kind: str, value):
    """A date as the moment of its midnight in UTC; a moment as it is."""
    return value if node_kind == DATETIME else sa.func.timezone("UTC", sa.cast(value, sa.DateTime))


def _blank(value, kind: str) -> sa.ColumnElement:
    value = Grouping(value)  # NOT x IS NULL would read as NOT (x IS NULL)
    if kind == TEXT:
        return sa.or_(value.is_(None), value == "")
    return value.is_(None)


def _text(value: str) -> sa.ColumnElement:
    return sa.cast(sa.literal(value, sa.String()), sa.String())


EMPTY = sa.literal_column("''", sa.String())


class _Compiler:
    def __init__(self, table: sa.FromClause, joins: Joins, prefix: tuple[str, ...] = ()) -> None:
        self.table, self.joins, self.prefix = table, joins, prefix  # prefix: the path from the query's table to ``table``

    def sql(self, node: Node) -> sa.ColumnElement:
        if isinstance(node, Literal):
            return self.literal(node)
        if isinstance(node, Ref):
            return self.ref(node)
        if isinstance(node, Op):
            return self.op(node)
        return getattr(self, "call_" + node.name.lower())(node)

    def literal(self, node: Literal) -> sa.ColumnElement:
        value = node.value
        if value is None:
            return sa.cast(sa.null(), CAST_TYPES[node.type or NULL])
        if value is True:
            return sa.true()
        if value is False:
            return sa.false()
        if isinstance(value, str):
            return _text(value)
        return _n(str(value))

    def ref(self, ref: Ref) -> sa.ColumnElement:
        source: sa.FromClause = self.table
        for position, fdef in enumerate(ref.fields[:-1]):
            source = self.joins.alias(self.prefix + ref.names[:position + 1], source.c[fdef.name], fdef.spec["target"])
        last = ref.fields[-1]
        if last.formula:  # another formula: its expression, on the record the path leads to
            inner = _Compiler(source, self.joins, self.prefix + ref.names[:-1]).sql(last.typed.root)
            return sa.type_coerce(inner, TYPES[ref.type])
        column = source.c[last.name]
        if ref.type == NUMBER and (last.type.whole or last.type.family == "relation"):
            return both(column, sa.cast(column, sa.Numeric), NUMBER)  # whole numbers and ids as NUMERIC: no integer division
        return column

    def op(self, node: Op) -> sa.ColumnElement:
        args = [self.sql(arg) for arg in node.args]
        if node.op == "neg":
            return -sa.type_coerce(args[0], sa.Numeric())
        if node.op == "&":
            return sa.func.coalesce(args[0], EMPTY).op("||", return_type=sa.String())(sa.func.coalesce(args[1], EMPTY))
        left, right = (sa.type_coerce(a, TYPES[arg.type]) for a, arg in zip(args, node.args))
        if node.op == "+":
            return left + right
        if node.op == "-":
            return left - right
        if node.op == "*":
            return left * right
        if node.op == "/":
            sqlite = sa.cast(args[0], sa.Float) / sa.func.nullif(right, _n("0"))
            postgresql = sa.cast(args[0], sa.Numeric) / sa.func.nullif(sa.cast(args[1], sa.Numeric), _n("0"))
            return both(sqlite, postgresql, NUMBER)
        return compare(node.op, node.args[0].type, left, right)

    # --- functions, by name ------------------------------------------------------------------------

    def call_and(self, node: Call):
        return sa.and_(*[self.sql(arg) for arg in node.args])

    def call_or(self, node: Call):
        return sa.or_(*[self.sql(arg) for arg in node.args])

    def call_not(self, node: Call):
        # grouped: SQLite writes NOT b as "b = 0", and without parentheses "a OR b = 0" would negate b alone
        return sa.not_(Grouping(sa.type_coerce(self.sql(node.args[0]), sa.Boolean())))

    def call_if(self, node: Call):
        otherwise = self.sql(node.args[2]) if len(node.args) == 3 else sa.cast(sa.null(), CAST_TYPES[node.type])
        return sa.case((self.sql(node.args[0]), self.sql(node.args[1])), else_=otherwise)

    def call_case(self, node: Call):
        subject, kind = self.sql(node.args[0]), node.args[0].type
        subject = sa.type_coerce(subject, TYPES[kind])
        pairs = node.args[1:-1]
        whens = [(compare("=", kind, subject, sa.type_coerce(self.sql(match), TYPES[kind])), self.sql(result))
                 for match, result in zip(pairs[::2], pairs[1::2])]
        return sa.case(*whens, else_=self.sql(node.args[-1]))

    def call_isblank(self, node: Call):
        return _blank(self.sql(node.args[0]), node.args[0].type)

    def call_blankvalue(self, node: Call):
        value, substitute = self.sql(node.args[0]), self.sql(node.args[1])
        if node.args[0].type == TEXT:
            return sa.case((_blank(value, TEXT), substitute), else_=value)
        return sa.func.coalesce(value, substitute)

    def call_ispickval(self, node: Call):
        return sa.case((self.sql(node.args[0]) == _text(node.args[1].value), sa.true()), else_=sa.false())

    def call_today(self, _node: Call):
        return both(sa.func.date("now"), sa.cast(_utc(sa.func.now()), sa.Date), DATE)

    def call_now(self, _node: Call):
        sqlite = sa.func.strftime("%Y-%m-%d %H:%M:%f", "now").op("||")(sa.literal_column("'000'"))
        return both(sqlite, sa.func.now(), DATETIME)

    def call_days_between(self, node: Call):
        (start, end), kinds = [self.sql(a) for a in node.args], [a.type for a in node.args]
        sqlite = sa.cast(sa.func.julianday(sa.func.date(end)) - sa.func.julianday(sa.func.date(start)), sa.Integer)
        postgresql = _pg_day(kinds[1], end) - _pg_day(kinds[0], start)
        return both(sqlite, sa.cast(postgresql, sa.Numeric), NUMBER)

    def call_hours_between(self, node: Call):
        """Hours (with their fraction, to four decimals) from one moment to another; a date is its midnight in UTC."""
        (start, end), kinds = [self.sql(a) for a in node.args], [a.type for a in node.args]
        sqlite = (sa.func.julianday(end) - sa.func.julianday(start)) * _n("24.0")
        postgresql = sa.extract("epoch", _pg_moment(kinds[1], end) - _pg_moment(kinds[0], start)) / _n("3600.0")
        return round_sql(both(sqlite, sa.cast(postgresql, sa.Numeric), NUMBER), 4)

    def call_add_days(self, node: Call):
        """The days are cut so that the result stays within the years 1 to 9999 (as Python's dates do)."""
        moment, days = self.sql(node.args[0]), _whole(self.sql(node.args[1]))
        kind = node.args[0].type
        sqlite_day = sa.func.julianday(sa.func.date(moment))
        sqlite_days = sa.func.max(sa.func.min(days, sa.cast(sa.func.julianday(LAST_DAY) - sqlite_day, sa.Integer)),
                                  sa.cast(sa.func.julianday(FIRST_DAY) - sqlite_day, sa.Integer))
        modifier = sa.cast(sqlite_days, sa.String).op("||")(sa.literal_column("' days'"))
        pg_day = _pg_day(kind, moment)
        span = _n(str(CALENDAR_DAYS))  # LEAST and GREATEST skip a blank: without this, a blank date lets 1e9 days through
        pg_days = sa.func.greatest(sa.func.least(days, sa.literal_column(f"DATE '{LAST_DAY}'") - pg_day, span),
                                   sa.literal_column(f"DATE '{FIRST_DAY}'") - pg_day, -span)
        pg_days = sa.case((days.is_(None), sa.cast(sa.null(), sa.Integer)), else_=pg_days)
        if kind == DATE:
            return both(sa.func.date(moment, modifier), sa.type_coerce(moment, sa.Date) + pg_days, DATE)
        sqlite = sa.func.strftime("%Y-%m-%d %H:%M:%S", moment, modifier).op("||")(sa.func.substr(moment, 20))
        hours = sa.func.make_interval(0, 0, 0, 0, pg_days * 24)  # hours, not days: a day is 24 hours in any session time zone
        postgresql = moment.op("+", return_type=sa.DateTime(timezone=True))(hours)
        return both(sqlite, postgresql, DATETIME)

    def _part(self, node: Call, sqlite_format: str, field: str):
        value, kind = self.sql(node.args[0]), node.args[0].type
        sqlite = sa.cast(sa.func.strftime(sqlite_format, value), sa.Integer)
        postgresql = sa.cast(sa.extract(field, _pg_day(kind, value)), sa.Numeric)
        return both(sqlite, postgresql, NUMBER)

    def call_year(self, node: Call):
        return self._part(node, "%Y", "year")

    def call_month(self, node: Call):
        return self._part(node, "%m", "month")

    def call_day(self, node: Call):
        return self._part(node, "%d", "day")

    def call_concat(self, node: Call):
        parts = [sa.func.coalesce(self.sql(arg), EMPTY) for arg in node.args]
        joined = parts[0]
        for part in parts[1:]:
            joined = joined.op("||", return_type=sa.String())(part)
        return joined

    def call_left(self, node: Call):
        text, count = self.sql(node.args[0]), _whole(self.sql(node.args[1]))
        sqlite = sa.func.substr(text, 1, sa.func.max(count, 0))
        postgresql = sa.func.substr(text, 1, sa.case((count < 0, 0), else_=count))
        return both(sqlite, postgresql, TEXT)

    def call_upper(self, node: Call):
        text = self.sql(node.args[0])
        return both(sa.func.upper(text), sa.func.translate(text, LOWER_LETTERS, UPPER_LETTERS), TEXT)

    def call_lower(self, node: Call):
        text = self.sql(node.args[0])
        return both(sa.func.lower(text), sa.func.translate(text, UPPER_LETTERS, LOWER_LETTERS), TEXT)

    def call_contains(self, node: Call):
        text, part = (sa.func.coalesce(self.sql(arg), EMPTY) for arg in node.args)
        return both(sa.func.instr(text, part) > 0, sa.func.strpos(text, part) > 0, BOOLEAN)

    def call_len(self, node: Call):
        return sa.func.length(sa.func.coalesce(self.sql(node.args[0]), EMPTY))

    def call_text(self, node: Call):
        value, kind = self.sql(node.args[0]), node.args[0].type
        if kind == TEXT:
            return value
        if kind == NUMBER:
            rounded = round_sql(value, 6)
            written = sa.func.rtrim(sa.func.rtrim(sa.func.printf("%.6f", rounded + _n("0.0")), "0"), ".")
            sqlite = sa.case((value.is_(None), sa.cast(sa.null(), sa.String)), else_=written)  # printf writes a blank as 0
            postgresql = sa.func.rtrim(sa.func.rtrim(sa.cast(rounded, sa.Text), "0"), ".")
            return both(sqlite, postgresql, TEXT)
        if kind == DATE:
            return both(sa.func.date(value), sa.func.to_char(value, "YYYY-MM-DD"), TEXT)
        if kind == DATETIME:
            return both(sa.func.strftime("%Y-%m-%dT%H:%M:%SZ", value),
                        sa.func.to_char(_utc(value), 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), TEXT)
        condition = sa.type_coerce(value, sa.Boolean())
        return sa.case((condition, _text("true")), (sa.not_(condition), _text("false")))

    def call_round(self, node: Call):
        digits = node.args[1]
        count = -digits.args[0].value if isinstance(digits, Op) else digits.value
        return round_sql(self.sql(node.args[0]), int(count))

    def call_abs(self, node: Call):
        return sa.func.abs(self.sql(node.args[0]))

    def _least(self, node: Call, sqlite_name: str, pg_name: str):
        values = [self.sql(arg) for arg in node.args]
        if len(values) == 1:
            return values[0]
        rotations = [sa.func.coalesce(*(values[i:] + values[:i])) for i in range(len(values))]
        return both(getattr(sa.func, sqlite_name)(*rotations), getattr(sa.func, pg_name)(*values), node.type)

    def call_min(self, node: Call):
        return self._least(node, "min", "least")

    def call_max(self, node: Call):
        return self._least(node, "max", "greatest")
