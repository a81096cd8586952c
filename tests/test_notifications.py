"""Notifications: the service (a user's own only, one per key, none when the cause rolls back), @mentions in notes
(through the record page's real composer), the API, the bell and the page, and each user's e-mail choice.

People come from access_world.py (every one with the password PASSWORD), plus tess, a team lead who reads every
account and activity. Both databases.
"""

from __future__ import annotations

import re

import pytest
from access_world import PASSWORD
from helpers import label
from litestar.testing import TestClient
from test_ui_pages import signed_in

from core import mentions, notifications
from core.api.app import create_app
from core.auth import Accounts
from core.db import read_transaction, write_transaction

LEAD = {"name": "lead", "label": label("Team lead", "组长"),
        "objects": {"account": {"read": "all"}, "activity": {"read": "all"}, "contact": {"read": "all"}}}


@pytest.fixture
def tess(world) -> int:
    """A team lead who may read every account and activity: the one a rep's mention reaches."""
    world.runtime.import_changeset({"format": "tessera-changeset/1", "permission_sets": [LEAD]}, "test", "test")
    user, _made = Accounts(world.runtime).add_user("tess", PASSWORD, "lead", ["East"], full_name="Tess Lead")
    world.users["tess"] = user["id"]
    return user["id"]


@pytest.fixture
def app(world):
    return create_app(world.runtime)


def notify(runtime, user_ids, **what) -> list[int]:
    with write_transaction(runtime.engine) as conn:
        return notifications.notify(conn, user_ids, what.pop("kind", "rule"), **what)


def listed(runtime, user_id, lang="en", **options):
    with read_transaction(runtime.engine) as conn:
        return notifications.items(conn, user_id, lang, **options)


def unread(runtime, user_id) -> int:
    with read_transaction(runtime.engine) as conn:
        return notifications.unread_count(conn, user_id)


# --- the service -------------------------------------------------------------------------------------------


def test_a_user_reads_and_marks_only_their_own(world):
    runtime, alice, bob = world.runtime, world.users["alice"], world.users["bob"]
    [for_alice] = notify(runtime, [alice], text="Quarterly numbers are in")
    [for_bob] = notify(runtime, [bob], text="Your deal moved")
    found, more = listed(runtime, alice)
    assert [n.id for n in found] == [for_alice] and not more and found[0].message == "Quarterly numbers are in"
    with write_transaction(runtime.engine) as conn:
        assert notifications.mark_read(conn, alice, [for_bob]) == 0  # not hers: left as it is
        assert notifications.one(conn, alice, for_bob) is None
    assert unread(runtime, bob) == 1
    with write_transaction(runtime.engine) as conn:
        assert notifications.mark_read(conn, alice, notifications.ALL) == 1
    assert unread(runtime, alice) == 0 and unread(runtime, bob) == 1
    [mine] = listed(runtime, alice)[0]
    assert mine.read and mine.read_at is not None
    assert listed(runtime, alice, unread_only=True)[0] == []


def test_a_key_notifies_each_user_once(world):
    runtime, alice, bob = world.runtime, world.users["alice"], world.users["bob"]
    first = notify(runtime, [alice], kind="approval", text="Approve the discount", key="approval:deal:7")
    again = notify(runtime, [alice, bob, bob], kind="approval", text="Approve the discount", key="approval:deal:7")
    assert len(first) == 1 and len(again) == 1  # bob's only: alice has hers
    with write_transaction(runtime.engine) as conn:
        notifications.mark_read(conn, alice, notifications.ALL)
    assert notify(runtime, [alice], kind="approval", text="Approve the discount", key="approval:deal:7") == []  # read or not
    assert unread(runtime, alice) == 0 and unread(runtime, bob) == 1
    assert len(notify(runtime, [alice], text="Another", key="approval:deal:8")) == 1


def test_a_notification_exists_only_if_its_transaction_commits(world):
    runtime, alice = world.runtime, world.users["alice"]
    with pytest.raises(RuntimeError):
        with write_transaction(runtime.engine) as conn:
            notifications.notify(conn, [alice], "rule", text="the deal was won")
            raise RuntimeError("the change failed")
    assert unread(runtime, alice) == 0 and listed(runtime, alice)[0] == []


