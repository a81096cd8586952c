"""What a workflow rule's actions do, run by the engine as the system inside one transaction.

Each action returns what it did (JSON) for the run's log; one that cannot be done raises
ActionError with a message a person can act on, and the run's other actions are undone with
it. Actions that reach outside the database (an e-mail, a webhook) only queue their job here,
in the same transaction: the job sends it, retries it, and shows its failure on Setup → Jobs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable, Mapping

import sqlalchemy as sa
from sqlalchemy import Connection, func, select

from core import mail, queue, recipients
from core.automations.documents import computed
from core.automations.rules import Rule
from core.conditions import compile
from core.coretables import automation_state
from core.email_templates import RenderError, language_of, render, variables
from core.metadata.model import SYSTEM_FIELDS
from core.notifications import notify
from core.records import Actor, TransactionRecords

WEBHOOK = "automation.webhook"


class ActionError(Exception):
    """An action that cannot be done as the rule says; the message names what and why."""


@dataclass
class Run:
    """One run of a rule on one record."""

    runtime: Any
    conn: Connection
    schema: Any
    rule: Rule
    record: dict  # as the record service gives it, read at the start of the run
    key: str  # unique to this run: what the jobs it queues are keyed by
    done: list[dict] = field(default_factory=list)

    @property
    def records(self) -> TransactionRecords:
        return TransactionRecords(self.runtime.records, self.conn, self.schema, Actor.system())


def run_actions(run: Run) -> list[dict]:
    for index, action in enumerate(run.rule.actions):
        try:
            result = ACTIONS[action["type"]](run, action)
        except ActionError as exc:
            raise ActionError(f"action {index + 1} ({action['type']}): {exc}") from None
        run.done.append({"type": action["type"], **(result or {})})
    return run.done


# --- values ---------------------------------------------------------------------------------------------


def resolve(run: Run, target: str, values: Mapping[str, Any]) -> dict:
    """A rule's values for a record of ``target``, those computed when it runs ($today, $field...) computed now."""
    made = {}
    for name, value in values.items():
        if isinstance(value, Mapping) and len(value) == 1 and next(iter(value)).startswith("$"):
            made.update(_computed(run, target, name, *next(iter(value.items()))))
        else:
            made[name] = value
    return made


def _computed(run: Run, target: str, name: str, key: str, given: Any) -> dict:
    fdef = run.schema.meta.object(target).fields.get(name)
    if key == "$record" and fdef is not None and fdef.type.name == "dynamic_lookup":
        return {name: run.record["id"], fdef.spec["object_field"]: run.rule.object}
    return {name: computed(key, given, run.record, lambda login: _user_id(run, login))}


def _user_id(run: Run, login: str) -> int:
    user = run.schema.tables.table("user")
    found = run.conn.execute(select(user.c.id).where(user.c.username == login, user.c.active.is_(True),
                                                     user.c.deleted_at.is_(None))).scalar()
    if found is None:
        raise ActionError(f"there is no active user '{login}'")
    return found


def _written(call: Callable[[], dict]) -> dict:
    """A write through the record service; its refusal as the action's error."""
    from core.records import Forbidden, NotFound, RecordValidationError  # noqa: PLC0415

    try:
        return call()
    except RecordValidationError as exc:
        raise ActionError("; ".join(f"{e.field or exc.object_name}: {e.message}" for e in exc.errors)) from None
    except (Forbidden, NotFound, LookupError, ValueError) as exc:
        raise ActionError(str(exc)) from None


# --- the actions ----------------------------------------------------------------------------------------


def set_fields(run: Run, action: Mapping) -> dict:
    values = resolve(run, run.rule.object, action["values"])
    stored = _written(lambda: run.records.update(run.rule.object, run.record["id"], values))
    run.record = stored
    return {"values": _plain(values)}


def create_record(run: Run, action: Mapping) -> dict:
    target = action["object"]
    values = resolve(run, target, action["values"])
    owner = run.record.get("owner")
    if "owner" not in values and isinstance(owner, Mapping):
        values["owner"] = owner.get("id")  # a follow-up belongs to whoever owns what it follows up
    made = _written(lambda: run.records.create(target, values))
    return {"object": target, "id": made["id"]}


