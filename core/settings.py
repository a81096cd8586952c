"""Typed settings, read once from ``TESSERA_*`` environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_DATABASE_URL = "sqlite:///tessera.db"


class SettingsError(ValueError):
    """A TESSERA_* variable holds a value that cannot be used."""


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    extra_metadata_paths: tuple[Path, ...] = field(default_factory=tuple)
    sql_echo: bool = False

    @classmethod
    def from_env(cls, environ: os._Environ | dict | None = None, **overrides) -> "Settings":
        env = os.environ if environ is None else environ
        values: dict = {}
        if env.get("TESSERA_DATABASE_URL"):
            values["database_url"] = env["TESSERA_DATABASE_URL"]
        if env.get("TESSERA_METADATA_PATHS"):
            values["extra_metadata_paths"] = tuple(
                Path(p) for p in env["TESSERA_METADATA_PATHS"].split(os.pathsep) if p
            )
        if "TESSERA_SQL_ECHO" in env:
            values["sql_echo"] = _parse_bool("TESSERA_SQL_ECHO", env["TESSERA_SQL_ECHO"])
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def _parse_bool(name: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise SettingsError(f"{name}: '{raw}' is not a yes/no value (use true or false)")
