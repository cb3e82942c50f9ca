"""Event store benchmark: our SQLite store beside the `eventsourcing` library's.

Run: `python -m benchmarks.event_store [--events N] [--streams N] [--repeats N]`.

Every figure is measured on this machine in this run, once with `synchronous=FULL` and
once with `synchronous=NORMAL` (both stores in WAL mode), and each row names what the
two sides do. The peer's SQLite persistence opens its connections in
`SQLiteConnectionPool._create_connection` with SQLite's default `synchronous` (FULL);
for NORMAL we swap its datastore's pool for `_NormalSyncPool`, which runs
`PRAGMA synchronous = NORMAL` on every connection it creates. Both sides' setting is read
back from their connections and checked before any figure is printed.

Sections are the `SECTIONS` list: a new benchmark (e.g. replay into projections) is a
function `(workdir, durability, workload) -> list[Result]` added there.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any, Literal, cast
from uuid import UUID, uuid4

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import ApplicationRecorder, StoredEvent
from eventsourcing.sqlite import (
    SQLiteApplicationRecorder,
    SQLiteConnection,
    SQLiteConnectionPool,
    SQLiteDatastore,
    SQLiteFactory,
)
from eventsourcing.utils import EnvType

from adapters.event_appends import chain
from adapters.sqlite_event_rows import rows_of
from adapters.sqlite_event_store import INSERT as INSERT_EVENT
from adapters.sqlite_event_store import SCHEMA, SqliteEventStore
from domain.envelope import GENESIS_HASH, Actor, EventText, NewEvent, utc_now

Durability = Literal["FULL", "NORMAL"]
DURABILITIES: tuple[Durability, ...] = ("FULL", "NORMAL")
_PRAGMA_VALUE = {"FULL": 2, "NORMAL": 1}
STREAM_LENGTH = 10
PAGE = 1000  # events per read in global order, as a catch-up reader pages
WRITERS = 8  # concurrent appenders: HTTP requests and queue workers of one host at once
# Rows whose "ours" is not our store: the bound no store can pass, set beside the peer
CEILING = "append ceiling"

REQUESTER = Actor(user_id="user-7", roles=("Generator.Standard",), department_id="dept-ops")
PAYLOAD = {"model_id": "gpt-image-1", "cost_aud": "0.040", "step": "routed"}


@dataclass(frozen=True, slots=True)
class Workload:
    events: int  # appended per timed round, in streams of STREAM_LENGTH
    streams: int  # loaded per timed round
    repeats: int  # timed rounds; the best one counts, as the least disturbed by others

    @property
    def appended_streams(self) -> int:
        return max(1, self.events // STREAM_LENGTH)


@dataclass(frozen=True, slots=True)
class Result:
    name: str
    unit: str
    ours: float
    peer: float | None  # None where no peer does the same work


Benchmark = Callable[[Path, Durability, Workload], list[Result]]


# --- the peer, set to the same durability --------------------------------------------


class _NormalSyncPool(SQLiteConnectionPool):
    def _create_connection(self) -> SQLiteConnection:
        connection = super()._create_connection()
        connection._sqlite_conn.execute("PRAGMA synchronous = NORMAL")
        return connection


def _set_durability(datastore: SQLiteDatastore, durability: Durability) -> SQLiteDatastore:
    if durability == "NORMAL":  # before any connection exists; FULL is SQLite's default
        pool = datastore.pool
        datastore.pool = _NormalSyncPool(db_name=pool.db_name, lock_timeout=pool.lock_timeout)
    return datastore


class NormalSyncSQLiteFactory(SQLiteFactory):
    """eventsourcing's SQLite persistence with `synchronous = NORMAL` connections."""

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        _set_durability(self.datastore, "NORMAL")


class Generation(Aggregate):
    """The peer's aggregate: one event per pipeline step, like our generation stream."""

    def __init__(self, model_id: str) -> None:
        self.steps: list[str] = []

    @event("Advanced")
    def advance(self, model_id: str, cost_aud: str, step: str) -> None:
        self.steps.append(step)


def _peer_application(db: Path, durability: Durability) -> Application[UUID]:
    module = "eventsourcing.sqlite"
    if durability == "NORMAL":
        module = f"{__name__}:{NormalSyncSQLiteFactory.__qualname__}"
    env: EnvType = {"PERSISTENCE_MODULE": module, "SQLITE_DBNAME": str(db)}
    return Application[UUID](env=env)