def test_a_message_code_is_read_in_the_readers_language_and_pages_go_back_by_id(world):
    runtime, alice = world.runtime, world.users["alice"]
    params = {"actor": "Bob", "title": "Acme", "subject": "Renewal"}
    notify(runtime, [alice], kind="mention", code="notice_mention", params=params, text="Bob mentioned you", object="account",
           record_id=world.accounts["alice"])
    [n], _more = listed(runtime, alice, "zh-CN")
    assert n.message == "Bob 在“Acme”中提到了你：“Renewal”" and n.link == f"/r/account/{world.accounts['alice']}"
    assert listed(runtime, alice, "en")[0][0].message == "Bob mentioned you on Acme: “Renewal”"
    notify(runtime, [alice], code="plugin.gone", text="A plain fallback")  # a code nobody words: its text
    assert listed(runtime, alice)[0][0].message == "A plain fallback"
    for i in range(5):
        notify(runtime, [alice], text=f"number {i}")
    first, more = listed(runtime, alice, limit=3)
    assert [n.message for n in first] == ["number 4", "number 3", "number 2"] and more
    rest, more = listed(runtime, alice, limit=10, before_id=first[-1].id)
    assert [n.message for n in rest][:2] == ["number 1", "number 0"] and len(rest) == 4 and not more


def test_the_service_object_does_the_same_each_call_in_a_transaction_of_its_own(world):
    service, alice, bob = notifications.Notifications(world.runtime), world.users["alice"], world.users["bob"]
    made = service.notify([alice, bob], "rule", code="notice_mention_plain", params={"actor": "Bob", "subject": "Q3"})
    assert len(made) == 2 and service.unread_count(alice) == 1
    found, more = service.list(alice, "zh-CN", unread_only=True, limit=5)
    assert [n.message for n in found] == ["Bob 在“Q3”中提到了你"] and not more
    assert service.get(alice, made[1]) is None and service.get(bob, made[1]).id == made[1]  # bob's is his alone
    assert service.mark_read(alice, made) == 1 and service.unread_count(alice) == 0 and service.unread_count(bob) == 1
    service.set_email_choice(bob, "never")
    assert service.email_choice(bob) == "never" and service.email_choice(alice) == "each"


def test_a_mistake_in_the_arguments_is_said_plainly(world):
    with write_transaction(world.runtime.engine) as conn:
        with pytest.raises(ValueError, match="kind"):
            notifications.notify(conn, [1], "Not A Kind", text="x")
        with pytest.raises(ValueError, match="needs a message"):
            notifications.notify(conn, [1], "rule")
        with pytest.raises(ValueError, match="both object and record_id"):
            notifications.notify(conn, [1], "rule", text="x", object="account")
        assert notifications.notify(conn, [], "rule", text="nobody") == []


def test_each_user_chooses_their_email(world):
    alice, bob = world.users["alice"], world.users["bob"]
    with write_transaction(world.runtime.engine) as conn:
        assert notifications.email_choice(conn, alice) == notifications.EMAIL_DEFAULT == "each"
        notifications.set_email_choice(conn, alice, "digest")
        notifications.set_email_choice(conn, alice, "never")
        with pytest.raises(ValueError):
            notifications.set_email_choice(conn, alice, "sometimes")
    with read_transaction(world.runtime.engine) as conn:
        assert notifications.email_choice(conn, alice) == "never" and notifications.email_choice(conn, bob) == "each"


# --- @mentions ----------------------------------------------------------------------------------------------


def test_mentions_are_logins_and_quoted_full_names_never_email_addresses():
    assert mentions.mentioned("ask @Tess, and @bob.") == ({"tess", "bob", "bob."}, set())
    assert mentions.mentioned("write to wang@example.com or a@b") == (set(), set())
    logins, names = mentions.mentioned('请@alice看一下，@"Tess  Lead" and @“林 舟”')
    assert "alice" in logins and names == {"tess lead", "林 舟"}
    assert mentions.mentioned(None) == (set(), set()) and mentions.mentioned("@ nothing") == (set(), set())


