"""Audit benchmark: events/s and peak memory of verify, and of a rebuild, as the log grows.

Run: `python -m benchmarks.audit [--events N ...] [--repeats N]` (default 100,000 and
1,000,000 events; about 3 minutes in all, most of it building the 1 M log).

For each size a log is built (the replay benchmark's realistic mix: generation
lifecycles interleaved a few hundred at a time, each reserving against and charging to its
department's budget stream), sealed every 50,000 events, and verified in a fresh process
of its own, so each size's peak RSS is its own: `VmHWM`, the high-water mark of the
process's own memory map (`ru_maxrss` would not do: Linux carries it across `exec`, so a
child started by the process that built the log would report the builder's peak), or the
largest of the processes it forked, if larger (verify splits the chains between one
process per CPU). Beside it, in processes of their own too:

- the read alone: the same query verify runs (SQLite rebuilding each hashed text), no
  hashing: the floor of what verify can cost here (verify also asks the store to place
  the events of streams it no longer remembers, a few hundred per query: see
  `domain/audit.py`);
- SHA-256 alone over the same texts held in memory (the first 100,000): the ceiling of a
  single-core verify in Python;
- the `eventsourcing` library's SQLite recorder reading the same number of events in
  global order with `select_notifications` (no cipher, undecoded): the cheapest full
  read a peer event store offers. It has no hash chain, so there is no peer verify.
- `replay_all` rebuilding the three projections from the same log into a fresh view
  store, split between one process per CPU as `donatello projections rebuild --workers N`
  splits it (so each round starts multiprocessing's fork server too); its peak RSS is
  the largest of its own and its workers' (sampled: see `DescendantsPeak`).

The log is built by chaining the events with `envelope.record` and inserting rows
exactly as `SqliteEventStore` writes them, many per transaction (appending one per commit
would take ten minutes at 1 M); the schema is the store's own.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from uuid import NAMESPACE_URL, uuid5

from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore

from adapters.event_appends import chain
from adapters.fs_seal_store import FsSealStore
from adapters.sqlite_audit_log import SqliteAuditLog
from adapters.sqlite_event_rows import rows_of
from adapters.sqlite_event_store import INSERT as INSERT_EVENT
from adapters.sqlite_record_log import SqliteRecordLog
from adapters.sqlite_views import SqliteViewStore
from benchmarks.replay import LogBuilder
from domain.envelope import GENESIS_HASH, EventText, NewEvent
from projections.runner import replay_all
from services.audit_verify import verify_log
from services.seals import write_seal

SEAL_EVERY = 50_000
HASH_SAMPLE = 100_000
INSERT_BATCH = 20_000


class BulkAppender:
    """`append` as `SqliteEventStore` does it, rows written many per transaction."""

    def __init__(self, path: Path, builder: LogBuilder) -> None:
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA synchronous = OFF")
        self._builder = builder
        self._heads: dict[str, tuple[int, str]] = {}
        self._rows: list[tuple[object, ...]] = []

    def append(self, stream_id: str, expected_version: int, events: Sequence[NewEvent]) -> None:
        version, prev_hash = self._heads.get(stream_id, (0, GENESIS_HASH))
        assert version == expected_version
        recorded_at = self._builder.clock()
        texts = [EventText.of(event) for event in events]
        chained = chain(stream_id, version, prev_hash, events, recorded_at, texts)
        self._rows += rows_of(chained, texts, recorded_at)
        self._heads[stream_id] = (chained[-1].version, chained[-1].hash)
        if len(self._rows) >= INSERT_BATCH:
            self.flush()

    def flush(self) -> None:
        self._db.execute("BEGIN")
        self._db.executemany(INSERT_EVENT, self._rows)
        self._db.execute("COMMIT")
        self._rows = []

    def close(self) -> None:
        self.flush()
        self._db.close()


def build(directory: Path, events: int) -> int:
    """A sealed log of about `events` events in `directory`; its length."""
    builder = LogBuilder(directory / "events.db")  # creates the store's schema
    builder.store.close()
    appender = BulkAppender(directory / "events.db", builder)
    builder.store = appender  # type: ignore[assignment]
    log = SqliteAuditLog(directory / "events.db")
    seals = FsSealStore(directory / "seals")
    while builder.count < events:
        builder.build(min(events, builder.count + SEAL_EVERY))
        appender.flush()
        write_seal(log, seals, builder.clock)
    appender.close()
    length = log.last_position()
    log.close()
    return length


def copy_to_peer(directory: Path) -> None:
    """The same events as `eventsourcing` stored events, in the same global order."""
    datastore = SQLiteDatastore(str(directory / "peer.db"))
    recorder = SQLiteApplicationRecorder(datastore)
    recorder.create_table()
    source = sqlite3.connect(directory / "events.db")
    rows = source.execute("SELECT stream_id, version, type, data FROM events ORDER BY position")
    while batch := rows.fetchmany(INSERT_BATCH):
        recorder.insert_events(
            [
                StoredEvent(
                    originator_id=uuid5(NAMESPACE_URL, stream_id),
                    originator_version=version,
                    topic=type_,
                    state=data.encode(),
                )
                for stream_id, version, type_, data in batch
            ]
        )
    source.close()


# --- what each measuring process runs -------------------------------------------------


def measure_verify(directory: Path) -> dict[str, float]:
    log = SqliteAuditLog(directory / "events.db")
    started = time.perf_counter()
    report = verify_log(log, FsSealStore(directory / "seals"), processes=os.cpu_count() or 1)
    seconds = time.perf_counter() - started
    log.close()
    if not report.ok:
        raise SystemExit(f"the benchmark log does not verify: {report.problems[:3]}")
    return {"events": report.events, "seconds": seconds, "seals": report.seals}


def measure_read(directory: Path) -> dict[str, float]:
    log = SqliteAuditLog(directory / "events.db")
    started = time.perf_counter()
    count = sum(1 for _ in log.links(0, log.last_position()))
    seconds = time.perf_counter() - started
    log.close()
    return {"events": count, "seconds": seconds}


def measure_hash(directory: Path) -> dict[str, float]:
    log = SqliteAuditLog(directory / "events.db")
    links = log.links(0, log.last_position())
    sample = (text for _, _, _, _, text, _ in links if text is not None)
    texts = [text.encode() for _, text in zip(range(HASH_SAMPLE), sample, strict=False)]
    log.close()
    sha256 = hashlib.sha256
    started = time.perf_counter()
    for text in texts:
        sha256(text).hexdigest()
    return {"events": len(texts), "seconds": time.perf_counter() - started}


def measure_peer(directory: Path) -> dict[str, float]:
    recorder = SQLiteApplicationRecorder(SQLiteDatastore(str(directory / "peer.db")))
    started = time.perf_counter()
    count, start = 0, 1
    while notifications := recorder.select_notifications(start, 5000):
        count += len(notifications)
        start = notifications[-1].id + 1
    return {"events": count, "seconds": time.perf_counter() - started}


def measure_replay(directory: Path) -> dict[str, float]:
    log = SqliteRecordLog(directory / "events.db")
    with tempfile.TemporaryDirectory(dir=directory) as fresh:
        views = SqliteViewStore(Path(fresh) / "views.db")
        with DescendantsPeak() as workers:
            started = time.perf_counter()
            events = replay_all(log, views, workers=os.cpu_count() or 1)
            seconds = time.perf_counter() - started
        views.close()
    log.close()
    return {"events": events, "seconds": seconds, "workers_peak_rss_mib": workers.peak_mib}


MEASURES = {
    "verify": measure_verify,
    "read": measure_read,
    "hash": measure_hash,
    "peer": measure_peer,
    "replay": measure_replay,
}


def peak_rss_mib(pid: int | str = "self") -> float:
    """A process's peak resident set since its `exec`, in MiB (Linux `/proc`)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM in /proc/{pid}/status")