def assign_owner(run: Run, action: Mapping) -> dict:
    strategy = action["strategy"]
    if strategy == "user":
        chosen = _user_id(run, action["user"])
    else:
        candidates = _candidates(run, action)
        if not candidates:
            raise ActionError(f"nobody to assign to: {action.get('team') and 'team ' + repr(action['team']) or 'the users named'} "
                              "has no active member")
        chosen = _next_in_turn(run, candidates) if strategy == "round_robin" else _least_open(run, action, candidates)
    stored = _written(lambda: run.records.update(run.rule.object, run.record["id"], {"owner": chosen}))
    run.record = stored
    return {"owner": chosen}


def _candidates(run: Run, action: Mapping) -> list[int]:
    tables = run.schema.tables
    if action.get("team"):
        return recipients.team_members(run.conn, tables, action["team"])
    user = tables.table("user")
    rows = run.conn.execute(select(user.c.id, user.c.username).where(user.c.username.in_(action["users"]), user.c.active.is_(True),
                                                                     user.c.deleted_at.is_(None)))
    by_login = {login: user_id for user_id, login in rows}
    return [by_login[login] for login in action["users"] if login in by_login]


def _next_in_turn(run: Run, candidates: list[int]) -> int:
    """The candidate after the one this rule chose last (its state row locked: two runs at once take turns)."""
    state = load_state(run.conn, run.rule.name, lock=True)
    last = state.get("last_owner")
    chosen = candidates[(candidates.index(last) + 1) % len(candidates)] if last in candidates else candidates[0]
    save_state(run.conn, run.rule.name, {**state, "last_owner": chosen})
    return chosen


def _least_open(run: Run, action: Mapping, candidates: list[int]) -> int:
    """The candidate owning the fewest open records of the object (the lowest id among equals)."""
    obj = run.schema.meta.object(run.rule.object)
    table = run.schema.tables.table(obj.name)
    condition = compile(obj, action.get("open"), run.schema.meta.fields_with_system(obj.name), meta=run.schema.meta)
    where, values = condition.where(run.conn, run.schema, table)
    counts = dict(run.conn.execute(select(table.c.owner, func.count()).where(table.c.owner.in_(candidates), table.c.deleted_at.is_(None),
                                                                            where).group_by(table.c.owner), values).all())
    return min(candidates, key=lambda user_id: (counts.get(user_id, 0), user_id))


def notify_users(run: Run, action: Mapping) -> dict:
    found = recipients.resolve(run.conn, run.schema.tables, action["to"], run.record)
    message = action["message"]
    notify(run.conn, found.users, "rule", code="rule_notice", params={"text": {"en": message["en"], "zh-CN": message.get("zh-CN") or message["en"]}},
           object=run.rule.object, record_id=run.record["id"], actor_name=run.rule.label("en"))
    return {"users": found.users}


def send_email(run: Run, action: Mapping) -> dict:
    found = recipients.resolve(run.conn, run.schema.tables, action["to"], run.record)
    people: list[int | str] = [*found.users, *found.addresses]
    if not people:
        return {"users": [], "addresses": [], "skipped": "no recipient"}
    _try_render(run, action["template"])
    mail.send_template(run.conn, run.runtime, action["template"], run.record, people, key=f"{run.key}:{action['template']}")
    return {"users": found.users, "addresses": found.addresses}


def _try_render(run: Run, name: str) -> None:
    """Render the template in each language now, so that a template that fails shows its error on the rule's run."""
    template = run.schema.meta.email_templates[name]
    obj = run.schema.meta.object(template["object"])
    record = mail._json(run.record)
    for lang in ("en", "zh-CN"):
        context = variables(record, obj, language_of(lang), None, None, "", [*obj.fields, *SYSTEM_FIELDS])
        try:
            render(template, lang, context)
        except RenderError as exc:
            raise ActionError(f"e-mail template '{name}': {exc}") from None


