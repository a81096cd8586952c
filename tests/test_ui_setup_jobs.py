"""Setup's jobs page: the queue's states and latest jobs with their errors, in English and Chinese; a dead job retried
by an administrator only; the page closed to people without Setup. Real HTTP through the ASGI app, both databases."""

from __future__ import annotations

import re

import pytest
from litestar.testing import TestClient

from core import queue
from core.api.app import create_app
from core.db import write_transaction
from test_ui_pages import signed_in


@pytest.fixture
def ui(world):
    with TestClient(create_app(world.runtime)) as client:
        yield client


def dead_job(runtime) -> int:
    with write_transaction(runtime.engine) as conn:
        made = queue.enqueue(conn, "mail.send", {"to": "王伟 <wang@example.com>"}, max_attempts=1, queue="mail")
        queue.enqueue(conn, "note", {"n": 1})
    [job] = queue.claim(runtime.engine, "w1", queues=["mail"])
    queue.fail(runtime.engine, job, "w1", "SMTPRecipientsRefused: <wang@example.com> 550 mailbox unavailable")
    return made


def test_the_jobs_page_shows_each_queues_states_and_the_latest_jobs_with_their_errors(ui, world):
    made = dead_job(world.runtime)
    signed_in(ui, "root")
    page = ui.get("/setup/jobs")
    assert page.status_code == 200
    queues = page.text.split('id="queues"')[1].split("</table>")[0]
    assert re.search(r'<code>mail</code></td><td data-label="Queued">0</td><td data-label="Running">0</td><td data-label="Done">0</td>'
                     r'<td data-label="Dead">1</td>', queues)
    assert re.search(r'<code>default</code></td><td data-label="Queued">1</td>', queues)
    row = page.text.split('id="jobs"')[1].split("</table>")[0]
    assert "mail.send" in row and "550 mailbox unavailable" in row and f'action="/setup/jobs/{made}/retry"' in row
    # each state a badge of its tone (done green, dead red, running blue, queued gray), which never wraps
    assert '<span class="badge tone-red job-state">Dead</span>' in row and '<span class="badge tone-gray job-state">Queued</span>' in row
    dead_only = ui.get("/setup/jobs?state=dead")
    assert "mail.send" in dead_only.text and "<code>note</code>" not in dead_only.text.split('id="jobs"')[1]


def test_the_jobs_page_reads_in_chinese(ui, world):
    dead_job(world.runtime)
    signed_in(ui, "root")
    page = ui.get("/setup/jobs", headers={"Accept-Language": "zh-CN"})
    assert "后台任务" in page.text and "已失效" in page.text and "重试" in page.text and "最近的错误" in page.text
    assert '<span class="badge tone-red job-state">已失效</span>' in page.text


def test_the_schedules_and_queues_are_cards_at_phone_width_each_value_labelled(ui, world):
    dead_job(world.runtime)
    signed_in(ui, "root")
    page = ui.get("/setup/jobs", headers={"Accept-Language": "zh-CN"}).text
    assert 'id="queues" class="stacked counts"' in page  # stacked.css: cards below 600px, like the jobs table
    queues = page.split('id="queues"')[1].split("</table>")[0]
    assert all(f'data-label="{word}"' in queues for word in ("等待中", "运行中", "已完成", "已失效")), queues


def test_an_administrator_retries_a_dead_job_and_a_job_that_is_not_dead_is_refused_saying_why(ui, world):
    made = dead_job(world.runtime)
    csrf = signed_in(ui, "root")
    again = ui.post(f"/setup/jobs/{made}/retry", data={"_csrf_token": csrf})
    assert again.status_code == 200 and f"Job {made} is queued again." in again.text
    refused = ui.post(f"/setup/jobs/{made}/retry", data={"_csrf_token": csrf})
    assert refused.status_code == 422 and f"Job {made} is not a dead job" in refused.text


def test_a_customizer_sees_the_jobs_but_may_not_retry_and_a_rep_may_not_see_them(ui, world):
    made = dead_job(world.runtime)
    csrf = signed_in(ui, "cora")
    page = ui.get("/setup/jobs")
    assert page.status_code == 200 and "/retry" not in page.text
    assert ui.post(f"/setup/jobs/{made}/retry", data={"_csrf_token": csrf}).status_code == 403
    ui.cookies.clear()
    signed_in(ui, "alice")
    assert ui.get("/setup/jobs").status_code == 403


def test_a_dead_webhook_delivery_is_shown_with_its_delivery_and_an_admin_retries_it_to_its_receiver(ui, world):
    from test_webhooks import Receiver, deliver, retries_due  # noqa: PLC0415

    from core.records import Actor  # noqa: PLC0415
    from core.webhooks import verify  # noqa: PLC0415

    runtime = world.runtime
    runtime.webhooks.max_attempts = 2
    hook, secret = runtime.webhooks.subscribe("ERP", "account", ["created"], "http://127.0.0.1:9/nothing-listens-here")
    runtime.records.create(Actor.system(), "account", {"name": "Retried Ltd"})
    assert deliver(runtime) == 1
    retries_due(runtime)
    assert deliver(runtime) == 1
    [delivery] = runtime.webhooks.deliveries(hook["id"])
    assert delivery["status"] == "failed"
    csrf = signed_in(ui, "root")
    row = next(r for r in ui.get("/setup/jobs?state=dead").text.split('id="jobs"')[1].split("<tr>") if "webhook.deliver" in r)
    assert f"delivery {delivery['id']}" in row and "Connect" in row
    job_id = int(re.search(r'action="/setup/jobs/(\d+)/retry"', row).group(1))
    target = Receiver()
    try:
        runtime.webhooks.change(hook["id"], {"url": target.url})
        assert ui.post(f"/setup/jobs/{job_id}/retry", data={"_csrf_token": csrf}).status_code in (200, 303)
        assert deliver(runtime) == 1
    finally:
        target.close()
    [sent] = target.requests
    assert sent["headers"]["X-Tessera-Delivery"] == str(delivery["id"]) and verify(secret, sent["headers"]["X-Tessera-Signature"], sent["body"])
    assert runtime.webhooks.deliveries(hook["id"])[0]["status"] == "delivered"
    assert f"投递 {delivery['id']}" in ui.get("/setup/jobs", headers={"Accept-Language": "zh-CN"}).text
