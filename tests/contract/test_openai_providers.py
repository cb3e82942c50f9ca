"""The OpenAI-family providers against a local server speaking their wire format.

Every test crosses a real socket to `tests/openai_server.py` through the real `openai`
SDK; nothing is patched. Each flavour (OpenAI, Azure OpenAI with a key, Azure OpenAI
with Entra ID tokens, a keyless self-hosted server) runs the same checks.
"""

from __future__ import annotations

import io
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError
from PIL import Image, PngImagePlugin

from adapters.env_secrets import EnvSecrets, variable_for
from adapters.providers.openai_images import (
    COGNITIVE_SERVICES_SCOPE,
    ImageModel,
    OpenAIImages,
    azure_openai_images,
    compatible_images,
    entra_token_provider,
    openai_images,
)
from services.ports import ImageProvider, ImageRequest, ProviderError
from tests.openai_server import Mode, OpenAIServer, run_openai_server

FIXED = datetime(2026, 11, 3, 4, 5, 6, tzinfo=UTC)
API_VERSION = "2024-10-21"
KEY = "sk-test-key-1"
TOKEN = "entra-token-1"
MODELS = {
    "dalle": ImageModel("dall-e-3"),
    "gpt": ImageModel("gpt-image-1", family="gpt-image-1"),
}
AZURE_MODELS = {"dalle": ImageModel("images-dalle3-prod")}
GENERATION_ID = "0b6f3c1e-4d2a-4c39-9a51-2f0c8d1e7a44"
PROMPT = "a watercolour of a lighthouse at dawn"


class StaticCredential:
    """An azure.core TokenCredential with a fixed token, recording the scopes asked for."""

    def __init__(self) -> None:
        self.scopes: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.scopes.append(scopes)
        return AccessToken(TOKEN, int(time.time()) + 3600)


@dataclass(frozen=True)
class Flavour:
    name: str
    build: Callable[[float], OpenAIImages]  # timeout -> provider
    path: str
    auth: tuple[str, str] | None  # the (header, value) the server must see
    accepted: set[str] | None  # what the server accepts as credentials


@pytest.fixture(scope="module")
def server() -> Iterator[OpenAIServer]:
    with run_openai_server() as running:
        yield running


@pytest.fixture
def environ() -> dict[str, str]:
    return {variable_for("openai-api-key"): KEY}


def _flavour(name: str, url: str, environ: dict[str, str]) -> Flavour:
    secrets = EnvSecrets(environ)
    clock = lambda: FIXED  # noqa: E731
    if name == "openai":
        return Flavour(
            name,
            lambda timeout: openai_images(
                secrets,
                "openai-api-key",
                MODELS,
                base_url=f"{url}/v1",
                timeout=timeout,
                clock=clock,
            ),
            "/v1/images/generations",
            ("authorization", f"Bearer {KEY}"),
            {f"Bearer {KEY}"},
        )
    if name == "azure_key":
        return Flavour(
            name,
            lambda timeout: azure_openai_images(
                url,
                API_VERSION,
                AZURE_MODELS,
                secrets=secrets,
                secret_name="openai-api-key",
                timeout=timeout,
                clock=clock,
            ),
            "/openai/deployments/images-dalle3-prod/images/generations",
            ("api-key", KEY),
            {KEY},
        )
    if name == "azure_entra":
        return Flavour(
            name,
            lambda timeout: azure_openai_images(
                url,
                API_VERSION,
                AZURE_MODELS,
                token_provider=entra_token_provider(StaticCredential()),
                timeout=timeout,
                clock=clock,
            ),
            "/openai/deployments/images-dalle3-prod/images/generations",
            ("authorization", f"Bearer {TOKEN}"),
            {f"Bearer {TOKEN}"},
        )
    return Flavour(
        name,
        lambda timeout: compatible_images(f"{url}/v1", MODELS, timeout=timeout, clock=clock),
        "/v1/images/generations",
        None,
        None,
    )


@pytest.fixture(params=["openai", "azure_key", "azure_entra", "compatible"])
def flavour(
    request: pytest.FixtureRequest, server: OpenAIServer, environ: dict[str, str]
) -> Flavour:
    server.reset()
    chosen = _flavour(request.param, server.url, environ)
    server.credentials = chosen.accepted
    return chosen


def _request(**changes: Any) -> ImageRequest:
    fields: dict[str, Any] = {
        "generation_id": GENERATION_ID,
        "model_id": "dalle",
        "prompt": PROMPT,
        "size": "1024x1792",
        "quality": "hd",
        "style": "natural",
    }
    fields.update(changes)
    return ImageRequest(**fields)


def _wire_model(flavour: Flavour) -> str:
    return "images-dalle3-prod" if flavour.name.startswith("azure") else "dall-e-3"


def _open(png: bytes) -> PngImagePlugin.PngImageFile:
    image = Image.open(io.BytesIO(png))
    assert isinstance(image, PngImagePlugin.PngImageFile)
    image.load()
    return image


def _failure(provider: OpenAIImages, request: ImageRequest | None = None) -> ProviderError:
    with pytest.raises(ProviderError) as raised:
        provider.generate(request or _request())
    return raised.value