def call_webhook(run: Run, action: Mapping) -> dict:
    payload = {"url": action["url"], "secret_env": action.get("secret_env"),
               "body": {"rule": run.rule.name, "object": run.rule.object, "record": mail._json(run.record)}}
    job_id = queue.enqueue(run.conn, WEBHOOK, payload, queue="webhooks", key=f"{run.key}:webhook:{action['url']}"[:200], max_attempts=8)
    return {"url": action["url"], "job": job_id}


def start_approval(run: Run, action: Mapping) -> dict:
    """Submit the record to the process, as the system (approvers named ``manager`` are the record owner's manager)."""
    from core.approvals.service import Approvals  # noqa: PLC0415 - approvals write records, as rules do
    from core.records import Forbidden, NotFound, Refused  # noqa: PLC0415

    try:
        state = Approvals(run.runtime).submit_in(run.records, Actor.system(), run.rule.object, run.record["id"], action["process"])
    except (Refused, Forbidden, NotFound) as exc:
        raise ActionError(str(exc)) from None
    return {"process": action["process"], "status": state.get("status")}


def plugin_action(run: Run, action: Mapping) -> dict:
    registered = run.runtime.automation_actions().get(action["action"])
    if registered is None:
        raise ActionError(f"no plugin registers the action '{action['action']}' any more")
    result = registered.run(runtime=run.runtime, records=run.records, record=run.record, record_id=run.record["id"],
                            object=run.rule.object, params=dict(action.get("params") or {}), rule=run.rule.name)
    return {"action": action["action"], "result": _plain(result)}


def refuse(run: Run, action: Mapping) -> dict:
    raise ActionError("a refusal runs only before a save")


ACTIONS: dict[str, Callable[[Run, Mapping], dict | None]] = {
    "set_fields": set_fields, "create_record": create_record, "assign_owner": assign_owner, "notify": notify_users,
    "send_email": send_email, "webhook": call_webhook, "start_approval": start_approval, "plugin": plugin_action, "refuse": refuse,
}


# --- state kept between runs ---------------------------------------------------------------------------


def load_state(conn: Connection, rule: str, lock: bool = False) -> dict:
    query = select(automation_state.c.state).where(automation_state.c.rule == rule)
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    found = conn.execute(query).scalar()
    return dict(found or {})


def save_state(conn: Connection, rule: str, state: dict) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    done = conn.execute(sa.update(automation_state).where(automation_state.c.rule == rule).values(state=state, changed_at=now))
    if done.rowcount == 0:
        conn.execute(sa.insert(automation_state).values(rule=rule, state=state, changed_at=now))


def _plain(value: Any) -> Any:
    """A value as JSON holds it (for the run's log)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)



def deliver_webhook(runtime: Any, job: queue.Job) -> None:
    """The handler of ``automation.webhook``: POST the rule's JSON to its address, signed as webhooks are when the
    rule names a secret (X-Tessera-Signature); an answer other than 2xx fails the job, which the queue retries."""
    import json  # noqa: PLC0415
    import os  # noqa: PLC0415
    import time  # noqa: PLC0415

    import httpx  # noqa: PLC0415

    from core.webhooks import sign  # noqa: PLC0415

    payload = job.payload
    body = json.dumps(payload["body"], ensure_ascii=False, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json", "X-Tessera-Event": "rule", "X-Tessera-Delivery": str(job.key or job.id)}
    if payload.get("secret_env"):
        secret = os.environ.get(payload["secret_env"])
        if not secret:
            raise ActionError(f"the environment variable {payload['secret_env']} holding the webhook's secret is not set")
        headers["X-Tessera-Signature"] = sign(secret, int(time.time()), body)
    with httpx.Client(timeout=10, follow_redirects=False) as client:
        answer = client.post(payload["url"], content=body, headers=headers)
    if not 200 <= answer.status_code < 300:
        raise ActionError(f"{payload['url']} answered {answer.status_code}")
