"""Sign-in over HTTP: tokens (hashed, named, expiring, revocable), sessions with CSRF, throttling, audit."""

from __future__ import annotations

import datetime as dt
import re

import sqlalchemy as sa

from access_world import PASSWORD
from core.coretables import api_token, audit, credential, login_throttle
from core.db import read_transaction, write_transaction


def audit_events(api) -> list[str]:
    with read_transaction(api.world.runtime.engine) as conn:
        return [r.event for r in conn.execute(sa.select(audit.c.event).order_by(audit.c.id))]


# --- tokens -----------------------------------------------------------------------------------


def test_a_token_is_shown_once_and_stored_only_as_a_digest(api):
    response = api.client.post("/api/auth/token", json={"username": "alice", "password": PASSWORD, "name": "ERP sync", "expires_in_days": 30})
    assert response.status_code == 201
    body = response.json()
    token = body["token"]
    assert token.startswith("tsk_") and len(token) > 40 and body["name"] == "ERP sync" and body["active"] is True
    expires = dt.datetime.fromisoformat(body["expires_at"].rstrip("Z"))
    assert dt.timedelta(days=29) < expires - dt.datetime.utcnow() <= dt.timedelta(days=30)
    with read_transaction(api.world.runtime.engine) as conn:
        stored = conn.execute(sa.select(api_token.c.token_hash, api_token.c.prefix)).all()
        passwords = conn.execute(sa.select(credential.c.password_hash)).scalars().all()
    assert all(token not in (h, p) for h, p in stored) and any(p == token[:12] for _h, p in stored)
    assert all(h.startswith("$argon2id$") and PASSWORD not in h for h in passwords)
    listed = api.client.get("/api/auth/tokens", headers={"Authorization": f"Bearer {token}"}).json()["items"]
    assert [t["name"] for t in listed] == ["ERP sync"] and "token" not in listed[0] and "token_hash" not in listed[0]


def test_a_revoked_token_stops_working_at_once(api):
    token = api.token("alice")
    headers = {"Authorization": f"Bearer {token}"}
    assert api.client.get("/api/auth/me", headers=headers).json()["username"] == "alice"
    token_id = api.client.get("/api/auth/tokens", headers=headers).json()["items"][0]["id"]
    revoked = api.client.delete(f"/api/auth/tokens/{token_id}", headers=headers)
    assert revoked.status_code == 200 and revoked.json()["active"] is False
    refused = api.client.get("/api/records/account", headers=headers)
    assert refused.status_code == 401 and "revoked" in refused.json()["message"]
    assert api.client.delete(f"/api/auth/tokens/{token_id}", headers=api.headers("bob")).status_code == 404  # not bob's


