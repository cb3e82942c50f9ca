"""More processes running the queue triggers, so the pipeline uses more than one core.

The pipeline's work is mostly Python (screening, event envelopes, JSON) and holds the
GIL, so queue worker threads in one process share one core. `donatello serve
--processes N` starts N - 1 extra processes that run only the Service Bus triggers
against the same local queue and data folder, as extra instances of a Function App
would on Azure; the serving process keeps HTTP, timers and the projections. The queue
and the event store are SQLite files made for several processes (peek-lock in `BEGIN
IMMEDIATE` transactions; appends at an expected version), so nothing else changes.

A worker process ends when asked (SIGTERM, SIGINT) and also when its parent is gone,
so a killed host leaves no workers behind.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import FrameType

import azure.functions as func

from devhost.host import BackgroundService, HostSettings
from devhost.queue_workers import QueueFactory, QueueWorkerPool
from devhost.triggers import discover

log = logging.getLogger(__name__)

_ROOT = Path(__file__).resolve().parent.parent
_STOP_SECONDS = 35.0  # the graceful stop of in-flight messages, plus a margin
_PARENT_CHECK_SECONDS = 0.5


def start_worker_processes(count: int, workers_per_queue: int) -> list[subprocess.Popen[bytes]]:
    """Start `count` `donatello work` processes with this process's environment."""
    command = [sys.executable, "-m", "devhost.cli", "work", "--workers", str(workers_per_queue)]
    # The host's pid, not the worker's getppid() at some point of its start-up: a host
    # killed while its workers import would otherwise never be noticed as gone.
    command += ["--parent", str(os.getpid())]
    # A fixed command of this interpreter, run from the project root it was started from.
    return [subprocess.Popen(command, cwd=_ROOT) for _ in range(count)]  # noqa: S603


def stop_worker_processes(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            log.warning("worker process %d did not stop; killing it", process.pid)
            process.kill()
            process.wait()


def run_queue_triggers(
    app: func.FunctionApp,
    *,
    queue_for: QueueFactory,
    host_json: Path | None,
    workers_per_queue: int,
    app_settings: Mapping[str, str],
    parent_pid: int,
    background: Sequence[BackgroundService] = (),
) -> None:
    """Serve `app`'s Service Bus triggers until SIGTERM, SIGINT or `parent_pid`'s exit."""
    triggers = discover(app, app_settings)
    pool = QueueWorkerPool(
        triggers.service_bus,
        queue_for,
        workers_per_queue=workers_per_queue,
        max_lock_renewal=HostSettings.read(host_json).max_lock_renewal,
    )
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, request_stop)
    for service in background:
        service.start()
    pool.start()
    log.info("queue worker process %d: %d workers per queue", os.getpid(), workers_per_queue)
    while not stop.wait(_PARENT_CHECK_SECONDS):
        if os.getppid() != parent_pid:
            log.warning("the host process is gone; stopping")
            break
    pool.stop(_STOP_SECONDS - 5)
    for service in reversed(background):
        service.stop()
