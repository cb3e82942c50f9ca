"""Provider API keys from Azure Key Vault, cached with rotation-friendly expiry.

Each `get` reads the secret's latest version (`SecretClient.get_secret(name)`), so a
rotation (a new version) is picked up on the next refresh, and keeps the value until
`ttl` has passed or the version's own `expires_on`, whichever comes first. Names are
case-insensitive, as in Key Vault, and share one cache entry.

What is refused, and the cached value dropped with it, so that an operator's action
takes effect at the next refresh:
- a disabled secret (Key Vault answers 403 `SecretDisabled`), or any other refusal
  (401, 403: access revoked): `SecretUnavailable(retryable=False)`;
- an expired version: Key Vault still returns it (`exp` is advisory for secrets), so
  this adapter refuses it: `SecretUnavailable(retryable=False)`;
- a latest version that is not valid yet (`nbf` in the future): refused with
  `retryable=True`, since it becomes valid by itself;
- a deleted or unknown secret: `SecretNotFound`.

Key Vault outage (the choice): a brief outage must not stop generation. When the vault
cannot be reached (connection or read failure, or 408/429/5xx after the SDK's own
retries) and a cached value has gone stale, that value is served for up to
`stale_grace` (1 hour by default) past its refresh time, never past the version's
`expires_on`, with a warning naming the secret and version. During that time the vault
is asked again at most every `outage_retry` (30 s), so callers do not each pay the
SDK's retry delays. After the grace, or with nothing cached, the error is
`SecretUnavailable(retryable=True)`. Serving a rotated-out key for a while is safe:
rotation only ever makes the old key stop working at the provider, never leaks it.

Values never reach a log or an exception message: only names and versions do.

Thread safety: one lock guards the cache, and a lock per name lets one thread at a time
ask the vault for a secret. While it does, other callers get the cached value if there is
one still within its grace (so a slow or hanging vault delays one request, not all of
them), and wait for that one fetch if there is none. `SecretClient` itself is safe to
share between threads.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.keyvault.secrets import KeyVaultSecret, SecretClient

from services.ports import SecretNotFound, SecretUnavailable, check_secret_name

log = logging.getLogger(__name__)

DEFAULT_TTL = timedelta(minutes=5)
DEFAULT_STALE_GRACE = timedelta(hours=1)
DEFAULT_OUTAGE_RETRY = timedelta(seconds=30)
# Answers that say "the vault is in trouble", not "you may not have this".
_OUTAGE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class _Cached:
    value: str
    version: str | None
    refresh_at: datetime  # when to ask the vault again
    serve_until: datetime  # the last moment the value may be served while the vault is down


class KeyVaultSecrets:
    """Implements `services.ports.SecretSource` on a Key Vault `SecretClient`."""

    def __init__(
        self,
        client: SecretClient,
        *,
        ttl: timedelta = DEFAULT_TTL,
        stale_grace: timedelta = DEFAULT_STALE_GRACE,
        outage_retry: timedelta = DEFAULT_OUTAGE_RETRY,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        if ttl <= timedelta(0) or outage_retry <= timedelta(0):
            raise ValueError("ttl and outage_retry must be positive")
        if stale_grace < timedelta(0):
            raise ValueError("stale_grace must not be negative")
        self._client = client
        self._ttl = ttl
        self._stale_grace = stale_grace
        self._outage_retry = outage_retry
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: dict[str, _Cached] = {}
        self._fetching: dict[str, threading.Lock] = {}

    def get(self, name: str) -> str:
        key = check_secret_name(name).lower()
        with self._lock:
            cached = self._cache.get(key)
            now = self._clock()
            if cached is not None and now < cached.refresh_at:
                return cached.value
            fetching = self._fetching.setdefault(key, threading.Lock())
        if cached is not None and now < cached.serve_until:
            if not fetching.acquire(blocking=False):
                # Another thread is asking the vault: only that one waits for the answer.
                return cached.value
        else:
            fetching.acquire()
        try:
            with self._lock:
                cached = self._cache.get(key)
            now = self._clock()
            if cached is not None and now < cached.refresh_at:
                return cached.value  # another thread refreshed it while this one waited
            return self._refresh(name, key, cached, now)
        finally:
            fetching.release()

    def _refresh(self, name: str, key: str, cached: _Cached | None, now: datetime) -> str:
        try:
            secret = self._client.get_secret(name)
        except ResourceNotFoundError:
            self._store(key, None)
            raise SecretNotFound(name) from None
        except (ServiceRequestError, ServiceResponseError, HttpResponseError) as error:
            if _is_outage(error):
                return self._serve_stale(name, key, cached, now, error)
            self._store(key, None)
            raise SecretUnavailable(name, _describe(error), retryable=False) from error
        return self._accept(name, key, cached, secret, now)

    def _accept(
        self, name: str, key: str, cached: _Cached | None, secret: KeyVaultSecret, now: datetime
    ) -> str:
        properties = secret.properties
        version, expires_on = properties.version, properties.expires_on
        if expires_on is not None and now >= expires_on:
            self._store(key, None)
            raise SecretUnavailable(
                name, f"version {version} expired at {expires_on.isoformat()}", retryable=False
            )
        not_before = properties.not_before
        if not_before is not None and now < not_before:
            self._store(key, None)
            raise SecretUnavailable(
                name,
                f"version {version} is not valid before {not_before.isoformat()}",
                retryable=True,
            )
        if secret.value is None:
            raise SecretUnavailable(name, f"version {version} has no value", retryable=False)
        limit = datetime.max.replace(tzinfo=UTC) if expires_on is None else expires_on
        refresh_at = min(now + self._ttl, limit)
        self._store(
            key,
            _Cached(
                value=secret.value,
                version=version,
                refresh_at=refresh_at,
                serve_until=min(refresh_at + self._stale_grace, limit),
            ),
        )
        if cached is None or cached.version != version:
            log.info(
                "secret %s: using version %s (expires %s)",
                name,
                version,
                "never" if expires_on is None else expires_on.isoformat(),
            )
        return secret.value

    def _serve_stale(
        self, name: str, key: str, cached: _Cached | None, now: datetime, error: AzureError
    ) -> str:
        if cached is None or now >= cached.serve_until:
            raise SecretUnavailable(
                name,
                f"Key Vault is unreachable ({_describe(error)}) and no usable value is cached",
                retryable=True,
            ) from error
        retry_at = min(now + self._outage_retry, cached.serve_until)
        self._store(key, replace(cached, refresh_at=retry_at))
        log.warning(
            "Key Vault is unreachable (%s): serving secret %s version %s from the cache,"
            " stale since %s, for at most %s more",
            _describe(error),
            name,
            cached.version,
            cached.refresh_at.isoformat(),
            cached.serve_until - now,
        )
        return cached.value

    def _store(self, key: str, entry: _Cached | None) -> None:
        with self._lock:
            if entry is None:
                self._cache.pop(key, None)
            else:
                self._cache[key] = entry


def _is_outage(error: AzureError) -> bool:
    if isinstance(error, ServiceRequestError | ServiceResponseError):
        return True
    return isinstance(error, HttpResponseError) and error.status_code in _OUTAGE_STATUSES


def _describe(error: AzureError) -> str:
    """What went wrong, from the service's error codes; Key Vault never puts values there."""
    if not isinstance(error, HttpResponseError) or error.status_code is None:
        return f"{type(error).__name__}: {error.message}"
    detail = error.error
    codes = [] if detail is None else [detail.code, (detail.innererror or {}).get("code")]
    answer = f"Key Vault answered {error.status_code} {'/'.join(c for c in codes if c)}".rstrip()
    return answer if detail is None or not detail.message else f"{answer}: {detail.message}"