def test_an_expired_token_is_refused_with_a_reason(api):
    token = api.token("bob")
    with write_transaction(api.world.runtime.engine) as conn:
        conn.execute(sa.update(api_token).values(expires_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)))
    refused = api.client.get("/api/records/account", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 401 and "expired" in refused.json()["message"]


def test_bad_credentials_and_tokens_are_a_401(api):
    assert api.client.post("/api/auth/token", json={"username": "alice", "password": "wrong password"}).status_code == 401
    assert api.client.post("/api/auth/token", json={"username": "nobody", "password": PASSWORD}).status_code == 401
    assert api.client.post("/api/auth/token", json={"username": "alice"}).status_code == 400
    assert api.client.post("/api/auth/token", content=b"{", headers={"Content-Type": "application/json"}).status_code == 400
    for header in ("Bearer tsk_madeup", "Basic YWxpY2U6eA==", "Bearer"):
        response = api.client.get("/api/records/account", headers={"Authorization": header})
        assert response.status_code == 401 and response.json()["message"]
    assert api.client.get("/api/records/account").status_code == 401
    too_long = api.client.post("/api/auth/token", json={"username": "alice", "password": PASSWORD, "expires_in_days": 5000})
    assert too_long.status_code == 400 and "expires_in_days" in too_long.json()["message"]


def test_a_user_made_inactive_cannot_use_their_token(api):
    token = api.token("carol")
    runtime, system = api.world.runtime, api.world.actor("root")
    record = runtime.records.get(system, "user", api.world.users["carol"])
    runtime.records.update(system, "user", record["id"], {"active": False}, version=record["version"])
    assert api.client.get("/api/records/account", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert api.client.post("/api/auth/token", json={"username": "carol", "password": PASSWORD}).status_code == 401


# --- browser sessions and CSRF --------------------------------------------------------------------


# Signing in, out, and fetching the CSRF token that signing in needs.
PUBLIC_API = {("POST", "/api/auth/token"), ("POST", "/api/auth/login"), ("POST", "/api/auth/logout"), ("GET", "/api/auth/csrf")}


def test_every_api_route_but_signing_in_refuses_anonymous_requests(api):
    """Whatever a route's handler would do, an anonymous request (with the CSRF token, so that
    CSRF is not what refuses it) gets a 401 before it."""
    client = api.client
    csrf = client.get("/api/auth/csrf").json()["csrf_token"]
    refused = []
    for route in client.app.routes:
        if not route.path.startswith("/api/"):
            continue
        path = re.sub(r"\{(\w+):(\w+)\}", lambda m: "1" if m.group(2) == "int" else "account", route.path)
        for method in sorted(getattr(route, "methods", ())):
            if method in ("HEAD", "OPTIONS") or (method, route.path) in PUBLIC_API:
                continue
            response = client.request(method, path, headers={"X-CSRFToken": csrf}, json={})
            assert response.status_code == 401, (method, route.path, response.status_code, response.text[:200])
            assert response.json()["error"] == "not_signed_in"
            refused.append((method, route.path))
    assert ("GET", "/api/records/{object_name:str}") in refused and ("POST", "/api/meta/objects") in refused
    assert ("GET", "/api/audit") in refused and len(refused) > 30


def test_a_browser_session_needs_the_csrf_token_for_every_change(api):
    client = api.client
    csrf = client.get("/api/auth/csrf").json()["csrf_token"]
    assert client.cookies.get("csrftoken") and csrf
    assert client.post("/api/auth/login", json={"username": "alice", "password": PASSWORD}).status_code == 403  # login CSRF too
    signed_in = client.post("/api/auth/login", json={"username": "alice", "password": PASSWORD}, headers={"X-CSRFToken": csrf})
    assert signed_in.status_code == 200 and signed_in.json()["username"] == "alice"
    assert "httponly" in signed_in.headers["set-cookie"].lower()
    assert client.get("/api/auth/me").json()["signed_in_with"] == "session"
    forged = client.post("/api/records/account", json={"name": "Forged"})
    assert forged.status_code == 403 and "CSRF" in forged.json()["message"]
    wrong = client.post("/api/records/account", json={"name": "Forged"}, headers={"X-CSRFToken": "0" * 64})
    assert wrong.status_code == 403
    made = client.post("/api/records/account", json={"name": "Mine"}, headers={"X-CSRFToken": csrf})
    assert made.status_code == 201 and made.json()["owner"]["label"] == "Alice"
    assert client.post("/api/auth/logout", headers={"X-CSRFToken": csrf}).status_code == 200
    assert client.get("/api/auth/me").status_code == 401


def test_bearer_requests_need_no_csrf_token_but_a_bearer_with_a_session_cookie_does(api):
    assert api.post("alice", "/api/records/account", json={"name": "By token"}).status_code == 201
    client = api.client
    csrf = client.get("/api/auth/csrf").json()["csrf_token"]
    client.post("/api/auth/login", json={"username": "alice", "password": PASSWORD}, headers={"X-CSRFToken": csrf})
    mixed = client.post("/api/records/account", json={"name": "Mixed"}, headers=api.headers("alice"))
    assert mixed.status_code == 403


def test_the_sign_in_page_signs_in_and_out_with_a_form(api):
    client = api.client
    page = client.get("/login")
    assert page.status_code == 200 and 'name="_csrf_token"' in page.text
    csrf = page.text.split('name="_csrf_token" value="', 1)[1].split('"', 1)[0]
    assert csrf
    refused = client.post("/login", data={"username": "alice", "password": "nope", "_csrf_token": csrf})
    assert refused.status_code == 401 and "wrong username or password" in refused.text and 'value="alice"' in refused.text
    home = client.post("/login", data={"username": "alice", "password": PASSWORD, "_csrf_token": csrf})
    assert home.status_code == 200 and "Alice" in home.text and "/r/account" in home.text
    assert "/r/product" not in home.text  # alice's role may not read products
    assert client.post("/logout", data={"_csrf_token": csrf}).status_code == 200
    assert client.get("/api/auth/me").status_code == 401


# --- throttling -------------------------------------------------------------------------------------


def test_repeated_failures_lock_the_username_from_that_address_with_a_growing_wait(api):
    client = api.client
    for _ in range(5):
        assert client.post("/api/auth/token", json={"username": "bob", "password": "guess guess"}).status_code == 401
    locked = client.post("/api/auth/token", json={"username": "bob", "password": PASSWORD})
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) >= 1 and "try again" in locked.json()["message"]
    assert client.post("/api/auth/token", json={"username": "alice", "password": PASSWORD}).status_code == 201  # others unaffected
    with write_transaction(api.world.runtime.engine) as conn:  # let the lock run out
        conn.execute(sa.update(login_throttle).values(locked_until=dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)))
    assert client.post("/api/auth/token", json={"username": "bob", "password": "guess again"}).status_code == 401
    with read_transaction(api.world.runtime.engine) as conn:
        row = conn.execute(sa.select(login_throttle).where(login_throttle.c.key == "ip+user:testclient:bob")).first()
    lock = row.locked_until.replace(tzinfo=dt.timezone.utc) - row.last_failure_at.replace(tzinfo=dt.timezone.utc)
    assert row.failures == 6 and lock >= dt.timedelta(seconds=4)  # doubled
    with write_transaction(api.world.runtime.engine) as conn:
        conn.execute(sa.update(login_throttle).values(locked_until=None))
    assert client.post("/api/auth/token", json={"username": "bob", "password": PASSWORD}).status_code == 201
    with read_transaction(api.world.runtime.engine) as conn:
        assert conn.execute(sa.select(login_throttle).where(login_throttle.c.key == "ip+user:testclient:bob")).first() is None


