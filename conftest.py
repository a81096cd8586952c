"""Fixtures for every test folder (tests/ and each plugin's tests/).

Every test that touches data runs on a real SQLite file and a real PostgreSQL server.
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


def postgres_admin_url() -> str:
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.fail(f"{PG_ENV} is not set: run the suite with `bash scripts/test.sh`, which starts a PostgreSQL server")
    return url


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
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
def make_runtime(database_url):
    """Build runtimes on this test's database: make_runtime(plugins=("sales",)) enables only those."""
    made = []

    def make(plugins=(), extra_plugins=(), upgrade=True):
        rt = Runtime(Settings(database_url=database_url, plugins=tuple(plugins)), extra_plugins=extra_plugins)
        if upgrade:
            rt.upgrade("test")
        made.append(rt)
        return rt

    yield make
    for rt in made:
        rt.close()


@pytest.fixture
def runtime(make_runtime):
    """The core alone: base objects, no plugins."""
    return make_runtime()


@pytest.fixture
def second_runtime(make_runtime, runtime):
    """Another process's view of the same database (its own engine and caches)."""
    return make_runtime(upgrade=False)


@pytest.fixture
def actor():
    return Actor(None, "tester")

