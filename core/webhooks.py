"""Webhooks: subscriptions per object and event, a signed payload, delivered after commit.

A write that concerns a subscription adds, inside its own transaction, a row to the delivery
log (``webhook_delivery``) and a job to the one job queue (core/queue.py): kind
``webhook.deliver``, queue ``webhooks``, idempotency key ``webhook:<delivery id>``. Both exist
exactly when the write committed, and the request that wrote the record never waits for a
receiver. A worker (``tessera serve`` embeds one, ``tessera worker`` is one) sends the POST and
records the attempt on the delivery; a receiver that does not answer 2xx fails the job, which
the queue tries again after its backoff (10 s doubling, at most an hour) until the job's
``max_attempts`` (8) are spent: then the delivery shows failed and its job is dead, until an
administrator retries it (Setup → Jobs, or ``tessera jobs retry``). Every attempt of a delivery
carries the same ``X-Tessera-Delivery`` id, so a receiver can tell a retry from a new event.

Each POST carries ``X-Tessera-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">``
made with the subscription's secret, ``X-Tessera-Event`` and ``X-Tessera-Delivery``.

The secret is stored encrypted with the installation's key, which is kept outside the
database (core/encryption.py); a secret stored in plain text before that is still used, and
rewritten encrypted when the web process starts or when it is first used.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import secrets
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
import sqlalchemy as sa
from sqlalchemy import Connection, select

from core import queue
from core.coretables import job as job_table
from core.coretables import webhook, webhook_delivery
from core.db import PreparedRead, read_transaction, write_transaction
from core.encryption import MARK, EncryptionError, SecretBox, is_sealed
from core.fieldtypes import iso_utc

EVENTS = ("created", "updated", "deleted")
STATUSES = ("pending", "delivered", "failed")
KIND = "webhook.deliver"  # the queue job that sends one delivery
QUEUE = "webhooks"
ERROR_TEXT_LIMIT = 500
SECRET_LENGTH = (16, 200)  # a secret the admin chooses
log = logging.getLogger("tessera.webhooks")
SUBSCRIBED = PreparedRead(select(webhook.c.id, webhook.c.events).where(webhook.c.object == sa.bindparam("object_name"),
                                                                    webhook.c.active.is_(True)))  # on every write
UTC = dt.timezone.utc

if TYPE_CHECKING:
    from core.records.events import RecordChanges


class WebhookError(ValueError):
    """A subscription that cannot be made as asked; the message names what to fix."""


class UnknownWebhook(LookupError):
    pass


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: str, header: str, body: bytes, tolerance_seconds: int = 300, now: float | None = None) -> bool:
    """What a receiver does: check the signature and that it is recent."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((now or time.time()) - timestamp) > tolerance_seconds:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), header)


def _now() -> dt.datetime:
    return dt.datetime.now(UTC)


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


