"""One tail of the event log per process, waking whoever waits on a stream that changed.

Waiting requests (the drop-in face) register the streams they wait on. While anyone
waits, one thread reads the log's last position every tick and, when it moved, the new
events, and wakes the waiters of their streams; when nobody waits, the thread ends. So
the store sees one cheap query a tick however many requests wait, and a waiter learns
of a step within a tick of its being recorded, even when another process recorded it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence

from services.ports import EventLog, PositionedEvent

TICK_SECONDS = 0.002  # the tail's cadence while anyone waits
BATCH = 1000
ERROR_PAUSE_SECONDS = 0.1

log = logging.getLogger(__name__)


class LogTail:
    """Wakes the waiters of streams that the log says have changed. One per process."""

    def __init__(self, event_log: EventLog, tick: float = TICK_SECONDS) -> None:
        self._log, self._tick = event_log, tick
        self._lock = threading.Lock()
        self._waiters: dict[str, set[threading.Event]] = {}
        self._thread: threading.Thread | None = None
        self._position = 0

    def watch(self, stream_ids: Sequence[str], woken: threading.Event) -> None:
        with self._lock:
            for stream_id in stream_ids:
                self._waiters.setdefault(stream_id, set()).add(woken)
            if self._thread is None:
                self._position = self._log.last_position()
                self._thread = threading.Thread(target=self._run, name="log-tail", daemon=True)
                self._thread.start()

    def forget(self, stream_ids: Sequence[str], woken: threading.Event) -> None:
        with self._lock:
            for stream_id in stream_ids:
                waiting = self._waiters.get(stream_id)
                if waiting is not None:
                    waiting.discard(woken)
                    if not waiting:
                        del self._waiters[stream_id]

    def _run(self) -> None:
        while True:
            with self._lock:
                if not self._waiters:
                    self._thread = None  # the next `watch` starts a new one
                    return
            try:
                if self._log.last_position() > self._position:
                    self._wake(self._log.read_all(self._position, BATCH))
            except Exception:
                # A read that failed (a busy or locked database) is tried again next
                # tick; meanwhile the waiters' own slow re-reads still see their steps.
                log.warning("reading the event log's tail failed", exc_info=True)
                time.sleep(ERROR_PAUSE_SECONDS)
            time.sleep(self._tick)

    def _wake(self, events: Sequence[PositionedEvent]) -> None:
        with self._lock:
            for positioned in events:
                self._position = positioned.position
                for woken in self._waiters.get(positioned.event.stream_id, ()):
                    woken.set()
