"""Stability and Replicate providers against local servers that speak their wire formats.

Every test crosses a real socket (tests/image_api_servers.py); nothing is patched. The
keys come from the real EnvSecrets adapter, read on each call.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import TypeVar

import pytest
from PIL import Image, PngImagePlugin

from adapters.env_secrets import EnvSecrets, variable_for
from adapters.providers.http_base import HttpProvider, retry_after_seconds
from adapters.providers.replicate import ReplicateProvider
from adapters.providers.stability import StabilityProvider
from services.ports import GeneratedImage, ImageProvider, ImageRequest, ProviderError
from tests.image_api_servers import SLOW_SECONDS, LocalApi, ReplicateApi, StabilityApi

A = TypeVar("A", bound=LocalApi)
P = TypeVar("P", bound=HttpProvider)
FIXED = datetime(2026, 11, 3, 4, 5, 6, tzinfo=UTC)
SHORT_TIMEOUT = 0.5
STABILITY_KEY = "sk-stability-test-1"
REPLICATE_KEY = "r8_replicate_test_1"
PROMPT = "a watercolour of a lighthouse at dawn"


def _request(size: str = "1024x1024", model_id: str = "sd-core") -> ImageRequest:
    return ImageRequest(
        generation_id="0b6f3c1e-4d2a-4c39-9a51-2f0c8d1e7a44",
        model_id=model_id,
        prompt=PROMPT,
        size=size,  # type: ignore[arg-type]
        quality="standard",
        style=None,
    )


def _open(png: bytes) -> PngImagePlugin.PngImageFile:
    image = Image.open(io.BytesIO(png))
    assert isinstance(image, PngImagePlugin.PngImageFile)
    image.load()
    return image


def _failure(provider: ImageProvider, request: ImageRequest) -> ProviderError:
    with pytest.raises(ProviderError) as raised:
        provider.generate(request)
    return raised.value


def _assert_received(result: GeneratedImage, original: bytes) -> None:
    """The provider's pixels without its metadata, and its credentialed file as sent."""
    image = _open(result.data)
    assert result.content_type == "image/png"
    assert image.text == {}
    assert image.tobytes() == _open(original).tobytes()
    assert b"provider-echoed prompt" not in result.data
    assert result.credentialed_original == original


@pytest.fixture
def environ() -> dict[str, str]:
    return {
        variable_for("stability-api-key"): STABILITY_KEY,
        variable_for("replicate-api-token"): REPLICATE_KEY,
    }


def _served(api: A) -> Iterator[A]:
    try:
        yield api
    finally:
        api.close()


@pytest.fixture(scope="module")
def stability_api() -> Iterator[StabilityApi]:
    yield from _served(StabilityApi(STABILITY_KEY))


@pytest.fixture(scope="module")
def replicate_api() -> Iterator[ReplicateApi]:
    yield from _served(ReplicateApi(REPLICATE_KEY))


@pytest.fixture
def stability_server(stability_api: StabilityApi) -> StabilityApi:
    stability_api.reset()
    return stability_api


@pytest.fixture
def replicate_server(replicate_api: ReplicateApi) -> ReplicateApi:
    replicate_api.reset()
    return replicate_api


def _close_after(provider: P) -> Iterator[P]:
    try:
        yield provider
    finally:
        provider.close()


@pytest.fixture
def stability(
    stability_server: StabilityApi, environ: dict[str, str]
) -> Iterator[StabilityProvider]:
    yield from _close_after(
        StabilityProvider(
            EnvSecrets(environ),
            "stability-api-key",
            {"sd-core": "core", "sd-ultra": "ultra"},
            base_url=stability_server.url,
            timeout=SHORT_TIMEOUT,
            clock=lambda: FIXED,
        )
    )


@pytest.fixture
def replicate(
    replicate_server: ReplicateApi, environ: dict[str, str]
) -> Iterator[ReplicateProvider]:
    yield from _close_after(
        ReplicateProvider(
            EnvSecrets(environ),
            "replicate-api-token",
            {"flux-schnell": "black-forest-labs/flux-schnell"},
            base_url=replicate_server.url,
            timeout=SHORT_TIMEOUT,
            poll_interval=0.02,
            clock=lambda: FIXED,
        )
    )


# --- shared pieces -----------------------------------------------------------------


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2026, 11, 3, 4, 5, 6, tzinfo=UTC)
    assert retry_after_seconds("7") == 7.0
    assert (
        retry_after_seconds(format_datetime(now + timedelta(seconds=30), usegmt=True), now) == 30.0
    )
    assert (
        retry_after_seconds(format_datetime(now - timedelta(seconds=30), usegmt=True), now) == 0.0
    )
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


