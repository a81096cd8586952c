"""The signed-in user's own page: language, time zone, e-mail for notifications, password and API tokens.

Every user may change these for themself whatever their role; the checks are the account service's
(the current password through the same throttled sign-in as the login form, the new one's rules, a
token's name and lifetime), worded here in the page's language.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import Provide

from core import notifications
from core.api.errors import IdInPath
from core.api.security import client_ip, session_cookie
from core.auth import MIN_PASSWORD_LENGTH, TOKEN_DEFAULT_DAYS, TOKEN_MAX_DAYS, Accounts, AuthError, Throttled
from core.db import read_transaction, write_transaction
from ui.context import PAGE, ZONE_COOKIE, Answer, Page, answer, provide_page, signed_in
from ui.fields import available_zones, time_zone
from ui.i18n import LANGUAGE_OF_USER, LANGUAGES
from ui.record_pages import DB, FORM, _go
from ui.mass_actions import one


class ProfilePages(Controller):
    path = "/profile"
    include_in_schema = False
    guards = [signed_in]
    dependencies = {"page": Provide(provide_page, sync_to_thread=False)}
    exception_handlers = {Answer: answer}

    @get("", **DB)
    def profile(self, page: PAGE, request: Request) -> Response:
        return _profile(page, notice=request.query_params.get("notice"))

    @post("/language", **DB)
    def language(self, page: PAGE, request: Request, data: FORM) -> Response:
        choice = one(data, "language")
        if choice not in LANGUAGES:
            return _profile(page, status=422, problems={"language": page.t("Language: choose English or 简体中文.")})
        _accounts(request).set_language(page.user.user_id, LANGUAGE_OF_USER[choice])
        return _go(page, "/profile")

    @post("/time_zone", **DB)
    def time_zone(self, page: PAGE, request: Request, data: FORM) -> Response:
        chosen = one(data, "time_zone").strip()
        if chosen and time_zone(chosen) is None:
            return _profile(page, status=422, problems={"time_zone": page.t("Time zone: “{zone}” is not a time zone; choose one from the list.",
                                                                             zone=chosen[:64])})
        _accounts(request).set_time_zone(page.user.user_id, chosen or None)
        return _go(page, "/profile")

    @post("/notifications", **DB)
    def notification_email(self, page: PAGE, request: Request, data: FORM) -> Response:
        """How the user wants their notifications by e-mail: each as it comes, a daily digest, or never."""
        choice = one(data, "email")
        if choice not in notifications.EMAIL_CHOICES:
            return _profile(page, status=422, problems={"email": page.t("E-mail me: choose one of the three.")})
        with write_transaction(page.runtime.engine) as conn:
            notifications.set_email_choice(conn, page.user.user_id, choice)
        return _go(page, "/profile?notice=" + page.t("Saved: how you get notifications by e-mail.") + "#notification-email")

    @post("/password", **DB)
    def password(self, page: PAGE, request: Request, data: FORM) -> Response:
        accounts = _accounts(request)
        current, new, again = one(data, "current"), one(data, "new"), one(data, "again")
        problem = _new_password_problem(page, new, again)
        if problem is None:
            try:
                accounts.authenticate(page.user.username, current, client_ip(request))
            except Throttled as exc:
                problem = ("current", page.t("Too many wrong passwords: try again in {n} seconds.", n=exc.retry_after))
            except AuthError:
                problem = ("current", page.t("Current password: this is not your password."))
        if problem is not None:
            return _profile(page, status=422, problems={problem[0]: problem[1]})
        accounts.set_password(page.user.user_id, new, page.user.username)  # ends every session of the user, this one too
        token = accounts.start_session(page.user, client_ip(request))
        answer = _go(page, "/profile?notice=" + page.t("Your password was changed. Your other sessions were signed out."))
        answer.set_cookie(session_cookie(token, request.app.state.runtime.settings.secure_cookies))
        return answer

    @post("/tokens", **DB)
    def new_token(self, page: PAGE, request: Request, data: FORM) -> Response:
        name, days = one(data, "name").strip(), one(data, "days").strip() or str(TOKEN_DEFAULT_DAYS)
        problems = {}
        if not 1 <= len(name) <= 100:
            problems["name"] = page.t("Name: say what the token is for, in 1 to 100 characters (e.g. ERP sync).")
        if not days.isdigit() or not 1 <= int(days) <= TOKEN_MAX_DAYS:
            problems["days"] = page.t("Valid for: a whole number of days from 1 to {n}.", n=TOKEN_MAX_DAYS)
        if problems:
            return _profile(page, status=422, problems=problems, typed={"name": name, "days": days})
        info, plain = _accounts(request).create_token(page.user, name, int(days), client_ip(request))
        return _profile(page, created={**info, "plain": plain})

    @post("/tokens/{token_id:int}/revoke", **DB)
    def revoke_token(self, page: PAGE, request: Request, token_id: IdInPath) -> Response:
        try:
            _accounts(request).revoke_token(page.user, token_id, ip=client_ip(request))
        except LookupError:
            return _profile(page, status=404, problems={"tokens": page.t("There is no such token of yours.")})
        return _go(page, "/profile#tokens")


def _accounts(request: Request) -> Accounts:
    return request.app.state.accounts


def _new_password_problem(page: Page, new: str, again: str) -> tuple[str, str] | None:
    if len(new) < MIN_PASSWORD_LENGTH:
        return "new", page.t("New password: use at least {n} characters.", n=MIN_PASSWORD_LENGTH)
    if new.lower() == page.user.username.lower():
        return "new", page.t("New password: it must not be your user name.")
    if new != again:
        return "again", page.t("Repeat the new password: the two do not match.")
    return None


def _profile(page: Page, status: int = 200, problems: dict | None = None, **values: Any) -> Response:
    tokens = _accounts(page.request).tokens(page.user.user_id)
    with read_transaction(page.runtime.engine) as conn:
        email = notifications.email_choice(conn, page.user.user_id)
    email_choices = [("each", page.t("Each notification, as it comes")), ("digest", page.t("A daily digest")), ("never", page.t("Never"))]
    return page.render("profile.html", status=status, title=page.t("Your profile"), tokens=tokens, problems=problems or {},
                       zones=sorted(available_zones()), chosen_zone=time_zone(page.user.time_zone) or "",
                       browser_zone=time_zone(page.request.cookies.get(ZONE_COOKIE)) or "UTC",
                       email=email, email_choices=email_choices, min_length=MIN_PASSWORD_LENGTH, default_days=TOKEN_DEFAULT_DAYS, max_days=TOKEN_MAX_DAYS,
                       **{"typed": {}, "created": None, "notice": None, **values})
