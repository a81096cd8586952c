"""The expression language (core/expressions/): parsing with columns, type checks against the metadata with hints in
both languages, lookup paths up to three names, blanks and division by zero, and the differential test: hundreds of
random well-typed expressions computed in SQL (on the test's database) and in Python give the same values."""

from __future__ import annotations

import datetime as dt
import random
import re
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from helpers import changeset, label

from core.expressions import (
    FUNCTIONS,
    ExpressionError,
    Joins,
    check,
    compile_sql,
    evaluate,
)

STAGES = ["new", "won", "lost"]
GRAND = {"name": "xgrand", "label": label("Grand"), "title_field": "name", "fields": [
    {"name": "name", "type": "text", "label": label("Name")},
    {"name": "level", "type": "integer", "label": label("Level")},
]}
PARENT = {"name": "xparent", "label": label("Parent"), "title_field": "title", "fields": [
    {"name": "title", "type": "text", "label": label("Title")},
    {"name": "score", "type": "decimal", "label": label("Score")},
    {"name": "day", "type": "date", "label": label("Day")},
    {"name": "grand", "type": "lookup", "label": label("Grand"), "target": "xgrand", "on_delete": "set_null"},
]}
THING = {"name": "xthing", "label": label("Thing"), "title_field": "label", "fields": [
    {"name": "label", "type": "text", "label": label("Label")},
    {"name": "n", "type": "integer", "label": label("N")},
    {"name": "d", "type": "decimal", "label": label("D")},
    {"name": "amount", "type": "currency", "label": label("Amount")},
    {"name": "day", "type": "date", "label": label("Day")},
    {"name": "at", "type": "datetime", "label": label("At")},
    {"name": "flag", "type": "boolean", "label": label("Flag")},
    {"name": "stage", "type": "picklist", "label": label("Stage"), "values": [{"value": v, "label": label(v)} for v in STAGES]},
    {"name": "tags", "type": "multi_picklist", "label": label("Tags"), "values": [{"value": "x", "label": label("x")}]},
    {"name": "parent", "type": "lookup", "label": label("Parent"), "target": "xparent", "on_delete": "set_null"},
]}


@pytest.fixture
def world(runtime, actor):
    runtime.import_changeset(changeset(GRAND, PARENT, THING), "test", "tester")
    records = runtime.records
    grands = [records.create(actor, "xgrand", v)["id"] for v in
              ({"name": "Ünïcode 北京", "level": 3}, {"name": "", "level": 0}, {"name": None, "level": None})]
    parents = [records.create(actor, "xparent", v)["id"] for v in (
        {"title": "Alpha", "score": "2.5", "day": "2024-02-29", "grand": grands[0]},
        {"title": "beta", "score": "-0.0001", "day": None, "grand": grands[1]},
        {"title": None, "score": None, "day": "1999-12-31", "grand": grands[2]},
        {"title": "O'Neil", "score": "0", "day": "2030-01-01", "grand": None},
    )]
    columns = {
        "label": ["alpha", "Beta", "", None, "Zürich", "北京市", "a%b_c", "O'Neil", " spaced ", "ALPHA"],
        "n": [None, 0, -5, 7, 1000000, 12, -1, 3],
        "d": [None, "0", "-2.5", "1.2345", "0.0001", "999999.9999", "3", "-0.5"],
        "amount": [None, "0", "10.05", "-0.01", "123456.78", "2.5", "-1000", "0.5", "7"],
        "day": [None, "2024-02-29", "1999-12-31", "2030-01-01", "2026-07-15"],
        "at": [None, "2024-03-01T23:30:00Z", "2000-01-01T00:00:00.250000Z", "2031-12-31T12:00:00Z", "2026-07-15T06:05:04Z"],
        "flag": [None, True, False],
        "stage": [None, *STAGES],
        "parent": [None, *parents],
    }
    made, rng = [], random.Random(7)
    for i in range(14):
        values = {name: options[i] if i < len(options) else rng.choice(options) for name, options in columns.items()}
        made.append(records.create(actor, "xthing", values)["id"])
    return made


def rows(runtime, object_name: str) -> dict[int, dict]:
    with runtime.reading() as (conn, schema):
        table = schema.tables.table(object_name)
        return {row["id"]: dict(row) for row in conn.execute(sa.select(table)).mappings()}