class DescendantsPeak:
    """The largest peak resident set among this process's descendants while the block
    runs, in MiB.

    A partitioned replay's workers are forked by multiprocessing's fork server, a child
    this process never reaps, so `getrusage` never counts them. They are found in `/proc`
    by their parents' ids, and their `VmHWM` read every `interval` seconds; as it only
    grows, all that can be missed is a rise in a worker's last `interval` of life.
    """

    def __init__(self, interval: float = 0.05) -> None:
        self._interval = interval
        self._peaks: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> DescendantsPeak:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_mib(self) -> float:
        return max(self._peaks.values(), default=0.0)

    def _sample(self) -> None:
        while True:
            for pid in _descendants(os.getpid()):
                try:
                    peak = peak_rss_mib(pid)
                except (OSError, RuntimeError):  # gone meanwhile, or a zombie
                    continue
                self._peaks[pid] = max(peak, self._peaks.get(pid, 0.0))
            if self._stop.wait(self._interval):
                return


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # The parent id is the field after the state, itself after the `(name)`.
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry.name))
    found, pending = [], list(children.get(root, ()))
    while pending:
        pid = pending.pop()
        found.append(pid)
        pending += children.get(pid, ())
    return found


def workers_peak_rss_mib() -> float:
    """The largest peak resident set of the processes this one forked (verify's parts),
    in MiB: a forked child starts from its parent's high-water mark, so this counts the
    pages it shares with it too."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def in_own_process(what: str, directory: Path) -> dict[str, float]:
    """Runs `what` in a fresh interpreter: its figures and its peak RSS in MiB."""
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.audit", "--measure", what, str(directory)],
        capture_output=True,
        text=True,
        check=True,
    )
    figures: dict[str, float] = json.loads(done.stdout.splitlines()[-1])
    return figures


def best(repeats: int, what: str, directory: Path) -> dict[str, float]:
    runs = [in_own_process(what, directory) for _ in range(repeats)]
    return min(runs, key=lambda run: run["seconds"])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--measure", nargs=2, metavar=("WHAT", "DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        what, directory = args.measure
        figures = MEASURES[what](Path(directory))
        sampled = figures.pop("workers_peak_rss_mib", 0.0)
        figures["peak_rss_mib"] = max(peak_rss_mib(), workers_peak_rss_mib(), sampled)
        print(json.dumps(figures))
        return
    print("| events | what | events/s | seconds | peak RSS MiB |")
    print("|---:|---|---:|---:|---:|")
    for size in args.events:
        with tempfile.TemporaryDirectory() as tmp:
            directory = Path(tmp)
            started = time.perf_counter()
            length = build(directory, size)
            copy_to_peer(directory)
            built = time.perf_counter() - started
            for what, label in (
                ("verify", "verify (chains + seals), ours"),
                ("read", "the read verify runs, no hashing"),
                ("hash", f"SHA-256 alone over {HASH_SAMPLE:,} texts in memory"),
                ("peer", "eventsourcing select_notifications, no cipher"),
                ("replay", f"replay_all into fresh views, {os.cpu_count() or 1} processes"),
            ):
                run = best(args.repeats, what, directory)
                rate = run["events"] / run["seconds"]
                print(
                    f"| {length:,} | {label} | {rate:,.0f} | {run['seconds']:.2f}"
                    f" | {run['peak_rss_mib']:.0f} |"
                )
            size_mib = (directory / "events.db").stat().st_size / 2**20
            print(f"| {length:,} | (built in {built:.0f} s; events.db {size_mib:,.0f} MiB) | | | |")
            shutil.rmtree(directory / "seals", ignore_errors=True)


if __name__ == "__main__":
    main()
