"""The user's own page: language, password and API tokens, through the real forms and sign-in.

People come from access_world.py; every one of them has the password PASSWORD.
"""

from __future__ import annotations

import re

import pytest
from litestar.testing import TestClient

from access_world import PASSWORD
from core.api.app import create_app
from test_ui_pages import signed_in


@pytest.fixture
def app(world):
    return create_app(world.runtime)


@pytest.fixture
def alice(app):
    with TestClient(app) as client:
        yield client, signed_in(client, "alice")


def test_the_user_menu_leads_to_the_profile_in_either_language(alice):
    client, csrf = alice
    home = client.get("/")
    assert 'href="/profile"' in home.text and "Profile, password and tokens" in home.text
    page = client.get("/profile")
    assert page.status_code == 200 and "Your profile" in page.text and "You have no tokens." in page.text
    switched = client.post("/profile/language", data={"_csrf_token": csrf, "language": "zh-CN"}, follow_redirects=False)
    assert switched.status_code == 303
    assert "个人资料" in client.get("/profile").text
    refused = client.post("/profile/language", data={"_csrf_token": csrf, "language": "fr"})
    assert refused.status_code == 422 and "语言：请选择 English 或简体中文。" in refused.text


def test_changing_the_password_checks_the_current_one_and_keeps_this_session_only(app, alice, world):
    client, csrf = alice
    with TestClient(app) as other:
        signed_in(other, "alice")
        wrong = client.post("/profile/password", data={"_csrf_token": csrf, "current": "not it at all", "new": "a brand new secret",
                                                       "again": "a brand new secret"})
        assert wrong.status_code == 422 and "Current password: this is not your password." in wrong.text
        short = client.post("/profile/password", data={"_csrf_token": csrf, "current": PASSWORD, "new": "short", "again": "short"})
        assert short.status_code == 422 and "New password: use at least 10 characters." in short.text
        mismatch = client.post("/profile/password", data={"_csrf_token": csrf, "current": PASSWORD, "new": "a brand new secret",
                                                          "again": "a brand new secreT"})
        assert mismatch.status_code == 422 and "the two do not match" in mismatch.text
        changed = client.post("/profile/password", data={"_csrf_token": csrf, "current": PASSWORD, "new": "a brand new secret",
                                                         "again": "a brand new secret"})
        assert changed.status_code == 200 and "Your password was changed." in changed.text
        assert client.get("/profile", follow_redirects=False).status_code == 200  # this browser stays signed in
        assert other.get("/profile", follow_redirects=False).status_code == 303  # the other one is signed out
    with TestClient(app) as fresh:
        form = fresh.get("/login").text
        token = re.search(r'name="_csrf_token" value="([^"]+)"', form).group(1)
        old = fresh.post("/login", data={"username": "alice", "password": PASSWORD, "_csrf_token": token})
        assert old.status_code == 401
        new = fresh.post("/login", data={"username": "alice", "password": "a brand new secret", "_csrf_token": token})
        assert new.status_code == 200 and str(new.url).endswith("/")


def test_a_token_is_shown_once_works_on_the_api_and_can_be_revoked(alice):
    client, csrf = alice
    bad = client.post("/profile/tokens", data={"_csrf_token": csrf, "name": "", "days": "9999"})
    assert bad.status_code == 422 and "Name: say what the token is for" in bad.text and "from 1 to 366" in bad.text
    made = client.post("/profile/tokens", data={"_csrf_token": csrf, "name": "ERP sync", "days": "30"})
    assert made.status_code == 200 and "copy it now" in made.text
    plain = re.search(r'id="new-token" readonly value="([^"]+)"', made.text).group(1)
    assert plain.startswith("tsk_") and plain not in client.get("/profile").text
    with TestClient(client.app) as program:  # no session: the token alone
        assert program.get("/api/records/account", headers={"Authorization": f"Bearer {plain}"}).status_code == 200
    token_id = re.search(r'action="/profile/tokens/(\d+)/revoke"', client.get("/profile").text).group(1)
    revoked = client.post(f"/profile/tokens/{token_id}/revoke", data={"_csrf_token": csrf}, follow_redirects=False)
    assert revoked.status_code == 303
    assert "Revoked" in client.get("/profile").text
    with TestClient(client.app) as stranger:
        assert stranger.get("/api/records/account", headers={"Authorization": f"Bearer {plain}"}).status_code == 401


def test_a_user_cannot_revoke_someone_elses_token(app, world):
    with TestClient(app) as bob:
        csrf = signed_in(bob, "bob")
        bob.post("/profile/tokens", data={"_csrf_token": csrf, "name": "Bob's script", "days": "5"})
        token_id = re.search(r'action="/profile/tokens/(\d+)/revoke"', bob.get("/profile").text).group(1)
    with TestClient(app) as alice:
        csrf = signed_in(alice, "alice")
        refused = alice.post(f"/profile/tokens/{token_id}/revoke", data={"_csrf_token": csrf})
        assert refused.status_code == 404 and "There is no such token of yours." in refused.text
        assert "Bob's script" not in alice.get("/profile").text
    assert world.runtime is not None


def test_the_profile_needs_a_signed_in_user_and_a_form_token(app):
    with TestClient(app) as client:
        assert client.get("/profile", follow_redirects=False).headers["location"] == "/login?next=/profile"
        signed_in(client, "alice")
        forged = client.post("/profile/tokens", data={"name": "x"})
        assert forged.status_code == 403
