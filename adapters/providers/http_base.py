"""What the httpx-based image providers share: one attempt per call, failures classified.

The pipeline owns retries (3 attempts, backoff 2/4/8 s), so a provider makes exactly one
attempt per `generate` and says, through `ProviderError.retryable`, whether another
could help:

- timeouts, connection failures, 408, 429 and 5xx are passing trouble: retryable, with
  the server's `Retry-After` carried along when it sent one;
- a content refusal is final: not retryable, reason `content_policy: ...`;
- any other 4xx (bad key, bad request) is final until someone acts;
- a 200 whose body is not what the API documents is retryable: it is the provider's
  bug, often a truncated or garbled transfer, and the pipeline's attempt cap bounds it.

The API key is read from the secrets port on every call, so a rotated key is picked up
without a restart, and it is only ever sent to the provider's API host.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Self, TypeVar

import httpx

from domain.generation import Size
from services.ports import (
    ProviderError,
    SecretNotFound,
    SecretSource,
    SecretUnavailable,
)

DEFAULT_TIMEOUT_SECONDS = 60.0
ASPECT_RATIOS: Mapping[Size, str] = {"1024x1024": "1:1", "1792x1024": "16:9", "1024x1792": "9:16"}
# Provider messages end up in events and logs; a short excerpt is enough to diagnose.
_DETAIL_LIMIT = 300

Job = TypeVar("Job")


def clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _DETAIL_LIMIT else text[: _DETAIL_LIMIT - 1] + "…"


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """`Retry-After` as seconds from now: delta-seconds or an HTTP date (RFC 9110 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:  # an obsolete date form without a zone means GMT
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())


def read_key(secrets: SecretSource, secret_name: str, provider: str) -> str:
    """The API key, read per request so a rotated key is used at once (the Key Vault
    adapter caches); a missing key is final, an unavailable one as retryable as it says."""
    try:
        return secrets.get(secret_name)
    except SecretNotFound:
        raise ProviderError(
            f"credentials: {provider} has no API key in secret {secret_name!r}", retryable=False
        ) from None
    except SecretUnavailable as error:
        raise ProviderError(
            f"credentials: {provider}: {error}", retryable=error.retryable
        ) from None
    except ValueError as error:  # a name no secret store accepts: configuration, final
        raise ProviderError(f"credentials: {provider}: {error}", retryable=False) from None


def status_error(
    provider: str, response: httpx.Response, detail: str, *, refused: bool = False
) -> ProviderError:
    """The ProviderError for a non-2xx answer; `refused` marks a content refusal."""
    status = response.status_code
    if refused:
        return ProviderError(f"content_policy: {clip(detail)}", retryable=False, refused=True)
    message = f"{provider} answered {status}: {clip(detail)}"
    if status in (408, 429) or status >= 500:
        retry_after = retry_after_seconds(response.headers.get("retry-after"))
        return ProviderError(message, retryable=True, retry_after=retry_after)
    return ProviderError(message, retryable=False)


def malformed(provider: str, what: str) -> ProviderError:
    # Worded like `provenance.received`'s unreadable-image error, so both read alike.
    return ProviderError(f"malformed_response: {provider}: {what}", retryable=True)


def json_object(provider: str, response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise malformed(provider, "the body is not JSON") from None
    if not isinstance(body, dict):
        raise malformed(provider, "the body is not a JSON object")
    return body


class HttpProvider:
    """One `httpx.Client` per provider instance; subclasses speak one API each."""

    name: str

    def __init__(
        self,
        *,
        base_url: str,
        secrets: SecretSource,
        secret_name: str,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        poll_interval: float = 1.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """`timeout` bounds each HTTP exchange, and the whole wait for an asynchronous job."""
        self._secrets = secrets
        self._secret_name = secret_name
        self._clock = clock
        self._timeout = timeout
        self._poll_interval = poll_interval
        self._client = httpx.Client(base_url=base_url, timeout=timeout)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {read_key(self._secrets, self._secret_name, self.name)}"}

    def _send(self, method: str, url: str, **options: Any) -> httpx.Response:
        """One HTTP exchange; transport failures become retryable ProviderErrors."""
        try:
            return self._client.request(method, url, **options)
        except httpx.TimeoutException:
            raise ProviderError(
                f"{self.name} timed out after {self._timeout:g} s", retryable=True
            ) from None
        except httpx.TransportError as error:
            # The exception text names the host and the failure, never the headers.
            raise ProviderError(
                f"{self.name} could not be reached: {type(error).__name__}: {error}",
                retryable=True,
            ) from None

    def _await_job(
        self,
        job: Job,
        *,
        job_id: str,
        running: Callable[[Job], bool],
        refresh: Callable[[], Job],
        cancel: Callable[[], object],
        deadline: float,
    ) -> Job:
        """Polls an asynchronous job until it stops running, or cancels it at `deadline`
        (a `time.monotonic()` value), so the provider stops billing for a result nobody
        will collect."""
        while running(job):
            if time.monotonic() + self._poll_interval >= deadline:
                # Best effort: the timeout is what gets reported, whether or not this lands.
                with contextlib.suppress(ProviderError):
                    cancel()
                raise ProviderError(
                    f"{self.name} job {job_id} still running after {self._timeout:g} s; cancelled",
                    retryable=True,
                )
            time.sleep(self._poll_interval)
            job = refresh()
        return job

    def _download(self, url: str) -> bytes:
        """A result file from the URL the API handed out (public or presigned): fetched
        without our credentials, which go to the API host only."""
        if not url.startswith(("https://", "http://")):
            raise malformed(self.name, "the result has no output URL")
        response = self._send("GET", url)
        if not response.is_success:
            failure = status_error(self.name, response, f"downloading the output: {response.text}")
            # A file missing from a finished job is the provider's fault, not ours.
            raise failure if failure.retryable else malformed(self.name, str(failure))
        return response.content
