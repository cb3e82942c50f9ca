"""Files only their owner may read, written once: the first writer wins, readers only
ever see a whole file."""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path


def create_once(path: Path, data: bytes) -> None:
    """Write `data` to `path` (mode 0600) unless a file is already there."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    descriptor = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
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
