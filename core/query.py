"""List queries: Django-style filters from a query string, checked against metadata.

``stage=won``, ``amount__gte=1000``, ``stage__in=won,lost``, ``name__contains=acme``,
``account__isnull=true``; ``sort=-close_date,name``; ``limit``, ``offset``; ``q=``;
``count=true`` (counted up to COUNT_CAP) or ``count=exact``. Unknown fields or operators
are errors that name them. The fields a query may use are given by the caller: those the
acting user may see, so a hidden field cannot be probed by filtering or sorting on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from core.jsontext import text_problem
from core.metadata.model import FieldDef, ObjectDef
from core.words import Sentence, WordedError, code_and_params, hint, labelled, listed, say, sentence_of

OPERATORS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "contains", "startswith", "isnull")
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_OFFSET = 10**12  # beyond any table; keeps the number inside what a database binds
COUNT_CAP = 10_000
COUNT_WORDS = {"true": "capped", "1": "capped", "yes": "capped", "capped": "capped", "exact": "exact",
               "false": None, "0": None, "no": None, "": None}
SYSTEM_FILTERABLE = {"id": "integer", "version": "integer", "created_at": "datetime", "updated_at": "datetime",
                     "owner": "lookup", "created_by": "lookup", "updated_by": "lookup"}


class QueryError(ValueError):
    """A list query that cannot run; ``problems`` name each parameter and what is wrong (``message``, in English;
    ``said``: each problem's Sentence, or None for plain text, to say it in the reader's language)."""

    def __init__(self, problems: list[dict], said: list[Sentence | None] | None = None) -> None:
        self.problems = problems
        self.said = said or [None] * len(problems)
        super().__init__("; ".join(f"{p['parameter']}: {p['message']}" for p in problems))

    @classmethod
    def of(cls, problems: list[tuple[str, Sentence]]) -> "QueryError":
        """The error for (parameter, Sentence) pairs."""
        return cls([{"parameter": parameter, "message": str(said)} for parameter, said in problems], [said for _p, said in problems])

    def worded(self, lang: str) -> list[dict]:
        """The problems as the API answers them: parameter, message in ``lang``, code and params."""
        return [{"parameter": p["parameter"], "message": say(said or p["message"], lang), **code_and_params(said, lang)}
                for p, said in zip(self.problems, self.said)]

    def sentence(self, lang: str) -> str:
        return listed((labelled(p["parameter"], p["message"], lang) for p in self.worded(lang)), lang)


@dataclass(frozen=True)
class Filter:
    field: FieldDef
    operator: str
    value: Any  # parsed; a list for "in", a bool for "isnull"


@dataclass(frozen=True)
class Sort:
    field: FieldDef
    descending: bool


@dataclass
class ListQuery:
    filters: list[Filter] = field(default_factory=list)
    sort: list[Sort] = field(default_factory=list)
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    q: str | None = None
    count: str | None = None  # None, "capped" (up to COUNT_CAP) or "exact"


def parse(obj: ObjectDef, params: Mapping[str, Any] | Iterable[tuple[str, Any]], fields: Mapping[str, FieldDef]) -> ListQuery:
    """Parse query-string pairs into a ListQuery, collecting every problem.

    ``fields``: the fields the query may filter and sort on, by name.
    """
    pairs = list(params.items()) if isinstance(params, Mapping) else list(params)
    query, problems, said = ListQuery(), [], []
    for key, raw in pairs:
        raw = "" if raw is None else str(raw)
        try:
            _refuse_unstorable(key, raw)
            _apply(query, obj, fields, key, raw)
        except ValueError as exc:
            problems.append({"parameter": key, "message": str(exc)})
            said.append(sentence_of(exc))
    if problems:
        raise QueryError(problems, said)
    return query


def _apply(query: ListQuery, obj: ObjectDef, fields: Mapping[str, FieldDef], key: str, raw: str) -> None:
    if key == "sort":
        query.sort = [_sort_key(obj, fields, part) for part in raw.split(",") if part.strip()]
    elif key == "limit":
        query.limit = _bounded_int(raw, 1, MAX_LIMIT, "limit")
    elif key == "offset":
        query.offset = _bounded_int(raw, 0, MAX_OFFSET, "offset")
    elif key == "q":
        query.q = raw.strip() or None
    elif key == "count":
        lowered = raw.strip().lower()
        if lowered not in COUNT_WORDS:
            raise WordedError("count_option", value=raw, cap=f"{COUNT_CAP:,}")
        query.count = COUNT_WORDS[lowered]
    else:
        query.filters.append(_filter(obj, fields, key, raw))


def _refuse_unstorable(key: str, raw: str) -> None:
    """No operator may search for text the database cannot hold: PostgreSQL refuses it, SQLite cuts it short."""
    problem = text_problem(str(key)) or text_problem(raw)
    if problem:
        raise ValueError(problem)


def _bounded_int(raw: str, low: int, high: int, name: str) -> int:
    try:
        number = int(raw)
    except ValueError:
        raise WordedError("not_whole", value=raw) from None
    if not low <= number <= high:
        raise WordedError("between", name=name, low=low, high=high)
    return number


def _boolean(raw: str, name: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no", ""):
        return False
    raise WordedError("not_boolean", value=raw)


def _field(obj: ObjectDef, fields: Mapping[str, FieldDef], name: str) -> FieldDef:
    fdef = fields.get(name)
    if fdef is None:
        raise WordedError("not_filterable_field", field=name, object=obj.name, hint=hint(name, fields))
    return fdef


def _sort_key(obj: ObjectDef, fields: Mapping[str, FieldDef], part: str) -> Sort:
    part = part.strip()
    descending = part.startswith("-")
    fdef = _field(obj, fields, part.lstrip("-"))
    if not fdef.type.sortable:
        raise WordedError("not_sortable", field=fdef.name, type=fdef.type.name)
    return Sort(fdef, descending)


def _filter(obj: ObjectDef, fields: Mapping[str, FieldDef], key: str, raw: str) -> Filter:
    name, _, operator = key.partition("__")
    operator = operator or "eq"
    fdef = _field(obj, fields, name)
    if operator not in OPERATORS:
        raise WordedError("unknown_operator", operator=operator, hint=hint(operator, OPERATORS), operators=", ".join(OPERATORS))
    allowed = fdef.type.operators
    if operator not in allowed:
        ordered = [op for op in OPERATORS if op in allowed]
        raise WordedError("operator_not_for_type", operator=operator, type=fdef.type.name, field=fdef.name, operators=", ".join(ordered))
    if operator == "isnull":
        return Filter(fdef, operator, _boolean(raw, key))
    if operator == "in":
        values = [v.strip() for v in raw.split(",") if v.strip()]
        if not values:
            raise WordedError("empty_in")
        return Filter(fdef, operator, [_value(fdef, v) for v in values])
    if operator in ("contains", "startswith"):
        return Filter(fdef, operator, raw)
    return Filter(fdef, operator, _value(fdef, raw))


def _value(fdef: FieldDef, raw: str) -> Any:
    try:
        return fdef.type.from_text(raw, fdef.spec)
    except WordedError:
        raise
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{exc}") from None
