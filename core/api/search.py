"""/api/search: records of every object the user may read, found by their titles and searchable fields."""

from __future__ import annotations

from litestar import Controller, Request, get

from core import search
from core.api.reads import quick_read
from core.api.security import SIGNED_IN, identity

PARAMETERS = ("q", "objects", "limit")


class SearchController(Controller):
    path = "/api/search"
    opt = SIGNED_IN
    tags = ["search"]

    @get("/", summary="Search every object")
    async def search_records(self, request: Request) -> dict:
        """``q``: the text (word prefixes; any fragment of two or more Chinese characters); ``objects``: names,
        comma-separated (default: every object you may read); ``limit``: results per object (1-50, default 5)."""
        runtime, actor = request.app.state.runtime, identity(request).actor
        params = {name: request.query_params.get(name) for name in PARAMETERS if name in request.query_params}
        q, objects, limit = search.parse(params, runtime.current_metadata())

        def read(budget):
            return {"items": [item for group in search.search(runtime.records, actor, q, objects, limit, budget) for item in group.items()]}

        return await quick_read(request, read)
