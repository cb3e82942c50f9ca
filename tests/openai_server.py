"""A local server speaking the OpenAI images wire format, as OpenAI and as Azure OpenAI,
and OpenAI's moderation API.

    POST /v1/images/generations                                        (OpenAI, compatible)
    POST /openai/deployments/{deployment}/images/generations?api-version=...  (Azure)
    POST /v1/moderations                                               (OpenAI moderation)

A moderation answers one result flagging the categories in `flagged`.

Success is `{"created": ..., "data": [{"b64_json": <image>, "revised_prompt": ...}]}`, the
image a real PNG (or JPEG) with Content Credentials,
at the requested size. `mode` makes it fail the ways the real services do, with their
error bodies; every request is recorded so tests can check what crossed the wire.
"""

from __future__ import annotations

import base64
import io
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from PIL import Image, ImageDraw
from PIL.PngImagePlugin import PngInfo

from tests.content_credentials import with_provider_credentials

AZURE_PREFIX = "/openai/deployments/"
OPENAI_PATH = "/v1/images/generations"
MODERATION_PATH = "/v1/moderations"
# The categories omni-moderation-latest reports, by their API names.
MODERATION_CATEGORIES = (
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/instructions",
    "self-harm/intent",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)


class Mode(StrEnum):
    OK = "ok"
    SLOW = "slow"  # answers correctly, after `slow_seconds`
    RATE_LIMITED = "rate_limited"  # 429 with Retry-After
    SERVER_ERROR = "server_error"  # 500
    MALFORMED_JSON = "malformed_json"  # 200, application/json, not JSON
    NOT_AN_IMAGE = "not_an_image"  # 200, valid JSON, b64_json is not an image
    NO_IMAGE = "no_image"  # 200, valid JSON, `data` (moderation: `results`) empty
    REFUSED = "refused"  # 400 content refusal, in the flavour's own shape
    BAD_REQUEST = "bad_request"  # 400 invalid parameter


@dataclass(frozen=True, slots=True)
class Received:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: dict[str, Any]


