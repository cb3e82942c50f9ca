"""Local HTTP servers that speak the Stability AI and Replicate wire formats.

Each is a real HTTP server on 127.0.0.1 (stdlib `http.server`, one thread per request),
so the providers' httpx clients cross a real socket. A test picks a `mode` to choose
how the API behaves, and reads back every request as it arrived on the wire.

Stability (`POST /v2beta/stable-image/generate/{endpoint}`, multipart form, `Accept:
image/*`): a 200 answers PNG bytes with `finish-reason` and `seed` headers; errors answer
`{"id", "name", "errors"}`, content moderation as a 403 named `content_moderation`.

Replicate (`POST /v1/models/{owner}/{name}/predictions`, `GET /v1/predictions/{id}`,
`POST /v1/predictions/{id}/cancel`, and the output files under `/files/`): predictions
as JSON with `id`, `status`, `output`, `error`, `urls`; errors as problem details
`{"title", "detail", "status"}`.

Both check `Authorization: Bearer <api_key>` first and answer 401 without it.
"""

from __future__ import annotations

import email.parser
import email.policy
import io
import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from PIL import Image
from PIL.PngImagePlugin import PngInfo

from tests.content_credentials import with_provider_credentials

SLOW_SECONDS = 5.0


def sample_png(width: int = 64, height: int = 48) -> bytes:
    """A real PNG with a gradient, a provider text chunk that must not survive, and the
    provider's Content Credentials, which must."""
    image = Image.new("RGB", (width, height))
    image.putdata(
        [(x * 4 % 256, y * 5 % 256, (x + y) % 256) for y in range(height) for x in range(width)]
    )
    info = PngInfo()
    info.add_text("prompt", "provider-echoed prompt")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=info)
    return with_provider_credentials(buffer.getvalue(), "image/png")


@dataclass(frozen=True, slots=True)
class Recorded:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, tuple[str, str | None]]:
        """A multipart body's fields: name -> (value, file name)."""
        head = f"Content-Type: {self.headers['content-type']}\r\n\r\n".encode()
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + self.body)
        assert message.is_multipart(), "expected a multipart body"
        fields: dict[str, tuple[str, str | None]] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            assert isinstance(name, str)
            assert isinstance(payload, bytes)
            fields[name] = (payload.decode(), part.get_filename())
        return fields


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0

    @classmethod
    def json(cls, status: int, body: object, **headers: str) -> Reply:
        return cls(
            status, json.dumps(body).encode(), {"Content-Type": "application/json", **headers}
        )


class LocalApi:
    """The server and its recorded requests; subclasses answer one API."""

    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        self.mode = "success"
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def reset(self, mode: str = "success") -> None:
        with self._lock:
            self.mode = mode
            self.requests.clear()
            self.on_reset()

    def on_reset(self) -> None:
        """Forget per-test API state (called with the lock held)."""

    def close(self) -> None:
        self._closing.set()  # wakes slow replies, so shutdown does not wait them out
        self._server.shutdown()
        self._server.server_close()

    def answer(self, request: Recorded) -> Reply:
        raise NotImplementedError

    def _reply_to(self, request: Recorded) -> Reply:
        with self._lock:
            self.requests.append(request)
            if request.headers.get("authorization") != f"Bearer {self.api_key}":
                return self.unauthorized()
            return self.answer(request)

    def unauthorized(self) -> Reply:
        raise NotImplementedError

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                recorded = Recorded(
                    method=self.command,
                    path=self.path,
                    headers={name.lower(): value for name, value in self.headers.items()},
                    body=self.rfile.read(length),
                )
                reply = api._reply_to(recorded)
                if reply.delay and api._closing.wait(reply.delay):
                    return
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            do_GET = do_POST = do_PUT = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


class StabilityApi(LocalApi):
    """Modes: success, filtered, moderation, bad_request, rate_limited, server_error,
    malformed, slow."""

    png = sample_png()

    def unauthorized(self) -> Reply:
        return self._error(401, "unauthorized", "authorization: invalid or missing header value")

    def _error(self, status: int, name: str, message: str, **headers: str) -> Reply:
        return Reply.json(
            status, {"id": uuid.uuid4().hex, "name": name, "errors": [message]}, **headers
        )

    def answer(self, request: Recorded) -> Reply:
        if request.method != "POST" or not request.path.startswith(
            "/v2beta/stable-image/generate/"
        ):
            return self._error(404, "not_found", f"no route {request.path}")
        image = {"Content-Type": "image/png", "seed": "1234", "x-request-id": "req-stability-1"}
        match self.mode:
            case "success":
                return Reply(200, self.png, {**image, "finish-reason": "SUCCESS"})
            case "filtered":
                return Reply(200, self.png, {**image, "finish-reason": "CONTENT_FILTERED"})
            case "moderation":
                return self._error(
                    403,
                    "content_moderation",
                    "Your request was flagged by our content moderation system, as a result "
                    "your request was denied and you were not charged.",
                )
            case "bad_request":
                return self._error(400, "bad_request", "aspect_ratio: must be one of 16:9, 1:1")
            case "rate_limited":
                return self._error(
                    429,
                    "rate_limit_exceeded",
                    "You have exceeded the rate limit",
                    **{"Retry-After": "7"},
                )
            case "server_error":
                return self._error(500, "internal_error", "An unexpected server error occurred")
            case "malformed":
                return Reply(
                    200, b"\x89PNG\r\n\x1a\ntruncated", {**image, "finish-reason": "SUCCESS"}
                )
            case "slow":
                return Reply(
                    200, self.png, {**image, "finish-reason": "SUCCESS"}, delay=SLOW_SECONDS
                )
        raise AssertionError(f"unknown mode {self.mode!r}")


