"""Typed settings, read once from ``TESSERA_*`` environment variables."""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass, field
from email.utils import parseaddr
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from babel.numbers import list_currencies
from sqlalchemy.engine import make_url

DEFAULT_DATABASE_URL = "sqlite:///tessera.db"
DEFAULT_BASE_URL = "http://localhost:8000"
PASSWORD_HASHING = ("standard", "fast")


class SettingsError(ValueError):
    """A TESSERA_* variable holds a value that cannot be used."""


@dataclass(frozen=True)
class SmtpServer:
    """Where e-mail is sent, from TESSERA_SMTP_URL: ``smtp://user:password@host:587?starttls=true``, ``smtps://host:465``,
    ``smtp://localhost:25``. ``security``: "plain", "starttls" (upgrade after connecting) or "tls" (smtps: TLS from
    the first byte). Certificates are verified against the system's authorities, or ``cafile``'s."""

    host: str
    port: int
    security: str = "plain"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 30.0
    cafile: str | None = None

    def shown(self) -> str:
        """The server as a person reads it, without its password."""
        scheme = "smtps" if self.security == "tls" else "smtp"
        user = f"{self.username}@" if self.username else ""
        return f"{scheme}://{user}{self.host}:{self.port}" + ("?starttls=true" if self.security == "starttls" else "")


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    sql_echo: bool = False
    plugins: tuple[str, ...] | None = None  # only these plugins (None: every installed one)
    disabled_plugins: tuple[str, ...] = ()
    secret_key: str | None = None  # signs CSRF tokens; generated and kept in the database when not given
    secure_cookies: bool = False  # mark cookies Secure (serve over HTTPS)
    password_hashing: str = "standard"  # "fast": argon2's cheapest parameters, for test suites only
    files_dir: str | None = None  # uploaded import files and rejected rows (None: beside the SQLite file, else ./tessera-files)
    encryption_keys: tuple[str, ...] = ()  # Fernet keys for stored webhook secrets, first one encrypts (none: the key file)
    upload_retention_days: int = 7  # uploads untouched this long are removed (0: kept until removed by hand)
    currency: str = "USD"  # the symbol amounts show when their field names no currency of its own
    loop_read_ms: float = 20.0  # SQLite: a list or record read runs on the event loop for this long before moving to a thread (0: always a thread)
    smtp: SmtpServer | None = None  # where e-mail is sent (None: mail jobs fail saying TESSERA_SMTP_URL is not set)
    mail_from: str | None = None  # the From of every e-mail: "Tessera CRM <crm@example.com>"
    base_url: str = DEFAULT_BASE_URL  # where people open Tessera, for links to records in e-mail

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
        if env.get("TESSERA_SECRET_KEY"):
            if len(env["TESSERA_SECRET_KEY"]) < 32:
                raise SettingsError("TESSERA_SECRET_KEY: use at least 32 random characters")
            values["secret_key"] = env["TESSERA_SECRET_KEY"]
        if env.get("TESSERA_PASSWORD_HASHING"):
            if env["TESSERA_PASSWORD_HASHING"] not in PASSWORD_HASHING:
                raise SettingsError(f"TESSERA_PASSWORD_HASHING: use one of {', '.join(PASSWORD_HASHING)}")
            values["password_hashing"] = env["TESSERA_PASSWORD_HASHING"]
        if env.get("TESSERA_FILES_DIR"):
            values["files_dir"] = env["TESSERA_FILES_DIR"]
        if env.get("TESSERA_UPLOAD_RETENTION_DAYS"):
            values["upload_retention_days"] = _parse_days("TESSERA_UPLOAD_RETENTION_DAYS", env["TESSERA_UPLOAD_RETENTION_DAYS"])
        if env.get("TESSERA_LOOP_READ_MS"):
            values["loop_read_ms"] = _parse_milliseconds("TESSERA_LOOP_READ_MS", env["TESSERA_LOOP_READ_MS"])
        if env.get("TESSERA_CURRENCY"):
            values["currency"] = _currency("TESSERA_CURRENCY", env["TESSERA_CURRENCY"])
        if env.get("TESSERA_ENCRYPTION_KEY"):
            values["encryption_keys"] = _fernet_keys("TESSERA_ENCRYPTION_KEY", env["TESSERA_ENCRYPTION_KEY"])
        if "TESSERA_SECURE_COOKIES" in env:
            values["secure_cookies"] = _parse_bool("TESSERA_SECURE_COOKIES", env["TESSERA_SECURE_COOKIES"])
        if env.get("TESSERA_SMTP_URL"):
            values["smtp"] = smtp_server(env["TESSERA_SMTP_URL"], "TESSERA_SMTP_URL")
        if env.get("TESSERA_MAIL_FROM"):
            values["mail_from"] = mail_address("TESSERA_MAIL_FROM", env["TESSERA_MAIL_FROM"])
        if env.get("TESSERA_BASE_URL"):
            values["base_url"] = _base_url("TESSERA_BASE_URL", env["TESSERA_BASE_URL"])
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def files_path(self) -> Path:
        """Where uploaded files and rejected-rows files are kept."""
        if self.files_dir:
            return Path(self.files_dir)
        url = make_url(self.database_url)
        if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
            database = Path(url.database)
            return database.with_name(database.stem + "-files")
        return Path("tessera-files")


