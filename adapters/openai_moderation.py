"""The content moderator port on OpenAI moderation, through the `openai` SDK.

`POST /v1/moderations` with `omni-moderation-latest` answers, per input, which
categories the text falls in (`violence`, `sexual/minors`, `self-harm/intent`...).
This adapter reports the flagged ones by their API names; which of them block is the
screening policy's call, not this adapter's.

One HTTP attempt per call, the SDK's retries off: a moderator that cannot answer
raises ModerationUnavailable, retryable for timeouts, connection failures, 408, 429
and 5xx and for a success body it cannot read, final for any other 4xx. The
pipeline's screening fails closed on it (see services/screening.py).

The categories are read from the JSON itself rather than the SDK's model, whose
required fields would turn a category the API adds or drops into an unreadable body.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

import openai
from openai import OpenAI

from adapters.providers.http_base import read_key

# One retry-after parser and one error wording for every OpenAI adapter.
from adapters.providers.openai_images import (
    OPENAI_BASE_URL,
    openai_retry_after,
    status_detail,
)
from services.ports import ModerationUnavailable, ProviderError, SecretSource

DEFAULT_MODEL = "omni-moderation-latest"
# Screening is on every request's path: a moderator that cannot answer in this time is
# better treated as unavailable (and the message redelivered) than waited for.
DEFAULT_TIMEOUT_SECONDS = 10.0


class OpenAIModerator:
    """Implements `services.ports.ContentModerator` over a configured `openai` client."""

    name = "openai"

    def __init__(
        self,
        client: OpenAI,
        model: str = DEFAULT_MODEL,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._client = client
        self._model = model
        self._clock = clock

    def flagged(self, text: str) -> frozenset[str]:
        try:
            raw = self._client.moderations.with_raw_response.create(model=self._model, input=text)
        except openai.APIError as error:
            raise self._classify(error) from error
        except ProviderError as error:  # the key could not be read
            raise ModerationUnavailable(str(error), retryable=error.retryable) from error
        try:
            body = json.loads(raw.text)
        except ValueError:
            raise _malformed("the body is not JSON", raw.request_id) from None
        results = body.get("results") if isinstance(body, dict) else None
        if not isinstance(results, list) or len(results) != 1 or not isinstance(results[0], dict):
            raise _malformed("expected one result", raw.request_id)
        categories = results[0].get("categories")
        if not isinstance(categories, dict) or not all(
            isinstance(value, bool) or value is None for value in categories.values()
        ):
            raise _malformed("`categories` is not an object of booleans", raw.request_id)
        return frozenset(name for name, value in categories.items() if value is True)

    def _classify(self, error: openai.APIError) -> ModerationUnavailable:
        if isinstance(error, openai.APITimeoutError):
            return ModerationUnavailable(
                "timeout: moderation did not answer in time", retryable=True
            )
        if isinstance(error, openai.APIConnectionError):
            return ModerationUnavailable(
                f"connection: moderation unreachable ({error})", retryable=True
            )
        if not isinstance(error, openai.APIStatusError):
            return _malformed(error.message, None)
        detail = status_detail(error)
        if isinstance(error, openai.RateLimitError):
            retry_after = openai_retry_after(error.response.headers, self._clock())
            return ModerationUnavailable(
                f"rate_limited: {detail}", retryable=True, retry_after=retry_after
            )
        if error.status_code >= 500 or error.status_code == 408:
            return ModerationUnavailable(f"moderation_unavailable: {detail}", retryable=True)
        return ModerationUnavailable(f"rejected: {detail}", retryable=False)


def _malformed(why: str, request_id: str | None) -> ModerationUnavailable:
    return ModerationUnavailable(
        f"malformed_response: {why} (request {request_id})", retryable=True
    )


def openai_moderator(
    secrets: SecretSource,
    secret_name: str,
    *,
    base_url: str = OPENAI_BASE_URL,
    model: str = DEFAULT_MODEL,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> OpenAIModerator:
    """OpenAI moderation, with the API key in the secret `secret_name`, read per request."""
    client = OpenAI(
        api_key=lambda: read_key(secrets, secret_name, "openai moderation"),
        base_url=base_url,
        timeout=timeout,
        max_retries=0,
    )
    return OpenAIModerator(client, model, clock)
