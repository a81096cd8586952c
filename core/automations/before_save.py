"""Rules marked ``before_save``: a step of the write pipeline, between validation and the validation rules.

A rule on created runs for a new record, one on updated or field_changed for a changed one,
when its condition holds of the record as it is about to be saved (``previous``: as stored).
Its ``set_fields`` change what is saved (parsed as the API parses input, then checked by the
steps after: validation rules, stage gates, references, unique values); its ``refuse`` refuses the save with
its message, in the reader's language, on the field it names. A run that set fields is logged
with the save; a refusal is the save's answer (it is rolled back with it).
"""

from __future__ import annotations

from typing import Any, Mapping

from sqlalchemy import select

from core.automations.documents import computed
from core.automations.rules import Rule, rules_of
from core.sameness import same
from core.validation import FieldError
from core.words import Sentence


def run_before_save_rules(w: Any) -> None:
    """The pipeline step (``w`` is core/records/pipeline.py's Write)."""
    rules = rules_of(w.schema).of(w.obj.name)
    fired = rules.before.get("created" if w.creating else "updated") if rules else None
    if not fired:
        return
    from core.automations.engine import fetcher  # noqa: PLC0415 - see _apply

    problems: dict[int, list[FieldError]] = {}
    fetch = fetcher(w.service.runtime, w.conn, w.schema)
    for i, item in enumerate(w.items):
        stored = None if w.creating else dict(item.stored._mapping)
        changes = None if stored is None else _changes(w, stored, item.values)
        for rule in fired:
            current = item.values if stored is None else {**stored, **item.values}
            if (stored is not None and not rule.fires(changes)) or not rule.condition.matches(current, stored, fetch):
                continue
            refusal = _apply(w, rule, item, current)
            if refusal is not None:
                problems.setdefault(i, []).append(refusal)
                break
    w.refuse(problems)


def _changes(w: Any, stored: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    fields = w.obj.fields
    return {name: (stored.get(name), value) for name, value in values.items()
            if name in fields and fields[name].has_column and not same(fields[name], stored.get(name), value)}


def _apply(w: Any, rule: Rule, item: Any, current: Mapping[str, Any]) -> FieldError | None:
    from core.automations.engine import log_run  # noqa: PLC0415 - the engine runs actions, which write through the pipeline

    done = []
    for action in rule.actions:
        if action["type"] == "refuse":
            message = action["message"]
            return FieldError(action.get("field") or "", Sentence("rule_refusal", {"text": dict(message)}))
        values = {name: _value(w, value, current) for name, value in action["values"].items()}
        parsed, problems = w.schema.validator(w.obj.name).validate_many([values], partial=True, trusted=True,
                                                                       hidden=frozenset(), locked=frozenset())
        if problems:
            errors = next(iter(problems.values()))
            return FieldError(errors[0].field, Sentence("rule_refusal", {"text": {"en": f"rule '{rule.label('en')}': {errors[0].worded('en')}",
                                                                                   "zh-CN": f"规则“{rule.label('zh-CN')}”：{errors[0].worded('zh-CN')}"}}))
        item.values.update(parsed[0])
        done.append({"type": "set_fields", "values": {k: v if isinstance(v, (str, int, float, bool)) or v is None else str(v)
                                                       for k, v in values.items()}})
    if item.record_id is not None:
        log_run(w.conn, rule, item.record_id, rule.on, "done", 1, detail=done, actor_id=w.actor.user_id)
    return None


def _value(w: Any, value: Any, current: Mapping[str, Any]) -> Any:
    if not (isinstance(value, Mapping) and len(value) == 1 and next(iter(value)).startswith("$")):
        return value
    user = w.schema.tables.table("user")
    return computed(*next(iter(value.items())), current,
                    lambda login: w.conn.execute(select(user.c.id).where(user.c.username == login)).scalar())