class ReplicateApi(LocalApi):
    """Modes: success, polling (starting, then processing twice, then succeeded), stuck
    (processing forever), failed, nsfw, rate_limited, server_error, malformed, slow,
    bad_output (the output file is not an image), output_missing (the file is a 404)."""

    png = sample_png(48, 64)
    polls_before_done = 2

    def on_reset(self) -> None:
        self._polls: dict[str, int] = {}

    def unauthorized(self) -> Reply:
        return self._problem(
            401, "Unauthenticated", "You did not pass a valid authentication token"
        )

    def _problem(self, status: int, title: str, detail: str, **headers: str) -> Reply:
        return Reply.json(status, {"title": title, "detail": detail, "status": status}, **headers)

    def _reply_to(self, request: Recorded) -> Reply:
        if request.path.startswith("/files/"):  # the file host: public URLs, no token
            with self._lock:
                self.requests.append(request)
                return self._file(request.path)
        return super()._reply_to(request)

    def _prediction(
        self, prediction_id: str, status: str, error: str | None = None
    ) -> dict[str, Any]:
        done = status == "succeeded"
        return {
            "id": prediction_id,
            "model": "black-forest-labs/flux-schnell",
            "status": status,
            "output": [f"{self.url}/files/{prediction_id}.png"] if done else None,
            "error": error,
            "urls": {
                "get": f"{self.url}/v1/predictions/{prediction_id}",
                "cancel": f"{self.url}/v1/predictions/{prediction_id}/cancel",
            },
        }

    def _file(self, path: str) -> Reply:
        if self.mode == "output_missing":
            return Reply(404, b"Not Found", {"Content-Type": "text/plain"})
        if self.mode == "bad_output":
            return Reply(200, b"<html>not an image</html>", {"Content-Type": "image/png"})
        return Reply(200, self.png, {"Content-Type": "image/png"})

    def answer(self, request: Recorded) -> Reply:
        parts = request.path.strip("/").split("/")
        match request.method, parts:
            case "POST", ["v1", "models", _, _, "predictions"]:
                return self._create()
            case "GET", ["v1", "predictions", prediction_id]:
                return Reply.json(200, self._poll(prediction_id))
            case "POST", ["v1", "predictions", prediction_id, "cancel"]:
                return Reply.json(200, self._prediction(prediction_id, "canceled"))
        return self._problem(404, "Not found", f"no route {request.method} {request.path}")

    def _create(self) -> Reply:
        prediction_id = uuid.uuid4().hex[:20]
        self._polls[prediction_id] = 0
        match self.mode:
            case "success" | "bad_output" | "output_missing":
                return Reply.json(201, self._prediction(prediction_id, "succeeded"))
            case "polling" | "stuck" | "failed" | "nsfw":
                return Reply.json(201, self._prediction(prediction_id, "starting"))
            case "rate_limited":
                return self._problem(
                    429,
                    "Request was throttled",
                    "Request was throttled. Expected available in 3 seconds.",
                    **{"Retry-After": "3"},
                )
            case "server_error":
                return self._problem(500, "Internal Server Error", "Something went wrong")
            case "malformed":
                return Reply(201, b'{"id": "abc", "status":', {"Content-Type": "application/json"})
            case "slow":
                created = Reply.json(201, self._prediction(prediction_id, "succeeded"))
                return replace(created, delay=SLOW_SECONDS)
        raise AssertionError(f"unknown mode {self.mode!r}")

    def _poll(self, prediction_id: str) -> dict[str, Any]:
        self._polls[prediction_id] += 1
        if self.mode == "stuck" or self._polls[prediction_id] <= self.polls_before_done:
            return self._prediction(prediction_id, "processing")
        if self.mode == "failed":
            return self._prediction(
                prediction_id, "failed", "CUDA out of memory. Tried to allocate 2.00 GiB"
            )
        if self.mode == "nsfw":
            return self._prediction(
                prediction_id,
                "failed",
                "NSFW content detected. Try running it again, or try a different prompt.",
            )
        return self._prediction(prediction_id, "succeeded")

    def polls(self) -> Iterator[Recorded]:
        return (
            r for r in self.requests if r.method == "GET" and r.path.startswith("/v1/predictions/")
        )
