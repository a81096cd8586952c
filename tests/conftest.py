"""Fixtures for the web API tests: a small company (access_world.py) and a client per person."""

from __future__ import annotations

import pytest
from litestar.testing import TestClient

from access_world import PASSWORD, build_world
from core.api.app import create_app


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
    with TestClient(create_app(world.runtime, deliver_webhooks=False)) as client:
        yield Api(client, world)
