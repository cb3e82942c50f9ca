"""Image providers speaking the OpenAI images API, through the `openai` SDK (3.x).

One implementation, `OpenAIImages`, serves three flavours, built by the factories below:
OpenAI itself, Azure OpenAI (a deployment per model, a key or Microsoft Entra ID), and
any self-hosted server that speaks the same API.

Each `generate` makes exactly one HTTP attempt: the SDK's own retries are off because
the pipeline owns retrying (backoff, attempt limits, falling back to the next model).
What this adapter owns is telling the pipeline whether another attempt could help.

Our sizes and qualities are DALL-E 3's. For the GPT image family the qualities are
mapped (standard → medium, hd → high); of the sizes it offers only 1024x1024 is one of
ours, so the others are refused before any call rather than answered with a smaller
image than was asked for (and paid for). GPT image models reject `response_format` and
`style` (they always answer in base64), so neither is sent to them.
"""

from __future__ import annotations

import binascii
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

import openai
import pybase64
from azure.core.credentials import TokenCredential
from azure.core.exceptions import AzureError
from azure.identity import get_bearer_token_provider
from openai import AzureOpenAI, Omit, OpenAI, omit

from adapters.azure_clients import managed_identity
from adapters.providers.http_base import read_key, retry_after_seconds
from adapters.providers.provenance import received
from domain.generation import Quality, Size
from services.ports import (
    GeneratedImage,
    ImageRequest,
    ProviderError,
    SecretSource,
)

if TYPE_CHECKING:
    from openai._legacy_response import LegacyAPIResponse
    from openai.types import ImagesResponse

OPENAI_BASE_URL = "https://api.openai.com/v1"
COGNITIVE_SERVICES_SCOPE = "https://cognitiveservices.azure.com/.default"
DEFAULT_TIMEOUT_SECONDS = 60.0

Family = Literal["dall-e-3", "gpt-image-1"]

_GPT_IMAGE_SIZES: frozenset[Size] = frozenset({"1024x1024"})
_GPT_IMAGE_QUALITIES: dict[Quality, Literal["medium", "high"]] = {
    "standard": "medium",
    "hd": "high",
}
# OpenAI's refusal, GPT image moderation's, Azure's (two spellings) and Azure's inner code.
_REFUSAL_CODES = frozenset(
    {
        "content_policy_violation",
        "moderation_blocked",
        "content_filter",
        "contentFilter",
        "ResponsibleAIPolicyViolation",
    }
)


@dataclass(frozen=True, slots=True)
class ImageModel:
    """How one provider serves a catalogue model.

    `name` is what goes on the wire as `model`: OpenAI's model name, the Azure
    deployment's name, or the self-hosted server's model. `family` says which
    parameters it takes; an Azure deployment's name need not say what it runs.
    """

    name: str
    family: Family = "dall-e-3"


class OpenAIImages:
    """Implements `services.ports.ImageProvider` over a configured `openai` client."""

    def __init__(
        self,
        name: str,
        client: OpenAI,
        models: Mapping[str, ImageModel],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        *,
        extra_headers: Mapping[str, str | Omit] | None = None,
    ) -> None:
        self.name = name
        self._client = client
        self._models = dict(models)
        self._clock = clock
        self._extra_headers = extra_headers

    def generate(self, request: ImageRequest) -> GeneratedImage:
        model = self._models.get(request.model_id)
        if model is None:
            raise ProviderError(
                f"configuration: {self.name} serves no model {request.model_id!r}", retryable=False
            )
        if model.family == "gpt-image-1" and request.size not in _GPT_IMAGE_SIZES:
            raise ProviderError(
                f"configuration: {model.name} does not deliver {request.size}", retryable=False
            )
        try:
            raw = self._send(model, request)
        except openai.APIError as error:
            raise self._classify(error) from error
        request_id = raw.headers.get("x-request-id") or raw.headers.get("apim-request-id")
        try:
            response = raw.parse()
        except (openai.APIResponseValidationError, ValueError) as error:
            raise _malformed(
                f"the body is not an images response ({type(error).__name__})", request_id
            ) from error
        images = response.data or []
        if len(images) != 1 or not images[0].b64_json:
            raise _malformed(f"expected one b64_json image, got {len(images)} images", request_id)
        try:
            # SIMD decoding: the standard library's checks a 2.5 MB answer with a regular
            # expression and decodes it in about 9 ms of CPU, pybase64 in 0.1 ms.
            data = pybase64.b64decode(images[0].b64_json, validate=True)
        except binascii.Error as error:
            raise _malformed("b64_json is not base64", request_id) from error
        return received(data, request_id)

    def _send(self, model: ImageModel, request: ImageRequest) -> LegacyAPIResponse[ImagesResponse]:
        gpt_image = model.family == "gpt-image-1"
        # Exactly request.prompt: it is the screened (redacted) prompt, and nothing else may go.
        return self._client.images.with_raw_response.generate(
            model=model.name,
            prompt=request.prompt,
            n=1,
            size=request.size,
            quality=_GPT_IMAGE_QUALITIES[request.quality] if gpt_image else request.quality,
            style=omit if gpt_image or request.style is None else request.style,
            response_format=omit if gpt_image else "b64_json",
            output_format="png" if gpt_image else omit,
            extra_headers=self._extra_headers,
        )

    def _classify(self, error: openai.APIError) -> ProviderError:
        if isinstance(error, openai.APITimeoutError):
            return ProviderError(f"timeout: {self.name} did not answer in time", retryable=True)
        if isinstance(error, openai.APIConnectionError):
            return ProviderError(f"connection: {self.name} unreachable ({error})", retryable=True)
        if not isinstance(error, openai.APIStatusError):  # a 2xx the SDK could not read
            return _malformed(error.message, None)
        detail = status_detail(error)
        if isinstance(error, openai.RateLimitError):
            return ProviderError(
                f"rate_limited: {detail}",
                retryable=True,
                retry_after=openai_retry_after(error.response.headers, self._clock()),
            )
        if error.status_code >= 500 or error.status_code == 408:
            return ProviderError(f"provider_unavailable: {detail}", retryable=True)
        if isinstance(error, openai.BadRequestError) and _is_refusal(error.body):
            return ProviderError(f"content_policy: {detail}", retryable=False, refused=True)
        return ProviderError(f"rejected: {detail}", retryable=False)


