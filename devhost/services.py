"""Background services the local host runs beside the triggers."""

from __future__ import annotations

import logging
import threading
from typing import Protocol

log = logging.getLogger(__name__)


class LogFollower(Protocol):
    def run_forever(self, stop: threading.Event, poll_interval: float) -> None: ...


class ProjectionService:
    """Runs a reader of the local log in a thread: the change feed's role on Azure.

    The projection runner keeps the views caught up; the webhook dispatcher enqueues
    the notifications that recorded events call for.
    """

    def __init__(
        self, runner: LogFollower, poll_interval: float = 0.05, name: str = "projections"
    ) -> None:
        self._runner = runner
        self._poll_interval = poll_interval
        self._name = name
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._runner.run_forever,
            args=(self._stop, self._poll_interval),
            name=self._name,
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)


class Warmup:
    """Loads the screening model at start-up so the first request does not pay for it."""

    def start(self) -> None:
        threading.Thread(target=self._load, name="warmup", daemon=True).start()

    def stop(self) -> None:
        return None

    @staticmethod
    def _load() -> None:
        from bootstrap import platform

        platform().analyzer.analyze("warm-up")
        log.info("screening model loaded")