# --- success ---------------------------------------------------------------------------


def test_returns_the_servers_pixels_without_its_metadata_and_its_credentialed_file(
    flavour: Flavour, server: OpenAIServer
) -> None:
    provider: ImageProvider = flavour.build(60.0)
    result = provider.generate(_request())

    image = _open(result.data)
    sent = _open(server.sent_images[-1])
    assert result.content_type == "image/png"
    assert image.size == (1024, 1792)
    assert image.tobytes() == sent.tobytes()
    # The server's own chunks (one holds the prompt) and its manifest are not carried
    # over; the file it sent is, whole, for signing to keep as the parent ingredient.
    assert image.text == {}
    assert PROMPT.encode() not in result.data
    assert result.credentialed_original == server.sent_images[-1]
    assert result.provider_request_id == "req_000001"


def test_a_jpeg_stays_a_jpeg(flavour: Flavour, server: OpenAIServer) -> None:
    server.image_format = "JPEG"
    result = flavour.build(60.0).generate(_request())
    assert result.content_type == "image/jpeg"
    assert Image.open(io.BytesIO(result.data)).format == "JPEG"
    assert PROMPT.encode() not in result.data
    assert result.credentialed_original == server.sent_images[-1]


def test_sends_the_dall_e_3_request_with_credentials(
    flavour: Flavour, server: OpenAIServer
) -> None:
    flavour.build(60.0).generate(_request())

    (received,) = server.requests
    assert received.path == flavour.path
    assert received.body == {
        "model": _wire_model(flavour),
        "prompt": PROMPT,
        "n": 1,
        "size": "1024x1792",
        "quality": "hd",
        "style": "natural",
        "response_format": "b64_json",
    }
    if flavour.name.startswith("azure"):
        assert received.query["api-version"] == [API_VERSION]
    if flavour.auth is None:
        assert "authorization" not in received.headers
        assert "api-key" not in received.headers
    else:
        header, value = flavour.auth
        assert received.headers[header] == value


def test_sends_exactly_the_screened_prompt(flavour: Flavour, server: OpenAIServer) -> None:
    redacted = "portrait of <PERSON> holding a sign with <EMAIL_ADDRESS> on it"
    flavour.build(60.0).generate(_request(prompt=redacted))
    assert server.requests[-1].body["prompt"] == redacted


def test_a_missing_style_is_not_sent(flavour: Flavour, server: OpenAIServer) -> None:
    flavour.build(60.0).generate(_request(style=None))
    assert "style" not in server.requests[-1].body


# --- failures --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "retryable", "reason"),
    [
        (Mode.RATE_LIMITED, True, "rate_limited: HTTP 429"),
        (Mode.SERVER_ERROR, True, "provider_unavailable: HTTP 500"),
        (Mode.MALFORMED_JSON, True, "malformed_response:"),
        (Mode.NOT_AN_IMAGE, True, "malformed_response:"),
        (Mode.NO_IMAGE, True, "malformed_response:"),
        (Mode.REFUSED, False, "content_policy: HTTP 400"),
        (Mode.BAD_REQUEST, False, "rejected: HTTP 400 invalid_size"),
    ],
)
def test_classifies_each_failure(
    flavour: Flavour, server: OpenAIServer, mode: Mode, retryable: bool, reason: str
) -> None:
    server.mode = mode
    error = _failure(flavour.build(60.0))
    assert error.retryable is retryable
    # A refusal is final and not the provider\'s fault: no failover, no circuit count.
    assert error.refused is str(error).startswith("content_policy:")
    assert str(error).startswith(reason), str(error)
    assert len(server.requests) == 1  # one attempt: retrying is the pipeline's job
    assert PROMPT not in str(error)


def test_a_refusal_says_what_the_provider_said(flavour: Flavour, server: OpenAIServer) -> None:
    server.mode = Mode.REFUSED
    error = _failure(flavour.build(60.0))
    expected = "content management policy" if flavour.name.startswith("azure") else "safety system"
    assert expected in str(error)
    assert "req_000001" in str(error)


def test_a_429_carries_retry_after_seconds(flavour: Flavour, server: OpenAIServer) -> None:
    server.mode = Mode.RATE_LIMITED
    assert _failure(flavour.build(60.0)).retry_after == 7.0


def test_a_429_retry_after_may_be_an_http_date(flavour: Flavour, server: OpenAIServer) -> None:
    server.mode = Mode.RATE_LIMITED
    server.retry_after = "Tue, 03 Nov 2026 04:05:36 GMT"  # FIXED + 30 s
    assert _failure(flavour.build(60.0)).retry_after == 30.0


def test_a_429_without_a_usable_retry_after_has_none(
    flavour: Flavour, server: OpenAIServer
) -> None:
    server.mode = Mode.RATE_LIMITED
    server.retry_after = "soon"
    assert _failure(flavour.build(60.0)).retry_after is None


