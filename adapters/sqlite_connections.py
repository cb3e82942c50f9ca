"""One SQLite connection per thread (and per process), shared by the SQLite adapters.

The local host runs triggers in threads and tests fork processes; SQLite connections
must not cross either boundary. Every connection is in WAL mode with a busy timeout, so
several processes can share one file.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from adapters.private_files import owner_only_file

BUSY_TIMEOUT_MS = 30_000
_WAL_RETRY_SECONDS = 0.01

Synchronous = Literal["FULL", "NORMAL"]


class ConnectionPerThread:
    def __init__(
        self,
        path: Path | str,
        *,
        synchronous: Synchronous,
        label: str,
        pragmas: Sequence[str] = (),
    ) -> None:
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError(f"synchronous must be FULL or NORMAL, not {synchronous!r}")
        self.path = str(path)
        # SQLite would make the file with the umask's mode; a named file is made here first.
        in_memory = self.path == ":memory:" or self.path.startswith("file:")
        self._file = None if in_memory else Path(path)
        self._synchronous = synchronous
        self._label = label
        self._pragmas = tuple(pragmas)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._guard = threading.Lock()
        self._closed = False

    def get(self) -> sqlite3.Connection:
        # Keyed by process id too: a connection inherited across fork must not be reused.
        owned: tuple[int, sqlite3.Connection] | None = getattr(self._local, "owned", None)
        if owned is not None and owned[0] == os.getpid():
            return owned[1]
        with self._guard:
            if self._closed:
                raise RuntimeError(f"{self._label} {self.path!r} is closed")
            if self._file is not None:
                owner_only_file(self._file)  # its -wal and -shm files take its mode
            conn = sqlite3.connect(
                self.path,
                timeout=BUSY_TIMEOUT_MS / 1000,
                isolation_level=None,
                check_same_thread=False,  # only so that close() can reach every thread's one
            )
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            _use_wal(conn)
            conn.execute(f"PRAGMA synchronous = {self._synchronous}")
            for pragma in self._pragmas:
                conn.execute(pragma)
            self._connections.append(conn)
        self._local.owned = (os.getpid(), conn)
        return conn

    def close(self) -> None:
        """Close every thread's connection; call it once nothing uses the adapter any more."""
        with self._guard:
            self._closed = True
            for conn in self._connections:
                conn.close()
            self._connections.clear()


def _use_wal(conn: sqlite3.Connection) -> None:
    # Switching a fresh file to WAL takes an exclusive lock without going through the busy
    # handler, so processes that open a new file together must retry it themselves.
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() >= deadline:
                raise
            time.sleep(_WAL_RETRY_SECONDS)
        else:
            return
