"""E-mail through SMTP from the job queue (core/mail.py), against a real SMTP server on loopback (aiosmtpd): a mail is
queued in the caller's transaction and sent by a worker; Chinese subjects, names and bodies arrive intact; STARTTLS
and TLS from the start with a verified certificate, AUTH PLAIN and LOGIN; a server that is down or refuses makes
the job retry and at last die with the error; without TESSERA_SMTP_URL the job fails saying so. SQLite and
PostgreSQL, since the queue lives in the database."""

from __future__ import annotations

import pytest

from core import mail, queue
from core.db import write_transaction
from core.settings import Settings, SettingsError, smtp_server
from mail_server import configure, due_now, free_port, job, jobs, run_jobs

SUBJECT = "报价已批准：上海远景科技 Q3 订单"
TEXT = "王伟您好：\n\n贵公司的报价已批准，金额 ¥128,000。\n\n— Tessera"
HTML = "<p>王伟您好：</p><p>贵公司的报价已<b>批准</b>。</p>"


def body(message, kind="plain") -> str:
    """A part's text as a mail program shows it (lines end in CRLF on the wire, as RFC 2045 says)."""
    return message.get_body((kind,)).get_content().replace("\r\n", "\n").rstrip("\n")


def enqueue(runtime, to="王伟 <wang@example.com>", subject=SUBJECT, text=TEXT, html=None, key=None, **options) -> int:
    with write_transaction(runtime.engine) as conn:
        return mail.enqueue_mail(conn, to, subject, text, html, key=key, **options)


def test_a_queued_mail_is_delivered_by_the_worker_with_chinese_subject_names_and_bodies_intact(runtime, start_server):
    server = start_server()
    configure(runtime, server.url)
    made = enqueue(runtime, html=HTML)
    assert server.inbox.envelopes == []  # nothing is sent when it is queued: a worker sends it
    assert job(runtime, made).queue == "mail" and job(runtime, made).kind == "mail.send"
    run_jobs(runtime)
    assert job(runtime, made).state == "done"
    [envelope] = server.inbox.envelopes
    assert envelope.mail_from == "crm@example.com" and envelope.rcpt_tos == ["wang@example.com"]
    [message] = server.inbox.messages()
    assert message["Subject"] == SUBJECT
    assert str(message["From"]) == "Tessera 客户关系 <crm@example.com>" and message["From"].addresses[0].display_name == "Tessera 客户关系"
    assert message["To"].addresses[0].display_name == "王伟"
    assert message["Message-ID"].endswith("@example.com>") and message["Date"]
    assert body(message) == TEXT
    assert message.get_body(("plain",)).get_content_charset() == "utf-8"
    assert body(message, "html") == HTML
    raw = server.inbox.envelopes[0].content
    assert "报价".encode() not in raw.split(b"\r\n\r\n", 1)[0]  # the headers travel as RFC 2047 encoded words


def test_a_mail_without_html_is_plain_text_and_goes_to_every_address(runtime, start_server):
    server = start_server()
    configure(runtime, server.url)
    enqueue(runtime, to=["a@example.com", "李娜 <li@example.com>"], subject="Hello", text="Plain text")
    run_jobs(runtime)
    [message] = server.inbox.messages()
    assert server.inbox.envelopes[0].rcpt_tos == ["a@example.com", "li@example.com"]
    assert message.get_content_type() == "text/plain" and body(message) == "Plain text"


def test_a_key_keeps_a_mail_single_however_often_it_is_queued(runtime, start_server):
    server = start_server()
    configure(runtime, server.url)
    first = enqueue(runtime, key="quote:7:approved")
    assert enqueue(runtime, key="quote:7:approved") == first
    assert enqueue(runtime, key="x" * 400) == enqueue(runtime, key="x" * 400)  # a long key is hashed, still one mail
    run_jobs(runtime)
    assert len(server.inbox.envelopes) == 2


def test_a_mail_queued_in_a_transaction_rolled_back_is_never_sent(runtime, start_server):
    server = start_server()
    configure(runtime, server.url)
    with pytest.raises(RuntimeError):
        with write_transaction(runtime.engine) as conn:
            mail.enqueue_mail(conn, "wang@example.com", SUBJECT, TEXT)
            raise RuntimeError("the change that would have sent it is refused")
    assert jobs(runtime) == []
    run_jobs(runtime)  # core's scheduled jobs may run: no mail job does
    assert jobs(runtime, mail.SEND) == [] and server.inbox.envelopes == []


@pytest.mark.parametrize("exclude, mechanism", [((), "PLAIN"), (("PLAIN",), "LOGIN")])
def test_starttls_with_a_verified_certificate_and_auth(runtime, start_server, exclude, mechanism):
    server = start_server("starttls", auth=True, exclude=exclude)
    assert "starttls=true" in server.url
    configure(runtime, server.url)
    made = enqueue(runtime)
    run_jobs(runtime)
    assert job(runtime, made).state == "done", job(runtime, made).last_error
    assert server.authenticator.mechanisms == [mechanism]
    assert server.inbox.messages()[0]["Subject"] == SUBJECT


def test_tls_from_the_start_smtps(runtime, start_server):
    server = start_server("tls", auth=True)
    configure(runtime, server.url)
    made = enqueue(runtime)
    run_jobs(runtime)
    assert job(runtime, made).state == "done", job(runtime, made).last_error
    assert body(server.inbox.messages()[0]) == TEXT


