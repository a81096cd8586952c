"""What every page knows: who is signed in, in which language, what they may open.

Pages are thin: they ask core's services (the record service, the metadata service) for
data as the signed-in user, and render templates. htmx requests (``HX-Request: true``)
get only the part of the page they replace; every page answers ``Vary: HX-Request``.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Callable, Iterator
from urllib.parse import quote

from litestar import Request, Response
from litestar.di import NamedDependency
from litestar.enums import MediaType
from litestar.response import Redirect

from core import notifications
from core.api.headers import csp_nonce
from core.api.security import csrf_token
from core.auth import Identity
from core.db import read_transaction
from core.metadata.model import MetadataSet, ObjectDef
from core.permissions import Access
from core.records import Actor
from ui.i18n import label, negotiate, translator
from ui.fields import display, time_zone
from ui.icons import icon

VARY = {"Vary": "HX-Request"}
ZONE_COOKIE = "tessera_tz"  # the browser's time zone, set by tessera.js


@dataclass
class Page:
    request: Request
    user: Identity | None
    lang: str

    @property
    def runtime(self):
        return self.request.app.state.runtime

    @property
    def actor(self) -> Actor:
        return self.user.actor

    @cached_property
    def access(self) -> Access:
        """What the user may do, read once per request with the metadata (each read is a transaction)."""
        return self._read_metadata()[1]

    @property
    def currency(self) -> str:
        """The installation's currency: its symbol shows on amounts whose field names none."""
        return self.runtime.settings.currency

    @cached_property
    def zone(self) -> str:
        """The reader's time zone: their own choice, else their browser's (the cookie tessera.js sets), else UTC."""
        chosen = getattr(self.user, "time_zone", None) if self.user else None
        return time_zone(chosen) or time_zone(self.request.cookies.get(ZONE_COOKIE)) or "UTC"

    def show(self, fdef, value: Any) -> str:
        """A value as text in the page's language, amounts with the installation's currency symbol, times in the reader's zone."""
        return display(fdef, value, self.lang, self.currency, self.zone)

    @property
    def htmx(self) -> bool:
        return self.request.headers.get("hx-request") == "true"

    def t(self, message: str, **values: Any) -> str:
        """Translate one of the UI's own sentences into the page's language."""
        return translator(self.lang)(message, **values)

    def meta(self) -> MetadataSet:
        """The metadata in effect, read once per request."""
        return self._read_metadata()[0]

    def memo(self, key: tuple, build: Callable[[], Any]) -> Any:
        """A value derived from the metadata, the user's role and the language (a list's columns, say),
        built once per metadata version and shared by every request that needs the same."""
        schema = self._read_metadata()[2]
        role = self.actor.permission_set if self.user else None
        return schema.memo(("ui", role, self.lang, *key), build)

    @contextmanager
    def reading(self, budget: float | None = None) -> Iterator[None]:
        """Make the page's reads (metadata, access, record lists, the user's saved views) share one read
        transaction; for pages that read several things, the list page above all. ``budget``: as for
        ``Runtime.reading`` (core/api/reads.py)."""
        with self.runtime.records.reading(self.actor, budget) as reader:
            schema = reader.schema
            self.__dict__["_metadata"] = (schema.meta, schema.access(self.actor), schema)
            self.__dict__["_reader"] = reader
            try:
                yield
            finally:
                del self.__dict__["_reader"]

    @property
    def connection(self):
        """The page's read transaction while ``reading()``, else None (each service reads on its own)."""
        reader = self.__dict__.get("_reader")
        return reader.connection if reader else None

    def list_records(self, object_name: str, params, updatable: bool = False) -> Any:
        """A record list as the user, inside the page's read transaction when there is one; ``updatable``: with which
        of its records the user may change."""
        reader = self.__dict__.get("_reader")
        if reader is not None:
            return reader.list(object_name, params, updatable)
        with self.runtime.records.reading(self.actor) as reader:
            return reader.list(object_name, params, updatable)

    def updatable(self, object_name: str, ids: list[int]) -> set[int]:
        """Which of these records the user may change, inside the page's read transaction when there is one."""
        reader = self.__dict__.get("_reader")
        if reader is not None:
            return reader.updatable(object_name, ids)
        return self.runtime.records.updatable(self.actor, object_name, ids)

    def unread_notifications(self) -> int:
        """How many of the user's notifications are unread: the bell's badge, read when a whole page is drawn (inside
        the page's read transaction when there is one)."""
        if self.user is None:
            return 0
        if "_unread" not in self.__dict__:
            conn = self.connection
            if conn is not None:
                self.__dict__["_unread"] = notifications.unread_count(conn, self.user.user_id)
            else:
                with read_transaction(self.runtime.engine) as own:
                    self.__dict__["_unread"] = notifications.unread_count(own, self.user.user_id)
        return self.__dict__["_unread"]

    def _read_metadata(self) -> tuple[MetadataSet, Access | None, Any]:
        if "_metadata" not in self.__dict__:
            with self.runtime.reading() as (_conn, schema):
                self.__dict__["_metadata"] = (schema.meta, schema.access(self.actor) if self.user else None, schema)
        return self.__dict__["_metadata"]

    def context(self, **values: Any) -> dict:
        meta = self.meta()
        base = {
            "lang": self.lang, "_": translator(self.lang), "label": lambda labels, fallback="": label(labels, self.lang, fallback),
            "icon": icon, "zone": self.zone if self.user else "UTC", "csrf": csrf_token(self.request), "csp_nonce": csp_nonce(self.request.scope), "user": self.user, "path": self.request.url.path,
            "nav": self.memo(("nav",), lambda: navigation(meta, self.access, self.lang)) if self.user else {},
            "may_customize": self.user is not None and self.access.may_customize,
            "unread_notifications": self.unread_notifications,
            "may_import": self.user is not None and self.memo(("may_import",), lambda: any(self.access.can(name, "create") for name in meta.objects)),
        }
        return {**base, **values}

    def render(self, template: str, status: int = 200, **values: Any) -> Response:
        """The template rendered here, in the handler (inside its read transaction, if any), rather than by a Template
        response afterwards (which would also guess the media type and copy the context every time)."""
        html = self.request.app.template_engine.get_template(template).render(self.context(**values))
        return Response(html, status_code=status, media_type=MediaType.HTML, headers=VARY)


