"""Slow and greedy clients over real sockets: the local host gives a request's headers
and its body a deadline each, and refuses connections beyond its cap, while ordinary
requests (kept-alive ones included) go on as before."""

from __future__ import annotations

import json
import select
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import azure.functions as func
import httpx
import pytest

from devhost.host import LocalHost
from devhost.http_limits import HttpLimits
from tests.platform_process import running_platform

HEADER_TIMEOUT, BODY_TIMEOUT = 1.0, 1.0
# How late past a deadline a close may come on a loaded 2-core machine: loose on purpose,
# far below the "open for ever" it replaces.
SLACK = 3.0
CAP = 4
GET = b"GET /api/v1/ping HTTP/1.1\r\nHost: test\r\n\r\n"


def build_app() -> func.FunctionApp:
    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

    @app.route(route="v1/ping", methods=["GET"])
    def ping(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("pong")

    @app.route(route="v1/echo", methods=["POST"])
    def echo(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse(req.get_body(), mimetype="application/octet-stream")

    return app


def start(limits: HttpLimits, tmp_path: Path) -> LocalHost:
    host_json = tmp_path / "host.json"
    host_json.write_text(json.dumps({"version": "2.0"}))
    host = LocalHost(
        build_app(),
        queue_for=lambda name: pytest.fail(f"no queue expected, asked for {name}"),
        host_json=host_json,
        http_port=0,
        log_level="warning",
        limits=limits,
    )
    host.start_in_thread()
    return host


@pytest.fixture
def host(tmp_path: Path) -> Iterator[LocalHost]:
    limits = HttpLimits(header_timeout=HEADER_TIMEOUT, body_timeout=BODY_TIMEOUT)
    running = start(limits, tmp_path)
    try:
        yield running
    finally:
        running.stop()


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=HEADER_TIMEOUT + SLACK + 5)


def read_until_closed(conn: socket.socket) -> tuple[bytes, float]:
    """Everything the server sends until it closes, and when it closed (monotonic)."""
    received = b""
    while chunk := conn.recv(65536):
        received += chunk
    return received, time.monotonic()


def read_response(conn: socket.socket) -> bytes:
    """One response with a Content-Length, leaving the connection open."""
    received = b""
    while b"\r\n\r\n" not in received:
        received += conn.recv(65536)
    head, _, body = received.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += conn.recv(65536)
    return head + b"\r\n\r\n" + body


def problem(response: bytes, status: int, slug: str) -> None:
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(f"HTTP/1.1 {status} ".encode()), head
    assert b"application/problem+json" in head.lower()
    assert json.loads(body)["type"] == f"https://donatello.ai/problems/{slug}"


@pytest.mark.parametrize(
    "sent",
    [b"", b"GET /api/v1/ping HTTP/1.1\r\nHost: te"],
    ids=["nothing", "half-the-headers"],
)
def test_headers_that_do_not_arrive_in_time_are_answered_408_and_closed(
    host: LocalHost, sent: bytes
) -> None:
    with connect(host.port) as conn:
        opened = time.monotonic()
        conn.sendall(sent)
        response, closed = read_until_closed(conn)
    problem(response, 408, "request-timeout")
    assert HEADER_TIMEOUT - 0.1 <= closed - opened <= HEADER_TIMEOUT + SLACK


def test_headers_trickled_a_byte_at_a_time_still_meet_the_deadline(host: LocalHost) -> None:
    with connect(host.port) as conn:
        opened = time.monotonic()
        for byte in GET[:-2]:  # never quite finished
            conn.sendall(bytes([byte]))
            answered, _, _ = select.select([conn], [], [], 0.1)
            if answered:  # sending on would only meet a reset
                break
        response, closed = read_until_closed(conn)
    problem(response, 408, "request-timeout")
    assert closed - opened <= HEADER_TIMEOUT + SLACK


def test_a_body_that_does_not_arrive_in_time_is_answered_408_and_closed(
    host: LocalHost,
) -> None:
    with connect(host.port) as conn:
        conn.sendall(b"POST /api/v1/echo HTTP/1.1\r\nHost: test\r\nContent-Length: 100\r\n\r\n")
        sent = time.monotonic()
        conn.sendall(b"x" * 50)  # half the body, then nothing
        response, closed = read_until_closed(conn)
    problem(response, 408, "request-timeout")
    assert b"connection: close" in response.lower()
    assert BODY_TIMEOUT - 0.1 <= closed - sent <= BODY_TIMEOUT + SLACK


def test_ordinary_and_kept_alive_requests_still_work(host: LocalHost) -> None:
    with httpx.Client(base_url=f"{host.base_url}/api", timeout=10) as client:
        assert client.get("/v1/ping").text == "pong"
        assert client.post("/v1/echo", content=b"x" * 100_000).content == b"x" * 100_000
    with connect(host.port) as conn:  # one connection, idle between requests past the
        conn.sendall(GET)  # header deadline but within keep-alive
        assert read_response(conn).startswith(b"HTTP/1.1 200 ")
        time.sleep(HEADER_TIMEOUT + 0.5)
        conn.sendall(GET)
        assert read_response(conn).startswith(b"HTTP/1.1 200 ")


def test_connections_beyond_the_cap_are_answered_503_and_the_rest_carry_on(
    tmp_path: Path,
) -> None:
    host = start(HttpLimits(header_timeout=30, max_connections=CAP), tmp_path)
    try:
        with ExitStack() as held:
            idle = [held.enter_context(connect(host.port)) for _ in range(CAP)]
            with connect(host.port) as extra:
                extra.sendall(GET)
                response, _ = read_until_closed(extra)
            problem(response, 503, "over-capacity")
            assert b"retry-after: 1" in response.lower()
            # The connections within the cap are served.
            idle[0].sendall(GET)
            assert read_response(idle[0]).startswith(b"HTTP/1.1 200 ")
        with httpx.Client(timeout=10) as client:  # once they are gone, there is room again
            deadline = time.monotonic() + 10
            while (status := client.get(f"{host.base_url}/api/v1/ping").status_code) != 200:
                assert time.monotonic() < deadline, status
                time.sleep(0.05)
    finally:
        host.stop()


def test_donatello_serve_takes_its_limits_from_the_settings(tmp_path: Path) -> None:
    with (
        running_platform(tmp_path / "data", DONATELLO_HTTP_HEADER_TIMEOUT_SECONDS="1") as platform,
        connect(platform.port) as conn,
    ):
        opened = time.monotonic()
        conn.sendall(b"GET /api/v1/health/live HTTP/1.1\r\nHo")
        response, closed = read_until_closed(conn)
    problem(response, 408, "request-timeout")
    assert closed - opened <= 1 + SLACK
