"""`tessera serve` and `tessera user` as a user runs them: real processes, real HTTP."""

from __future__ import annotations

import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import httpx
import pytest

TESSERA = str(Path(sys.executable).with_name("tessera"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run(*args, database=None, stdin=None, cwd=None):
    command = [TESSERA] + (["--database", database] if database else []) + list(args)
    return subprocess.run(command, capture_output=True, text=True, input=stdin, cwd=cwd, timeout=300)


@pytest.fixture
def serve(tmp_path):
    """Start `tessera serve` in a fresh folder; returns (base URL, the lines it printed so far)."""
    started = []

    def start(*args, env=None):
        port = free_port()
        log = tmp_path / f"serve-{port}.log"
        handle = open(log, "w")
        process = subprocess.Popen([TESSERA, "serve", "--port", str(port), *args], cwd=tmp_path, stdout=handle,
                                   stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}, text=True)
        started.append((process, handle))
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    return base, log.read_text()
            except httpx.HTTPError:
                time.sleep(0.3)
        pytest.fail(f"tessera serve did not start:\n{log.read_text()}")

    start.started = started
    yield start
    for process, handle in started:
        process.terminate()
        process.wait(timeout=30)
        handle.close()


def stop_serving(serve) -> None:
    """Stop the servers started so far as a service manager does (SIGTERM), and wait for them to end."""
    for process, _handle in serve.started:
        process.terminate()
        assert process.wait(timeout=60) in (0, -15)  # uvicorn shuts down, then ends by the signal it was sent


def test_a_first_serve_builds_the_database_loads_the_demo_and_prints_an_admin_password(serve, tmp_path):
    env = {"TESSERA_DATABASE_URL": ""}  # the default: ./tessera.db
    base, printed = serve(env=env)
    assert (tmp_path / "tessera.db").is_file()
    assert "Loaded the demo data" in printed
    password = re.search(r"Sign in as 'admin' with the password: (\S+)", printed).group(1)
    assert len(password) >= 16
    token = httpx.post(f"{base}/api/auth/token", json={"username": "admin", "password": password}).json()["token"]
    accounts = httpx.get(f"{base}/api/records/account?count=true&limit=1", headers={"Authorization": f"Bearer {token}"}).json()
    assert accounts["count"] == 60
    assert httpx.get(f"{base}/login").status_code == 200 and httpx.get(f"{base}/schema").status_code == 200
    with sqlite3.connect(tmp_path / "tessera.db") as db:  # the planner knows the tables as the demo left them
        assert db.execute("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'account'").fetchone()[0] > 0


def test_a_second_serve_keeps_the_data_and_prints_no_new_password(serve, database_url):
    _base, first = serve("--no-demo", env={"TESSERA_DATABASE_URL": database_url})
    assert "password:" in first
    base, second = serve("--no-demo", env={"TESSERA_DATABASE_URL": database_url})
    assert "password:" not in second and "Created the database schema" not in second
    assert httpx.post(f"{base}/api/auth/token", json={"username": "admin", "password": "not the password"}).status_code == 401


def alone(database: Path, tmp_path: Path) -> sqlite3.Connection:
    """The SQLite file copied without its -wal and -shm files, as a copy made by hand would be."""
    copy = tmp_path / "copied" / database.name
    copy.parent.mkdir(exist_ok=True)
    shutil.copyfile(database, copy)
    return sqlite3.connect(copy)


def test_a_stopped_server_leaves_every_change_in_the_database_file(serve, tmp_path):
    base, printed = serve(env={"TESSERA_DATABASE_URL": ""})
    password = re.search(r"Sign in as 'admin' with the password: (\S+)", printed).group(1)
    token = httpx.post(f"{base}/api/auth/token", json={"username": "admin", "password": password}).json()["token"]
    made = httpx.post(f"{base}/api/records/account", json={"name": "Written just before the stop"},
                      headers={"Authorization": f"Bearer {token}"})
    assert made.status_code == 201, made.text
    stop_serving(serve)
    with closing(alone(tmp_path / "tessera.db", tmp_path)) as copy:
        names = [row[0] for row in copy.execute("SELECT name FROM account ORDER BY id")]
    assert len(names) == 61 and names[-1] == "Written just before the stop"
    assert not (tmp_path / "tessera.db-wal").exists() or (tmp_path / "tessera.db-wal").stat().st_size == 0


def test_serve_starts_on_a_database_where_users_and_roles_were_added_first(serve, tmp_path):
    database = f"sqlite:///{tmp_path / 'first.db'}"
    assert run("db", "upgrade", database=database).returncode == 0
    added = run("user", "add", "boss", "--role", "admin", "--password-stdin", database=database, stdin="a long enough secret\n")
    assert added.returncode == 0 and "with the role 'Administrator'" in added.stdout, added.stderr
    base, printed = serve(env={"TESSERA_DATABASE_URL": database})
    assert "Loaded the demo data" in printed and "Traceback" not in printed and "password:" not in printed
    token = httpx.post(f"{base}/api/auth/token", json={"username": "boss", "password": "a long enough secret"}).json()["token"]
    roles = httpx.get(f"{base}/api/records/role?sort=name", headers={"Authorization": f"Bearer {token}"}).json()["items"]
    assert [(r["name"], r["permission_set"]) for r in roles] == [("Administrator", "admin"), ("Sales Manager", "sales_manager"),
                                                                 ("Sales Rep", "sales_rep")]
    _base, again = serve(env={"TESSERA_DATABASE_URL": database})
    assert "Loaded the demo data" not in again and "Traceback" not in again
    reset = run("demo", "--reset", database=database)
    assert reset.returncode == 0 and "Traceback" not in reset.stderr, reset.stderr


def with_password(database_url: str, password: str) -> str:
    """The URL with a password in it (this suite's PostgreSQL trusts local connections, so any password works)."""
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    return url.set(password=password).render_as_string(hide_password=False) if url.get_backend_name() == "postgresql" else database_url


def test_serve_prints_the_database_url_without_its_password(serve, database_url):
    url = with_password(database_url, "s3cret-Pa55")
    _base, printed = serve("--no-demo", env={"TESSERA_DATABASE_URL": url})
    assert "Tessera is serving " in printed and "s3cret-Pa55" not in printed
    if "postgresql" in url:
        assert ":***@" in printed
    unreachable = run("db", "upgrade", database="postgresql+psycopg://someone:s3cret-Pa55@127.0.0.1:1/nothing")
    assert unreachable.returncode == 2 and "s3cret-Pa55" not in unreachable.stdout + unreachable.stderr
    assert "someone:***@127.0.0.1:1/nothing" in unreachable.stderr and "Traceback" not in unreachable.stderr
    malformed = run("db", "upgrade", database="postgresql//someone:s3cret-Pa55@localhost/nothing")
    assert malformed.returncode == 2 and "s3cret-Pa55" not in malformed.stderr and "someone:***@" in malformed.stderr


def test_serve_refuses_a_busy_port_with_a_message(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run([TESSERA, "serve", "--port", str(port)], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and f"cannot listen on 127.0.0.1:{port}" in result.stderr and "Traceback" not in result.stderr
    assert run("serve", "--port", "99999").returncode == 2


def test_user_add_then_sign_in(database_url):
    made = run("user", "add", "lin", "--role", "admin", "--team", "East", "--full-name", "Lin Zhou", "--password-stdin",
               database=database_url, stdin="a long enough secret\n")
    assert made.returncode == 0, made.stderr
    assert "Created the team 'East'." in made.stdout and "Created the user 'lin'" in made.stdout
    from core.auth import Accounts
    from core.runtime import Runtime
    from core.settings import Settings

    runtime = Runtime(Settings(database_url=database_url))
    try:
        identity = Accounts(runtime).authenticate("lin", "a long enough secret")
        assert identity.full_name == "Lin Zhou" and identity.permission_set == "admin"
    finally:
        runtime.close()
    reset = run("user", "password", "lin", "--password-stdin", database=database_url, stdin="another long secret\n")
    assert reset.returncode == 0 and "Set a new password for 'lin'." in reset.stdout


@pytest.mark.parametrize("args, stdin, words", [
    (["user", "add", "sam", "--password-stdin"], "short\n", "too short: use at least 10 characters"),
    (["user", "add", "sam", "--role", "wizard", "--password-stdin"], "a long enough secret\n", "there is no role or permission set 'wizard'"),
    (["user", "add", "sam", "--password-stdin"], "", "no password on standard input"),
    (["user", "add", "sam", "--password-stdin"], "sam\n", "too short"),
    (["user", "password", "nobody", "--password-stdin"], "a long enough secret\n", "there is no user 'nobody'"),
])
def test_user_commands_refuse_bad_input_with_a_message(database_url, args, stdin, words):
    result = run(*args, database=database_url, stdin=stdin)
    assert result.returncode == 2 and words in result.stderr and "Traceback" not in result.stderr


def test_a_user_name_taken_twice_is_refused(database_url):
    assert run("user", "add", "sam", "--password-stdin", database=database_url, stdin="a long enough secret\n").returncode == 0
    again = run("user", "add", "sam", "--password-stdin", database=database_url, stdin="a long enough secret\n")
    assert again.returncode == 2 and "a user named 'sam' already exists" in again.stderr


def test_a_server_killed_and_started_again_runs_what_fell_due_meanwhile_once(serve, database_url):
    """A workflow rule's time trigger falls due while the server is down (killed with SIGKILL): the restarted server's
    scheduler runs it, once per record, and nothing that ran before runs again."""
    import datetime as dt
    import signal

    env = {"TESSERA_DATABASE_URL": database_url}
    base, printed = serve("--no-demo", env=env)
    password = re.search(r"Sign in as 'admin' with the password: (\S+)", printed).group(1)
    token = httpx.post(f"{base}/api/auth/token", json={"username": "admin", "password": password}).json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    rule = {"object": "activity", "label": {"en": "Due"}, "trigger": {"on": "time", "field": "start_at", "after": "0m"},
            "actions": [{"type": "set_fields", "values": {"priority": "high"}}]}
    assert httpx.put(f"{base}/api/meta/automations/due", json=rule, headers=auth).status_code == 200
    due = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=4)
    ids = [httpx.post(f"{base}/api/records/activity", json={"subject": f"Call {n}", "start_at": due.isoformat(), "priority": "low"},
                      headers=auth).json()["id"] for n in range(3)]
    process, _handle = serve.started[-1]
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    time.sleep(max(0.0, (due - dt.datetime.now(dt.timezone.utc)).total_seconds()) + 1)  # due while nothing runs
    base, _printed = serve("--no-demo", env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        shown = [httpx.get(f"{base}/api/records/activity/{i}", headers=auth).json()["priority"] for i in ids]
        if shown == ["high"] * 3:
            break
        time.sleep(0.5)
    assert shown == ["high"] * 3
    runs = httpx.get(f"{base}/api/automations/runs?rule=due", headers=auth).json()["items"]
    assert sorted(r["record_id"] for r in runs) == sorted(ids) and {r["status"] for r in runs} == {"done"}