class Webhooks:
    def __init__(self, runtime, max_attempts: int = 8, timeout_seconds: float = 10.0) -> None:
        self.runtime = runtime
        self.max_attempts = max_attempts  # of each delivery's queue job
        self.timeout_seconds = timeout_seconds
        self.box = SecretBox(runtime.settings)

    # --- subscriptions ------------------------------------------------------------------------

    def subscribe(self, name: str, object_name: str, events: list[str], url: str, secret: str | None = None,
                  created_by: int | None = None) -> tuple[dict, str]:
        """A new subscription; returns it and its signing secret (shown this once)."""
        self.runtime.current_metadata().object(object_name)
        values = self._checked({"name": name, "events": events, "url": url})
        if secret is not None and (not isinstance(secret, str) or not SECRET_LENGTH[0] <= len(secret) <= SECRET_LENGTH[1]
                                   or secret.startswith(MARK)):
            raise WebhookError(f"secret: give {SECRET_LENGTH[0]} to {SECRET_LENGTH[1]} characters not starting with '{MARK}' "
                               "(or leave it out for a generated one)")
        secret = secret or "whsec_" + secrets.token_urlsafe(24)
        with write_transaction(self.runtime.engine) as conn:
            webhook_id = conn.execute(webhook.insert().values(
                object=object_name, secret=self.box.seal(secret), active=True, created_at=_now(), created_by=created_by, **values,
            ).returning(webhook.c.id)).scalar_one()
        return self.get(webhook_id), secret

    def _checked(self, changes: dict) -> dict:
        values = {}
        if "name" in changes:
            name = str(changes["name"] or "").strip()
            if not 1 <= len(name) <= 100:
                raise WebhookError("name: give 1 to 100 characters")
            values["name"] = name
        if "events" in changes:
            events = changes["events"]
            if not isinstance(events, list) or not events or any(e not in EVENTS for e in events):
                raise WebhookError(f"events: give a list of one or more of {', '.join(EVENTS)}")
            values["events"] = sorted(set(events), key=EVENTS.index)
        if "url" in changes:
            url = str(changes["url"] or "")
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise WebhookError(f"url: '{url}' is not a web address (http:// or https://)")
            values["url"] = url
        if "active" in changes:
            if not isinstance(changes["active"], bool):
                raise WebhookError("active: give true or false")
            values["active"] = changes["active"]
        return values

    def subscriptions(self) -> list[dict]:
        with read_transaction(self.runtime.engine) as conn:
            return [_subscription(r) for r in conn.execute(select(webhook).order_by(webhook.c.id))]

    def get(self, webhook_id: int) -> dict:
        with read_transaction(self.runtime.engine) as conn:
            row = conn.execute(select(webhook).where(webhook.c.id == webhook_id)).first()
        if row is None:
            raise UnknownWebhook(f"there is no webhook {webhook_id}")
        return _subscription(row)

    def change(self, webhook_id: int, changes: dict) -> tuple[dict, str | None]:
        """Change name, events, url or active; ``rotate_secret`` makes a new secret (returned)."""
        unknown = set(changes) - {"name", "events", "url", "active", "rotate_secret"}
        if unknown:
            raise WebhookError(f"{', '.join(sorted(unknown))}: not a setting of a webhook (name, events, url, active, rotate_secret)")
        values = self._checked(changes)
        secret = None
        if changes.get("rotate_secret"):
            secret = "whsec_" + secrets.token_urlsafe(24)
            values["secret"] = self.box.seal(secret)
        self.get(webhook_id)
        if values:
            with write_transaction(self.runtime.engine) as conn:
                conn.execute(sa.update(webhook).where(webhook.c.id == webhook_id).values(**values))
        return self.get(webhook_id), secret

    def remove(self, webhook_id: int) -> None:
        self.get(webhook_id)
        with write_transaction(self.runtime.engine) as conn:
            conn.execute(webhook_delivery.delete().where(webhook_delivery.c.webhook_id == webhook_id, webhook_delivery.c.status == "pending"))
            conn.execute(webhook.delete().where(webhook.c.id == webhook_id))

    def seal_stored_secrets(self) -> int:
        """Encrypt the secrets still stored in plain text (written before encryption); return how many."""
        with read_transaction(self.runtime.engine) as conn:
            plain = [(r.id, r.secret) for r in conn.execute(select(webhook.c.id, webhook.c.secret)) if not is_sealed(r.secret)]
        for webhook_id, secret in plain:
            self._seal(webhook_id, secret)
        return len(plain)

    def _seal(self, webhook_id: int, secret: str) -> None:
        """Only if the row still holds that plain secret: a rotation in between wins."""
        with write_transaction(self.runtime.engine) as conn:
            conn.execute(sa.update(webhook).where(webhook.c.id == webhook_id, webhook.c.secret == secret)
                         .values(secret=self.box.seal(secret)))

    def deliveries(self, webhook_id: int, limit: int = 50, before_id: int | None = None) -> list[dict]:
        self.get(webhook_id)
        statement = (select(webhook_delivery).where(webhook_delivery.c.webhook_id == webhook_id)
                     .order_by(webhook_delivery.c.id.desc()).limit(limit))
        if before_id is not None:
            statement = statement.where(webhook_delivery.c.id < before_id)
        with read_transaction(self.runtime.engine) as conn:
            shown = [_delivery(r) for r in conn.execute(statement)]
            pending = {job_key(d["id"]): d for d in shown if d["status"] == "pending"}
            if pending:  # when the queue tries it next, or that it gave up (its worker stopped on the last attempt)
                for key, state, run_at, error in conn.execute(select(job_table.c.key, job_table.c.state, job_table.c.run_at,
                                                                     job_table.c.last_error).where(job_table.c.key.in_(list(pending)))):
                    if state == "queued":
                        pending[key]["next_attempt_at"] = iso_utc(_aware(run_at))
                    elif state == "dead":
                        pending[key].update(status="failed", last_error=pending[key]["last_error"] or error)
        return shown

    # --- the outbox -----------------------------------------------------------------------------

    @staticmethod
    def subscribers(conn: Connection, object_name: str, event: str) -> list[tuple[int, list[str]]]:
        """The active subscriptions to an object's event: (webhook id, its events)."""
        return [(hook_id, events) for hook_id, events in SUBSCRIBED.all(conn, object_name=object_name) if event in events]

    def receive(self, conn: Connection, change: RecordChanges) -> int:
        """Add deliveries for the changed records, if any active subscription wants them, and a queue job to send each.

        A subscriber of the record service's changes (core/records/events.py), called inside the
        writing transaction; costs one indexed query when nobody subscribes.
        """
        object_name, event = change.object_name, change.event
        hooks = self.subscribers(conn, object_name, event)
        if not hooks:
            return 0
        now = _now()
        rows = []
        for record in change.records():
            payload = {"event": f"{object_name}.{event}", "object": object_name, "record_id": record["id"],
                       "occurred_at": iso_utc(now), "record": record}
            changes = change.changes_of(record["id"])
            if changes is not None:
                payload["changes"] = {k: {"old": old, "new": new} for k, (old, new) in changes.items()}
            rows += [{"webhook_id": hook_id, "event": event, "object": object_name, "record_id": record["id"], "payload": payload,
                      "status": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now} for hook_id, _events in hooks]
        if not rows:
            return 0
        made = conn.execute(webhook_delivery.insert().returning(webhook_delivery.c.id, sort_by_parameter_order=True), rows).scalars().all()
        queue.enqueue_many(conn, KIND, [({"delivery": delivery_id}, job_key(delivery_id)) for delivery_id in made],
                           queue=QUEUE, max_attempts=self.max_attempts)
        return len(rows)

    def enqueue_pending(self) -> int:
        """Give each pending delivery without a queue job one (those written before deliveries went through the
        queue); how many deliveries are pending. What a starting web process or worker does; safe to repeat."""
        with read_transaction(self.runtime.engine) as conn:
            pending = conn.execute(select(webhook_delivery.c.id).where(webhook_delivery.c.status == "pending")).scalars().all()
        if pending:
            with write_transaction(self.runtime.engine) as conn:
                queue.enqueue_many(conn, KIND, [({"delivery": d}, job_key(d)) for d in pending], queue=QUEUE, max_attempts=self.max_attempts)
        return len(pending)

    # --- delivery: the queue job's handler ---------------------------------------------------------

    def deliver(self, job: queue.Job) -> None:
        """Send one delivery (the job of ``webhook.deliver``) and record the attempt on it. A failed send raises, so
        that the queue tries again after its backoff; on the job's last attempt the delivery is marked failed.
        A delivery sent already, or removed with its webhook, is left alone: a job run twice sends once."""
        with read_transaction(self.runtime.engine) as conn:
            delivery = conn.execute(select(webhook_delivery).where(webhook_delivery.c.id == job.payload["delivery"])).first()
            hook = conn.execute(select(webhook).where(webhook.c.id == delivery.webhook_id)).first() if delivery is not None else None
        if delivery is None or hook is None or delivery.status == "delivered":
            return
        delivery, hook = delivery._asdict(), hook._asdict()
        last = job.attempts >= job.max_attempts
        try:
            secret = self.box.open(hook["secret"])
        except EncryptionError as exc:  # nothing is sent unsigned; retried, so a key put back in place still delivers
            error = str(exc)[:ERROR_TEXT_LIMIT]
            self._record_attempt(delivery, None, error, last)
            raise DeliveryFailed(error) from None
        if not is_sealed(hook["secret"]):
            self._seal(hook["id"], secret)
        body = json.dumps(delivery["payload"], separators=(",", ":"), ensure_ascii=False).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Tessera-Webhooks/1",
            "X-Tessera-Event": delivery["payload"]["event"],
            "X-Tessera-Delivery": str(delivery["id"]),
            "X-Tessera-Signature": sign(secret, int(time.time()), body),
        }
        status, error = None, None
        try:
            with httpx.Client(timeout=self.timeout_seconds, follow_redirects=False) as client:
                response = client.post(hook["url"], content=body, headers=headers)
            status = response.status_code
            if not 200 <= status < 300:
                error = f"the receiver answered {status}: {response.text[:200]}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:ERROR_TEXT_LIMIT]
        self._record_attempt(delivery, status, error, last)
        if error is not None:
            raise DeliveryFailed(error)

    def _record_attempt(self, delivery: dict, status: int | None, error: str | None, last: bool) -> None:
        attempts = delivery["attempts"] + 1
        values: dict[str, Any] = {"attempts": attempts, "last_status": status, "last_error": error}
        if error is None:
            values.update(status="delivered", delivered_at=_now())
        else:
            values.update(status="failed" if last else "pending")
        with write_transaction(self.runtime.engine) as conn:
            conn.execute(sa.update(webhook_delivery).where(webhook_delivery.c.id == delivery["id"]).values(**values))
        if error is not None:
            log.warning("webhook delivery %s to %s failed (attempt %s): %s", delivery["id"], delivery["webhook_id"], attempts, error)


class DeliveryFailed(RuntimeError):
    """A delivery the receiver did not take (or that could not be signed): the queue tries it again."""


def job_key(delivery_id: int) -> str:
    """The idempotency key of a delivery's queue job: one job per delivery."""
    return f"webhook:{delivery_id}"


def deliver_job(runtime: Any, job: queue.Job) -> None:
    """The handler of ``webhook.deliver`` (core/scheduler.py BUILT_IN)."""
    runtime.webhooks.deliver(job)


def _subscription(row) -> dict:
    return {"id": row.id, "name": row.name, "object": row.object, "events": list(row.events), "url": row.url,
            "active": row.active, "created_at": iso_utc(row.created_at), "created_by": row.created_by}


def _delivery(row) -> dict:
    return {"id": row.id, "webhook_id": row.webhook_id, "event": row.event, "object": row.object, "record_id": row.record_id,
            "status": row.status, "attempts": row.attempts, "next_attempt_at": iso_utc(_aware(row.next_attempt_at)),
            "last_status": row.last_status, "last_error": row.last_error, "created_at": iso_utc(row.created_at),
            "delivered_at": iso_utc(row.delivered_at)}
