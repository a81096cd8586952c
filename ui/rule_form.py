"""The workflow rule editor's form: what the implementer typed (a flat form of named inputs) read as the editor's state,
the state written as a rule document (automation.schema.json), a stored rule read back as the state, and where each
JSON pointer of a problem belongs among the form's controls.

The state keeps every value as it was typed, so a refused save shows the form exactly as it was sent. A rule the form
cannot show as it is (groups inside groups, an owner strategy's ``open`` filter, an offset in other units) is edited as
JSON: ``from_body`` gives None for it.
"""

from __future__ import annotations

import json
import re
from typing import Any, Mapping

from ui.mass_actions import one

TRIGGERS = ("created", "updated", "field_changed", "deleted", "time", "schedule", "button")
ACTIONS = ("set_fields", "create_record", "assign_owner", "notify", "send_email", "webhook", "start_approval", "plugin", "refuse")
OPERATORS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "contains", "startswith", "isnull", "notnull")
VALUE_KINDS = ("value", "today", "now", "field", "record", "user")
UNITS = ("m", "h", "d")
PEOPLE = ("owner", "creator", "updater", "manager")
UPDATES = ("updated", "field_changed")
PREFIX = re.compile(r"^/automations/\d+")


def operators_for(ftype: Any) -> tuple[str, ...]:
    """The operators a rule's condition offers for a field of this type (a FieldType; None: a field no longer known)."""
    family = ftype.family if ftype is not None else None
    if family in ("number", "date"):
        return ("eq", "ne", "gt", "gte", "lt", "lte", "isnull", "notnull")
    if family in ("choice", "relation") and ftype.multiple:
        return ("contains", "isnull", "notnull")
    if family == "choice":
        return ("eq", "ne", "in", "isnull", "notnull")
    if family == "boolean":
        return ("eq", "isnull", "notnull")
    if family == "relation":
        return ("eq", "ne", "isnull", "notnull")
    return ("eq", "ne", "contains", "startswith", "in", "isnull", "notnull")


def input_kind(ftype: Any) -> str:
    """How a rule's form asks for a value of the type: date (a day), number, boolean (yes or no), or text."""
    if ftype is None:
        return "text"
    if ftype.family == "date":
        return "datetime" if ftype.with_time else "date"
    if ftype.family in ("number", "boolean"):
        return ftype.family
    return "text"


# --- the form as sent --------------------------------------------------------------------------------------------


def _all(data: Mapping, key: str) -> list[str]:
    value = data.get(key)
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _count(data: Mapping, key: str) -> int:
    raw = one(data, key).strip()
    return min(int(raw), 100) if raw.isdigit() else 0


def from_form(data: Mapping) -> dict:
    """The editor's state from the form as sent (every value as typed)."""
    state: dict[str, Any] = {key: one(data, key) for key in (
        "name", "label_en", "label_zh", "description_en", "description_zh", "object", "on", "t_field", "t_from", "t_to", "t_when",
        "t_amount", "t_unit", "t_cron", "t_limit", "mode", "json", "original")}
    state["active"] = one(data, "active") == "on"
    state["before_save"] = one(data, "before_save") == "on"
    state["mode"] = state["mode"] if state["mode"] in ("all", "any") else "all"
    state["editing"] = "json" if one(data, "editing") == "json" else "form"
    state["conds"] = [{"field": one(data, f"c-{i}-field"), "op": one(data, f"c-{i}-op"), "value": one(data, f"c-{i}-value"),
                       "values": _all(data, f"c-{i}-value"), "previous": one(data, f"c-{i}-previous") == "on"}
                      for i in range(_count(data, "c_count"))]
    actions = []
    for i in range(_count(data, "a_count")):
        p = f"a-{i}-"
        action = {key: one(data, p + key) for key in ("type", "object", "strategy", "team", "user", "message_en", "message_zh",
                                                       "template", "url", "secret_env", "process", "action", "params", "field")}
        action["users"] = [u for u in _all(data, p + "users") if u]
        action["to"] = [r for r in _all(data, p + "to") if r]
        action["values"] = [{"field": one(data, f"{p}v-{j}-field"), "kind": one(data, f"{p}v-{j}-kind") or "value",
                             "value": one(data, f"{p}v-{j}-value")} for j in range(_count(data, p + "v_count"))]
        actions.append(action)
    state["actions"] = actions
    return state


