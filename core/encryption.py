"""Secrets that must be read back (webhook signing secrets), encrypted at rest with a key kept outside the database.

A webhook's secret signs every delivery with HMAC, so it cannot be stored as a digest like
passwords and tokens. It is stored encrypted with Fernet (AES-128-CBC with HMAC-SHA256,
from the ``cryptography`` package) as ``fernet:<token>``. The key is never in the database,
so a copy of the database (a backup, a dump, a read through SQL) does not give the secrets:

* ``TESSERA_ENCRYPTION_KEY``: one or more Fernet keys, comma-separated; the first encrypts,
  every one decrypts (to change keys: put the new one first, restart, then drop the old one);
* otherwise the key file ``encryption.key`` in the files directory (``Settings.files_path()``),
  created on first use with permissions 0600. Every process serving the database must see
  the same file (as it must for imports), or be given the same ``TESSERA_ENCRYPTION_KEY``.

A stored value without the ``fernet:`` mark is a secret written before encryption: it is
used as it is, and the webhook service rewrites it encrypted (see ``Webhooks.seal_stored_secrets``).
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from core import private
from core.settings import Settings

MARK = "fernet:"
KEY_FILE = "encryption.key"
log = logging.getLogger("tessera.encryption")


class EncryptionError(RuntimeError):
    """A stored secret that the key in use cannot decrypt (another key, or a damaged value)."""


def new_key() -> str:
    return Fernet.generate_key().decode()


def is_sealed(stored: str) -> bool:
    return stored.startswith(MARK)


class SecretBox:
    """Encrypts and decrypts short secrets with the installation's key, loaded (or made) at first use."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._fernet: MultiFernet | None = None
        self._lock = threading.Lock()

    @property
    def key_path(self) -> Path:
        return self.settings.files_path() / KEY_FILE

    def seal(self, plain: str) -> str:
        return MARK + self._keys().encrypt(plain.encode()).decode()

    def open(self, stored: str) -> str:
        """The plain secret; a value stored before encryption comes back as it is."""
        if not is_sealed(stored):
            return stored
        try:
            return self._keys().decrypt(stored[len(MARK):].encode()).decode()
        except InvalidToken:
            raise EncryptionError("the stored secret cannot be decrypted with the encryption key in use: "
                                  f"check TESSERA_ENCRYPTION_KEY or the key file {self.key_path}") from None

    def _keys(self) -> MultiFernet:
        with self._lock:
            if self._fernet is None:
                keys = list(self.settings.encryption_keys) or [self._key_from_file()]
                self._fernet = MultiFernet([Fernet(key) for key in keys])
            return self._fernet

    def _key_from_file(self) -> str:
        path = self.key_path
        try:
            return _read_key(path)
        except FileNotFoundError:
            pass
        private.folder(path.parent)
        key = new_key()
        draft = path.with_name(f".{KEY_FILE}.{os.getpid()}.{threading.get_ident()}")
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(key + "\n")
        try:
            os.link(draft, path)  # complete or not there at all, and never replaces another process's key
        except FileExistsError:
            return _read_key(path)
        finally:
            draft.unlink(missing_ok=True)
        log.warning("created the encryption key file %s: back it up apart from the database; without it, "
                    "webhook secrets cannot be read", path)
        return key


def _read_key(path: Path) -> str:
    key = path.read_text().strip()
    if os.name == "posix" and path.stat().st_mode & 0o077:
        log.warning("the encryption key file %s can be read by other users: chmod 600 it", path)
    return key
