"""E-mail: sent through SMTP by the job queue, never from a request.

``enqueue_mail`` puts a ``mail.send`` job on the queue (queue ``mail``) in the caller's
transaction: the mail exists if and only if that transaction commits. A worker's handler builds
the message (standard library ``email.message.EmailMessage``: UTF-8 headers and bodies, a text
part and optionally an HTML alternative) and hands it to the server TESSERA_SMTP_URL names
(``smtplib``: plain, STARTTLS or TLS from the start, with AUTH when the URL carries a user).
A failure raises, so the queue retries the job with its backoff and at last marks it dead with
the error, shown on Setup → Jobs. Without TESSERA_SMTP_URL the job fails saying so: a mail is
never dropped silently.

``send_template`` does the same for an e-mail template (core/email_templates.py) about a
record: it enqueues one ``mail.template`` job, whose handler renders the template for each
recipient in their language and enqueues one ``mail.send`` per recipient. A template that
fails to render fails that job, with the error.

A mail is sent once per job: with a ``key`` once per key, however often it is enqueued. A
worker stopped after the server took a mail and before the job was marked done sends it again
when the job runs again; it then carries the same Message-ID, made from the job, so that
mail programs show it once.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import smtplib
import ssl
from email.base64mime import body_encode as encode_base64
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, parseaddr
from typing import Any, Iterable, Mapping, Sequence

from sqlalchemy import Connection

from core import queue
from core.db import read_transaction, write_transaction
from core.email_templates import Rendered, language_of, render, variables
from core.metadata.model import SYSTEM_FIELDS
from core.settings import Settings, SmtpServer

log = logging.getLogger("tessera.mail")

SEND = "mail.send"
TEMPLATE = "mail.template"
QUEUE = "mail"
KEY_PREFIX = "mail:"
MAX_RECIPIENTS = 100


class MailError(Exception):
    """A mail that cannot be sent as things are (no server set, the server unreachable or refusing); the job's error."""


# --- enqueuing --------------------------------------------------------------------------------


def enqueue_mail(conn: Connection, to: str | Sequence[str], subject: str, text: str, html: str | None = None,
                 key: str | None = None, *, max_attempts: int = queue.DEFAULT_ATTEMPTS, run_at=None) -> int:
    """Queue an e-mail in the caller's transaction; the job's id. ``to``: one address or several ("王伟
    <wang@example.com>" or "wang@example.com"); ``html``: an HTML alternative to ``text``. With ``key`` the mail is
    queued once however often it is asked for (the first one's job id is returned)."""
    recipients = _addresses(to)
    if not isinstance(subject, str) or not isinstance(text, str) or (html is not None and not isinstance(html, str)):
        raise TypeError("a mail's subject, text and html are texts")
    payload = {"to": recipients, "subject": " ".join(subject.split()), "text": text, "html": html}
    return queue.enqueue(conn, SEND, payload, queue=QUEUE, key=_key(key), max_attempts=max_attempts, run_at=run_at)


def send_template(conn: Connection, runtime: Any, template_name: str, record: Mapping | int,
                  recipients: Iterable[int | str], key: str | None = None, *, sender: int | None = None,
                  language: str = "en", max_attempts: int = queue.DEFAULT_ATTEMPTS) -> int:
    """Queue the e-mail template ``template_name`` about ``record`` for ``recipients``, in the caller's transaction;
    the job's id.

    ``record``: the record as the record service gives it (a dict with its ``id``), or its id, read now (trusted,
    in this transaction). ``recipients``: user ids (each gets the mail at their e-mail address, in their
    language) and e-mail addresses (in ``language``). ``sender``: the id of the user the mail is sent for (the
    template's ``user``). With ``key``, queued once per key. The template is rendered by the job, per recipient:
    a template that fails fails the job, with the error, on Setup → Jobs.
    """
    schema = runtime.schema(conn)
    template = schema.meta.email_templates.get(template_name)
    if template is None:
        from core.words import hint  # noqa: PLC0415

        raise LookupError(f"there is no e-mail template '{template_name}'{hint(template_name, schema.meta.email_templates)}")
    object_name = template["object"]
    if not isinstance(record, Mapping):
        record = _trusted(runtime, conn, schema).get(object_name, record)
    if record.get("id") is None:
        raise ValueError(f"the record of an e-mail template needs its id (a {object_name} record as the record service gives it)")
    people = list(recipients)
    if not people or len(people) > MAX_RECIPIENTS:
        raise ValueError(f"an e-mail template goes to 1 to {MAX_RECIPIENTS} recipients, not {len(people)}")
    for person in people:
        if isinstance(person, bool) or not isinstance(person, (int, str)):
            raise TypeError(f"a recipient is a user's id or an e-mail address, not {person!r}")
        if isinstance(person, str):
            _addresses(person)
    payload = {"name": template_name, "object": object_name, "record": _json(record), "recipients": people,
               "sender": sender, "language": language_of(language)}
    return queue.enqueue(conn, TEMPLATE, payload, queue=QUEUE, key=_key(key), max_attempts=max_attempts)