def _names(raw: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in raw.split(",") if name.strip())


def _parse_days(name: str, raw: str) -> int:
    text = raw.strip()
    if not text.isdigit() or int(text) > 36_500:
        raise SettingsError(f"{name}: use a whole number of days from 0 (keep for ever) to 36500, not '{raw}'")
    return int(text)


def _parse_milliseconds(name: str, raw: str) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        value = -1.0
    if not 0 <= value <= 1000:
        raise SettingsError(f"{name}: use a number of milliseconds from 0 (off) to 1000, not '{raw}'")
    return value


def _currency(name: str, raw: str) -> str:
    code = raw.strip().upper()
    if code not in list_currencies():
        raise SettingsError(f"{name}: '{raw}' is not an ISO 4217 currency code; use one like USD, EUR or CNY")
    return code


def _fernet_keys(name: str, raw: str) -> tuple[str, ...]:
    keys = _names(raw)
    for key in keys:
        try:
            valid = len(base64.urlsafe_b64decode(key.encode())) == 32
        except (binascii.Error, ValueError):
            valid = False
        if not valid:
            raise SettingsError(f"{name}: '{key[:4]}...' is not a Fernet key (32 bytes, URL-safe base64); make one with "
                                "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'")
    return keys


def _parse_bool(name: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise SettingsError(f"{name}: '{raw}' is not a yes/no value (use true or false)")


SMTP_OPTIONS = ("starttls", "timeout", "cafile")


def smtp_server(url: str, name: str = "TESSERA_SMTP_URL") -> SmtpServer:
    """An SMTP URL read into its parts, or SettingsError saying what is wrong with it."""
    example = "smtp://user:password@host:587?starttls=true, smtps://host:465 or smtp://localhost:25"
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise SettingsError(f"{name}: '{_hidden(url)}' is not a URL ({exc}); use {example}") from None
    if parts.scheme not in ("smtp", "smtps"):
        raise SettingsError(f"{name}: the scheme must be smtp or smtps, not '{parts.scheme}'; use {example}")
    if not parts.hostname:
        raise SettingsError(f"{name}: '{_hidden(url)}' names no host; use {example}")
    if parts.path not in ("", "/"):
        raise SettingsError(f"{name}: an SMTP URL has no path ('{parts.path}'); use {example}")
    options = dict(parse_qsl(parts.query, keep_blank_values=True))
    unknown = sorted(set(options) - set(SMTP_OPTIONS))
    if unknown:
        raise SettingsError(f"{name}: unknown option '{unknown[0]}'; the options are {', '.join(SMTP_OPTIONS)}")
    starttls = _parse_bool(f"{name}: starttls", options["starttls"]) if "starttls" in options else False
    if parts.scheme == "smtps" and starttls:
        raise SettingsError(f"{name}: smtps is TLS from the start; starttls=true is for smtp:// (port 587, say)")
    timeout = 30.0
    if "timeout" in options:
        try:
            timeout = float(options["timeout"])
        except ValueError:
            timeout = -1.0
        if not 0 < timeout <= 600:
            raise SettingsError(f"{name}: timeout is a number of seconds from 1 to 600, not '{options['timeout']}'")
    security = "tls" if parts.scheme == "smtps" else "starttls" if starttls else "plain"
    default_port = {"tls": 465, "starttls": 587, "plain": 25}[security]
    return SmtpServer(host=parts.hostname, port=port or default_port, security=security,
                      username=unquote(parts.username) if parts.username else None,
                      password=unquote(parts.password) if parts.password is not None else None,
                      timeout=timeout, cafile=options.get("cafile") or None)


def _hidden(url: str) -> str:
    """A URL as an error may show it: without its password."""
    try:
        parts = urlsplit(url)
        if parts.password is not None:
            return url.replace(f":{parts.password}@", ":***@", 1)
    except ValueError:
        pass
    return url


def mail_address(name: str, raw: str) -> str:
    """An e-mail address, with or without a display name ("Tessera CRM <crm@example.com>")."""
    _name, address = parseaddr(raw.strip())
    if "@" not in address or any(c.isspace() for c in address) or "\n" in raw or "\r" in raw:
        raise SettingsError(f"{name}: '{raw}' is not an e-mail address; use crm@example.com or Tessera CRM <crm@example.com>")
    return raw.strip()


def _base_url(name: str, raw: str) -> str:
    parts = urlsplit(raw.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SettingsError(f"{name}: '{raw}' is not an http or https address; use the address people open Tessera at, "
                            "such as https://crm.example.com")
    return raw.strip().rstrip("/")