def blank(object_name: str = "") -> dict:
    """A new rule's state: on created, no condition, no action yet."""
    return {"name": "", "label_en": "", "label_zh": "", "description_en": "", "description_zh": "", "object": object_name,
            "on": "created", "t_field": "", "t_from": "", "t_to": "", "t_when": "after", "t_amount": "", "t_unit": "d", "t_cron": "",
            "t_limit": "", "mode": "all", "json": "", "original": "", "active": True, "before_save": False, "editing": "form",
            "conds": [], "actions": []}


def new_action(kind: str) -> dict:
    action = {key: "" for key in ("object", "strategy", "team", "user", "message_en", "message_zh", "template", "url",
                                  "secret_env", "process", "action", "params", "field")}
    action.update(type=kind if kind in ACTIONS else "set_fields", users=[], to=[], values=[])
    if action["type"] in ("set_fields", "create_record"):
        action["values"] = [{"field": "", "kind": "value", "value": ""}]
    if action["type"] == "assign_owner":
        action["strategy"] = "round_robin"
    if action["type"] in ("notify", "send_email"):
        action["to"] = ["owner"]
    return action


# --- the state as a rule document ----------------------------------------------------------------------------------


class Built:
    """A rule document and, for each JSON pointer into it, the id of the control that says it."""

    def __init__(self) -> None:
        self.body: dict[str, Any] = {}
        self.controls: dict[str, str] = {"/name": "rule-name", "/label": "label_en", "/label/en": "label_en",
                                         "/label/zh-CN": "label_zh", "/description": "description_en",
                                         "/description/en": "description_en", "/description/zh-CN": "description_zh",
                                         "/object": "rule-object", "/active": "rule-active", "/trigger": "t-on",
                                         "/trigger/on": "t-on", "/trigger/field": "t-field", "/trigger/from": "t-from",
                                         "/trigger/to": "t-to", "/trigger/before": "t-amount", "/trigger/after": "t-amount",
                                         "/trigger/cron": "t-cron", "/trigger/limit": "t-limit", "/condition": "conditions",
                                         "/before_save": "before-save", "/actions": "actions"}

    def control(self, pointer: str) -> str | None:
        """The control a problem at ``pointer`` belongs to: the one of the longest pointer that leads to it."""
        pointer = PREFIX.sub("", pointer)
        while pointer:
            if pointer in self.controls:
                return self.controls[pointer]
            pointer = pointer.rsplit("/", 1)[0]
        return None


def to_body(state: Mapping, fields_of) -> Built:
    """The rule document the state describes; ``fields_of(object_name)`` gives an object's fields by name (or {})."""
    built = Built()
    body = built.body
    body["object"] = state["object"].strip()
    body["label"] = _texts(state["label_en"], state["label_zh"], keep_en=True)
    description = _texts(state["description_en"], state["description_zh"])
    if description:
        body["description"] = description
    if not state["active"]:
        body["active"] = False
    fields = fields_of(body["object"])
    body["trigger"] = _trigger(state, fields)
    condition = _condition(state, fields, built)
    if condition:
        body["condition"] = condition
    if state["before_save"]:
        body["before_save"] = True
    body["actions"] = [_action(action, i, fields, fields_of, built) for i, action in enumerate(state["actions"])]
    return built


def _texts(en: str, zh: str, keep_en: bool = False) -> dict:
    made = {}
    if en.strip() or keep_en:
        made["en"] = en.strip()
    if zh.strip():
        made["zh-CN"] = zh.strip()
    return made


