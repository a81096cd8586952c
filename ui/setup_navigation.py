"""Setup: the side bar. The implementer gives the objects people use most a place (1, 2, 3...) and an
icon; the others are listed under More. Saved as one metadata change, so it moves between
installations in changesets like the rest of the configuration."""

from __future__ import annotations

import functools
import re

from litestar import Controller, Request, Response, get, post

from ui.context import Page, plural
from ui.icons import SPRITE_FILE
from ui.record_pages import DB, FORM
from ui.setup import attempt, done, service, setup_page, who
from ui.mass_actions import one

ICON_NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


@functools.cache
def icon_names() -> frozenset[str]:
    """Every icon the vendored sprite holds."""
    return frozenset(re.findall(r'<symbol id="([^"]+)"', SPRITE_FILE.read_text(encoding="utf-8")))


class NavigationSetup(Controller):
    path = "/setup/navigation"
    include_in_schema = False

    @get("", **DB)
    def navigation(self, request: Request) -> Response:
        page, refusal = setup_page(request)
        return refusal or _page(page, {}, [])

    @post("", **DB)
    def arrange(self, request: Request, data: FORM) -> Response:
        page, refusal = setup_page(request)
        if refusal:
            return refusal
        places, errors = _places(page, data)
        if not errors:
            errors = attempt(page, lambda: service(page).arrange_navigation(places, who(page)))
        if errors:
            return _page(page, data, errors, status=422)
        return done(page, "/setup/navigation", page.t("Saved."))


def _objects(page: Page) -> list:
    return sorted((o for o in page.meta().objects.values() if not o.spec.get("system")),
                  key=lambda o: (o.spec.get("nav_order") is None, o.spec.get("nav_order") or 0, plural(o, page.lang)))


def _places(page: Page, data: dict) -> tuple[dict[str, dict], list[str]]:
    """What the form asks for each object whose place or icon it changes, or what is wrong with it, row by row."""
    places, errors = {}, []
    for obj in _objects(page):
        title = plural(obj, page.lang)
        order, icon = one(data, f"order_{obj.name}").strip(), one(data, f"icon_{obj.name}").strip()
        place = {}
        if not order:
            place["nav_order"] = None
        elif order.isdigit() and int(order) <= 9999:
            place["nav_order"] = int(order)
        else:
            errors.append(page.t("{object}: the place is a whole number from 0 to 9999, or empty for More.", object=title))
        if icon and (not ICON_NAME.match(icon) or icon not in icon_names()):
            errors.append(page.t("{object}: there is no icon called “{icon}”.", object=title, icon=icon))
        elif icon:
            place["icon"] = icon
        if place.get("nav_order", obj.spec.get("nav_order")) != obj.spec.get("nav_order") or place.get("icon", obj.spec.get("icon")) != obj.spec.get("icon"):
            places[obj.name] = place
    return places, errors


def _page(page: Page, data: dict, errors: list[str], status: int = 200) -> Response:
    rows = [{"name": o.name, "label": plural(o, page.lang), "icon": o.spec.get("icon") or "", "source": o.source,
             "order": one(data, f"order_{o.name}") if data else ("" if o.spec.get("nav_order") is None else str(o.spec["nav_order"])),
             "typed_icon": one(data, f"icon_{o.name}") if data else (o.spec.get("icon") or "")} for o in _objects(page)]
    return page.render("setup/navigation.html", status=status, title=page.t("Side bar"), rows=rows, errors=errors,
                       done=page.request.query_params.get("done"))