# --- audit ----------------------------------------------------------------------------------------


def test_the_audit_log_records_sign_ins_token_use_denials_metadata_changes_and_exports(api):
    api.client.post("/api/auth/token", json={"username": "alice", "password": "not it at all"})
    api.get("alice", "/api/records/account")
    assert api.post("vera", "/api/records/account", json={"name": "Nope"}).status_code == 403
    api.post("root", "/api/meta/objects/account/fields", json={"name": "vip", "type": "boolean", "label": {"en": "VIP", "zh-CN": "贵宾"}})
    api.get("root", "/api/export/account")
    events = audit_events(api)
    for event in ("login.failed", "login", "token.created", "token.used", "permission.denied", "metadata.changed", "export"):
        assert event in events, event
    log = api.get("root", "/api/audit?event=permission.denied").json()["items"]
    assert log[0]["username"] == "vera" and log[0]["object"] == "account" and log[0]["detail"]["operation"] == "create"
    failed = api.get("root", "/api/audit?event=login*&limit=50").json()["items"]
    assert {"login", "login.failed"} <= {e["event"] for e in failed}
    assert api.get("alice", "/api/audit").status_code == 403
    assert api.get("root", "/api/audit?event=nonsense").status_code == 400


def test_refused_tokens_write_one_audit_row_per_address_and_window_and_count_the_rest(api, monkeypatch):
    def refused_rows():
        with read_transaction(api.world.runtime.engine) as conn:
            return [r.detail for r in conn.execute(sa.select(audit.c.detail).where(audit.c.event == "token.refused").order_by(audit.c.id))]

    for attempt in range(25):
        response = api.client.get("/api/records/account", headers={"Authorization": f"Bearer tsk_guess{attempt}"})
        assert response.status_code == 401 and "not valid" in response.json()["message"]
    rows = refused_rows()
    assert len(rows) == 1 and rows[0]["reason"] == "the token is not valid" and rows[0]["suppressed"] == 0
    assert rows[0]["prefix"] == "tsk_guess0" and rows[0]["window_seconds"] == 60

    token = api.token("alice")  # a known token refused from the same address has a window of its own
    token_id = api.get("alice", "/api/auth/tokens").json()["items"][0]["id"]
    assert api.delete("alice", f"/api/auth/tokens/{token_id}").status_code == 200
    for _ in range(3):
        assert api.client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    rows = refused_rows()
    assert len(rows) == 2 and rows[1]["token_id"] == token_id and rows[1]["reason"] == "the token has been revoked"

    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=2)
    monkeypatch.setattr("core.auth.now", lambda: later)
    assert api.client.get("/api/records/account", headers={"Authorization": "Bearer not-even-a-token"}).status_code == 401
    rows = refused_rows()
    assert len(rows) == 3 and rows[2]["suppressed"] == 24 and rows[2]["prefix"] is None  # the 24 refusals since the first row
    log = api.get("root", "/api/audit?event=token.refused").json()["items"]
    assert [e["detail"]["suppressed"] for e in log] == [24, 0, 0]


def test_refusal_windows_are_per_address_and_bounded():
    from core.auth import RefusalWindows

    windows = RefusalWindows(window=dt.timedelta(minutes=1), max_keys=3)
    start = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    assert windows.admit(("10.0.0.1", None), start) == 0
    assert windows.admit(("10.0.0.1", None), start + dt.timedelta(seconds=30)) is None
    assert windows.admit(("10.0.0.2", None), start) == 0  # another address: its own row
    assert windows.admit(("10.0.0.3", None), start) == 0
    assert windows.admit(("10.0.0.4", None), start) == 0  # full: the other addresses share one window
    assert windows.admit(("10.0.0.5", None), start) is None
    assert windows.admit(("10.0.0.1", None), start + dt.timedelta(minutes=1)) == 1
    assert windows.admit(("10.0.0.6", None), start + dt.timedelta(minutes=2)) == 0  # closed windows with nothing counted are forgotten
