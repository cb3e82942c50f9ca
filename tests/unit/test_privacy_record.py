"""The privacy record's fold and the rule for when an erasure must be recorded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from domain.envelope import Event, record
from domain.generation import Payload
from domain.privacy import (
    PrivacyRecord,
    SubjectAccessExported,
    SubjectErased,
    fold,
    needs_erasure_event,
)
from services.commands import Stamp

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


def event(payload: Payload, version: int) -> Event:
    (new,) = Stamp(uuid4()).events([payload])
    at = T0 + timedelta(minutes=version)
    return record(new, stream_id="privacy-x", version=version, prev_hash="", recorded_at=at)


ERASED = SubjectErased(subject_id="erin", requested_by="cora")
EXPORTED = SubjectAccessExported(subject_id="erin", requested_by="cora")


def test_the_record_keeps_the_latest_erasure_and_counts_exports() -> None:
    record = fold([event(ERASED, 1), event(EXPORTED, 2), event(ERASED, 3), event(EXPORTED, 4)])
    assert record == PrivacyRecord(
        version=4, erased_at=T0 + timedelta(minutes=3), exports=2, erased_version=3
    )
    assert record.erased_since(T0 + timedelta(minutes=3))
    assert not record.erased_since(T0 + timedelta(minutes=4))


def test_a_destroyed_key_is_recorded_unless_a_later_erasure_stands_for_it() -> None:
    history = [event(ERASED, 1), event(EXPORTED, 2)]  # erased once, and came back
    assert needs_erasure_event(fold(history), key_destroyed=True, seen=2)
    # A racing export since is no erasure: this destruction is still owed its event.
    assert needs_erasure_event(
        fold([*history, event(EXPORTED, 3)]),
        key_destroyed=True,
        seen=2,
    )
    # An erasure recorded after the key was gone stands for its destruction.
    assert not needs_erasure_event(fold([*history, event(ERASED, 3)]), key_destroyed=True, seen=2)


def test_a_request_that_destroyed_nothing_records_only_a_missing_erasure() -> None:
    assert needs_erasure_event(PrivacyRecord(), key_destroyed=False, seen=0)  # after a crash
    assert needs_erasure_event(fold([event(EXPORTED, 1)]), key_destroyed=False, seen=1)
    assert not needs_erasure_event(fold([event(ERASED, 1)]), key_destroyed=False, seen=1)