def test_a_note_notifies_each_mentioned_user_who_may_read_it(world, tess):
    runtime, account = world.runtime, world.accounts["alice"]
    runtime.records.create(world.actor("alice"), "activity", {
        "subject": "Pricing call", "activity_type": "note", "related_object": "account", "related_id": account,
        "description": "@tess please look; @bob too (he may not read it), @alice is me, @nobody is nobody, mail wang@example.com"})
    [n], _more = listed(runtime, tess)
    assert n.kind == "mention" and n.link == f"/r/account/{account}" and n.actor == "Alice"
    assert n.message == "Alice mentioned you on Alice Industries: “Pricing call”"
    assert unread(runtime, world.users["bob"]) == 0  # a rep reads his own activities only
    assert unread(runtime, world.users["alice"]) == 0  # the author is not told of her own note


def test_a_note_changed_to_mention_someone_notifies_them_once(world, tess):
    runtime, alice = world.runtime, world.actor("alice")
    note = runtime.records.create(alice, "activity", {"subject": "Follow-up", "activity_type": "note", "related_object": "account",
                                                      "related_id": world.accounts["alice"], "description": "nobody yet"})
    assert unread(runtime, tess) == 0
    changed = runtime.records.update(alice, "activity", note["id"], {"description": 'now @"tess lead" should see'}, version=note["version"])
    assert unread(runtime, tess) == 1
    runtime.records.update(alice, "activity", note["id"], {"description": "@tess and @TESS, again"}, version=changed["version"])
    assert unread(runtime, tess) == 1  # one notification per note and user


def test_a_mention_in_a_note_that_is_refused_notifies_nobody(world, tess):
    from core.validation import RecordValidationError

    with pytest.raises(RecordValidationError):
        world.runtime.records.create(world.actor("alice"), "activity", {"activity_type": "note", "description": "@tess"})  # no subject
    assert unread(world.runtime, tess) == 0


def test_a_mention_through_the_record_pages_composer_reaches_the_bell_and_opens_the_record(app, world, tess):
    account = world.accounts["alice"]
    with TestClient(app) as alice:
        csrf = signed_in(alice, "alice")
        page = alice.get(f"/r/account/{account}/compose/note", headers={"HX-Request": "true"})
        assert "to notify them" in page.text  # the composer says how to mention
        logged = alice.post(f"/r/account/{account}/activities", data={"_csrf_token": csrf, "kind": "note", "subject": "Discount?",
                                                                    "description": "@tess can we give 10%?"}, follow_redirects=False)
        assert logged.status_code == 303
    with TestClient(app) as lead:
        signed_in(lead, "tess")
        home = lead.get("/")
        assert re.search(r'<span class="count-badge" aria-hidden="true">1</span>', home.text)
        panel = lead.get("/notifications/panel", headers={"HX-Request": "true"})
        assert "Alice mentioned you on Alice Industries: “Discount?”" in panel.text and "Mark all read" in panel.text
        [opened] = re.findall(r'href="(/notifications/\d+/open)"', panel.text)
        went = lead.get(opened, follow_redirects=False)
        assert went.status_code == 303 and went.headers["location"] == f"/r/account/{account}"
        assert 'class="count-badge"' not in lead.get("/").text
        assert lead.get("/notifications/count", headers={"HX-Request": "true"}).text.count("count-badge") == 0


def test_the_composer_offers_people_to_mention_as_the_user_may_read_them(app, world, tess):
    with TestClient(app) as client:
        signed_in(client, "root")
        offered = client.get("/mentions", params={"q": "tes"}, headers={"HX-Request": "true"})
        assert offered.status_code == 200 and 'data-login="tess"' in offered.text and "Tess Lead" in offered.text
        assert 'data-login="root"' not in client.get("/mentions", params={"q": "roo"}).text  # not oneself
        assert "option" not in client.get("/mentions", params={"q": ""}).text
        assert "option" not in client.get("/mentions", params={"q": "a b"}).text
    with TestClient(app) as rep:
        signed_in(rep, "alice")
        assert 'data-login="tess"' in rep.get("/mentions", params={"q": "Lead"}).text  # by full name too
    closed = {"name": "closed", "label": label("Closed", "封闭"), "objects": {"user": {"read": "none"}}}
    world.runtime.import_changeset({"format": "tessera-changeset/1", "permission_sets": [closed]}, "test", "test")
    Accounts(world.runtime).add_user("hermit", PASSWORD, "closed", [])
    with TestClient(app) as hermit:
        signed_in(hermit, "hermit")  # a role that may not read the users' directory: nobody is offered
        assert "option" not in hermit.get("/mentions", params={"q": "tes"}).text


