"""A report definition read against metadata: its fields (through lookups), groupings, measures and filters.

A report names fields by path: ``stage``, or ``account.industry`` to follow the opportunity's
account lookup (at most three lookups). ``read`` resolves every path to the field definitions it
walks, checks that each grouping and measure fits its field's type, compiles the filters with the
conditions of workflow rules, and gives a ``Definition``; or a list of (JSON pointer, Sentence)
problems, each naming the place. It reads metadata only: who may see which field is the runner's
question (core/reports/running.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.conditions import Condition, ConditionError, compile as compile_condition
from core.metadata.model import FieldDef, MetadataSet
from core.metadata.problems import pointer
from core.reports.periods import valid
from core.words import Sentence, hint, sentence

KINDS = ("tabular", "summary", "matrix")
AGGREGATES = ("count", "sum", "avg", "min", "max", "count_distinct")
BUCKETS = ("day", "week", "month", "quarter", "year")
CHARTS = ("bar", "stacked_bar", "line", "pie", "donut", "funnel", "kpi", "table")
MAX_HOPS = 3
NUMERIC_ONLY = ("sum", "avg")
ORDERED_ONLY = ("min", "max")  # numbers and dates
DEFAULT_LIMIT = {"tabular": 200}


@dataclass(frozen=True)
class Path:
    """A field reached from the report's object: ``fields`` are the lookups followed, then the field itself."""

    text: str
    fields: tuple[FieldDef, ...]

    @property
    def last(self) -> FieldDef:
        return self.fields[-1]


@dataclass(frozen=True)
class Group:
    path: Path
    bucket: str | None  # dates and times: day, week, month, quarter or year

    @property
    def key(self) -> str:
        return self.path.text


@dataclass(frozen=True)
class Measure:
    aggregate: str
    path: Path | None  # None for count
    label: dict | None = field(default=None, compare=False, hash=False)  # the report's own name for it

    @property
    def key(self) -> str:
        return "count" if self.path is None else f"{self.aggregate}_{self.path.text}"


@dataclass(frozen=True)
class Definition:
    name: str
    body: dict
    object: str
    kind: str
    groups: tuple[Group, ...]
    measures: tuple[Measure, ...]
    columns: tuple[Path, ...]  # a tabular report's columns
    condition: Condition
    period: dict | None  # {"field": Path, "range": "this_quarter"}
    sort: tuple[str, bool] | None  # a group or measure key (a column for tabular), descending
    limit: int | None
    prompts: tuple[dict, ...]
    history: str | None = None  # the process field whose stage intervals are the rows (core/stage_history.py)

    @property
    def paths(self) -> list[tuple[str, Path]]:
        """Every field path the report reads, with its place: what a reader must be allowed to see."""
        found = [(pointer("group_by", i, "field"), g.path) for i, g in enumerate(self.groups)]
        found += [(pointer("measures", i, "field"), m.path) for i, m in enumerate(self.measures) if m.path is not None]
        found += [(pointer("columns", i), path) for i, path in enumerate(self.columns)]
        if self.period:
            found.append(("/period/field", self.period["field"]))
        return found


class ReportError(ValueError):
    """A report that cannot be read or run: ``problems`` are (JSON pointer, Sentence); ``report`` names it."""

    def __init__(self, report: str, problems: list[tuple[str, Sentence]], status: int = 400) -> None:
        self.report, self.problems, self.status = report, problems, status
        super().__init__("; ".join(f"{at or '/'}: {said}" for at, said in problems))


def problems(meta: MetadataSet, body: dict) -> list[tuple[str, Sentence]]:
    """What is wrong with a report's body (its shape is the meta-schema's), each with its JSON pointer."""
    try:
        read(meta, body)
    except ReportError as exc:
        return exc.problems
    return []