def meta_of(runtime):
    return runtime.current_metadata()


def sql_values(runtime, typed_list) -> dict[int, list]:
    """Each record's values of the expressions, computed in one SELECT."""
    with runtime.reading() as (conn, schema):
        table = schema.tables.table("xthing")
        joins = Joins(schema.tables.table)
        columns = [compile_sql(typed, table, joins).label(f"e{i}") for i, typed in enumerate(typed_list)]
        query = sa.select(table.c.id, *columns).select_from(joins.select_from(table)).order_by(table.c.id)
        return {row[0]: list(row[1:]) for row in conn.execute(query)}


def python_values(runtime, typed_list, now) -> dict[int, list]:
    found = {name: rows(runtime, name) for name in ("xthing", "xparent", "xgrand")}

    def fetch(object_name, record_id):
        return found[object_name].get(record_id)

    return {record_id: [evaluate(typed, record, fetch, now=now) for typed in typed_list]
            for record_id, record in sorted(found["xthing"].items())}


def normal(value, kind):
    if value is None:
        return None
    if kind == "number":
        return Decimal(str(value))
    if kind == "datetime":
        if isinstance(value, str):
            value = dt.datetime.fromisoformat(value)
        value = value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
        return value.isoformat()
    if kind == "date":
        return value.isoformat() if not isinstance(value, str) else value
    if kind == "boolean":
        return bool(value)
    return value


def same(left, right, kind) -> bool:
    left, right = normal(left, kind), normal(right, kind)
    if kind == "number" and left is not None and right is not None:
        return abs(left - right) <= Decimal("1e-9") * max(Decimal(1), abs(left), abs(right))
    return left == right


# --- random well-typed expressions -------------------------------------------------------------------

FIELDS = {
    "number": ["n", "d", "amount", "parent.score", "parent.grand.level"],
    "text": ["label", "stage", "parent.title", "parent.grand.name"],
    "date": ["day", "parent.day"],
    "datetime": ["at"],
    "boolean": ["flag"],
}
NUMBERS = ["0", "1", "2", "2.5", "0.125", "1000000", "3", "0.01"]
TEXTS = ["'a'", "''", "'Zürich'", "\"北京\"", "'it\\'s'", "'ALPHA'", "'alpha'", "' '"]


