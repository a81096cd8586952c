"""The web UI's routes and templates: sign-in, home, record pages, static files.

Pages are server-rendered with Jinja2 (autoescaped) and htmx; they use the same services
as the API: the Accounts for signing in, the record service for everything shown.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from litestar import Controller, Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.datastructures import CacheControlHeader
from litestar.response import File, Redirect
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from core.api.errors import IdInPath
from core.api.security import SESSION_COOKIE, cleared_session_cookie, client_ip, session_cookie
from core.auth import Accounts, AuthError, Throttled
from core.words import say
from ui.context import VARY, page_for, sign_in_first
from ui.fields import local_text
from ui.home import finish_task, home_view, my_activities
from ui.i18n import LANGUAGE_OF_USER, LANGUAGES
from ui.approvals import ApprovalPages
from ui.imports import ImportPages
from ui.merge import MergePages
from ui.notifications import MentionPeople, NotificationPages
from ui.profile import ProfilePages
from ui.record_pages import RecordPages
from ui.record_work import RecordWork
from ui.dashboards import DashboardPages
from ui.reports import ReportPages
from ui.search import SearchPages
from ui.setup import SetupPages
from ui.setup_email import EmailTemplatesSetup
from ui.setup_formulas import FormulaSetup
from ui.setup_conditions import ConditionSetup
from ui.setup_rollups import RollupSetup
from ui.setup_reports import ReportsSetup
from ui.setup_rules import WorkflowRulesSetup
from ui.record_rule_pages import RecordRules
from ui.setup_jobs import JobsSetup
from ui.setup_navigation import NavigationSetup
from ui.setup_record_page import RecordPageSetup
from ui.setup_stage_gates import StageGateSetup
from ui.setup_validation_rules import ValidationRuleSetup

HERE = Path(__file__).resolve().parent
DB = {"sync_to_thread": True}
FORM = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]


def template_config(runtime) -> TemplateConfig:
    folders = [HERE / "templates"]
    for plugin in runtime.plugins.enabled:
        if plugin.folder is not None and (plugin.folder / "templates").is_dir():
            folders.append(plugin.folder / "templates")
    for extra in runtime.plugins.hook.tessera_templates():
        folders += [Path(p) for p in extra or []]
    environment = Environment(loader=ChoiceLoader([FileSystemLoader(str(f)) for f in folders]),
                              autoescape=select_autoescape(default=True, default_for_string=True), trim_blocks=True, lstrip_blocks=True,
                              auto_reload=False)  # templates ship with the code: no file check on every page
    environment.filters["local_time"] = local_text
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(environment))


def safe_next(target: str | None) -> str:
    r"""Where to go after signing in: a path on this site only, never another host.

    Browsers read a backslash in a URL as a slash and drop tabs and newlines, so '/\\evil.example'
    and '/\t/evil.example' lead to another host just as '//evil.example' does: none of them is a path here."""
    if not target:
        return "/"
    if "\\" in target or any(ord(character) < 0x20 or ord(character) == 0x7F for character in target):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


class PagesController(Controller):
    """Sign-in, sign-out, the language switch and the home page."""

    include_in_schema = False

    @get("/login", **DB)
    def login_page(self, request: Request) -> Response:
        page = page_for(request)
        return page.render("login.html", error=None, username="", next=safe_next(request.query_params.get("next")))

    @post("/login", **DB)
    def login_form(self, request: Request, data: FORM) -> Response:
        page = page_for(request)
        accounts: Accounts = request.app.state.accounts
        username = str(data.get("username", ""))
        target = safe_next(str(data.get("next") or "/"))
        try:
            user = accounts.authenticate(username, str(data.get("password", "")), client_ip(request))
        except AuthError as exc:
            status = 429 if isinstance(exc, Throttled) else 401
            return page.render("login.html", status=status, error=say(exc, page.lang), username=username, next=target)
        token = accounts.start_session(user, client_ip(request))
        return Redirect(target, cookies=[session_cookie(token, request.app.state.runtime.settings.secure_cookies)],
                        status_code=303, headers=VARY)

    @post("/logout", **DB)
    def logout_form(self, request: Request) -> Response:
        token = request.cookies.get(SESSION_COOKIE)
        if token:
            request.app.state.accounts.end_session(token, request.user.who(client_ip(request)) if request.user else None)
        return Redirect("/login", cookies=[cleared_session_cookie()], status_code=303, headers=VARY)

    @post("/language", **DB)
    def language(self, request: Request, data: FORM) -> Response:
        """Keep the chosen language as the user's preference."""
        if request.user is None:
            return sign_in_first(request)
        choice = str(data.get("language", ""))
        if choice in LANGUAGES:
            request.app.state.accounts.set_language(request.user.user_id, LANGUAGE_OF_USER[choice])
        return Redirect(safe_next(str(data.get("next") or "/")), status_code=303, headers=VARY)

    @get("/favicon.ico", sync_to_thread=False, cache_control=CacheControlHeader(max_age=86400))
    def favicon(self) -> File:
        """Browsers ask for /favicon.ico on pages that name no icon (a JSON document opened in a tab)."""
        return File(HERE / "static" / "favicon.svg", media_type="image/svg+xml", content_disposition_type="inline")

    @get("/", **DB)
    def home(self, request: Request) -> Response:
        page = page_for(request)
        if page.user is None:
            return Redirect("/login", status_code=303, headers=VARY)
        return page.render("home.html", title=page.t("Home"), **home_view(page))

    @post("/tasks/{task_id:int}/done", **DB)
    def finish(self, request: Request, task_id: IdInPath, data: FORM) -> Response:
        """Tick a task on the home page: it is done, and the list of open ones is drawn again."""
        page = page_for(request)
        if page.user is None:
            return sign_in_first(request)
        version = data.get("version") if isinstance(data.get("version"), str) and data.get("version") else None
        problem = finish_task(page, task_id, version)
        if page.htmx:
            return page.render("_tasks.html", status=200 if problem is None else 409, activities=my_activities(page), task_problem=problem)
        if problem is None:
            return Redirect("/", status_code=303, headers=VARY)
        return page.render("home.html", status=409, title=page.t("Home"), task_problem=problem, **home_view(page))


def handlers(runtime) -> list:
    static = [create_static_files_router(path="/static/tessera", directories=[HERE / "static"], include_in_schema=False)]
    for plugin in runtime.plugins.enabled:
        if plugin.folder is not None and (plugin.folder / "static").is_dir():
            static.append(create_static_files_router(path=f"/static/{plugin.info.name}", directories=[plugin.folder / "static"],
                                                     include_in_schema=False))
    for pairs in runtime.plugins.hook.tessera_static():
        for prefix, folder in pairs or []:
            static.append(create_static_files_router(path=f"/static/{prefix.strip('/')}", directories=[Path(folder)], include_in_schema=False))
    return [PagesController, RecordPages, ApprovalPages, RecordWork, SetupPages, ImportPages, MergePages, SearchPages, ReportPages, DashboardPages, ProfilePages, NotificationPages, MentionPeople, NavigationSetup, JobsSetup, EmailTemplatesSetup, WorkflowRulesSetup, ReportsSetup, FormulaSetup, ConditionSetup, RollupSetup, RecordRules, RecordPageSetup, StageGateSetup, ValidationRuleSetup, *static]
