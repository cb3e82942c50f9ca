"""A local HTTP server that speaks Adobe IMS (client credentials) and Firefly's v3
asynchronous image API, in the style of tests/image_api_servers.py.

IMS: `POST /ims/token/v3`, a form with `grant_type=client_credentials`, `client_id`,
`client_secret`, `scope`; answers `{"access_token", "token_type", "expires_in"}`, or an
OAuth error `{"error", "error_description"}`.

Firefly: `POST /v3/images/generate-async` (202 `{"jobId", "statusUrl", "cancelUrl"}`),
`GET /v3/status/{jobId}`, `PUT /v3/cancel/{jobId}`, each needing `x-api-key: <client id>`
and `Authorization: Bearer <a token IMS issued and has not revoked>`, else a 401. Errors
answer `{"error_code", "message"}`. Outputs are JPEGs under `/files/`, reached by a
presigned-style URL that needs no credentials.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs

from PIL import Image

from tests.content_credentials import with_provider_credentials
from tests.image_api_servers import SLOW_SECONDS, LocalApi, Recorded, Reply

TOKEN_PATH = "/ims/token/v3"


def sample_jpeg(width: int = 40, height: int = 40) -> bytes:
    """A real JPEG, as Firefly answers, with a prompt in its comment that must not survive
    and Adobe's Content Credentials (here the test provider's), which must."""
    image = Image.new("RGB", (width, height))
    image.putdata(
        [(x * 6 % 256, y * 3 % 256, (x * y) % 256) for y in range(height) for x in range(width)]
    )
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90, comment=b"provider-echoed prompt")
    return with_provider_credentials(buffer.getvalue(), "image/jpeg")


class FireflyApi(LocalApi):
    """Modes: success, polling (pending, running twice, then succeeded), stuck (running
    forever), refused (a 451 at submission), job_refused (the job fails as image_unsafe),
    failed (the job fails as runtime_error), rate_limited, server_error, malformed (the
    202 is not JSON), no_outputs (a succeeded job without outputs), slow, ims_down (IMS
    answers 503), rejecting (every token is refused with a 401)."""

    jpeg = sample_jpeg()
    polls_before_done = 2

    def __init__(self, client_id: str, client_secret: str, expires_in: float = 86399) -> None:
        self.client_secret = client_secret
        self.expires_in = expires_in
        self._issued: set[str] = set()
        self._polls: dict[str, int] = {}
        super().__init__(client_id)

    @property
    def client_id(self) -> str:
        return self.api_key

    def on_reset(self) -> None:
        self._issued.clear()
        self._polls.clear()

    def revoke_tokens(self) -> None:
        """Every token issued so far is refused from now on, as after an early expiry."""
        with self._lock:
            self._issued.clear()

    def token_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.path == TOKEN_PATH]

    def api_requests(self, prefix: str = "/v3/") -> list[Recorded]:
        return [r for r in self.requests if r.path.startswith(prefix)]

    def polls(self) -> Iterator[Recorded]:
        return (r for r in self.requests if r.path.startswith("/v3/status/"))

    def _error(self, status: int, code: str, message: str, **headers: str) -> Reply:
        return Reply.json(status, {"error_code": code, "message": message}, **headers)

    def unauthorized(self) -> Reply:
        return self._error(401, "401013", "Oauth token is not valid")

    def _reply_to(self, request: Recorded) -> Reply:
        path = request.path.split("?", 1)[0]
        with self._lock:
            self.requests.append(request)
            if path == TOKEN_PATH and request.method == "POST":
                return self._token(request)
            if path.startswith("/files/"):  # the presigned host: no credentials
                return Reply(200, self.jpeg, {"Content-Type": "image/jpeg"})
            bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
            if (
                self.mode == "rejecting"
                or bearer not in self._issued
                or request.headers.get("x-api-key") != self.client_id
            ):
                return self.unauthorized()
            return self.answer(request)

    def _token(self, request: Recorded) -> Reply:
        if self.mode == "ims_down":
            return Reply(503, b"Service Unavailable", {"Content-Type": "text/plain"})
        form = {name: values[0] for name, values in parse_qs(request.body.decode()).items()}
        if form.get("grant_type") != "client_credentials":
            return Reply.json(400, {"error": "unsupported_grant_type"})
        if form.get("client_id") != self.client_id:
            return Reply.json(
                400, {"error": "invalid_client", "error_description": "invalid client_id"}
            )
        if form.get("client_secret") != self.client_secret:
            return Reply.json(
                400,
                {"error": "invalid_client", "error_description": "invalid client_secret parameter"},
            )
        token = f"ims-{uuid.uuid4().hex}"
        self._issued.add(token)
        return Reply.json(
            200, {"access_token": token, "token_type": "bearer", "expires_in": self.expires_in}
        )

    def answer(self, request: Recorded) -> Reply:
        parts = request.path.strip("/").split("/")
        match request.method, parts:
            case "POST", ["v3", "images", "generate-async"]:
                return self._submit()
            case "GET", ["v3", "status", job_id] if job_id in self._polls:
                return Reply.json(200, self._poll(job_id))
            case "PUT", ["v3", "cancel", job_id] if job_id in self._polls:
                return Reply.json(200, {})
            case _, ["v3", "status" | "cancel", _]:
                return self._error(404, "unknown_job_id", "no such job")
        return self._error(404, "not_found", f"no route {request.method} {request.path}")

    def _submit(self) -> Reply:
        job_id = f"urn:firefly:jobs:{uuid.uuid4().hex[:16]}"
        self._polls[job_id] = 0
        accepted = Reply.json(
            202,
            {
                "jobId": job_id,
                "statusUrl": f"{self.url}/v3/status/{job_id}",
                "cancelUrl": f"{self.url}/v3/cancel/{job_id}",
            },
        )
        match self.mode:
            case "success" | "polling" | "stuck" | "job_refused" | "failed" | "no_outputs":
                return accepted
            case "refused":
                return self._error(451, "prompt_unsafe", "The prompt violates the content policy")
            case "rate_limited":
                return self._error(429, "rate_limited", "Too many requests", **{"Retry-After": "9"})
            case "server_error":
                return self._error(500, "runtime_error", "An internal error occurred")
            case "malformed":
                return Reply(202, b'{"jobId": "urn:', {"Content-Type": "application/json"})
            case "slow":
                return replace(accepted, delay=SLOW_SECONDS)
        raise AssertionError(f"unknown mode {self.mode!r}")

    def _poll(self, job_id: str) -> dict[str, Any]:
        self._polls[job_id] += 1
        polls = self._polls[job_id]
        waits = self.polls_before_done if self.mode == "polling" else 0
        if self.mode == "stuck" or polls <= waits:
            return {"jobId": job_id, "status": "pending" if polls == 1 else "running"}
        if self.mode == "job_refused":
            return {
                "jobId": job_id,
                "status": "failed",
                "error_code": "image_unsafe",
                "message": "The generated image was flagged",
            }
        if self.mode == "failed":
            return {
                "jobId": job_id,
                "status": "failed",
                "error_code": "runtime_error",
                "message": "Generation failed",
            }
        outputs = [] if self.mode == "no_outputs" else [self._output(job_id)]
        return {
            "jobId": job_id,
            "status": "succeeded",
            "result": {"size": {"width": 1024, "height": 1024}, "outputs": outputs},
        }

    def _output(self, job_id: str) -> dict[str, Any]:
        name = job_id.rsplit(":", 1)[-1]
        signed = "X-Amz-Expires=3600&X-Amz-Signature=" + uuid.uuid4().hex
        return {"seed": 1779323515, "image": {"url": f"{self.url}/files/{name}.jpg?{signed}"}}
