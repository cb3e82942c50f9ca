"""`GET /metrics`: the Prometheus text exposition, for scrapers on this machine only.

The metrics name no user, prompt or department, but they still describe the
platform's traffic and failures, so the embedded host answers them only to a peer on
a loopback address (a Prometheus or Grafana agent beside it); anyone else gets a 403,
even when the host listens on every interface. It is not an API route: on Azure the
same measurements go to Application Insights instead.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Callable
from typing import Any

from devhost.http_bridge import Receive, Scope, Send, send_problem

Exposition = Callable[[], tuple[bytes, str]]
PATH = "/metrics"


def is_loopback(client: Any) -> bool:
    if not client:
        return False
    try:
        return ipaddress.ip_address(str(client[0])).is_loopback
    except ValueError:
        return False


class MetricsRoute:
    """Answers `GET /metrics` itself and hands every other request to `app`."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Any], exposition: Exposition):
        self._app = app
        self._exposition = exposition

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH:
            await self._app(scope, receive, send)
            return
        if not is_loopback(scope.get("client")):
            detail = "metrics are served to loopback clients only"
            await send_problem(send, 403, "forbidden", "Forbidden", detail)
            return
        if scope["method"] not in ("GET", "HEAD"):
            allow = [("allow", "GET, HEAD")]
            await send_problem(send, 405, "method-not-allowed", "Method Not Allowed", "", allow)
            return
        body, content_type = await asyncio.to_thread(self._exposition)
        await _answer(send, 200, content_type, b"" if scope["method"] == "HEAD" else body)


async def _answer(send: Send, status: int, content_type: str, body: bytes) -> None:
    headers = [(b"content-type", content_type.encode()), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
