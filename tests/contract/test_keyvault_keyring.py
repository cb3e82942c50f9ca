"""KeyVaultKeyRing through the real `azure-keyvault-secrets` SDK against the local vault
(`tests.keyvault_server`, which speaks Key Vault's secrets REST API, soft delete and purge
included): the SubjectKeyRing contract, plus what is particular to a vault."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from azure.keyvault.secrets import SecretClient

from adapters.keyvault_keyring import KeyVaultKeyRing, secret_name
from tests.contract.subject_keyring_contract import (
    OpenRing,
    SubjectKeyRingContract,
    unique_subject,
)
from tests.keyvault_server import KeyVaultServer

pytest_plugins = ["tests.keyvault_fixtures"]


class TestKeyVaultKeyRing(SubjectKeyRingContract):
    @pytest.fixture
    def open_ring(self, client: SecretClient) -> OpenRing:
        return lambda: KeyVaultKeyRing(client, polling_interval=0.01)


@pytest.fixture
def ring(client: SecretClient) -> KeyVaultKeyRing:
    return KeyVaultKeyRing(client, polling_interval=0.01)


def test_one_secret_per_subject_named_by_a_digest(
    ring: KeyVaultKeyRing, vault: KeyVaultServer
) -> None:
    subject = "erin@contoso.example"
    key = ring.key_for(subject)
    name = "subject-key-" + hashlib.sha256(subject.encode()).hexdigest()
    assert secret_name(subject) == name
    assert vault.stored_versions(name) == 1
    assert all("erin" not in r.path for r in vault.requests())
    assert base64.b64decode(vault.latest_value(name)) == key


def test_erasure_purges_the_secret_so_nothing_is_recoverable(
    ring: KeyVaultKeyRing, vault: KeyVaultServer
) -> None:
    subject = unique_subject()
    ring.key_for(subject)
    assert ring.destroy(subject) is True
    assert vault.stored_versions(secret_name(subject)) == 0
    methods = [(r.method, r.path.split("/")[1]) for r in vault.requests() if r.method == "DELETE"]
    assert methods[-2:] == [("DELETE", "secrets"), ("DELETE", "deletedsecrets")]


def test_an_erasure_that_stopped_before_the_purge_is_finished_by_the_retry(
    ring: KeyVaultKeyRing, client: SecretClient, vault: KeyVaultServer
) -> None:
    subject = unique_subject()
    ring.key_for(subject)
    client.begin_delete_secret(secret_name(subject), _polling_interval=0.01).wait()
    assert vault.stored_versions(secret_name(subject)) == 1  # deleted, still recoverable
    assert ring.existing_key(subject) is None
    assert ring.destroy(subject) is True
    assert vault.stored_versions(secret_name(subject)) == 0


def test_racing_writers_settle_on_the_earliest_version(
    ring: KeyVaultKeyRing, vault: KeyVaultServer
) -> None:
    subject = unique_subject()
    name = secret_name(subject)
    earlier = datetime.now(UTC) - timedelta(seconds=5)
    # The earliest is neither listed first nor the latest version: only its time tells.
    vault.set_secret(name, base64.b64encode(b"a" * 32).decode())
    vault.set_secret(name, base64.b64encode(b"k" * 32).decode(), created=earlier)
    vault.set_secret(name, base64.b64encode(b"z" * 32).decode())
    assert ring.existing_key(subject) == b"k" * 32
    assert ring.key_for(subject) == b"k" * 32
