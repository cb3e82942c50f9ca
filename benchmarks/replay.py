"""Replay benchmark: folding a realistic event log into the projections, beside a peer.

Run: `python -m benchmarks.replay [--events N] [--repeats N] [--workers N]` (default
100,000 events; `--workers` defaults to the machine's CPU count).

The log is built once with `SqliteEventStore` (WAL, synchronous NORMAL, to build it
fast): departments and users, generation lifecycles interleaved a few hundred at a
time, and the month's budget stream each of them reserves against and charges to. The
same events are then copied into the `eventsourcing` library's SQLite recorder, one
peer domain event per event of ours, with the same stream ids, versions, times, types
and data. Each line names exactly what it times; the best of `--repeats` rounds counts.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, cast
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

from eventsourcing.domain import DomainEvent
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Mapper,
    UUIDAsHex,
)
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore

from adapters.sqlite_event_store import SqliteEventStore
from adapters.sqlite_record_log import SqliteRecordLog
from adapters.sqlite_views import SqliteViewStore
from domain import budget as b
from domain import generation as g
from domain.envelope import Actor, NewEvent
from domain.streams import budget_stream, generation_stream
from projections import ALL_PROJECTIONS
from projections.base import Fact, View
from projections.runner import replay_all

PAGE = 5000  # events per read in global order
IN_FLIGHT = 300  # concurrent generations: a lifecycle's events spread over ~1500 others
SYSTEM = Actor(user_id="system:donatello", roles=("System",))
SEALED = g.SealedText(subject_id="s", nonce="n" * 16, ciphertext="c" * 120)
MODELS = ("dall-e-3", "gpt-image-1", "sdxl", "firefly-3", "flux-pro")
POLICY = b.BudgetPolicy(
    monthly_limit_aud=Decimal("5000.00"),
    enforcement=b.Enforcement.SOFT,
    strategy=b.Strategy.BALANCED,
)


# --- building the log ------------------------------------------------------------------


class LogBuilder:
    def __init__(self, path: Path, seed: int = 7) -> None:
        self.store = SqliteEventStore(path, synchronous="NORMAL", clock=self.clock)
        self.rng = random.Random(seed)
        self.now = datetime(2026, 3, 1, tzinfo=UTC)
        self.count = 0
        self.budget_versions: dict[str, int] = {}

    def clock(self) -> datetime:
        self.now += timedelta(milliseconds=self.rng.randint(1, 400))
        return self.now

    def build(self, target: int, departments: int = 20, users_each: int = 25) -> None:
        depts = [f"dept-{i}" for i in range(departments)]
        users = {d: [f"user-{d}-{j}" for j in range(users_each)] for d in depts}
        flights: list[Iterator[None]] = []
        while self.count < target:
            while len(flights) < IN_FLIGHT:
                dept = self.rng.choice(depts)
                flights.append(self._lifecycle(dept, self.rng.choice(users[dept])))
            i = self.rng.randrange(len(flights))
            try:
                next(flights[i])
            except StopIteration:
                flights[i] = flights[-1]
                flights.pop()

    def _append(self, stream_id: str, version: int, payloads: list[g.Payload], corr: UUID) -> int:
        news = [
            NewEvent(type=p.TYPE, data=p.model_dump(mode="json"), actor=SYSTEM, correlation_id=corr)
            for p in payloads
        ]
        self.store.append(stream_id, version, news)
        self.count += len(news)
        return version + len(news)

    def _budget(self, dept: str, payload: g.Payload, corr: UUID) -> None:
        period = self.now.strftime("%Y-%m")
        stream = budget_stream(dept, period)
        version = self.budget_versions.get(stream, 0)
        payloads = [payload]
        if version == 0:
            payloads.insert(0, b.BudgetSet(department_id=dept, period=period, policy=POLICY))
        self.budget_versions[stream] = self._append(stream, version, payloads, corr)

    def _lifecycle(self, dept: str, user: str) -> Iterator[None]:
        """One generation's appends; yields between steps so lifecycles interleave."""
        gid, corr, rng = uuid4(), uuid4(), self.rng
        stream = generation_stream(gid)
        period = self.now.strftime("%Y-%m")
        v = self._append(
            stream,
            0,
            [
                g.GenerationRequested(
                    generation_id=gid,
                    user_id=user,
                    department_id=dept,
                    prompt=SEALED,
                    size="1024x1024",
                    quality="standard",
                    request_hash="h" * 64,
                )
            ],
            corr,
        )
        yield
        r = rng.random()
        if r < 0.03:
            block = g.FindingSummary(
                entity_type="CREDIT_CARD", start=0, end=16, score=0.9, action="block"
            )
            rejected = g.PromptRejected(reason="blocked", findings=(block,), policy_version="p1")
            self._append(stream, v, [rejected], corr)
            return
        redact = g.FindingSummary(
            entity_type="EMAIL_ADDRESS", start=1, end=9, score=0.9, action="redact"
        )
        findings = (redact,) if r < 0.2 else ()
        screened = g.PromptScreened(findings=findings, redacted_prompt=SEALED, policy_version="p1")
        v = self._append(stream, v, [screened], corr)
        yield
        model = rng.choice(MODELS)
        est = Decimal(rng.choice(["0.06", "0.12", "0.08", "0.04"]))
        reserved = b.CostReserved(
            department_id=dept,
            period=period,
            generation_id=gid,
            user_id=user,
            model_id=model,
            amount_aud=est,
            outcome="allowed",
        )
        self._budget(dept, reserved, corr)
        routed = g.GenerationRouted(
            model_id=model,
            provider="local",
            ranked_models=(model,),
            estimated_cost_aud=est,
            budget_stream_id=budget_stream(dept, period),
            budget_period=period,
            catalogue_version="c1",
        )
        v = self._append(stream, v, [routed], corr)
        yield
        if r < 0.08:
            v = self._append(stream, v, [g.GenerationFailed(reason="down", model_id=model)], corr)
            released = b.ReservationReleased(
                department_id=dept, period=period, generation_id=gid, amount_aud=est, reason="x"
            )
            self._budget(dept, released, corr)
            return
        generated = g.ImageGenerated(
            model_id=model,
            image_ref=f"{gid}.png",
            sha256="a" * 64,
            content_type="image/png",
            bytes=1000,
            cost_aud=est,
        )
        v = self._append(stream, v, [generated], corr)
        yield
        charged = b.CostCharged(
            department_id=dept,
            period=period,
            generation_id=gid,
            user_id=user,
            model_id=model,
            amount_aud=est,
            reserved_aud=est,
        )
        self._budget(dept, charged, corr)
        stream_id = budget_stream(dept, period)
        self._append(
            stream, v, [g.GenerationCharged(cost_aud=est, budget_stream_id=stream_id)], corr
        )


