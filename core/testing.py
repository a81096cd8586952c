"""Pytest fixtures for Tessera and its plugins: load with ``pytest_plugins = ["core.testing"]``.

Every test that asks for ``database_url`` (directly or through ``make_runtime`` or
``runtime``) runs twice: on a new SQLite file and on a new PostgreSQL database created on
the server named by TESSERA_TEST_POSTGRES_URL. Without that variable the PostgreSQL runs
fail with a message saying so; set TESSERA_TEST_DATABASES=sqlite to test on SQLite alone.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from pathlib import Path

import psycopg
import pytest

from core import private
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


@pytest.fixture(scope="session")
def migrated_templates(tmp_path_factory):
    """Databases already upgraded, one per database kind and set of plugins, copied for each test that needs one:
    building the schema is most of a small test's time. Dropped when the session ends."""
    templates = MigratedTemplates(tmp_path_factory.mktemp("templates"))
    yield templates
    templates.drop()


@pytest.fixture
def make_runtime(database_url, tmp_path, migrated_templates):
    """make_runtime(plugins=("sales",), extra_plugins=(), upgrade=True): a Runtime on this test's database.

    Only the plugins named are enabled, so other installed plugins cannot change the
    outcome; passwords are hashed with argon2's cheapest parameters, so that signing in
    does not dominate a test's time; ``extra_plugins`` registers modules as if they were installed (name them in
    ``plugins`` too). With ``upgrade`` the tables are created: the first runtime of a test on its new database
    starts from a copy of a database that was upgraded with the same plugins earlier in the session.
    """
    made = []

    def make(plugins=(), extra_plugins=(), upgrade=True):
        settings = Settings(database_url=database_url, plugins=tuple(plugins), password_hashing="fast",
                            files_dir=str(tmp_path / "files"))
        copied = upgrade and not made and not extra_plugins and migrated_templates.copy_into(database_url, tuple(plugins))
        rt = Runtime(settings, extra_plugins=extra_plugins)
        if upgrade and not copied:
            rt.upgrade("test")
            if not made and not extra_plugins:
                migrated_templates.keep(rt, database_url, tuple(plugins))
        made.append(rt)
        return rt

    yield make
    for rt in made:
        rt.close()


class MigratedTemplates:
    """Upgraded databases kept as templates: a SQLite file copied with the backup API, a PostgreSQL database
    that CREATE DATABASE ... TEMPLATE copies."""

    def __init__(self, folder) -> None:
        self.folder = folder
        self.kept: dict[tuple, str] = {}  # (kind, plugins) -> the template's file or database name

    def keep(self, runtime: Runtime, database_url: str, plugins: tuple) -> None:
        kind = _kind(database_url)
        name = f"tpl_{uuid.uuid4().hex[:16]}"
        if kind == "sqlite":
            target = str(self.folder / f"{name}.db")
            with sqlite3.connect(_sqlite_path(database_url)) as source, sqlite3.connect(target) as copy:
                source.backup(copy)
            self.kept[(kind, plugins)] = target
            return
        runtime.engine.dispose()  # PostgreSQL copies a database only while nobody is connected to it
        with psycopg.connect(_libpq(postgres_admin_url()), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{_pg_name(database_url)}"')
        self.kept[(kind, plugins)] = name

    def copy_into(self, database_url: str, plugins: tuple) -> bool:
        """Make the test's new, empty database a copy of the template for these plugins; False if there is none yet."""
        kind = _kind(database_url)
        template = self.kept.get((kind, plugins))
        if template is None:
            return False
        if kind == "sqlite":
            private.create_file(Path(_sqlite_path(database_url)))  # made as Tessera makes its databases: its user's alone
            with sqlite3.connect(template) as source, sqlite3.connect(_sqlite_path(database_url)) as copy:
                source.backup(copy)
            return True
        name = _pg_name(database_url)
        with psycopg.connect(_libpq(postgres_admin_url()), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            # FILE_COPY (PostgreSQL 15+) copies the files at once, several times faster than logging each block
            strategy = " STRATEGY FILE_COPY" if conn.info.server_version >= 150000 else ""
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"{strategy}')
        return True

    def drop(self) -> None:
        names = [name for (kind, _plugins), name in self.kept.items() if kind == "postgresql"]
        if not names:
            return
        with psycopg.connect(_libpq(postgres_admin_url()), autocommit=True) as conn:
            for name in names:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _kind(database_url: str) -> str:
    return "sqlite" if database_url.startswith("sqlite") else "postgresql"


def _sqlite_path(database_url: str) -> str:
    return database_url.removeprefix("sqlite:///")


def _pg_name(database_url: str) -> str:
    return database_url.rpartition("/")[2]


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
