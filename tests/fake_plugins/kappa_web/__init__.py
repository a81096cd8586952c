"""A plugin's web pieces for the app's tests: a route for signed-in users, a template folder, static files, and an
API route whose body Litestar checks against a typed structure before the handler runs."""

from pathlib import Path
from typing import Annotated, Literal

import msgspec
from litestar import Request, get, post
from litestar.params import JSONBody
from litestar.response import Template

from core.api.security import SIGNED_IN, identity
from core.hookspecs import hookimpl
from core.plugins import PluginInfo

HERE = Path(__file__).parent
PLUGIN = PluginInfo(name="kappa", version="1.0.0", label={"en": "Kappa"}, tessera=">=0.1")


@get("/kappa/hello", opt=SIGNED_IN, sync_to_thread=False, include_in_schema=False)
def hello(request: Request) -> Template:
    return Template("kappa_hello.html", context={"who": identity(request).full_name})


class Visit(msgspec.Struct):
    site: Annotated[str, msgspec.Meta(min_length=2, max_length=40)]
    visitors: Annotated[int, msgspec.Meta(ge=1, le=500)]
    kind: Literal["audit", "repair"]
    badge: Annotated[str, msgspec.Meta(pattern="^[A-Z]{2}$")] = "AA"


@post("/api/kappa/visits", opt=SIGNED_IN, sync_to_thread=False, include_in_schema=False)
def log_visit(data: JSONBody[Visit]) -> dict:
    return {"site": data.site, "visitors": data.visitors, "kind": data.kind, "badge": data.badge}


@hookimpl
def tessera_web_routes():
    return [hello, log_visit]


@hookimpl
def tessera_templates():
    return [HERE / "templates"]


@hookimpl
def tessera_static():
    return [("kappa-files", HERE / "static")]
