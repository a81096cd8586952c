"""POST /api/records/{object}/merge: merge duplicate records into one (core/merge.py does the work).

    {"survivor": 12, "merged": [15, 18], "values": {"phone": 15}, "versions": {"12": 3, "15": 1, "18": 2}}

``values`` names, for each field whose value the survivor should take from another record,
that record's id; ``versions`` (optional) are the versions the client read.
"""

from __future__ import annotations

from litestar import Controller, Request, Response, post
from litestar.params import FromPath, RawBody

from core.api.errors import ApiError, json_body, reader_language
from core.api.security import SIGNED_IN, identity
from core.words import sentence
from core.merge import MergeError, merge

BODY_KEYS = {"survivor", "merged", "values", "versions"}
EXAMPLE = '{"survivor": 12, "merged": [15], "values": {"phone": 15}}'


class MergeController(Controller):
    path = "/api/records"
    opt = SIGNED_IN
    tags = ["records"]

    @post("/{object_name:str}/merge", sync_to_thread=True, status_code=200, summary="Merge duplicate records into one")
    def merge_records(self, request: Request, object_name: FromPath[str], body: RawBody) -> Response:
        data = json_body(body)
        if not isinstance(data, dict) or "survivor" not in data or "merged" not in data:
            raise ApiError(400, "bad_request", sentence("merge_body_needed", example=EXAMPLE))
        unknown = sorted(set(data) - BODY_KEYS)
        if unknown:
            raise ApiError(400, "bad_request", f"unknown key(s) {', '.join(unknown)}: send only {', '.join(sorted(BODY_KEYS))}")
        try:
            done = merge(request.app.state.runtime, identity(request).actor, object_name, data["survivor"], data["merged"],
                         data.get("values") or {}, _versions(data.get("versions")))
        except MergeError as exc:
            lang = reader_language(request)
            raise ApiError(422, "invalid_merge", exc.sentence(lang), exc.worded(lang)) from None
        body = {"record": done.record, "merged": done.merged_ids, "moved": done.moved}
        return Response(body, headers={"ETag": f'"{done.record["version"]}"'})


def _versions(value) -> dict | None:
    if value is None or isinstance(value, dict):
        return value
    raise ApiError(422, "invalid_merge", 'versions: give an object of record id -> version, e.g. {"12": 3}',
                   [{"field": "versions", "message": "give an object of record id -> version"}])
