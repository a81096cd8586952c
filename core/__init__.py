"""Tessera: a plugin-based, metadata-driven CRM framework."""

__version__ = "0.1.0"
