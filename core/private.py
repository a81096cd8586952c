"""Files and folders Tessera makes are its user's alone: 0600 files, 0700 folders.

The database (SQLite gives its -wal and -shm files the database file's mode), uploaded
import files and their rejected rows, the encryption key, and the files the command line
writes. A folder or file that exists already keeps the mode its owner gave it, except a
file the command line writes again: a new private file takes its place.
"""

from __future__ import annotations

import errno
import os
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator

FILE_MODE = 0o600
FOLDER_MODE = 0o700


def opener(path: str, flags: int) -> int:
    """For ``open(path, mode, opener=opener)``: a file it creates is readable and writable by its owner alone."""
    return os.open(path, flags, FILE_MODE)


def folder(path: Path) -> Path:
    """``path`` as a folder, made 0700 (with its missing parents) if it is not there yet."""
    if not path.is_dir():
        if path.parent != path:
            folder(path.parent)
        path.mkdir(mode=FOLDER_MODE, exist_ok=True)
    return path


def create_file(path: Path) -> None:
    """An empty file at ``path``, made 0600, unless there is one already."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    except FileExistsError:
        pass


@contextmanager
def replacing(path: Path) -> Iterator[BinaryIO]:
    """A new private file that takes the place of ``path`` once written whole: ``path`` is never half written."""
    if not path.absolute().parent.is_dir():
        raise FileNotFoundError(errno.ENOENT, "there is no such folder to write the file in", str(path.absolute().parent))
    partial = path.with_name(f".{path.name}.part")
    try:
        with open(partial, "wb", opener=opener) as file:
            yield file
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
