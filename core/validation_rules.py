"""Validation rules: conditions a record must meet to be saved, declared in metadata without code.

An object's (or an extension's) ``validation_rules`` each hold an ``expression`` in the expression language
(core/expressions/, docs/formulas.md) of type boolean stating what must hold: a record is refused when it is
false. A blank result (a comparison with an empty field, say) does not refuse, so a rule about a field says
nothing of a record that leaves it empty unless it asks (``NOT(ISBLANK(amount))``). The refusal's ``message``
is said in the reader's language (else English) at the rule's ``field``, or about the whole record without
one. ``when`` makes a rule apply only at some values of the object's process field, or on some moves along it,
in the words stage gates use (core/stage_gates.py); ``active: false`` keeps a rule without checking it.

Each rule is checked when its metadata loads (``problems``: the expression parsed and type-checked, the field and
process values known, each problem with its document, JSON pointer and column). The record service checks the
rules in its write pipeline after the before-save rules and before the stage gates (``check_rules``), so a form,
the API, an import, a workflow rule's change and a plugin's write are all held to them. The rules are compiled
once per metadata version; a rule reading a lookup's record (``account.industry``) reads each linked record once
per write, as the system.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Mapping

from core.expressions import ExpressionError, Typed, check, evaluate
from core.metadata.model import MetadataSet, ObjectDef
from core.metadata.problems import Problem, pointer
from core.validation import FieldError
from core.words import Sentence, hint, sentence


@dataclass(frozen=True)
class Rule:
    """A rule as the pipeline checks it."""

    name: str
    typed: Typed
    field: str  # "" : the whole record
    message: Mapping[str, str]
    when: Mapping[str, Any] | None

    @property
    def follows_lookups(self) -> bool:
        return any(len(path) > 1 for path in self.typed.paths())

    def applies(self, process: str | None, stored: Mapping | None, record: Mapping) -> bool:
        """Whether the rule is checked for this write: always without ``when``; with it, by the process field's value
        after the write (``values``) or by its move (``transitions``). A rule with ``when`` waits without a process field."""
        if not self.when:
            return True
        if process is None:
            return False
        after = record.get(process)
        if "values" in self.when:
            return after in self.when["values"]
        before = stored.get(process) if stored is not None else None
        if stored is not None and before == after:
            return False
        for move in self.when.get("transitions", []):
            if "from" in move and (stored is None or before != move["from"]):
                continue
            if "to" in move and after != move["to"]:
                continue
            return True
        return False

    def refusal(self) -> FieldError:
        return FieldError(self.field, Sentence("rule_refusal", {"text": dict(self.message)}))


def problems(meta: MetadataSet, obj: ObjectDef) -> list[Problem]:
    """Each of the object's rules: its expression reads and is a condition, its field and process values exist."""
    found: list[Problem] = []
    fields = [f.name for f in obj.active_fields()]
    process = obj.fields.get(obj.process_field or "")
    values = [v["value"] for v in process.spec.get("values", [])] if process is not None and process.type.single_choice else None
    for index, rule in enumerate(obj.validation_rules):
        name = rule["name"]
        source, at = obj.rule_at.get(name, (obj.source, obj.at + pointer("validation_rules", index)))
        if "expression" not in rule or "message" not in rule:
            found.append(Problem(source, at, sentence("vrule_incomplete", name=name)))
            continue
        try:
            check(meta, obj.name, rule["expression"], expect="boolean")
        except ExpressionError as exc:
            found.extend(Problem(source, at + "/expression", sentence("vrule_expression", name=name, column=column, problem=problem))
                         for column, problem in exc.problems)
        if rule.get("field") and rule["field"] not in fields:
            found.append(Problem(source, at + "/field", sentence("vrule_unknown_field", name=name, field=rule["field"], object=obj.name,
                                                                 hint=hint(rule["field"], fields))))
        when = rule.get("when") or {}
        if values is None:
            continue  # no process field: the rule waits, as stage gates do
        named = [(pointer("when", "values", i), v) for i, v in enumerate(when.get("values", []))]
        named += [(pointer("when", "transitions", i, end), move[end]) for i, move in enumerate(when.get("transitions", []))
                  for end in ("from", "to") if end in move]
        for where, value in named:
            if value not in values:
                found.append(Problem(source, at + where, sentence("vrule_unknown_value", name=name, value=value, object=obj.name,
                                                                  field=process.name, hint=hint(value, values))))
    return found