def read(meta: MetadataSet, body: dict) -> Definition:
    """The checked definition of ``body``; ReportError with every problem found."""
    name = str(body.get("name", ""))
    said: list[tuple[str, Sentence]] = []
    object_name = body.get("object")
    if object_name not in meta.objects:
        raise ReportError(name, [("/object", sentence("report_no_object", object=object_name, hint=hint(str(object_name), meta.objects)))])
    kind = body.get("kind", "summary")
    history = _history(meta, object_name, body.get("history"), said)
    condition = _condition(meta, object_name, body.get("filters"), said)
    if history:
        meta = _HistoryMeta(meta, object_name, history)
    groups = tuple(_group(meta, object_name, item, pointer("group_by", i), said) for i, item in enumerate(body.get("group_by", [])))
    measures = tuple(_measure(meta, object_name, item, pointer("measures", i), said) for i, item in enumerate(body.get("measures", [])))
    columns = tuple(_path(meta, object_name, text, pointer("columns", i), said) for i, text in enumerate(body.get("columns", [])))
    _check_shape(kind, body, said)
    period = _period(meta, object_name, body.get("period"), said)
    if said:
        raise ReportError(name, said)
    groups, measures, columns = (tuple(x for x in items if x is not None) for items in (groups, measures, columns))
    if not measures and kind != "tabular":
        measures = (Measure("count", None),)
    sort = _sort(body.get("sort"), kind, groups, measures, columns, said)
    _steps((body.get("chart") or {}).get("steps"), groups, said)
    if said:
        raise ReportError(name, said)
    return Definition(name, body, object_name, kind, groups, measures, columns, condition, period, sort,
                      body.get("limit", DEFAULT_LIMIT.get(kind)), tuple(body.get("prompts", [])), history)


HISTORY = "history"  # the first name of a stage interval's paths: history.value, history.days, history.entered_at, history.left_at
HISTORY_COLUMNS = {"days": ("decimal", {"en": "Days in stage", "zh-CN": "停留天数"}),
                   "entered_at": ("datetime", {"en": "Entered stage at", "zh-CN": "进入阶段时间"}),
                   "left_at": ("datetime", {"en": "Left stage at", "zh-CN": "离开阶段时间"})}


def _history(meta: MetadataSet, object_name: str, field: Any, said: list) -> str | None:
    """A report of stage intervals names its object's process field, whose intervals are kept."""
    if field is None:
        return None
    process = meta.object(object_name).process_field
    if field != process:
        said.append(("/history", sentence("report_history_field", field=field, object=object_name, process=process or "-")))
        return None
    return field


class _HistoryMeta:
    """Metadata as a report of stage intervals reads it: the object's fields, and ``history.*`` for the interval's own."""

    def __init__(self, meta: MetadataSet, object_name: str, field: str) -> None:
        self._meta, self._object, self._field = meta, object_name, field

    def __getattr__(self, name: str) -> Any:
        return getattr(self._meta, name)

    def fields_with_system(self, object_name: str) -> dict[str, FieldDef]:
        found = self._meta.fields_with_system(object_name) if object_name in self._meta.objects else {}
        if object_name == self._object:
            found = {**found, HISTORY: FieldDef(HISTORY, self._meta.registry["lookup"], {"name": HISTORY, "type": "lookup",
                                                                                      "target": f"{HISTORY}:{object_name}"},
                                                object_name, False, "system")}
        elif object_name == f"{HISTORY}:{self._object}":
            stage = self._meta.object(self._object).fields[self._field]
            found = {"value": FieldDef("value", stage.type, {**stage.spec, "name": "value", "history_of": self._field}, self._object, False, "system")}
            for name, (kind, label) in HISTORY_COLUMNS.items():
                found[name] = FieldDef(name, self._meta.registry[kind], {"name": name, "type": kind, "label": label, "history_of": self._field},
                                       self._object, False, "system")
        return found



def _path(meta: MetadataSet, object_name: str, text: Any, at: str, said: list) -> Path | None:
    names = str(text).split(".")
    if len(names) > MAX_HOPS + 1:
        said.append((at, sentence("report_path_long", path=text, most=MAX_HOPS)))
        return None
    fields, current = [], object_name
    for position, name in enumerate(names):
        available = meta.fields_with_system(current)
        fdef = available.get(name)
        if fdef is None or fdef.removed:
            said.append((at, sentence("report_no_field", field=name, object=current, hint=hint(name, available))))
            return None
        fields.append(fdef)
        if position < len(names) - 1:
            if fdef.type.name != "lookup" or fdef.formula:
                said.append((at, sentence("report_not_lookup", field=name, object=current)))
                return None
            current = fdef.spec["target"]
    last = fields[-1]
    if last.type.multiple or last.type.family == "other" or not (last.has_column or last.formula):
        said.append((at, sentence("report_field_unusable", field=text)))
        return None
    return Path(str(text), tuple(fields))