def _peer_recorder(db: Path, durability: Durability) -> SQLiteApplicationRecorder:
    recorder = SQLiteApplicationRecorder(_set_durability(SQLiteDatastore(str(db)), durability))
    recorder.create_table()
    return recorder


def _check_peer(datastore: SQLiteDatastore, durability: Durability) -> None:
    with datastore.get_connection(commit=False) as connection:
        _check(connection._sqlite_conn, durability, "eventsourcing")


def _check_ours(store: SqliteEventStore, durability: Durability) -> None:
    _check(store._connection(), durability, "ours")


def _check(connection: sqlite3.Connection, durability: Durability, who: str) -> None:
    (journal,) = connection.execute("PRAGMA journal_mode").fetchone()
    (synchronous,) = connection.execute("PRAGMA synchronous").fetchone()
    if (journal, synchronous) != ("wal", _PRAGMA_VALUE[durability]):
        raise RuntimeError(f"{who}: journal {journal}, synchronous {synchronous}")


# --- timing ------------------------------------------------------------------------


def _best_rate(workload: Workload, count: int, round_: Callable[[int], None]) -> float:
    """`count` operations per round; `round_(n)` runs round n. Best rate over the rounds."""
    best = float("inf")
    for n in range(workload.repeats):
        started = time.perf_counter()
        round_(n)
        best = min(best, time.perf_counter() - started)
    return count / best


def _new_event() -> NewEvent:
    return NewEvent(
        type="GenerationAdvanced", data=PAYLOAD, actor=REQUESTER, correlation_id=uuid4()
    )


@contextmanager
def _ours(workdir: Path, name: str, durability: Durability) -> Iterator[SqliteEventStore]:
    store = SqliteEventStore(workdir / f"{name}.db", synchronous=durability)
    _check_ours(store, durability)
    try:
        yield store
    finally:
        store.close()


# --- (a) appends, one transaction per event ------------------------------------------


def bench_append(workdir: Path, durability: Durability, workload: Workload) -> list[Result]:
    streams = workload.appended_streams
    count = streams * STREAM_LENGTH

    with _ours(workdir, "ours-app", durability) as store:

        def ours_application(round_: int) -> None:
            for s in range(streams):
                stream = f"gen-{round_}-{s}"
                for version in range(STREAM_LENGTH):  # a decider builds each NewEvent
                    store.append(stream, version, [_new_event()])

        ours_app = _best_rate(workload, count, ours_application)

    app = _peer_application(workdir / "peer-app.db", durability)
    _check_peer(cast(SQLiteFactory, app.factory).datastore, durability)

    def peer_application(_: int) -> None:
        for _ in range(streams):
            generation = Generation(PAYLOAD["model_id"])
            app.save(generation)
            for _ in range(STREAM_LENGTH - 1):
                generation.advance(**PAYLOAD)
                app.save(generation)

    peer_app = _best_rate(workload, count, peer_application)
    app.close()

    with _ours(workdir, "ours-rec", durability) as store:
        prepared = [[_new_event() for _ in range(count)] for _ in range(workload.repeats)]

        def ours_recorder(round_: int) -> None:
            events = iter(prepared[round_])
            for s in range(streams):
                stream = f"gen-{round_}-{s}"
                for version in range(STREAM_LENGTH):
                    store.append(stream, version, [next(events)])

        ours_rec = _best_rate(workload, count, ours_recorder)

    recorder = _peer_recorder(workdir / "peer-rec.db", durability)
    _check_peer(recorder.datastore, durability)
    stored = [_stored_events(streams) for _ in range(workload.repeats)]

    def peer_recorder(round_: int) -> None:
        for stored_event in stored[round_]:
            recorder.insert_events([stored_event])

    peer_rec = _best_rate(workload, count, peer_recorder)
    recorder.datastore.close()

    floor = _bare_sqlite_rate(workdir / "bare.db", durability, workload, count)
    keyed, keyed_built = _keyed_sqlite_rates(workdir / "keyed.db", durability, workload, streams)
    return [
        Result(
            "append, app: append(NewEvent built per call) vs save(Aggregate)",
            "events/s",
            ours_app,
            peer_app,
        ),
        Result(
            "append, recorder: append(prebuilt NewEvent) vs insert_events",
            "events/s",
            ours_rec,
            peer_rec,
        ),
        Result(f"{CEILING}: bare SQLite vs save(Aggregate)", "events/s", floor, peer_app),
        Result(f"{CEILING}: bare SQLite vs insert_events", "events/s", floor, peer_rec),
        Result(
            f"{CEILING}, our keys: prebuilt row vs save(Aggregate)", "events/s", keyed, peer_app
        ),
        Result(
            f"{CEILING}, our keys: row built per event vs save(Aggregate)",
            "events/s",
            keyed_built,
            peer_app,
        ),
    ]


