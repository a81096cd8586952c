"""Tessera's test fixtures, and a runtime with Fleet enabled."""

import pytest

pytest_plugins = ["core.testing"]


@pytest.fixture
def runtime(make_runtime):
    """Tessera with Fleet alone."""
    return make_runtime(plugins=("fleet",))