# --- the API ------------------------------------------------------------------------------------------------


def test_the_api_lists_counts_and_marks_the_callers_own(api, world):
    runtime, alice, bob = world.runtime, world.users["alice"], world.users["bob"]
    made = [notify(runtime, [alice], text=f"note {i}")[0] for i in range(3)]
    [bobs] = notify(runtime, [bob], text="for bob")
    assert api.get("alice", "/api/notifications/count").json() == {"unread": 3}
    page = api.get("alice", "/api/notifications", params={"limit": 2}).json()
    assert [n["id"] for n in page["items"]] == made[:0:-1] and page["has_more"] and page["unread_count"] == 3
    rest = api.get("alice", "/api/notifications", params={"limit": 2, "before_id": page["items"][-1]["id"]}).json()
    assert [n["id"] for n in rest["items"]] == [made[0]] and not rest["has_more"]
    one = api.post("alice", f"/api/notifications/{made[0]}/read")
    assert one.status_code == 200 and one.json()["read"] and one.json()["unread_count"] == 2
    unread_only = api.get("alice", "/api/notifications", params={"unread": "true"}).json()
    assert {n["id"] for n in unread_only["items"]} == set(made[1:])
    foreign = api.post("alice", f"/api/notifications/{bobs}/read")
    assert foreign.status_code == 404 and foreign.json()["error"] == "not_found" and str(bobs) in foreign.json()["message"]
    assert api.get("bob", "/api/notifications/count").json() == {"unread": 1}
    everything = api.post("alice", "/api/notifications/read-all")
    assert everything.status_code == 200 and everything.json() == {"marked": 2, "unread_count": 0}
    assert api.get("alice", "/api/notifications/count").json() == {"unread": 0}


def test_the_api_refuses_bad_ids_and_parameters_with_clear_json(api):
    assert api.post("alice", "/api/notifications/0/read").status_code == 400
    missing = api.post("alice", "/api/notifications/99999/read")
    assert missing.status_code == 404 and "no notification 99999 of yours" in missing.json()["message"]
    assert api.post("alice", "/api/notifications/abc/read").status_code in (404, 405)
    too_many = api.get("alice", "/api/notifications", params={"limit": 1000})
    assert too_many.status_code == 400 and "limit must be between 1 and 100" in too_many.json()["message"]
    assert api.get("alice", "/api/notifications", params={"unread": "perhaps"}).status_code == 400
    assert api.get("alice", "/api/notifications", params={"before_id": "-3"}).status_code == 400
    with TestClient(api.client.app) as anonymous:
        assert anonymous.get("/api/notifications").status_code == 401
    chinese = api.post("alice", "/api/notifications/99999/read", headers={"Accept-Language": "zh-CN"})
    assert chinese.status_code == 404


def test_the_api_says_messages_in_the_users_language(api, world):
    notify(world.runtime, [world.users["alice"]], kind="mention", code="notice_mention_plain", params={"actor": "Bob", "subject": "Q3"})
    api.client.app.state.accounts.set_language(world.users["alice"], "zh_cn")
    [n] = api.get("alice", "/api/notifications").json()["items"]
    assert n["message"] == "Bob 在“Q3”中提到了你" and n["code"] == "notice_mention_plain" and n["params"]["subject"] == "Q3"


# --- the pages ----------------------------------------------------------------------------------------------


def test_the_bell_shows_the_unread_count_and_hides_it_at_zero(app, world):
    with TestClient(app) as client:
        signed_in(client, "alice")
        assert 'class="count-badge"' not in client.get("/").text and 'href="/notifications"' in client.get("/").text
        notify(world.runtime, [world.users["alice"]], text="one")
        notify(world.runtime, [world.users["alice"]], text="two")
        page = client.get("/r/account").text
        assert '<span class="count-badge" aria-hidden="true">2</span>' in page and "2 unread" in page
        assert 'hx-get="/notifications/count" hx-trigger="every 60s"' in page  # refreshed without reloading
        badge = client.get("/notifications/count", headers={"HX-Request": "true"})
        assert badge.status_code == 200 and ">2</span>" in badge.text


