"""The OpenAPI document: Litestar's, with a typed record API for every object the caller may use.

Litestar describes the handlers; the records handlers are generic (``/api/records/{object}``),
so the document served at /schema/openapi.json replaces them with one path per object,
each with its record, input and page schemas generated from the metadata.

The document depends on who asks. For a signed-in user (bearer token or session cookie) it
is built through their role: objects the role may not use at all are left out, an object's
paths are those of the operations the role allows, record schemas and filters leave out the
fields the role hides, and input schemas leave out the fields it may not change. An
anonymous request gets the fixed paths with the generic record paths
(``/api/records/{object_name}``): no object or field name of this installation. Like the
validators, each variant is cached per metadata version and permission set, so a field added
in another process appears at the next request.
"""

from __future__ import annotations

import copy
import html
import json
from typing import Any

from litestar import Request
from litestar.routes import HTTPRoute
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme

from core import __version__
from core.api.security import CSRF_COOKIE, CSRF_HEADER
from core.metadata.model import FieldDef, MetadataSet, ObjectDef
from core.permissions import OPERATIONS, Access
from core.query import COUNT_CAP, DEFAULT_LIMIT, MAX_LIMIT, OPERATORS

STATIC = "/static/tessera"
NULL = {"type": "null"}
LOOKUP = {"type": "object", "properties": {"id": {"type": "integer"}, "label": {}}, "required": ["id"]}
ERROR = {
    "type": "object",
    "properties": {
        "status": {"type": "integer"},
        "error": {"type": "string"},
        "message": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
    "required": ["status", "error", "message"],
}


def nullable(schema: dict) -> dict:
    if not schema:
        return {}
    return {"anyOf": [schema, NULL]}


def output_schema(fdef: FieldDef) -> dict:
    """A stored value as reads show it. Loose on purpose: data kept from before a change (a
    picklist value taken off the list, a longer text) is still shown."""
    return fdef.type.output_schema(fdef.spec)


def _error(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _json(ref: str, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}}


COMMON_ERRORS = {"401": _error("Not signed in, or the token is not valid"), "403": _error("The role does not allow this")}


def _title(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def record_schemas(obj: ObjectDef, validator_schema: dict, required: list[str], access: Access) -> dict[str, dict]:
    """The record, input, changes and page schemas of ``obj`` as ``access`` may use them."""
    title = _title(obj.name)
    properties: dict[str, Any] = {"id": {"type": "integer"}}
    for fdef in obj.active_fields():
        if not access.visible(obj.name, fdef.name):
            continue
        properties[fdef.name] = nullable(output_schema(fdef))
        properties[fdef.name]["description"] = fdef.label("en")
        if fdef.formula:
            properties[fdef.name].update(readOnly=True, description=f"{fdef.label('en')} (formula: {fdef.spec['expression']})")
    properties.update({
        "version": {"type": "integer", "description": "Send it back in If-Match (or 'version') when you update"},
        "created_at": {"type": "string", "format": "date-time"}, "updated_at": {"type": "string", "format": "date-time"},
        "created_by": nullable({"type": "integer"}), "updated_by": nullable({"type": "integer"}),
        "owner": nullable(LOOKUP), "deleted_at": {"type": "string", "format": "date-time"},
    })
    record = {"type": "object", "title": f"{title} record", "properties": properties, "required": ["id", "version"],
              "description": f"A {obj.label('en')} as you may see it: fields your role may not see are left out."}
    inputs = {name: nullable(schema) for name, schema in validator_schema["properties"].items() if access.writable(obj.name, name)}
    create = {"type": "object", "title": f"{title} input", "properties": inputs, "required": [n for n in required if n in inputs],
              "additionalProperties": False}
    update = {"type": "object", "title": f"{title} changes",
              "properties": {**inputs, "version": {"type": "integer", "description": "The version you read (or send If-Match)"}},
              "additionalProperties": False}
    page = {"type": "object", "title": f"{title} page", "required": ["items", "limit", "offset", "has_more"], "properties": {
        "items": {"type": "array", "items": {"$ref": f"#/components/schemas/{title}Record"}},
        "limit": {"type": "integer"}, "offset": {"type": "integer"}, "has_more": {"type": "boolean"},
        "count": {"type": "integer", "description": f"With count=true: matching records, counted up to {COUNT_CAP:,}"},
        "count_capped": {"type": "boolean", "description": "The count stopped at the cap: there are more"},
    }}
    return {f"{title}Record": record, f"{title}Input": create, f"{title}Changes": update, f"{title}Page": page}


MERGE_REQUEST = {
    "type": "object", "required": ["survivor", "merged"], "additionalProperties": False,
    "properties": {
        "survivor": {"type": "integer", "minimum": 1, "description": "The record that stays"},
        "merged": {"type": "array", "items": {"type": "integer", "minimum": 1}, "minItems": 1, "description": "The records merged into it"},
        "values": {"type": "object", "additionalProperties": {"type": "integer", "minimum": 1},
                   "description": "Field name -> the id of the record whose value the survivor takes"},
        "versions": {"type": "object", "additionalProperties": {"type": "integer", "minimum": 1},
                     "description": "Record id -> the version you read"},
    },
}


def _merge_answer(title: str) -> dict:
    return {"type": "object", "properties": {
        "record": {"$ref": f"#/components/schemas/{title}Record"},
        "merged": {"type": "array", "items": {"type": "integer"}},
        "moved": {"type": "object", "additionalProperties": {"type": "integer"}},
    }}


def record_paths(obj: ObjectDef, access: Access) -> dict[str, dict]:
    """The paths of ``obj`` with the operations ``access`` allows (a path with none is left out)."""
    title, name = _title(obj.name), obj.name
    filters = [f for f in obj.active_fields()
               if (f.type.sortable or f.type.multiple) and access.visible(name, f.name)]
    list_params = [
        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}},
        {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0, "default": 0}},
        {"name": "sort", "in": "query", "schema": {"type": "string"}, "description": "Fields, '-' first for descending: -close_date,name"},
        {"name": "q", "in": "query", "schema": {"type": "string"}, "description": "Search the searchable fields"},
        {"name": "count", "in": "query", "schema": {"enum": ["true", "false", "exact"]}},
    ] + [{"name": f.name, "in": "query", "schema": {"type": "string"}, "required": False,
          "description": f"Filter on {f.label('en')}; also {f.name}__<op> with op one of {', '.join(o for o in OPERATORS if o in f.type.operators)}"}
         for f in filters]
    record_id = {"name": "record_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
    if_match = {"name": "If-Match", "in": "header", "required": False, "schema": {"type": "string"},
                "description": 'The version you read, e.g. "3"'}
    tags = [f"records: {name}"]
    paths = {
        f"/api/records/{name}": {
            "get": {"operationId": f"list_{name}", "summary": f"List {obj.label('en')} records", "tags": tags, "parameters": list_params,
                    "responses": {"200": _json(f"{title}Page", "A page of records"), "400": _error("A filter, sort or paging parameter is wrong"),
                                  **COMMON_ERRORS}},
            "post": {"operationId": f"create_{name}", "summary": f"Create a {obj.label('en')}", "tags": tags,
                     "requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{title}Input"}}}},
                     "responses": {"201": _json(f"{title}Record", "The new record"), "400": _error("The body is not JSON"),
                                   "413": _error("The body is too large"), "422": _error("A field is not valid"), **COMMON_ERRORS}},
        },
        f"/api/records/{name}/merge": {
            "post": {"operationId": f"merge_{name}", "summary": f"Merge duplicate {obj.label('en')} records into one", "tags": tags,
                     "requestBody": {"required": True, "content": {"application/json": {"schema": MERGE_REQUEST}}},
                     "responses": {"200": {"description": "The surviving record, the merged ids and how many references moved",
                                           "content": {"application/json": {"schema": _merge_answer(title)}}},
                                   "400": _error("The body is not JSON or misses a key"), "413": _error("The body is too large"),
                                   "422": _error("The merge cannot be done as asked"), **COMMON_ERRORS}},
        },
        f"/api/records/{name}/{{record_id}}": {
            "get": {"operationId": f"get_{name}", "summary": f"Read a {obj.label('en')}", "tags": tags, "parameters": [record_id],
                    "responses": {"200": _json(f"{title}Record", "The record"), "404": _error("No such record you may read"), **COMMON_ERRORS}},
            "patch": {"operationId": f"update_{name}", "summary": f"Change a {obj.label('en')}", "tags": tags, "parameters": [record_id, if_match],
                      "requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{title}Changes"}}}},
                      "responses": {"200": _json(f"{title}Record", "The changed record"), "400": _error("The body is not JSON"),
                                    "404": _error("No such record you may read"), "409": _error("The record changed since the version sent"),
                                    "413": _error("The body is too large"), "422": _error("A field is not valid"),
                                    "428": _error("No version was sent"), **COMMON_ERRORS}},
            "delete": {"operationId": f"delete_{name}", "summary": f"Delete a {obj.label('en')} (it can be restored)", "tags": tags,
                       "parameters": [record_id, if_match],
                       "responses": {"204": {"description": "Deleted"}, "404": _error("No such record you may read"),
                                     "409": _error("Other records depend on it, or it changed since the version sent"), **COMMON_ERRORS}},
        },
    }
    allowed = {op for op in OPERATIONS if access.can(name, op)}
    needs = {"get": {"read"}, "post": {"create"}, "patch": {"update"}, "delete": {"delete"}}
    merge = f"/api/records/{name}/merge"
    kept = {}
    for path, item in paths.items():
        item = {method: operation for method, operation in item.items()
                if ({"update", "delete"} if path == merge else needs[method]) <= allowed}
        if item:
            kept[path] = item
    return kept


