"""Two web processes on one database: what one changes, the other serves at once, with no restart."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx
import pytest

from helpers import label


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def second_server(database_url, world, tmp_path):
    """`tessera serve` in its own process, on the test's database."""
    port = free_port()
    env = {**os.environ, "TESSERA_DATABASE_URL": database_url, "TESSERA_PLUGINS": ""}
    log = open(tmp_path / "server.log", "w")
    process = subprocess.Popen([sys.executable, "-m", "core.cli", "serve", "--port", str(port), "--no-demo"],
                               env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
        if process.poll() is not None:
            break
    else:
        process.kill()
    if process.poll() is not None:
        pytest.fail(f"the second server did not start: {(tmp_path / 'server.log').read_text()}")
    yield base
    process.terminate()
    process.wait(timeout=20)
    log.close()


def test_a_field_added_in_one_process_is_served_by_another_at_once(api, second_server):
    headers = api.headers("root")
    before = httpx.get(f"{second_server}/api/records/account?sort=name&limit=1", headers=headers)
    assert before.status_code == 200 and "tier" not in before.json()["items"][0]
    assert httpx.get(f"{second_server}/api/records/account?tier=gold", headers=headers).status_code == 400

    field = {"name": "tier", "type": "picklist", "label": label("Tier", "等级"), "values": [{"value": "gold", "label": label("Gold", "金牌")}]}
    assert api.post("root", "/api/meta/objects/account/fields", json=field).status_code == 201  # through this process

    record = httpx.post(f"{second_server}/api/records/account", json={"name": "Goldline", "tier": "gold"}, headers=headers)
    assert record.status_code == 201 and record.json()["tier"] == "gold"
    found = httpx.get(f"{second_server}/api/records/account?tier=gold", headers=headers).json()["items"]
    assert [r["name"] for r in found] == ["Goldline"]
    schema = httpx.get(f"{second_server}/schema/openapi.json", headers=headers).json()
    assert "tier" in schema["components"]["schemas"]["AccountRecord"]["properties"]
    assert api.get("root", f"/api/records/account/{record.json()['id']}").json()["tier"] == "gold"  # and back


def test_a_token_revoked_in_one_process_is_refused_by_the_other(api, second_server):
    headers = api.headers("alice")
    assert httpx.get(f"{second_server}/api/auth/me", headers=headers).status_code == 200
    token_id = api.get("alice", "/api/auth/tokens").json()["items"][0]["id"]
    assert api.delete("alice", f"/api/auth/tokens/{token_id}").status_code == 200
    assert httpx.get(f"{second_server}/api/auth/me", headers=headers).status_code == 401


def test_a_permission_change_applies_in_the_other_process_at_once(api, second_server):
    headers = api.headers("alice")
    assert httpx.get(f"{second_server}/api/records/product", headers=headers).status_code == 403
    current = next(r for r in api.get("root", "/api/meta/roles").json()["items"] if r["name"] == "rep")
    body = {k: v for k, v in current.items() if k not in ("name", "custom")}
    body["objects"]["product"] = {"read": "all", "create": "none", "update": "none", "delete": "none"}
    assert api.put("root", "/api/meta/roles/rep", json=body).status_code == 200
    assert httpx.get(f"{second_server}/api/records/product", headers=headers).status_code == 200
