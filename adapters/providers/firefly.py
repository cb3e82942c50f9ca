"""Adobe Firefly Services' image generation (v3, asynchronous), with httpx.

Authentication is IMS server-to-server (OAuth client credentials): `POST
{ims}/ims/token/v3` with form fields `grant_type=client_credentials`, `client_id`,
`client_secret` and `scope` answers `{"access_token", "token_type", "expires_in"}`
(seconds, a day at the time of writing). The token is cached per process until shortly
before it expires, and fetched again once when the API answers 401 (revoked, or expired
early), so a pipeline attempt costs one token call only when it has to.

Generation is asynchronous: Adobe's quickstart and the Image 4 models use
`POST {base}/v3/images/generate-async`, and the synchronous `/v3/images/generate` is the
older path, so this adapter speaks the asynchronous one. Every API call carries
`x-api-key: <client id>` and `Authorization: Bearer <token>`; the catalogue model picks
the `x-model-version` header. The JSON body is `{"prompt", "numVariations": 1, "size":
{"width", "height"}}` and the answer a 202 `{"jobId", "statusUrl", "cancelUrl"}`.
`GET /v3/status/{jobId}` then answers `{"jobId", "status", "result"?}`, status one of
`pending`, `running`, `succeeded`, `failed`, `canceled`; a succeeded job's
`result.outputs[0].image.url` is a presigned URL to the image (usually a JPEG), fetched
without our credentials. A job still running at the timeout is cancelled with `PUT
/v3/cancel/{jobId}`. Like Replicate's, the status and cancel URLs are built from the job
id rather than followed, so the token only ever goes to the configured API host.

Errors answer `{"error_code", "message"}`. Content refusals are a 451 with a code such
as `prompt_unsafe`, or a job that fails with one of those codes.

Sizes: Image 3 offers 1024x1024 among its square sizes, but none of our 16:9 or 9:16
sizes (its widescreen sizes are 2688x1536 and 1344x768, its tallest 896x1152), so a
request for those is refused before any call rather than answered at another size.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx

from adapters.providers.http_base import (
    DEFAULT_TIMEOUT_SECONDS,
    HttpProvider,
    json_object,
    malformed,
    read_key,
    status_error,
)
from adapters.providers.provenance import received
from domain.generation import Size
from services.ports import GeneratedImage, ImageRequest, ProviderError, SecretSource

BASE_URL = "https://firefly-api.adobe.io"
IMS_URL = "https://ims-na1.adobelogin.com"
# The scope Adobe's Firefly quickstart asks for.
DEFAULT_SCOPE = "openid,AdobeID,session,additional_info,read_organizations,firefly_api,ff_apis"
SIZES: Mapping[Size, tuple[int, int]] = {"1024x1024": (1024, 1024)}
RUNNING = frozenset({"pending", "running"})
# Firefly's content-policy error codes (HTTP 451, or a failed job's `error_code`).
REFUSALS = frozenset(
    {
        "legal_error",
        "prompt_unsafe",
        "prompt_entity_denied",
        "image_unsafe",
        "input_media_unsafe",
        "reference_image_unsafe_error",
    }
)
# Renew this long before IMS says the token expires, at most: a call made with a token
# about to lapse would fail halfway through a job's polling.
_RENEW_MARGIN = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class _Token:
    value: str
    client_id: str
    renew_at: datetime


class FireflyProvider(HttpProvider):
    """Implements `services.ports.ImageProvider` for Adobe Firefly Services."""

    name = "firefly"

    def __init__(
        self,
        secrets: SecretSource,
        client_id_secret: str,
        client_secret_secret: str,
        models: Mapping[str, str],
        *,
        base_url: str = BASE_URL,
        ims_url: str = IMS_URL,
        scope: str = DEFAULT_SCOPE,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        poll_interval: float = 1.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """`models` maps catalogue model ids to `x-model-version` values, e.g.
        {"firefly-image-3": "image3"}; the client id and secret are read from the
        secrets named here on every token request, so rotating them needs no restart."""
        super().__init__(
            base_url=base_url,
            secrets=secrets,
            secret_name=client_secret_secret,
            timeout=timeout,
            poll_interval=poll_interval,
            clock=clock,
        )
        self._client_id_secret = client_id_secret
        self._models = dict(models)
        self._token_url = ims_url.rstrip("/") + "/ims/token/v3"
        self._scope = scope
        self._token: _Token | None = None
        # Workers share the provider: one of them fetches a token while the others wait.
        self._token_lock = threading.Lock()

    def generate(self, request: ImageRequest) -> GeneratedImage:
        version = self._models.get(request.model_id)
        if version is None:
            raise ProviderError(f"firefly has no model {request.model_id!r}", retryable=False)
        size = SIZES.get(request.size)
        if size is None:
            raise ProviderError(
                f"firefly {version} does not deliver {request.size}", retryable=False
            )
        deadline = time.monotonic() + self._timeout
        client_id = read_key(self._secrets, self._client_id_secret, self.name)
        width, height = size
        accepted = self._job(
            self._call(
                client_id,
                "POST",
                "/v3/images/generate-async",
                headers={"x-model-version": version},
                json={
                    "prompt": request.prompt,
                    "numVariations": 1,
                    "size": {"width": width, "height": height},
                },
            )
        )
        job_id = accepted.get("jobId")
        if not isinstance(job_id, str) or not job_id:
            raise malformed(self.name, "the accepted job has no jobId")
        path_id = quote(job_id, safe=":")
        job = self._await_job(
            {"status": "pending"},  # the 202 carries no status: the job has only begun
            job_id=job_id,
            running=lambda j: j.get("status") in RUNNING,
            refresh=lambda: self._job(self._call(client_id, "GET", f"/v3/status/{path_id}")),
            cancel=lambda: self._call(client_id, "PUT", f"/v3/cancel/{path_id}"),
            deadline=deadline,
        )
        return received(self._output(job_id, job), job_id)

    def _call(self, client_id: str, method: str, url: str, **options: Any) -> httpx.Response:
        """An API call with the cached token; on a 401, once more with a fresh one."""
        extra: dict[str, str] = options.pop("headers", {})
        token = self._access_token(client_id)
        response = self._send(method, url, headers=self._auth(client_id, token, extra), **options)
        if response.status_code == 401:
            token = self._access_token(client_id, rejected=token)
            response = self._send(
                method, url, headers=self._auth(client_id, token, extra), **options
            )
        return response

    @staticmethod
    def _auth(client_id: str, token: str, extra: dict[str, str]) -> dict[str, str]:
        return {
            "x-api-key": client_id,
            "Authorization": f"Bearer {token}",
            "Accept": "application/json",
            **extra,
        }

    def _access_token(self, client_id: str, rejected: str | None = None) -> str:
        """The cached token unless it is near expiry, was issued to another client id, or
        is the one the API just `rejected` (another worker may have renewed it already)."""
        with self._token_lock:
            cached = self._token
            if (
                cached is not None
                and cached.client_id == client_id
                and cached.value != rejected
                and self._clock() < cached.renew_at
            ):
                return cached.value
            self._token = self._fetch_token(client_id)
            return self._token.value

    def _fetch_token(self, client_id: str) -> _Token:
        secret = read_key(self._secrets, self._secret_name, self.name)
        issued_at = self._clock()
        response = self._send(
            "POST",
            self._token_url,
            data={
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": secret,
                "scope": self._scope,
            },
        )
        if not response.is_success:
            raise self._ims_error(response)
        body = json_object(self.name, response)
        value, expires_in = body.get("access_token"), body.get("expires_in")
        if not isinstance(value, str) or not value:
            raise malformed(self.name, "the IMS answer has no access_token")
        if isinstance(expires_in, bool) or not isinstance(expires_in, int | float):
            raise malformed(self.name, "the IMS answer has no numeric expires_in")
        if expires_in <= 0:
            raise malformed(self.name, "the IMS token has already expired")
        lifetime = timedelta(seconds=expires_in)
        return _Token(value, client_id, issued_at + lifetime - min(_RENEW_MARGIN, lifetime / 10))

    def _ims_error(self, response: httpx.Response) -> ProviderError:
        """IMS answers OAuth errors: {"error": "invalid_client", "error_description"}."""
        try:
            body = json_object(self.name, response)
        except ProviderError:
            body = {}
        error = body.get("error") or response.reason_phrase
        description = body.get("error_description")
        detail = f"{error}: {description}" if description else str(error)
        return status_error(self.name, response, f"IMS token: {detail}")

    def _job(self, response: httpx.Response) -> dict[str, Any]:
        if not response.is_success:
            raise self._error(response)
        return json_object(self.name, response)

    def _output(self, job_id: str, job: dict[str, Any]) -> bytes:
        status = job.get("status")
        if status != "succeeded":
            code = str(job.get("error_code") or status)
            message = f"{code}: {job.get('message') or 'no message'}"
            if code in REFUSALS:
                raise ProviderError(f"content_policy: {message}", retryable=False, refused=True)
            if status in ("failed", "canceled", "cancelled", "timeout"):
                raise ProviderError(f"firefly job {job_id} {status}: {message}", retryable=True)
            raise malformed(self.name, f"job {job_id} has unknown status {status!r}")
        result = job.get("result")
        outputs = result.get("outputs") if isinstance(result, dict) else None
        first = outputs[0] if isinstance(outputs, list) and outputs else None
        image = first.get("image") if isinstance(first, dict) else None
        url = image.get("url") if isinstance(image, dict) else None
        return self._download(url if isinstance(url, str) else "")

    def _error(self, response: httpx.Response) -> ProviderError:
        try:
            body = json_object(self.name, response)
        except ProviderError:
            return status_error(self.name, response, response.text or response.reason_phrase)
        code = str(body.get("error_code") or "")
        message = str(body.get("message") or response.reason_phrase)
        detail = f"{code}: {message}" if code else message
        refused = code in REFUSALS or response.status_code == 451
        return status_error(self.name, response, detail, refused=refused)