def _our_errors(responses: dict) -> None:
    """Every error answers in our shape, whatever Litestar's generator assumed."""
    for status in list(responses):
        if status.isdigit() and int(status) >= 400:
            responses[status] = _error(responses[status].get("description") or "An error")
    for status, response in COMMON_ERRORS.items():
        responses.setdefault(status, response)
    responses.setdefault("400", _error("A parameter or the body is not valid"))
    responses.setdefault("404", _error("Not found"))
    responses.setdefault("422", _error("The content is not valid"))


def with_json_bodies(base: dict, app) -> dict:
    """Handlers read their JSON body themselves (for exact error messages); say that they take one, of the shape
    the handler checks it against (its ``opt["body"]``) where it has one."""
    document = copy.deepcopy(base)
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if "body" not in handler.parsed_fn_signature.parameters:
                continue
            for method in handler.http_methods:
                operation = document.get("paths", {}).get(route.path_format, {}).get(method.lower())
                if operation is not None:
                    shape = copy.deepcopy(handler.opt.get("body", {"type": "object"}))
                    operation.setdefault("requestBody", {"required": True, "content": {"application/json": {"schema": shape}}})
    return document


def build_document(base: dict, meta: MetadataSet, schema, access: Access | None) -> dict:
    """Litestar's document with the generic record paths replaced by one set per object ``access`` may use.

    ``access`` None (an anonymous request): the generic record paths stay, and no object is named."""
    document = copy.deepcopy(base)
    paths = {p: item for p, item in document.get("paths", {}).items() if not p.startswith("/api/records/{object_name}")}
    generic = {p: item for p, item in document.get("paths", {}).items()
               if p.startswith("/api/records/{object_name}/{record_id}/" if access is not None else "/api/records/{object_name}")}
    components = document.setdefault("components", {}).setdefault("schemas", {})
    components["Error"] = ERROR
    for name in sorted(meta.objects) if access is not None else ():
        if not any(access.can(name, op) for op in OPERATIONS):
            continue
        obj = meta.objects[name]
        validator = schema.validator(name)
        components.update(record_schemas(obj, validator.schema, validator.required, access))
        paths.update(record_paths(obj, access))
    paths.update(generic)  # history, shares, related lists: the same for every object
    for item in paths.values():
        for operation in item.values():
            if isinstance(operation, dict) and "responses" in operation:
                _our_errors(operation["responses"])
    document["paths"] = dict(sorted(paths.items()))
    document["security"] = [{"bearerAuth": []}, {"sessionCookie": []}]
    return document


