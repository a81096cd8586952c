"""Webhooks: signed deliveries after commit through the job queue, retried with its backoff, to a real receiver on
127.0.0.1. The queue's worker runs in the test's thread (``JobRunner.run_until_idle``), as ``tessera worker --until-idle``
would; a retry is made due by moving its job's time, never by waiting."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sqlalchemy as sa

from core import queue
from core.coretables import job as job_table
from core.db import read_transaction, write_transaction
from core.records import Actor
from core.scheduler import JobRunner
from core.webhooks import KIND, QUEUE, job_key, sign, verify


class Receiver:
    """An HTTP server on 127.0.0.1 that answers ``fail_first`` requests with 500, then 200."""

    def __init__(self, fail_first: int = 0) -> None:
        self.requests: list[dict] = []
        self.fail_first = fail_first
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the http.server API
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append({"headers": dict(self.headers), "body": body})
                status = 500 if len(receiver.requests) <= receiver.fail_first else 200
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"busy" if status == 500 else b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def receiver():
    made = []

    def make(fail_first: int = 0) -> Receiver:
        made.append(Receiver(fail_first))
        return made[-1]

    yield make
    for r in made:
        r.close()


def deliver(runtime) -> int:
    """Run the due jobs of the webhooks queue in this thread, as a worker does; how many ran."""
    return JobRunner(runtime, queues=[QUEUE]).run_until_idle()


def retries_due(runtime) -> None:
    """Bring the queued deliveries' next attempts to now: their backoff, passed."""
    with write_transaction(runtime.engine) as conn:
        conn.execute(sa.update(job_table).where(job_table.c.kind == KIND, job_table.c.state == "queued").values(run_at=queue.now()))


def delivery_job(runtime, delivery_id: int):
    with read_transaction(runtime.engine) as conn:
        return conn.execute(sa.select(job_table).where(job_table.c.key == job_key(delivery_id))).one()


def test_a_write_is_delivered_signed_after_commit(runtime, receiver):
    target = receiver()
    hooks = runtime.webhooks
    hook, secret = hooks.subscribe("ERP", "account", ["created", "updated"], target.url)
    assert secret.startswith("whsec_")
    record = runtime.records.create(Actor.system(), "account", {"name": "Acme"})
    runtime.records.update(Actor.system(), "account", record["id"], {"name": "Acme Ltd"}, version=1)
    runtime.records.delete(Actor.system(), "account", record["id"])  # not subscribed
    assert deliver(runtime) == 2
    created, updated = target.requests
    assert created["headers"]["X-Tessera-Event"] == "account.created"
    assert verify(secret, created["headers"]["X-Tessera-Signature"], created["body"])
    assert not verify("whsec_wrong", created["headers"]["X-Tessera-Signature"], created["body"])
    assert not verify(secret, created["headers"]["X-Tessera-Signature"], created["body"] + b" ")
    payload = json.loads(updated["body"])
    assert payload["event"] == "account.updated" and payload["record"]["name"] == "Acme Ltd"
    assert payload["changes"] == {"name": {"old": "Acme", "new": "Acme Ltd"}}
    log = hooks.deliveries(hook["id"])
    assert [(d["event"], d["status"], d["attempts"], d["last_status"]) for d in log] == [("updated", "delivered", 1, 200), ("created", "delivered", 1, 200)]


def test_records_changed_by_a_delete_through_on_delete_are_announced(make_runtime, receiver):
    runtime = make_runtime(plugins=("marketing",))
    target, system = receiver(), Actor.system()
    runtime.webhooks.subscribe("ERP", "contact", ["updated"], target.url)
    runtime.webhooks.subscribe("ERP", "campaign_member", ["deleted"], target.url)
    account = runtime.records.create(system, "account", {"name": "Acme"})["id"]
    contact = runtime.records.create(system, "contact", {"last_name": "Lee", "account": account})["id"]
    campaign = runtime.records.create(system, "campaign", {"name": "Spring"})["id"]
    member = runtime.records.create(system, "campaign_member", {"campaign": campaign, "contact": contact})["id"]

    runtime.records.delete(system, "account", account)  # contact.account: set_null
    runtime.records.delete(system, "campaign", campaign)  # campaign_member.campaign: cascade
    assert deliver(runtime) == 2
    updated, deleted = (json.loads(r["body"]) for r in target.requests)
    assert updated["event"] == "contact.updated" and updated["record_id"] == contact and updated["record"]["account"] is None
    assert updated["changes"] == {"account": {"old": account, "new": None}}
    assert deleted["event"] == "campaign_member.deleted" and deleted["record_id"] == member