def _malformed(why: str, request_id: str | None) -> ProviderError:
    # A success status with a body we cannot use is the provider's bug and most often a
    # one-off (a truncated transfer, a proxy in the way); the pipeline's attempt limit
    # bounds the cost of retrying one that is not.
    return ProviderError(f"malformed_response: {why} (request {request_id})", retryable=True)


def status_detail(error: openai.APIStatusError) -> str:
    """Status, code, the provider's message and request id: never the SDK's message,
    which embeds the whole body (Azure's can carry the revised prompt)."""
    body = error.body if isinstance(error.body, Mapping) else {}
    message = body.get("message") or error.response.reason_phrase
    code = f" {error.code}" if error.code else ""
    return f"HTTP {error.status_code}{code}: {message} (request {error.request_id})"


def _is_refusal(body: object) -> bool:
    if not isinstance(body, Mapping):
        return False
    inner = body.get("innererror") or body.get("inner_error") or {}
    codes = {body.get("code"), inner.get("code") if isinstance(inner, Mapping) else None}
    return bool(codes & _REFUSAL_CODES)


def openai_retry_after(headers: Mapping[str, str], now: datetime) -> float | None:
    """Seconds to wait, from `retry-after-ms` (OpenAI, Azure) or `Retry-After`; None when
    neither is usable."""
    milliseconds = headers.get("retry-after-ms")
    if milliseconds:
        try:
            return max(0.0, float(milliseconds) / 1000)
        except ValueError:
            pass
    return retry_after_seconds(headers.get("retry-after"), now)


def _key_reader(secrets: SecretSource, secret_name: str, provider: str) -> Callable[[], str]:
    """The SDK calls this while building each request and lets its errors through."""
    return lambda: read_key(secrets, secret_name, provider)


def openai_images(
    secrets: SecretSource,
    secret_name: str,
    models: Mapping[str, ImageModel],
    *,
    name: str = "openai",
    base_url: str = OPENAI_BASE_URL,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> OpenAIImages:
    """OpenAI, with the API key in the secret `secret_name`."""
    client = OpenAI(
        api_key=_key_reader(secrets, secret_name, name),
        base_url=base_url,
        timeout=timeout,
        max_retries=0,
    )
    return OpenAIImages(name, client, models, clock)


def compatible_images(
    base_url: str,
    models: Mapping[str, ImageModel],
    *,
    name: str = "openai_compatible",
    secrets: SecretSource | None = None,
    secret_name: str | None = None,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> OpenAIImages:
    """A self-hosted server speaking the OpenAI images API (`base_url` ends in `/v1`).

    Without `secret_name` no credentials are sent at all.
    """
    if secrets is not None and secret_name is not None:
        client = OpenAI(
            api_key=_key_reader(secrets, secret_name, name),
            base_url=base_url,
            timeout=timeout,
            max_retries=0,
        )
        return OpenAIImages(name, client, models, clock)
    # The SDK insists on a key; omitting the header on every request means it never leaves.
    client = OpenAI(api_key="unused", base_url=base_url, timeout=timeout, max_retries=0)
    return OpenAIImages(name, client, models, clock, extra_headers={"Authorization": omit})


def entra_token_provider(credential: TokenCredential | None = None) -> Callable[[], str]:
    """Bearer tokens for Azure OpenAI from `credential`, by default the managed identity.

    A token that cannot be had is retryable: the identity endpoint failing is usually
    passing, and a lasting misconfiguration only costs the pipeline's few attempts.
    """
    tokens = get_bearer_token_provider(credential or managed_identity(), COGNITIVE_SERVICES_SCOPE)

    def token() -> str:
        try:
            return tokens()
        except AzureError as error:
            raise ProviderError(
                f"credentials: no Entra ID token ({error})", retryable=True
            ) from error

    return token


def azure_openai_images(
    endpoint: str,
    api_version: str,
    models: Mapping[str, ImageModel],
    *,
    name: str = "azure_openai",
    secrets: SecretSource | None = None,
    secret_name: str | None = None,
    token_provider: Callable[[], str] | None = None,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> OpenAIImages:
    """Azure OpenAI at `endpoint` (https://<resource>.openai.azure.com), each model an
    `ImageModel` naming its deployment.

    Authenticates with the key in the secret `secret_name` if one is given, otherwise
    with Microsoft Entra ID tokens from `token_provider`, by default the managed
    identity's (which needs the "Cognitive Services OpenAI User" role on the resource).
    """
    if secret_name is not None and token_provider is not None:
        raise ValueError("give a key's secret name or a token provider, not both")
    if secret_name is not None:
        if secrets is None:
            raise ValueError("a secret name needs the secrets to read it from")
        client = AzureOpenAI(
            azure_endpoint=endpoint,
            api_version=api_version,
            api_key=_key_reader(secrets, secret_name, name),
            timeout=timeout,
            max_retries=0,
        )
    else:
        client = AzureOpenAI(
            azure_endpoint=endpoint,
            api_version=api_version,
            azure_ad_token_provider=token_provider or entra_token_provider(),
            timeout=timeout,
            max_retries=0,
        )
    return OpenAIImages(name, client, models, clock)
