"""A partner's plugin installed with pip: found, served, and cleanly gone when uninstalled.

examples/tessera-fleet (the worked example of docs/plugins.md) is installed with pip and
driven through fresh processes, since only a new process sees a newly installed entry
point. It goes into a Python environment of the test's own that layers on this one (it
sees Tessera and everything installed here), so that other processes using this
environment never see the plugin come and go. It is uninstalled again whatever happens.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from importlib.metadata import PackageNotFoundError, entry_points, version
from pathlib import Path

import pytest
import sqlalchemy as sa
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "tessera-fleet"
DISTRIBUTION = "tessera-fleet"
TESSERA = Path(sys.executable).with_name("tessera")

CREATE = """
import json
from core.records import Actor
from core.runtime import Runtime
from core.validation import RecordValidationError

runtime = Runtime()
actor = Actor(None, "partner test")
account = runtime.records.create(actor, "account", {"name": "Hangzhou Logistics"})
first = runtime.records.create(actor, "vehicle", {
    "plate_number": "zj a 12345", "customer": account["id"], "make": "BYD", "model": "T5",
    "year": 2023, "mileage_km": 12000, "next_inspection": "2026-05-01"})
second = runtime.records.create(actor, "vehicle", {"plate_number": " zj\\tb 678 ", "customer": account["id"], "status": "in_workshop"})
try:
    runtime.records.create(actor, "vehicle", {"plate_number": "ZJA 12345"})
    duplicate = "accepted"
except RecordValidationError as exc:
    duplicate = str(exc)
print(json.dumps({
    "account": account["id"],
    "plates": [first["plate_number"], second["plate_number"]],
    "fleet_size": runtime.records.get(actor, "account", account["id"])["fleet_size"],
    "duplicate": duplicate,
}))
runtime.close()
"""

WEB = """
import json
from litestar.testing import TestClient
from core.api.app import create_app
from core.runtime import Runtime

runtime = Runtime()
app = create_app(runtime)
with TestClient(app) as client:
    css = client.get("/static/fleet/fleet.css")
    page = client.get("/fleet/due", follow_redirects=False)
print(json.dumps({"template": app.template_engine.get_template("fleet/due.html").filename,
                  "css": css.status_code, "page": page.status_code, "to": page.headers.get("location")}))
runtime.close()
"""

AFTER_REMOVAL = """
import json, sys
from core.records import Actor
from core.runtime import Runtime

runtime = Runtime()
actor = Actor(None, "partner test")
try:
    runtime.records.list(actor, "vehicle")
    served = "served"
except LookupError as exc:
    served = f"LookupError: {exc}"
print(json.dumps({
    "plugins": sorted(p.info.name for p in runtime.plugins.plugins),
    "vehicle": served,
    "account": runtime.records.get(actor, "account", int(sys.argv[1])),
}))
runtime.close()
"""


def _run(args: list[str], env: dict, cwd: Path) -> subprocess.CompletedProcess:
    result = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{' '.join(map(str, args))} exited with {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def _pip(python: Path, *args: str, cwd: Path) -> None:
    _run([str(python), "-m", "pip", "--disable-pip-version-check", *args], dict(os.environ), cwd)


def _require_build_backend() -> None:
    """--no-build-isolation builds with this environment's setuptools; since 70.1 it builds wheels itself."""
    try:
        setuptools = Version(version("setuptools"))
    except PackageNotFoundError:
        pytest.fail("setuptools is not installed; run: pip install -e '.[test]'")
    if setuptools < Version("70.1"):
        try:
            version("wheel")
        except PackageNotFoundError:
            pytest.fail(f"setuptools {setuptools} needs the 'wheel' package to build the example plugin; run: pip install -e '.[test]'")


