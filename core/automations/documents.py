"""Checking workflow rules against the metadata: every object, field, template, process and value they name.

The meta-schema (metadata/schema/automation.schema.json) checks a rule's shape; this module
checks what needs the metadata: that the object and its fields exist, that a time trigger's
field is a date, that the condition reads as the list API would read it, that values suit
their fields, that templates and approval processes are for the rule's object. What needs the
database (users, teams, roles named in recipients) and the running plugins (their actions)
is checked when a rule is stored (``references``), each problem at its JSON pointer.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Iterable, Mapping

from cronsim import CronSim, CronSimError

from core.conditions import ConditionError, compile
from core.metadata.model import FieldDef, MetadataSet, ObjectDef
from core.metadata.problems import Problem, pointer
from core.words import Sentence, hint, sentence

SAVE_TRIGGERS = ("created", "updated", "field_changed")
BEFORE_SAVE_ACTIONS = ("set_fields", "refuse")
DYNAMIC = ("$today", "$now", "$field", "$record", "$user")
UNWRITABLE = {"id", "version", "created_at", "created_by", "updated_at", "updated_by", "deleted_at"}


def problems(meta: MetadataSet, body: Mapping, source: str, at: str = "") -> list[Problem]:
    """Every problem of one rule against the metadata, at its pointer inside ``source``."""
    said: list[tuple[str, Sentence]] = []
    obj = _object(meta, body.get("object"), "/object", said)
    if obj is not None:
        trigger = body.get("trigger") or {}
        _trigger(meta, obj, trigger, said)
        updates = trigger.get("on") in ("updated", "field_changed")
        said += condition_problems(meta, obj, body.get("condition"), "/condition", previous_allowed=updates)
        if trigger.get("on") == "schedule" and _uses_previous(body.get("condition")):
            said.append(("/condition/previous", sentence("condition_previous_here")))
        before = bool(body.get("before_save"))
        if before and trigger.get("on") not in SAVE_TRIGGERS:
            said.append(("/before_save", sentence("rule_before_save_trigger", on=trigger.get("on"), triggers=", ".join(SAVE_TRIGGERS))))
        for i, action in enumerate(body.get("actions") or []):
            said += _action(meta, obj, action, before, pointer("actions", i))
    return [Problem(source, at + where, message) for where, message in said]


def condition_problems(meta: MetadataSet, obj: ObjectDef, condition: Any, at: str, previous_allowed: bool = True) -> list[tuple[str, Sentence]]:
    try:
        compile(obj, condition, meta.fields_with_system(obj.name), at, previous_allowed, meta=meta)
    except ConditionError as exc:
        return exc.problems
    return []


def _uses_previous(condition: Any) -> bool:
    if not isinstance(condition, Mapping):
        return False
    return "previous" in condition or any(_uses_previous(c) for key in ("any", "all") for c in condition.get(key) or [])


def _object(meta: MetadataSet, name: Any, at: str, said: list) -> ObjectDef | None:
    obj = meta.objects.get(str(name))
    if obj is None:
        said.append((at, sentence("no_object", name=name, hint=hint(str(name), meta.objects))))
    return obj


def _field(obj: ObjectDef, name: Any, at: str, said: list, fields: Mapping[str, FieldDef] | None = None) -> FieldDef | None:
    fields = fields if fields is not None else {f.name: f for f in obj.active_fields()}
    fdef = fields.get(str(name))
    if fdef is None:
        said.append((at, sentence("rule_unknown_field", field=name, object=obj.name, hint=hint(str(name), fields))))
    return fdef


def _trigger(meta: MetadataSet, obj: ObjectDef, trigger: Mapping, said: list) -> None:
    on = trigger.get("on")
    if on in ("field_changed", "time"):
        fdef = _field(obj, trigger.get("field"), "/trigger/field", said, meta.fields_with_system(obj.name) if on == "time" else None)
        if fdef is not None and on == "time" and fdef.type.family != "date":
            said.append(("/trigger/field", sentence("rule_time_field", field=fdef.name, type=fdef.type.name)))
        if fdef is not None and on == "field_changed":
            for key in ("from", "to"):
                if trigger.get(key) is not None:
                    said += _value_problem(fdef, trigger[key], f"/trigger/{key}")
    elif on == "schedule":
        problem = cron_problem(trigger.get("cron"))
        if problem:
            said.append(("/trigger/cron", sentence("rule_cron", cron=trigger.get("cron"), reason=problem)))
    for key in ("field", "from", "to", "before", "after", "cron", "limit"):
        if key in trigger and key not in ALLOWED.get(on, ()):
            said.append((f"/trigger/{key}", sentence("rule_trigger_key", key=key, on=on)))


ALLOWED = {"field_changed": ("field", "from", "to"), "time": ("field", "before", "after"), "schedule": ("cron", "limit")}


def cron_problem(cron: Any) -> str | None:
    """Why a cron expression cannot be used, in words, or None."""
    try:
        CronSim(str(cron), dt.datetime(2027, 1, 1, tzinfo=dt.timezone.utc))
    except CronSimError as exc:
        return str(exc)
    return None


def _action(meta: MetadataSet, obj: ObjectDef, action: Mapping, before: bool, at: str) -> list[tuple[str, Sentence]]:
    said: list[tuple[str, Sentence]] = []
    kind = action.get("type")
    if before and kind not in BEFORE_SAVE_ACTIONS:
        said.append((at + "/type", sentence("rule_before_save_action", type=kind, allowed=", ".join(BEFORE_SAVE_ACTIONS))))
    if kind == "refuse" and not before:
        said.append((at + "/type", sentence("rule_refuse_after")))
    if kind == "refuse" and action.get("field"):
        _field(obj, action["field"], at + "/field", said)
    if kind == "set_fields":
        said += values_problems(meta, obj, obj, action.get("values") or {}, at + "/values")
    elif kind == "create_record":
        target = _object(meta, action.get("object"), at + "/object", said)
        if target is not None:
            said += values_problems(meta, target, obj, action.get("values") or {}, at + "/values")
    elif kind == "assign_owner":
        strategy = action.get("strategy")
        if strategy == "user" and not action.get("user"):
            said.append((at, sentence("rule_assign_user")))
        if strategy in ("round_robin", "least_open") and not (action.get("team") or action.get("users")):
            said.append((at, sentence("rule_assign_candidates", strategy=strategy)))
        if action.get("open") is not None:
            said += condition_problems(meta, obj, action["open"], at + "/open", previous_allowed=False)
    elif kind in ("notify", "send_email"):
        said += recipient_problems(obj, action.get("to") or [], at + "/to")
        if kind == "send_email":
            template = meta.email_templates.get(str(action.get("template")))
            if template is None:
                said.append((at + "/template", sentence("rule_no_template", name=action.get("template"), hint=hint(str(action.get("template")), meta.email_templates))))
            elif template["object"] != obj.name:
                said.append((at + "/template", sentence("rule_template_object", name=action["template"], object=template["object"], rule_object=obj.name)))
    elif kind == "start_approval":
        process = meta.approval_processes.get(str(action.get("process")))
        if process is None:
            said.append((at + "/process", sentence("rule_no_process", name=action.get("process"), hint=hint(str(action.get("process")), meta.approval_processes))))
        elif process["object"] != obj.name:
            said.append((at + "/process", sentence("rule_process_object", name=action["process"], object=process["object"], rule_object=obj.name)))
    return said


def recipient_problems(obj: ObjectDef, recipients: Iterable[str], at: str) -> list[tuple[str, Sentence]]:
    """``field:NAME`` recipients name a lookup to a user or an e-mail field of the object."""
    said: list[tuple[str, Sentence]] = []
    for i, recipient in enumerate(recipients):
        kind, _, name = str(recipient).partition(":")
        if kind != "field":
            continue
        fdef = _field(obj, name, at + pointer(i), said)
        if fdef is not None and not (fdef.type.name == "email" or (fdef.type.name == "lookup" and fdef.spec.get("target") == "user")):
            said.append((at + pointer(i), sentence("rule_recipient_field", field=name)))
    return said


def values_problems(meta: MetadataSet, target: ObjectDef, source: ObjectDef, values: Mapping, at: str) -> list[tuple[str, Sentence]]:
    """Each field a rule sets exists on ``target`` and may be written; a literal value suits its field's type; a value
    computed from the triggering record (of ``source``) names what there is."""
    said: list[tuple[str, Sentence]] = []
    fields = {f.name: f for f in target.active_fields()}
    for name, value in values.items():
        where = at + pointer(name)
        if name == "owner":
            fdef = meta.fields_with_system(target.name)["owner"]
        elif name in UNWRITABLE:
            said.append((where, sentence("rule_system_field", field=name)))
            continue
        else:
            fdef = _field(target, name, where, said, fields)
            if fdef is None:
                continue
            if fdef.spec.get("read_only"):
                said.append((where, sentence("rule_read_only", field=name)))
                continue
        said += _dynamic_problems(meta, fdef, source, value, where) if _is_dynamic(value) else _value_problem(fdef, value, where)
    return said


def _is_dynamic(value: Any) -> bool:
    return isinstance(value, Mapping) and len(value) == 1 and next(iter(value)) in DYNAMIC


def _dynamic_problems(meta: MetadataSet, fdef: FieldDef, source: ObjectDef, value: Mapping, at: str) -> list[tuple[str, Sentence]]:
    key, given = next(iter(value.items()))
    if key in ("$today", "$now"):
        if fdef.type.family != "date":
            return [(at, sentence("rule_dynamic_type", key=key, field=fdef.name, type=fdef.type.name))]
        if offset(given) is None:
            return [(at + pointer(key), sentence("rule_offset", value=given))]
    elif key == "$field":
        fields = meta.fields_with_system(source.name)
        if str(given) not in fields:
            return [(at + pointer(key), sentence("rule_unknown_field", field=given, object=source.name, hint=hint(str(given), fields)))]
    elif key == "$record":
        target = fdef.spec.get("target")
        if not (fdef.type.name == "dynamic_lookup" or (fdef.type.name == "lookup" and target == source.name)):
            return [(at, sentence("rule_record_link", field=fdef.name, object=source.name))]
    elif key == "$user" and not (fdef.type.name == "lookup" and fdef.spec.get("target") == "user" or fdef.name == "owner"):
        return [(at, sentence("rule_user_link", field=fdef.name))]
    return []


def _value_problem(fdef: FieldDef, value: Any, at: str) -> list[tuple[str, Sentence]]:
    """A literal value the field's type would refuse (a picklist value it lacks, text in a number)."""
    if value is None or fdef.type.family == "relation" or fdef.type.name == "owner":
        return []
    try:
        fdef.type.from_text(value if isinstance(value, str) else _text(value), fdef.spec)
    except (ValueError, TypeError) as exc:
        return [(at, sentence("rule_value", field=fdef.name, reason=str(exc)))]
    return []


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(map(str, value))
    return str(value)