class Answer(Exception):
    """A page's answer decided before its handler runs (sign in first, no such object, not allowed), raised by a
    guard or a dependency and sent as it is by ``answer``."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def answer(_request: Request, exc: Answer) -> Response:
    return exc.response


def signed_in(connection, _handler) -> None:
    """Guard of the pages: a signed-in user, else the sign-in page (and back here after it). An OPTIONS request
    only asks which methods the address takes: it reaches no page and is answered as it is."""
    if connection.scope.get("method") == "OPTIONS":
        return
    if connection.scope.get("user") is None:
        raise Answer(sign_in_first(connection))


def provide_page(request: Request) -> Page:
    """Dependency: the page being drawn, for the signed-in user in their language."""
    return page_for(request)


PAGE = NamedDependency[Page]  # a handler's parameter ``page``, given by provide_page


def page_for(request: Request) -> Page:
    user = request.user
    lang = negotiate(user.language if user else None, request.headers.get("accept-language", ""))
    return Page(request, user, lang)


def sign_in_first(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.headers.get("hx-request") == "true":  # a partial cannot redirect the whole page itself
        return Response("", status_code=401, headers={"HX-Redirect": f"/login?next={quote(target)}", **VARY})
    return Redirect(f"/login?next={quote(target)}", status_code=303, headers=VARY)


DEFAULT_ICON = "box"


def navigation(meta: MetadataSet, access: Access, lang: str) -> dict:
    """The side bar: the objects the implementer placed (``nav_order``, lowest first), then the others the user
    may read, by name, under "More". Each with its icon (``icon``, a Lucide icon's name)."""
    readable = [obj for obj in meta.objects.values() if not obj.spec.get("system") and access.can(obj.name, "read")]
    item = lambda obj: {"name": obj.name, "label": plural(obj, lang), "icon": obj.spec.get("icon") or DEFAULT_ICON}  # noqa: E731
    placed = sorted((o for o in readable if o.spec.get("nav_order") is not None), key=lambda o: (o.spec["nav_order"], plural(o, lang)))
    others = sorted((o for o in readable if o.spec.get("nav_order") is None), key=lambda o: plural(o, lang))
    return {"main": [item(o) for o in placed], "more": [item(o) for o in others]}


def plural(obj: ObjectDef, lang: str) -> str:
    return label(obj.spec.get("plural_label") or obj.spec.get("label"), lang, obj.name)


def singular(obj: ObjectDef, lang: str) -> str:
    return label(obj.spec.get("label"), lang, obj.name)


def counted(obj: ObjectDef, count: int, lang: str) -> str:
    """The object's name for ``count`` records inside a sentence: '1 account', '12 accounts', '12 BOM lines'
    (English words in lower case, unless written in capitals; Chinese has one form)."""
    name = singular(obj, lang) if count == 1 else plural(obj, lang)
    return " ".join(word.lower() if word[1:] == word[1:].lower() else word for word in name.split(" "))