def build_log(path: Path, events: int) -> None:
    """Build the log in memory-backed storage where there is some, then copy it to `path`.

    Building is one commit per append; in RAM it takes a quarter less time, and the
    timed reads then run against the copy on disk.
    """
    shm = Path("/dev/shm")
    with tempfile.TemporaryDirectory(dir=shm if shm.is_dir() else None) as scratch:
        builder = LogBuilder(Path(scratch) / path.name)
        builder.build(events)
        builder.store.close()  # the last connection to close checkpoints the WAL
        shutil.copyfile(Path(scratch) / path.name, path)


# --- the peer --------------------------------------------------------------------------


@dataclass(frozen=True)
class PeerEvent(DomainEvent):
    """One of our events as an `eventsourcing` domain event, with what projections read."""

    stream_id: str
    type: str
    actor_fields: dict[str, Any]
    data: dict[str, Any]

    @property
    def version(self) -> int:
        return self.originator_version

    @property
    def recorded_at(self) -> datetime:
        return self.timestamp

    @property
    def actor(self) -> Actor:
        return Actor.model_validate(self.actor_fields)


def _peer_mapper() -> Mapper[UUID]:
    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DatetimeAsISO(), DecimalAsStr()):
        transcoder.register(transcoding)
    return Mapper(transcoder=transcoder)


def copy_to_peer(store: SqliteEventStore, db: Path) -> SQLiteApplicationRecorder:
    recorder = SQLiteApplicationRecorder(SQLiteDatastore(str(db)))
    recorder.create_table()
    mapper = _peer_mapper()
    after = 0
    while page := store.read_all(after, PAGE):
        stored = [
            mapper.to_stored_event(
                PeerEvent(
                    originator_id=uuid5(NAMESPACE_URL, e.stream_id),
                    originator_version=e.version,
                    timestamp=e.recorded_at,
                    stream_id=e.stream_id,
                    type=e.type,
                    actor_fields=e.actor.model_dump(mode="json"),
                    data=e.data,
                )
            )
            for e in (positioned.event for positioned in page)
        ]
        recorder.insert_events(stored)
        after = page[-1].position
    return recorder


