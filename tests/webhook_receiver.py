"""A local webhook receiver on a real socket: records every POST, fails as told.

`failures` is how many requests it answers 500 before it starts answering 204; -1 means
it never recovers.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    """One POST as it arrived; header names lower-cased."""

    path: str
    headers: dict[str, str]
    body: bytes
    answered: int

    @property
    def document(self) -> Any:
        return json.loads(self.body)


class Receiver:
    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self.url = ""

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> int:
        with self._lock:
            failing = self.failures < 0 or len(self.received) < self.failures
            status = 500 if failing else 204
            self.received.append(Received(path, headers, body, status))
            return status

    def delivered(self) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.answered == 204]

    def wait_for(
        self, condition: Callable[[list[Received]], bool], timeout: float = 30.0
    ) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                snapshot = list(self.received)
            if condition(snapshot):
                return snapshot
            time.sleep(0.05)
        raise AssertionError(f"receiver never saw what was expected; got {snapshot}")


@contextmanager
def running_receiver(
    failures: int = 0, tls: ssl.SSLContext | None = None, host: str = "127.0.0.1"
) -> Iterator[Receiver]:
    """A receiver on 127.0.0.1; with `tls`, it speaks https and its URL names `host`."""
    receiver = Receiver(failures)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            headers = {name.lower(): value for name, value in self.headers.items()}
            status = receiver.handle(self.path, headers, body)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    scheme = "http" if tls is None else "https"
    receiver.url = f"{scheme}://{host}:{server.server_address[1]}/hooks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
