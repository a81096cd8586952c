"""Every file Tessera makes is its user's alone (0600 files, 0700 folders), whatever the umask.

The umask of these tests is the usual 022, under which files would be made readable by
everyone: the database with its -wal and -shm files, uploads, rejected rows, the key file,
and what the command line writes.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from core.encryption import SecretBox
from test_api_imports import MAPPING, finished, upload
from test_ui_imports import map_url, people  # noqa: F401 - people is a fixture
from test_ui_imports import upload as upload_in_the_wizard

TESSERA = str(Path(sys.executable).with_name("tessera"))
USUAL_UMASK = 0o022


@pytest.fixture
def usual_umask():
    before = os.umask(USUAL_UMASK)
    yield
    os.umask(before)


def modes(*roots: Path) -> dict[str, str]:
    """Each file and folder under the roots (the roots too) with its permission bits."""
    found = {}
    for root in roots:
        for path in [root, *root.rglob("*")]:
            found[str(path)] = oct(stat.S_IMODE(path.stat().st_mode))
    return found


def not_private(found: dict[str, str]) -> dict[str, str]:
    return {path: mode for path, mode in found.items() if mode != ("0o700" if Path(path).is_dir() else "0o600")}


def sqlite_files(database_url: str) -> list[Path]:
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        return []
    database = Path(url.database)
    return [p for p in (database, database.with_name(database.name + "-wal"), database.with_name(database.name + "-shm")) if p.exists()]


def test_the_database_uploads_rejected_rows_and_key_file_are_private(usual_umask, api, people, database_url):
    job = finished(api, "alice", upload(api, "alice", mapping=MAPPING, dry_run="false"))
    assert job["rejected"] == 1
    map_url(upload_in_the_wizard(*people("mike"), "contacts.csv", b"last_name\nLi\n"))  # the wizard notes who uploaded
    SecretBox(api.world.runtime.settings).seal("a webhook's secret")  # makes the key file
    files = api.world.runtime.settings.files_path()
    found = modes(files, *sqlite_files(database_url))
    assert any(path.endswith(".rejected.csv") for path in found) and any(path.endswith("encryption.key") for path in found)
    assert any(path.endswith("accounts.csv") for path in found) and any(path.endswith(".owner") for path in found)
    if database_url.startswith("sqlite"):
        assert any(path.endswith("tessera.db-wal") for path in found)
    assert not_private(found) == {}


def test_what_the_command_line_writes_is_private(database_url, tmp_path):
    def tessera(*args):
        result = subprocess.run([TESSERA, "--database", database_url, *map(str, args)], capture_output=True, text=True,
                                cwd=tmp_path, timeout=300, umask=USUAL_UMASK)
        assert "Traceback" not in result.stderr, result.stderr
        return result

    assert tessera("db", "upgrade").returncode == 0
    (tmp_path / "accounts.csv").write_text("name,employees\nAcme,12\nBeta,many\n", encoding="utf-8")
    assert tessera("import", "account", "accounts.csv").returncode == 1  # one row rejected
    for target in ("accounts.xlsx", "again.csv", "config.json"):
        (tmp_path / target).write_text("an older file, readable by everyone\n")
        os.chmod(tmp_path / target, 0o644)
    assert tessera("export", "account", "accounts.xlsx").returncode == 0
    assert tessera("export", "account", "again.csv").returncode == 0
    assert tessera("export", "account", "new.csv").returncode == 0
    assert tessera("metadata", "export", "config.json").returncode == 0
    written = ["accounts.csv.rejected.csv", "accounts.xlsx", "again.csv", "new.csv", "config.json"]
    found = modes(*(tmp_path / name for name in written), *sqlite_files(database_url))
    assert len(found) >= len(written) and not_private(found) == {}
