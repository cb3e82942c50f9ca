"""Stability AI through its Stable Image REST API (v2beta), with httpx.

`POST {base}/v2beta/stable-image/generate/{endpoint}` as multipart/form-data with
`prompt`, `aspect_ratio` and `output_format=png`, `Authorization: Bearer <key>` and
`Accept: image/*`: a 200 answers the PNG bytes themselves, with a `finish-reason` header
(`SUCCESS`, or `CONTENT_FILTERED` when the output was blurred by moderation). Errors
answer JSON `{"id": ..., "name": ..., "errors": [...]}`; a prompt refused by content
moderation is a 403 named `content_moderation`.

The API has no size or quality parameter: our size maps to an aspect ratio and the
catalogue model id picks the endpoint (`core`, `ultra`, ...).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime

import httpx

from adapters.providers.http_base import (
    ASPECT_RATIOS,
    DEFAULT_TIMEOUT_SECONDS,
    HttpProvider,
    json_object,
    status_error,
)
from adapters.providers.provenance import received
from services.ports import GeneratedImage, ImageRequest, ProviderError, SecretSource

BASE_URL = "https://api.stability.ai"
REFUSALS = frozenset({"content_moderation"})


class StabilityProvider(HttpProvider):
    """Implements `services.ports.ImageProvider` for Stability AI."""

    name = "stability"

    def __init__(
        self,
        secrets: SecretSource,
        secret_name: str,
        models: Mapping[str, str],
        *,
        base_url: str = BASE_URL,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """`models` maps catalogue model ids to Stable Image endpoints, e.g. {"sd-core": "core"}."""
        super().__init__(
            base_url=base_url,
            secrets=secrets,
            secret_name=secret_name,
            timeout=timeout,
            clock=clock,
        )
        self._models = dict(models)

    def generate(self, request: ImageRequest) -> GeneratedImage:
        endpoint = self._models.get(request.model_id)
        if endpoint is None:
            raise ProviderError(f"stability has no model {request.model_id!r}", retryable=False)
        form = {
            "prompt": request.prompt,
            "aspect_ratio": ASPECT_RATIOS[request.size],
            "output_format": "png",
        }
        response = self._send(
            "POST",
            f"/v2beta/stable-image/generate/{endpoint}",
            headers={**self._bearer(), "Accept": "image/*"},
            # The API takes only multipart; httpx sends `data` alone url-encoded, while
            # `files` entries without a file name become plain multipart form fields.
            files={field: (None, value.encode()) for field, value in form.items()},
        )
        if not response.is_success:
            raise self._error(response)
        if response.headers.get("finish-reason", "SUCCESS") == "CONTENT_FILTERED":
            raise ProviderError(
                "content_policy: stability filtered the generated image",
                retryable=False,
                refused=True,
            )
        return received(response.content, response.headers.get("x-request-id"))

    def _error(self, response: httpx.Response) -> ProviderError:
        try:
            body = json_object(self.name, response)
        except ProviderError:
            return status_error(self.name, response, response.text or response.reason_phrase)
        name = str(body.get("name", ""))
        errors = body.get("errors")
        detail = "; ".join(map(str, errors)) if isinstance(errors, list) and errors else name
        return status_error(
            self.name, response, f"{name}: {detail}" if name else detail, refused=name in REFUSALS
        )
