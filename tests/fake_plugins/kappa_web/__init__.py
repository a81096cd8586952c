"""A plugin's web pieces for the app's tests: a route for signed-in users, a template folder, static files."""

from pathlib import Path

from litestar import Request, get
from litestar.response import Template

from core.api.security import SIGNED_IN, identity
from core.hookspecs import hookimpl
from core.plugins import PluginInfo

HERE = Path(__file__).parent
PLUGIN = PluginInfo(name="kappa", version="1.0.0", label={"en": "Kappa"}, tessera=">=0.1")


@get("/kappa/hello", opt=SIGNED_IN, sync_to_thread=False, include_in_schema=False)
def hello(request: Request) -> Template:
    return Template("kappa_hello.html", context={"who": identity(request).full_name})


@hookimpl
def tessera_web_routes():
    return [hello]


@hookimpl
def tessera_templates():
    return [HERE / "templates"]


@hookimpl
def tessera_static():
    return [("kappa-files", HERE / "static")]