def test_the_page_lists_pages_and_marks_read_with_a_form_token(app, world):
    alice = world.users["alice"]
    for i in range(30):
        notify(world.runtime, [alice], text=f"update {i:02d}")
    with TestClient(app) as client:
        csrf = signed_in(client, "alice")
        page = client.get("/notifications")
        assert page.status_code == 200 and "update 29" in page.text and "update 05" in page.text and "update 04" not in page.text
        older = re.search(r'href="(/notifications\?before=\d+)"', page.text).group(1)
        second = client.get(older).text
        assert "update 04" in second and "update 00" in second and "Newest" in second
        first_id = re.search(r'action="/notifications/(\d+)/read"', page.text).group(1)
        assert client.post(f"/notifications/{first_id}/read", data={}).status_code == 403  # no form token
        marked = client.post(f"/notifications/{first_id}/read?in=page", data={"_csrf_token": csrf}, headers={"HX-Request": "true"})
        assert marked.status_code == 200 and "29 unread" in marked.text and 'hx-swap-oob="true"' in marked.text
        done = client.post("/notifications/read-all", data={"_csrf_token": csrf}, follow_redirects=False)
        assert done.status_code == 303 and unread(world.runtime, alice) == 0
        assert "No unread notifications" in client.get("/notifications?unread=1").text


def test_the_panel_marks_all_read_and_draws_the_badge_again(app, world):
    notify(world.runtime, [world.users["alice"]], text="hello")
    notify(world.runtime, [world.users["bob"]], text="not for alice")
    with TestClient(app) as client:
        csrf = signed_in(client, "alice")
        panel = client.get("/notifications/panel", headers={"HX-Request": "true"}).text
        assert "hello" in panel and "not for alice" not in panel and 'class="notif-item unread"' in panel
        after = client.post("/notifications/read-all", data={"_csrf_token": csrf}, headers={"HX-Request": "true"})
        assert after.status_code == 200 and 'class="notif-item"' in after.text and 'id="notif-count"' in after.text
        assert "Mark all read" not in after.text and 'class="count-badge"' not in after.text
    assert unread(world.runtime, world.users["bob"]) == 1


def test_someone_elses_notification_does_not_open(app, world):
    [bobs] = notify(world.runtime, [world.users["bob"]], text="bob's", object="account", record_id=world.accounts["bob"])
    with TestClient(app) as client:
        signed_in(client, "alice")
        refused = client.get(f"/notifications/{bobs}/open", follow_redirects=False)
        assert refused.status_code == 404 and "There is no such notification of yours." in refused.text
    assert unread(world.runtime, world.users["bob"]) == 1


def test_the_pages_read_in_chinese(app, world):
    notify(world.runtime, [world.users["alice"]], kind="mention", code="notice_mention_plain", params={"actor": "Bob", "subject": "报价"})
    with TestClient(app) as client:
        csrf = signed_in(client, "alice")
        client.post("/profile/language", data={"_csrf_token": csrf, "language": "zh-CN"})
        page = client.get("/notifications").text
        assert "通知" in page and "全部标为已读" in page and "Bob 在“报价”中提到了你" in page and "1 条未读" in page and "刚刚" in page


def test_the_email_choice_is_saved_on_the_profile(app, world):
    with TestClient(app) as client:
        csrf = signed_in(client, "alice")
        page = client.get("/profile").text
        assert "E-mail me" in page and 'value="each" checked' in page
        saved = client.post("/profile/notifications", data={"_csrf_token": csrf, "email": "digest"}, follow_redirects=False)
        assert saved.status_code == 303
        assert 'value="digest" checked' in client.get("/profile").text
        refused = client.post("/profile/notifications", data={"_csrf_token": csrf, "email": "hourly"})
        assert refused.status_code == 422 and "choose one of the three" in refused.text
        assert client.post("/profile/notifications", data={"email": "never"}).status_code == 403  # no form token
    with read_transaction(world.runtime.engine) as conn:
        assert notifications.email_choice(conn, world.users["alice"]) == "digest"