UNITS = {"m": 60, "h": 3600, "d": 86400}


def computed(key: str, given: Any, record: Mapping[str, Any], user: Any = lambda login: None) -> Any:
    """The value ``{key: given}`` computes when a rule runs or an approval decides, for ``record`` (as the record
    service shows it, or its stored row): ``$today``/``$now`` moved by the offset, ``$field`` the record's value (a
    lookup's id), ``$record`` its id, ``$user`` what ``user(login)`` finds."""
    if key in ("$today", "$now"):
        moved = dt.datetime.now(dt.timezone.utc) + (offset(given) or dt.timedelta())
        return moved.date().isoformat() if key == "$today" else moved.isoformat()
    if key == "$field":
        value = record.get(given)
        if isinstance(value, Mapping):
            return value.get("id")
        if isinstance(value, Decimal):
            return float(value)
        return value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else value
    if key == "$record":
        return record.get("id")
    return user(str(given))


def offset(text: Any) -> dt.timedelta | None:
    """``+2d``, ``-3h``, ``30m``, ``0d``: the time it says; None for anything else."""
    raw = str(text).strip()
    sign = -1 if raw.startswith("-") else 1
    raw = raw.lstrip("+-")
    if len(raw) < 2 or raw[-1] not in UNITS or not raw[:-1].isdigit() or len(raw) > 7:
        return None
    return dt.timedelta(seconds=sign * int(raw[:-1]) * UNITS[raw[-1]])
