"""What a rule or an approval process names that lives in the database or in the running plugins: users, teams and
roles, and plugins' actions. Checked when a customization is stored (``Runtime.change_metadata``), each problem at its
JSON pointer in the document that names it; the base's and plugins' own documents name only what they ship."""

from __future__ import annotations

from typing import Any, Iterable, Iterator

from sqlalchemy import Connection, select

from core import recipients
from core.metadata.model import CUSTOM_LAYER, Doc
from core.metadata.problems import Problem, pointer
from core.words import hint, sentence

KINDS = ("automation", "approval_process")


def problems(runtime: Any, conn: Connection, tables: Any, docs: Iterable[Doc], permission_sets: Iterable[str] = ()) -> list[Problem]:
    """``permission_sets``: their names, which ``role:`` may name as well as a role's (every user whose role gives it)."""
    sets = set(permission_sets)
    found: list[Problem] = []
    for doc in docs:
        if doc.kind not in KINDS or doc.layer != CUSTOM_LAYER:
            continue
        for at, kind, name in _named(doc):
            if kind == "role" and name in sets:
                continue
            said = _missing(runtime, conn, tables, kind, name)
            if said is not None:
                found.append(Problem(doc.source, doc.at + at, said))
    return found


def _named(doc: Doc) -> Iterator[tuple[str, str, str]]:
    """(pointer, kind, name) of each user, team, role and plugin action the document names."""
    body = doc.body
    if doc.kind == "approval_process":
        for i, step in enumerate(body.get("steps") or []):
            yield from _recipients(pointer("steps", i, "approvers"), step.get("approvers") or [])
        for key in ("on_submit", "on_approve", "on_reject", "on_recall"):
            yield from _values(pointer(key), body.get(key) or {})
        return
    for i, action in enumerate(body.get("actions") or []):
        at = pointer("actions", i)
        yield from _recipients(at + "/to", action.get("to") or [])
        yield from _values(at + "/values", action.get("values") or {})
        if action.get("type") == "assign_owner":
            if action.get("user"):
                yield at + "/user", "user", action["user"]
            if action.get("team"):
                yield at + "/team", "team", action["team"]
            for j, login in enumerate(action.get("users") or []):
                yield at + pointer("users", j), "user", login
        if action.get("type") == "plugin":
            yield at + "/action", "action", action.get("action", "")


def _recipients(at: str, given: list) -> Iterator[tuple[str, str, str]]:
    for i, recipient in enumerate(given):
        kind, _, name = str(recipient).partition(":")
        if kind in ("user", "team", "role"):
            yield at + pointer(i), kind, name


def _values(at: str, values: dict) -> Iterator[tuple[str, str, str]]:
    for name, value in values.items():
        if isinstance(value, dict) and "$user" in value:
            yield at + pointer(name, "$user"), "user", str(value["$user"])


def _missing(runtime: Any, conn: Connection, tables: Any, kind: str, name: str):
    if kind == "action":
        actions = runtime.automation_actions()
        return None if name in actions else sentence("rule_unknown_action", name=name, hint=hint(name, actions))
    if not recipients.unknown(conn, tables, [f"{kind}:{name}"]):
        return None
    return sentence(f"rule_unknown_{kind}", name=name, hint=hint(name, _known(conn, tables, kind)))


def _known(conn: Connection, tables: Any, kind: str) -> list[str]:
    table = tables.table(kind)
    column = table.c.username if kind == "user" else table.c.name
    return list(conn.execute(select(column).where(table.c.deleted_at.is_(None)).limit(5000)).scalars())
