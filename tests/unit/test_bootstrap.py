"""The composition root picks each adapter by its setting (the Azure ones without I/O)."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.azure_clients import cosmos_database
from adapters.keyvault_keyring import KeyVaultKeyRing
from adapters.local_keyring import LocalKeyRing
from adapters.servicebus_queue import ServiceBusWorkQueue
from adapters.sqlite_queue import SqliteQueue
from bootstrap import subject_key_ring, work_queue
from services.generations import JOB_QUEUE
from services.settings import Settings


def test_the_job_queue_is_local_by_default_and_service_bus_when_chosen(tmp_path: Path) -> None:
    assert isinstance(work_queue(Settings(data_dir=tmp_path)), SqliteQueue)
    chosen = Settings(queue="servicebus", servicebus_namespace="ns.servicebus.windows.net")
    queue = work_queue(chosen)
    assert isinstance(queue, ServiceBusWorkQueue)
    assert queue.queue_name == JOB_QUEUE
    queue.close()


def test_an_emulator_key_is_refused_for_anything_but_loopback() -> None:
    with pytest.raises(ValueError, match="loopback"):
        cosmos_database("https://acct.documents.azure.com:443/", "donatello", "key")


def test_subject_keys_are_a_local_file_by_default_and_key_vault_when_chosen(
    tmp_path: Path,
) -> None:
    local = subject_key_ring(Settings(data_dir=tmp_path))
    assert isinstance(local, LocalKeyRing)
    assert local.path == tmp_path / "subject-keys.json"
    chosen = Settings(
        subject_keys="keyvault", subject_key_vault_url="https://donatello-subjects.vault.azure.net"
    )
    assert isinstance(subject_key_ring(chosen), KeyVaultKeyRing)
