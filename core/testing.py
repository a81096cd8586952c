"""Pytest fixtures for Tessera and its plugins: load with ``pytest_plugins = ["core.testing"]``.

Every test that asks for ``database_url`` (directly or through ``make_runtime`` or
``runtime``) runs twice: on a new SQLite file and on a new PostgreSQL database created on
the server named by TESSERA_TEST_POSTGRES_URL. Without that variable the PostgreSQL runs
fail with a message saying so; set TESSERA_TEST_DATABASES=sqlite to test on SQLite alone.
"""

from __future__ import annotations

import os
import uuid

import psycopg
import pytest

from core.records import Actor
from core.runtime import Runtime
from core.settings import Settings

PG_ENV = "TESSERA_TEST_POSTGRES_URL"
DATABASES = [d.strip() for d in os.environ.get("TESSERA_TEST_DATABASES", "sqlite,postgresql").split(",") if d.strip()]


def postgres_admin_url() -> str:
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.fail(f"{PG_ENV} is not set: name a PostgreSQL server the tests may create databases on "
                    "(Tessera's own suite: run `bash scripts/test.sh`), or set TESSERA_TEST_DATABASES=sqlite")
    return url


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


@pytest.fixture(params=DATABASES)
def database_url(request, tmp_path):
    """The URL of this test's own new database; the test runs once per database kind."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'tessera.db'}"
        return
    admin = postgres_admin_url()
    name = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(_libpq(admin), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = admin.rpartition("/")
    yield f"{base}/{name}"
    with psycopg.connect(_libpq(admin), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def make_runtime(database_url, tmp_path):
    """make_runtime(plugins=("sales",), extra_plugins=(), upgrade=True): a Runtime on this test's database.

    Only the plugins named are enabled, so other installed plugins cannot change the
    outcome; passwords are hashed with argon2's cheapest parameters, so that signing in
    does not dominate a test's time; ``extra_plugins`` registers modules as if they were installed (name them in
    ``plugins`` too). With ``upgrade`` the tables are created.
    """
    made = []

    def make(plugins=(), extra_plugins=(), upgrade=True):
        settings = Settings(database_url=database_url, plugins=tuple(plugins), password_hashing="fast",
                            files_dir=str(tmp_path / "files"))
        rt = Runtime(settings, extra_plugins=extra_plugins)
        if upgrade:
            rt.upgrade("test")
        made.append(rt)
        return rt

    yield make
    for rt in made:
        rt.close()


@pytest.fixture
def runtime(make_runtime):
    """Tessera alone: base objects, no plugins. A plugin's tests override this fixture."""
    return make_runtime()


@pytest.fixture
def second_runtime(make_runtime, runtime):
    """Another process's view of the same database (its own engine and caches)."""
    return make_runtime(upgrade=False)


@pytest.fixture
def actor():
    return Actor(None, "tester")
