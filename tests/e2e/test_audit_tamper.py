"""Tampering with a copy of a real store: verify names each change exactly, and nothing else.

The store is made through the service layer (generations submitted and run to the end),
sealed twice, with generations before, between and after the seals. Each test copies
`events.db` (SQLite's backup API: the WAL included), drops the append-only triggers on
the copy as someone with file access would, tampers with SQL, and verifies the copy
against the seals.

"Insert a forged event with a recomputed hash" is tested as a forgery put in a real
event's place (the only way into sealed history that keeps versions and positions
consecutive): mid-stream its successor's `prev_hash` exposes it; at a sealed head with
no successor only the seal does. An event appended after the last seal with a correct
chain of its own is indistinguishable from a real append until a seal covers it, and a
seal then vouches for it: seals protect what they cover (see domain/audit.py).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from adapters.fs_seal_store import FsSealStore
from adapters.sqlite_audit_log import SqliteAuditLog
from bootstrap import build_platform
from domain.access import Principal, Role
from domain.audit import SEALS_STREAM, ProblemKind
from domain.envelope import canonical_json, event_hash, hashed_fields, utc_now
from domain.generation import Status
from domain.seals import Seal
from services.audit_verify import AuditReport, ChainPart, SealLinker, verify_log
from services.generations import GenerationRequest, submit_generation
from services.pipeline import advance_generation
from services.seals import write_seal
from services.settings import Settings

MODIFIED, MISSING = ProblemKind.MODIFIED, ProblemKind.MISSING
INSERTED, REORDERED = ProblemKind.INSERTED, ProblemKind.REORDERED
SPLIT_STRIDE = 1  # every position: a split next to the tampered event is the one that matters
COLUMNS = (
    "position, event_id, stream_id, version, type, schema_version, recorded_at,"
    " correlation_id, causation_id, actor, data, prev_hash, hash"
)


@dataclass(frozen=True)
class Sealed:
    data_dir: Path
    seals: tuple[Seal, Seal]
    events: int


def generate(settings: Settings, count: int, start: int) -> None:
    platform = build_platform(settings)
    for n in range(start, start + count):
        user = Principal(
            user_id=f"user-{n % 5}",
            roles=frozenset({Role.GENERATOR_STANDARD}),
            department_id=("marketing", "legal")[n % 2],
            tenant_id=None,
        )
        request = GenerationRequest(prompt=f"a lighthouse at dusk, study {n}")
        submitted = submit_generation(platform, user, request, None)
        assert advance_generation(platform, submitted.generation_id).status is Status.CHARGED


@pytest.fixture(scope="module")
def sealed(tmp_path_factory: pytest.TempPathFactory) -> Sealed:
    data_dir = tmp_path_factory.mktemp("audit")
    settings = Settings(data_dir=data_dir, provider_backoff_seconds=(0.0,))
    log = SqliteAuditLog(data_dir / "events.db")
    store = FsSealStore(data_dir / "seals")
    generate(settings, 24, 0)
    first = write_seal(log, store, utc_now)
    generate(settings, 8, 24)
    second = write_seal(log, store, utc_now)
    generate(settings, 4, 32)  # an unsealed stretch
    assert first is not None
    assert second is not None
    events = log.last_position()
    log.close()
    return Sealed(data_dir, (first, second), events)


@pytest.fixture
def copy(sealed: Sealed, tmp_path: Path) -> Iterator[sqlite3.Connection]:
    """A writable copy of the sealed store, its append-only triggers dropped."""
    with sqlite3.connect(sealed.data_dir / "events.db") as source:
        target = sqlite3.connect(tmp_path / "events.db", isolation_level=None)
        source.backup(target)
    target.execute("DROP TRIGGER events_are_never_updated")
    target.execute("DROP TRIGGER events_are_never_deleted")
    yield target
    target.close()


def verify(sealed: Sealed, tmp_path: Path, since: int | None = None) -> AuditReport:
    """The report of one pass; each verify split in two finds what the one pass finds."""
    log = SqliteAuditLog(tmp_path / "events.db")
    try:
        report = verify_log(log, FsSealStore(sealed.data_dir / "seals"), since=since)
        assert_any_split_finds_the_same(log, report, sealed)
        return report
    finally:
        log.close()


def assert_any_split_finds_the_same(
    log: SqliteAuditLog, report: AuditReport, sealed: Sealed
) -> None:
    start, end = report.from_position, report.up_to_position
    link_of = None
    if report.since_seal is not None:
        heads = sealed.seals[report.since_seal - 1].heads
        link_of = SealLinker(log, {head.stream_id: head for head in heads})
    whole = ChainPart(log, start, start, end, end, link_of).check()
    assert whole.events == report.events
    assert whole.streams == report.streams
    for boundary in range(start + 1, end, SPLIT_STRIDE):
        parts = [
            ChainPart(log, start, start, boundary, end, link_of).check(),
            ChainPart(log, start, boundary, end, end, link_of).check(),
        ]
        assert {p for part in parts for p in part.problems} == set(whole.problems), boundary
        assert sum(part.events for part in parts) == whole.events
        if not whole.problems:  # a tampered stream may count twice, as a stream restarting
            assert sum(part.streams for part in parts) == whole.streams, boundary


def found(report: AuditReport) -> list[tuple[str, int, ProblemKind]]:
    return sorted((p.stream_id, p.version, p.kind) for p in report.problems)


def a_sealed_stream(db: sqlite3.Connection, sealed: Sealed) -> str:
    """A generation stream of at least three events, all before the first seal."""
    rows = db.execute(
        "SELECT stream_id FROM events WHERE stream_id LIKE 'generation-%' GROUP BY stream_id"
        " HAVING COUNT(*) >= 3 AND MAX(position) <= ? ORDER BY MIN(position) LIMIT 1",
        (sealed.seals[0].position,),
    ).fetchone()
    assert rows is not None
    return str(rows[0])


def row(db: sqlite3.Connection, stream_id: str, version: int) -> sqlite3.Row:
    db.row_factory = sqlite3.Row
    found_row: sqlite3.Row | None = db.execute(
        f"SELECT {COLUMNS} FROM events WHERE stream_id = ? AND version = ?",
        (stream_id, version),
    ).fetchone()
    db.row_factory = None
    assert found_row is not None
    return found_row


def last_version(db: sqlite3.Connection, stream_id: str) -> int:
    (version,) = db.execute(
        "SELECT MAX(version) FROM events WHERE stream_id = ?", (stream_id,)
    ).fetchone()
    return int(version)


def forge_in_place(db: sqlite3.Connection, stream_id: str, version: int) -> None:
    """Replace the event with a forgery: other data, its hash recomputed, same place."""
    real = row(db, stream_id, version)
    data = {**json.loads(real["data"]), "forged": True}
    fields = hashed_fields(
        event_id=real["event_id"],
        stream_id=stream_id,
        version=version,
        type=real["type"],
        schema_version=real["schema_version"],
        recorded_at=datetime.fromisoformat(real["recorded_at"]),
        correlation_id=real["correlation_id"],
        causation_id=real["causation_id"],
        actor=json.loads(real["actor"]),
        data=data,
        prev_hash=real["prev_hash"],
    )
    values = {**dict(real), "data": canonical_json(data), "hash": event_hash(fields)}
    db.execute("DELETE FROM events WHERE position = ?", (real["position"],))
    db.execute(
        f"INSERT INTO events ({COLUMNS}) VALUES ({', '.join('?' * len(values))})",
        list(values.values()),
    )


def swap(db: sqlite3.Connection, stream_id: str, version: int) -> None:
    """Events v and v + 1 trade places in global order."""
    first, second = (
        row(db, stream_id, version)["position"],
        row(db, stream_id, version + 1)["position"],
    )
    for old, new in ((first, -1), (second, first), (-1, second)):
        db.execute("UPDATE events SET position = ? WHERE position = ?", (new, old))


def across(db: sqlite3.Connection, position: int) -> tuple[str, int]:
    """A stream's (stream_id, v): v at or before `position`, v + 1 and v + 2 after it."""
    found_row = db.execute(
        "SELECT a.stream_id, a.version FROM events a"
        " JOIN events b ON b.stream_id = a.stream_id AND b.version = a.version + 1"
        " JOIN events c ON c.stream_id = a.stream_id AND c.version = a.version + 2"
        " WHERE a.position <= ? AND b.position > ? ORDER BY a.position LIMIT 1",
        (position, position),
    ).fetchone()
    assert found_row is not None
    return str(found_row[0]), int(found_row[1])


