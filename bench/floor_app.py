"""The floor for the REST API benchmark: one Litestar route running the list query as raw SQL.

    python bench/floor_app.py --database URL --actor-id ID [--port 8732]

``GET /floor/deal?stage=won`` runs, through the database driver itself (sqlite3 or
psycopg, one connection opened at start-up, no SQLAlchemy, no pool), the SELECT that
``RecordService.list`` sends for ``GET /api/records/deal?stage=won&sort=-close_date&limit=50``
as a user whose role reads deals with ``team`` scope: the same columns, the same LEFT JOINs
for the account and owner labels, the same WHERE (not deleted, the stage filter and the
permission condition: owned by the user, by a teammate, or shared with the user or one of
their teams), the same ORDER BY with the id tie-breaker, LIMIT 51 OFFSET 0. The SQL below
is the text the service sends, copied from SQLAlchemy's echo; ``bench/api_bench.py``
checks before measuring that the service still sends exactly this text with these
parameters, and that both servers return the same ids in the same order.

The handler turns the first 50 rows into ``{column: value}`` objects (lookups stay flat
columns: ``account``, ``account__label``) and returns
``{"items": [...], "limit": 50, "offset": 0, "has_more": ...}``, which Litestar encodes
with msgspec. It runs on the event loop (``sync_to_thread=False``): there is no auth, no
middleware and no thread hand-off. It is served like the API, by uvicorn in one process
(``serve`` below, which both servers use).
"""

from __future__ import annotations

import argparse
import re
import sqlite3
import sys
from typing import Any

from litestar import Litestar, get
from sqlalchemy.engine import make_url

LIMIT = 50

# What RecordService.list sends on SQLite (SQLAlchemy 2.1, qmark parameters).
SQLITE_SQL = """\
SELECT deal.id, deal.name, deal.account, deal.stage, deal.amount, deal.close_date, deal.probability, deal.version, deal.created_at, deal.created_by, deal.updated_at, deal.updated_by, deal.owner, deal.deleted_at, l_account.name AS account__label, coalesce(nullif(trim(l_owner.full_name), ?), l_owner.username) AS owner__label 
FROM deal LEFT OUTER JOIN account AS l_account ON l_account.id = deal.account LEFT OUTER JOIN user AS l_owner ON l_owner.id = deal.owner 
WHERE deal.deleted_at IS NULL AND deal.stage = ? AND (deal.owner = ? OR deal.owner IN (SELECT teammates.source_id 
FROM user__teams AS teammates 
WHERE teammates.target_id IN (SELECT my_teams.target_id 
FROM user__teams AS my_teams 
WHERE my_teams.source_id = ?)) OR deal.id IN (SELECT tessera_share.record_id 
FROM tessera_share 
WHERE tessera_share.object = ? AND (tessera_share.user_id = ? OR tessera_share.team_id IN (SELECT my_teams.target_id 
FROM user__teams AS my_teams 
WHERE my_teams.source_id = ?)))) ORDER BY deal.close_date DESC, deal.id DESC
 LIMIT ? OFFSET ?"""  # noqa: W291 - SQLAlchemy's own line ends

# What RecordService.list sends on PostgreSQL (SQLAlchemy 2.1 with psycopg 3, named parameters with casts).
POSTGRESQL_SQL = """\
SELECT deal.id, deal.name, deal.account, deal.stage, deal.amount, deal.close_date, deal.probability, deal.version, deal.created_at, deal.created_by, deal.updated_at, deal.updated_by, deal.owner, deal.deleted_at, l_account.name AS account__label, coalesce(nullif(trim(l_owner.full_name), %(nullif_1)s::VARCHAR), l_owner.username) AS owner__label 
FROM deal LEFT OUTER JOIN account AS l_account ON l_account.id = deal.account LEFT OUTER JOIN "user" AS l_owner ON l_owner.id = deal.owner 
WHERE deal.deleted_at IS NULL AND deal.stage = %(tessera_f0)s::VARCHAR AND (deal.owner = %(actor_id)s::BIGINT OR deal.owner IN (SELECT teammates.source_id 
FROM user__teams AS teammates 
WHERE teammates.target_id IN (SELECT my_teams.target_id 
FROM user__teams AS my_teams 
WHERE my_teams.source_id = %(actor_id)s::BIGINT)) OR deal.id IN (SELECT tessera_share.record_id 
FROM tessera_share 
WHERE tessera_share.object = %(object_1)s::VARCHAR AND (tessera_share.user_id = %(actor_id)s::BIGINT OR tessera_share.team_id IN (SELECT my_teams.target_id 
FROM user__teams AS my_teams 
WHERE my_teams.source_id = %(actor_id)s::BIGINT)))) ORDER BY deal.close_date DESC, deal.id DESC 
 LIMIT %(tessera_limit)s::INTEGER OFFSET %(tessera_offset)s::INTEGER"""  # noqa: W291