def _image(width: int, height: int, prompt: str, owner: OpenAIServer) -> bytes:
    """A real, non-trivial image in `owner.image_format`, carrying the server's own text
    chunks as a provider's does, and Content Credentials as OpenAI's and Azure OpenAI's
    do (tampered with when `owner.tamper_credentials`)."""
    image = Image.new("RGB", (width, height), (30, 60, 90))
    draw = ImageDraw.Draw(image)
    draw.ellipse((width // 4, height // 4, width * 3 // 4, height * 3 // 4), fill=(220, 120, 40))
    draw.rectangle((0, 0, width // 8, height // 8), fill=(250, 250, 250))
    info = PngInfo()
    info.add_text("Software", "openai test server")
    info.add_text("prompt", prompt)
    buffer = io.BytesIO()
    if owner.image_format == "JPEG":
        image.save(buffer, format="JPEG", quality=90, comment=prompt.encode())
    else:
        image.save(buffer, format="PNG", pnginfo=info, compress_level=1)
    media = f"image/{owner.image_format.lower()}"
    return with_provider_credentials(buffer.getvalue(), media, tampered=owner.tamper_credentials)


def _error(code: str | None, message: str, kind: str, param: str | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "param": param, "type": kind}}


# The refusals as each service words them.
OPENAI_REFUSAL = _error(
    "content_policy_violation",
    "Your request was rejected as a result of our safety system. Your prompt may contain "
    "text that is not allowed by our safety system.",
    "invalid_request_error",
)
AZURE_REFUSAL: dict[str, Any] = {
    "error": {
        "code": "content_filter",
        "message": "The response was filtered due to the prompt triggering Azure OpenAI's "
        "content management policy. Please modify your prompt and retry.",
        "param": "prompt",
        "status": 400,
        "innererror": {
            "code": "ResponsibleAIPolicyViolation",
            "content_filter_result": {
                "hate": {"filtered": False, "severity": "safe"},
                "self_harm": {"filtered": False, "severity": "safe"},
                "sexual": {"filtered": False, "severity": "safe"},
                "violence": {"filtered": True, "severity": "medium"},
            },
        },
    }
}


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: pytest shows failures, not every request."""

    def do_POST(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw)
        except ValueError:
            body = {}
        owner = self.server.owner
        with owner.lock:
            owner.requests.append(
                Received(
                    path=parts.path,
                    query=parse_qs(parts.query),
                    headers={name.lower(): value for name, value in self.headers.items()},
                    body=body,
                )
            )
        azure = parts.path.startswith(AZURE_PREFIX)
        if not (
            parts.path in (OPENAI_PATH, MODERATION_PATH)
            or (
                azure
                and parts.path.endswith("/images/generations")
                and "api-version" in parts.query
            )
        ):
            self._json(404, _error("404", "Resource not found", "invalid_request_error"))
            return
        if not self._authorised(azure):
            self._json(401, _error("invalid_api_key", "Incorrect API key provided.", "auth"))
            return
        self._answer(owner.mode, azure, body, moderation=parts.path == MODERATION_PATH)

    def _authorised(self, azure: bool) -> bool:
        expected = self.server.owner.credentials
        if expected is None:
            return True
        sent = {self.headers.get("Authorization", "")}
        if azure:
            sent.add(self.headers.get("api-key", ""))
        return bool(sent & expected)

    def _answer(
        self, mode: Mode, azure: bool, body: dict[str, Any], *, moderation: bool = False
    ) -> None:
        owner = self.server.owner
        request_id = f"req_{len(owner.requests):06d}"
        if mode is Mode.SLOW:
            time.sleep(owner.slow_seconds)
        if mode is Mode.RATE_LIMITED:
            error = _error("rate_limit_exceeded", "Rate limit reached.", "requests")
            self._json(429, error, request_id, {"Retry-After": owner.retry_after})
        elif mode is Mode.SERVER_ERROR:
            self._json(500, _error(None, "The server had an error.", "server_error"), request_id)
        elif mode is Mode.MALFORMED_JSON:
            self._send(200, b'{"created": 1700000000, "data": [{"b64_json": "iVBO', request_id)
        elif mode is Mode.REFUSED:
            self._json(400, AZURE_REFUSAL if azure else OPENAI_REFUSAL, request_id)
        elif mode is Mode.BAD_REQUEST:
            error = _error("invalid_size", "Invalid size.", "invalid_request_error", "size")
            self._json(400, error, request_id)
        elif moderation:
            self._json(200, self._moderation(mode, body), request_id)
        else:
            self._json(200, self._success(mode, body), request_id)

    def _moderation(self, mode: Mode, body: dict[str, Any]) -> dict[str, Any]:
        flagged = self.server.owner.flagged
        result = {
            "flagged": bool(flagged),
            "categories": {name: name in flagged for name in MODERATION_CATEGORIES},
            "category_scores": {
                name: 0.91 if name in flagged else 0.0004 for name in MODERATION_CATEGORIES
            },
            "category_applied_input_types": {name: ["text"] for name in MODERATION_CATEGORIES},
        }
        return {
            "id": "modr-0001",
            "model": str(body.get("model", "omni-moderation-latest")),
            "results": [] if mode is Mode.NO_IMAGE else [result],
        }

    def _success(self, mode: Mode, body: dict[str, Any]) -> dict[str, Any]:
        owner = self.server.owner
        if mode is Mode.NO_IMAGE:
            return {"created": int(time.time()), "data": []}
        if mode is Mode.NOT_AN_IMAGE:
            png = b"this is not an image"
        else:
            width, _, height = str(body.get("size", "1024x1024")).partition("x")
            png = _image(int(width), int(height), str(body.get("prompt", "")), owner)
        with owner.lock:
            owner.sent_images.append(png)
        return {
            "created": int(time.time()),
            "data": [
                {
                    "b64_json": base64.b64encode(png).decode("ascii"),
                    "revised_prompt": f"A detailed rendering of: {body.get('prompt', '')}",
                }
            ],
        }

    def _json(
        self,
        status: int,
        payload: dict[str, Any],
        request_id: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self._send(status, json.dumps(payload).encode(), request_id, headers)

    def _send(
        self,
        status: int,
        data: bytes,
        request_id: str | None,
        headers: dict[str, str] | None = None,
    ) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if request_id is not None:
                self.send_header("x-request-id", request_id)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test): nothing left to tell it


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: OpenAIServer


class OpenAIServer:
    """Set `mode`, `credentials` (accepted `Authorization`/`api-key` values, None for
    any), `retry_after`, `slow_seconds`, `flagged` (moderation categories), `image_format`
    and `tamper_credentials` per test; read `requests` and `sent_images`."""

    def __init__(self, host: str, port: int) -> None:
        self.url = f"http://{host}:{port}"
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.mode = Mode.OK
        self.credentials: set[str] | None = None
        self.retry_after = "7"
        self.slow_seconds = 2.0
        self.flagged: set[str] = set()
        self.requests: list[Received] = []
        self.sent_images: list[bytes] = []
        self.image_format = "PNG"  # or "JPEG"
        self.tamper_credentials = False


@contextmanager
def run_openai_server() -> Iterator[OpenAIServer]:
    server = _Server(("127.0.0.1", 0), _Handler)
    host, port = server.server_address[:2]
    owner = OpenAIServer(str(host), int(port))
    server.owner = owner
    thread = threading.Thread(target=server.serve_forever, name="openai-server", daemon=True)
    thread.start()
    try:
        yield owner
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
