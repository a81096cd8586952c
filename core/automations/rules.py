"""Workflow rules as the engine uses them: compiled once per metadata version, sorted by object and trigger."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Mapping

from core.automations.documents import UNITS
from core.conditions import Condition, ConditionError, compile
from core.metadata.model import MetadataSet

SAVE_EVENTS = {"created": ("created",), "updated": ("updated", "field_changed")}
MAX_DEPTH = 3  # a person's change sets off rules; their changes set off rules again, at most this many times in a row


@dataclass(frozen=True)
class Rule:
    name: str
    object: str
    body: Mapping[str, Any]
    condition: Condition
    from_: Condition | None = None  # field_changed: the field's value before, as a condition on it
    to: Condition | None = None

    @property
    def on(self) -> str:
        return self.body["trigger"]["on"]

    @property
    def field(self) -> str | None:
        return self.body["trigger"].get("field")

    @property
    def before_save(self) -> bool:
        return bool(self.body.get("before_save"))

    @property
    def actions(self) -> list[dict]:
        return self.body["actions"]

    def label(self, lang: str) -> str:
        labels = self.body.get("label") or {}
        return labels.get(lang) or labels.get("en") or self.name

    def fires(self, changes: Mapping[str, tuple[Any, Any]] | None) -> bool:
        """Whether an update with ``changes`` (field -> (old, new)) is one this rule's trigger names."""
        if self.on == "updated":
            return bool(changes)
        if self.on != "field_changed" or not changes or self.field not in changes:
            return False
        old, new = changes[self.field]
        return (self.from_ is None or self.from_.matches({self.field: old})) and (self.to is None or self.to.matches({self.field: new}))

    def offset(self) -> dt.timedelta:
        """A time rule's distance from its field's value: negative before it, positive after."""
        trigger = self.body["trigger"]
        text = trigger.get("after") or trigger.get("before")
        amount = dt.timedelta(seconds=int(text[:-1]) * UNITS[text[-1]])
        return amount if "after" in trigger else -amount

    def due(self, value: Any) -> dt.datetime | None:
        """When a record whose field holds ``value`` is due; a date counts from 00:00 UTC."""
        if value is None:
            return None
        if isinstance(value, str):
            try:
                value = dt.datetime.fromisoformat(value)
            except ValueError:
                return None
        if not isinstance(value, dt.datetime):
            value = dt.datetime(value.year, value.month, value.day)
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value + self.offset()

    def due_signature(self) -> str:
        trigger = self.body["trigger"]
        return f"{self.object}|{trigger.get('field')}|{trigger.get('before') or ''}|{trigger.get('after') or ''}"


@dataclass
class ObjectRules:
    after: dict[str, list[Rule]] = field(default_factory=dict)  # created | updated | deleted -> rules run after commit
    before: dict[str, list[Rule]] = field(default_factory=dict)  # created | updated -> rules run inside the save
    time: list[Rule] = field(default_factory=list)
    schedule: list[Rule] = field(default_factory=list)
    button: list[Rule] = field(default_factory=list)


@dataclass
class Rules:
    by_name: dict[str, Rule] = field(default_factory=dict)
    by_object: dict[str, ObjectRules] = field(default_factory=dict)

    def of(self, object_name: str) -> ObjectRules | None:
        return self.by_object.get(object_name)

    @property
    def time(self) -> list[Rule]:
        return [rule for rules in self.by_object.values() for rule in rules.time]

    @property
    def schedule(self) -> list[Rule]:
        return [rule for rules in self.by_object.values() for rule in rules.schedule]


def rules_of(schema: Any) -> Rules:
    """The active rules of a schema's metadata, compiled once per metadata version."""
    return schema.memo(("automations",), lambda: build(schema.meta))  # type: ignore[return-value]


def build(meta: MetadataSet) -> Rules:
    made = Rules()
    for name, body in sorted(meta.automations.items()):
        if body.get("active") is False or body["object"] not in meta.objects:
            continue
        rule = _compiled(meta, name, body)
        if rule is None:
            continue
        made.by_name[name] = rule
        rules = made.by_object.setdefault(rule.object, ObjectRules())
        on = rule.on
        if on in ("time", "schedule", "button"):
            getattr(rules, on).append(rule)
            continue
        event = "created" if on == "created" else "deleted" if on == "deleted" else "updated"
        (rules.before if rule.before_save else rules.after).setdefault(event, []).append(rule)
    return made


def _compiled(meta: MetadataSet, name: str, body: Mapping) -> Rule | None:
    obj = meta.object(body["object"])
    fields = meta.fields_with_system(obj.name)
    trigger = body["trigger"]
    try:
        condition = compile(obj, body.get("condition"), fields, meta=meta)
        changed = trigger.get("field")
        from_ = compile(obj, {changed: trigger["from"]}, fields) if "from" in trigger else None
        to = compile(obj, {changed: trigger["to"]}, fields) if "to" in trigger else None
    except ConditionError:
        return None  # checked when it was stored; a field removed since leaves the rule idle, not failing every save
    return Rule(name, obj.name, body, condition, from_, to)
