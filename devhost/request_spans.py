"""The server span of an HTTP request the embedded host serves, as the Functions host's
front door makes one on Azure: it continues a caller's W3C `traceparent`, is named by
the route template (never the path, which holds ids), and records the answer's status.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import propagate
from opentelemetry.trace import Span, SpanKind, StatusCode

from services.tracing import tracer

Message = MutableMapping[str, Any]
Send = Callable[[Message], Awaitable[None]]


@contextmanager
def request_span(method: str, route: str, headers: Mapping[str, str]) -> Iterator[Span]:
    template = "/" + route.strip("/")
    with tracer.start_as_current_span(
        f"{method} {template}",
        context=propagate.extract(dict(headers)),
        kind=SpanKind.SERVER,
        attributes={"http.request.method": method, "http.route": template},
    ) as span:
        yield span


def recording_status(send: Send, span: Span) -> Send:
    """`send`, noting the response's status on `span` (a 5xx marks it failed)."""

    async def send_noting(message: Message) -> None:
        if message["type"] == "http.response.start":
            status = int(message["status"])
            span.set_attribute("http.response.status_code", status)
            if status >= 500:
                span.set_status(StatusCode.ERROR)
        await send(message)

    return send_noting