def test_a_batch_of_updates_announces_each_record_with_its_changes(runtime, receiver):
    target, system = receiver(), Actor.system()
    runtime.webhooks.subscribe("ERP", "account", ["updated"], target.url)
    ids = [runtime.records.create(system, "account", {"name": name, "employees": 1})["id"] for name in ("One", "Two", "Three")]
    with runtime.records.bulk(system, "account") as writer:
        assert writer.update_many([(ids[0], {"employees": 5}), (ids[1], {"employees": 1}), (ids[2], {"name": "Drei"})]) == {}
    assert deliver(runtime) == 2  # the second changed nothing
    sent = sorted((json.loads(r["body"]) for r in target.requests), key=lambda p: p["record_id"])
    assert [(p["record_id"], p["changes"], p["record"]["version"]) for p in sent] == [
        (ids[0], {"employees": {"old": 1, "new": 5}}, 2), (ids[2], {"name": {"old": "Three", "new": "Drei"}}, 2)]


def test_a_rolled_back_write_delivers_nothing(runtime, receiver):
    target = receiver()
    runtime.webhooks.subscribe("ERP", "account", ["created"], target.url)
    with pytest.raises(RuntimeError):
        with runtime.records.transaction(Actor.system()) as records:
            records.create("account", {"name": "Never"})
            raise RuntimeError("the transaction fails after the write")
    assert deliver(runtime) == 0 and target.requests == []


def test_each_delivery_is_one_queue_job_enqueued_with_the_write(runtime, receiver):
    target = receiver()
    hook, _secret = runtime.webhooks.subscribe("ERP", "account", ["created"], target.url)
    runtime.records.create_many(Actor.system(), "account", [{"name": "One"}, {"name": "Two"}])
    log = runtime.webhooks.deliveries(hook["id"])
    jobs = [delivery_job(runtime, d["id"]) for d in log]
    assert [(j.kind, j.queue, j.state, j.payload) for j in jobs] == [(KIND, QUEUE, "queued", {"delivery": d["id"]}) for d in log]
    assert runtime.webhooks.enqueue_pending() == 2 and deliver(runtime) == 2  # a starting worker adds no second job
    assert [delivery_job(runtime, d["id"]).state for d in log] == ["done", "done"] and len(target.requests) == 2


def test_failures_are_retried_with_back_off_until_delivered(runtime, receiver):
    hooks = runtime.webhooks
    target = receiver(fail_first=2)
    hook, _secret = hooks.subscribe("Flaky", "account", ["created"], target.url)
    runtime.records.create(Actor.system(), "account", {"name": "Acme"})
    assert deliver(runtime) == 1
    waiting = hooks.deliveries(hook["id"])[0]
    assert (waiting["status"], waiting["attempts"], waiting["last_status"]) == ("pending", 1, 500)
    assert waiting["next_attempt_at"] > waiting["created_at"] and "busy" in waiting["last_error"]  # the queue's backoff
    assert deliver(runtime) == 0  # not before its time
    for _ in range(2):
        retries_due(runtime)
        assert deliver(runtime) == 1
    delivery = hooks.deliveries(hook["id"])[0]
    assert (delivery["status"], delivery["attempts"], delivery["last_status"], delivery["last_error"]) == ("delivered", 3, 200, None)
    assert len(target.requests) == 3
    ids = {r["headers"]["X-Tessera-Delivery"] for r in target.requests}
    assert ids == {str(delivery["id"])}  # the same delivery, retried
    assert delivery_job(runtime, delivery["id"]).state == "done"