def test_honours_the_timeout(flavour: Flavour, server: OpenAIServer) -> None:
    server.mode = Mode.SLOW
    server.slow_seconds = 2.0
    started = time.monotonic()
    error = _failure(flavour.build(0.5))
    elapsed = time.monotonic() - started
    assert error.retryable is True
    assert str(error).startswith("timeout:")
    assert 0.4 < elapsed < 1.5
    assert len(server.requests) == 1


def test_an_unreachable_server_is_retryable(environ: dict[str, str]) -> None:
    with socket.socket() as probe:  # a port nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    provider = _flavour("openai", f"http://127.0.0.1:{port}", environ).build(2.0)
    error = _failure(provider)
    assert error.retryable is True
    assert str(error).startswith("connection:")


def test_an_unknown_model_is_not_sent(flavour: Flavour, server: OpenAIServer) -> None:
    error = _failure(flavour.build(60.0), _request(model_id="not-configured"))
    assert error.retryable is False
    assert str(error).startswith("configuration:")
    assert server.requests == []


# --- credentials -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["openai", "azure_key"])
def test_the_key_is_read_per_request(
    name: str, server: OpenAIServer, environ: dict[str, str]
) -> None:
    server.reset()
    provider = _flavour(name, server.url, environ).build(60.0)
    provider.generate(_request())
    environ[variable_for("openai-api-key")] = "sk-rotated-2"
    server.credentials = {"sk-rotated-2", "Bearer sk-rotated-2"}
    provider.generate(_request())
    header = "api-key" if name == "azure_key" else "authorization"
    assert [r.headers[header].removeprefix("Bearer ") for r in server.requests] == [
        KEY,
        "sk-rotated-2",
    ]


@pytest.mark.parametrize("name", ["openai", "azure_key"])
def test_a_rejected_key_is_not_retryable(
    name: str, server: OpenAIServer, environ: dict[str, str]
) -> None:
    server.reset()
    server.credentials = {"something else"}
    error = _failure(_flavour(name, server.url, environ).build(60.0))
    assert error.retryable is False
    assert str(error).startswith("rejected: HTTP 401 invalid_api_key")


@pytest.mark.parametrize("name", ["openai", "azure_key"])
def test_a_missing_key_fails_before_anything_is_sent(name: str, server: OpenAIServer) -> None:
    server.reset()
    error = _failure(_flavour(name, server.url, {}).build(60.0))
    assert error.retryable is False
    assert str(error).startswith("credentials:")
    assert server.requests == []


def test_entra_tokens_are_asked_for_cognitive_services(server: OpenAIServer) -> None:
    server.reset()
    credential = StaticCredential()
    provider = azure_openai_images(
        server.url, API_VERSION, AZURE_MODELS, token_provider=entra_token_provider(credential)
    )
    provider.generate(_request())
    assert credential.scopes == [(COGNITIVE_SERVICES_SCOPE,)]
    assert server.requests[-1].headers["authorization"] == f"Bearer {TOKEN}"
    assert "api-key" not in server.requests[-1].headers


class BrokenCredential:
    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        raise ClientAuthenticationError("ManagedIdentityCredential: no identity endpoint")


def test_a_token_that_cannot_be_had_is_retryable_and_nothing_is_sent(
    server: OpenAIServer,
) -> None:
    server.reset()
    provider = azure_openai_images(
        server.url,
        API_VERSION,
        AZURE_MODELS,
        token_provider=entra_token_provider(BrokenCredential()),
    )
    error = _failure(provider)
    assert error.retryable is True
    assert str(error).startswith("credentials: no Entra ID token")
    assert server.requests == []


def test_azure_takes_a_key_or_a_token_provider_not_both(environ: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="not both"):
        azure_openai_images(
            "https://example.openai.azure.com",
            API_VERSION,
            AZURE_MODELS,
            secrets=EnvSecrets(environ),
            secret_name="openai-api-key",
            token_provider=lambda: TOKEN,
        )


# --- the GPT image family --------------------------------------------------------------


@pytest.mark.parametrize(("quality", "wire_quality"), [("standard", "medium"), ("hd", "high")])
def test_gpt_image_gets_its_own_qualities(
    server: OpenAIServer, environ: dict[str, str], quality: str, wire_quality: str
) -> None:
    server.reset()
    provider = _flavour("openai", server.url, environ).build(60.0)
    result = provider.generate(_request(model_id="gpt", size="1024x1024", quality=quality))

    assert server.requests[-1].body == {
        "model": "gpt-image-1",
        "prompt": PROMPT,
        "n": 1,
        "size": "1024x1024",
        "quality": wire_quality,
        "output_format": "png",
    }
    assert _open(result.data).size == (1024, 1024)


@pytest.mark.parametrize("size", ["1792x1024", "1024x1792"])
def test_gpt_image_refuses_sizes_it_would_deliver_smaller(
    server: OpenAIServer, environ: dict[str, str], size: str
) -> None:
    server.reset()
    provider = _flavour("openai", server.url, environ).build(60.0)
    with pytest.raises(ProviderError, match=f"does not deliver {size}") as raised:
        provider.generate(_request(model_id="gpt", size=size))
    assert raised.value.retryable is False
    assert raised.value.refused is False  # the model's limit, not the prompt's fault
    assert server.requests == []
