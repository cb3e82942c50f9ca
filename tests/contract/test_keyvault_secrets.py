"""KeyVaultSecrets through the real `azure-keyvault-secrets` SDK, against a local vault.

Key Vault has no emulator; `tests.keyvault_server` speaks its secrets REST API over TLS
on loopback, bearer challenge included, with the service's answers for a missing
(404 SecretNotFound) and a disabled (403 SecretDisabled) secret, and, like the service,
returns expired versions with their `exp` for the client to enforce. The client is the
SDK's `SecretClient` with its challenge policy; only resource verification is off, since
the vault's address is 127.0.0.1 rather than `*.vault.azure.net`. The SDK's own retries
are off (`retry_total=0`) so outage tests take milliseconds; in Azure they run first.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from azure.keyvault.secrets import SecretClient

from adapters.keyvault_secrets import KeyVaultSecrets
from services.ports import SecretSource, SecretUnavailable
from tests.contract.secret_source_contract import PutSecret, SecretSourceContract, unique_name
from tests.keyvault_server import KEY_VAULT_SCOPE, FixedTokenCredential, KeyVaultServer

pytest_plugins = ["tests.keyvault_fixtures"]

TTL = timedelta(minutes=5)
GRACE = timedelta(hours=1)
OUTAGE_RETRY = timedelta(seconds=30)


class Clock:
    def __init__(self) -> None:
        # Whole seconds: Key Vault's times are Unix seconds.
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def source(client: SecretClient, clock: Clock) -> KeyVaultSecrets:
    return KeyVaultSecrets(
        client, ttl=TTL, stale_grace=GRACE, outage_retry=OUTAGE_RETRY, clock=clock
    )


class TestKeyVaultSecrets(SecretSourceContract):
    @pytest.fixture
    def source(self, source: KeyVaultSecrets) -> SecretSource:
        return source

    @pytest.fixture
    def put_secret(self, vault: KeyVaultServer) -> PutSecret:
        def put(name: str, value: str) -> None:
            vault.set_secret(name, value)

        return put


def _unavailable(read: Callable[[], str]) -> SecretUnavailable:
    with pytest.raises(SecretUnavailable) as raised:
        read()
    return raised.value


def test_authenticates_through_the_key_vault_challenge(
    source: KeyVaultSecrets, vault: KeyVaultServer, credential: FixedTokenCredential
) -> None:
    name = unique_name()
    vault.set_secret(name, "sk-1")
    assert source.get(name) == "sk-1"
    first, second = vault.requests()
    assert (first.authorized, first.status) == (False, 401)
    assert (second.authorized, second.status) == (True, 200)
    assert first.api_version is not None
    assert credential.requests == [((KEY_VAULT_SCOPE,), vault.tenant_id)]


def test_a_value_is_cached_for_the_ttl_then_the_rotated_one_is_read(
    source: KeyVaultSecrets, vault: KeyVaultServer, clock: Clock
) -> None:
    name = unique_name()
    vault.set_secret(name, "before rotation")
    assert source.get(name) == "before rotation"
    vault.set_secret(name, "after rotation")
    clock.advance(TTL - timedelta(seconds=1))
    assert source.get(name) == "before rotation"
    assert vault.secret_reads(name) == 1
    clock.advance(timedelta(seconds=1))
    assert source.get(name) == "after rotation"
    assert vault.secret_reads(name) == 2


def test_an_earlier_expiry_ends_the_cache_before_the_ttl(
    source: KeyVaultSecrets, vault: KeyVaultServer, clock: Clock
) -> None:
    name = unique_name()
    vault.set_secret(name, "short-lived", expires_on=clock.now + timedelta(minutes=1))
    assert source.get(name) == "short-lived"
    vault.set_secret(name, "its successor")
    clock.advance(timedelta(seconds=59))
    assert source.get(name) == "short-lived"
    clock.advance(timedelta(seconds=1))
    assert source.get(name) == "its successor"


def test_an_expired_secret_is_refused(
    source: KeyVaultSecrets, vault: KeyVaultServer, clock: Clock
) -> None:
    name = unique_name()
    version = vault.set_secret(name, "stale key", expires_on=clock.now - timedelta(seconds=1))
    refused = _unavailable(lambda: source.get(name))
    assert not refused.retryable
    assert f"version {version} expired" in str(refused)


def test_a_version_that_expires_while_cached_is_refused_afterwards(
    source: KeyVaultSecrets, vault: KeyVaultServer, clock: Clock
) -> None:
    name = unique_name()
    vault.set_secret(name, "soon expired", expires_on=clock.now + timedelta(minutes=1))
    assert source.get(name) == "soon expired"
    clock.advance(timedelta(minutes=1))
    assert not _unavailable(lambda: source.get(name)).retryable


def test_a_disabled_secret_is_refused(source: KeyVaultSecrets, vault: KeyVaultServer) -> None:
    name = unique_name()
    vault.set_secret(name, "disabled key", enabled=False)
    refused = _unavailable(lambda: source.get(name))
    assert not refused.retryable
    assert "403 Forbidden/SecretDisabled" in str(refused)


def test_disabling_takes_effect_at_the_next_refresh_and_drops_the_cached_value(
    source: KeyVaultSecrets, vault: KeyVaultServer, clock: Clock
) -> None:
    name = unique_name()
    vault.set_secret(name, "compromised key")
    assert source.get(name) == "compromised key"
    vault.set_enabled(name, False)
    clock.advance(TTL)
    assert not _unavailable(lambda: source.get(name)).retryable
    # The refused value is gone: an outage right after cannot bring it back.
    vault.fail_with(503)
    assert _unavailable(lambda: source.get(name)).retryable


def test_a_version_not_valid_yet_is_refused_as_retryable(
    source: KeyVaultSecrets, vault: KeyVaultServer, clock: Clock
) -> None:
    name = unique_name()
    vault.set_secret(name, "future key", not_before=clock.now + timedelta(hours=1))
    refused = _unavailable(lambda: source.get(name))
    assert refused.retryable
    assert "not valid before" in str(refused)


def test_concurrent_cold_reads_ask_the_vault_once(
    source: KeyVaultSecrets, vault: KeyVaultServer
) -> None:
    name = unique_name()
    vault.set_secret(name, "shared")
    start = threading.Barrier(16)
    values: list[str] = []

    def read() -> None:
        start.wait()
        values.append(source.get(name))

    threads = [threading.Thread(target=read) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert values == ["shared"] * 16
    assert vault.secret_reads(name) == 1


# --- outages ---------------------------------------------------------------------------


def test_a_stale_value_is_served_while_the_vault_is_unreachable(
    source: KeyVaultSecrets, vault: KeyVaultServer, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    name = unique_name()
    version = vault.set_secret(name, "cached key")
    assert source.get(name) == "cached key"
    vault.close()
    clock.advance(TTL)
    with caplog.at_level(logging.WARNING, logger="adapters.keyvault_secrets"):
        assert source.get(name) == "cached key"
    (warning,) = caplog.records
    assert "unreachable" in warning.getMessage()
    assert name in warning.getMessage()
    assert version in warning.getMessage()


def test_during_an_outage_the_vault_is_asked_again_only_after_a_pause(
    source: KeyVaultSecrets, vault: KeyVaultServer, clock: Clock
) -> None:
    name = unique_name()
    vault.set_secret(name, "cached key")
    source.get(name)
    clock.advance(TTL)
    vault.fail_with(503)
    assert source.get(name) == "cached key"
    attempts = len(vault.requests())
    clock.advance(OUTAGE_RETRY - timedelta(seconds=1))
    assert source.get(name) == "cached key"
    assert len(vault.requests()) == attempts
    vault.fail_with(None)
    vault.set_secret(name, "rotated during the outage")
    clock.advance(timedelta(seconds=1))
    assert source.get(name) == "rotated during the outage"


def test_stale_serving_ends_after_the_grace(
    source: KeyVaultSecrets, vault: KeyVaultServer, clock: Clock
) -> None:
    name = unique_name()
    vault.set_secret(name, "cached key")
    source.get(name)
    vault.fail_with(503)
    clock.advance(TTL + GRACE - timedelta(seconds=1))
    assert source.get(name) == "cached key"
    clock.advance(timedelta(seconds=1))
    refused = _unavailable(lambda: source.get(name))
    assert refused.retryable
    assert "503" in str(refused)


def test_stale_serving_never_passes_the_versions_expiry(
    source: KeyVaultSecrets, vault: KeyVaultServer, clock: Clock
) -> None:
    name = unique_name()
    vault.set_secret(name, "expiring key", expires_on=clock.now + TTL + timedelta(minutes=1))
    source.get(name)
    vault.close()
    clock.advance(TTL)
    assert source.get(name) == "expiring key"
    clock.advance(timedelta(minutes=1))
    assert _unavailable(lambda: source.get(name)).retryable


def test_an_unreachable_vault_with_nothing_cached_fails_retryably(
    source: KeyVaultSecrets, vault: KeyVaultServer
) -> None:
    vault.close()
    refused = _unavailable(lambda: source.get(unique_name()))
    assert refused.retryable
    assert "ServiceRequestError" in str(refused)


def test_a_refusal_is_not_an_outage(
    source: KeyVaultSecrets, vault: KeyVaultServer, clock: Clock
) -> None:
    name = unique_name()
    vault.set_secret(name, "revoked access")
    source.get(name)
    clock.advance(TTL)
    vault.fail_with(403)
    assert not _unavailable(lambda: source.get(name)).retryable


# --- logs ------------------------------------------------------------------------------


def test_values_never_reach_logs_or_errors(
    source: KeyVaultSecrets, vault: KeyVaultServer, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    name = unique_name()
    values = [f"sk-{secrets.token_hex(16)}" for _ in range(3)]
    caplog.set_level(logging.DEBUG)
    first = vault.set_secret(name, values[0])
    source.get(name)
    second = vault.set_secret(name, values[1])
    clock.advance(TTL)
    source.get(name)
    vault.fail_with(503)
    clock.advance(TTL)
    source.get(name)  # served stale, with a warning
    vault.fail_with(None)
    vault.set_secret(name, values[2], enabled=False)
    clock.advance(OUTAGE_RETRY)
    refused = _unavailable(lambda: source.get(name))

    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert first in logged
    assert second in logged
    for value in values:
        assert value not in logged
        assert value not in str(refused)
        assert value not in repr(refused.__cause__)


def test_while_one_caller_waits_on_the_vault_others_get_the_cached_value(
    source: KeyVaultSecrets, vault: KeyVaultServer, clock: Clock
) -> None:
    name = unique_name()
    vault.set_secret(name, "cached key")
    source.get(name)
    vault.set_secret(name, "rotated key")
    clock.advance(TTL)
    vault.hold_requests()
    refreshed: list[str] = []
    refreshing = threading.Thread(target=lambda: refreshed.append(source.get(name)))
    refreshing.start()
    try:
        deadline = time.monotonic() + 5
        while vault.held() == 0:
            assert time.monotonic() < deadline, "the refresh never reached the vault"
            time.sleep(0.01)
        assert source.get(name) == "cached key"
    finally:
        vault.release_requests()
        refreshing.join()
    assert refreshed == ["rotated key"]
    assert source.get(name) == "rotated key"
