"""Per-subject data keys in one local JSON file: the embedded default's Key Vault twin.

The file maps subject ids to base64 keys and is only ever replaced whole (temp file,
fsync, `os.replace`), with mode 0600. Read-modify-write runs under an exclusive
`flock` on a sibling `.lock` file (the data file itself cannot carry the lock, since
each write replaces its inode), so several processes sharing the file never lose a
key or mint two keys for one subject.

Each instance caches the keys of the file it last read and keeps that file open.
Since writers only ever replace the file, "the path still names the inode we hold"
means "nothing changed", and holding the inode open stops the file system from reusing
its number for a newer file. So every read costs one `stat`, and a key destroyed by
another process is never served from this cache.

Erasure deletes the subject's entry. A later `key_for` mints a fresh key: the subject
may keep using the service, and what was sealed under the old key stays unreadable.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import tempfile
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from adapters.private_files import private_folder

KEY_BYTES = 32


class _HeldFile:
    """The open file whose keys are cached (closed by the keyring's finalizer)."""

    def __init__(self) -> None:
        self.descriptor: int | None = None
        self.identity: tuple[int, int] | None = None

    def hold(self, descriptor: int | None) -> None:
        self.close()
        self.descriptor = descriptor
        if descriptor is not None:
            status = os.fstat(descriptor)
            self.identity = (status.st_dev, status.st_ino)

    def close(self) -> None:
        if self.descriptor is not None:
            os.close(self.descriptor)
        self.descriptor = self.identity = None


class LocalKeyRing:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock_path = path.with_name(path.name + ".lock")
        self._thread_lock = threading.Lock()
        self._cached: dict[str, bytes] = {}
        self._held = _HeldFile()
        weakref.finalize(self, self._held.close)

    def key_for(self, subject_id: str) -> bytes:
        """The subject's key, created on first use."""
        key = self.existing_key(subject_id)
        if key is not None:
            return key
        with self._exclusive() as keys:
            if subject_id not in keys:
                keys[subject_id] = os.urandom(KEY_BYTES)
            return keys[subject_id]

    def existing_key(self, subject_id: str) -> bytes | None:
        """The subject's key, or None if it never existed or was destroyed."""
        with self._thread_lock:
            return self._refresh().get(subject_id)

    def destroy(self, subject_id: str) -> bool:
        """Erase the subject's key; False when there was none."""
        with self._exclusive() as keys:
            return keys.pop(subject_id, None) is not None

    def _refresh(self) -> dict[str, bytes]:
        """The file's keys, re-read only when the path names a new file.

        Called with the thread lock held.
        """
        try:
            status = os.stat(self.path)
            if (status.st_dev, status.st_ino) != self._held.identity:
                # The file may be replaced again after the stat; we cache and hold
                # whatever this descriptor names, so keys and identity always agree.
                descriptor = os.open(self.path, os.O_RDONLY)
                try:
                    keys = _decode(_read_all(descriptor))
                except BaseException:
                    os.close(descriptor)
                    raise
                self._held.hold(descriptor)
                self._cached = keys
        except FileNotFoundError:
            self._held.hold(None)
            self._cached = {}
        return self._cached

    @contextmanager
    def _exclusive(self) -> Iterator[dict[str, bytes]]:
        """The current keys, for changing; written back (if changed) before unlocking."""
        private_folder(self.path.parent)
        with self._thread_lock:
            descriptor = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX)
                keys = dict(self._refresh())
                yield keys
                if keys != self._cached:
                    self._write(keys)
            finally:
                os.close(descriptor)  # closing releases the flock

    def _write(self, keys: dict[str, bytes]) -> None:
        encoded = {subject: base64.b64encode(key).decode("ascii") for subject, key in keys.items()}
        payload = json.dumps({"version": 1, "keys": encoded}, sort_keys=True).encode("utf-8")
        # mkstemp creates the file with mode 0600, so a key is never readable by others.
        descriptor, temp_name = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        try:
            with os.fdopen(descriptor, "wb") as temp:
                temp.write(payload)
                temp.flush()
                os.fsync(temp.fileno())
            os.replace(temp_name, self.path)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise
        directory = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)  # the rename itself must survive a crash
        finally:
            os.close(directory)
        self._refresh()


def _decode(payload: bytes) -> dict[str, bytes]:
    document = json.loads(payload)
    return {subject: base64.b64decode(key) for subject, key in document["keys"].items()}


def _read_all(descriptor: int) -> bytes:
    chunks = []
    while chunk := os.read(descriptor, 1 << 16):
        chunks.append(chunk)
    return b"".join(chunks)