def _bare_sqlite_rate(db: Path, durability: Durability, workload: Workload, count: int) -> float:
    """One-row `INSERT` + `COMMIT` into a table with no index but its rowid: the least work
    one durable event can cost in SQLite here, so no store's rate at one transaction per
    event (ours, the peer's, any) exceeds this one's at the same durability."""
    connection = _sqlite(db, durability, "bare SQLite")
    connection.execute("CREATE TABLE events (payload BLOB NOT NULL)")
    payload = json.dumps(PAYLOAD).encode()

    def round_(_: int) -> None:
        for _ in range(count):
            connection.execute("BEGIN")
            connection.execute("INSERT INTO events (payload) VALUES (?)", (payload,))
            connection.execute("COMMIT")

    rate = _best_rate(workload, count, round_)
    connection.close()
    return rate


def _sqlite(db: Path, durability: Durability, who: str) -> sqlite3.Connection:
    connection = sqlite3.connect(db, isolation_level=None)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute(f"PRAGMA synchronous = {durability}")
    _check(connection, durability, who)
    return connection


def _keyed_sqlite_rates(
    db: Path, durability: Durability, workload: Workload, streams: int
) -> tuple[float, float]:
    """Appends to our store's table without our store: each event one `INSERT` in its own
    `BEGIN IMMEDIATE` ... `COMMIT`. The table has the unique keys of the `EventStore`
    contract (global position, `(stream_id, version)` for the expected version, `event_id`
    for idempotent appends), so no store keeping them in SQLite appends faster.

    Two rates: of rows built beforehand (SQLite's part alone), and of rows built per event
    as any append of ours must (the `NewEvent` built, enveloped, chained after the head
    held in memory, hashed). Neither reads the head nor groups commits."""
    connection = _sqlite(db, durability, "keyed SQLite")
    connection.executescript(SCHEMA)
    prebuilt = [_chained_rows(f"prebuilt-{n}", streams) for n in range(workload.repeats)]

    def insert(row: tuple[Any, ...]) -> None:
        connection.execute("BEGIN IMMEDIATE")
        connection.execute(INSERT_EVENT, row)
        connection.execute("COMMIT")

    def prebuilt_round(n: int) -> None:
        for row in prebuilt[n]:
            insert(row)

    def built_round(n: int) -> None:
        for s in range(streams):
            stream, version, prev_hash = f"built-{n}-{s}", 0, GENESIS_HASH
            for _ in range(STREAM_LENGTH):
                new, recorded_at = _new_event(), utc_now()
                text = EventText.of(new)
                [event] = chain(stream, version, prev_hash, [new], recorded_at, [text])
                insert(rows_of([event], [text], recorded_at)[0])
                version, prev_hash = event.version, event.hash

    count = streams * STREAM_LENGTH
    rates = _best_rate(workload, count, prebuilt_round), _best_rate(workload, count, built_round)
    connection.close()
    return rates


def _chained_rows(prefix: str, streams: int) -> list[tuple[Any, ...]]:
    """The rows our store writes for `streams` streams of STREAM_LENGTH events."""
    recorded_at = utc_now()
    rows = []
    for s in range(streams):
        events = [_new_event() for _ in range(STREAM_LENGTH)]
        texts = [EventText.of(event) for event in events]
        chained = chain(f"{prefix}-{s}", 0, GENESIS_HASH, events, recorded_at, texts)
        rows += rows_of(chained, texts, recorded_at)
    return rows


