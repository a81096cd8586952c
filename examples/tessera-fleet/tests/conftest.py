"""Fixtures for testing a Tessera plugin, named and used like Tessera's own.

Every test that asks for ``database_url`` runs twice: on a new SQLite file, and on a new
PostgreSQL database when TESSERA_TEST_POSTGRES_URL names a server it may create
databases on (for example postgresql+psycopg://postgres@127.0.0.1:5432/postgres).
The plugin must be installed (``pip install -e .``) so that Tessera finds it.
"""

from __future__ import annotations

import os
import uuid

import pytest
import sqlalchemy as sa

from core.records import Actor
from core.runtime import Runtime
from core.settings import Settings


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'tessera.db'}"
        return
    admin = os.environ.get("TESSERA_TEST_POSTGRES_URL")
    if not admin:
        pytest.skip("set TESSERA_TEST_POSTGRES_URL to test on PostgreSQL too")
    name = f"t_{uuid.uuid4().hex[:16]}"
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    base, _, _ = admin.rpartition("/")
    yield f"{base}/{name}"
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@pytest.fixture
def make_runtime(database_url):
    """make_runtime(plugins=("fleet",), extra_plugins=(...)): a Runtime on this test's database.

    Only the plugins named are enabled, so other installed plugins cannot change the
    outcome; ``extra_plugins`` registers modules as if they were installed.
    """
    made = []

    def make(plugins=("fleet",), extra_plugins=(), upgrade=True):
        runtime = Runtime(Settings(database_url=database_url, plugins=tuple(plugins)), extra_plugins=extra_plugins)
        if upgrade:
            runtime.upgrade("test")
        made.append(runtime)
        return runtime

    yield make
    for runtime in made:
        runtime.close()


@pytest.fixture
def runtime(make_runtime):
    """Tessera with this plugin alone."""
    return make_runtime()


@pytest.fixture
def actor():
    return Actor(None, "tester")