# --- what is timed ---------------------------------------------------------------------


def fold_in_memory(facts: list[Fact], views: dict[str, dict[str, View]]) -> None:
    """The three projections' `apply`, event by event, into dicts (no view store)."""
    for projection in ALL_PROJECTIONS:
        docs = views.setdefault(projection.name, {})
        keys, apply = projection.keys, projection.apply
        for fact in facts:
            for key in keys(fact):
                docs[key] = apply(docs.get(key), fact)


def ours_read(log: SqliteRecordLog) -> int:
    end, n = log.last_position(), 0
    for after in range(0, end, PAGE):
        n += len(log.read_records(after, min(after + PAGE, end)))
    return n


def ours_read_events(store: SqliteEventStore) -> int:
    n = after = 0
    while events := store.read_all(after, PAGE):
        n += len(events)
        after = events[-1].position
    return n


def ours_fold_in_memory(log: SqliteRecordLog) -> int:
    views: dict[str, dict[str, View]] = {}
    end, n = log.last_position(), 0
    for after in range(0, end, PAGE):
        records = log.read_records(after, min(after + PAGE, end))
        fold_in_memory(list(records), views)
        n += len(records)
    return n


def peer_fold_in_memory(recorder: SQLiteApplicationRecorder) -> int:
    mapper = _peer_mapper()
    views: dict[str, dict[str, View]] = {}
    n, start = 0, 1
    while notifications := recorder.select_notifications(start, PAGE):
        facts = [cast(Fact, mapper.to_domain_event(item)) for item in notifications]
        fold_in_memory(facts, views)
        n += len(notifications)
        start = notifications[-1].id + 1
    return n


def peer_read(recorder: SQLiteApplicationRecorder) -> int:
    mapper = _peer_mapper()
    n, start = 0, 1
    while notifications := recorder.select_notifications(start, PAGE):
        for item in notifications:
            mapper.to_domain_event(item)
        n += len(notifications)
        start = notifications[-1].id + 1
    return n


def best_rate(repeats: int, round_: Callable[[int], int]) -> float:
    best = 0.0
    for i in range(repeats):
        started = time.perf_counter()
        n = round_(i)
        best = max(best, n / (time.perf_counter() - started))
    return best


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        started = time.perf_counter()
        build_log(work / "events.db", args.events)
        store = SqliteEventStore(work / "events.db")
        log = SqliteRecordLog(work / "events.db")
        total = store.last_position()
        print(f"built a log of {total:,} events in {time.perf_counter() - started:.1f}s")
        recorder = copy_to_peer(store, work / "peer.db")

        def replay(workers: int) -> Callable[[int], int]:
            def round_(i: int) -> int:
                # A fresh view store each round (synchronous FULL): nothing carries over.
                views = SqliteViewStore(work / f"views-{workers}-{i}.db")
                try:
                    return replay_all(log, views, workers=workers)
                finally:
                    views.close()

            return round_

        rows = [
            (
                "read the log (ours: read_records; peer: select_notifications + mapper)",
                best_rate(args.repeats, lambda _: ours_read(log)),
                best_rate(args.repeats, lambda _: peer_read(recorder)),
            ),
            (
                "read the log as full events (ours: read_all -> Event models; peer: as above)",
                best_rate(args.repeats, lambda _: ours_read_events(store)),
                None,
            ),
            (
                "read + fold the 3 projections' apply into in-memory dicts (both sides)",
                best_rate(args.repeats, lambda _: ours_fold_in_memory(log)),
                best_rate(args.repeats, lambda _: peer_fold_in_memory(recorder)),
            ),
            (
                "replay_all end to end: read, fold, write views + position, FULL (ours), 1 process",
                best_rate(args.repeats, replay(1)),
                None,
            ),
        ]
        if args.workers > 1:
            rows.append(
                (
                    "replay_all end to end: read, fold, write views + position, FULL (ours),"
                    f" {args.workers} worker processes split by stream",
                    best_rate(args.repeats, replay(args.workers)),
                    None,
                )
            )
        store.close()
        log.close()
    print(f"{'events/s':>10} {'peer':>10} {'ratio':>6}  what")
    for what, ours, peer in rows:
        ratio = "" if peer is None else f"{ours / peer:.2f}"
        peer_text = "-" if peer is None else f"{peer:,.0f}"
        print(f"{ours:>10,.0f} {peer_text:>10} {ratio:>6}  {what}")


if __name__ == "__main__":
    main()