def _stored_events(streams: int) -> list[StoredEvent]:
    """`streams` streams of STREAM_LENGTH events, stream after stream."""
    state = json.dumps(PAYLOAD).encode()
    return [
        StoredEvent(originator, version, "benchmarks:Generation.Advanced", state)
        for originator in (uuid4() for _ in range(streams))
        for version in range(1, STREAM_LENGTH + 1)
    ]


# --- (a') appends from concurrent writers, one append per event ------------------------


def bench_concurrent_append(
    workdir: Path, durability: Durability, workload: Workload
) -> list[Result]:
    """WRITERS threads append at once, each to its own streams, one event per call.

    This is the host's shape: queue workers and HTTP handlers appending side by side.
    Ours groups the appends that arrive during a commit into the next one (each in its
    own savepoint, each acknowledged only once durable); the peer serialises its writers
    on a lock, one transaction each.
    """
    streams = max(WRITERS, workload.appended_streams) // WRITERS
    count = WRITERS * streams * STREAM_LENGTH

    with _ours(workdir, "ours-concurrent", durability) as store:
        prepared = [
            [[_new_event() for _ in range(streams * STREAM_LENGTH)] for _ in range(WRITERS)]
            for _ in range(workload.repeats)
        ]

        def ours_writer(round_: int, writer: int) -> None:
            events = iter(prepared[round_][writer])
            for s in range(streams):
                stream = f"gen-{round_}-{writer}-{s}"
                for version in range(STREAM_LENGTH):
                    store.append(stream, version, [next(events)])

        commits_before = store.commits
        ours = _best_rate(workload, count, _in_threads(ours_writer))
        per_commit = count * workload.repeats / (store.commits - commits_before)

    recorder = _peer_recorder(workdir / "peer-concurrent.db", durability)
    _check_peer(recorder.datastore, durability)
    stored = [[_stored_events(streams) for _ in range(WRITERS)] for _ in range(workload.repeats)]

    def peer_writer(round_: int, writer: int) -> None:
        for stored_event in stored[round_][writer]:
            recorder.insert_events([stored_event])

    peer = _best_rate(workload, count, _in_threads(peer_writer))
    recorder.datastore.close()
    return [
        Result(
            f"append, {WRITERS} writers: append(prebuilt NewEvent) vs insert_events",
            "events/s",
            ours,
            peer,
        ),
        Result(f"append, {WRITERS} writers: events per commit (ours)", "events", per_commit, None),
    ]


