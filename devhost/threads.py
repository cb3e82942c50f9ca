"""Stopping the host's worker threads within one shared deadline."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence

log = logging.getLogger(__name__)


def join_within(
    threads: Sequence[threading.Thread], timeout: float, what: str
) -> list[threading.Thread]:
    """Join `threads` within `timeout` seconds in all; return (and log) those still running."""
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(deadline - time.monotonic(), 0))
    busy = [thread for thread in threads if thread.is_alive()]
    if busy:
        names = ", ".join(thread.name for thread in busy)
        log.warning("%s still running after %.0f s: %s", what, timeout, names)
    return busy
