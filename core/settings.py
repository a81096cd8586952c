"""Typed settings, read once from ``TESSERA_*`` environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_DATABASE_URL = "sqlite:///tessera.db"


class SettingsError(ValueError):
    """A TESSERA_* variable holds a value that cannot be used."""


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    sql_echo: bool = False
    plugins: tuple[str, ...] | None = None  # only these plugins (None: every installed one)
    disabled_plugins: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, environ: os._Environ | dict | None = None, **overrides) -> "Settings":
        env = os.environ if environ is None else environ
        values: dict = {}
        if env.get("TESSERA_DATABASE_URL"):
            values["database_url"] = env["TESSERA_DATABASE_URL"]
        if "TESSERA_PLUGINS" in env:
            values["plugins"] = _names(env["TESSERA_PLUGINS"])
        if env.get("TESSERA_DISABLED_PLUGINS"):
            values["disabled_plugins"] = _names(env["TESSERA_DISABLED_PLUGINS"])
        if "TESSERA_SQL_ECHO" in env:
            values["sql_echo"] = _parse_bool("TESSERA_SQL_ECHO", env["TESSERA_SQL_ECHO"])
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def _names(raw: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in raw.split(",") if name.strip())


def _parse_bool(name: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise SettingsError(f"{name}: '{raw}' is not a yes/no value (use true or false)")
