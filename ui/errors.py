"""Errors on the UI's pages answer an HTML page; the API's paths keep their JSON.

The API's exception handlers (core/api/errors.py) still decide the status and keep their
side effects (refused permissions are audited); on a page's path their answer becomes
error.html, in the reader's language. An unexpected failure shows an incident id, under
which the log holds the details, and never a stack trace.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable

from litestar import Request, Response
from litestar.exceptions import HTTPException

from core.api.security import session_user
from ui.context import VARY, Answer, Page, answer
from ui.i18n import label, negotiate, translator
from ui.icons import icon

log = logging.getLogger("tessera.ui")
API_PATHS = ("/api/", "/schema", "/healthz")
Handler = Callable[[Request, Exception], Response]


def page_errors(api_handlers: dict[type, Handler]) -> dict[type, Handler]:
    """The API's exception handlers, answering an HTML page instead on the UI's paths; a page's answer decided by a
    guard or a dependency (``Answer``) is sent as it is, wherever it is raised."""
    return {**{kind: _on_pages(handler, unexpected=kind is Exception) for kind, handler in api_handlers.items()}, Answer: answer}


def is_api(path: str) -> bool:
    return path == "/api" or path.startswith(API_PATHS)


def _on_pages(api_handler: Handler, unexpected: bool) -> Handler:
    def handle(request: Request, exc: Exception) -> Response:
        if is_api(request.url.path):
            return api_handler(request, exc)
        if unexpected:
            incident = secrets.token_hex(6)
            log.exception("unexpected error %s on %s %s", incident, request.method, request.url.path)
            return error_page(request, 500, incident=incident)
        answer = api_handler(request, exc)
        content = answer.content if isinstance(answer.content, dict) else {}
        csrf = isinstance(exc, HTTPException) and answer.status_code == 403 and "CSRF" in str(exc.detail)
        retry = {k: v for k, v in (answer.headers or {}).items() if k.lower() == "retry-after"}
        return error_page(request, answer.status_code, message=None if csrf or answer.status_code == 404 else content.get("message"),
                          csrf=csrf, headers=retry)

    return handle


def error_page(request: Request, status: int, message: str | None = None, incident: str | None = None, csrf: bool = False,
               headers: dict | None = None) -> Response:
    page = _page(request)
    _ = page.t
    if status == 404:
        title, message = _("Not found"), _("There is no page at this address.")
    elif csrf:
        title, message = _("Not allowed"), _("This form has expired or did not come from this site. Go back, reload the page and try again.")
    elif status >= 500:
        title, message = _("Something went wrong"), _("The server could not finish this request. It has been logged; if you report it, give the incident number {incident}.",
                                                      incident=incident or "-")
    else:
        title = _("Not allowed") if status in (401, 403, 405) else _("This request could not be handled")
    values = {"title": title, "message": message, "incident": incident, "fragment": page.htmx}
    return Response(_render(page, values), status_code=status, media_type="text/html", headers={**VARY, **(headers or {})})


def _page(request: Request) -> Page:
    """The page of the request's reader; a request refused before it was authenticated (a form's CSRF refusal) is
    read by its session's user, so that a Chinese page's refusal is in Chinese."""
    user = request.scope.get("user") or session_user(request)  # absent when the request never reached a route
    lang = negotiate(getattr(user, "language", None), request.headers.get("accept-language", ""))
    return Page(request, user, lang)


def _render(page: Page, values: dict) -> str:
    """error.html with the page's usual frame; without navigation if even that fails (the database being down, say)."""
    template = page.request.app.template_engine.get_template("error.html")
    try:
        return template.render(**page.context(**values))
    except Exception:  # the error page must not fail in turn
        log.exception("the error page could not draw its navigation")
    bare = {"lang": page.lang, "_": translator(page.lang), "label": lambda labels, fallback="": label(labels, page.lang, fallback),
            "csrf": "", "user": None, "path": page.request.url.path, "nav": {}, "may_customize": False, "icon": icon}
    return template.render(**bare, **values)
