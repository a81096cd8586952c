"""Notifications by e-mail (core/notification_mail.py), read back from a real SMTP server on loopback: each one as it
comes for users who want that (the default), in their language with a link that opens it; a daily digest of the day's
unread ones for users who chose the digest, once a day; nothing for users who chose none, have no address or left.
Both databases, since the queue and the notifications live there."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from mail_server import configure, due_now, jobs, run_jobs

from core import notification_mail, notifications
from core.coretables import notification
from core.db import read_transaction, write_transaction
from core.records import Actor


def person(runtime, username: str, email: str | None = "{}@example.com", language: str = "en", **more) -> int:
    values = {"username": username, "full_name": username.title(), "language": language, **more}
    if email:
        values["email"] = email.format(username)
    return runtime.records.create(Actor.system(), "user", values)["id"]


def notify(runtime, user_ids, text="Deal Acme moved to Negotiation", **what) -> list[int]:
    with write_transaction(runtime.engine) as conn:
        return notifications.notify(conn, user_ids, "rule", text=text, **what)


def choose(runtime, user_id: int, choice: str) -> None:
    with write_transaction(runtime.engine) as conn:
        notifications.set_email_choice(conn, user_id, choice)


def text_of(message) -> str:
    return message.get_body(("plain",)).get_content().replace("\r\n", "\n")


def test_each_notification_is_mailed_to_its_reader_in_their_language_with_a_link_that_opens_it(runtime, start_server):
    server = start_server()
    configure(runtime, server.url)
    ann, wei = person(runtime, "ann"), person(runtime, "wei", language="zh_cn")
    account = runtime.records.create(Actor.system(), "account", {"name": "Acme"})["id"]
    made = notify(runtime, [ann, wei], text=None, code="notice_mention_plain", params={"actor": "Bo", "subject": "Call Acme"},
                  object="account", record_id=account)
    run_jobs(runtime)
    by_address = {message["To"].addresses[0].addr_spec: message for message in server.inbox.messages()}
    assert set(by_address) == {"ann@example.com", "wei@example.com"}
    assert by_address["ann@example.com"]["Subject"] == "Bo mentioned you in “Call Acme”"
    assert by_address["wei@example.com"]["Subject"] == "Bo 在“Call Acme”中提到了你"
    assert by_address["ann@example.com"]["To"].addresses[0].display_name == "Ann"
    ann_id = made[0]  # notify answers in the order of the users' ids
    assert f"https://crm.example.com/notifications/{ann_id}/open" in text_of(by_address["ann@example.com"])
    assert "在 Tessera 中打开" in text_of(by_address["wei@example.com"]) and "个人资料" in text_of(by_address["wei@example.com"])
    run_jobs(runtime)
    assert len(server.inbox.messages()) == 2  # each mail once


def test_users_who_chose_the_digest_or_none_get_no_mail_as_it_comes(runtime, start_server):
    server = start_server()
    configure(runtime, server.url)
    digest, none, gone = person(runtime, "dee"), person(runtime, "nat"), person(runtime, "gus", active=False)
    choose(runtime, digest, "digest")
    choose(runtime, none, "never")
    no_address = person(runtime, "nia", email=None)
    notify(runtime, [digest, none, gone, no_address])
    run_jobs(runtime)
    assert server.inbox.messages() == []
    assert [j.state for j in jobs(runtime, notification_mail.KIND)] == ["done"]  # no address, or no longer active: no mail
    [waiting] = jobs(runtime, notification_mail.DIGEST)  # the digest waits for 07:00 UTC
    assert waiting.state == "queued" and waiting.payload["user"] == digest


def test_the_daily_digest_gathers_the_days_unread_notifications_once_per_reader_and_day(runtime, start_server):
    server = start_server()
    configure(runtime, server.url)
    dee, wei, nat = person(runtime, "dee"), person(runtime, "wei", language="zh_cn"), person(runtime, "nat")
    for user in (dee, wei):
        choose(runtime, user, "digest")
    choose(runtime, nat, "never")
    first, = notify(runtime, [dee], text="First")
    notify(runtime, [dee, wei, nat], text="Second")
    with write_transaction(runtime.engine) as conn:
        notifications.mark_read(conn, dee, [first])
    digests = jobs(runtime, notification_mail.DIGEST)
    assert sorted(j.payload["user"] for j in digests) == [dee, wei]  # one per reader, however many notifications
    due = dt.datetime.fromisoformat(digests[0].payload["until"])
    assert due.hour == 7 and dt.timedelta(0) < due - dt.datetime.now(dt.timezone.utc) <= dt.timedelta(days=1)
    due_now(runtime)
    with write_transaction(runtime.engine) as conn:  # as if the day had passed: the notifications are from before 07:00
        conn.execute(sa.update(notification).values(created_at=due - dt.timedelta(hours=1)))
    run_jobs(runtime)
    by_address = {message["To"].addresses[0].addr_spec: message for message in server.inbox.messages()}
    assert set(by_address) == {"dee@example.com", "wei@example.com"}
    assert by_address["dee@example.com"]["Subject"] == "Your Tessera notifications of the past day: 1"
    assert "- Second" in text_of(by_address["dee@example.com"]) and "First" not in text_of(by_address["dee@example.com"])
    assert by_address["wei@example.com"]["Subject"] == "你过去一天的 Tessera 通知：1 条"
    assert notification_mail.send_digest(runtime, dee, due + dt.timedelta(days=7)) is False  # nothing unread that week
    notification_mail.send_digest(runtime, dee, due)  # the same day again: its key keeps one mail
    run_jobs(runtime)
    assert len(server.inbox.messages()) == 2


def test_a_notification_rolled_back_queues_no_mail(runtime):
    ann = person(runtime, "ann")
    try:
        with write_transaction(runtime.engine) as conn:
            notifications.notify(conn, [ann], "rule", text="Never")
            raise RuntimeError("the cause fails")
    except RuntimeError:
        pass
    assert [j for j in jobs(runtime) if j.kind == notification_mail.KIND] == []
    with read_transaction(runtime.engine) as conn:
        assert notifications.unread_count(conn, ann) == 0


def test_without_an_smtp_server_notifications_stay_in_the_bell_and_no_mail_is_queued_to_fail(runtime):
    configure(runtime, None)
    wang = person(runtime, "wang")
    notify(runtime, [wang])
    run_jobs(runtime)
    assert [j.kind for j in jobs(runtime) if j.kind.startswith("mail.")] == []
    assert all(j.state == "done" for j in jobs(runtime))
