"""Who is calling: bearer tokens and session cookies, the signed-in guard, CSRF for browsers.

Requests carry either ``Authorization: Bearer <token>`` (integrations) or the session
cookie set by signing in (browsers). Only cookie-authenticated requests can be forged by
another site, so CSRF protection (Litestar's own middleware) applies to every unsafe
request except those that authenticate with a bearer token and carry no session cookie.
"""

from __future__ import annotations

from typing import Any

from litestar.config.csrf import CSRFConfig
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware.authentication import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.middleware.csrf import CSRFMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send
from litestar.utils.scope.state import ScopeState

from core.auth import SESSION_LIFETIME, Accounts, AuthError, Identity
from core.words import Sentence, sentence, sentence_of

SESSION_COOKIE = "tessera_session"
CSRF_COOKIE = "csrftoken"
CSRF_HEADER = "x-csrftoken"
# The ``opt`` of a controller or handler whose requests must be signed in. The authentication
# middleware refuses anonymous ones before routing on: a guard would do the same, but Litestar
# copies the route handler for every guard call, on every request.
SIGNED_IN = {"signed_in": True}
class NotSignedIn(NotAuthorizedException):
    """A 401 whose ``sentence`` the answer words in the reader's language (``detail`` is its English)."""

    def __init__(self, said: Sentence) -> None:
        super().__init__(str(said))
        self.sentence = said


class NotPermitted(PermissionDeniedException):
    """A 403 whose ``sentence`` the answer words in the reader's language (``detail`` is its English)."""

    def __init__(self, said: Sentence) -> None:
        super().__init__(str(said))
        self.sentence = said


def session_user(connection: ASGIConnection) -> Identity | None:
    """The user of the request's session cookie, for a request refused before it was authenticated; None when
    there is none or it cannot be read (an error's answer must not fail in turn)."""
    cookie = connection.cookies.get(SESSION_COOKIE)
    try:
        return connection.app.state.accounts.identity_for_session(cookie) if cookie else None
    except Exception:  # noqa: BLE001 - the database being down, say: the answer is then in the request's language
        return None


def session_cookie(token: str, secure: bool) -> Cookie:
    return Cookie(key=SESSION_COOKIE, value=token, max_age=int(SESSION_LIFETIME.total_seconds()), httponly=True,
                  samesite="lax", secure=secure, path="/")


def cleared_session_cookie() -> Cookie:
    return Cookie(key=SESSION_COOKIE, value="", max_age=0, httponly=True, samesite="lax", path="/")


def csrf_token(connection: ASGIConnection) -> str:
    """The CSRF token of this request (set by the CSRF middleware on safe requests)."""
    made = ScopeState.from_scope(connection.scope).csrf_token  # Litestar's Empty when its middleware let the request pass
    return (made if isinstance(made, str) else "") or connection.cookies.get(CSRF_COOKIE) or ""


def client_ip(connection: ASGIConnection) -> str | None:
    client = connection.scope.get("client")
    return client[0] if client else None


class TesseraAuthentication(AbstractAuthenticationMiddleware):
    """Sets ``request.user`` to an Identity, or None for anonymous requests.

    Anonymous requests to routes marked ``SIGNED_IN`` are refused here (401); other checks are guards.
    """

    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:
        result = await self._identify(connection)
        if result.user is None and connection.scope["route_handler"].opt.get("signed_in"):
            raise NotSignedIn(sentence("sign_in_first"))
        return result

    async def _identify(self, connection: ASGIConnection) -> AuthenticationResult:
        accounts: Accounts = connection.app.state.accounts
        header = connection.headers.get("authorization", "")
        if header:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise NotSignedIn(sentence("bearer_scheme"))
            try:
                identity = accounts.identity_for_token(token.strip(), client_ip(connection))
            except AuthError as exc:
                raise NotSignedIn(sentence_of(exc) or Sentence("token_refused", text=str(exc))) from None
            return AuthenticationResult(identity, "token")
        cookie = connection.cookies.get(SESSION_COOKIE)
        if cookie:
            identity = accounts.identity_for_session(cookie)
            if identity is not None:
                return AuthenticationResult(identity, "session")
        return AuthenticationResult(None, None)


def _require_user(connection: ASGIConnection) -> None:
    if identity(connection) is None:
        raise NotSignedIn(sentence("sign_in_first"))


def customizer(connection: ASGIConnection, _handler: BaseRouteHandler) -> None:
    """Admins and permission sets with ``customizer`` may change metadata."""
    _require_user(connection)
    if not connection.app.state.runtime.records.access(identity(connection).actor).may_customize:
        raise NotPermitted(sentence("needs_customizer"))


def admin(connection: ASGIConnection, _handler: BaseRouteHandler) -> None:
    _require_user(connection)
    if not connection.app.state.runtime.records.access(identity(connection).actor).unrestricted:
        raise NotPermitted(sentence("needs_admin"))


def identity(connection: ASGIConnection) -> Identity:
    """The signed-in user. Read from the scope, where requests the authentication middleware skips
    (OPTIONS, HEAD) have no user at all: Litestar's ``connection.user`` would raise for them."""
    return connection.scope.get("user")


class CSRFUnlessBearer:
    """Litestar's CSRF middleware for cookie-authenticated requests; bearer-token requests pass."""

    def __init__(self, app: ASGIApp, config: CSRFConfig) -> None:
        self.app = app
        self.csrf = CSRFMiddleware(app, config)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _bearer_without_cookie(scope):
            await self.app(scope, receive, send)
        else:
            await self.csrf(scope, receive, send)


def _bearer_without_cookie(scope: Scope) -> bool:
    headers: dict[bytes, Any] = dict(scope.get("headers", []))
    bearer = headers.get(b"authorization", b"").lower().startswith(b"bearer ")
    return bearer and SESSION_COOKIE.encode() not in headers.get(b"cookie", b"")


def csrf_config(secret: str, secure: bool) -> CSRFConfig:
    return CSRFConfig(secret=secret, cookie_name=CSRF_COOKIE, header_name=CSRF_HEADER, cookie_secure=secure,
                      cookie_samesite="lax", exclude=["/api/auth/token$"])
