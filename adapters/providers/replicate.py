"""Replicate's predictions API, with httpx.

`POST {base}/v1/models/{owner}/{name}/predictions` with `Authorization: Bearer <key>`,
`Prefer: wait=N` and JSON `{"input": {"prompt", "aspect_ratio", "output_format": "png"}}`
answers a prediction: `id`, `status` (`starting`, `processing`, `succeeded`, `failed`,
`canceled`), `output` (a file URL, or a list of them) and `error`. `Prefer: wait` holds
the request until the prediction finishes or N seconds pass; a prediction still running
then is polled with `GET /v1/predictions/{id}` until the provider's timeout, after which
it is cancelled (`POST /v1/predictions/{id}/cancel`).

Polling builds the prediction's URL from its id rather than following `urls.get`, so the
API key only ever goes to the configured API host; output files are fetched without it.

Failed predictions are retryable unless Replicate flagged the content: input errors are
refused at creation (422), so what fails later is mostly the run itself (a cold boot,
an out-of-memory GPU), which another attempt may not meet.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from adapters.providers.http_base import (
    ASPECT_RATIOS,
    DEFAULT_TIMEOUT_SECONDS,
    HttpProvider,
    json_object,
    malformed,
    status_error,
)
from adapters.providers.provenance import received
from services.ports import GeneratedImage, ImageRequest, ProviderError, SecretSource

BASE_URL = "https://api.replicate.com"
RUNNING = frozenset({"starting", "processing"})
# Replicate's words for a safety refusal: model safety checkers raise "NSFW content
# detected", and the platform's own filter answers error E005 ("flagged as sensitive").
_REFUSAL_MARKERS = ("nsfw", "e005", "flagged as sensitive")
_MAX_PREFER_WAIT = 60


def _is_refusal(message: str) -> bool:
    lowered = message.lower()
    return any(marker in lowered for marker in _REFUSAL_MARKERS)


class ReplicateProvider(HttpProvider):
    """Implements `services.ports.ImageProvider` for Replicate."""

    name = "replicate"

    def __init__(
        self,
        secrets: SecretSource,
        secret_name: str,
        models: Mapping[str, str],
        *,
        base_url: str = BASE_URL,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        poll_interval: float = 1.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """`models` maps catalogue model ids to Replicate models ("owner/name").

        `timeout` bounds each HTTP exchange and the whole wait for a prediction.
        """
        super().__init__(
            base_url=base_url,
            secrets=secrets,
            secret_name=secret_name,
            timeout=timeout,
            poll_interval=poll_interval,
            clock=clock,
        )
        self._models = dict(models)
        # Below our own timeout, so Replicate answers "still running" before we give up.
        self._prefer_wait = max(1, min(_MAX_PREFER_WAIT, int(timeout * 0.8)))

    def generate(self, request: ImageRequest) -> GeneratedImage:
        model = self._models.get(request.model_id)
        if model is None:
            raise ProviderError(f"replicate has no model {request.model_id!r}", retryable=False)
        deadline = time.monotonic() + self._timeout
        auth = self._bearer()
        body = {
            "input": {
                "prompt": request.prompt,
                "aspect_ratio": ASPECT_RATIOS[request.size],
                "output_format": "png",
            }
        }
        prediction = self._prediction(
            self._send(
                "POST",
                f"/v1/models/{model}/predictions",
                headers={**auth, "Prefer": f"wait={self._prefer_wait}"},
                json=body,
            )
        )
        prediction_id = prediction.get("id")
        if not isinstance(prediction_id, str) or not prediction_id:
            raise malformed(self.name, "the prediction has no id")
        prediction = self._await_job(
            prediction,
            job_id=prediction_id,
            running=lambda p: p.get("status") in RUNNING,
            refresh=lambda: self._prediction(
                self._send("GET", f"/v1/predictions/{prediction_id}", headers=auth)
            ),
            cancel=lambda: self._send(
                "POST", f"/v1/predictions/{prediction_id}/cancel", headers=auth
            ),
            deadline=deadline,
        )
        return received(self._output(prediction_id, prediction), prediction_id)

    def _prediction(self, response: httpx.Response) -> dict[str, Any]:
        if not response.is_success:
            raise self._error(response)
        return json_object(self.name, response)

    def _output(self, prediction_id: str, prediction: dict[str, Any]) -> bytes:
        status = prediction.get("status")
        if status != "succeeded":
            error = str(prediction.get("error") or f"prediction {status}")
            if _is_refusal(error):
                raise ProviderError(f"content_policy: {error}", retryable=False, refused=True)
            raise ProviderError(
                f"replicate prediction {prediction_id} {status}: {error}", retryable=True
            )
        output = prediction.get("output")
        url = output[0] if isinstance(output, list) and output else output
        return self._download(url if isinstance(url, str) else "")

    def _error(self, response: httpx.Response) -> ProviderError:
        """Replicate answers errors as problem details: {"title", "detail", "status"}."""
        try:
            body = json_object(self.name, response)
        except ProviderError:
            return status_error(self.name, response, response.text or response.reason_phrase)
        detail = str(body.get("detail") or body.get("title") or response.reason_phrase)
        return status_error(self.name, response, detail, refused=_is_refusal(detail))