def _key(key: str | None) -> str | None:
    """The queue's key of a mail: prefixed, and hashed when it would be longer than the queue keeps."""
    if key is None:
        return None
    made = KEY_PREFIX + key
    return made if len(made) <= 200 else KEY_PREFIX + hashlib.sha256(key.encode()).hexdigest()


def _addresses(to: str | Sequence[str]) -> list[str]:
    items = [to] if isinstance(to, str) else list(to)
    if not items:
        raise ValueError("a mail needs at least one recipient")
    for item in items:
        if not isinstance(item, str) or "\n" in item or "\r" in item:
            raise ValueError(f"{item!r} is not an e-mail address")
        found = getaddresses([item])
        if len(found) != 1 or "@" not in found[0][1]:
            raise ValueError(f"'{item}' is not one e-mail address (write 'wang@example.com' or '王伟 <wang@example.com>')")
    return items


def _json(record: Mapping) -> dict:
    """The record as JSON holds it (decimals as numbers, times as ISO text), for the job's payload."""
    def plain(value: Any) -> Any:
        if hasattr(value, "isoformat"):
            return value.isoformat()
        return float(value) if hasattr(value, "as_integer_ratio") else str(value)

    return json.loads(json.dumps(dict(record), default=plain))


def _trusted(runtime: Any, conn: Connection, schema: Any):
    from core.records import Actor, TransactionRecords  # noqa: PLC0415 - records depends on the runtime

    return TransactionRecords(runtime.records, conn, schema, Actor.system())


# --- sending ----------------------------------------------------------------------------------


def build_message(settings: Settings, to: Sequence[str], subject: str, text: str, html: str | None = None,
                  message_id: str | None = None) -> EmailMessage:
    """The message as it is sent: UTF-8 throughout (headers in RFC 2047 encoded words, bodies in UTF-8)."""
    if not settings.mail_from:
        raise MailError("TESSERA_MAIL_FROM is not set: name the address mail comes from (Tessera CRM <crm@example.com>, say), "
                        "then retry the job")
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = ", ".join(to)
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = message_id or _message_id(settings, "")
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: out-of-office replies are not sent back to it
    message.set_content(text, charset="utf-8")
    if html:
        message.add_alternative(html, subtype="html", charset="utf-8")
    return message


def _message_id(settings: Settings, seed: str) -> str:
    domain = parseaddr(settings.mail_from or "")[1].rpartition("@")[2] or "tessera.invalid"
    try:
        domain = Address(domain=domain).domain
    except (ValueError, IndexError):
        domain = "tessera.invalid"
    return f"<tessera.{hashlib.sha256(seed.encode()).hexdigest()[:32]}@{domain}>"


class _Utf8Auth:
    """smtplib's AUTH with the user and password in UTF-8 (RFC 4616, RFC 4954), not ASCII alone: a password may
    hold any character."""

    def auth(self, mechanism, authobject, *, initial_response_ok=True):
        mechanism = mechanism.upper()
        initial = authobject() if initial_response_ok else None
        if initial is not None:
            code, reply = self.docmd("AUTH", f"{mechanism} {encode_base64(initial.encode('utf-8'), eol='')}")
            self._auth_challenge_count = 1
        else:
            code, reply = self.docmd("AUTH", mechanism)
            self._auth_challenge_count = 0
        while code == 334:
            self._auth_challenge_count += 1
            code, reply = self.docmd(encode_base64(authobject(base64.decodebytes(reply)).encode("utf-8"), eol=""))
            if self._auth_challenge_count > 5:
                raise smtplib.SMTPException(f"the server's AUTH goes on and on; its last reply: {code} {reply!r}")
        if code in (235, 503):
            return code, reply
        raise smtplib.SMTPAuthenticationError(code, reply)


class _Client(_Utf8Auth, smtplib.SMTP):
    pass


class _TlsClient(_Utf8Auth, smtplib.SMTP_SSL):
    pass


