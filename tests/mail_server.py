"""A real SMTP server on loopback for the mail tests (aiosmtpd), with STARTTLS, TLS from the start and AUTH when
asked, and a test authority's certificate (trustme); the mails it took, read back as a mail program reads them. Its
fixtures (``authority``, ``start_server``) are loaded by tests/conftest.py."""

from __future__ import annotations

import dataclasses
import email
import socket
import ssl
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest
import sqlalchemy as sa
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from core import queue, scheduler
from core.coretables import job as job_table
from core.db import read_transaction, write_transaction
from core.settings import smtp_server

USER, PASSWORD = "crm", "s3cret:密码"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Inbox:
    """The aiosmtpd handler: keeps each mail it takes, with its envelope."""

    def __init__(self) -> None:
        self.envelopes: list = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def messages(self) -> list[EmailMessage]:
        return [email.message_from_bytes(e.original_content or e.content, policy=policy.default) for e in self.envelopes]


class Authenticator:
    """Accepts USER with PASSWORD; remembers the mechanisms clients used."""

    def __init__(self) -> None:
        self.mechanisms: list[str] = []

    def __call__(self, server, session, envelope, mechanism, auth_data):
        self.mechanisms.append(mechanism)
        good = isinstance(auth_data, LoginPassword) and auth_data.login == USER.encode() and auth_data.password == PASSWORD.encode()
        return AuthResult(success=good, handled=False)


@dataclasses.dataclass
class MailServer:
    controller: Controller
    inbox: Inbox
    url: str
    authenticator: Authenticator | None = None

    def stop(self) -> None:
        self.controller.stop()


@pytest.fixture(scope="session")
def authority(tmp_path_factory) -> tuple[trustme.CA, Path]:
    """A test certificate authority, and the file a client trusts it by."""
    ca = trustme.CA()
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return ca, path


def server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


@pytest.fixture
def start_server(authority):
    """start_server(security="plain"|"starttls"|"tls", auth=False, exclude=()): an SMTP server on a free loopback port."""
    started: list[MailServer] = []
    ca, cafile = authority

    def start(security: str = "plain", auth: bool = False, exclude: tuple[str, ...] = ()) -> MailServer:
        port, inbox = free_port(), Inbox()
        authenticator = Authenticator() if auth else None
        options: dict = {"hostname": "127.0.0.1", "port": port}
        if security == "starttls":
            options.update(tls_context=server_context(ca), require_starttls=True)
        elif security == "tls":
            options.update(ssl_context=server_context(ca))
        if auth:
            # aiosmtpd knows TLS only through STARTTLS: with TLS from the start it would not offer AUTH if it had to see TLS
            options.update(authenticator=authenticator, auth_require_tls=security == "starttls", auth_exclude_mechanism=list(exclude))
        controller = Controller(inbox, **options)
        controller.start()
        credentials = f"{USER}:{'s3cret%3A%E5%AF%86%E7%A0%81'}@" if auth else ""
        scheme = "smtps" if security == "tls" else "smtp"
        query = "starttls=true&" if security == "starttls" else ""
        tls_query = f"?{query}cafile={cafile}&timeout=10" if security != "plain" else "?timeout=10"
        server = MailServer(controller, inbox, f"{scheme}://{credentials}127.0.0.1:{port}{tls_query}", authenticator)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def configure(runtime, url: str | None, mail_from: str | None = "Tessera 客户关系 <crm@example.com>",
              base_url: str = "https://crm.example.com") -> None:
    """Point the runtime's mail at ``url`` (None: no SMTP server set)."""
    runtime.settings = dataclasses.replace(runtime.settings, smtp=smtp_server(url) if url else None, mail_from=mail_from,
                                           base_url=base_url)


def run_jobs(runtime) -> int:
    """Run every due job in this thread, as `tessera worker --until-idle` does; how many ran."""
    return scheduler.JobRunner(runtime).run_until_idle()


def due_now(runtime) -> None:
    """Make the jobs waiting out a backoff due at once."""
    with write_transaction(runtime.engine) as conn:
        conn.execute(sa.update(job_table).where(job_table.c.state == "queued").values(run_at=queue.now()))


def job(runtime, job_id: int):
    with read_transaction(runtime.engine) as conn:
        return queue.job_row(conn, job_id)


def jobs(runtime, kind: str | None = None) -> list:
    with read_transaction(runtime.engine) as conn:
        return [row for row in reversed(queue.jobs(conn, limit=1000)) if kind is None or row.kind == kind]
