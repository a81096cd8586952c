"""Tessera's built-in industry plugins. Each is a plugin like any partner's."""
