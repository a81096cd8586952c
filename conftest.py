"""Tessera's own test suite (tests/ and each plugin's tests/) uses the fixtures partners use."""

pytest_plugins = ["core.testing"]
