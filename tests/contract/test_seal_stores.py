"""Both seal stores keep each seal once, create-only, and list them in number order.

The folder store in a temporary data folder; the Blob store against Azurite
(tests/azurite_fixtures.py), whose service enforces `If-None-Match: *` as Azure does.
The container's seven-year immutability policy is set by infra and not emulated here.
"""

from __future__ import annotations

import os
import stat
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from azure.storage.blob import BlobServiceClient

from adapters.blob_seal_store import BlobSealStore, ensure_seal_container
from adapters.fs_seal_store import FsSealStore
from adapters.sqlite_event_store import SqliteEventStore
from domain.envelope import SYSTEM_ACTOR, NewEvent
from services.seals import SealExists, SealStore, parse_seal, write_seal

pytest_plugins = ["tests.azurite_fixtures"]

AT = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


@pytest.fixture(params=["fs", "blob"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SealStore]:
    if request.param == "fs":
        yield FsSealStore(tmp_path / "seals")
        return
    service: BlobServiceClient = request.getfixturevalue("azurite_blob_service")
    container = ensure_seal_container(service.get_container_client(f"seals-{uuid.uuid4().hex}"))
    yield BlobSealStore(container)
    container.delete_container()


def test_seals_are_kept_once_and_listed_in_number_order(store: SealStore) -> None:
    assert store.last() is None
    for number in (1, 2, 10):
        store.add(number, f'{{"n":{number}}}')
    with pytest.raises(SealExists):
        store.add(2, '{"n":"forged"}')
    assert store.last() == (10, '{"n":10}')
    assert list(store.read()) == [(1, '{"n":1}'), (2, '{"n":2}'), (10, '{"n":10}')]
    assert [number for number, _ in store.read(2)] == [2, 10]


def test_write_seal_seals_what_changed_since_the_last_seal(
    store: SealStore, tmp_path: Path
) -> None:
    from adapters.sqlite_audit_log import SqliteAuditLog

    events = SqliteEventStore(tmp_path / "events.db", synchronous="NORMAL")
    log = SqliteAuditLog(tmp_path / "events.db")
    assert write_seal(log, store, lambda: AT) is None  # an empty log has nothing to seal
    appended = {s: events.append(s, 0, [event(), event()]) for s in ("b", "a")}
    first = write_seal(log, store, lambda: AT)
    assert first is not None
    assert [(h.stream_id, h.version, h.hash) for h in first.heads] == [
        ("a", 2, appended["a"][1].hash),
        ("b", 2, appended["b"][1].hash),
    ]
    assert write_seal(log, store, lambda: AT) is None  # nothing changed since
    third = events.append("a", 2, [event()])[0]
    second = write_seal(log, store, lambda: AT)
    assert second is not None
    assert (second.number, second.previous_hash, second.position) == (2, first.hash, 5)
    assert [(h.stream_id, h.version, h.hash) for h in second.heads] == [("a", 3, third.hash)]
    assert [parse_seal(text) for _, text in store.read()] == [first, second]
    events.close()
    log.close()


def test_a_sealed_file_is_read_only(tmp_path: Path) -> None:
    store = FsSealStore(tmp_path / "seals")
    store.add(1, "{}")
    mode = os.stat(tmp_path / "seals" / "000000000001.json").st_mode
    assert stat.S_IMODE(mode) == stat.S_IRUSR  # read-only, and the owner's alone
    assert sorted(os.listdir(tmp_path / "seals")) == ["000000000001.json"]  # no stray temp file


def event() -> NewEvent:
    return NewEvent(type="Noted", data={"n": 1}, actor=SYSTEM_ACTOR, correlation_id=uuid.uuid4())