# --- the untouched store ---------------------------------------------------------------


def test_the_untouched_store_verifies(
    sealed: Sealed, copy: sqlite3.Connection, tmp_path: Path
) -> None:
    report = verify(sealed, tmp_path)
    assert found(report) == []
    assert (report.events, report.seals, report.complete) == (sealed.events, 2, True)
    assert report.streams > 36  # every generation's stream, budgets, quotas, providers


def test_since_a_seal_verifies_only_what_follows_it(
    sealed: Sealed, copy: sqlite3.Connection, tmp_path: Path
) -> None:
    report = verify(sealed, tmp_path, since=2)
    assert found(report) == []
    assert report.events == sealed.events - sealed.seals[1].position
    assert report.seals == 1
    stream_id = str(
        copy.execute("SELECT stream_id FROM events ORDER BY position DESC LIMIT 1").fetchone()[0]
    )
    version = last_version(copy, stream_id)
    copy.execute(
        "UPDATE events SET data = replace(data, '\"', '''') WHERE stream_id = ? AND version = ?",
        (stream_id, version),
    )
    assert found(verify(sealed, tmp_path, since=2)) == [(stream_id, version, MODIFIED)]


# --- the five tamperings ---------------------------------------------------------------


def test_one_byte_changed_in_one_events_data_is_modified(
    sealed: Sealed, copy: sqlite3.Connection, tmp_path: Path
) -> None:
    stream_id = a_sealed_stream(copy, sealed)
    data = row(copy, stream_id, 2)["data"]
    at = data.index('":"') + 3  # the first character of the first string value
    changed = data[:at] + ("X" if data[at] != "X" else "Y") + data[at + 1 :]
    copy.execute(
        "UPDATE events SET data = ? WHERE stream_id = ? AND version = 2", (changed, stream_id)
    )
    assert found(verify(sealed, tmp_path)) == [(stream_id, 2, MODIFIED)]