def compiled(meta: MetadataSet, object_name: str) -> list[Rule]:
    """The object's active rules, checked and ready to evaluate (a rule that no longer checks is left idle: its
    metadata was refused when it stopped fitting, so this is only a safeguard)."""
    obj = meta.objects.get(object_name)
    rules = []
    for rule in obj.validation_rules if obj is not None else []:
        if rule.get("active") is False or "expression" not in rule:
            continue
        try:
            typed = check(meta, object_name, rule["expression"], expect="boolean")
        except ExpressionError:
            continue
        rules.append(Rule(rule["name"], typed, rule.get("field") or "", rule["message"], rule.get("when") or None))
    return rules


def rules_of(schema: Any, object_name: str) -> list[Rule]:
    """The object's compiled rules under the schema's metadata version, built on first use."""
    return schema.memo(("validation rules", object_name), lambda: compiled(schema.meta, object_name))  # type: ignore[return-value]


def check_rules(w: Any) -> None:
    """The pipeline step (``w``: core/records/pipeline.py's Write): each item's record as it will be saved (an update's
    changes over its stored row) against each rule that applies; the failing rules' messages refuse it."""
    rules = rules_of(w.schema, w.obj.name)
    if not rules:
        return
    process = w.obj.process_field if w.obj.process_field in w.obj.fields else None
    fetch = _Linked(w) if any(rule.follows_lookups for rule in rules) else None
    records = [_after(w, item) for item in w.items]
    if fetch is not None:
        fetch.prefetch(rules, records)
    problems: dict[int, list[FieldError]] = {}
    for i, (item, record) in enumerate(zip(w.items, records)):
        stored = None if item.stored is None else item.stored._mapping
        for rule in rules:
            if rule.applies(process, stored, record) and _holds(rule, record, fetch, w.now) is False:
                problems.setdefault(i, []).append(rule.refusal())
    w.refuse(problems, hold=True)


def _after(w: Any, item: Any) -> Mapping[str, Any]:
    """The record's values after the write, its system fields as the write will stamp them."""
    user = w.actor.user_id
    if item.stored is None:
        return {"created_at": w.now, "created_by": user, "updated_at": w.now, "updated_by": user, **item.values,
                "owner": item.values.get("owner") or user}
    return {**item.stored._mapping, "updated_at": w.now, "updated_by": user, **item.values}


def _holds(rule: Rule, record: Mapping, fetch: Any, now: dt.datetime) -> bool | None:
    try:
        return evaluate(rule.typed, record, fetch, now)
    except (ValueError, TypeError, ArithmeticError):
        return None  # a value the language cannot read counts as blank: it does not refuse


class _Linked:
    """Linked records as the system reads them, each read once per write: the first step of every path for the whole
    batch in one query per object, further steps as they are needed."""

    def __init__(self, w: Any) -> None:
        self.w, self.held = w, {}

    def __call__(self, object_name: str, record_id: int) -> Mapping[str, Any] | None:
        key = (object_name, record_id)
        if key not in self.held:
            self.read(object_name, [record_id])
        return self.held.get(key)

    def read(self, object_name: str, ids: list[int]) -> None:
        wanted = [i for i in dict.fromkeys(ids) if (object_name, i) not in self.held]
        if not wanted:
            return
        found = {record["id"]: record for record in self.w.service._fetch_many(self.w.conn, self.w.schema, object_name, wanted)}
        for record_id in wanted:
            self.held[(object_name, record_id)] = found.get(record_id)

    def prefetch(self, rules: list[Rule], records: list[Mapping]) -> None:
        firsts = {ref.fields[0].name: ref.fields[0].spec.get("target") for rule in rules for ref in rule.typed.refs() if len(ref.fields) > 1}
        for name, target in firsts.items():
            if target is None:
                continue
            ids = [value.get("id") if isinstance(value, Mapping) else value for record in records if (value := record.get(name)) not in (None, "")]
            self.read(target, [int(i) for i in ids if i is not None])
