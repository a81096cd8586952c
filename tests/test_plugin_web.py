"""A plugin's routes, templates and static files are served by the web application."""

from __future__ import annotations

import pytest
from litestar.testing import TestClient

from access_world import PASSWORD, build_world
from core.api.app import create_app
from fake_plugins import kappa_web


@pytest.fixture
def client(make_runtime):
    world = build_world(make_runtime(plugins=("kappa",), extra_plugins=[kappa_web]))
    with TestClient(create_app(world.runtime)) as client:
        yield client


def test_a_plugins_route_renders_its_template_for_a_signed_in_user_only(client):
    assert client.get("/kappa/hello").status_code == 401

    token = client.post("/api/auth/token", json={"username": "alice", "password": PASSWORD}).json()["token"]
    page = client.get("/kappa/hello", headers={"Authorization": f"Bearer {token}"})

    assert page.status_code == 200 and '<p class="kappa">Hello Alice</p>' in page.text


def test_a_plugins_static_files_are_served_under_its_prefix(client):
    served = client.get("/static/kappa-files/kappa.txt")
    assert served.status_code == 200 and served.text == "kappa static file\n"
    assert client.get("/static/kappa-files/missing.txt").status_code == 404
