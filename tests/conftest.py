"""Fixtures for the web API tests: a small company (access_world.py) and a client per person."""

from __future__ import annotations

import pytest
from litestar.testing import TestClient

from access_world import PASSWORD, build_world
from core.api.app import create_app
from mail_server import authority, start_server  # noqa: F401 - fixtures: a real SMTP server on loopback for the e-mail tests


class Api:
    """A TestClient (real HTTP requests through the ASGI app) with a bearer token per person."""

    def __init__(self, client: TestClient, world) -> None:
        self.client, self.world = client, world
        self._tokens: dict[str, str] = {}

    def token(self, name: str) -> str:
        if name not in self._tokens:
            response = self.client.post("/api/auth/token", json={"username": name, "password": PASSWORD, "name": "tests"})
            assert response.status_code == 201, response.text
            self._tokens[name] = response.json()["token"]
        return self._tokens[name]

    def headers(self, name: str, **extra: str) -> dict:
        return {"Authorization": f"Bearer {self.token(name)}", **extra}

    def get(self, name: str, path: str, **kwargs):
        return self.client.get(path, headers=self.headers(name), **kwargs)

    def post(self, name: str, path: str, **kwargs):
        return self.client.post(path, headers=self.headers(name, **kwargs.pop("headers", {})), **kwargs)

    def patch(self, name: str, path: str, **kwargs):
        return self.client.patch(path, headers=self.headers(name, **kwargs.pop("headers", {})), **kwargs)

    def put(self, name: str, path: str, **kwargs):
        return self.client.put(path, headers=self.headers(name, **kwargs.pop("headers", {})), **kwargs)

    def delete(self, name: str, path: str, **kwargs):
        return self.client.delete(path, headers=self.headers(name, **kwargs.pop("headers", {})), **kwargs)


@pytest.fixture
def world(runtime):
    return build_world(runtime)


@pytest.fixture
def api(world):
    with TestClient(create_app(world.runtime)) as client:
        yield Api(client, world)


@pytest.fixture(scope="session")
def browser():
    """One Chromium for every browser test of the session (test_ui_browser.py, test_ui_import_browser.py): Playwright's
    sync API allows one running instance per thread, so each module having its own would fail the second."""
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 - only browser tests need it

    from test_ui_browser import CHROMIUM, FLAGS  # noqa: PLC0415

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield launched
        launched.close()