@pytest.mark.parametrize("which", ["stability", "replicate"])
def test_an_unreachable_provider_is_retryable(which: str, environ: dict[str, str]) -> None:
    closed = StabilityApi(STABILITY_KEY)
    closed.close()  # nothing listens on its port any more
    provider: HttpProvider
    if which == "stability":
        provider = StabilityProvider(
            EnvSecrets(environ), "stability-api-key", {"sd-core": "core"}, base_url=closed.url
        )
    else:
        provider = ReplicateProvider(
            EnvSecrets(environ), "replicate-api-token", {"sd-core": "a/b"}, base_url=closed.url
        )
    with provider:
        error = _failure(provider, _request())
    assert error.retryable is True
    assert "could not be reached" in str(error)


# --- Stability -----------------------------------------------------------------------


def test_stability_is_an_image_provider(stability: StabilityProvider) -> None:
    port: ImageProvider = stability
    assert port.name == "stability"


@pytest.mark.parametrize(
    ("size", "ratio"), [("1024x1024", "1:1"), ("1792x1024", "16:9"), ("1024x1792", "9:16")]
)
def test_stability_sends_a_multipart_form_with_key_and_aspect_ratio(
    stability: StabilityProvider, stability_server: StabilityApi, size: str, ratio: str
) -> None:
    request = _request(size)
    result = stability.generate(request)

    [sent] = stability_server.requests
    assert (sent.method, sent.path) == ("POST", "/v2beta/stable-image/generate/core")
    assert sent.headers["authorization"] == f"Bearer {STABILITY_KEY}"
    assert sent.headers["accept"] == "image/*"
    assert sent.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert sent.form() == {
        "prompt": (PROMPT, None),
        "aspect_ratio": (ratio, None),
        "output_format": ("png", None),
    }
    assert result.provider_request_id == "req-stability-1"
    _assert_received(result, stability_server.png)


def test_stability_model_picks_the_endpoint(
    stability: StabilityProvider, stability_server: StabilityApi
) -> None:
    stability.generate(_request(model_id="sd-ultra"))
    assert stability_server.requests[0].path == "/v2beta/stable-image/generate/ultra"


def test_stability_refuses_an_unknown_model_without_calling(
    stability: StabilityProvider, stability_server: StabilityApi
) -> None:
    error = _failure(stability, _request(model_id="dall-e-3"))
    assert error.retryable is False
    assert stability_server.requests == []


def test_stability_reads_the_key_on_every_call(
    stability: StabilityProvider, stability_server: StabilityApi, environ: dict[str, str]
) -> None:
    environ[variable_for("stability-api-key")] = "sk-rotated-away"
    error = _failure(stability, _request())
    assert stability_server.requests[0].headers["authorization"] == "Bearer sk-rotated-away"
    assert error.retryable is False
    assert str(error).startswith("stability answered 401: unauthorized")
    assert "sk-rotated-away" not in str(error)

    environ[variable_for("stability-api-key")] = STABILITY_KEY
    assert stability.generate(_request()).data


def test_stability_without_a_key_is_not_retryable(
    stability: StabilityProvider, stability_server: StabilityApi, environ: dict[str, str]
) -> None:
    del environ[variable_for("stability-api-key")]
    error = _failure(stability, _request())
    assert error.retryable is False
    assert "stability-api-key" in str(error)
    assert stability_server.requests == []


@pytest.mark.parametrize(
    ("mode", "retryable", "starts", "retry_after"),
    [
        ("moderation", False, "content_policy: content_moderation: Your request was flagged", None),
        ("filtered", False, "content_policy: stability filtered", None),
        ("bad_request", False, "stability answered 400: bad_request: aspect_ratio", None),
        ("rate_limited", True, "stability answered 429: rate_limit_exceeded", 7.0),
        ("server_error", True, "stability answered 500: internal_error", None),
        ("malformed", True, "malformed_response:", None),
    ],
)
def test_stability_failures_are_classified(
    stability: StabilityProvider,
    stability_server: StabilityApi,
    mode: str,
    retryable: bool,
    starts: str,
    retry_after: float | None,
) -> None:
    stability_server.reset(mode)
    error = _failure(stability, _request())
    assert str(error).startswith(starts)
    assert error.retryable is retryable
    # A refusal is final and not the provider\'s fault: no failover, no circuit count.
    assert error.refused is str(error).startswith("content_policy:")
    assert error.retry_after == retry_after
    assert len(stability_server.requests) == 1  # one attempt: the pipeline owns retries


def test_stability_honours_its_timeout(
    stability: StabilityProvider, stability_server: StabilityApi
) -> None:
    stability_server.reset("slow")
    started = time.monotonic()
    error = _failure(stability, _request())
    elapsed = time.monotonic() - started
    assert error.retryable is True
    assert "timed out after 0.5 s" in str(error)
    assert SHORT_TIMEOUT <= elapsed < SLOW_SECONDS / 2


# --- Replicate -----------------------------------------------------------------------


def test_replicate_is_an_image_provider(replicate: ReplicateProvider) -> None:
    port: ImageProvider = replicate
    assert port.name == "replicate"


