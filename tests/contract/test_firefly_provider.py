"""The Adobe Firefly provider against a local server speaking IMS and Firefly's v3 API.

Every test crosses a real socket (tests/firefly_server.py); nothing is patched. The
client id and secret come from the real EnvSecrets adapter.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import pytest
from PIL import Image

from adapters.env_secrets import EnvSecrets, variable_for
from adapters.providers.firefly import DEFAULT_SCOPE, FireflyProvider
from services.ports import ImageProvider, ImageRequest, ProviderError
from tests.firefly_server import TOKEN_PATH, FireflyApi
from tests.image_api_servers import SLOW_SECONDS

CLIENT_ID = "ff-client-id-test"
CLIENT_SECRET = "p8e-firefly-secret-test"
FIXED = datetime(2026, 11, 3, 4, 5, 6, tzinfo=UTC)
SHORT_TIMEOUT = 0.5
PROMPT = "a watercolour of a lighthouse at dawn"


def _request(size: str = "1024x1024", model_id: str = "firefly-image-3") -> ImageRequest:
    return ImageRequest(
        generation_id="6a1d2c3b-0e4f-4a5b-8c7d-9e0f1a2b3c4d",
        model_id=model_id,
        prompt=PROMPT,
        size=size,  # type: ignore[arg-type]
        quality="standard",
        style=None,
    )


def _failure(provider: ImageProvider, request: ImageRequest) -> ProviderError:
    with pytest.raises(ProviderError) as raised:
        provider.generate(request)
    return raised.value


class Clock:
    """A clock the test moves by hand, for token expiry."""

    def __init__(self) -> None:
        self.now = FIXED

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def environ() -> dict[str, str]:
    return {
        variable_for("firefly-client-id"): CLIENT_ID,
        variable_for("firefly-client-secret"): CLIENT_SECRET,
    }


@pytest.fixture(scope="module")
def firefly_api() -> Iterator[FireflyApi]:
    api = FireflyApi(CLIENT_ID, CLIENT_SECRET)
    try:
        yield api
    finally:
        api.close()


@pytest.fixture
def server(firefly_api: FireflyApi) -> FireflyApi:
    firefly_api.reset()
    firefly_api.expires_in = 86399
    return firefly_api


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _provider(
    server: FireflyApi, environ: dict[str, str], clock: Clock, timeout: float = SHORT_TIMEOUT
) -> FireflyProvider:
    return FireflyProvider(
        EnvSecrets(environ),
        "firefly-client-id",
        "firefly-client-secret",
        {"firefly-image-3": "image3"},
        base_url=server.url,
        ims_url=server.url,
        timeout=timeout,
        poll_interval=0.02,
        clock=clock,
    )


@pytest.fixture
def firefly(server: FireflyApi, environ: dict[str, str], clock: Clock) -> Iterator[FireflyProvider]:
    with _provider(server, environ, clock) as provider:
        yield provider


def test_firefly_is_an_image_provider(firefly: FireflyProvider) -> None:
    port: ImageProvider = firefly
    assert port.name == "firefly"


def test_a_token_then_a_job_then_the_presigned_image(
    firefly: FireflyProvider, server: FireflyApi
) -> None:
    request = _request()
    result = firefly.generate(request)

    token, submit, poll, download = server.requests
    assert (token.method, token.path) == ("POST", TOKEN_PATH)
    assert token.headers["content-type"] == "application/x-www-form-urlencoded"
    assert parse_qs(token.body.decode()) == {
        "grant_type": ["client_credentials"],
        "client_id": [CLIENT_ID],
        "client_secret": [CLIENT_SECRET],
        "scope": [DEFAULT_SCOPE],
    }
    assert (submit.method, submit.path) == ("POST", "/v3/images/generate-async")
    assert submit.headers["x-api-key"] == CLIENT_ID
    assert submit.headers["authorization"].startswith("Bearer ims-")
    assert submit.headers["x-model-version"] == "image3"
    assert submit.headers["content-type"] == "application/json"
    assert submit.json() == {
        "prompt": PROMPT,
        "numVariations": 1,
        "size": {"width": 1024, "height": 1024},
    }
    assert (poll.method, poll.path) == ("GET", f"/v3/status/{result.provider_request_id}")
    assert poll.headers["authorization"] == submit.headers["authorization"]
    assert download.method == "GET"
    assert download.path.startswith("/files/")
    assert "X-Amz-Signature=" in download.path
    # The presigned host gets neither the token nor the client id.
    assert "authorization" not in download.headers
    assert "x-api-key" not in download.headers
    assert CLIENT_SECRET.encode() not in b"".join(r.body for r in server.api_requests())

    # Firefly's JPEG stays a JPEG with the same pixels, without its comment and its
    # manifest; the file as sent goes along for signing to keep as the parent ingredient.
    image = Image.open(io.BytesIO(result.data))
    original = Image.open(io.BytesIO(server.jpeg))
    assert (result.content_type, image.format, original.format) == ("image/jpeg", "JPEG", "JPEG")
    assert image.tobytes() == original.tobytes()
    assert "comment" not in image.info
    assert b"provider-echoed prompt" not in result.data
    assert result.credentialed_original == server.jpeg


def test_a_running_job_is_polled_until_it_succeeds(
    firefly: FireflyProvider, server: FireflyApi
) -> None:
    server.reset("polling")
    result = firefly.generate(_request())
    polls = list(server.polls())
    assert len(polls) == server.polls_before_done + 1
    assert {p.path for p in polls} == {f"/v3/status/{result.provider_request_id}"}


def test_one_token_serves_many_images(firefly: FireflyProvider, server: FireflyApi) -> None:
    for _ in range(3):
        firefly.generate(_request())
    assert len(server.token_requests()) == 1
    assert len(server.api_requests("/v3/images/")) == 3


def test_concurrent_workers_share_one_token_call(
    firefly: FireflyProvider, server: FireflyApi
) -> None:
    start = threading.Barrier(4)
    failures: list[BaseException] = []

    def work() -> None:
        start.wait()
        try:
            firefly.generate(_request())
        except BaseException as error:  # reported below, not swallowed
            failures.append(error)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert len(server.token_requests()) == 1
    assert len(server.api_requests("/v3/images/")) == 4


def test_a_token_is_renewed_shortly_before_it_expires(
    server: FireflyApi, environ: dict[str, str], clock: Clock
) -> None:
    server.expires_in = 3600  # renewed five minutes early
    with _provider(server, environ, clock) as provider:
        provider.generate(_request())
        clock.now = FIXED + timedelta(seconds=3600 - 301)
        provider.generate(_request())
        assert len(server.token_requests()) == 1
        clock.now = FIXED + timedelta(seconds=3600 - 299)
        provider.generate(_request())
    assert len(server.token_requests()) == 2


def test_a_short_lived_token_is_renewed_within_its_last_tenth(
    server: FireflyApi, environ: dict[str, str], clock: Clock
) -> None:
    server.expires_in = 100
    with _provider(server, environ, clock) as provider:
        provider.generate(_request())
        clock.now = FIXED + timedelta(seconds=89)
        provider.generate(_request())
        assert len(server.token_requests()) == 1
        clock.now = FIXED + timedelta(seconds=91)
        provider.generate(_request())
    assert len(server.token_requests()) == 2


def test_a_401_fetches_a_new_token_once_and_succeeds(
    firefly: FireflyProvider, server: FireflyApi
) -> None:
    firefly.generate(_request())
    server.revoke_tokens()  # as if the token had expired early
    result = firefly.generate(_request())
    assert result.data
    first_token, _, _, _, refused, second_token, submit, _, _ = server.requests
    assert (first_token.path, second_token.path) == (TOKEN_PATH, TOKEN_PATH)
    assert refused.path == submit.path == "/v3/images/generate-async"
    assert refused.headers["authorization"] != submit.headers["authorization"]


def test_a_token_refused_again_after_renewal_is_final(
    firefly: FireflyProvider, server: FireflyApi
) -> None:
    server.reset("rejecting")
    error = _failure(firefly, _request())
    assert error.retryable is False
    assert str(error).startswith("firefly answered 401: 401013: Oauth token is not valid")
    assert len(server.token_requests()) == 2  # the first token, and one renewal
    assert len(server.api_requests()) == 2


def test_a_wrong_client_secret_is_final_and_not_echoed(
    firefly: FireflyProvider, server: FireflyApi, environ: dict[str, str]
) -> None:
    environ[variable_for("firefly-client-secret")] = "p8e-rotated-away"
    error = _failure(firefly, _request())
    assert error.retryable is False
    assert str(error) == (
        "firefly answered 400: IMS token: invalid_client: invalid client_secret parameter"
    )
    assert server.api_requests() == []


def test_missing_credentials_are_final_and_call_nothing(
    firefly: FireflyProvider, server: FireflyApi, environ: dict[str, str]
) -> None:
    del environ[variable_for("firefly-client-id")]
    error = _failure(firefly, _request())
    assert error.retryable is False
    assert "firefly-client-id" in str(error)
    assert server.requests == []


@pytest.mark.parametrize(
    ("size", "model_id", "says"),
    [
        ("1792x1024", "firefly-image-3", "firefly image3 does not deliver 1792x1024"),
        ("1024x1792", "firefly-image-3", "firefly image3 does not deliver 1024x1792"),
        ("1024x1024", "dall-e-3", "firefly has no model 'dall-e-3'"),
    ],
)
def test_what_firefly_cannot_deliver_is_refused_without_a_call(
    firefly: FireflyProvider, server: FireflyApi, size: str, model_id: str, says: str
) -> None:
    error = _failure(firefly, _request(size, model_id))
    assert error.retryable is False
    assert str(error) == says
    assert server.requests == []


@pytest.mark.parametrize(
    ("mode", "retryable", "starts", "retry_after"),
    [
        ("refused", False, "content_policy: prompt_unsafe: The prompt violates", None),
        ("job_refused", False, "content_policy: image_unsafe: The generated image", None),
        ("failed", True, "firefly job urn:firefly:jobs:", None),
        ("rate_limited", True, "firefly answered 429: rate_limited: Too many requests", 9.0),
        ("server_error", True, "firefly answered 500: runtime_error", None),
        ("malformed", True, "malformed_response: firefly: the body is not JSON", None),
        ("no_outputs", True, "malformed_response: firefly: the result has no output URL", None),
        ("ims_down", True, "firefly answered 503: IMS token: Service Unavailable", None),
    ],
)
def test_firefly_failures_are_classified(
    firefly: FireflyProvider,
    server: FireflyApi,
    mode: str,
    retryable: bool,
    starts: str,
    retry_after: float | None,
) -> None:
    server.reset(mode)
    error = _failure(firefly, _request())
    assert str(error).startswith(starts)
    assert error.retryable is retryable
    # A refusal is final and not the provider\'s fault: no failover, no circuit count.
    assert error.refused is str(error).startswith("content_policy:")
    assert error.retry_after == retry_after
    assert len(server.api_requests("/v3/images/")) <= 1  # one attempt: the pipeline retries


def test_a_slow_answer_times_out_as_retryable(firefly: FireflyProvider, server: FireflyApi) -> None:
    server.reset("slow")
    started = time.monotonic()
    error = _failure(firefly, _request())
    assert error.retryable is True
    assert "timed out after 0.5 s" in str(error)
    assert time.monotonic() - started < SLOW_SECONDS / 2


def test_a_job_still_running_at_the_timeout_is_cancelled(
    firefly: FireflyProvider, server: FireflyApi
) -> None:
    server.reset("stuck")
    error = _failure(firefly, _request())
    assert error.retryable is True
    assert "still running after 0.5 s; cancelled" in str(error)
    submit_poll = next(server.polls())
    cancel = server.requests[-1]
    assert (cancel.method, cancel.path) == ("PUT", submit_poll.path.replace("status", "cancel"))
    assert cancel.headers["authorization"] == submit_poll.headers["authorization"]
    assert cancel.headers["x-api-key"] == CLIENT_ID


def test_an_unreachable_firefly_is_retryable(environ: dict[str, str], clock: Clock) -> None:
    closed = FireflyApi(CLIENT_ID, CLIENT_SECRET)
    closed.close()  # nothing listens on its port any more
    with _provider(closed, environ, clock) as provider:
        error = _failure(provider, _request())
    assert error.retryable is True
    assert "could not be reached" in str(error)