def test_a_receiver_that_never_answers_ends_failed_and_an_admin_retries_it(runtime, receiver):
    hooks = runtime.webhooks
    hooks.max_attempts, hooks.timeout_seconds = 3, 1
    hook, _ = hooks.subscribe("Gone", "account", ["created"], "http://127.0.0.1:9/nothing-listens-here")
    runtime.records.create(Actor.system(), "account", {"name": "Acme"})
    assert deliver(runtime) == 1
    for _ in range(2):
        retries_due(runtime)
        assert deliver(runtime) == 1
    delivery = hooks.deliveries(hook["id"])[0]
    assert delivery["status"] == "failed" and delivery["attempts"] == 3 and "Connect" in delivery["last_error"]
    job = delivery_job(runtime, delivery["id"])
    assert (job.state, job.attempts, job.max_attempts) == ("dead", 3, 3) and "Connect" in job.last_error
    retries_due(runtime)
    assert deliver(runtime) == 0

    target = receiver()  # the receiver is back: the admin points the webhook at it and retries the dead job
    hooks.change(hook["id"], {"url": target.url})
    assert queue.retry(runtime.engine, job.id)
    assert deliver(runtime) == 1
    delivery = hooks.deliveries(hook["id"])[0]
    assert (delivery["status"], delivery["attempts"], delivery["last_status"]) == ("delivered", 4, 200)
    assert [r["headers"]["X-Tessera-Delivery"] for r in target.requests] == [str(delivery["id"])]


def test_a_delivery_job_run_again_sends_once(runtime, receiver):
    """A worker that stops after sending and before marking its job done: the job runs again and sends nothing."""
    target = receiver()
    hook, _ = runtime.webhooks.subscribe("ERP", "account", ["created"], target.url)
    runtime.records.create(Actor.system(), "account", {"name": "Acme"})
    assert deliver(runtime) == 1
    delivery = runtime.webhooks.deliveries(hook["id"])[0]
    with write_transaction(runtime.engine) as conn:
        conn.execute(sa.update(job_table).where(job_table.c.key == job_key(delivery["id"]))
                     .values(state="queued", run_at=queue.now(), finished_at=None))
    assert deliver(runtime) == 1
    assert len(target.requests) == 1 and runtime.webhooks.deliveries(hook["id"])[0]["attempts"] == 1