def test_a_deleted_event_is_missing(
    sealed: Sealed, copy: sqlite3.Connection, tmp_path: Path
) -> None:
    stream_id = a_sealed_stream(copy, sealed)
    copy.execute("DELETE FROM events WHERE stream_id = ? AND version = 2", (stream_id,))
    assert found(verify(sealed, tmp_path)) == [(stream_id, 2, MISSING)]


def test_a_streams_tail_deleted_after_a_seal_is_missing_up_to_the_sealed_head(
    sealed: Sealed, copy: sqlite3.Connection, tmp_path: Path
) -> None:
    stream_id = a_sealed_stream(copy, sealed)
    head = last_version(copy, stream_id)
    copy.execute("DELETE FROM events WHERE stream_id = ? AND version >= ?", (stream_id, head - 1))
    assert found(verify(sealed, tmp_path)) == [
        (stream_id, head - 1, MISSING),
        (stream_id, head, MISSING),
    ]


def test_a_forged_event_with_a_recomputed_hash_mid_stream_is_inserted(
    sealed: Sealed, copy: sqlite3.Connection, tmp_path: Path
) -> None:
    stream_id = a_sealed_stream(copy, sealed)
    forge_in_place(copy, stream_id, 2)
    assert found(verify(sealed, tmp_path)) == [(stream_id, 2, INSERTED)]


def test_a_forged_sealed_head_with_a_chain_of_its_own_is_caught_by_the_seal(
    sealed: Sealed, copy: sqlite3.Connection, tmp_path: Path
) -> None:
    stream_id = a_sealed_stream(copy, sealed)
    head = last_version(copy, stream_id)
    forge_in_place(copy, stream_id, head)  # links to its real predecessor; no successor
    report = verify(sealed, tmp_path)
    assert found(report) == [(stream_id, head, INSERTED)]
    assert report.problems[0].detail == "sealed in 1"


def test_two_swapped_events_are_reordered(
    sealed: Sealed, copy: sqlite3.Connection, tmp_path: Path
) -> None:
    stream_id = a_sealed_stream(copy, sealed)
    swap(copy, stream_id, 2)
    assert found(verify(sealed, tmp_path)) == [(stream_id, 2, REORDERED)]


def test_since_a_seal_an_event_moved_across_it_is_reordered(
    sealed: Sealed, copy: sqlite3.Connection, tmp_path: Path
) -> None:
    stream_id, version = across(copy, sealed.seals[1].position)
    swap(copy, stream_id, version)  # v now follows the seal, v + 1 precedes it
    assert found(verify(sealed, tmp_path, since=2)) == [(stream_id, version, REORDERED)]
    assert found(verify(sealed, tmp_path)) == [(stream_id, version, REORDERED)]