def test_a_wrong_password_or_an_untrusted_certificate_fails_the_job_with_the_servers_reason(runtime, start_server):
    server = start_server("starttls", auth=True)
    configure(runtime, server.url.replace("s3cret", "wrong"))
    wrong = enqueue(runtime, max_attempts=1)
    run_jobs(runtime)
    assert job(runtime, wrong).state == "dead" and "SMTPAuthenticationError" in job(runtime, wrong).last_error
    configure(runtime, server.url.split("&cafile=")[0])  # the system's authorities do not know the test's
    untrusted = enqueue(runtime, max_attempts=1)
    run_jobs(runtime)
    assert job(runtime, untrusted).state == "dead" and "CERTIFICATE_VERIFY_FAILED" in job(runtime, untrusted).last_error
    assert server.inbox.envelopes == []


def test_a_server_that_is_down_makes_the_job_retry_then_die_with_the_error(runtime, start_server):
    port = free_port()  # nothing listens here
    configure(runtime, f"smtp://127.0.0.1:{port}?timeout=5")
    made = enqueue(runtime, max_attempts=3)
    run_jobs(runtime)
    row = job(runtime, made)
    assert (row.state, row.attempts) == ("queued", 1) and row.run_at > row.created_at  # waits out its backoff
    assert f"could not connect to the SMTP server smtp://127.0.0.1:{port}" in row.last_error and "Connection refused" in row.last_error
    due_now(runtime)
    run_jobs(runtime)
    assert (job(runtime, made).state, job(runtime, made).attempts) == ("queued", 2)
    due_now(runtime)
    run_jobs(runtime)
    row = job(runtime, made)
    assert (row.state, row.attempts) == ("dead", 3) and "Connection refused" in row.last_error
    server = start_server()  # the server is back: an administrator retries the dead job, and it is sent
    configure(runtime, server.url)
    assert queue.retry(runtime.engine, made)
    run_jobs(runtime)
    assert job(runtime, made).state == "done" and len(server.inbox.envelopes) == 1


def test_without_an_smtp_url_the_job_fails_saying_so_and_nothing_is_dropped(runtime):
    configure(runtime, None)
    made = enqueue(runtime, max_attempts=1)
    run_jobs(runtime)
    row = job(runtime, made)
    assert row.state == "dead" and "TESSERA_SMTP_URL is not set" in row.last_error
    configure(runtime, "smtp://127.0.0.1:25", mail_from=None)
    queue.retry(runtime.engine, made)
    run_jobs(runtime)
    assert "TESSERA_MAIL_FROM is not set" in job(runtime, made).last_error


def test_a_recipient_the_server_refuses_fails_the_job_with_its_reply(runtime, start_server):
    server = start_server()

    async def refuse(server_, session, envelope, address, rcpt_options):
        return "550 5.1.1 mailbox unavailable" if address.startswith("nobody") else "250 OK"

    server.inbox.handle_RCPT = refuse
    configure(runtime, server.url)
    made = enqueue(runtime, to="nobody@example.com", max_attempts=1)
    run_jobs(runtime)
    row = job(runtime, made)
    assert row.state == "dead" and "SMTPRecipientsRefused" in row.last_error and "mailbox unavailable" in row.last_error


def test_mail_is_queued_only_with_what_a_mail_needs():
    with pytest.raises(ValueError, match="at least one recipient"):
        mail._addresses([])
    with pytest.raises(ValueError, match="not one e-mail address"):
        mail._addresses("not an address")
    with pytest.raises(ValueError, match="is not an e-mail address"):
        mail._addresses("a@example.com\r\nBcc: victim@example.com")


def test_the_smtp_url_is_read_once_with_the_other_settings():
    settings = Settings.from_env({"TESSERA_SMTP_URL": "smtp://us%40er:p%3Ass@mail.example.com:587?starttls=true",
                                  "TESSERA_MAIL_FROM": "Tessera <crm@example.com>", "TESSERA_BASE_URL": "https://crm.example.com/"})
    server = settings.smtp
    assert (server.host, server.port, server.security, server.username, server.password) == ("mail.example.com", 587, "starttls", "us@er", "p:ss")
    assert "p:ss" not in repr(settings) and settings.base_url == "https://crm.example.com"
    assert smtp_server("smtps://mail.example.com").port == 465 and smtp_server("smtp://localhost").port == 25
    assert Settings.from_env({}).smtp is None
    for wrong, said in [("http://mail.example.com", "smtp or smtps"), ("smtp://", "names no host"), ("smtps://h?starttls=true", "TLS from the start"),
                        ("smtp://h?tls=1", "unknown option 'tls'"), ("smtp://h?timeout=0", "timeout")]:
        with pytest.raises(SettingsError, match=said):
            smtp_server(wrong)
    with pytest.raises(SettingsError, match="not an e-mail address"):
        Settings.from_env({"TESSERA_MAIL_FROM": "crm"})
    with pytest.raises(SettingsError, match="http or https"):
        Settings.from_env({"TESSERA_BASE_URL": "crm.example.com"})


def test_the_jobs_page_kinds_are_core_built_ins_a_plugin_may_not_take():
    from core.scheduler import BUILT_IN

    assert {"mail.send", "mail.template"} <= set(BUILT_IN)