class LiveDocument:
    """The document for the metadata version in effect and the caller's permission set, built once per both."""

    def __init__(self) -> None:
        self._version: int | None = None
        self._cache: dict[str | None, bytes] = {}

    def render(self, request: Request, openapi_schema: dict[str, Any]) -> bytes:
        user = request.scope.get("user")  # an Identity, or None for an anonymous request
        with request.app.state.runtime.reading() as (_conn, schema):
            if self._version != schema.version:
                self._cache, self._version = {}, schema.version
            access = schema.access(user.actor) if user is not None else None
            key = None if access is None else ("" if access.unrestricted else "set:") + access.name
            cached = self._cache.get(key)
            if cached is None:
                document = build_document(with_json_bodies(openapi_schema, request.app), schema.meta, schema, access)
                cached = self._cache[key] = json.dumps(document, ensure_ascii=False).encode()
            return cached


class LiveJsonRenderPlugin(JsonRenderPlugin):
    """/schema/openapi.json."""

    def __init__(self, document: LiveDocument) -> None:
        super().__init__()
        self.document = document

    def render(self, request: Request, openapi_schema: dict[str, Any]) -> bytes:
        return self.document.render(request, openapi_schema)


class LiveSwaggerRenderPlugin(SwaggerRenderPlugin):
    """Litestar's Swagger UI page (/schema), with the live document and vendored assets."""

    def __init__(self, document: LiveDocument, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.document = document

    def render_json(self, request: Request, openapi_schema: dict[str, Any]) -> bytes:  # type: ignore[override]
        return self.document.render(request, openapi_schema)

    def render(self, request: Request, openapi_schema: dict[str, Any]) -> bytes:
        """The page loads the document from /schema/openapi.json with a static script rather than embedding it
        in an inline one: nothing from the metadata is ever written into the page's HTML."""
        title = html.escape(str(openapi_schema["info"]["title"]))
        return (
            '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>{title}</title><link rel="icon" href="{STATIC}/favicon.svg" type="image/svg+xml">'
            f'<link rel="stylesheet" href="{html.escape(self.css_url)}">'
            f'<link rel="stylesheet" href="{STATIC}/css/api-docs.css"></head><body>'
            f'<div id="swagger-container" data-document="{html.escape(request.app.openapi_config.path)}/openapi.json"'
            f' data-csrf-cookie="{CSRF_COOKIE}" data-csrf-header="{CSRF_HEADER}"></div>'
            f'<script src="{html.escape(self.js_url)}"></script><script src="{html.escape(self.standalone_preset_js_url)}"></script>'
            f'<script src="{STATIC}/js/api-docs.js"></script></body></html>'
        ).encode()


def openapi_config() -> OpenAPIConfig:
    document = LiveDocument()
    swagger = LiveSwaggerRenderPlugin(document, js_url=f"{STATIC}/vendor/swagger-ui-bundle-5.35.0.js",
                                      css_url=f"{STATIC}/vendor/swagger-ui-5.35.0.css", path="/", favicon="",
                                      standalone_preset_js_url=f"{STATIC}/vendor/swagger-ui-standalone-preset-5.35.0.js")
    return OpenAPIConfig(
        title="Tessera CRM API",
        version=__version__,
        description="Records of every object, the configuration, sign-in, audit and webhooks. Sign in with a bearer token "
                    "(POST /api/auth/token) and send it as `Authorization: Bearer TOKEN`. Errors answer "
                    '{"status", "error", "message", "errors"}. This document is built for whoever asks: signed in, it '
                    "has a typed path set for each object your role may use, with the fields your role may see; "
                    "without signing in, only the generic record paths (/api/records/{object_name}).",
        path="/schema",
        render_plugins=[LiveJsonRenderPlugin(document), swagger],
        components=Components(security_schemes={
            "bearerAuth": SecurityScheme(type="http", scheme="bearer", description="A token from POST /api/auth/token"),
            "sessionCookie": SecurityScheme(type="apiKey", security_scheme_in="cookie", name="tessera_session"),
        }),
        use_handler_docstrings=True,
    )