def typed(fdef: Any, text: str) -> Any:
    """A value typed in the form as JSON for its field: numbers as numbers, yes or no as true or false, ids as numbers."""
    text = text.strip()
    ftype = fdef.type if fdef is not None else None
    if text == "":
        return None
    if ftype is not None and (ftype.family == "number" or ftype.single_link):
        if re.fullmatch(r"-?\d+", text):
            return int(text)
        if not (ftype.single_link and fdef.spec.get("target")) and re.fullmatch(r"-?\d+\.\d+", text):
            return float(text)
    if ftype is not None and ftype.family == "boolean" and text in ("true", "false"):
        return text == "true"
    return text


def _trigger(state: Mapping, fields: Mapping) -> dict:
    on = state["on"] if state["on"] in TRIGGERS else "created"
    trigger: dict[str, Any] = {"on": on}
    if on in ("field_changed", "time"):
        trigger["field"] = state["t_field"].strip()
    if on == "field_changed":
        fdef = fields.get(trigger["field"])
        for key in ("from", "to"):
            if state[f"t_{key}"].strip():
                trigger[key] = typed(fdef, state[f"t_{key}"])
    elif on == "time":
        unit = state["t_unit"] if state["t_unit"] in UNITS else "d"
        trigger["before" if state["t_when"] == "before" else "after"] = f"{state['t_amount'].strip()}{unit}"
    elif on == "schedule":
        trigger["cron"] = " ".join(state["t_cron"].split())
        if state["t_limit"].strip():
            limit = state["t_limit"].strip()
            trigger["limit"] = int(limit) if limit.isdigit() else limit
    return trigger


def _key(row: Mapping) -> str:
    op = row["op"] if row["op"] in OPERATORS else "eq"
    field = row["field"].strip()
    if op == "eq":
        return field
    return f"{field}__isnull" if op == "notnull" else f"{field}__{op}"


def _condition_value(row: Mapping, fdef: Any) -> Any:
    op = row["op"]
    if op == "isnull":
        return True
    if op == "notnull":
        return False
    if op == "in":
        parts = [v for v in row["values"] if v.strip()] if len(row["values"]) > 1 else [p for p in row["value"].split(",") if p.strip()]
        return [typed(fdef, p) for p in parts]
    return typed(fdef, row["value"])


def _condition(state: Mapping, fields: Mapping, built: Built) -> dict:
    rows = [(i, row) for i, row in enumerate(state["conds"])]
    if not rows:
        return {}
    parts = [(i, row["previous"], _key(row), _condition_value(row, fields.get(row["field"].strip()))) for i, row in rows]
    if state["mode"] == "any" or len({(prev, key) for _i, prev, key, _v in parts}) < len(parts):
        group = "any" if state["mode"] == "any" else "all"
        items = []
        for n, (i, prev, key, value) in enumerate(parts):
            items.append({"previous": {key: value}} if prev else {key: value})
            built.controls[f"/condition/{group}/{n}"] = f"c-{i}-value"
            built.controls[f"/condition/{group}/{n}/{'previous/' if prev else ''}{key}"] = f"c-{i}-value"
        return {group: items}
    flat: dict[str, Any] = {}
    for i, prev, key, value in parts:
        if prev:
            flat.setdefault("previous", {})[key] = value
            built.controls[f"/condition/previous/{key}"] = f"c-{i}-value"
        else:
            flat[key] = value
            built.controls[f"/condition/{key}"] = f"c-{i}-value"
    if "previous" in flat:
        built.controls["/condition/previous"] = next(f"c-{i}-previous" for i, prev, _k, _v in parts if prev)
    return flat


def _values(rows: list[dict], at: str, control: str, fields: Mapping, built: Built) -> dict:
    values: dict[str, Any] = {}
    built.controls[at] = control
    for j, row in enumerate(rows):
        name, kind, text = row["field"].strip(), row["kind"], row["value"].strip()
        where = f"{at}/{name}"
        built.controls[where] = f"{control}-{j}-value"
        built.controls[f"{where}/${kind}"] = f"{control}-{j}-value"
        if kind == "today":
            values[name] = {"$today": _offset(text, "d")}
        elif kind == "now":
            values[name] = {"$now": _offset(text, "h")}
        elif kind == "field":
            values[name] = {"$field": text}
        elif kind == "record":
            values[name] = {"$record": True}
        elif kind == "user":
            values[name] = {"$user": text}
        else:
            fdef = fields.get(name)
            if fdef is not None and fdef.type.family == "choice" and fdef.type.multiple and text:
                values[name] = [p.strip() for p in text.split(",") if p.strip()]
            else:
                values[name] = typed(fdef, text)
    return values