def test_since_a_seal_a_deleted_event_just_after_it_is_missing(
    sealed: Sealed, copy: sqlite3.Connection, tmp_path: Path
) -> None:
    stream_id, version = across(copy, sealed.seals[1].position)
    copy.execute("DELETE FROM events WHERE stream_id = ? AND version = ?", (stream_id, version + 1))
    assert found(verify(sealed, tmp_path, since=2)) == [(stream_id, version + 1, MISSING)]


def test_a_changed_seal_is_a_seal_mismatch(
    sealed: Sealed, copy: sqlite3.Connection, tmp_path: Path
) -> None:
    seals = tmp_path / "seals"
    shutil.copytree(sealed.data_dir / "seals", seals)
    path = seals / "000000000001.json"
    path.chmod(0o600)
    path.write_text(path.read_text().replace('"version":2', '"version":3', 1))
    log = SqliteAuditLog(tmp_path / "events.db")
    report = verify_log(log, FsSealStore(seals))
    log.close()
    assert found(report) == [(SEALS_STREAM, 1, ProblemKind.SEAL_MISMATCH)]


# Run in a process of its own: the test process has other tests' threads, and a verify
# in processes forks only from a single-threaded one. The store is small, so the split is
# forced by lowering the threshold.
SPLIT_VERIFY = """
import json, sys
from pathlib import Path
from adapters.fs_seal_store import FsSealStore
from adapters.sqlite_audit_log import SqliteAuditLog
from services import audit_verify
audit_verify.MIN_EVENTS_PER_PROCESS = 1
log = SqliteAuditLog(sys.argv[1])
report = audit_verify.verify_log(log, FsSealStore(Path(sys.argv[2])), processes=3)
print(json.dumps(report.as_json()))
"""


def verify_in_processes(sealed: Sealed, tmp_path: Path) -> dict[str, Any]:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            SPLIT_VERIFY,
            str(tmp_path / "events.db"),
            str(sealed.data_dir / "seals"),
        ],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        check=True,
        timeout=120,
    )
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def test_a_verify_split_between_processes_reports_what_one_pass_does(
    sealed: Sealed, copy: sqlite3.Connection, tmp_path: Path
) -> None:
    def summary(report: dict[str, Any]) -> tuple[object, ...]:
        found = sorted((p["stream_id"], p["version"], p["kind"]) for p in report["problems"])
        return report["ok"], report["events"], report["streams"], report["seals"], found

    clean = verify(sealed, tmp_path).as_json()
    assert summary(verify_in_processes(sealed, tmp_path)) == summary(clean)
    stream_id = a_sealed_stream(copy, sealed)
    swap(copy, stream_id, 2)
    forge_in_place(copy, stream_id, last_version(copy, stream_id))
    split = verify_in_processes(sealed, tmp_path)
    assert summary(split)[4] == summary(verify(sealed, tmp_path).as_json())[4]
    assert summary(split)[4] == sorted(
        [
            (stream_id, 2, REORDERED.value),
            (stream_id, last_version(copy, stream_id), INSERTED.value),
        ]
    )


def test_a_verify_in_processes_refuses_to_fork_a_threaded_process(
    sealed: Sealed, tmp_path: Path
) -> None:
    log = SqliteAuditLog(sealed.data_dir / "events.db")
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        with pytest.raises(RuntimeError, match="single-threaded"):
            verify_log(log, FsSealStore(sealed.data_dir / "seals"), processes=2)
    finally:
        release.set()
        other.join()
        log.close()


# --- the command -----------------------------------------------------------------------


def run_cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "devhost.cli", "audit", "verify", *args],
        capture_output=True,
        text=True,
        env={"DONATELLO_DATA_DIR": str(data_dir), "PATH": "/usr/bin:/bin"},
        cwd=Path(__file__).resolve().parents[2],
        check=False,
        timeout=120,
    )


def test_the_command_prints_a_line_per_problem_and_fails(
    sealed: Sealed, copy: sqlite3.Connection, tmp_path: Path
) -> None:
    shutil.copytree(sealed.data_dir / "seals", tmp_path / "seals")
    clean = run_cli(tmp_path)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert clean.stdout.startswith(f"ok: {sealed.events} events in ")
    stream_id = a_sealed_stream(copy, sealed)
    copy.execute("DELETE FROM events WHERE stream_id = ? AND version = 2", (stream_id,))
    tampered = run_cli(tmp_path)
    assert tampered.returncode == 1
    assert tampered.stdout.splitlines()[0] == f"missing {stream_id} v2"
    assert tampered.stdout.splitlines()[1].startswith("1 problem(s): ")
    assert run_cli(tmp_path, "--since", "9").returncode == 2
