"""The SQLite audit reader rebuilds exactly the text each event's hash was computed over."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

from adapters.sqlite_audit_log import SqliteAuditLog
from adapters.sqlite_event_store import SqliteEventStore
from domain.envelope import Actor, NewEvent, canonical_json, hashed_fields
from domain.seals import Head

# Every control character, quotes, backslashes, a line separator, DEL and astral text.
AWKWARD = "".join(chr(c) for c in range(32)) + '"\\/\u2028\u2029\x7f é 😀 </script>'


def test_the_rebuilt_text_is_the_canonical_json_of_the_hashed_fields(tmp_path: Path) -> None:
    store = SqliteEventStore(tmp_path / "events.db", synchronous="NORMAL")
    actor = Actor(user_id=f"user {AWKWARD}", roles=("A", AWKWARD), department_id=AWKWARD)
    recorded = []
    for n, stream_id in enumerate(("plain", f"stream {AWKWARD}")):
        new = NewEvent(
            type=f"Type {AWKWARD}",
            data={"text": AWKWARD, AWKWARD: [1, 2.5, None, True, {"n": n}], "n": -n},
            actor=actor,
            correlation_id=uuid.uuid4(),
            causation_id=uuid.uuid4() if n else None,
            schema_version=n + 1,
        )
        recorded += store.append(stream_id, 0, [new])
    log = SqliteAuditLog(tmp_path / "events.db")
    links = list(log.links(0, log.last_position()))
    assert links == [
        (
            event.stream_id,
            event.version,
            event.prev_hash,
            event.hash,
            canonical_json(hashed_fields(**event.model_dump(exclude={"hash"}))),
        )
        for event in recorded
    ]
    assert log.heads(0, 2) == [Head(e.stream_id, e.version, e.hash) for e in recorded]
    assert log.hash_at("plain", 1) == recorded[0].hash
    assert log.hash_at("plain", 2) is None
    store.close()
    log.close()


def test_a_column_not_of_its_written_form_has_no_text(tmp_path: Path) -> None:
    store = SqliteEventStore(tmp_path / "events.db", synchronous="NORMAL")
    store.append(
        "s", 0, [NewEvent(type="T", data={}, actor=Actor(user_id="u"), correlation_id=uuid.uuid4())]
    )
    store.close()
    with sqlite3.connect(tmp_path / "events.db") as db:
        db.execute("DROP TRIGGER events_are_never_updated")
        db.execute("UPDATE events SET schema_version = 'x1'")
    log = SqliteAuditLog(tmp_path / "events.db")
    assert [text for *_, text in log.links(0, 1)] == [None]
    log.close()