def _offset(text: str, unit: str) -> str:
    if re.fullmatch(r"[+-]?\d{1,5}", text):
        return (text if text[0] in "+-" else f"+{text}") + unit
    return text


def _action(action: Mapping, i: int, fields: Mapping, fields_of, built: Built) -> dict:
    kind = action["type"] if action["type"] in ACTIONS else "set_fields"
    at, p = f"/actions/{i}", f"a-{i}"
    built.controls[at] = p
    built.controls[f"{at}/type"] = f"{p}-type"
    made: dict[str, Any] = {"type": kind}
    if kind == "set_fields":
        made["values"] = _values(action["values"], f"{at}/values", f"{p}-v", fields, built)
    elif kind == "create_record":
        made["object"] = action["object"].strip()
        built.controls[f"{at}/object"] = f"{p}-object"
        made["values"] = _values(action["values"], f"{at}/values", f"{p}-v", fields_of(made["object"]), built)
    elif kind == "assign_owner":
        made["strategy"] = action["strategy"]
        built.controls[f"{at}/strategy"] = f"{p}-strategy"
        if action["strategy"] == "user":
            made["user"] = action["user"].strip()
            built.controls[f"{at}/user"] = f"{p}-user"
            built.controls[at] = f"{p}-user"
        else:
            if action["team"].strip():
                made["team"] = action["team"].strip()
            if action["users"]:
                made["users"] = list(action["users"])
            built.controls[f"{at}/team"] = built.controls[f"{at}/users"] = built.controls[at] = f"{p}-team"
    elif kind in ("notify", "send_email"):
        if kind == "send_email":
            made["template"] = action["template"].strip()
            built.controls[f"{at}/template"] = f"{p}-template"
        made["to"] = list(action["to"])
        built.controls[f"{at}/to"] = f"{p}-to"
        if kind == "notify":
            made["message"] = _texts(action["message_en"], action["message_zh"], keep_en=True)
            built.controls[f"{at}/message"] = built.controls[f"{at}/message/en"] = f"{p}-message_en"
            built.controls[f"{at}/message/zh-CN"] = f"{p}-message_zh"
    elif kind == "webhook":
        made["url"] = action["url"].strip()
        if action["secret_env"].strip():
            made["secret_env"] = action["secret_env"].strip()
        built.controls[f"{at}/url"] = f"{p}-url"
        built.controls[f"{at}/secret_env"] = f"{p}-secret_env"
    elif kind == "start_approval":
        made["process"] = action["process"].strip()
        built.controls[f"{at}/process"] = f"{p}-process"
    elif kind == "plugin":
        made["action"] = action["action"].strip()
        built.controls[f"{at}/action"] = f"{p}-action"
        built.controls[f"{at}/params"] = f"{p}-params"
        if action["params"].strip():
            try:
                made["params"] = json.loads(action["params"])
            except ValueError:
                made["params"] = action["params"]  # refused by the meta-schema, at its pointer
    elif kind == "refuse":
        made["message"] = _texts(action["message_en"], action["message_zh"], keep_en=True)
        built.controls[f"{at}/message"] = built.controls[f"{at}/message/en"] = f"{p}-message_en"
        built.controls[f"{at}/message/zh-CN"] = f"{p}-message_zh"
        if action["field"].strip():
            made["field"] = action["field"].strip()
        built.controls[f"{at}/field"] = f"{p}-field"
    return made


# --- a stored rule as the state ------------------------------------------------------------------------------------


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(_text(v) for v in value)
    return str(value)


