"""The embedded host: serves one FunctionApp's triggers on this machine.

It reads the same declarations and host.json the Functions host reads, so what runs
locally is what Azure runs: HTTP triggers through uvicorn, Service Bus triggers from
the local queue, timers on their schedules, Cosmos DB triggers from the change feed
when given a way to reach it (`change_feed`), plus background services that stand in
for Azure-side machinery (on the embedded shape, the change feed behind the projections).
"""

from __future__ import annotations

import json
import logging
import signal
import socket
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path
from types import FrameType
from typing import Protocol

import azure.functions as func
import uvicorn

from devhost.change_feed import ChangeFeedPoller, ChangeFeedRunner, FeedFactory
from devhost.http_bridge import DEFAULT_MAX_BODY_BYTES, HttpBridge
from devhost.http_limits import DEFAULT_LIMITS, HttpLimits, guarded_protocol
from devhost.metrics_route import Exposition, MetricsRoute
from devhost.ncrontab import parse_timespan
from devhost.queue_workers import DEFAULT_MAX_LOCK_RENEWAL, QueueFactory, QueueWorkerPool
from devhost.timers import TimerRunner
from devhost.triggers import AppTriggers, discover

log = logging.getLogger("devhost")

_GRACEFUL_SECONDS = 30.0
# An ASGI application (scope, receive, send), as uvicorn takes it.
HttpApp = Callable[..., Awaitable[None]]


class BackgroundService(Protocol):
    def start(self) -> None: ...
    def stop(self) -> None: ...


@dataclass(frozen=True, slots=True)
class HostSettings:
    """The parts of host.json the embedded host honours."""

    route_prefix: str = "api"
    max_lock_renewal: timedelta = DEFAULT_MAX_LOCK_RENEWAL

    @classmethod
    def read(cls, path: Path | None) -> HostSettings:
        if path is None:
            return cls()
        extensions = json.loads(path.read_text(encoding="utf-8")).get("extensions", {})
        http = extensions.get("http", {})
        service_bus = extensions.get("serviceBus", {})
        renewal = service_bus.get("maxAutoLockRenewalDuration")
        return cls(
            route_prefix=str(http.get("routePrefix", "api")),
            max_lock_renewal=parse_timespan(renewal) if renewal else DEFAULT_MAX_LOCK_RENEWAL,
        )


def host_json_beside(app: func.FunctionApp) -> Path | None:
    """host.json next to the module that defines ``app`` (as function_app.py sits), if any."""
    for module in list(sys.modules.values()):
        file = getattr(module, "__file__", None)
        if file and any(value is app for value in list(vars(module).values())):
            candidate = Path(file).resolve().parent / "host.json"
            return candidate if candidate.is_file() else None
    return None


