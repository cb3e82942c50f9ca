"""What one client may hold of the local host: time to send a request, and connections.

uvicorn's h11 protocol waits for a request's headers for ever, and the body is read at
the client's pace, so a client that sends half a request (or a few bytes a minute)
holds a connection, and enough of them hold every file descriptor. The Functions host
in Azure sits behind a front end that bounds all of this; the embedded host bounds it
here:

- headers: a request's headers must be whole within `header_timeout` of the connection
  opening (or of the first byte of the next request on a kept-alive connection), else the
  connection is answered 408 and closed;
- body: the body must be whole within `body_timeout` of the headers, else 408 and closed
  (enforced where the bridge reads it, devhost/http_bridge.py);
- connections: a connection that arrives while `max_connections` are open is answered
  503 with `Retry-After` to its first request and closed; the open ones carry on;
- idle: a kept-alive connection with no next request is closed after `keep_alive`.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from devhost.http_bridge import (
    DEFAULT_BODY_TIMEOUT,
    PROBLEM_TYPE_BASE,
    Receive,
    Scope,
    Send,
    send_problem,
)


@dataclass(frozen=True, slots=True)
class HttpLimits:
    """Seconds and counts; `donatello serve` takes them from the `http_*` settings."""

    header_timeout: float = 10.0
    body_timeout: float = DEFAULT_BODY_TIMEOUT
    max_connections: int = 100
    keep_alive: int = 5  # uvicorn's default


DEFAULT_LIMITS = HttpLimits()


def guarded_protocol(limits: HttpLimits) -> type[H11Protocol]:
    """uvicorn's h11 protocol with `limits`' header deadline and connection cap."""
    timeout = _request_timeout(limits.header_timeout)

    class GuardedH11Protocol(H11Protocol):
        _header_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)  # type: ignore[arg-type]
            if len(self.connections) > limits.max_connections:
                self.app = answer_over_capacity
            self._arm()

        def data_received(self, data: bytes) -> None:
            if self._header_timer is None and self.conn.their_state is h11.IDLE:
                self._arm()  # the first bytes of the next request on a kept-alive connection
            super().data_received(data)
            if self.conn.their_state is not h11.IDLE:
                self._disarm()  # the headers are whole

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._header_timer = self.loop.call_later(limits.header_timeout, self._overdue)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _overdue(self) -> None:
            self._header_timer = None
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                # Written past h11, which has no request to answer; the connection ends here.
                self.transport.write(timeout)
                self.transport.close()

    return GuardedH11Protocol


async def answer_over_capacity(scope: Scope, receive: Receive, send: Send) -> None:
    await send_problem(
        send,
        503,
        "over-capacity",
        "Too many connections",
        "The host has as many connections open as it allows; try again shortly.",
        [("retry-after", "1"), ("connection", "close")],
    )


def _request_timeout(seconds: float) -> bytes:
    problem: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + "request-timeout",
        "title": "Request timeout",
        "status": 408,
        "detail": f"The request's headers did not arrive within {seconds:g} s.",
    }
    body = json.dumps(problem).encode()
    head = (
        "HTTP/1.1 408 Request Timeout\r\n"
        "content-type: application/problem+json\r\n"
        "connection: close\r\n"
        f"content-length: {len(body)}\r\n\r\n"
    )
    return head.encode("ascii") + body