def from_body(body: Mapping, fields_of) -> dict | None:
    """The editor's state for a stored rule, or None when the form cannot show all of it (it is edited as JSON then)."""
    try:
        state = _read(body)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    if state is None:
        return None
    plain = {k: v for k, v in body.items() if k not in ("name", "defined_by", "custom")}
    return state if to_body(state, fields_of).body == plain else None


def _read(body: Mapping) -> dict | None:
    state = blank(body["object"])
    state["name"] = body.get("name", "")
    state["label_en"], state["label_zh"] = body["label"].get("en", ""), body["label"].get("zh-CN", "")
    description = body.get("description") or {}
    state["description_en"], state["description_zh"] = description.get("en", ""), description.get("zh-CN", "")
    state["active"] = body.get("active", True) is not False
    state["before_save"] = bool(body.get("before_save"))
    trigger = body["trigger"]
    state["on"] = trigger["on"]
    state["t_field"] = trigger.get("field", "")
    state["t_from"], state["t_to"] = _text(trigger.get("from")), _text(trigger.get("to"))
    for when in ("before", "after"):
        if when in trigger:
            state["t_when"], state["t_amount"], state["t_unit"] = when, trigger[when][:-1], trigger[when][-1]
    state["t_cron"] = trigger.get("cron", "")
    state["t_limit"] = _text(trigger.get("limit"))
    conds = _read_condition(body.get("condition") or {}, state)
    if conds is None:
        return None
    state["conds"] = conds
    actions = [_read_action(a) for a in body["actions"]]
    if any(a is None for a in actions):
        return None
    state["actions"] = actions
    return state


def _row(key: str, value: Any, previous: bool) -> dict:
    field, _, op = key.partition("__")
    op = op or "eq"
    if op == "isnull":
        op = "isnull" if value else "notnull"
    values = [_text(v) for v in value] if isinstance(value, list) else [_text(value)]
    return {"field": field, "op": op, "value": _text(value) if op not in ("isnull", "notnull") else "", "values": values,
            "previous": previous}


def _read_condition(condition: Mapping, state: dict) -> list[dict] | None:
    if set(condition) in ({"any"}, {"all"}):
        group = next(iter(condition))
        state["mode"] = group
        rows = []
        for item in condition[group]:
            previous = set(item) == {"previous"}
            inner = item["previous"] if previous else item
            if len(inner) != 1 or set(inner) & {"any", "all", "previous"}:
                return None
            key, value = next(iter(inner.items()))
            rows.append(_row(key, value, previous))
        return rows
    rows = []
    for key, value in condition.items():
        if key in ("any", "all"):
            return None
        if key == "previous":
            if set(value) & {"any", "all", "previous"}:
                return None
            rows += [_row(k, v, True) for k, v in value.items()]
        else:
            rows.append(_row(key, value, False))
    return rows


def _read_action(action: Mapping) -> dict | None:
    made = new_action(action["type"])
    made["to"] = list(action.get("to") or [])
    made["values"] = []
    for key in ("object", "strategy", "team", "user", "template", "url", "secret_env", "process", "action", "field"):
        made[key] = _text(action.get(key))
    made["users"] = list(action.get("users") or [])
    message = action.get("message") or {}
    made["message_en"], made["message_zh"] = message.get("en", ""), message.get("zh-CN", "")
    made["params"] = json.dumps(action["params"], ensure_ascii=False) if "params" in action else ""
    for name, value in (action.get("values") or {}).items():
        if isinstance(value, Mapping) and len(value) == 1 and next(iter(value)).startswith("$"):
            key, given = next(iter(value.items()))
            kind = {"$today": "today", "$now": "now", "$field": "field", "$record": "record", "$user": "user"}.get(key)
            if kind is None:
                return None
            text = "" if kind == "record" else str(given)
            if kind in ("today", "now"):
                text = text[:-1].lstrip("+") if text[-1:] == ("d" if kind == "today" else "h") else text
            made["values"].append({"field": name, "kind": kind, "value": text})
        else:
            made["values"].append({"field": name, "kind": "value", "value": _text(value)})
    return made
