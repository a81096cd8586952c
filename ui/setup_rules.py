"""Setup: workflow rules. The list of rules (label, object, trigger in words, active, who defines it, the last run), a
rule's page (its definition in words and its runs, newest first, paged), and a no-code editor: the object, the trigger
with what it needs, the condition as rows of field, operator and value (all of them or any of them, values before the
change for updates), before-save, and the actions as cards, each with its own controls. What the form cannot express
is edited as JSON.

Saving goes through the metadata service like every other Setup change; each problem comes back with its JSON pointer
and is shown beside the control it belongs to, and above the form; the form keeps what was typed. "Check" asks the
same service with ``dry_run`` and changes nothing."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from cronsim import CronSim, CronSimError
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath

from core.automations import engine
from core.automations.rules import rules_of
from core.db import read_transaction
from core.metadata.problems import MetadataError
from core.records import Actor, RecordError
from core.words import say
from ui import rule_form as rf
from ui.context import Page, plural, singular
from ui.fields import choices, in_zone, record_title, system_field
from ui.mass_actions import one
from ui.setup import DB, FORM, REFUSALS, done, layer_title, not_found, service, setup_page, who

PATH = "/setup/workflow-rules"
KIND = "automation"
RUNS_SHOWN = 20
PEOPLE_SHOWN = 500
TONES = {"done": "tone-green", "failed": "tone-red", "skipped": "tone-gray"}


class WorkflowRulesSetup(Controller):
    path = PATH
    include_in_schema = False

    @get("", **DB)
    def rules(self, request: Request) -> Response:
        page, refusal = setup_page(request)
        return refusal or _list(page)

    @get("/new", **DB)
    def new(self, request: Request) -> Response:
        page, refusal = setup_page(request)
        if refusal:
            return refusal
        return _editor(page, None, rf.blank(request.query_params.get("object", "")))

    @post("/editor", **DB)
    def editor(self, request: Request, data: FORM) -> Response:
        """Every button of the editor: save, check, switch to JSON and back, add or remove a row or a card, and choosing
        an object, a trigger, a field or an action type (which changes what the form offers)."""
        page, refusal = setup_page(request)
        if refusal:
            return refusal
        name = one(data, "original").strip() or None
        if name is not None and name not in page.meta().automations:
            return not_found(page, name)
        state = rf.from_form(data)
        do = one(data, "do")
        if state["editing"] == "json" and do not in ("form",):
            return _json_step(page, name, state, do)
        notes: list[str] = []
        if do == "json":
            built = rf.to_body(state, _fields_of(page))
            state["json"] = json.dumps({"name": state["name"].strip() or name or "", **built.body}, ensure_ascii=False, indent=2)
            state["editing"] = "json"
            return _editor(page, name, state)
        if do == "form":
            return _back_to_form(page, name, state)
        if do == "add-cond":
            state["conds"].append({"field": "", "op": "eq", "value": "", "values": [], "previous": False})
        elif do.startswith("del-cond-"):
            _drop(state["conds"], do.removeprefix("del-cond-"))
        elif do == "add-action":
            state["actions"].append(rf.new_action(one(data, "new_action")))
        elif do.startswith("del-action-"):
            _drop(state["actions"], do.removeprefix("del-action-"))
        elif do.startswith("add-value-"):
            index = do.removeprefix("add-value-")
            if index.isdigit() and int(index) < len(state["actions"]):
                state["actions"][int(index)]["values"].append({"field": "", "kind": "value", "value": ""})
        elif do.startswith("del-value-"):
            i, _, j = do.removeprefix("del-value-").partition("-")
            if i.isdigit() and int(i) < len(state["actions"]):
                _drop(state["actions"][int(i)]["values"], j)
        elif do in ("save", "check"):
            built = rf.to_body(state, _fields_of(page))
            return _put(page, name, state, built, dry_run=do == "check")
        return _editor(page, name, state, notes=notes)

    @get("/{name:str}", **DB)
    def rule(self, request: Request, name: FromPath[str]) -> Response:
        page, refusal = setup_page(request)
        if refusal:
            return refusal
        if name not in page.meta().automations:
            return not_found(page, name)
        before = request.query_params.get("before", "")
        return _rule_page(page, name, int(before) if before.isdigit() else None)

    @get("/{name:str}/edit", **DB)
    def edit(self, request: Request, name: FromPath[str]) -> Response:
        page, refusal = setup_page(request)
        if refusal:
            return refusal
        body = page.meta().automations.get(name)
        if body is None:
            return not_found(page, name)
        state = rf.from_body({**body, "name": name}, _fields_of(page))
        if state is None:
            state = rf.blank(body.get("object", ""))
            state.update(name=name, editing="json", json=json.dumps({**body, "name": name}, ensure_ascii=False, indent=2))
            return _editor(page, name, state, notes=[page.t("This rule uses what the form cannot show, so it opens as JSON.")])
        return _editor(page, name, state)

    @post("/{name:str}/active", **DB)
    def activate(self, request: Request, name: FromPath[str], data: FORM) -> Response:
        page, refusal = setup_page(request)
        if refusal:
            return refusal
        body = page.meta().automations.get(name)
        if body is None:
            return not_found(page, name)
        active = one(data, "active") == "on"
        changed = {k: v for k, v in body.items() if k not in ("name", "active")}
        if not active:
            changed["active"] = False
        errors = _attempt(page, lambda: service(page).put_named(KIND, name, changed, who(page), source=f"Setup: workflow rule {name}"))
        back = one(data, "back") if one(data, "back") in (PATH, f"{PATH}/{name}") else f"{PATH}/{name}"
        if errors:
            return _rule_page(page, name, None, errors=[e for _p, e in errors], status=422)
        return done(page, back, page.t("Rule activated.") if active else page.t("Rule deactivated: it is kept but does not run."))

    @post("/{name:str}/remove", **DB)
    def remove(self, request: Request, name: FromPath[str]) -> Response:
        page, refusal = setup_page(request)
        if refusal:
            return refusal
        if name not in page.meta().automations:
            return not_found(page, name)
        errors = _attempt(page, lambda: service(page).remove_named(KIND, name, who(page)))
        if errors:
            return _rule_page(page, name, None, errors=[e for _p, e in errors], status=409)
        still = name in page.runtime.current_metadata().automations
        return done(page, f"{PATH}/{name}" if still else PATH,
                    page.t("Customization removed: the rule defined by {source} applies again.", source=_source(page, name))
                    if still else page.t("Rule removed."))


def _drop(rows: list, index: str) -> None:
    if index.isdigit() and int(index) < len(rows):
        del rows[int(index)]


def _attempt(page: Page, change) -> list[tuple[str, str]]:
    """Run a change; the problems that refused it, each with its JSON pointer ("" when it has none)."""
    try:
        change()
    except MetadataError as exc:
        return [(p.pointer or "", p.in_(page.lang)) for p in exc.problems]
    except REFUSALS as exc:
        return [("", say(exc, page.lang))]
    return []


def _put(page: Page, name: str | None, state: dict, built: rf.Built, dry_run: bool) -> Response:
    new_name = (name or state["name"]).strip()
    if name is None and new_name in page.meta().automations:
        return _editor(page, None, state, problems=[("/name", page.t("There is already a workflow rule called {name}.", name=new_name))],
                       built=built, status=422)
    if not new_name:
        return _editor(page, name, state, problems=[("/name", page.t("Give the rule a name for the API."))], built=built, status=422)
    errors = _attempt(page, lambda: service(page).put_named(KIND, new_name, built.body, who(page), source=f"Setup: workflow rule {new_name}",
                                                            dry_run=dry_run))
    if errors:
        return _editor(page, name, state, problems=errors, built=built, status=422)
    if dry_run:
        return _editor(page, name, state, checked=page.t("No problem found: the rule can be saved as it is."))
    return done(page, f"{PATH}/{new_name}", page.t("Workflow rule saved."))


def _json_step(page: Page, name: str | None, state: dict, do: str) -> Response:
    """The editor in JSON: save or check the document as written."""
    if do not in ("save", "check"):
        return _editor(page, name, state)
    try:
        body = json.loads(state["json"])
    except ValueError as exc:
        return _editor(page, name, state, problems=[("", page.t("This is not JSON: {reason}", reason=str(exc)))], status=422)
    if not isinstance(body, dict):
        return _editor(page, name, state, problems=[("", page.t("Write the rule as one JSON object."))], status=422)
    new_name = name or str(body.get("name") or state["name"]).strip()
    if name is None and new_name in page.meta().automations:
        return _editor(page, None, state, problems=[("/name", page.t("There is already a workflow rule called {name}.", name=new_name))],
                       status=422)
    body = {k: v for k, v in body.items() if k not in ("defined_by", "custom")}
    body.setdefault("name", new_name)
    errors = _attempt(page, lambda: service(page).put_named(KIND, new_name, body, who(page), source=f"Setup: workflow rule {new_name}",
                                                            dry_run=do == "check"))
    if errors:
        return _editor(page, name, state, problems=errors, status=422)
    if do == "check":
        return _editor(page, name, state, checked=page.t("No problem found: the rule can be saved as it is."))
    return done(page, f"{PATH}/{new_name}", page.t("Workflow rule saved."))


def _back_to_form(page: Page, name: str | None, state: dict) -> Response:
    try:
        body = json.loads(state["json"])
    except ValueError as exc:
        return _editor(page, name, state, problems=[("", page.t("This is not JSON: {reason}", reason=str(exc)))], status=422)
    made = rf.from_body(body, _fields_of(page)) if isinstance(body, dict) else None
    if made is None:
        return _editor(page, name, state, notes=[page.t("The form cannot show this rule as it is: go on in JSON.")])
    made["name"] = name or str(body.get("name") or "")
    return _editor(page, name, made)


# --- what the pages need ------------------------------------------------------------------------------------------


def _fields_of(page: Page):
    meta = page.meta()

    def fields_of(object_name: str) -> dict:
        if object_name not in meta.objects:
            return {}
        return meta.fields_with_system(object_name)

    return fields_of


def _source(page: Page, name: str) -> str:
    return page.runtime.current_metadata().named[KIND].sources.get(name, "")


def _layer(page: Page, name: str) -> str:
    return page.meta().named[KIND].layers.get(name, "")


def _defined_elsewhere(page: Page, name: str) -> bool:
    return any(d.kind == KIND and d.body.get("name") == name for d in page.runtime.defined_documents())


def field_label(page: Page, obj, name: str) -> str:
    if obj is None:
        return name
    fdef = obj.fields.get(name) or system_field(page.runtime.registry, obj.name, name)
    return fdef.label(page.lang) if fdef is not None else name


def words(page: Page) -> dict:
    """The editor's words: triggers, operators, actions, value kinds, strategies and people, in the reader's language."""
    t = page.t
    return {
        "triggers": {"created": t("A record is created"), "updated": t("A record is changed"), "field_changed": t("A field changes"),
                     "deleted": t("A record is deleted"), "time": t("A date is reached"), "schedule": t("On a schedule"),
                     "button": t("Someone presses a button")},
        "ops": {"eq": t("is"), "ne": t("is not"), "gt": t("is greater than"), "gte": t("is at least"), "lt": t("is less than"),
                "lte": t("is at most"), "in": t("is one of"), "contains": t("contains"), "startswith": t("starts with"),
                "isnull": t("is empty"), "notnull": t("is not empty")},
        "actions": {"set_fields": t("Set fields"), "create_record": t("Create a record"), "assign_owner": t("Assign the owner"),
                    "notify": t("Notify in the bell"), "send_email": t("Send an e-mail"), "webhook": t("Call a webhook"),
                    "start_approval": t("Start an approval"), "plugin": t("Run a plugin action"), "refuse": t("Refuse the save")},
        "kinds": {"value": t("the value"), "today": t("today + N days"), "now": t("now + N hours"), "field": t("the record's field"),
                  "record": t("the record itself"), "user": t("a user")},
        "strategies": {"round_robin": t("In turn"), "least_open": t("The one with the fewest open records"), "user": t("One user")},
        "people": {"owner": t("The owner"), "creator": t("Who created it"), "updater": t("Who last changed it"),
                   "manager": t("The owner's manager")},
        "units": {"m": t("minutes"), "h": t("hours"), "d": t("days")},
        "when": {"before": t("before"), "after": t("after")},
        "statuses": {"done": t("Done"), "failed": t("Failed"), "skipped": t("Skipped")},
    }


def _people(page: Page) -> dict:
    """Users, teams and roles by name, to choose as recipients or owners (read as the system: Setup names them)."""
    found = {}
    with page.runtime.records.reading(Actor.system()) as reader:
        for object_name, key, shown in (("user", "username", "full_name"), ("team", "name", "name"), ("role", "name", "name")):
            try:
                items = reader.list(object_name, {"limit": PEOPLE_SHOWN, "sort": key}).items
            except (RecordError, LookupError, PermissionError):
                items = []
            found[object_name] = [(r[key], f"{r.get(shown) or r[key]}" + (f" ({r[key]})" if shown != key and r.get(shown) else ""))
                                  for r in items if r.get(key) and r.get("active", True) is not False]
    return found


def _field_rows(page: Page, obj, with_system: bool) -> list[dict]:
    if obj is None:
        return []
    fields = page.meta().fields_with_system(obj.name) if with_system else {f.name: f for f in obj.active_fields()}
    rows = []
    for name, fdef in fields.items():
        if name in ("deleted_at",):
            continue
        shown = system_field(page.runtime.registry, obj.name, name) if fdef.source == "system" else fdef
        rows.append({"name": name, "label": (shown or fdef).label(page.lang), "type": fdef.type.name,
                     "family": fdef.type.family, "widget": fdef.type.widget, "input": rf.input_kind(fdef.type),
                     "choices": choices(fdef, page.lang) if "values" in fdef.type.options else [],
                     "ops": rf.operators_for(fdef.type)})
    return sorted(rows, key=lambda r: r["label"].lower())


def _writable_rows(page: Page, obj) -> list[dict]:
    rows = [r for r in _field_rows(page, obj, with_system=False)]
    owner = [r for r in _field_rows(page, obj, with_system=True) if r["name"] == "owner"] if obj is not None else []
    return sorted(rows + owner, key=lambda r: r["label"].lower())


def _editor(page: Page, name: str | None, state: dict, problems: list[tuple[str, str]] | None = None, built: rf.Built | None = None,
            notes: list[str] | None = None, checked: str = "", status: int = 200) -> Response:
    meta = page.meta()
    problems = problems or []
    built = built or rf.to_body(state, _fields_of(page))
    by_control: dict[str, list[str]] = {}
    for pointer, message in problems:
        control = built.control(pointer) if pointer else None
        if control is not None and state["editing"] == "form":
            by_control.setdefault(control, []).append(message)
    obj = meta.objects.get(state["object"])
    objects = sorted(meta.objects.values(), key=lambda o: plural(o, page.lang))
    condition_fields = _field_rows(page, obj, with_system=True)
    by_name = {r["name"]: r for r in condition_fields}
    for row in state["conds"]:
        row["ops"] = by_name[row["field"]]["ops"] if row["field"] in by_name else rf.OPERATORS
        row["choices"] = by_name[row["field"]]["choices"] if row["field"] in by_name else []
        row["type"] = by_name[row["field"]]["type"] if row["field"] in by_name else ""
        row["input"] = by_name[row["field"]]["input"] if row["field"] in by_name else "text"
    writable = _writable_rows(page, obj)
    for action in state["actions"]:
        target = meta.objects.get(action["object"]) if action["type"] == "create_record" else obj
        action["fields"] = _writable_rows(page, target) if action["type"] == "create_record" else writable
        kinds = {r["name"]: r for r in action["fields"]}
        for row in action["values"]:
            row["choices"] = kinds[row["field"]]["choices"] if row["field"] in kinds else []
            row["type"] = kinds[row["field"]]["type"] if row["field"] in kinds else ""
            row["input"] = kinds[row["field"]]["input"] if row["field"] in kinds else "text"
    recipient_fields = [r for r in condition_fields if r["widget"] == "email"
                        or (r["widget"] == "lookup" and obj is not None and (obj.fields.get(r["name"]) or meta.fields_with_system(obj.name)[r["name"]]).spec.get("target") == "user")]
    layer = _layer(page, name) if name else None
    title = page.t("Workflow rule {name}", name=label_of(meta.automations[name], page.lang, name)) if name else page.t("New workflow rule")
    return page.render(
        "setup/workflow_rule_edit.html", status=status, title=title, name=name, s=state, w=words(page),
        objects=[(o.name, plural(o, page.lang)) for o in objects], obj=obj, condition_fields=condition_fields,
        time_fields=[r for r in condition_fields if r["family"] == "date"], recipient_options=[(r["name"], r["label"]) for r in recipient_fields],
        trigger_field=by_name.get(state["t_field"]), people=_people(page) if _needs_people(state) else {"user": [], "team": [], "role": []},
        templates=sorted(n for n, b in meta.email_templates.items() if b.get("object") == state["object"]),
        processes=sorted(n for n, b in meta.approval_processes.items() if b.get("object") == state["object"]),
        plugin_actions=sorted((n, a.label.get(page.lang) or a.label.get("en") or n) for n, a in page.runtime.automation_actions().items()),
        cron_hint=cron_hint(page, state["t_cron"]) if state["on"] == "schedule" and state["t_cron"].strip() else "",
        by_control=by_control, rule_errors=[_worded(page, p, m, built) for p, m in problems], notes=notes or [], checked=checked,
        custom=layer == "customization", defined_by=_source(page, name) if name else "",
        updates=state["on"] in rf.UPDATES)


def _needs_people(state: dict) -> bool:
    return any(a["type"] in ("assign_owner", "notify", "send_email") for a in state["actions"])


def _worded(page: Page, pointer: str, message: str, built: rf.Built) -> str:
    shown = rf.PREFIX.sub("", pointer)
    return f"{shown}: {message}" if shown else message


def label_of(body: dict, lang: str, fallback: str) -> str:
    labels = body.get("label") or {}
    return labels.get(lang) or labels.get("en") or fallback


# --- the rule in words ----------------------------------------------------------------------------------------------


def weekdays(page: Page) -> list[str]:
    t = page.t
    return [t("Sunday"), t("Monday"), t("Tuesday"), t("Wednesday"), t("Thursday"), t("Friday"), t("Saturday")]


def joined(page: Page, items) -> str:
    return ("、" if page.lang == "zh-CN" else ", ").join(items)


def cron_hint(page: Page, cron: str, upcoming_too: bool = True) -> str:
    """A cron expression in plain words where it is a common one, and its next runs; or why it cannot be used."""
    t = page.t
    text = " ".join(cron.split())
    try:
        moments = CronSim(text, dt.datetime.now(dt.timezone.utc))
        upcoming = [next(moments) for _ in range(3)]
    except (CronSimError, StopIteration) as exc:
        return t("This schedule cannot be used: {reason}", reason=str(exc))
    parts = text.split(" ")
    said = ""
    if len(parts) == 5 and parts[0].isdigit() and parts[1].isdigit():
        at = f"{int(parts[1]):02d}:{int(parts[0]):02d}"
        day, month, weekday = parts[2], parts[3], parts[4]
        days = {"mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6, "sun": 0}
        if day == "*" and month == "*" and weekday == "*":
            said = t("Every day at {time} UTC", time=at)
        elif day == "*" and month == "*":
            names = []
            for piece in weekday.lower().split(","):
                low, _, high = piece.partition("-")
                low_n = int(low) if low.isdigit() else days.get(low)
                high_n = (int(high) if high.isdigit() else days.get(high)) if high else low_n
                if low_n is None or high_n is None:
                    names = []
                    break
                names += [weekdays(page)[n % 7] for n in range(low_n, high_n + 1)]
            if names:
                said = t("Every {days} at {time} UTC", days=joined(page, names), time=at)
        elif day.isdigit() and month == "*" and weekday == "*":
            said = t("On day {day} of every month at {time} UTC", day=day, time=at)
    elif len(parts) == 5 and parts[0].startswith("*/") and parts[1:] == ["*", "*", "*", "*"]:
        said = t("Every {n} minutes", n=parts[0][2:])
    elif len(parts) == 5 and parts[0].isdigit() and parts[1:] == ["*", "*", "*", "*"]:
        said = t("Every hour at minute {minute}", minute=parts[0])
    if not upcoming_too:
        return said
    nexts = t("Next: {times}", times=", ".join(_when(page, m) for m in upcoming))
    return f"{said}{'。' if page.lang == 'zh-CN' else '. '}{nexts}" if said else nexts


def _when(page: Page, moment: dt.datetime | str | None) -> str:
    if moment is None:
        return ""
    text = moment if isinstance(moment, str) else (moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)).isoformat()
    return in_zone(text, page.zone).strftime("%Y-%m-%d %H:%M")


def trigger_words(page: Page, body: dict, short: bool = False) -> str:
    """The trigger in words (the object is said beside it)."""
    t, meta = page.t, page.meta()
    obj = meta.objects.get(body.get("object", ""))
    trigger = body.get("trigger") or {}
    on = trigger.get("on")
    field = field_label(page, obj, trigger.get("field", ""))
    if on == "created":
        return t("When a record is created")
    if on == "updated":
        return t("When a record is changed")
    if on == "deleted":
        return t("When a record is deleted")
    if on == "field_changed":
        said = t("When {field} changes", field=field)
        if "from" in trigger:
            said += t(", from {value}", value=_shown_value(page, obj, trigger.get("field", ""), trigger["from"]))
        if "to" in trigger:
            said += t(", to {value}", value=_shown_value(page, obj, trigger.get("field", ""), trigger["to"]))
        return said
    if on == "time":
        w = words(page)
        when = "before" if "before" in trigger else "after"
        amount = trigger.get(when, "0d")
        return t("{amount} {unit} {when} {field}", amount=amount[:-1], unit=w["units"].get(amount[-1], amount[-1]),
                 when=w["when"][when], field=field)
    if on == "schedule":
        hint = cron_hint(page, trigger.get("cron", ""), upcoming_too=not short)
        return t("On a schedule ({cron}): {hint}", cron=trigger.get("cron", ""), hint=hint) if hint else t("On a schedule ({cron})", cron=trigger.get("cron", ""))
    if on == "button":
        return t("When someone presses its button on the record")
    return str(on)


def _shown_value(page: Page, obj, field: str, value: Any) -> str:
    if value is None:
        return page.t("no value")
    fdef = obj.fields.get(field) if obj is not None else None
    if fdef is not None and "values" in fdef.type.options:
        shown = {c["value"]: c["label"] for c in choices(fdef, page.lang)}
        if isinstance(value, list):
            return ", ".join(shown.get(v, str(v)) for v in value)
        return shown.get(value, str(value))
    if isinstance(value, bool):
        return page.t("yes") if value else page.t("no")
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)


def condition_words(page: Page, body: dict) -> dict | None:
    """The condition as lines of words, with whether all or any must hold; None when there is none."""
    condition = body.get("condition")
    if not condition:
        return None
    meta = page.meta()
    obj = meta.objects.get(body.get("object", ""))
    state = rf.blank()
    rows = rf._read_condition(condition, state)
    if rows is None:
        return {"mode": "json", "json": json.dumps(condition, ensure_ascii=False)}
    ops = words(page)["ops"]
    lines = []
    for row in rows:
        value = "" if row["op"] in ("isnull", "notnull") else _shown_value(page, obj, row["field"], _raw(condition, row))
        line = f"{field_label(page, obj, row['field'])} {ops.get(row['op'], row['op'])} {value}".strip()
        lines.append(page.t("{condition} (before the change)", condition=line) if row["previous"] else line)
    return {"mode": state["mode"], "lines": lines}


def _raw(condition: dict, row: dict) -> Any:
    """The stored value behind a condition row (so a list stays a list)."""
    key = row["field"] if row["op"] == "eq" else f"{row['field']}__{row['op']}"
    places = [condition, condition.get("previous") or {}] + [item.get("previous", item) for g in ("any", "all") for item in condition.get(g) or []]
    for place in places:
        if key in place:
            return place[key]
    return row["value"]


def action_words(page: Page, body: dict) -> list[str]:
    t, meta = page.t, page.meta()
    obj = meta.objects.get(body.get("object", ""))
    w = words(page)
    said = []
    for action in body.get("actions") or []:
        kind = action.get("type")
        if kind == "set_fields":
            said.append(t("Set {values}", values=_values_words(page, obj, action.get("values") or {})))
        elif kind == "create_record":
            target = meta.objects.get(action.get("object", ""))
            said.append(t("Create a {object} with {values}", object=singular(target, page.lang) if target else action.get("object"),
                          values=_values_words(page, target, action.get("values") or {})))
        elif kind == "assign_owner":
            among = action.get("user") or action.get("team") or ", ".join(action.get("users") or [])
            said.append(t("Assign the owner: {strategy} ({among})", strategy=w["strategies"].get(action.get("strategy"), ""), among=among))
        elif kind == "notify":
            said.append(t("Notify {people}: “{text}”", people=_recipients(page, obj, action.get("to") or []),
                          text=label_of({"label": action.get("message")}, page.lang, "")))
        elif kind == "send_email":
            said.append(t("Send the e-mail {template} to {people}", template=action.get("template"),
                          people=_recipients(page, obj, action.get("to") or [])))
        elif kind == "webhook":
            said.append(t("Call {url}", url=action.get("url")))
        elif kind == "start_approval":
            said.append(t("Start the approval process {process}", process=action.get("process")))
        elif kind == "plugin":
            found = page.runtime.automation_actions().get(action.get("action", ""))
            said.append(t("Run the plugin action {action}", action=(found.label.get(page.lang) or found.label.get("en")) if found else action.get("action")))
        elif kind == "refuse":
            said.append(t("Refuse the save: “{text}”", text=label_of({"label": action.get("message")}, page.lang, "")))
    return said


def _values_words(page: Page, obj, values: dict) -> str:
    t = page.t
    parts = []
    for name, value in values.items():
        if isinstance(value, dict) and len(value) == 1:
            key, given = next(iter(value.items()))
            shown = {"$today": lambda: t("today {offset}", offset=given), "$now": lambda: t("now {offset}", offset=given),
                     "$field": lambda: t("its {field}", field=field_label(page, obj, str(given))),
                     "$record": lambda: t("this record"), "$user": lambda: str(given)}.get(key, lambda: json.dumps(value))()
        else:
            shown = _shown_value(page, obj, name, value)
        parts.append(t("{field} to {value}", field=field_label(page, obj, name), value=shown))
    return joined(page, parts)


def _recipients(page: Page, obj, recipients: list[str]) -> str:
    people = words(page)["people"]
    shown = []
    for r in recipients:
        kind, _, name = r.partition(":")
        if r in people:  # a choice's label ("The owner") inside a sentence
            shown.append(people[r][:1].lower() + people[r][1:] if page.lang == "en" else people[r])
        elif kind == "field":
            shown.append(field_label(page, obj, name))
        else:
            shown.append(name)
    return joined(page, shown)


# --- the pages ------------------------------------------------------------------------------------------------------


def _list(page: Page) -> Response:
    meta = page.meta()
    w = words(page)
    rows = []
    with read_transaction(page.runtime.engine) as conn:
        last = {name: (engine.runs(conn, rule=name, limit=1) or [None])[0] for name in meta.automations}
    for name in sorted(meta.automations, key=lambda n: label_of(meta.automations[n], page.lang, n).lower()):
        body = meta.automations[name]
        obj = meta.objects.get(body["object"])
        run = last[name]
        rows.append({"name": name, "label": label_of(body, page.lang, name), "object": plural(obj, page.lang) if obj else body["object"],
                     "trigger": trigger_words(page, body, short=True), "active": body.get("active", True) is not False,
                     "defined_by": layer_title(page, _layer(page, name)),
                     "last": {"status": run["status"], "shown": w["statuses"].get(run["status"], run["status"]), "when": _when(page, run["created_at"])}
                     if run else None})
    return page.render("setup/workflow_rules.html", title=page.t("Workflow rules"), rows=rows, tones=TONES,
                       done=page.request.query_params.get("done", ""))


def _rule_page(page: Page, name: str, before: int | None, errors: list[str] | None = None, status: int = 200) -> Response:
    meta = page.meta()
    body = meta.automations[name]
    with read_transaction(page.runtime.engine) as conn:
        found = engine.runs(conn, rule=name, limit=RUNS_SHOWN + 1, before_id=before)
        compiled = name in rules_of(page.runtime.schema(conn)).by_name
    more = len(found) > RUNS_SHOWN
    found = found[:RUNS_SHOWN]
    layer = _layer(page, name)
    return page.render(
        "setup/workflow_rule.html", status=status, title=label_of(body, page.lang, name), name=name, body=body,
        object_label=plural(meta.objects[body["object"]], page.lang) if body["object"] in meta.objects else body["object"],
        trigger=trigger_words(page, body), condition=condition_words(page, body), actions=action_words(page, body),
        description=label_of({"label": body.get("description")}, page.lang, ""), active=body.get("active", True) is not False,
        idle=body.get("active", True) is not False and not compiled, before_save=bool(body.get("before_save")),
        runs=shown_runs(page, found), older=found[-1]["id"] if more else None, newest=before is not None, tones=TONES,
        custom=layer == "customization", defined_by=_source(page, name), replaces_other=layer == "customization" and _defined_elsewhere(page, name),
        json_text=json.dumps({"name": name, **body}, ensure_ascii=False, indent=2), errors=errors or [],
        done=page.request.query_params.get("done", ""))


def shown_runs(page: Page, found: list[dict]) -> list[dict]:
    """Runs as rows: status in words, the record's title and link (when the reader may read it), the trigger, when, the error."""
    meta = page.meta()
    w = words(page)
    titles: dict[tuple[str, int], str] = {}
    wanted: dict[str, set[int]] = {}
    for run in found:
        if run["record_id"] is not None and run["object"] in meta.objects:
            wanted.setdefault(run["object"], set()).add(run["record_id"])
    for object_name, ids in wanted.items():
        obj = meta.objects[object_name]
        try:
            items = page.list_records(object_name, {"id__in": ",".join(map(str, sorted(ids))), "limit": len(ids)}).items
        except (RecordError, LookupError, PermissionError, MetadataError):
            items = []
        titles.update({(object_name, r["id"]): record_title(obj, r, page.lang) for r in items})
    triggers = w["triggers"]
    rows = []
    for run in found:
        key = (run["object"], run["record_id"])
        obj = meta.objects.get(run["object"])
        rows.append({"id": run["id"], "status": run["status"], "status_label": w["statuses"].get(run["status"], run["status"]),
                     "title": titles.get(key) or (f"{singular(obj, page.lang) if obj else run['object']} #{run['record_id']}" if run["record_id"] else ""),
                     "href": f"/r/{run['object']}/{run['record_id']}" if key in titles else None, "rule": run["rule"],
                     "rule_label": label_of(meta.automations.get(run["rule"], {}), page.lang, run["rule"]),
                     "trigger": triggers.get(run["trigger"], run["trigger"]), "when": _when(page, run["created_at"]), "error": run["error"] or ""})
    return rows
