"""/api/auth: sign in and out, bearer tokens, who am I."""

from __future__ import annotations

from typing import Annotated

from litestar.params import QueryParameter, RawBody
from litestar import Controller, Request, Response, delete, get, post

from core.api.errors import ApiError, IdInPath, json_body
from core.api.security import SESSION_COOKIE, SIGNED_IN, admin, cleared_session_cookie, client_ip, csrf_token, identity, session_cookie
from core.auth import TOKEN_MAX_DAYS, Accounts, Identity

DB = {"sync_to_thread": True}


def _accounts(request: Request) -> Accounts:
    return request.app.state.accounts


TOKEN_NAME = {"type": "string", "minLength": 1, "maxLength": 100}
TOKEN_DAYS = {"type": "integer", "minimum": 1, "maximum": TOKEN_MAX_DAYS}
CREDENTIALS = {"username": {"type": "string", "minLength": 1, "maxLength": 200}, "password": {"type": "string", "maxLength": 4096}}
LOGIN = {"type": "object", "properties": CREDENTIALS, "required": ["username", "password"], "additionalProperties": False}
PASSWORD_FOR_TOKEN = {"type": "object", "properties": {**CREDENTIALS, "name": TOKEN_NAME, "expires_in_days": TOKEN_DAYS},
                      "required": ["username", "password"], "additionalProperties": False}
NEW_TOKEN = {"type": "object", "properties": {"name": TOKEN_NAME, "expires_in_days": TOKEN_DAYS}, "required": ["name"],
             "additionalProperties": False}


def _days(data: dict) -> int | None:
    days = data.get("expires_in_days")
    return None if days is None else int(days)  # the shape allows 30.0, a whole number written as a float


def me(request: Request, user: Identity) -> dict:
    access = request.app.state.runtime.records.access(user.actor)
    return {"id": user.user_id, "username": user.username, "full_name": user.full_name, "language": user.language,
            "permission_set": user.permission_set or None, "admin": access.unrestricted, "customizer": access.may_customize,
            "signed_in_with": user.via}


class AuthController(Controller):
    path = "/api/auth"
    tags = ["sign-in"]

    @post("/token", **DB, opt={"body": PASSWORD_FOR_TOKEN}, summary="Exchange a username and password for a bearer token", status_code=201)
    def token_for_password(self, request: Request, body: RawBody) -> dict:
        data = json_body(body, PASSWORD_FOR_TOKEN)
        user = _accounts(request).authenticate(data["username"], data["password"], client_ip(request))
        info, plain = _accounts(request).create_token(user, data.get("name") or "API token", _days(data), client_ip(request))
        return {**info, "token": plain}

    @post("/login", **DB, opt={"body": LOGIN}, summary="Sign in a browser (sets the session cookie)", status_code=200)
    def login(self, request: Request, body: RawBody) -> Response:
        data = json_body(body, LOGIN)
        user = _accounts(request).authenticate(data["username"], data["password"], client_ip(request))
        cookie_value = _accounts(request).start_session(user, client_ip(request))
        return Response(me(request, user), cookies=[session_cookie(cookie_value, request.app.state.runtime.settings.secure_cookies)])

    @post("/logout", **DB, summary="Sign out this browser", status_code=200)
    def logout(self, request: Request) -> Response:
        token = request.cookies.get(SESSION_COOKIE)
        if token:
            user = request.user
            _accounts(request).end_session(token, user.who(client_ip(request)) if user else None)
        return Response({"signed_out": True}, cookies=[cleared_session_cookie()])

    @get("/csrf", summary="The CSRF token a browser sends back in X-CSRFToken", sync_to_thread=False)
    def csrf(self, request: Request) -> dict:
        return {"csrf_token": csrf_token(request), "header": "X-CSRFToken"}

    @get("/me", opt=SIGNED_IN, sync_to_thread=False, summary="Who is signed in")
    def whoami(self, request: Request) -> dict:
        return me(request, identity(request))

    @get("/tokens", opt=SIGNED_IN, **DB, summary="My API tokens (everybody's with ?all=true, for admins)")
    def list_tokens(self, request: Request, all_users: Annotated[bool, QueryParameter(name="all")] = False) -> dict:
        user = identity(request)
        if all_users:
            admin(request, None)  # type: ignore[arg-type]
        return {"items": _accounts(request).tokens(None if all_users else user.user_id)}

    @post("/tokens", opt={**SIGNED_IN, "body": NEW_TOKEN}, **DB, summary="Make an API token for myself", status_code=201)
    def create_token(self, request: Request, body: RawBody) -> dict:
        data = json_body(body, NEW_TOKEN)
        info, plain = _accounts(request).create_token(identity(request), data["name"], _days(data), client_ip(request))
        return {**info, "token": plain}

    @delete("/tokens/{token_id:int}", opt=SIGNED_IN, **DB, summary="Revoke a token", status_code=200)
    def revoke_token(self, request: Request, token_id: IdInPath) -> dict:
        user = identity(request)
        is_admin = request.app.state.runtime.records.access(user.actor).unrestricted
        try:
            return _accounts(request).revoke_token(user, token_id, any_user=is_admin, ip=client_ip(request))
        except LookupError as exc:
            raise ApiError(404, "not_found", str(exc)) from None