class LocalHost:
    def __init__(
        self,
        app: func.FunctionApp,
        *,
        queue_for: QueueFactory,
        host_json: Path | None = None,
        http_host: str = "127.0.0.1",
        http_port: int = 7071,
        workers_per_queue: int = 2,
        background: Sequence[BackgroundService] = (),
        max_request_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        log_level: str = "info",
        change_feed: FeedFactory | None = None,
        app_settings: Mapping[str, str] | None = None,
        limits: HttpLimits = DEFAULT_LIMITS,
        metrics: Exposition | None = None,  # served at GET /metrics (devhost/metrics_route.py)
        front: Callable[[HttpBridge], HttpApp] | None = None,
    ) -> None:
        self.triggers: AppTriggers = discover(
            app, app_settings, change_feed=change_feed is not None
        )
        self.settings = HostSettings.read(host_json or host_json_beside(app))
        self.asgi = HttpBridge(
            self.triggers.http,
            route_prefix=self.settings.route_prefix,
            max_body_bytes=max_request_body_bytes,
            body_timeout=limits.body_timeout,
        )
        # What answers HTTP: the API alone, or a front (the console) that passes it `/api`.
        self._http_app: HttpApp = self.asgi if front is None else front(self.asgi)
        self._limits = limits
        self._metrics = metrics
        self._queues = QueueWorkerPool(
            self.triggers.service_bus,
            queue_for,
            workers_per_queue=workers_per_queue,
            max_lock_renewal=self.settings.max_lock_renewal,
        )
        self._workers_per_queue = workers_per_queue
        self._timers = TimerRunner(self.triggers.timers)
        self._feeds = ChangeFeedRunner(
            [ChangeFeedPoller(t, partial(change_feed, t)) for t in self.triggers.cosmos_db]
            if change_feed is not None
            else []
        )
        self._background = tuple(background)
        self._http_host = http_host
        self._http_port = http_port
        self._log_level = log_level
        self._socket: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound port (useful with ``http_port=0``); only once serving."""
        if self._socket is None:
            raise RuntimeError("the host is not serving")
        return int(self._socket.getsockname()[1])

    @property
    def base_url(self) -> str:
        host = f"[{self._http_host}]" if ":" in self._http_host else self._http_host
        return f"http://{host}:{self.port}"

    def serve(self) -> None:
        """Serve in the foreground until SIGINT or SIGTERM, then stop everything cleanly."""
        server, sock = self._start()

        def request_exit(signum: int, frame: FrameType | None) -> None:
            server.should_exit = True

        # uvicorn installs its own handlers while it runs and re-raises the signal into
        # these afterwards; ours only ask it to exit, so the shutdown below still runs.
        previous = {
            sig: signal.signal(sig, request_exit) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            server.run(sockets=[sock])
        finally:
            # A second Ctrl+C during the graceful stop interrupts it, as users expect.
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self._shutdown()

    def start_in_thread(self, timeout: float = 10.0) -> None:
        """Serve from a background thread; returns once HTTP requests are being answered."""
        server, sock = self._start()
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="devhost-http", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self._shutdown()
                raise RuntimeError("the HTTP server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(_GRACEFUL_SECONDS + 5)
            self._thread = None
        self._shutdown()

    def _start(self) -> tuple[uvicorn.Server, socket.socket]:
        if self._server is not None:
            raise RuntimeError("the host is already serving")
        family = socket.AF_INET6 if ":" in self._http_host else socket.AF_INET
        sock = socket.create_server((self._http_host, self._http_port), family=family)
        self._socket = sock
        app = self._http_app
        if self._metrics is not None:
            app = MetricsRoute(app, self._metrics)
        config = uvicorn.Config(
            app=app,
            host=self._http_host,
            port=self.port,
            log_level=self._log_level,
            log_config=None,  # uvicorn's records go to the root logger's JSON handler
            lifespan="off",
            timeout_graceful_shutdown=int(_GRACEFUL_SECONDS),
            http=guarded_protocol(self._limits),
            timeout_keep_alive=self._limits.keep_alive,
        )
        self._server = uvicorn.Server(config)
        self._log_triggers()
        try:
            for service in self._background:
                service.start()
            self._timers.start()
            self._feeds.start()
            self._queues.start()
        except BaseException:
            self._shutdown()
            raise
        return self._server, sock

    def _shutdown(self) -> None:
        """Stop in the reverse order of starting; one failure does not strand the rest."""
        if self._server is None:
            return
        steps: list[tuple[str, Callable[[], object]]] = [
            ("queue workers", lambda: self._queues.stop(_GRACEFUL_SECONDS)),
            ("change feed", lambda: self._feeds.stop(_GRACEFUL_SECONDS)),
            ("timers", lambda: self._timers.stop(_GRACEFUL_SECONDS)),
            *((type(s).__name__, s.stop) for s in reversed(self._background)),
        ]
        for name, stop in steps:
            try:
                stop()
            except Exception:
                log.exception("stopping %s failed", name)
        if self._socket is not None:
            self._socket.close()
        self._server = None
        self._socket = None
        log.info("host stopped")

    def _log_triggers(self) -> None:
        prefix = self.settings.route_prefix.strip("/")
        for http in self.triggers.http:
            path = "/".join(part for part in (prefix, http.route.strip("/")) if part)
            methods = ",".join(sorted(http.methods))
            log.info("%s: [%s] %s/%s", http.binding.function_name, methods, self.base_url, path)
        for queue in self.triggers.service_bus:
            log.info(
                "%s: serviceBusTrigger queue=%s (%d workers)",
                queue.binding.function_name,
                queue.queue_name,
                self._workers_per_queue,
            )
        for timer in self.triggers.timers:
            on_startup = ", runOnStartup" if timer.run_on_startup else ""
            log.info(
                "%s: timerTrigger schedule=%r%s",
                timer.binding.function_name,
                timer.schedule,
                on_startup,
            )
        for feed in self.triggers.cosmos_db:
            log.info(
                "%s: cosmosDBTrigger container=%s leases=%s/%s*",
                feed.binding.function_name,
                feed.container_name,
                feed.lease_container_name,
                feed.lease_container_prefix,
            )
        for skipped in self.triggers.skipped:
            log.info(
                "%s: %s not run (%s)", skipped.function_name, skipped.trigger_type, skipped.reason
            )
