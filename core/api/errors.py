"""Every error answers in one JSON shape, with a message a person can act on.

    {"status": 422, "error": "invalid_record", "message": "...",
     "errors": [{"field": "amount", "message": "...", "code": "minimum", "params": {"limit": 0}}]}

``errors`` lists each field (records), parameter (list queries) or JSON pointer (metadata)
that is wrong. Every problem a person can act on (fields, filters, refusals, sign-in, the
request's own JSON, shape, size and CSRF check, imports, configuration) is said in the
reader's language (``reader_language``): the signed-in user's, else the request's
Accept-Language, else English; each field, parameter or pointer problem worded by a code
gives its ``code`` and ``params`` too. Nothing a client sends can produce a stack trace: an unexpected failure is
a 500 with an id that the server log holds the details under.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from typing import Annotated, Any, Callable

from jsonschema import Draft202012Validator
from sqlalchemy import exc as sa_exc
from litestar import Request, Response
from litestar.exceptions import HTTPException, NotFoundException, ValidationException
from litestar.params import PathParameter, QueryParameter

from core import audit, jsontext
from core.auth import AccountError, AuthError, Throttled
from core.fieldtypes import BIGGEST
from core.metadata.model import UnknownObject
from core.metadata.problems import MetadataError, pointer
from core.metadata.schemas import describe, json_types
from core.query import QueryError
from core.reports.definition import ReportError
from core.records import Conflict, Forbidden, NotFound, RecordError, Refused
from core.roles import RoleError
from core.schema_sync import SchemaChangeRefused
from core.validation import RecordValidationError
from core.webhooks import UnknownWebhook, WebhookError
from core.api.security import session_user
from core.words import Sentence, Several, code_and_params, labelled, listed, negotiate, say, sentence, sentence_of

log = logging.getLogger("tessera.api")


IdInPath = Annotated[int, PathParameter(ge=1, le=BIGGEST)]
IdInQuery = Annotated[int | None, QueryParameter(ge=1, le=BIGGEST)]


class ApiError(Exception):
    """An error the API layer raises itself (a missing version, an unknown relation, ...).

    ``message`` and each error's ``message`` may be a Sentence: the answer says it in the reader's language,
    with the error's ``code`` and ``params``."""

    def __init__(self, status: int, code: str, message: str | Sentence, errors: list[dict] | None = None,
                 headers: dict | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.errors, self.headers = status, code, errors, headers

    def worded(self, lang: str) -> tuple[str, list[dict] | None]:
        """The message and the errors in ``lang``."""
        return say(self, lang), None if self.errors is None else [_worded(e, lang) for e in self.errors]


def _worded(error: dict, lang: str) -> dict:
    found = sentence_of(error.get("message"))
    if found is None:
        return error
    return {**error, "message": say(found, lang), **{k: v for k, v in code_and_params(found, lang).items() if k not in error}}


def json_body(body: bytes, shape: dict | None = None) -> Any:
    """The request body as JSON, or a 400 that says where it stops being JSON; with ``shape`` (a JSON Schema),
    a 400 listing every key of the wrong type, size or name, before a handler reads any of them."""
    if not body.strip():
        raise ApiError(400, "invalid_json", sentence("body_missing"))
    try:
        data = jsontext.loads(body)
    except UnicodeError:
        raise ApiError(400, "invalid_json", sentence("body_not_utf8")) from None
    except json.JSONDecodeError as exc:
        raise ApiError(400, "invalid_json", sentence("body_not_json", reason=exc.msg, line=exc.lineno, column=exc.colno)) from None
    except jsontext.RefusedJSON as exc:
        raise ApiError(400, "invalid_json", sentence("body_refused_json", reason=str(exc))) from None
    found = jsontext.unstorable(data)
    if found:
        where, problem = found
        raise ApiError(400, "invalid_json", f"{where or '/'}: {problem}", [{"pointer": where, "message": problem}])
    if shape is not None:
        _check_shape(data, shape)
    return data


def _check_shape(data: Any, shape: dict) -> None:
    validator = _shape_validators.get(id(shape))
    if validator is None:
        validator = _shape_validators[id(shape)] = Draft202012Validator(shape)
    errors = [{"pointer": pointer(*e.absolute_path), "message": describe(e)} for e in validator.iter_errors(data)]
    if errors:
        said = tuple(sentence("at_pointer", pointer=e["pointer"] or "/", problem=e["message"]) for e in errors)
        raise ApiError(400, "bad_request", said[0] if len(said) == 1 else Several("several", parts=said), errors)


_shape_validators: dict[int, Draft202012Validator] = {}  # the shapes are module constants of the controllers


def error_response(status: int, code: str, message: str, errors: list[dict] | None = None, headers: dict | None = None,
                   **extra: Any) -> Response:
    body: dict[str, Any] = {"status": status, "error": code, "message": message}
    if errors is not None:
        body["errors"] = errors
    body.update(extra)
    return Response(body, status_code=status, headers=headers, media_type="application/json")


def _api_error(request: Request, exc: ApiError) -> Response:
    message, errors = exc.worded(reader_language(request))
    return error_response(exc.status, exc.code, message, errors, exc.headers)


def reader_language(request: Request) -> str:
    """The language to answer in: the signed-in user's, else the request's Accept-Language, else English.

    A request refused before it was authenticated (a CSRF refusal) is read by its session's user."""
    user = request.scope.get("user") or session_user(request)
    return negotiate(getattr(user, "language", None), request.headers.get("accept-language", ""))


def _validation(request: Request, exc: RecordValidationError) -> Response:
    lang = reader_language(request)
    errors = [e.as_dict(lang) for e in exc.errors]
    rows = getattr(exc, "rows", None)
    if rows:
        errors = [{"row": row, **e.as_dict(lang)} for row, problems in rows.items() for e in problems]
    if lang == "en":
        message = f"the {exc.object} record is not valid: {exc}"
    else:
        problems = listed((labelled(e["field"], e["message"], lang) if e["field"] else e["message"] for e in errors[:len(exc.errors)]), lang)
        message = say(sentence("invalid_record", object=exc.object, problems=problems), lang)
    return error_response(422, "invalid_record", message, errors)


def _query(request: Request, exc: QueryError) -> Response:
    lang = reader_language(request)
    return error_response(400, "invalid_query", exc.sentence(lang), exc.worded(lang))


def _not_found(request: Request, exc: Exception) -> Response:
    return error_response(404, "not_found", say(exc, reader_language(request)))


def _forbidden(request: Request, exc: Forbidden) -> Response:
    user = request.user if "user" in request.scope else None
    who = audit.Who(user.user_id, user.username, _ip(request)) if user is not None else audit.Who(ip=_ip(request))
    audit.write_now(request.app.state.runtime.engine, "permission.denied", who, exc.object or None, exc.record_id,
                    {"operation": exc.operation, "path": request.url.path, "method": request.method})
    return error_response(403, "forbidden", say(exc, reader_language(request)))


def _not_allowed(request: Request, exc: PermissionError) -> Response:
    return error_response(403, "forbidden", say(exc, reader_language(request)))


def _conflict(request: Request, exc: Conflict) -> Response:
    return error_response(409, "version_conflict", say(exc, reader_language(request)), current_version=exc.current_version,
                          changes=exc.changes)


def _refused(request: Request, exc: Exception) -> Response:
    return error_response(409, "refused", say(exc, reader_language(request)))


def _record_error(request: Request, exc: RecordError) -> Response:
    return error_response(exc.status, "bad_request", say(exc, reader_language(request)))


def _metadata(request: Request, exc: MetadataError) -> Response:
    lang = reader_language(request)
    errors = [{"source": p.source, "pointer": p.pointer, "message": p.in_(lang),
               **({"code": p.words.code, "params": p.words.params_in(lang)} if p.words is not None else {})} for p in exc.problems]
    problems = listed((p.in_(lang) for p in exc.problems), lang)
    return error_response(422, "invalid_metadata", say(sentence("configuration_refused", problems=problems), lang), errors)


def _auth(request: Request, exc: AuthError) -> Response:
    message = say(exc, reader_language(request))
    if isinstance(exc, Throttled):
        return error_response(429, "too_many_attempts", message, headers={"Retry-After": str(exc.retry_after)}, retry_after=exc.retry_after)
    return error_response(401, "not_signed_in", message, headers={"WWW-Authenticate": "Bearer"})


def _bad_value(request: Request, exc: Exception) -> Response:
    return error_response(400, "bad_request", say(exc, reader_language(request)))


def _http(request: Request, exc: HTTPException) -> Response:
    status = exc.status_code
    if status >= 500:  # Litestar's own failures (a misconfiguration, say) say nothing of the server's inside
        return _unexpected(request, exc)
    lang = reader_language(request)
    message = say(getattr(exc, "sentence", None) or exc.detail or sentence("not_handled"), lang)
    if isinstance(exc, ValidationException):
        return error_response(400, "bad_request", say(_validation_message(exc), lang), _validation_errors(exc, lang))
    if status == 413:
        limit = request.app.request_max_body_size or 0
        message = say(sentence("body_too_large", limit=f"{limit:,}"), lang)
    elif status == 401:
        return error_response(401, "not_signed_in", message, headers={"WWW-Authenticate": "Bearer"})
    elif status == 403 and "CSRF" in (exc.detail or ""):
        message = say(sentence("csrf_refused"), lang)
    elif status == 404 and isinstance(exc, NotFoundException) and exc.detail == "Not Found":
        message = say(sentence("nothing_here", path=request.url.path), lang)
    elif status == 405:
        message = say(sentence("method_not_allowed", method=request.method, path=request.url.path), lang)
    code = {401: "not_signed_in", 403: "forbidden", 404: "not_found", 405: "method_not_allowed", 413: "too_large",
            415: "unsupported_media_type", 429: "too_many_requests"}.get(status, "bad_request" if status < 500 else "server_error")
    return error_response(status, code, message, headers=getattr(exc, "headers", None))


def _validation_message(exc: ValidationException) -> Sentence | str:
    detail = exc.detail or ""
    if "JSON" in detail or "decode" in detail.lower() or "malformed" in detail.lower():
        return sentence("body_not_a_json_object")
    if detail.startswith(VALIDATION_FAILED):
        return sentence("validation_failed", request=detail.removeprefix(VALIDATION_FAILED))
    return detail or sentence("request_not_valid")


VALIDATION_FAILED = "Validation failed for "  # how Litestar begins a refused parameter's detail


def _validation_errors(exc: ValidationException, lang: str) -> list[dict] | None:
    """Each refused parameter or body key, with Litestar's own reason ("Expected `int`, got `str`") said in ``lang``."""
    extra = exc.extra if isinstance(exc.extra, list) else None
    if not extra:
        return None
    return [_parameter_problem(e.get("key", ""), e.get("message", ""), lang) for e in extra if isinstance(e, dict)]


def _parameter_problem(parameter: str, reason: str, lang: str) -> dict:
    said = litestar_reason(reason)
    return {"parameter": parameter, "message": say(said, lang), **code_and_params(said, lang)}


def litestar_reason(reason: str) -> Sentence:
    """msgspec's reason for refusing a value (as Litestar passes it on) as one of our sentences; one we do not
    know stays as it is, inside parameter_not_valid."""
    for pattern, worded in _REASONS:
        found = pattern.fullmatch(reason)
        if found:
            return worded(found)
    return sentence("parameter_not_valid", reason=reason)


def _msgspec_types(names: str) -> Sentence | str:
    """msgspec's type names ("int | null") as the words saying them; "int" is JSON's "integer", and so on."""
    return json_types(*(_MSGSPEC_TYPES.get(name, f"`{name}`") for name in names.split(" | ")))


def _number(text: str) -> int | float:
    return int(text) if text.lstrip("-").isdigit() else float(text)


def _length(limit: str, one: str, many: str) -> Sentence:
    return sentence(one) if limit == "1" else sentence(many, limit=int(limit))


_MSGSPEC_TYPES = {"int": "integer", "float": "number", "str": "string", "bool": "boolean", "null": "null", "object": "object",
                  "array": "array"}
_REASONS: list[tuple[re.Pattern, Callable[[re.Match], Sentence]]] = [  # msgspec's wordings, as its decoder writes them
    (re.compile(r"Expected `([^`]+)`, got `([^`]+)`"), lambda m: sentence("must_be_type_not", types=_msgspec_types(m[1]),
                                                                           got=_msgspec_types(m[2]))),
    (re.compile(r"Object missing required field `([^`]+)`"), lambda m: sentence("key_required", key=m[1])),
    (re.compile(r"Object contains unknown field `([^`]+)`"), lambda m: sentence("not_a_known_key", key=m[1], hint="")),
    (re.compile(r"Invalid (?:enum )?value (.+)"), lambda m: sentence("not_an_allowed_value", value=m[1])),
    (re.compile(r"Expected `str` of length >= (\d+)"), lambda m: _length(m[1], "must_not_be_empty", "at_least_characters")),
    (re.compile(r"Expected `str` of length <= (\d+)"), lambda m: sentence("at_most_characters", limit=int(m[1]))),
    (re.compile(r"Expected `(?:array|object)` of length >= (\d+)"), lambda m: _length(m[1], "at_least_one_item", "at_least_items")),
    (re.compile(r"Expected `(?:array|object)` of length <= (\d+)"), lambda m: sentence("at_most_items", limit=int(m[1]))),
    (re.compile(r"Expected `(?:int|float)` >= (\S+)"), lambda m: sentence("minimum", limit=_number(m[1]))),
    (re.compile(r"Expected `(?:int|float)` <= (\S+)"), lambda m: sentence("maximum", limit=_number(m[1]))),
    (re.compile(r"Expected `float` > (\S+)"), lambda m: sentence("exclusive_minimum", limit=_number(m[1]))),
    (re.compile(r"Expected `float` < (\S+)"), lambda m: sentence("exclusive_maximum", limit=_number(m[1]))),
    (re.compile(r"Invalid RFC3339 encoded datetime"), lambda m: sentence("must_be_type", types=sentence("expected_datetime"))),
    (re.compile(r"Invalid RFC3339 encoded date"), lambda m: sentence("must_be_type", types=sentence("expected_date"))),
]


def _refused_value(request: Request, exc: sa_exc.DataError) -> Response:
    """The database refused a value that got past validation (text or a number it cannot hold): the input's
    fault, so a 400 saying which value, never a 500. Logged, since validation should have caught it first."""
    reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else "a value it cannot store"
    log.warning("the database refused a value on %s %s: %s", request.method, request.url.path, reason)
    return error_response(400, "bad_request", f"the database refused a value: {reason}")


def _unexpected(request: Request, exc: Exception) -> Response:
    incident = secrets.token_hex(6)
    log.exception("unexpected error %s on %s %s", incident, request.method, request.url.path)
    return error_response(500, "server_error", say(sentence("server_error", incident=incident), reader_language(request)))


def _ip(request: Request) -> str | None:
    client = request.scope.get("client")
    return client[0] if client else None


def _report(request: Request, exc: ReportError) -> Response:
    """A report refused: each problem with the report, its place (JSON pointer, or ?parameter) and the reason."""
    lang = reader_language(request)
    errors = [{"report": exc.report, "pointer": at, "message": say(said, lang), **code_and_params(said, lang)} for at, said in exc.problems]
    message = listed((labelled(f"{exc.report}{e['pointer']}", e["message"], lang) for e in errors), lang)
    return error_response(exc.status, "invalid_report" if exc.status == 400 else "forbidden", message, errors)


EXCEPTION_HANDLERS = {
    ApiError: _api_error,
    ReportError: _report,
    RecordValidationError: _validation,
    QueryError: _query,
    NotFound: _not_found,
    UnknownObject: _not_found,
    UnknownWebhook: _not_found,
    Forbidden: _forbidden,
    PermissionError: _not_allowed,
    Conflict: _conflict,
    Refused: _refused,
    SchemaChangeRefused: _refused,
    RecordError: _record_error,
    MetadataError: _metadata,
    AuthError: _auth,
    AccountError: _bad_value,
    RoleError: _bad_value,
    WebhookError: _bad_value,
    HTTPException: _http,
    sa_exc.DataError: _refused_value,
    Exception: _unexpected,
}