def _layered_environment(folder: Path) -> Path:
    """A venv whose site-packages also loads this environment's (with its .pth files); returns its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True, timeout=120)
    python = folder / "bin" / "python"
    own = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                         capture_output=True, text=True, check=True, timeout=60).stdout.strip()
    Path(own, "_tessera_base.pth").write_text(f"import site; site.addsitedir({sysconfig.get_paths()['purelib']!r})\n")
    return python


@pytest.fixture
def fleet_installed(tmp_path):
    """(python, source): a copy of the example installed into a layered environment, and that environment's python.

    A copy is installed because pip builds in place and would leave build/ in the source tree.
    """
    _require_build_backend()
    try:
        found = version(DISTRIBUTION)
    except PackageNotFoundError:
        pass
    else:
        pytest.fail(f"{DISTRIBUTION} {found} is installed in this environment itself; uninstall it first: pip uninstall {DISTRIBUTION}")
    source = tmp_path / "tessera-fleet"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info", ".pytest_cache"))
    python = _layered_environment(tmp_path / "env")
    try:
        _pip(python, "install", "--no-deps", "--no-build-isolation", "--quiet", str(source), cwd=tmp_path)
        yield python, source
    finally:
        _pip(python, "uninstall", "-y", DISTRIBUTION, cwd=tmp_path)


def _environment(database_url: str) -> dict:
    """Only the plugin under test: the other installed plugins are left out."""
    env = dict(os.environ)
    env["TESSERA_DATABASE_URL"] = database_url
    env.pop("TESSERA_PLUGINS", None)
    others = sorted({ep.name for ep in entry_points(group="tessera")} - {"fleet"})
    env["TESSERA_DISABLED_PLUGINS"] = ",".join(others)
    return env


def _table_rows(database_url: str, table: str, columns: list[str]) -> tuple[set[str], list[tuple]]:
    engine = sa.create_engine(database_url)
    try:
        inspector = sa.inspect(engine)
        if table not in inspector.get_table_names():
            return set(), []
        names = {c["name"] for c in inspector.get_columns(table)}
        with engine.connect() as conn:
            rows = conn.execute(sa.text(f"SELECT {', '.join(columns)} FROM {table} ORDER BY id")).all()
        return names, [tuple(r) for r in rows]
    finally:
        engine.dispose()


def test_an_installed_plugin_is_served_and_its_data_outlives_it(fleet_installed, database_url, tmp_path):
    python, _source = fleet_installed
    env = _environment(database_url)
    tessera = [str(python), str(TESSERA)]  # the console script, run by the environment holding the plugin

    listing = _run([*tessera, "plugins"], {**env, "TESSERA_DISABLED_PLUGINS": ""}, tmp_path).stdout
    for name in ("fleet 0.1.0  [enabled]", "sales 0.1.0  [enabled]", "marketing 0.1.0  [enabled]",
                 "service 0.1.0  [enabled]", "manufacturing_bom 0.1.0  [enabled]"):
        assert name in listing
    assert "objects:   vehicle" in listing and "extends:   account" in listing

    upgrade = _run([*tessera, "db", "upgrade"], env, tmp_path)
    assert "create table vehicle (id, plate_number, make, model, year, vin, customer, mileage_km, status, next_inspection" in upgrade.stdout
    assert "fleet_size" in upgrade.stdout  # a column of the account table

    created = json.loads(_run([str(python), "-c", CREATE], env, tmp_path).stdout)
    assert created["plates"] == ["ZJA12345", "ZJB678"]
    assert created["fleet_size"] == 2
    assert created["duplicate"] == "plate_number: 'ZJA12345' is already used by another vehicle; it must be unique"

    web = json.loads(_run([str(python), "-c", WEB], env, tmp_path).stdout)  # templates/ and static/ came with the wheel
    assert "site-packages" in web["template"] and web["template"].endswith("tessera_fleet/templates/fleet/due.html")
    assert (web["css"], web["page"], web["to"]) == (200, 303, "/login?next=/fleet/due")

    _pip(python, "uninstall", "-y", DISTRIBUTION, cwd=tmp_path)

    again = _run([*tessera, "db", "upgrade"], env, tmp_path)
    assert "cannot start" not in again.stdout + again.stderr
    columns, vehicles = _table_rows(database_url, "vehicle", ["plate_number", "customer"])
    assert {"plate_number", "make", "model", "year", "vin", "customer", "mileage_km", "status", "next_inspection"} <= columns
    assert vehicles == [("ZJA12345", created["account"]), ("ZJB678", created["account"])]
    _, accounts = _table_rows(database_url, "account", ["id", "fleet_size"])
    assert accounts == [(created["account"], 2)]

    after = json.loads(_run([str(python), "-c", AFTER_REMOVAL, str(created["account"])], env, tmp_path).stdout)
    assert "fleet" not in after["plugins"]
    assert after["vehicle"].startswith("LookupError: there is no object 'vehicle'")
    assert "fleet_size" not in after["account"]


def test_the_example_plugin_passes_its_own_tests(fleet_installed):
    """The tests a partner runs in their own package, with the fixtures shown in docs/plugins.md."""
    python, source = fleet_installed
    env = dict(os.environ)
    env.pop("TESSERA_PLUGINS", None)
    env.pop("TESSERA_DISABLED_PLUGINS", None)
    result = subprocess.run(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "console_output_style=classic"],
        cwd=source, env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    summary = result.stdout.strip().splitlines()[-1]
    assert " passed" in summary and "failed" not in summary, summary
    if os.environ.get("TESSERA_TEST_POSTGRES_URL"):
        assert "skipped" not in summary, summary  # PostgreSQL ran too