def deliver(server: SmtpServer | None, message: EmailMessage) -> None:
    """Hand a message to the SMTP server; MailError (or smtplib's own error) when it is not taken for every recipient."""
    if server is None:
        raise _no_server()
    context = ssl.create_default_context(cafile=server.cafile) if server.security != "plain" else None
    try:
        if server.security == "tls":
            client: smtplib.SMTP = _TlsClient(server.host, server.port, timeout=server.timeout, context=context)
        else:
            client = _Client(server.host, server.port, timeout=server.timeout)
    except (OSError, smtplib.SMTPException) as exc:
        raise MailError(f"could not connect to the SMTP server {server.shown()}: {type(exc).__name__}: {exc}") from exc
    with client:
        client.ehlo()
        if server.security == "starttls":
            client.starttls(context=context)
            client.ehlo()
        if server.username is not None:
            client.login(server.username, server.password or "")
        refused = client.send_message(message)
    if refused:
        said = "; ".join(f"{address}: {code} {reply.decode('utf-8', 'replace') if isinstance(reply, bytes) else reply}"
                         for address, (code, reply) in refused.items())
        raise MailError(f"the SMTP server refused some recipients ({said}); the others got the mail")


def _no_server() -> MailError:
    return MailError("TESSERA_SMTP_URL is not set: e-mail cannot be sent until it names an SMTP server "
                     "(smtp://user:password@host:587?starttls=true, say); then retry the job")


def send_job(runtime: Any, job: queue.Job) -> None:
    """The handler of ``mail.send``: build the message and hand it to the SMTP server."""
    payload = job.payload
    settings: Settings = runtime.settings
    if settings.smtp is None:
        raise _no_server()
    message = build_message(settings, payload["to"], payload["subject"], payload["text"], payload.get("html"),
                            _message_id(settings, f"{job.id}:{job.key or ''}"))
    deliver(settings.smtp, message)
    log.info("sent mail job %s to %s", job.id, ", ".join(payload["to"]))


# --- templates ----------------------------------------------------------------------------------


def template_job(runtime: Any, job: queue.Job) -> None:
    """The handler of ``mail.template``: render the template for each recipient in their language and queue one
    ``mail.send`` each, in one transaction. A template that fails to render queues nothing and fails the job; a
    user without an e-mail address fails it too, after the others' mails are queued (retrying it does not queue
    them twice)."""
    payload = job.payload
    with read_transaction(runtime.engine) as conn:
        schema = runtime.schema(conn)
        template = schema.meta.email_templates.get(payload["name"])
        if template is None:
            raise MailError(f"there is no e-mail template '{payload['name']}' any more")
        obj = schema.meta.object(template["object"])
        people, missing = _recipients(schema, conn, payload["recipients"], payload.get("language", "en"))
        sender = _users(schema, conn, [payload["sender"]]).get(payload["sender"]) if payload.get("sender") else None
    names = [*obj.fields, *SYSTEM_FIELDS]
    link = f"{runtime.settings.base_url}/r/{obj.name}/{payload['record'].get('id')}"
    mails: list[tuple[str, Rendered]] = []
    for person in people:
        context = variables(payload["record"], obj, person["language"], person, sender, link, names)
        mails.append((person["to"], render(template, person["language"], context)))
    with write_transaction(runtime.engine) as conn:
        for to, mail in mails:
            seed = f"{job.key or job.id}>{to}"
            enqueue_mail(conn, to, mail.subject, mail.text, mail.html, key=f"template:{hashlib.sha256(seed.encode()).hexdigest()}")
    if missing:
        raise MailError(f"no e-mail address for {', '.join(missing)}: they got no mail; the other {len(mails)} mail(s) are queued")


def _recipients(schema: Any, conn: Connection, recipients: list, language: str) -> tuple[list[dict], list[str]]:
    """Each recipient's address, name and language; the users who have no address. Users made inactive get no mail."""
    users = _users(schema, conn, [r for r in recipients if isinstance(r, int)])
    people, missing = [], []
    for recipient in recipients:
        if isinstance(recipient, str):
            name, address = parseaddr(recipient)
            people.append({"to": recipient, "name": name, "email": address, "username": "", "language": language_of(language)})
            continue
        user = users.get(recipient)
        if user is None:
            missing.append(f"user {recipient} (there is no such user)")
        elif not user["active"]:
            log.info("user %s is inactive or deleted: no mail for them", recipient)
        elif not user["email"]:
            missing.append(f"user {recipient} ({user['username']})")
        else:
            people.append({"to": named_address(user["name"], user["email"]), **user})
    return people, missing


def _users(schema: Any, conn: Connection, ids: list[int]) -> dict[int, dict]:
    if not ids:
        return {}
    table = schema.tables.table("user")
    rows = conn.execute(table.select().where(table.c.id.in_(ids))).mappings()
    return {row["id"]: {"name": row["full_name"] or row["username"], "email": row["email"], "username": row["username"],
                        "language": language_of(row["language"]), "active": row["active"] is not False and row["deleted_at"] is None}
            for row in rows}


def named_address(name: str, address: str) -> str:
    """"王伟 <wang@example.com>", quoted as a header needs it; the bare address when the name cannot be said so."""
    try:
        return str(Address(display_name=name, addr_spec=address)) if name else address
    except (ValueError, IndexError):
        return address
