"""Fixtures for tests against the local Key Vault (`tests.keyvault_server`) through the
real `SecretClient`: load them with `pytest_plugins = ["tests.keyvault_fixtures"]`.

The client's resource verification is off, since the vault's address is 127.0.0.1
rather than `*.vault.azure.net`, and its retries are off (`retry_total=0`) so outage
tests take milliseconds.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.keyvault.secrets import SecretClient

from tests.azurite_fixtures import _self_signed_loopback_cert
from tests.keyvault_server import FixedTokenCredential, KeyVaultServer


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return _self_signed_loopback_cert(tmp_path_factory.mktemp("keyvault-tls"))


@pytest.fixture
def token() -> str:
    return secrets.token_urlsafe(32)


@pytest.fixture
def vault(tls_files: tuple[Path, Path], token: str) -> Iterator[KeyVaultServer]:
    cert, key = tls_files
    server = KeyVaultServer(cert, key, tenant_id=str(uuid.uuid4()), token=token)
    yield server
    server.close()


@pytest.fixture
def credential(token: str) -> FixedTokenCredential:
    return FixedTokenCredential(token)


@pytest.fixture
def client(
    vault: KeyVaultServer, credential: FixedTokenCredential, tls_files: tuple[Path, Path]
) -> Iterator[SecretClient]:
    with SecretClient(
        vault_url=vault.url,
        credential=credential,
        verify_challenge_resource=False,
        connection_verify=str(tls_files[0]),
        retry_total=0,
    ) as client:
        yield client
