"""Workflow rules on a record's page: the button rules whose condition the record meets, as actions in its header
(for people who may change the record), pressing one (the engine runs it now and the page says how it went), and the
record's rule runs, the latest in a collapsed section of the page and every one, paged, on a page of their own."""

from __future__ import annotations

from core.automations import engine
from core.db import read_transaction
from core.metadata.model import ObjectDef
from ui.context import Page
from ui.setup_rules import TONES, shown_runs

SHOWN_ON_PAGE = 5


def rule_buttons(page: Page, obj: ObjectDef, record: dict) -> list[dict]:
    """The button rules the record's condition meets, for a user who may change the record; else none."""
    if not page.access.can(obj.name, "update") or record.get("id") is None:
        return []
    with page.runtime.reading() as (_conn, schema):
        rules = engine.buttons(schema, obj.name, record)
    if not rules or record["id"] not in page.updatable(obj.name, [record["id"]]):
        return []
    return [{"name": rule.name, "label": rule.label(page.lang)} for rule in rules]


def record_runs(page: Page, obj: ObjectDef, record: dict, limit: int = SHOWN_ON_PAGE, before: int | None = None) -> dict:
    """The record's latest rule runs (the page shows them only to people who may read the record)."""
    with read_transaction(page.runtime.engine) as conn:
        found = engine.runs(conn, object_name=obj.name, record_id=record["id"], limit=limit + 1, before_id=before)
    more = len(found) > limit
    found = found[:limit]
    return {"rows": shown_runs(page, found), "more": more, "older": found[-1]["id"] if more and found else None, "tones": TONES}


def shown_on_page(page: Page, obj: ObjectDef, record: dict) -> dict:
    """What a record page adds for workflow rules: its buttons and its latest runs."""
    return {"rule_buttons": rule_buttons(page, obj, record), "rule_runs": record_runs(page, obj, record)}