def _group(meta: MetadataSet, object_name: str, item: dict, at: str, said: list) -> Group | None:
    path = _path(meta, object_name, item.get("field"), at + "/field", said)
    if path is None:
        return None
    bucket = item.get("bucket")
    is_date = path.last.type.family == "date"
    if bucket and not is_date:
        said.append((at + "/bucket", sentence("report_bucket_not_date", field=path.text)))
        return None
    return Group(path, (bucket or "month") if is_date else None)


def _measure(meta: MetadataSet, object_name: str, item: dict, at: str, said: list) -> Measure | None:
    aggregate, label = item.get("aggregate"), item.get("label")
    if item.get("field") is None:
        if aggregate != "count":
            said.append((at + "/field", sentence("report_measure_needs_field", aggregate=aggregate)))
            return None
        return Measure("count", None, label)
    path = _path(meta, object_name, item["field"], at + "/field", said)
    if path is None:
        return None
    family = path.last.type.family
    fits = (family == "number" if aggregate in NUMERIC_ONLY else family in ("number", "date") if aggregate in ORDERED_ONLY else True)
    if not fits:
        said.append((at + "/aggregate", sentence("report_aggregate_misfit", aggregate=aggregate, field=path.text, type=path.last.type.name)))
        return None
    return Measure(aggregate, path, label)


def _check_shape(kind: str, body: dict, said: list) -> None:
    groups, columns = body.get("group_by", []), body.get("columns", [])
    if kind == "summary" and not groups:
        said.append(("/group_by", sentence("report_summary_groups")))
    if kind == "matrix" and len(groups) not in (2, 3):
        said.append(("/group_by", sentence("report_matrix_groups")))
    if kind == "tabular" and not columns:
        said.append(("/columns", sentence("report_tabular_columns")))
    if kind != "tabular" and columns:
        said.append(("/columns", sentence("report_columns_tabular_only")))


def _condition(meta: MetadataSet, object_name: str, filters: Any, said: list) -> Condition:
    try:
        return compile_condition(meta.object(object_name), filters or {}, meta.fields_with_system(object_name), "/filters",
                                 previous_allowed=False, meta=meta)
    except ConditionError as exc:
        said.extend(exc.problems)
        return Condition()


def _period(meta: MetadataSet, object_name: str, period: Any, said: list) -> dict | None:
    if not period:
        return None
    path = _path(meta, object_name, period.get("field"), "/period/field", said)
    if path is not None and path.last.type.family != "date":
        said.append(("/period/field", sentence("report_period_not_date", field=path.text)))
        return None
    if not valid(str(period.get("range", ""))):
        said.append(("/period/range", sentence("report_period_range", range=period.get("range"))))
        return None
    return None if path is None else {"field": path, "range": period["range"]}


def _steps(steps: Any, groups, said: list) -> None:
    """A chart's steps are values of the report's first grouping."""
    if not steps:
        return
    if not groups:
        said.append(("/chart/steps", sentence("report_steps_no_group")))
        return
    values = [v["value"] for v in groups[0].path.last.spec.get("values", [])]
    for i, step in enumerate(steps):
        if values and step not in values:
            said.append((f"/chart/steps/{i}", sentence("report_step_unknown", value=step, field=groups[0].key, hint=hint(str(step), values))))


def _sort(sort: Any, kind: str, groups, measures, columns, said: list) -> tuple[str, bool] | None:
    if not sort:
        return None
    keys = [p.text for p in columns] if kind == "tabular" else [g.key for g in groups] + [m.key for m in measures]
    by = sort.get("by")
    if by not in keys:
        said.append(("/sort/by", sentence("report_sort_unknown", key=by, keys=", ".join(keys), hint=hint(str(by), keys))))
        return None
    return by, bool(sort.get("descending"))