class Generator:
    """Random expressions of a wanted type. ``exact``: the value will be compared, rounded or written as text, so no
    division and no product of two fields (SQLite's binary numbers would differ in the last digits)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def pick(self, options):
        return self.rng.choice(options)

    def expr(self, kind: str, depth: int, exact: bool = False) -> str:
        if depth <= 0 or self.rng.random() < 0.25:
            return self.leaf(kind)
        return getattr(self, kind)(depth - 1, exact)

    def leaf(self, kind: str) -> str:
        if kind == "number":
            return self.pick(FIELDS["number"] * 2 + NUMBERS + ["-1"])
        if kind == "text":
            return self.pick(FIELDS["text"] * 2 + TEXTS)
        if kind == "boolean":
            return self.pick(["flag", "flag", "TRUE", "false"])
        if kind == "date":
            return self.pick(FIELDS["date"] * 3 + ["TODAY()"])
        return "at"

    def number(self, depth: int, exact: bool) -> str:
        e = self.expr
        choices = [
            lambda: f"{e('number', depth, exact)} + {e('number', depth, exact)}",
            lambda: f"{e('number', depth, exact)} - {e('number', depth, exact)}",
            lambda: f"-{e('number', depth, exact)}",
            lambda: f"({e('number', depth, exact)}) * {self.pick(['2', '3', '-1', '0'])}",
            lambda: f"ABS({e('number', depth, exact)})",
            lambda: f"ROUND({e('number', depth, True)}, {self.pick(['0', '1', '2', '-1', '3'])})",
            lambda: f"MIN({e('number', depth, exact)}, {e('number', depth, exact)})",
            lambda: f"max({e('number', depth, exact)}, {e('number', depth, exact)}, {e('number', depth, exact)})",
            lambda: f"IF({e('boolean', depth)}, {e('number', depth, exact)}, {self.pick([e('number', depth, exact), 'NULL'])})",
            lambda: f"CASE({e('number', depth, True)}, 0, {e('number', depth, exact)}, 7, {e('number', depth, exact)}, {e('number', depth, exact)})",
            lambda: f"CASE(stage, 'won', {e('number', depth, exact)}, 'lost', -1, {e('number', depth, exact)})",
            lambda: f"BLANKVALUE({e('number', depth, exact)}, {e('number', depth, exact)})",
            lambda: f"LEN({e('text', depth)})",
            lambda: f"DAYS_BETWEEN({e(self.pick(['date', 'datetime']), depth)}, {e(self.pick(['date', 'datetime']), depth)})",
            lambda: f"HOURS_BETWEEN({e(self.pick(['date', 'datetime']), depth)}, {e(self.pick(['date', 'datetime']), depth)})",
            lambda: f"{self.pick(['YEAR', 'MONTH', 'DAY'])}({self.pick([e('date', depth), e('datetime', depth), 'NOW()'])})",
        ]
        if not exact:
            choices += [
                lambda: f"{e('number', depth)} / {e('number', depth)}",
                lambda: f"({e('number', depth)}) * ({e('number', depth)})",
            ]
        return self.pick(choices)()

    def text(self, depth: int, exact: bool) -> str:
        e = self.expr
        return self.pick([
            lambda: f"{e('text', depth)} & {e('text', depth)}",
            lambda: f"CONCAT({e('text', depth)}, {e('text', depth)}, {e('text', depth)})",
            lambda: f"LEFT({e('text', depth)}, {e('number', depth, True)})",
            lambda: f"UPPER({e('text', depth)})",
            lambda: f"lower({e('text', depth)})",
            lambda: f"TEXT({e(self.pick(['number', 'date', 'datetime', 'boolean', 'text']), depth, True)})",
            lambda: f"IF({e('boolean', depth)}, {e('text', depth)}, {e('text', depth)})",
            lambda: f"CASE({e('text', depth)}, 'alpha', {e('text', depth)}, '', 'empty', {e('text', depth)})",
            lambda: f"BLANKVALUE({e('text', depth)}, {e('text', depth)})",
        ])()

    def date(self, depth: int, exact: bool) -> str:
        e = self.expr
        return self.pick([
            lambda: f"ADD_DAYS({e('date', depth)}, {e('number', depth, True)})",
            lambda: f"IF({e('boolean', depth)}, {e('date', depth)}, {e('date', depth)})",
            lambda: f"BLANKVALUE({e('date', depth)}, {e('date', depth)})",
            lambda: f"MIN({e('date', depth)}, {e('date', depth)})",
            lambda: f"MAX({e('date', depth)}, {e('date', depth)})",
        ])()

    def datetime(self, depth: int, exact: bool) -> str:
        e = self.expr
        return self.pick([
            lambda: f"ADD_DAYS({e('datetime', depth)}, {e('number', depth, True)})",
            lambda: f"IF({e('boolean', depth)}, {e('datetime', depth)}, NULL)",
            lambda: f"MAX({e('datetime', depth)}, {e('datetime', depth)})",
        ])()

    def boolean(self, depth: int, exact: bool) -> str:
        e = self.expr
        kind = self.pick(["number", "number", "text", "date", "datetime"])
        return self.pick([
            lambda: f"{e(kind, depth, True)} {self.pick(['=', '==', '!=', '<>', '<', '<=', '>', '>='])} {e(kind, depth, True)}",
            lambda: f"{e('boolean', depth)} {self.pick(['AND', 'or'])} {e('boolean', depth)}",
            lambda: f"NOT {e('boolean', depth)}",
            lambda: f"AND({e('boolean', depth)}, {e('boolean', depth)}, {e('boolean', depth)})",
            lambda: f"OR({e('boolean', depth)}, {e('boolean', depth)})",
            lambda: f"ISBLANK({e(self.pick(list(FIELDS)), depth)})",
            lambda: f"ISPICKVAL(stage, '{self.pick(STAGES)}')",
            lambda: f"CONTAINS({e('text', depth)}, {e('text', depth)})",
            lambda: f"IF({e('boolean', depth)}, {e('boolean', depth)}, {e('boolean', depth)})",
            lambda: f"flag = ({e('boolean', depth)})",
        ])()


def test_random_expressions_give_the_same_values_in_sql_and_in_python(runtime, world):
    meta = meta_of(runtime)
    generator = Generator(20260301)
    typed_list = []
    for i in range(600):
        kind = ["number", "text", "date", "datetime", "boolean"][i % 5]
        text = generator.expr(kind, 3)
        typed_list.append(check(meta, "xthing", text))
    now = dt.datetime.now(dt.UTC)
    python = python_values(runtime, typed_list, now)
    compared, problems = 0, []
    for start in range(0, len(typed_list), 60):
        batch = typed_list[start:start + 60]
        try:
            sql = sql_values(runtime, batch)
        except sa.exc.DBAPIError:
            pytest.fail(f"the database refuses {failing(runtime, batch)}")
        for record_id, values in sql.items():
            for offset, (typed, value) in enumerate(zip(batch, values)):
                compared += 1
                expected = python[record_id][start + offset]
                if not same(value, expected, typed.type):
                    problems.append(f"{typed.text!r} on record {record_id}: SQL {value!r}, Python {expected!r}")
    assert not problems, f"{len(problems)} differences, e.g.:\n" + "\n".join(problems[:15])
    assert len(typed_list) >= 500 and compared == len(typed_list) * len(world)


def failing(runtime, typed_list) -> str:
    """The first expression whose SQL the database refuses, for a readable failure."""
    for typed in typed_list:
        try:
            sql_values(runtime, [typed])
        except sa.exc.DBAPIError as exc:
            return f"{typed.text}: {str(exc.orig).splitlines()[0]}"
    return "none alone"


# --- the language's rules, one at a time ------------------------------------------------------------


def both_values(runtime, text: str) -> list[tuple]:
    """(SQL value, Python value) of ``text`` for each xthing record."""
    typed = check(meta_of(runtime), "xthing", text)
    sql = sql_values(runtime, [typed])
    python = python_values(runtime, [typed], dt.datetime.now(dt.UTC))
    return [(normal(sql[i][0], typed.type), normal(python[i][0], typed.type)) for i in sorted(sql)]


def problems(runtime, text: str, lang: str = "en") -> list[tuple[int, str]]:
    with pytest.raises(ExpressionError) as caught:
        check(meta_of(runtime), "xthing", text)
    return [(column, said.in_(lang)) for column, said in caught.value.problems]


def test_syntax_errors_name_the_column_and_the_line(runtime, world):
    assert problems(runtime, "amount +") == [(9, "the expression ends too early; expected a field or a function / a number / '(' / a text in quotes")]
    assert problems(runtime, "IF(n > 1, 'a' 'b')") == [(15, "''b'' is not expected here; expected ')' / ','")]
    assert problems(runtime, "label & 'open") == [(9, "a text is opened with a quote and not closed")]
    assert problems(runtime, "n # 2")[0][0] == 3
    with pytest.raises(ExpressionError) as caught:
        check(meta_of(runtime), "xthing", "IF(n > 1,\n   'a',\n   ))")
    assert caught.value.lines == [3] and caught.value.problems[0][0] == 4
    assert str(caught.value).startswith("line 3, column 4: ')' is not expected here")
    assert caught.value.say("zh-CN").startswith("第 3 行第 4 列：此处不应出现“)”")


def test_unknown_fields_and_functions_get_a_hint_in_both_languages(runtime, world):
    assert problems(runtime, "amout > 1") == [(1, "'amout' is not a field of xthing (did you mean 'amount'?)")]
    assert problems(runtime, "amout > 1", "zh-CN") == [(1, "“amout”不是 xthing 的字段（你是不是想写“amount”？）")]
    assert problems(runtime, "1 + UPPPER(label)") == [(5, "'UPPPER' is not a function (did you mean 'UPPER'?)")]
    assert problems(runtime, "parent.titel & 'x'") == [(8, "'titel' is not a field of xparent (did you mean 'title'?)")]
    # every problem is reported, in the order of the text
    assert [column for column, _ in problems(runtime, "nn + 1 > mm")] == [1, 10]


def test_argument_counts_and_types_are_checked(runtime, world):
    assert problems(runtime, "LEFT(label)") == [(1, "LEFT takes 2 argument(s); got 1")]
    assert problems(runtime, "LEN(n) > 1") == [(5, "argument 1 of LEN must be a text; it is a number")]
    assert problems(runtime, "LEN(n) > 1", "zh-CN") == [(5, "LEN 的第 1 个参数必须是文本；此处是数字。")]
    assert problems(runtime, "day + 1") == [(1, "'+' needs a number on each side; this is a date (use ADD_DAYS or DAYS_BETWEEN for dates)")]
    assert problems(runtime, "'n = ' & n")[0] == (10, "'&' needs a text on each side; this is a number (turn a value into text with TEXT(...))")
    assert problems(runtime, "n = 'x'") == [(3, "cannot compare a number with a text")]
    assert problems(runtime, "n = NULL") == [(3, "a comparison with NULL is always blank; test with ISBLANK(...)")]
    assert problems(runtime, "flag < TRUE")[0][1].startswith("'<' cannot order a condition")
    assert problems(runtime, "IF(flag, 1, 'one')") == [(1, "the results of IF must be of one type; here a number and a text")]
    assert problems(runtime, "CASE(n, 1, 'a', 'b', 'c')")[0][1].startswith("CASE takes an even number of arguments")
    assert problems(runtime, "ROUND(amount, n)") == [(15, "ROUND's digits are a whole number from -10 to 10, written out")]
    assert problems(runtime, "ISPICKVAL(stage, 'wn')") == [(18, "'wn' is not a value of stage: new, won, lost (did you mean 'won'?)")]
    assert problems(runtime, "ISPICKVAL(label, 'x')") == [(11, "ISPICKVAL tests a picklist field; 'label' is text")]
    assert problems(runtime, "ISBLANK(tags)") == [(9, "'tags' is a multi_picklist field, which an expression cannot read")]
    with pytest.raises(ExpressionError) as caught:
        check(meta_of(runtime), "xthing", "n + 1", expect="boolean")
    assert str(caught.value) == "column 1: the expression gives a number; a condition (true or false) is needed here"


def test_function_names_and_keywords_are_read_in_any_case(runtime, world):
    meta = meta_of(runtime)
    for text in ("if(flag, 1, 2)", "If(flag = true, 1, 2)", "and(flag, Not flag) OR false", "NOT(flag)"):
        assert check(meta, "xthing", text).type in ("number", "boolean")


def test_lookups_are_followed_up_to_three_names_and_no_further(runtime, world):
    meta = meta_of(runtime)
    typed = check(meta, "xthing", "parent.grand.name & ''")
    assert typed.paths() == {("parent", "grand", "name")}
    assert check(meta, "xthing", "owner.full_name").type == "text"  # system lookups too
    assert problems(runtime, "parent.grand.name.x") == [(19, "a path names at most 3 fields (account.owner.full_name); this one names 4")]
    assert problems(runtime, "label.x") == [(1, "'label' is not a lookup: no field follows it after a dot")]
    values = dict(enumerate(both_values(runtime, "parent.grand.name")))
    assert ("Ünïcode 北京", "Ünïcode 北京") in values.values()
    assert all(sql == python for sql, python in values.values())
    assert (None, None) in values.values()  # no parent, or a parent without a grand: blank


def test_division_by_zero_and_blanks_give_blank(runtime, world):
    for text in ("n / 0", "amount / (n - n)", "1 / NULL", "n + NULL", "-NULL * 2"):
        assert set(both_values(runtime, text)) == {(None, None)}, text
    assert set(both_values(runtime, "NULL & 'x' & CONCAT(NULL, 'y')")) == {("xy", "xy")}
    assert set(both_values(runtime, "ISBLANK('') AND ISBLANK(NULL) AND NOT ISBLANK(' ')")) == {(True, True)}
    assert set(both_values(runtime, "MIN(NULL, 3, NULL, 2)")) == {(Decimal(2), Decimal(2))}
    assert set(both_values(runtime, "LEN(NULL)")) == {(Decimal(0), Decimal(0))}
    assert set(both_values(runtime, "BLANKVALUE('', 'empty') & BLANKVALUE(NULL, 'none')")) == {("emptynone", "emptynone")}


def test_round_is_half_away_from_zero_and_text_of_a_number_is_plain(runtime, world):
    cases = {
        "ROUND(2.5, 0)": Decimal(3), "ROUND(-2.5, 0)": Decimal(-3), "ROUND(1.005, 2)": Decimal("1.01"),
        "ROUND(-0.125, 2)": Decimal("-0.13"), "ROUND(1250, -2)": Decimal(1300), "ROUND(0.3333, 3)": Decimal("0.333"),
    }
    for text, expected in cases.items():
        assert set(both_values(runtime, text)) == {(expected, expected)}, text
    texts = {"TEXT(1 / 3)": "0.333333", "TEXT(2.50)": "2.5", "TEXT(-0.0000001)": "0", "TEXT(1000000)": "1000000",
             "TEXT(1.1 * 3)": "3.3", "TEXT(DAYS_BETWEEN(ADD_DAYS(TODAY(), -3), TODAY()))": "3", "TEXT(TRUE)": "true"}
    for text, expected in texts.items():
        assert set(both_values(runtime, text)) == {(expected, expected)}, text


def test_dates_are_utc_calendar_days(runtime, world):
    assert set(both_values(runtime, "DAYS_BETWEEN(ADD_DAYS(TODAY(), 2), ADD_DAYS(TODAY(), -1))")) == {(Decimal(-3), Decimal(-3))}
    assert set(both_values(runtime, "YEAR(TODAY()) = YEAR(NOW())")) == {(True, True)}
    assert set(both_values(runtime, "HOURS_BETWEEN(ADD_DAYS(TODAY(), -1), TODAY())")) == {(Decimal(24), Decimal(24))}
    assert ("-24", "-24") in both_values(runtime, "TEXT(HOURS_BETWEEN(ADD_DAYS(at, 1), at))")
    assert set(both_values(runtime, "TEXT(ADD_DAYS(TODAY(), 0)) = LEFT(TEXT(NOW()), 10)")) == {(True, True)}
    for sql, python in both_values(runtime, "TEXT(ADD_DAYS(at, 1.9)) & ' ' & TEXT(MONTH(at))"):
        assert sql == python
    assert ("2024-03-02T23:30:00Z 3", "2024-03-02T23:30:00Z 3") in both_values(runtime, "TEXT(ADD_DAYS(at, 1.9)) & ' ' & TEXT(MONTH(at))")
    assert set(both_values(runtime, "ADD_DAYS(TODAY(), 100000000) = ADD_DAYS(TODAY(), 5000000)")) == {(True, True)}  # the calendar's end


def test_text_comparisons_are_case_sensitive_by_code_point(runtime, world):
    assert set(both_values(runtime, "'a' < 'B'")) == {(False, False)}
    assert set(both_values(runtime, "'Zürich' > 'Zz'")) == {(True, True)}
    assert set(both_values(runtime, "'Alpha' = 'alpha' OR UPPER('straße') != 'STRAßE'")) == {(False, False)}
    assert set(both_values(runtime, "CONTAINS('Alpha', 'alp')")) == {(False, False)}


def test_python_reads_records_as_the_record_service_gives_them(runtime, world, actor):
    typed = check(meta_of(runtime), "xthing", "IF(flag, TEXT(amount * 2) & ' ' & TEXT(ADD_DAYS(day, 1)) & ' ' & parent.title, 'no')")
    record = runtime.records.get(actor, "xthing", world[1])
    expected = sql_values(runtime, [typed])[world[1]][0]
    parents = {p["id"]: p for p in runtime.records.list(actor, "xparent", {}).items}
    assert evaluate(typed, record, lambda obj, rid: parents.get(rid)) == expected


def test_every_function_is_documented():
    reference = (Path(__file__).parent.parent / "docs" / "formulas.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^#### `([A-Z_]+)\(", reference, flags=re.MULTILINE))
    assert documented == set(FUNCTIONS), (set(FUNCTIONS) - documented, documented - set(FUNCTIONS))


def test_not_of_a_condition_made_of_several_negates_the_whole_condition(runtime, world):
    # SQLite writes NOT c as "c = 0": without parentheses "a IS NULL OR a = '' = 0" negated only the last part
    for text in ("NOT ISBLANK(parent.title)", "NOT ISBLANK(label)", "NOT OR(flag, n > 1)", "NOT AND(flag, ISBLANK(label))"):
        pairs = both_values(runtime, text)
        assert all(sql == python for sql, python in pairs), (text, pairs)
    assert {python for _sql, python in both_values(runtime, "NOT ISBLANK(parent.title)")} == {True, False}