SQL = {"sqlite": SQLITE_SQL, "postgresql": POSTGRESQL_SQL}


def parameters(dialect: str, stage: str, actor_id: int) -> Any:
    """The bound values, in the form each driver takes them (the order the service binds them in)."""
    if dialect == "sqlite":
        return ("", stage, actor_id, actor_id, "deal", actor_id, actor_id, LIMIT + 1, 0)
    return {"nullif_1": "", "tessera_f0": stage, "actor_id": actor_id, "object_1": "deal", "tessera_limit": LIMIT + 1, "tessera_offset": 0}


def normalized(sql: str) -> str:
    """SQL with runs of white space made one space, for comparing texts."""
    return re.sub(r"\s+", " ", sql).strip()


def connect(database_url: str):
    """One DB-API connection with the application's session settings (core/db.py)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        conn = sqlite3.connect(url.database, check_same_thread=False, isolation_level=None, timeout=30)
        for pragma in ("journal_mode=WAL", "foreign_keys=ON", "synchronous=NORMAL", "busy_timeout=30000"):
            conn.execute(f"PRAGMA {pragma}")
        return "sqlite", conn
    import psycopg  # noqa: PLC0415 - only needed for PostgreSQL

    conn = psycopg.connect(host=url.host, port=url.port, user=url.username, password=url.password, dbname=url.database,
                           autocommit=True)
    return "postgresql", conn


def create_floor_app(database_url: str, actor_id: int) -> Litestar:
    dialect, conn = connect(database_url)
    sql = SQL[dialect]

    @get("/floor/deal", sync_to_thread=False)
    def floor_list(stage: str = "won") -> dict:
        cursor = conn.cursor()
        try:
            cursor.execute(sql, parameters(dialect, stage, actor_id))
            columns = [d[0] for d in cursor.description]
            rows = cursor.fetchall()
        finally:
            cursor.close()
        return {"items": [dict(zip(columns, row)) for row in rows[:LIMIT]], "limit": LIMIT, "offset": 0,
                "has_more": len(rows) > LIMIT}

    return Litestar(route_handlers=[floor_list], debug=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", required=True, metavar="URL")
    parser.add_argument("--actor-id", type=int, required=True, help="the user the permission condition is for")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8732)
    args = parser.parse_args(argv)
    serve(create_floor_app(args.database, args.actor_id), args.host, args.port)
    return 0


STACK_MARK = "SERVER_STACK "


def serve(app: Any, host: str, port: int) -> None:
    """Serve ``app`` with uvicorn as both benchmark servers do, and say what uvicorn runs it on.

    ``http="auto"`` and ``loop="auto"`` (uvicorn's defaults, spelled out): httptools and
    uvloop when they are installed, h11 and asyncio otherwise. Once started, the server
    prints one line ``SERVER_STACK http=<protocol class> loop=<event loop class>`` to its
    output, which ``bench/api_bench.py`` reads from the server's log.
    """
    import asyncio  # noqa: PLC0415

    import uvicorn  # noqa: PLC0415

    class ReportingServer(uvicorn.Server):
        async def startup(self, sockets=None) -> None:
            await super().startup(sockets)
            protocol = self.config.http_protocol_class
            loop = type(asyncio.get_running_loop())
            print(f"{STACK_MARK}http={protocol.__module__}.{protocol.__qualname__} loop={loop.__module__}.{loop.__qualname__}",
                  flush=True)

    config = uvicorn.Config(app, host=host, port=port, http="auto", loop="auto", log_level="warning", access_log=False)
    ReportingServer(config).run()


if __name__ == "__main__":
    sys.exit(main())
