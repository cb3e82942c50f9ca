"""Seals and verify on Cosmos DB (the emulator): heads by commit time, chains per stream.

Seal windows are whole seconds of the server's commit time (`_ts`), so the test waits
past a second boundary (and the log's settle margin) between what it writes and what
it seals, as the timer's five minutes and one-minute margin do in production.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from azure.cosmos import ContainerProxy, DatabaseProxy

from adapters.cosmos_audit_log import CosmosAuditLog, item_hashed_fields
from adapters.cosmos_event_store import CosmosEventStore, ensure_event_container, item_id
from adapters.fs_seal_store import FsSealStore
from domain.audit import ProblemKind
from domain.envelope import canonical_json, event_hash, utc_now
from domain.seals import Head
from services.audit_verify import AuditReport, verify_log
from services.seals import write_seal
from tests.contract.event_store_contract import new_event

pytest_plugins = ["tests.cosmos_fixtures"]

SETTLE_SECONDS = 1
MODIFIED, MISSING, INSERTED = ProblemKind.MODIFIED, ProblemKind.MISSING, ProblemKind.INSERTED


@dataclass
class Sealed:
    container: ContainerProxy
    log: CosmosAuditLog
    seals: FsSealStore


def settle() -> None:
    """Past the second the last write committed in, and past the log's margin."""
    time.sleep(SETTLE_SECONDS + 1.05)


@pytest.fixture
def sealed(cosmos_database: DatabaseProxy, tmp_path: Path) -> Sealed:
    """Streams a (4 events) and b (2), sealed; then a's fifth event, sealed again."""
    container = ensure_event_container(cosmos_database)
    store = CosmosEventStore(container)
    store.append("a", 0, [new_event(n=n) for n in range(1, 5)])
    # A float with no fraction: Cosmos gives 1.0 back as 1, which `dataText` outlives.
    store.append("b", 0, [new_event(n=1, score=1.0), new_event(n=2, score=0.85)])
    log = CosmosAuditLog(container, settle_seconds=SETTLE_SECONDS)
    seals = FsSealStore(tmp_path / "seals")
    settle()
    first = write_seal(log, seals, utc_now)
    store.append("a", 4, [new_event(n=5)])
    settle()
    second = write_seal(log, seals, utc_now)
    assert first is not None
    assert second is not None
    return Sealed(container, log, seals)


def item(sealed: Sealed, stream_id: str, version: int) -> dict[str, Any]:
    found: dict[str, Any] = sealed.container.read_item(item_id(version), partition_key=stream_id)
    return found


def found(report: AuditReport) -> list[tuple[str, int, ProblemKind]]:
    return sorted((p.stream_id, p.version, p.kind) for p in report.problems)


def forge(sealed: Sealed, stream_id: str, version: int) -> None:
    """Other data in the event, its hash recomputed over the stored fields."""
    forged = {**item(sealed, stream_id, version)}
    forged["data"] = {**forged["data"], "forged": True}
    forged["dataText"] = canonical_json(forged["data"])
    forged["hash"] = event_hash(item_hashed_fields(forged, forged["data"]))
    sealed.container.replace_item(forged["id"], forged)


def test_a_seal_holds_the_heads_of_the_streams_committed_in_its_window(sealed: Sealed) -> None:
    first, second = (text for _, text in sealed.seals.read())
    head_of = {stream: item(sealed, stream, v)["hash"] for stream, v in (("a", 4), ("b", 2))}
    assert f'"heads":[{canonical_json(Head("a", 4, head_of["a"]).as_json())},' in first
    assert canonical_json(Head("b", 2, head_of["b"]).as_json()) in first
    assert canonical_json(Head("a", 5, item(sealed, "a", 5)["hash"]).as_json()) in second
    assert '"stream_id":"b"' not in second  # b did not change
    assert write_seal(sealed.log, sealed.seals, utc_now) is None  # nothing since


def test_the_untouched_log_verifies_stream_by_stream(sealed: Sealed) -> None:
    report = verify_log(sealed.log, sealed.seals)
    assert found(report) == []
    assert (report.events, report.streams, report.seals, report.complete) == (7, 2, 2, True)
    partial = verify_log(sealed.log, sealed.seals, max_events=1)
    assert (partial.streams, partial.complete) == (1, False)


def test_changed_data_is_modified_even_where_its_hashed_text_was_kept(sealed: Sealed) -> None:
    changed = item(sealed, "b", 1)
    assert isinstance(changed["data"]["score"], int)  # 1.0 reads back as 1
    changed["data"] = {**changed["data"], "n": 7}  # what readers see; `dataText` untouched
    sealed.container.replace_item(changed["id"], changed)
    assert found(verify_log(sealed.log, sealed.seals)) == [("b", 1, MODIFIED)]


def test_a_deleted_event_is_missing_and_a_deleted_sealed_head_too(sealed: Sealed) -> None:
    sealed.container.delete_item(item_id(2), partition_key="a")
    sealed.container.delete_item(item_id(2), partition_key="b")  # b's sealed head
    assert found(verify_log(sealed.log, sealed.seals)) == [("a", 2, MISSING), ("b", 2, MISSING)]


def test_a_sealed_head_whose_version_field_was_changed_is_modified_not_missing(
    sealed: Sealed,
) -> None:
    """The item id is where an event sits in its chain; the seal check looks it up there."""
    changed = item(sealed, "b", 2)
    changed["version"] = 9
    sealed.container.replace_item(changed["id"], changed)
    assert found(verify_log(sealed.log, sealed.seals)) == [("b", 2, MODIFIED)]


def test_a_forgery_with_a_recomputed_hash_is_inserted_mid_stream_and_at_a_sealed_head(
    sealed: Sealed,
) -> None:
    forge(sealed, "a", 2)  # a's third event links elsewhere
    forge(sealed, "b", 2)  # nothing links to it; seal 1 holds another hash
    report = verify_log(sealed.log, sealed.seals)
    assert found(report) == [("a", 2, INSERTED), ("b", 2, INSERTED)]
    assert {p.detail for p in report.problems if p.stream_id == "b"} == {"sealed in 1"}


def test_a_verify_from_a_seal_on_reads_what_was_committed_after_it(sealed: Sealed) -> None:
    store = CosmosEventStore(sealed.container)
    store.append("a", 5, [new_event(n=6), new_event(n=7)])
    store.append("c", 0, [new_event(n=1)])
    report = verify_log(sealed.log, sealed.seals, since=2)
    assert found(report) == []
    assert (report.events, report.streams, report.seals, report.since_seal) == (3, 2, 1, 2)
    sealed.container.delete_item(item_id(6), partition_key="a")  # v7 links to the gap
    assert found(verify_log(sealed.log, sealed.seals, since=2)) == [("a", 6, MISSING)]
    # A replaced item commits again: its new `_ts` puts it after the seal, in view.
    changed = item(sealed, "b", 1)
    changed["data"] = {**changed["data"], "n": 7}
    sealed.container.replace_item(changed["id"], changed)
    assert found(verify_log(sealed.log, sealed.seals, since=2)) == [
        ("a", 6, MISSING),
        ("b", 1, MODIFIED),
    ]
