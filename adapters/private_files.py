"""The embedded default's data folder is its owner's alone: folders 0700, files 0600.

It holds the log (prompts sealed, but ids, costs and screening outcomes in clear), the
images, the subject keys and the signing keys, so nothing in it is for the group or for
other users of the machine. Every writer makes its folders with `private_folder` and its
files with mode 0600 (`owner_only_file` for a file another library opens, SQLite's):
explicitly, so the process's umask does not decide (`donatello serve` sets umask 077 as
well, for files other code makes there without a mode). SQLite gives a database's -wal,
-shm and -journal files the database file's own mode, so a database made here keeps them
private too.

A folder that already exists keeps its mode: one made by an earlier version, or by the
operator on purpose, is theirs to tighten (`chmod -R go= .donatello`).
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

FOLDER_MODE = 0o700
FILE_MODE = 0o600
# For processes that write nowhere but the data folder (`donatello serve` and its
# workers): a file some other code makes there, without saying a mode, is private too.
HOST_UMASK = 0o077


def private_folder(path: Path) -> Path:
    """`path` as a folder, with every level this call creates made 0700.

    `Path.mkdir(parents=True)` gives the parents it makes the default mode, whatever
    `mode` says, so each missing level is made here, the outermost first.
    """
    missing = [level for level in (path, *path.parents) if not level.exists()]
    for level in reversed(missing):
        try:
            level.mkdir(mode=FOLDER_MODE)
        except FileExistsError:  # another process made it meanwhile; its mode is this one
            continue
        os.chmod(level, FOLDER_MODE)  # mkdir's mode passes through the umask
    return path


def owner_only_file(path: Path) -> Path:
    """Make `path` an empty 0600 file if it does not exist yet; an existing one is kept."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return path
    try:
        os.fchmod(descriptor, FILE_MODE)  # as for folders: not the umask's choice
    finally:
        os.close(descriptor)
    return path


def create_once(path: Path, data: bytes) -> None:
    """Write `data` to `path` (mode 0600, its folder private) unless a file is already
    there: readers only ever see a whole file, and the first writer wins."""
    private_folder(path.parent)
    staging = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    descriptor = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        os.fchmod(descriptor, FILE_MODE)  # not the umask's choice
        with os.fdopen(descriptor, "wb") as staged:
            staged.write(data)
            staged.flush()
            os.fsync(staged.fileno())
        # link() never replaces an existing file: a racing process that got there
        # first keeps its file, and the caller reads that one.
        with contextlib.suppress(FileExistsError):
            os.link(staging, path)
    finally:
        staging.unlink(missing_ok=True)
