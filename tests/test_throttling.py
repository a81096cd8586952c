"""Sign-in throttling against the real database: attempts counted before the password is checked, so parallel
guesses get no more checks than allowed; a lock per username and address, a ceiling per username; locked
sign-ins written to the audit log once per window."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher, profiles

from access_world import PASSWORD
from core.auth import FREE_FAILURES, Accounts, AuthError, Throttled, throttle_keys
from core.coretables import audit, login_throttle
from core.db import read_transaction, write_transaction

WRONG = "not the password at all"


class CountingHasher(PasswordHasher):
    """argon2 at its cheapest that counts its password checks and spends 50 ms on each, as a real hash does."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.checks, self._lock = 0, threading.Lock()

    def verify(self, hash, password) -> bool:  # noqa: A002 - argon2's own parameter name
        with self._lock:
            self.checks += 1
        time.sleep(0.05)
        return super().verify(hash, password)


@pytest.fixture
def accounts(runtime) -> Accounts:
    made = Accounts(runtime)
    made.add_user("lin", PASSWORD, "admin")
    return made


def audit_rows(runtime, event: str) -> list[dict]:
    with read_transaction(runtime.engine) as conn:
        return [r.detail for r in conn.execute(sa.select(audit.c.detail).where(audit.c.event == event).order_by(audit.c.id))]


def attempt(accounts: Accounts, password: str, ip: str, username: str = "lin") -> str:
    try:
        accounts.authenticate(username, password, ip)
    except Throttled:
        return "throttled"
    except AuthError:
        return "refused"
    return "signed in"


def test_twenty_wrong_passwords_at_once_get_no_more_password_checks_than_allowed(accounts, runtime):
    hasher = CountingHasher.from_parameters(profiles.CHEAPEST)
    accounts._hasher = hasher  # the same hashes; only slower, and counted
    start, outcomes = threading.Barrier(20), []

    def guess() -> None:
        start.wait()
        outcomes.append(attempt(accounts, WRONG, "203.0.113.7"))

    threads = [threading.Thread(target=guess) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    allowed = FREE_FAILURES["ip+user"]
    assert len(outcomes) == 20 and set(outcomes) == {"refused", "throttled"}
    assert hasher.checks == outcomes.count("refused") <= allowed
    assert outcomes.count("throttled") >= 20 - allowed
    assert len(audit_rows(runtime, "login.failed")) == hasher.checks
    assert len(audit_rows(runtime, "login.throttled")) == 1  # one row for the burst, however many were refused


def test_an_attacker_at_one_address_does_not_lock_the_owner_out_from_another(accounts):
    for _ in range(FREE_FAILURES["ip+user"]):
        assert attempt(accounts, WRONG, "198.51.100.66") == "refused"
    assert attempt(accounts, PASSWORD, "198.51.100.66") == "throttled"  # even the right password, from there
    assert attempt(accounts, PASSWORD, "192.0.2.10") == "signed in"  # the owner, elsewhere
    accounts.add_user("sam", PASSWORD)
    assert attempt(accounts, PASSWORD, "198.51.100.66", "sam") == "signed in"  # the address itself is not locked yet


def test_failures_from_many_addresses_reach_the_usernames_ceiling(accounts):
    ceiling = FREE_FAILURES["user"]
    for number in range(ceiling):
        assert attempt(accounts, WRONG, f"10.{number // 250}.{number % 250}.1") == "refused"
    assert attempt(accounts, PASSWORD, "192.0.2.10") == "throttled"  # a spread-out attack still slows down
    keys = throttle_keys("lin", "192.0.2.10")
    with write_transaction(accounts.engine) as conn:  # let the lock run out
        conn.execute(sa.update(login_throttle).where(login_throttle.c.key == keys["user"]).values(locked_until=None))
    assert attempt(accounts, PASSWORD, "192.0.2.10") == "signed in"


def test_an_address_guessing_many_usernames_is_locked_whatever_the_username(accounts):
    for number in range(FREE_FAILURES["ip"]):
        assert attempt(accounts, WRONG, "198.51.100.9", f"user{number}") == "refused"
    assert attempt(accounts, PASSWORD, "198.51.100.9") == "throttled"
    assert attempt(accounts, PASSWORD, "198.51.100.10") == "signed in"


def test_locked_sign_ins_write_one_audit_row_per_window_that_counts_the_rest(api, monkeypatch):
    runtime, client = api.world.runtime, api.client
    for _ in range(FREE_FAILURES["ip+user"]):
        assert client.post("/api/auth/token", json={"username": "bob", "password": WRONG}).status_code == 401
    for _ in range(30):
        assert client.post("/api/auth/token", json={"username": "bob", "password": WRONG}).status_code == 429
    rows = audit_rows(runtime, "login.throttled")
    assert len(rows) == 1 and rows[0]["suppressed"] == 0 and rows[0]["key"] == "ip+user" and rows[0]["window_seconds"] == 60
    assert client.post("/api/auth/token", json={"username": "alice", "password": PASSWORD}).status_code == 201  # another user, same address

    with write_transaction(runtime.engine) as conn:  # still locked a minute later
        conn.execute(sa.update(login_throttle).where(login_throttle.c.locked_until.is_not(None))
                     .values(locked_until=dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)))
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=2)
    monkeypatch.setattr("core.auth.now", lambda: later)
    assert client.post("/api/auth/token", json={"username": "bob", "password": PASSWORD}).status_code == 429
    rows = audit_rows(runtime, "login.throttled")
    assert len(rows) == 2 and rows[1]["suppressed"] == 29  # the refusals since the first row
