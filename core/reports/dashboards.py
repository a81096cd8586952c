"""Dashboards: a grid of reports' charts and plugins' widgets, filtered as a whole, the default of roles.

A dashboard's filters (period, owner, team) become each tile's run parameters: the period
replaces the period of each report that has one, an owner or a team narrows every tile to the
records they own. Each tile is run as the reader, through the reports' cache (cache.py), so a
dashboard whose sources were not written since it was last drawn costs a few lookups; a tile
the reader may not run is left out, saying why, and never takes the dashboard down.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from core import recipients
from core.metadata.model import MetadataSet
from core.records.actor import Actor
from core.reports.definition import ReportError
from core.reports.periods import valid
from core.reports.running import Runner, may_run
from core.words import Sentence, hint, say, sentence

log = logging.getLogger("tessera.dashboards")
EVERYONE = "*"


def problems(meta: MetadataSet, body: dict) -> list[tuple[str, Sentence]]:
    """Each tile's report exists; each role named is a permission set."""
    found = []
    for i, tile in enumerate(body.get("tiles", [])):
        name = tile.get("report")
        if name is not None and name not in meta.reports:
            found.append((f"/tiles/{i}/report", sentence("dashboard_no_report", name=name, hint=hint(name, meta.reports))))
    roles = {"admin", *meta.permission_sets}
    for i, role in enumerate(body.get("roles", [])):
        if role != EVERYONE and role not in roles:
            found.append((f"/roles/{i}", sentence("dashboard_no_role", name=role, hint=hint(role, roles))))
    return found


@dataclass
class Filters:
    """A dashboard's filters as chosen: a period, an owner's id, a team's name ("" or None: not narrowed)."""

    period: str | None = None
    owner: int | None = None
    team: str | None = None

    @classmethod
    def parse(cls, params: dict[str, str]) -> "Filters":
        """The filters from a query string; ReportError naming the parameter when one cannot be read."""
        period, owner, team = params.get("period") or None, params.get("owner") or None, params.get("team") or None
        if period is not None and not valid(period):
            raise ReportError("", [("?period", sentence("report_period_range", range=period))])
        if owner is not None and not owner.isdigit():
            raise ReportError("", [("?owner", sentence("dashboard_bad_owner", value=owner))])
        return cls(period, int(owner) if owner else None, team)


class Dashboards:
    def __init__(self, runtime) -> None:
        self.runtime = runtime
        self.reports = Runner(runtime)

    def available(self, actor: Actor) -> list[dict]:
        """The dashboards the actor may see, with their labels."""
        with self.runtime.reading() as (conn, schema):
            access = schema.access(actor)
            return [{"name": name, "label": body.get("label") or {}, "description": body.get("description") or {}}
                    for name, body in sorted(schema.meta.dashboards.items()) if may_run(conn, schema.tables, body, actor, access)]

    def default_for(self, actor: Actor) -> str | None:
        """The dashboard of the actor's home page: the first naming their role, else the first for everyone (``*``)."""
        seen = {d["name"] for d in self.available(actor)}
        bodies = self.runtime.current_metadata().dashboards
        role = actor.permission_set or ""
        for wanted in (role, EVERYONE):
            for name in sorted(seen):
                if wanted in bodies[name].get("roles", []):
                    return name
        return None

    def body(self, actor: Actor, name: str) -> dict:
        with self.runtime.reading() as (conn, schema):
            body = schema.meta.dashboards.get(name)
            if body is None or not may_run(conn, schema.tables, body, actor, schema.access(actor)):
                raise LookupError(sentence("dashboard_missing", name=name, hint=hint(name, [d["name"] for d in self.available(actor)])))
            return body

    def compose(self, actor: Actor, name: str, filters: Filters, lang: str = "en", today: dt.date | None = None) -> dict:
        """Every tile of the dashboard as the actor sees it: ``{"name", "label", "filters", "tiles": [...]}``; a report
        tile has its ``result`` (Result.as_dict) or ``hidden`` (why it is not shown); a widget tile its ``content``."""
        body = self.body(actor, name)
        if filters.period is None and (body.get("filters") or {}).get("period"):
            filters = Filters(body["filters"]["period"], filters.owner, filters.team)  # the period the dashboard offers first
        owner_ids = self._owners(filters)
        tiles = []
        for tile in body["tiles"]:
            drawn: dict[str, Any] = {"width": tile.get("width", 6), "title": tile.get("title")}
            if "widget" in tile:
                drawn.update(self._widget(actor, tile["widget"], lang))
            else:
                drawn.update(self._report(actor, tile, filters, owner_ids, lang, today))
            tiles.append(drawn)
        return {"name": name, "label": body.get("label") or {}, "description": body.get("description") or {},
                "offered": body.get("filters") or {}, "period": filters.period, "tiles": tiles}

    def _owners(self, filters: Filters) -> list[int] | None:
        if filters.team is None:
            return None if filters.owner is None else [filters.owner]
        with self.runtime.reading() as (conn, schema):
            team = schema.tables.table("team")
            if conn.execute(sa.select(team.c.id).where(team.c.name == filters.team, team.c.deleted_at.is_(None))).first() is None:
                raise ReportError("", [("?team", sentence("dashboard_no_team", value=filters.team))])
            members = recipients.team_members(conn, schema.tables, filters.team)
        return [m for m in members if filters.owner is None or m == filters.owner] or [0]

    def _report(self, actor: Actor, tile: dict, filters: Filters, owner_ids: list[int] | None, lang: str, today) -> dict:
        name = tile["report"]
        params: list[tuple[str, str]] = []
        try:
            definition = self.reports.definition(actor, name)
            if definition.period is not None and filters.period:
                params.append(("period", filters.period))
            if owner_ids is not None:
                params.append(("owner__in", ",".join(map(str, owner_ids))))
            result = self.reports.run(actor, name, params, today=today)
        except (LookupError, ReportError) as exc:
            reason = exc.args[0] if isinstance(exc, LookupError) and exc.args else exc
            return {"report": name, "hidden": say(sentence("dashboard_tile_hidden", reason=say(reason, lang)), lang)}
        return {"report": name, "chart": tile.get("chart") or (definition.body.get("chart") or {}).get("type") or "table",
                "label": definition.body.get("label") or {}, "object": definition.object, "params": params, "result": result.as_dict()}

    def _widget(self, actor: Actor, name: str, lang: str) -> dict:
        widget = self.runtime.dashboard_widgets().get(name)
        if widget is None:
            return {"widget": name, "hidden": say(sentence("dashboard_tile_hidden", reason=say(sentence("dashboard_no_widget", name=name), lang)), lang)}
        try:
            content = widget.render(runtime=self.runtime, actor=actor, lang=lang)
        except PermissionError as refused:
            return {"widget": name, "hidden": say(sentence("dashboard_tile_hidden", reason=say(refused, lang)), lang)}
        except Exception:  # one plugin's broken widget must not take the dashboard down
            log.exception("dashboard widget %s failed", name)
            return {"widget": name, "hidden": say(sentence("dashboard_tile_hidden", reason=sentence("dashboard_widget_failed")), lang)}
        return {"widget": name, "label": widget.label, "content": content}
