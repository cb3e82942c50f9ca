"""Reading the audit trail through the service layer, on a real SQLite event store:
filters, feed pages and their cursors, who may read, the record of every read, the
JSON Lines and CSV exports round-tripping to the recorded events, and an export of
50,000 events read a page at a time."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

from adapters.sqlite_event_store import SqliteEventStore
from domain.access import AccessDenied, Principal, Role
from domain.audit_reads import AuditLogRead, audit_reads_stream
from domain.envelope import Actor, Event, NewEvent, canonical_json, recompute_hash
from services.audit_export import CSV_COLUMNS, event_from_csv, write_csv, write_jsonl
from services.audit_log import EventFilter, audit_stream, export_events, feed_page
from services.audit_reads import AuditAccess, record_read
from services.log_replay import SCAN_PAGE, PositionedReplay
from services.ports import InvalidContinuation, PositionedEvent
from services.repository import Repository
from tests.store_wrappers import Forwarding, ReadsCounted

START = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
FORMULA_USER = '=HYPERLINK("http://evil.example")'
USERS = ("alice", "bob", FORMULA_USER)
DEPARTMENTS = ("marketing", "studio", None)
TYPES = ("GenerationRequested", "PromptScreened", "CostCharged")


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def principal(user: str, *roles: Role, department: str | None = None) -> Principal:
    return Principal(user, frozenset(roles), department, None)


AUDITOR = principal("carol", Role.COMPLIANCE_AUDITOR)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> SqliteEventStore:
    return SqliteEventStore(tmp_path / "events.db", synchronous="NORMAL", clock=clock)


@pytest.fixture
def seeded(store: SqliteEventStore, clock: Clock) -> list[Event]:
    """27 events over 6 streams, a minute apart, every mix of user, department and type."""
    events: list[Event] = []
    for n in range(27):
        user, department, kind = USERS[n % 3], DEPARTMENTS[n // 3 % 3], TYPES[n // 9]
        data: dict[str, Any] = {"n": n, "prompt": {"subject_id": user, "ciphertext": "c2Vj"}}
        if department is not None:
            data["department_id"] = department
        stream_id = f"s-{n % 6}"
        actor = Actor(user_id=user, roles=("Generator.Standard",), department_id=department)
        new = NewEvent(type=kind, data=data, actor=actor, correlation_id=uuid4())
        clock.now = START + timedelta(minutes=n)
        version = len(store.read_stream(stream_id))
        events.extend(store.append(stream_id, version, [new]))
    clock.now = START + timedelta(hours=1)
    return events


def access(store: SqliteEventStore, clock: Clock) -> AuditAccess:
    return AuditAccess(
        store=store, clock=clock, repository=Repository(store), replay=PositionedReplay(store)
    )


def reads(store: SqliteEventStore) -> list[AuditLogRead]:
    return [
        AuditLogRead.model_validate(event.data)
        for event in store.read_stream(audit_reads_stream(START.date()))
    ]


FILTERS: list[tuple[EventFilter, Callable[[Event], bool]]] = [
    (EventFilter(), lambda e: True),
    (
        EventFilter(
            recorded_from=datetime.fromisoformat("2026-11-23T21:05:00+11:00"),  # 10:05 UTC
            recorded_to=START + timedelta(minutes=12),
        ),
        lambda e: 5 <= e.data["n"] < 12,
    ),
    (EventFilter(types=frozenset({"PromptScreened", "CostCharged"})), lambda e: e.data["n"] >= 9),
    (EventFilter(user_id="bob"), lambda e: e.data["n"] % 3 == 1),
    (EventFilter(department_id="studio"), lambda e: e.data["n"] // 3 % 3 == 1),
    (
        EventFilter(user_id=FORMULA_USER, department_id="marketing", types=frozenset(TYPES[:1])),
        lambda e: e.data["n"] in (2,),
    ),
]


@pytest.mark.parametrize(("wanted", "expected"), FILTERS)
def test_each_filter_selects_exactly_the_events_it_names(
    store: SqliteEventStore,
    clock: Clock,
    seeded: list[Event],
    wanted: EventFilter,
    expected: Callable[[Event], bool],
) -> None:
    exported = list(export_events(access(store, clock), AUDITOR, wanted, command="test"))
    page = feed_page(access(store, clock), AUDITOR, wanted, after=None, limit=1000, route="t")

    matching = [e for e in seeded if expected(e)]
    assert matching
    assert [e for e in exported if e.type != AuditLogRead.TYPE] == matching
    assert [e for e in page.events if e.type != AuditLogRead.TYPE] == matching
    assert page.more is False


def test_times_without_an_offset_are_refused() -> None:
    with pytest.raises(ValueError, match="offset"):
        EventFilter(recorded_from=datetime(2026, 11, 23, 10, 0))


def test_feed_pages_resume_after_their_cursor_and_cover_the_log_once(
    store: SqliteEventStore, clock: Clock, seeded: list[Event]
) -> None:
    wanted = EventFilter(types=frozenset(TYPES))  # not the reads the paging itself records
    seen: list[Event] = []
    after: str | None = None
    pages = 0
    while True:
        page = feed_page(access(store, clock), AUDITOR, wanted, after=after, limit=4, route="t")
        seen.extend(page.events)
        pages += 1
        after = page.after
        if not page.more:
            break

    assert seen == seeded
    assert pages == 7  # six full pages of four, and the last three
    assert len(reads(store)) == pages
    with pytest.raises(InvalidContinuation):
        feed_page(access(store, clock), AUDITOR, wanted, after="x1", limit=4, route="t")
    with pytest.raises(InvalidContinuation):
        feed_page(access(store, clock), AUDITOR, wanted, after=None, limit=1001, route="t")
    assert len(reads(store)) == pages  # refused reads handed nothing out


def test_a_process_records_reads_at_the_head_it_saw_without_reading_the_day(
    store: SqliteEventStore, clock: Clock
) -> None:
    counted = ReadsCounted(store)
    mine = AuditAccess(store=counted, clock=clock, repository=Repository(counted))
    record_read(mine, AUDITOR, {"route": "a"})
    counted.reads.clear()
    record_read(mine, AUDITOR, {"route": "b"})
    assert counted.reads == []
    record_read(access(store, clock), AUDITOR, {"route": "c"})  # another process

    fourth = record_read(mine, AUDITOR, {"route": "d"})  # conflicts, then moves on

    assert fourth.version == 4
    assert counted.reads == [(audit_reads_stream(START.date()), 3)]
    assert [read.what["route"] for read in reads(store)] == ["a", "b", "c", "d"]


def test_only_auditors_and_admins_read_and_a_refusal_is_not_a_read(
    store: SqliteEventStore, clock: Clock, seeded: list[Event]
) -> None:
    log = access(store, clock)
    for role in (Role.COMPLIANCE_AUDITOR, Role.PLATFORM_ADMIN, Role.ORG_ADMIN):
        reader = principal(f"reader-{role.value}", role)
        assert audit_stream(log, reader, "s-0") == store.read_stream("s-0")
    for role in (
        Role.GENERATOR_STANDARD,
        Role.GENERATOR_POWER,
        Role.DEPT_MANAGER,
        Role.FINANCE_READER,
    ):
        outsider = principal("mallory", role, department="marketing")
        with pytest.raises(AccessDenied):
            audit_stream(log, outsider, "s-0")
        with pytest.raises(AccessDenied):
            export_events(log, outsider, EventFilter(), command="test")
        with pytest.raises(AccessDenied):
            feed_page(log, outsider, EventFilter(), after=None, limit=10, route="t")
    assert [read.user_id for read in reads(store)] == [
        "reader-Compliance.Auditor",
        "reader-Platform.Admin",
        "reader-Org.Admin",
    ]


def test_a_read_is_recorded_with_its_reader_before_any_event_leaves(
    store: SqliteEventStore, clock: Clock, seeded: list[Event]
) -> None:
    log = access(store, clock)
    wanted = EventFilter(recorded_from=START, user_id="bob", types=frozenset({"CostCharged"}))

    events = export_events(log, AUDITOR, wanted, command="audit export")  # not iterated yet
    (export,) = reads(store)
    audit_stream(log, AUDITOR, "s-1")
    stream_read = reads(store)[1]

    assert export.user_id == "carol"
    assert export.roles == ("Compliance.Auditor",)
    assert export.what == {
        "command": "audit export",
        "filters": {
            "from": "2026-11-23T10:00:00.000000Z",
            "types": ["CostCharged"],
            "user_id": "bob",
        },
    }
    assert export.count is None
    assert stream_read.what == {"stream_id": "s-1"}
    assert stream_read.count == len(store.read_stream("s-1"))
    recorded = store.read_stream(audit_reads_stream(START.date()))
    assert [event.actor.user_id for event in recorded] == ["carol", "carol"]
    assert [event.version for event in recorded] == [1, 2]
    assert len(list(events)) == 3


def test_json_lines_are_the_envelopes_as_hashed(
    store: SqliteEventStore, clock: Clock, seeded: list[Event]
) -> None:
    out = io.StringIO()
    count = write_jsonl(
        export_events(access(store, clock), AUDITOR, EventFilter(), command="t"), out
    )

    lines = out.getvalue().splitlines()
    assert count == len(lines) == len(seeded) + 1  # and the record of this very export
    for line, original in zip(lines, seeded, strict=False):
        envelope = json.loads(line)
        unhashed = {key: value for key, value in envelope.items() if key != "hash"}
        digest = hashlib.sha256(canonical_json(unhashed).encode()).hexdigest()
        assert digest == envelope["hash"] == original.hash
        assert Event.model_validate(envelope) == original
        assert envelope["data"]["prompt"] == {
            "subject_id": original.actor.user_id,
            "ciphertext": "c2Vj",
        }


def test_csv_has_one_row_per_event_that_parses_back_to_it(
    store: SqliteEventStore, clock: Clock, seeded: list[Event]
) -> None:
    wanted = EventFilter(types=frozenset(TYPES))
    out = io.StringIO(newline="")
    write_csv(export_events(access(store, clock), AUDITOR, wanted, command="t"), out)

    rows = list(csv.DictReader(io.StringIO(out.getvalue(), newline="")))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert len(rows) == len(seeded)
    for row, original in zip(rows, seeded, strict=True):
        event = event_from_csv(row)
        assert event == original
        assert row["hash"] == recompute_hash(event) == original.hash
        assert json.loads(row["data"]) == original.data
    formula_rows = [row for row in rows if row["actor_user_id"].startswith("'")]
    assert {row["actor_user_id"] for row in formula_rows} == {"'" + FORMULA_USER}
    assert all(not row["actor_user_id"].startswith("=") for row in rows)


class CountingLog(Forwarding):
    """The real store, counting what it hands out, to see that an export reads by pages."""

    def __init__(self, store: SqliteEventStore) -> None:
        super().__init__(store)
        self.store = store
        self.handed_out = 0
        self.largest_page = 0

    def read_all(self, after_position: int = 0, limit: int = 1000) -> list[PositionedEvent]:
        page = self.store.read_all(after_position, limit)
        self.handed_out += len(page)
        self.largest_page = max(self.largest_page, len(page))
        return page

    def last_position(self) -> int:
        return self.store.last_position()


class LagCheckingSink(io.TextIOBase):
    """Discards the CSV, checking at every row that the export has read at most one store
    page ahead of what it wrote: held in memory, never the whole log."""

    def __init__(self, log: CountingLog) -> None:
        self.log = log
        self.rows = 0
        self.chars = 0
        self.largest_lead = 0

    def write(self, text: str) -> int:
        self.rows += text.count("\r\n")
        self.chars += len(text)
        self.largest_lead = max(self.largest_lead, self.log.handed_out - self.rows)
        return len(text)


def fill_fifty_thousand(store: SqliteEventStore) -> None:
    actor = Actor(user_id="alice", roles=("Generator.Standard",), department_id="marketing")
    padding = "x" * 200  # about 600 bytes an event as exported
    for stream in range(100):
        news = [
            NewEvent(
                type="Filler",
                data={"n": n, "department_id": "marketing", "pad": padding},
                actor=actor,
                correlation_id=uuid4(),
            )
            for n in range(500)
        ]
        store.append(f"filler-{stream}", 0, news)


def test_an_export_of_50k_events_holds_a_page_at_a_time(
    store: SqliteEventStore, clock: Clock
) -> None:
    fill_fifty_thousand(store)
    log = CountingLog(store)

    counted = AuditAccess(
        store=log, clock=clock, repository=Repository(log), replay=PositionedReplay(log)
    )
    events = export_events(counted, AUDITOR, EventFilter(), command="t")
    assert log.handed_out == 0  # the read is recorded, but nothing is read yet
    sink = LagCheckingSink(log)
    count = write_csv(events, sink)

    assert count == 50_001  # and the export's own record
    assert log.handed_out == 50_001
    assert log.largest_page == SCAN_PAGE
    assert sink.chars > 25_000_000
    assert 0 < sink.largest_lead <= SCAN_PAGE