def _in_threads(writer: Callable[[int, int], None]) -> Callable[[int], None]:
    """A round that runs `writer(round, n)` in WRITERS threads started together."""

    def round_(round_number: int) -> None:
        failures: list[BaseException] = []

        def run(n: int) -> None:
            try:
                writer(round_number, n)
            except BaseException as failure:  # re-raised below, in the timing thread
                failures.append(failure)

        threads = [threading.Thread(target=run, args=(n,)) for n in range(WRITERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if failures:
            raise failures[0]

    return round_


# --- (b) streams loaded --------------------------------------------------------------


def bench_reads(workdir: Path, durability: Durability, workload: Workload) -> list[Result]:
    """Both sides hold `workload.streams` streams of STREAM_LENGTH events."""
    count = workload.streams
    total = count * STREAM_LENGTH

    with _ours(workdir, "ours-reads", durability) as store:
        streams = [f"gen-{i}" for i in range(count)]
        for stream in streams:
            store.append(stream, 0, [_new_event() for _ in range(STREAM_LENGTH)])

        def ours_load(_: int) -> None:
            for stream in streams:
                _expect(len(store.read_stream(stream)), STREAM_LENGTH)

        def ours_scan(_: int) -> None:
            position = read = 0
            while page := store.read_all(position, PAGE):
                position = page[-1].position
                read += len(page)
            _expect(read, total)

        ours = _best_rate(workload, count, ours_load)
        ours_all = _best_rate(workload, total, ours_scan)

    app = _peer_application(workdir / "peer-app-reads.db", durability)
    _check_peer(cast(SQLiteFactory, app.factory).datastore, durability)
    aggregate_ids = []
    for _ in range(count):
        generation = Generation(PAYLOAD["model_id"])
        for _ in range(STREAM_LENGTH - 1):
            generation.advance(**PAYLOAD)
        app.save(generation)
        aggregate_ids.append(generation.id)

    def peer_get(_: int) -> None:
        for aggregate_id in aggregate_ids:
            _expect(app.repository.get(aggregate_id).version, STREAM_LENGTH)

    def peer_app_scan(_: int) -> None:
        _expect(_scan_notifications(app.recorder, app.mapper.to_domain_event), total)

    peer_app = _best_rate(workload, count, peer_get)
    peer_app_all = _best_rate(workload, total, peer_app_scan)
    app.close()

    recorder = _peer_recorder(workdir / "peer-rec-reads.db", durability)
    _check_peer(recorder.datastore, durability)
    stored = _stored_events(count)
    for start in range(0, len(stored), STREAM_LENGTH):
        recorder.insert_events(stored[start : start + STREAM_LENGTH])
    originators = [s.originator_id for s in stored[::STREAM_LENGTH]]

    def peer_select(_: int) -> None:
        for originator_id in originators:
            _expect(len(recorder.select_events(originator_id)), STREAM_LENGTH)

    def peer_rec_scan(_: int) -> None:
        _expect(_scan_notifications(recorder, lambda notification: notification), total)

    peer_rec = _best_rate(workload, count, peer_select)
    peer_rec_all = _best_rate(workload, total, peer_rec_scan)
    recorder.datastore.close()

    return [
        Result("load stream, app: read_stream vs repository.get", "streams/s", ours, peer_app),
        Result("load stream, recorder: read_stream vs select_events", "streams/s", ours, peer_rec),
        Result(
            "global order, app: read_all vs notifications+to_domain_event",
            "events/s",
            ours_all,
            peer_app_all,
        ),
        Result(
            "global order, recorder: read_all vs select_notifications",
            "events/s",
            ours_all,
            peer_rec_all,
        ),
    ]


def _scan_notifications(recorder: ApplicationRecorder, decode: Callable[[Any], object]) -> int:
    start, read = 1, 0
    while notifications := recorder.select_notifications(start, PAGE):
        for notification in notifications:
            decode(notification)
        start = notifications[-1].id + 1
        read += len(notifications)
    return read


def _expect(actual: int, expected: int) -> None:
    if actual != expected:  # a benchmark that read the wrong thing measures nothing
        raise RuntimeError(f"read {actual}, expected {expected}")


SECTIONS: list[Benchmark] = [bench_append, bench_concurrent_append, bench_reads]


# --- report --------------------------------------------------------------------------


def _figure(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.1f}" if value < 100 else f"{value:,.0f}"


def _ratio(result: Result) -> str:
    return "—" if result.peer is None else f"{result.ours / result.peer:.2f}x"


def report(measured: dict[Durability, list[Result]]) -> str:
    width = max(len(r.name) for r in measured["FULL"])
    header = f"{'':{width}} {'unit':>9}"
    for durability in DURABILITIES:
        header += f" | {durability + ' ours':>12} {'peer':>9} {'ratio':>7}"
    lines = [header, "-" * len(header)]
    for i, result in enumerate(measured["FULL"]):
        line = f"{result.name:{width}} {result.unit:>9}"
        for durability in DURABILITIES:
            same = measured[durability][i]
            line += f" | {_figure(same.ours):>12} {_figure(same.peer):>9} {_ratio(same):>7}"
        lines.append(line)
    return "\n".join(lines)


def run(workload: Workload) -> dict[Durability, list[Result]]:
    measured: dict[Durability, list[Result]] = {}
    with tempfile.TemporaryDirectory(prefix="donatello-bench-") as tmp:
        for durability in DURABILITIES:
            measured[durability] = []
            for benchmark in SECTIONS:
                workdir = Path(tmp) / durability / benchmark.__name__
                workdir.mkdir(parents=True)
                measured[durability].extend(benchmark(workdir, durability, workload))
    return measured


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=1000, help="appends per timed round")
    parser.add_argument("--streams", type=int, default=1000, help="stream loads per timed round")
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds; the best counts")
    args = parser.parse_args(argv)
    workload = Workload(events=args.events, streams=args.streams, repeats=args.repeats)
    started = time.perf_counter()
    measured = run(workload)
    print(
        f"Python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version},"
        f" eventsourcing {version('eventsourcing')}; both stores in WAL mode, best of"
        f" {workload.repeats} rounds of {workload.events} appends / {workload.streams} loads"
    )
    print(report(measured))
    print(f"ratio = ours / peer; total {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