def test_two_processes_never_send_the_same_delivery(runtime, second_runtime, receiver):
    target = receiver()
    runtime.webhooks.subscribe("ERP", "account", ["created"], target.url)
    runtime.records.create_many(Actor.system(), "account", [{"name": f"Company {i}"} for i in range(20)])
    results = []
    threads = [threading.Thread(target=lambda rt=rt: results.append(deliver(rt))) for rt in (runtime, second_runtime)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(results) == 20 and len(target.requests) == 20
    assert len({r["headers"]["X-Tessera-Delivery"] for r in target.requests}) == 20


def test_webhooks_through_the_api(api, receiver):
    target = receiver()
    made = api.post("root", "/api/webhooks", json={"name": "ERP", "object": "account", "events": ["created"], "url": target.url})
    assert made.status_code == 201 and made.json()["secret"].startswith("whsec_")
    hook_id = made.json()["id"]
    assert "secret" not in api.get("root", f"/api/webhooks/{hook_id}").json()
    for bad in ({"name": "X", "object": "account", "events": ["exploded"], "url": target.url},
                {"name": "X", "object": "account", "events": ["created"], "url": "ftp://x"},
                {"name": "X", "object": "acount", "events": ["created"], "url": target.url}):
        response = api.post("root", "/api/webhooks", json=bad)
        assert 400 <= response.status_code < 500 and response.json()["message"], bad
    assert api.post("alice", "/api/webhooks", json={"name": "X", "object": "account", "events": ["created"], "url": target.url}).status_code == 403
    api.post("root", "/api/records/account", json={"name": "Via API"})
    assert deliver(api.world.runtime) == 1
    log = api.get("root", f"/api/webhooks/{hook_id}/deliveries").json()["items"]
    assert [d["status"] for d in log] == ["delivered"]
    rotated = api.patch("root", f"/api/webhooks/{hook_id}", json={"rotate_secret": True, "active": False})
    assert rotated.status_code == 200 and rotated.json()["active"] is False and rotated.json()["secret"] != made.json()["secret"]
    assert api.delete("root", f"/api/webhooks/{hook_id}").status_code == 204
    assert api.get("root", f"/api/webhooks/{hook_id}").status_code == 404


def test_the_signature_is_hmac_sha256_of_the_timestamp_and_body():
    import hashlib
    import hmac

    header = sign("whsec_abc", 1700000000, b'{"a":1}')
    assert header == "t=1700000000,v1=" + hmac.new(b"whsec_abc", b'1700000000.{"a":1}', hashlib.sha256).hexdigest()
    assert verify("whsec_abc", header, b'{"a":1}', now=1700000100)
    assert not verify("whsec_abc", header, b'{"a":1}', now=1700001000)  # too old: a replay
    assert not verify("whsec_abc", "garbage", b"")


# --- secrets at rest --------------------------------------------------------------------------------


def stored_secrets(runtime) -> dict[int, str]:
    import sqlalchemy as sa

    from core.coretables import webhook
    from core.db import read_transaction

    with read_transaction(runtime.engine) as conn:
        return dict(conn.execute(sa.select(webhook.c.id, webhook.c.secret)).all())


def test_a_secret_is_stored_encrypted_with_a_key_outside_the_database_and_still_signs(runtime, second_runtime, receiver):
    import stat

    target = receiver()
    hook, secret = runtime.webhooks.subscribe("ERP", "account", ["created"], target.url)
    stored = stored_secrets(runtime)[hook["id"]]
    assert stored.startswith("fernet:") and secret not in stored and secret[6:] not in stored
    key_file = runtime.settings.files_path() / "encryption.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key_file.read_text().strip() not in stored
    chosen, chosen_secret = runtime.webhooks.subscribe("Chosen", "account", ["created"], target.url, secret="my own secret of 24 chars")
    assert chosen_secret not in stored_secrets(runtime)[chosen["id"]]
    runtime.records.create(Actor.system(), "account", {"name": "Acme"})
    assert deliver(second_runtime) == 2  # another process, the same key file
    signatures = {json.loads(r["body"])["record_id"]: r for r in target.requests}
    assert len(signatures) == 1
    first, second = target.requests
    assert {verify(secret, first["headers"]["X-Tessera-Signature"], first["body"]),
            verify(secret, second["headers"]["X-Tessera-Signature"], second["body"])} == {True, False}
    assert any(verify(chosen_secret, r["headers"]["X-Tessera-Signature"], r["body"]) for r in target.requests)
    _hook, rotated = runtime.webhooks.change(hook["id"], {"rotate_secret": True})
    assert rotated not in stored_secrets(runtime)[hook["id"]] and runtime.webhooks.box.open(stored_secrets(runtime)[hook["id"]]) == rotated


def test_a_secret_stored_in_plain_text_before_keeps_signing_and_is_encrypted(runtime, receiver):
    import sqlalchemy as sa

    from core.coretables import webhook
    from core.db import write_transaction

    target = receiver()
    hooks = runtime.webhooks
    first, _ = hooks.subscribe("Old", "account", ["created"], target.url)
    second, _ = hooks.subscribe("Older", "account", ["created"], target.url)
    with write_transaction(runtime.engine) as conn:  # as a database written before encryption holds them
        conn.execute(sa.update(webhook).where(webhook.c.id == first["id"]).values(secret="whsec_from_before_1"))
        conn.execute(sa.update(webhook).where(webhook.c.id == second["id"]).values(secret="whsec_from_before_2"))
    runtime.records.create(Actor.system(), "account", {"name": "Acme"})
    assert deliver(runtime) == 2  # used as they are, and encrypted on the way
    assert all(verify(f"whsec_from_before_{n}", r["headers"]["X-Tessera-Signature"], r["body"]) for n, r in
               zip((1, 2), sorted(target.requests, key=lambda r: r["headers"]["X-Tessera-Delivery"])))
    assert all(s.startswith("fernet:") and "from_before" not in s for s in stored_secrets(runtime).values())

    with write_transaction(runtime.engine) as conn:
        conn.execute(sa.update(webhook).where(webhook.c.id == first["id"]).values(secret="whsec_from_before_1"))
    assert hooks.seal_stored_secrets() == 1 and hooks.seal_stored_secrets() == 0  # what a starting web process does
    assert hooks.box.open(stored_secrets(runtime)[first["id"]]) == "whsec_from_before_1"


def test_a_key_from_the_environment_and_a_wrong_key(make_runtime, receiver):
    import dataclasses

    from core.encryption import SecretBox, new_key
    from core.settings import Settings, SettingsError

    key = new_key()
    assert Settings.from_env({"TESSERA_ENCRYPTION_KEY": f"{key}, {new_key()}"}).encryption_keys[0] == key
    with pytest.raises(SettingsError, match="not a Fernet key"):
        Settings.from_env({"TESSERA_ENCRYPTION_KEY": "too short"})
    runtime = make_runtime()
    hooks = runtime.webhooks
    hooks.box = SecretBox(dataclasses.replace(runtime.settings, encryption_keys=(key,)))
    target = receiver()
    hook, secret = hooks.subscribe("ERP", "account", ["created"], target.url)
    assert not (runtime.settings.files_path() / "encryption.key").exists()  # the key came from the environment
    hooks.box = SecretBox(dataclasses.replace(runtime.settings, encryption_keys=(new_key(), key)))  # a new key first, the old one still read
    runtime.records.create(Actor.system(), "account", {"name": "Acme"})
    assert deliver(runtime) == 1 and verify(secret, target.requests[0]["headers"]["X-Tessera-Signature"], target.requests[0]["body"])

    hooks.box = SecretBox(dataclasses.replace(runtime.settings, encryption_keys=(new_key(),)))  # the key is lost
    runtime.records.create(Actor.system(), "account", {"name": "Beta"})
    assert deliver(runtime) == 1 and len(target.requests) == 1  # nothing sent unsigned
    failed = hooks.deliveries(hook["id"])[0]
    assert failed["status"] == "pending" and "cannot be decrypted" in failed["last_error"]


def test_a_chosen_secret_is_checked_and_the_api_never_stores_it_plain(api, receiver):
    target = receiver()
    base = {"name": "ERP", "object": "account", "events": ["created"], "url": target.url}
    for bad in ("short", 12345, "fernet:looks-like-a-stored-value"):
        response = api.post("root", "/api/webhooks", json={**base, "secret": bad})
        assert 400 <= response.status_code < 500 and "secret" in response.json()["message"], bad
    made = api.post("root", "/api/webhooks", json={**base, "secret": "a secret chosen by the admin"})
    assert made.status_code == 201 and made.json()["secret"] == "a secret chosen by the admin"
    assert "chosen by the admin" not in stored_secrets(api.world.runtime)[made.json()["id"]]


def test_with_nothing_due_no_http_client_is_made(runtime, monkeypatch):
    """An idle worker finds no job: making a client (and its TLS context) with nothing to send was most of an idle server's CPU."""
    import httpx  # noqa: PLC0415

    def no_client(*args, **kwargs):
        raise AssertionError("an HTTP client was made with nothing to deliver")

    monkeypatch.setattr(httpx, "Client", no_client)
    runtime.webhooks.subscribe("ERP", "account", ["created"], "http://127.0.0.1:9/never")
    assert deliver(runtime) == 0
