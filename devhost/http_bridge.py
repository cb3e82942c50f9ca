"""An ASGI application that serves a FunctionApp's HTTP triggers as the Functions host does.

Route templates follow ASP.NET Core routing, which the host uses: literal segments are
case-insensitive and win over parameters, constrained parameters win over plain ones,
and a catch-all comes last. Query values and repeated headers are joined with commas
because that is how the host flattens them before they reach the Python worker.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable, MutableMapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote

import azure.functions as func

from devhost.request_spans import recording_status, request_span
from devhost.triggers import HttpTrigger, UnsupportedBindingError
from services.correlation import CORRELATION_HEADER, correlated, safe_correlation_id
from services.provenance import MAX_IMAGE_BYTES

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# The largest body any route takes (an image to verify), plus envelope room; each route
# holds its body to its own limit (1 MiB of JSON for all others).
DEFAULT_MAX_BODY_BYTES = MAX_IMAGE_BYTES + 64 * 1024
DEFAULT_BODY_TIMEOUT = 30.0  # seconds for a whole body, from its headers (http_limits.py)
DEFAULT_MAX_BODY_BYTES = 1024 * 1024 + 64 * 1024  # the API's 1 MiB limit plus envelope room
# Threads for synchronous functions. Not asyncio's default executor (cpu + 4 threads):
# the drop-in face holds a thread while it waits for its generations, and a few such
# waits must not keep every other request from a thread.
DEFAULT_BLOCKING_THREADS = 128
# The same type URIs as functions/http_support.py, so clients see one vocabulary.
PROBLEM_TYPE_BASE = "https://donatello.ai/problems/"
_HOP_BY_HOP = frozenset({"content-length", "transfer-encoding", "connection"})
_INT32 = range(-(2**31), 2**31)
_INT64 = range(-(2**63), 2**63)

log = logging.getLogger("devhost.http")


def _is_guid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return not value.lower().startswith("urn:")


def _is_integer(value: str, bounds: range) -> bool:
    digits = value[1:] if value[:1] in "+-" else value
    return digits.isascii() and digits.isdigit() and int(value) in bounds


_CONSTRAINTS: dict[str, Callable[[str], bool]] = {
    "int": lambda value: _is_integer(value, _INT32),
    "long": lambda value: _is_integer(value, _INT64),
    "guid": _is_guid,
    "alpha": lambda value: value.isascii() and value.isalpha(),
    "bool": lambda value: value.lower() in {"true", "false"},
}


@dataclass(frozen=True, slots=True)
class _Segment:
    literal: str | None = None
    name: str = ""
    checks: tuple[Callable[[str], bool], ...] = ()
    optional: bool = False
    catch_all: bool = False

    @property
    def precedence(self) -> int:
        # ASP.NET Core's inbound precedence digits: lower is tried first.
        if self.literal is not None:
            return 1
        if self.catch_all:
            return 5
        return 3 if self.checks else 4


class RouteTemplate:
    def __init__(self, template: str) -> None:
        self.template = template.strip("/")
        self.segments = tuple(_parse_segment(part, template) for part in _split(self.template))
        self.precedence = tuple(segment.precedence for segment in self.segments)

    def match(self, parts: Sequence[str]) -> dict[str, str] | None:
        """Route values for the percent-encoded path ``parts``, or None."""
        values: dict[str, str] = {}
        for index, segment in enumerate(self.segments):
            if segment.catch_all:
                values[segment.name] = "/".join(unquote(part) for part in parts[index:])
                return values
            if index >= len(parts):
                return values if all(s.optional for s in self.segments[index:]) else None
            value = unquote(parts[index])
            if segment.literal is not None:
                if value.lower() != segment.literal.lower():
                    return None
            elif all(check(value) for check in segment.checks):
                values[segment.name] = value
            else:
                return None
        return values if len(parts) == len(self.segments) else None


def _parse_segment(text: str, template: str) -> _Segment:
    if "{" not in text and "}" not in text:
        return _Segment(literal=text)
    if not (text.startswith("{") and text.endswith("}")) or text.count("{") != 1:
        raise UnsupportedBindingError(
            f"route {template!r}: segment {text!r} mixes text and a parameter"
        )
    inner = text[1:-1]
    catch_all = inner.startswith("*")
    optional = inner.endswith("?")
    name, *constraints = inner.lstrip("*").rstrip("?").split(":")
    if "=" in name:
        raise UnsupportedBindingError(f"route {template!r}: default values are not supported")
    unknown = [c for c in constraints if c not in _CONSTRAINTS]
    if unknown:
        raise UnsupportedBindingError(f"route {template!r}: constraints {unknown} not supported")
    return _Segment(
        name=name,
        checks=tuple(_CONSTRAINTS[c] for c in constraints),
        optional=optional or catch_all,
        catch_all=catch_all,
    )


def _split(path: str) -> list[str]:
    return [part for part in path.split("/") if part] if path else []


@dataclass(frozen=True, slots=True)
class _Route:
    template: RouteTemplate
    trigger: HttpTrigger


class HttpBridge:
    """ASGI entry point for every HTTP trigger of the app, under ``route_prefix``."""

    def __init__(
        self,
        triggers: Iterable[HttpTrigger],
        *,
        route_prefix: str = "api",
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        body_timeout: float = DEFAULT_BODY_TIMEOUT,
        blocking_threads: int = DEFAULT_BLOCKING_THREADS,
    ) -> None:
        self._threads = ThreadPoolExecutor(blocking_threads, thread_name_prefix="http")
        routes = [_Route(RouteTemplate(trigger.route), trigger) for trigger in triggers]
        self._routes = sorted(routes, key=lambda r: (r.template.precedence, r.template.template))
        self._prefix = tuple(part.lower() for part in _split(route_prefix.strip("/")))
        self._max_body_bytes = max_body_bytes
        self._body_timeout = body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _answer_lifespan(receive, send)
            return
        if scope["type"] != "http":
            await send({"type": "websocket.close", "code": 1000})
            return
        raw_path = scope.get("raw_path") or scope["path"].encode()
        parts = _split(raw_path.decode("latin-1"))
        if [unquote(part).lower() for part in parts[: len(self._prefix)]] != list(self._prefix):
            await _send_not_found(send)
            return
        parts = parts[len(self._prefix) :]
        method = str(scope["method"]).upper()
        allowed: set[str] = set()
        for route in self._routes:
            route_params = route.template.match(parts)
            if route_params is None:
                continue
            if method in route.trigger.methods:
                await self._invoke(route.trigger, route_params, scope, receive, send)
                return
            allowed |= route.trigger.methods
        if allowed:
            detail = f"{method} is not allowed here; use {', '.join(sorted(allowed))}."
            await send_problem(
                send,
                405,
                "method-not-allowed",
                "Method not allowed",
                detail,
                [("allow", ", ".join(sorted(allowed)))],
            )
        else:
            await _send_not_found(send)

    async def _invoke(
        self,
        trigger: HttpTrigger,
        route_params: dict[str, str],
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        headers = _request_headers(scope)
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self._max_body_bytes:
            await _send_too_large(send, self._max_body_bytes)
            return
        try:
            # One deadline for the whole body: a client trickling bytes must not hold on.
            async with asyncio.timeout(self._body_timeout):
                body = await read_body(receive, self._max_body_bytes)
        except ClientGone:
            return
        except TimeoutError:
            await send_problem(
                send,
                408,
                "request-timeout",
                "Request timeout",
                f"The request body did not arrive within {self._body_timeout:g} s.",
                [("connection", "close")],  # the rest of the body is never read
            )
            return
        if body is None:
            await _send_too_large(send, self._max_body_bytes)
            return
        # Every request gets a correlation id here, as the Functions host's front door would,
        # and the function sees it in the header: its log lines and ours share it.
        request_id = safe_correlation_id(headers.get(CORRELATION_HEADER.lower()))
        headers[CORRELATION_HEADER.lower()] = request_id
        route = "/".join((*self._prefix, trigger.route.strip("/")))
        with (
            correlated(request_id),  # uvicorn's access line is written inside `send`
            request_span(str(scope["method"]).upper(), route, headers) as span,
        ):
            await self._call(
                trigger, headers, route_params, body, scope, recording_status(send, span)
            )

    async def _call(
        self,
        trigger: HttpTrigger,
        headers: dict[str, str],
        route_params: dict[str, str],
        body: bytes,
        scope: Scope,
        send: Send,
    ) -> None:
        request = func.HttpRequest(
            method=str(scope["method"]).upper(),
            url=_url(scope, headers),
            headers=headers,
            params=_joined(parse_qsl(scope.get("query_string", b"").decode("latin-1"), True), ","),
            route_params=route_params,
            body=body,
        )
        binding = trigger.binding
        try:
            if binding.is_async:
                result = await binding.user_function(**binding.arguments(request))
            else:
                # As asyncio.to_thread does: the call sees this request's context (its
                # correlation id), on a thread of our own pool.
                context = contextvars.copy_context()
                result = await asyncio.get_running_loop().run_in_executor(
                    self._threads, context.run, binding.call_blocking, request
                )
            status, response_headers, response_body = _response(result)
        except Exception:
            incident = uuid.uuid4()
            log.exception("function %s failed (incident %s)", binding.function_name, incident)
            await send_problem(
                send,
                500,
                "internal-error",
                "Internal error",
                "The function failed; the host log has the details.",
                instance=f"urn:uuid:{incident}",
            )
            return
        await send_response(send, status, response_headers, response_body)


def _request_headers(scope: Scope) -> dict[str, str]:
    pairs = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope["headers"]]
    return _joined(pairs, ", ")


def _joined(pairs: Iterable[tuple[str, str]], separator: str) -> dict[str, str]:
    joined: dict[str, str] = {}
    for key, value in pairs:
        joined[key] = f"{joined[key]}{separator}{value}" if key in joined else value
    return joined


def _url(scope: Scope, headers: dict[str, str]) -> str:
    host = headers.get("host")
    if host is None:
        server_host, server_port = scope.get("server") or ("localhost", 80)
        host = f"{server_host}:{server_port}"
    path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
    query = scope.get("query_string", b"").decode("latin-1")
    return f"{scope.get('scheme', 'http')}://{host}{path}" + (f"?{query}" if query else "")


async def read_body(receive: Receive, limit: int) -> bytes | None:
    """The request body, or None when it exceeds ``limit``.

    An oversized body is still read and dropped, up to `_DRAIN_BYTES`: closing a socket
    with unread data makes the kernel reset it, and the client, still sending, would see
    the reset instead of the 413.
    """
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size <= limit:
            chunks.append(chunk)
        more = message.get("more_body", False)
        if size > limit and (not more or size > _DRAIN_BYTES):
            return None
        if not more:
            return b"".join(chunks)


def _response(result: object) -> tuple[int, list[tuple[str, str]], bytes]:
    if isinstance(result, str):
        return 200, [("content-type", "text/plain; charset=utf-8")], result.encode()
    if not isinstance(result, func.HttpResponse):
        raise TypeError(f"an HTTP function returned {type(result).__name__}, not HttpResponse")
    headers = [(str(k), str(v)) for k, v in result.headers.items()]
    headers = [(k, v) for k, v in headers if k.lower() not in _HOP_BY_HOP]
    if not any(k.lower() == "content-type" for k, _ in headers):
        mimetype = str(result.mimetype)
        text = mimetype.startswith("text/")
        headers.append(
            ("content-type", f"{mimetype}; charset={result.charset}" if text else mimetype)
        )
    return int(result.status_code), headers, result.get_body()


_DRAIN_BYTES = 16 * 1024 * 1024


class ClientGone(Exception):
    """The client disconnected before its request body arrived."""


async def _send_not_found(send: Send) -> None:
    await send_problem(send, 404, "not-found", "Not found", "No function serves this path.")


async def _send_too_large(send: Send, limit: int) -> None:
    await send_problem(
        send,
        413,
        "payload-too-large",
        "Request body too large",
        f"The request body is larger than {limit} bytes.",
        # Beyond the drained part the body is not read, so the connection cannot be reused.
        [("connection", "close")],
    )


async def send_problem(
    send: Send,
    status: int,
    slug: str,
    title: str,
    detail: str,
    extra_headers: Sequence[tuple[str, str]] = (),
    *,
    instance: str | None = None,
) -> None:
    problem: dict[str, object] = {
        "type": PROBLEM_TYPE_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
    }
    if instance is not None:
        problem["instance"] = instance
    headers = [("content-type", "application/problem+json"), *extra_headers]
    await send_response(send, status, headers, json.dumps(problem).encode())


async def send_response(
    send: Send,
    status: int,
    headers: Sequence[tuple[str, str]],
    body: bytes,
    length: int | None = None,  # a HEAD answer's: the body it would have had
) -> None:
    raw_headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    raw_headers.append((b"content-length", str(len(body) if length is None else length).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})


async def _answer_lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