@pytest.mark.parametrize(
    ("size", "ratio"), [("1024x1024", "1:1"), ("1792x1024", "16:9"), ("1024x1792", "9:16")]
)
def test_replicate_creates_a_prediction_and_downloads_its_output(
    replicate: ReplicateProvider, replicate_server: ReplicateApi, size: str, ratio: str
) -> None:
    request = _request(size, model_id="flux-schnell")
    result = replicate.generate(request)

    create, download = replicate_server.requests
    assert (create.method, create.path) == (
        "POST",
        "/v1/models/black-forest-labs/flux-schnell/predictions",
    )
    assert create.headers["authorization"] == f"Bearer {REPLICATE_KEY}"
    assert create.headers["prefer"] == "wait=1"
    assert create.headers["content-type"] == "application/json"
    assert create.json() == {
        "input": {"prompt": PROMPT, "aspect_ratio": ratio, "output_format": "png"}
    }
    assert download.method == "GET"
    assert download.path == f"/files/{result.provider_request_id}.png"
    assert "authorization" not in download.headers  # the key goes to the API host only
    _assert_received(result, replicate_server.png)


def test_replicate_prefers_to_wait_a_little_less_than_its_timeout(
    replicate_server: ReplicateApi, environ: dict[str, str]
) -> None:
    with ReplicateProvider(
        EnvSecrets(environ),
        "replicate-api-token",
        {"flux-schnell": "black-forest-labs/flux-schnell"},
        base_url=replicate_server.url,
    ) as provider:
        provider.generate(_request(model_id="flux-schnell"))
    assert replicate_server.requests[0].headers["prefer"] == "wait=48"


def test_replicate_polls_a_running_prediction_until_it_succeeds(
    replicate: ReplicateProvider, replicate_server: ReplicateApi
) -> None:
    replicate_server.reset("polling")
    request = _request(model_id="flux-schnell")
    result = replicate.generate(request)

    polls = list(replicate_server.polls())
    assert len(polls) == replicate_server.polls_before_done + 1
    assert {poll.path for poll in polls} == {f"/v1/predictions/{result.provider_request_id}"}
    assert all(poll.headers["authorization"] == f"Bearer {REPLICATE_KEY}" for poll in polls)
    _assert_received(result, replicate_server.png)


def test_replicate_cancels_a_prediction_still_running_at_the_timeout(
    replicate: ReplicateProvider, replicate_server: ReplicateApi
) -> None:
    replicate_server.reset("stuck")
    started = time.monotonic()
    error = _failure(replicate, _request(model_id="flux-schnell"))
    assert time.monotonic() - started < SHORT_TIMEOUT + 0.5
    assert error.retryable is True
    assert "still running after 0.5 s; cancelled" in str(error)
    cancel = replicate_server.requests[-1]
    prediction_id = replicate_server.requests[1].path.rsplit("/", 1)[-1]
    assert (cancel.method, cancel.path) == ("POST", f"/v1/predictions/{prediction_id}/cancel")
    assert cancel.headers["authorization"] == f"Bearer {REPLICATE_KEY}"


@pytest.mark.parametrize(
    ("mode", "retryable", "starts", "retry_after"),
    [
        ("nsfw", False, "content_policy: NSFW content detected", None),
        ("failed", True, "replicate prediction", None),
        ("rate_limited", True, "replicate answered 429: Request was throttled", 3.0),
        ("server_error", True, "replicate answered 500: Something went wrong", None),
        ("malformed", True, "malformed_response: replicate: the body is not JSON", None),
        ("bad_output", True, "malformed_response: the image is unreadable", None),
        ("output_missing", True, "malformed_response: replicate: replicate answered 404", None),
    ],
)
def test_replicate_failures_are_classified(
    replicate: ReplicateProvider,
    replicate_server: ReplicateApi,
    mode: str,
    retryable: bool,
    starts: str,
    retry_after: float | None,
) -> None:
    replicate_server.reset(mode)
    error = _failure(replicate, _request(model_id="flux-schnell"))
    assert str(error).startswith(starts)
    assert error.retryable is retryable
    # A refusal is final and not the provider\'s fault: no failover, no circuit count.
    assert error.refused is str(error).startswith("content_policy:")
    assert error.retry_after == retry_after
    creates = [r for r in replicate_server.requests if r.path.endswith("/predictions")]
    assert len(creates) == 1  # one attempt: the pipeline owns retries


def test_replicate_rejects_a_bad_token_as_not_retryable(
    replicate: ReplicateProvider, replicate_server: ReplicateApi, environ: dict[str, str]
) -> None:
    environ[variable_for("replicate-api-token")] = "r8_revoked"
    error = _failure(replicate, _request(model_id="flux-schnell"))
    assert error.retryable is False
    assert str(error).startswith("replicate answered 401: You did not pass")
    assert "r8_revoked" not in str(error)


def test_replicate_honours_its_timeout(
    replicate: ReplicateProvider, replicate_server: ReplicateApi
) -> None:
    replicate_server.reset("slow")
    started = time.monotonic()
    error = _failure(replicate, _request(model_id="flux-schnell"))
    assert error.retryable is True
    assert "timed out after 0.5 s" in str(error)
    assert time.monotonic() - started < SLOW_SECONDS / 2
