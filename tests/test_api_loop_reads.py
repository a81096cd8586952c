"""Reads on SQLite start on the event loop with a time budget and move to a worker thread past it.

The answer is the same either way; what the budget changes is only where the read runs.
"""

from __future__ import annotations

import logging

import pytest
from litestar.testing import TestClient

from access_world import PASSWORD, build_world
from core.api.app import create_app
from core.db import ReadBudgetExceeded, read_statements
from core.runtime import Runtime
from core.settings import Settings, SettingsError

# A recursive query that keeps SQLite busy for far longer than any budget below.
LONG_QUERY = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50000000) SELECT count(*) FROM n"


def _settings(database_url: str, tmp_path, **values) -> Settings:
    return Settings(database_url=database_url, plugins=(), password_hashing="fast", files_dir=str(tmp_path / "files"), **values)


@pytest.fixture
def sqlite_runtime(tmp_path):
    """The budget is SQLite's alone: these tests need no PostgreSQL run."""
    made = Runtime(_settings(f"sqlite:///{tmp_path / 'reads.db'}", tmp_path))
    made.upgrade("test")
    yield made
    made.close()


class Moved(logging.Handler):
    """The log lines of reads moved off the loop (the application's logging does not pass them to pytest's capture)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_budget_is_sqlite_only_and_can_be_turned_off(runtime, tmp_path):
    if runtime.engine.dialect.name == "sqlite":
        assert runtime.loop_read_budget == pytest.approx(0.020)
    else:
        assert runtime.loop_read_budget is None  # reads that wait on the network never hold the loop
    off = Runtime(_settings(runtime.settings.database_url, tmp_path, loop_read_ms=0))
    try:
        assert off.loop_read_budget is None
    finally:
        off.close()


def test_setting_from_the_environment():
    assert Settings.from_env({"TESSERA_LOOP_READ_MS": "5"}).loop_read_ms == 5.0
    for bad in ("soon", "-1", "5000"):
        with pytest.raises(SettingsError, match="TESSERA_LOOP_READ_MS: use a number of milliseconds from 0"):
            Settings.from_env({"TESSERA_LOOP_READ_MS": bad})


def test_a_read_past_its_budget_is_stopped_and_its_connection_is_left_as_it_was(sqlite_runtime):
    runtime = sqlite_runtime
    with read_statements(runtime.engine) as conn:
        driver = conn.connection.driver_connection
    with pytest.raises(ReadBudgetExceeded, match="more than 1 ms"):
        with read_statements(runtime.engine, budget=0.001) as conn:
            assert conn.connection.driver_connection is driver
            conn.exec_driver_sql(LONG_QUERY).scalar_one()
    with read_statements(runtime.engine) as conn:  # the same pooled connection, without the budget's check
        assert conn.connection.driver_connection is driver
        assert conn.exec_driver_sql(LONG_QUERY.replace("50000000", "300000")).scalar_one() == 300000


def test_other_errors_inside_a_budget_are_not_mistaken_for_it(sqlite_runtime):
    runtime = sqlite_runtime
    with pytest.raises(Exception, match="no such table") as raised:
        with read_statements(runtime.engine, budget=10) as conn:
            conn.exec_driver_sql("SELECT * FROM no_such_table").all()
    assert not isinstance(raised.value, ReadBudgetExceeded)


def _pages(runtime) -> tuple[dict, dict]:
    with TestClient(create_app(runtime)) as client:
        token = client.post("/api/auth/token", json={"username": "alice", "password": PASSWORD, "name": "t"}).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        listed = client.get("/api/records/account?sort=name&name__contains=a&limit=50", headers=headers)
        assert listed.status_code == 200, listed.text
        record_id = listed.json()["items"][0]["id"]
        read = client.get(f"/api/records/account/{record_id}", headers=headers)
        assert read.status_code == 200, read.text
        return listed.json(), read.json()


def test_over_http_a_read_past_the_budget_gives_the_same_answer_from_a_worker_thread(runtime, tmp_path):
    world = build_world(runtime)
    for n in range(300):  # enough rows that the list's SQL runs past SQLite's first budget check
        runtime.records.create(world.actor("alice"), "account", {"name": f"Account {n:03d}"})
    expected = _pages(runtime)
    tight = Runtime(_settings(runtime.settings.database_url, tmp_path, loop_read_ms=0.001))
    moved, logger = Moved(), logging.getLogger("tessera.reads")
    logger.addHandler(moved)
    level, logger.level = logger.level, logging.DEBUG
    try:
        assert _pages(tight) == expected
    finally:
        logger.removeHandler(moved)
        logger.setLevel(level)
        tight.close()
    if runtime.engine.dialect.name == "sqlite":
        assert any(m.startswith("GET /api/records/account: the read took more than 0.001 ms") for m in moved.messages), moved.messages
    else:
        assert moved.messages == []  # PostgreSQL's reads start in a worker thread
