"""The web UI's routes: sign-in, sign-out and the home page, plus static files.

Pages are server-rendered with Jinja2 (autoescaped) and use the same services as the
API: the Accounts for signing in, the record service for everything shown.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from core.api.security import SESSION_COOKIE, cleared_session_cookie, client_ip, csrf_token, session_cookie
from core.auth import AuthError, Throttled
from core.metadata.service import MetadataService

HERE = Path(__file__).resolve().parent
DB = {"sync_to_thread": True}


def template_config(runtime) -> TemplateConfig:
    folders = [HERE / "templates"]
    for plugin in runtime.plugins.enabled:
        if plugin.folder is not None and (plugin.folder / "templates").is_dir():
            folders.append(plugin.folder / "templates")
    for extra in runtime.plugins.hook.tessera_templates():
        folders += [Path(p) for p in extra or []]
    return TemplateConfig(directory=folders, engine=JinjaTemplateEngine)


def _language(request: Request) -> str:
    user = request.user
    if user is not None and user.language == "zh_cn":
        return "zh-CN"
    accept = request.headers.get("accept-language", "")
    return "zh-CN" if accept.lower().startswith("zh") else "en"


class PagesController(Controller):
    """Sign-in, sign-out and the home page."""

    @get("/login", **DB, include_in_schema=False)
    def login_page(self, request: Request) -> Template:
        return Template("login.html", context={"lang": _language(request), "error": None, "username": "", "csrf": csrf_token(request)})


    @post("/login", **DB, include_in_schema=False)
    def login_form(self, request: Request, data: Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]) -> Response:
        accounts = request.app.state.accounts
        username = str(data.get("username", ""))
        try:
            user = accounts.authenticate(username, str(data.get("password", "")), client_ip(request))
        except AuthError as exc:
            status = 429 if isinstance(exc, Throttled) else 401
            context = {"lang": _language(request), "error": str(exc), "username": username, "csrf": csrf_token(request)}
            return Template("login.html", context=context, status_code=status)
        token = accounts.start_session(user, client_ip(request))
        return Redirect("/", cookies=[session_cookie(token, request.app.state.runtime.settings.secure_cookies)], status_code=303)


    @post("/logout", **DB, include_in_schema=False)
    def logout_form(self, request: Request) -> Response:
        token = request.cookies.get(SESSION_COOKIE)
        if token:
            request.app.state.accounts.end_session(token, request.user.who(client_ip(request)) if request.user else None)
        return Redirect("/login", cookies=[cleared_session_cookie()], status_code=303)


    @get("/", **DB, include_in_schema=False)
    def home(self, request: Request) -> Response:
        user = request.user
        if user is None:
            return Redirect("/login", status_code=303)
        runtime = request.app.state.runtime
        access = runtime.records.access(user.actor)
        objects = MetadataService(runtime).objects(access)
        lang = _language(request)
        return Template("home.html", context={"lang": lang, "user": user, "objects": objects, "csrf": csrf_token(request)})


def handlers(runtime) -> list:
    static = [create_static_files_router(path="/static/tessera", directories=[HERE / "static"], include_in_schema=False)]
    for plugin in runtime.plugins.enabled:
        if plugin.folder is not None and (plugin.folder / "static").is_dir():
            static.append(create_static_files_router(path=f"/static/{plugin.info.name}", directories=[plugin.folder / "static"],
                                                     include_in_schema=False))
    for pairs in runtime.plugins.hook.tessera_static():
        for prefix, folder in pairs or []:
            static.append(create_static_files_router(path=f"/static/{prefix.strip('/')}", directories=[Path(folder)], include_in_schema=False))
    return [PagesController, *static]
