"""OpenAI moderation against a local server speaking its wire format, through the real
`openai` SDK and a real socket; nothing is patched."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from adapters.env_secrets import EnvSecrets, variable_for
from adapters.openai_moderation import OpenAIModerator, openai_moderator
from services.ports import ContentModerator, ModerationUnavailable
from tests.openai_server import Mode, OpenAIServer, run_openai_server

FIXED = datetime(2026, 11, 3, 4, 5, 6, tzinfo=UTC)
KEY = "sk-test-key-1"
PROMPT = "a knight duelling a dragon at dusk"


@pytest.fixture(scope="module")
def running() -> Iterator[OpenAIServer]:
    with run_openai_server() as server:
        yield server


@pytest.fixture
def server(running: OpenAIServer) -> OpenAIServer:
    running.reset()
    running.credentials = {f"Bearer {KEY}"}
    return running


def moderator(url: str, *, timeout: float = 10.0, key: str | None = KEY) -> OpenAIModerator:
    secrets = EnvSecrets({variable_for("openai-api-key"): key} if key else {})
    return openai_moderator(
        secrets, "openai-api-key", base_url=f"{url}/v1", timeout=timeout, clock=lambda: FIXED
    )


def unavailable(moderator: ContentModerator) -> ModerationUnavailable:
    with pytest.raises(ModerationUnavailable) as caught:
        moderator.flagged(PROMPT)
    assert PROMPT not in str(caught.value)
    return caught.value


def test_reports_the_flagged_categories_by_their_api_names(server: OpenAIServer) -> None:
    server.flagged = {"violence", "violence/graphic"}
    assert moderator(server.url).flagged(PROMPT) == {"violence", "violence/graphic"}
    [sent] = server.requests
    assert sent.path == "/v1/moderations"
    assert sent.body == {"model": "omni-moderation-latest", "input": PROMPT}
    assert sent.headers["authorization"] == f"Bearer {KEY}"


def test_a_clean_prompt_flags_nothing(server: OpenAIServer) -> None:
    assert moderator(server.url).flagged(PROMPT) == frozenset()


@pytest.mark.parametrize(
    ("mode", "retryable", "reason"),
    [
        (Mode.RATE_LIMITED, True, "rate_limited: HTTP 429"),
        (Mode.SERVER_ERROR, True, "moderation_unavailable: HTTP 500"),
        (Mode.MALFORMED_JSON, True, "malformed_response: the body is not JSON"),
        (Mode.NO_IMAGE, True, "malformed_response: expected one result"),
        (Mode.BAD_REQUEST, False, "rejected: HTTP 400"),
    ],
)
def test_classifies_each_failure(
    server: OpenAIServer, mode: Mode, retryable: bool, reason: str
) -> None:
    server.mode = mode
    error = unavailable(moderator(server.url))
    assert error.retryable is retryable
    assert str(error).startswith(reason), str(error)
    assert len(server.requests) == 1  # one attempt: redelivery is the queue's job


def test_a_429_carries_retry_after(server: OpenAIServer) -> None:
    server.mode = Mode.RATE_LIMITED
    server.retry_after = "12"
    assert unavailable(moderator(server.url)).retry_after == 12.0
    server.retry_after = "Tue, 03 Nov 2026 04:05:36 GMT"  # FIXED + 30 s
    assert unavailable(moderator(server.url)).retry_after == 30.0


def test_a_slow_answer_times_out_as_retryable(server: OpenAIServer) -> None:
    server.mode = Mode.SLOW
    server.slow_seconds = 2.0
    error = unavailable(moderator(server.url, timeout=0.3))
    assert error.retryable is True
    assert str(error).startswith("timeout:")


def test_a_slow_answer_within_the_timeout_is_read(server: OpenAIServer) -> None:
    server.mode = Mode.SLOW
    server.slow_seconds = 0.2
    server.flagged = {"sexual/minors"}
    assert moderator(server.url, timeout=10.0).flagged(PROMPT) == {"sexual/minors"}


def test_an_unreachable_service_is_retryable() -> None:
    with socket.socket() as probe:  # a port nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    error = unavailable(moderator(f"http://127.0.0.1:{port}", timeout=2.0))
    assert error.retryable is True
    assert str(error).startswith("connection:")


def test_a_wrong_key_is_final(server: OpenAIServer) -> None:
    error = unavailable(moderator(server.url, key="sk-wrong"))
    assert error.retryable is False
    assert "HTTP 401" in str(error)
    assert "sk-wrong" not in str(error)


def test_a_missing_key_is_final_and_nothing_is_sent(server: OpenAIServer) -> None:
    error = unavailable(moderator(server.url, key=None))
    assert error.retryable is False
    assert "openai-api-key" in str(error)
    assert server.requests == []
