"""The SQLite audit reader rebuilds exactly the text each event's hash was computed over."""

from __future__ import annotations

import hashlib
import sqlite3
import uuid
from pathlib import Path

from adapters.sqlite_audit_log import CANONICAL_TEXT, HASHES_PER_STATEMENT, SqliteAuditLog
from adapters.sqlite_event_store import SqliteEventStore
from domain.audit import PLACES_PER_REQUEST, Place
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
            position,
        )
        for position, event in enumerate(recorded, 1)
    ]
    assert log.heads(0, 2) == [Head(e.stream_id, e.version, e.hash) for e in recorded]
    assert log.hash_at("plain", 1) == recorded[0].hash
    assert log.hash_at("plain", 2) is None
    wanted = [(f"stream {AWKWARD}", 1), ("plain", 2), ("plain", 1)]
    assert log.hashes_at(wanted) == [recorded[1].hash, None, recorded[0].hash]
    assert log.hashes_at([]) == []
    many = [("plain", 1 + n % 2) for n in range(HASHES_PER_STATEMENT + 3)]  # two statements
    assert log.hashes_at(many) == [(recorded[0].hash, None)[n % 2] for n in range(len(many))]
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
    assert [text for _, _, _, _, text, _ in log.links(0, 1)] == [None]
    log.close()


def tampered(
    tmp_path: Path, data: dict[str, object], tamper: str, *values: object
) -> tuple[str | None, str, str]:
    """After `tamper` (SQL, `values` bound) on the row of one event: the text verify rebuilds
    (None when the row is not of a written form), the same columns joined without checking
    them, and the hash the row carries."""
    tmp_path.mkdir(exist_ok=True)
    store = SqliteEventStore(tmp_path / "events.db", synchronous="NORMAL")
    new = NewEvent(type="T", data=data, actor=Actor(user_id="u"), correlation_id=uuid.uuid4())
    (event,) = store.append("s", 0, [new])
    store.close()
    with sqlite3.connect(tmp_path / "events.db") as db:
        db.execute("DROP TRIGGER events_are_never_updated")
        db.execute(tamper, values)
    log = SqliteAuditLog(tmp_path / "events.db")
    [(_, _, _, stored_hash, text, _)] = list(log.links(0, 1))
    log.close()
    unchecked = CANONICAL_TEXT.split(" THEN ", 1)[1].rsplit(" END", 1)[0]
    with sqlite3.connect(tmp_path / "events.db") as db:
        (joined,) = db.execute(f"SELECT {unchecked} FROM events").fetchone()
    assert stored_hash == event.hash
    return text, joined, stored_hash


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_a_row_resplit_between_its_columns_has_no_text(tmp_path: Path) -> None:
    # `data` holds what the columns between `actor` and it look like, so the same bytes
    # split with `actor` swallowing those columns and the start of `data` give the same
    # text: another causation, correlation id and data under the same hash. `actor` is then
    # no JSON value, which is what the rebuilt text refuses.
    other = str(uuid.uuid4())
    data: dict[str, object] = {
        "z": {"a": 1, "causation_id": None, "correlation_id": other, "data": {"b": 2}}
    }
    text, joined, stored_hash = tampered(
        tmp_path,
        data,
        'UPDATE events SET actor = actor || \',"causation_id":null,"correlation_id":"\''
        ' || correlation_id || \'","data":{"z":{"a":1\', correlation_id = ?,'
        " data = '{\"b\":2}}}'",
        other,
    )
    assert sha256(joined) == stored_hash  # the forgery is real
    assert text is None


def test_bytes_hidden_after_a_nul_change_the_text(tmp_path: Path) -> None:
    # SQLite's JSON functions and `format` stop at a NUL; the rebuilt text must not.
    for column in ("actor", "data"):
        text, _, stored_hash = tampered(
            tmp_path / column, {"n": 1}, f"UPDATE events SET {column} = {column} || ?", "\0{}"
        )
        assert text is not None
        assert sha256(text) != stored_hash


def places(log: SqliteAuditLog, after: int = 0) -> list[tuple[str, int, int]]:
    """The place the log answers for each event after `after` but a version 1."""
    events = [(s, v, prev, at) for s, v, prev, _, _, at in log.links(after, 99) if v > 1]
    answered = log.places(events, after)
    return [(s, v, place) for (s, v, _, _), place in zip(events, answered, strict=True)]


def test_each_event_is_placed_against_its_predecessor(tmp_path: Path) -> None:
    store = SqliteEventStore(tmp_path / "events.db", synchronous="NORMAL")
    for stream_id, expected in (("a", 0), ("b", 0), ("a", 1), ("b", 1), ("a", 2), ("a", 3)):
        event = NewEvent(type="T", data={}, actor=Actor(user_id="u"), correlation_id=uuid.uuid4())
        store.append(stream_id, expected, [event])
    store.close()
    log = SqliteAuditLog(tmp_path / "events.db")
    first, in_line = Place.FIRST_IN_LINE, Place.IN_LINE
    assert places(log) == [
        ("a", 2, in_line),
        ("b", 2, in_line),
        ("a", 3, in_line),
        ("a", 4, in_line),
    ]
    many = [("a", 4, row[2], 6) for row in log.links(5, 6)] * (PLACES_PER_REQUEST + 3)
    assert log.places(many, 0) == [in_line] * len(many)  # more than one statement's worth
    assert places(log, 2) == [
        ("a", 2, first),
        ("b", 2, first),
        ("a", 3, in_line),
        ("a", 4, in_line),
    ]
    assert [v for v, *_ in log.stream("a", 0, 6)] == [4, 3, 2, 1]
    assert [(v, p) for v, p, *_ in log.stream("a", 2, 5)] == [(3, 5), (2, 3)]
    with sqlite3.connect(tmp_path / "events.db") as db:
        db.execute("DROP TRIGGER events_are_never_updated")
        db.execute("DROP TRIGGER events_are_never_deleted")
        db.execute("DELETE FROM events WHERE stream_id = 'b' AND version = 1")  # position 2
        db.execute("UPDATE events SET position = 7 WHERE position = 5")  # a v3 after a v4
        db.execute("UPDATE events SET prev_hash = hash WHERE position = 6")  # a v4 links away
    out_of_line = Place.OUT_OF_LINE
    assert places(log) == [
        ("a", 2, in_line), ("b", 2, Place.FIRST_OUT_OF_LINE), ("a", 4, out_of_line),
        ("a", 3, in_line),
    ]  # fmt: skip
    assert places(log, 6) == [("a", 3, out_of_line)]  # its successor is before the range
    assert [(v, p) for v, p, *_ in log.stream("a", 6, 7)] == [(4, 6), (3, 7)]
    log.close()
