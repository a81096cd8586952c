"""The routes of workflow rules on a record: pressing a button rule, and every rule run of the record, paged."""

from __future__ import annotations

from urllib.parse import urlencode

from litestar import Request, Response, get, post
from litestar.params import FromPath

from core.api.errors import IdInPath
from core.automations import engine
from core.words import say
from ui.context import PAGE, plural
from ui.fields import record_title
from ui.record_pages import OBJECT, _go
from ui.record_rules import record_runs
from ui.record_work import DB, RECORD, OnRecord
from ui.setup_rules import TONES, label_of

PAGE_OF_RUNS = 25


class RecordRules(OnRecord):
    """A record's rule buttons and the page of its rules' runs."""

    @post("/{object_name:str}/{record_id:int}/rules/{rule:str}", **DB, opt={"operation": "update"})
    def press(self, page: PAGE, obj: OBJECT, record: RECORD, object_name: FromPath[str], record_id: IdInPath, rule: FromPath[str]) -> Response:
        """Run a button rule on the record now, and come back to the record saying how it went."""
        back = f"/r/{object_name}/{record_id}?"
        shown = label_of(page.meta().automations.get(rule) or {}, page.lang, rule)
        try:
            run = engine.press(page.runtime, page.actor, object_name, record_id, rule)
        except (LookupError, PermissionError) as exc:
            return _go(page, back + urlencode({"message": page.t("“{rule}” did not run: {reason}", rule=shown, reason=say(exc, page.lang))}))
        if run["status"] == "done":
            return _go(page, back + urlencode({"notice": page.t("“{rule}” ran.", rule=shown)}))
        reason = page.t("its condition no longer holds") if run["error"] == "the condition no longer holds" else run["error"] or ""
        if run["status"] == "skipped":
            return _go(page, back + urlencode({"message": page.t("“{rule}” did not run: {reason}", rule=shown, reason=reason)}))
        return _go(page, back + urlencode({"message": page.t("“{rule}” failed: {reason}", rule=shown, reason=reason)}))

    @get("/{object_name:str}/{record_id:int}/rule-runs", **DB)
    def runs(self, page: PAGE, obj: OBJECT, record: RECORD, request: Request, object_name: FromPath[str], record_id: IdInPath) -> Response:
        before = request.query_params.get("before", "")
        runs = record_runs(page, obj, record, PAGE_OF_RUNS, int(before) if before.isdigit() else None)
        title = record_title(obj, record, page.lang)
        return page.render("records/rule_runs.html", obj=obj, record=record, title=page.t("Rule runs: {record}", record=title),
                           record_name=title, object_label=plural(obj, page.lang), runs=runs["rows"], older=runs["older"],
                           newest=bool(before), tones=TONES)
