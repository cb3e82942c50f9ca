"""Contract of the embedded work queue: Azure Service Bus queue semantics on SQLite.

Real SQLite files; a controllable clock where lock expiry and scheduling matter; real
processes where sharing the file across processes matters.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest

from adapters.sqlite_queue import MessageLockLost, ReceivedMessage, SqliteQueue
from services.ports import OutgoingMessage
from tests.contract.queue_probe_contract import Probed, QueueProbeContract

LOCK = timedelta(seconds=60)


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "queue.db"


@pytest.fixture
def queue(db: Path, clock: FakeClock) -> Iterator[SqliteQueue]:
    q = SqliteQueue(db, "generations", clock=clock)
    yield q
    q.close()


def msg(
    message_id: str,
    body: bytes = b"",
    *,
    scheduled_enqueue_time: datetime | None = None,
    application_properties: Mapping[str, str] | None = None,
) -> OutgoingMessage:
    return OutgoingMessage(
        message_id=message_id,
        body=body or message_id.encode(),
        scheduled_enqueue_time=scheduled_enqueue_time,
        application_properties=application_properties or {},
    )


def receive_one(queue: SqliteQueue) -> ReceivedMessage:
    received = queue.receive()
    assert len(received) == 1, received
    return received[0]


# --- single receiver ------------------------------------------------------------------


def test_send_receive_complete(queue: SqliteQueue, clock: FakeClock) -> None:
    queue.send(
        msg("gen-1", b'{"generation_id": "gen-1"}', application_properties={"kind": "advance"})
    )

    received = receive_one(queue)

    assert received.message_id == "gen-1"
    assert received.body == b'{"generation_id": "gen-1"}'
    assert received.application_properties == {"kind": "advance"}
    assert received.delivery_count == 1
    assert received.enqueued_time_utc == clock.now
    assert received.scheduled_enqueue_time_utc is None
    assert received.locked_until == clock.now + LOCK
    assert received.locked_until.tzinfo is not None
    queue.complete(received)
    assert queue.active_count() == 0
    assert queue.receive() == []


def test_peek_lock_hides_the_message_from_other_receivers(
    queue: SqliteQueue, db: Path, clock: FakeClock
) -> None:
    other = SqliteQueue(db, "generations", clock=clock)
    queue.send(msg("gen-1"))

    receive_one(queue)

    assert other.receive() == []
    assert queue.receive() == []
    assert queue.active_count() == 1
    other.close()


def test_lock_expiry_redelivers_with_the_next_delivery_count(
    queue: SqliteQueue, clock: FakeClock
) -> None:
    queue.send(msg("gen-1"))
    first = receive_one(queue)

    clock.advance(LOCK - timedelta(seconds=1))
    assert queue.receive() == []
    clock.advance(timedelta(seconds=1))
    second = receive_one(queue)

    assert second.message_id == "gen-1"
    assert second.delivery_count == 2
    assert second.lock_token != first.lock_token
    with pytest.raises(MessageLockLost):
        queue.complete(first)
    queue.complete(second)
    assert queue.active_count() == 0


def test_an_expired_lock_is_lost_even_when_nobody_took_the_message(
    queue: SqliteQueue, clock: FakeClock
) -> None:
    # Stricter than strictly needed, by design: a worker never settles on a lock it lost.
    queue.send(msg("gen-1"))
    received = receive_one(queue)
    clock.advance(LOCK)

    with pytest.raises(MessageLockLost):
        queue.complete(received)
    assert queue.active_count() == 1


@pytest.mark.parametrize(
    "settle",
    [
        SqliteQueue.complete,
        SqliteQueue.abandon,
        SqliteQueue.renew_lock,
        lambda q, m: q.dead_letter(m, "Poison"),
    ],
    ids=["complete", "abandon", "renew_lock", "dead_letter"],
)
def test_settling_with_a_lock_taken_over_raises(
    queue: SqliteQueue, clock: FakeClock, settle: Callable[[SqliteQueue, ReceivedMessage], object]
) -> None:
    queue.send(msg("gen-1"))
    stale = receive_one(queue)
    clock.advance(LOCK)
    current = receive_one(queue)

    with pytest.raises(MessageLockLost):
        settle(queue, stale)

    assert queue.receive() == [], "the current holder keeps its lock"
    queue.complete(current)


def test_settling_an_unknown_or_completed_message_raises(queue: SqliteQueue) -> None:
    queue.send(msg("gen-1"))
    received = receive_one(queue)
    queue.complete(received)

    with pytest.raises(MessageLockLost):
        queue.complete(received)
    with pytest.raises(MessageLockLost):
        queue.abandon(received)


def test_abandon_makes_the_message_available_immediately(
    queue: SqliteQueue, clock: FakeClock
) -> None:
    queue.send(msg("gen-1"))
    first = receive_one(queue)

    queue.abandon(first)
    second = receive_one(queue)

    assert second.message_id == "gen-1"
    assert second.delivery_count == 2
    assert second.locked_until == clock.now + LOCK


def test_renew_lock_extends_the_lock(queue: SqliteQueue, clock: FakeClock) -> None:
    queue.send(msg("gen-1"))
    received = receive_one(queue)
    clock.advance(timedelta(seconds=50))

    renewed = queue.renew_lock(received)

    assert renewed.locked_until == clock.now + LOCK
    assert renewed.lock_token == received.lock_token
    clock.advance(timedelta(seconds=30))  # 80 s after receive: past the first lock
    assert queue.receive() == []
    queue.complete(renewed)
    assert queue.active_count() == 0


# --- dead letters ---------------------------------------------------------------------


def test_a_message_is_delivered_at_most_max_delivery_count_times(
    queue: SqliteQueue, clock: FakeClock
) -> None:
    queue.send(msg("poison", b"boom"))
    deliveries = []
    for _ in range(10):
        received = receive_one(queue)
        deliveries.append(received.delivery_count)
        queue.abandon(received)

    assert queue.receive() == []

    assert deliveries == list(range(1, 11))
    [dead] = queue.dead_letters()
    assert dead.message_id == "poison"
    assert dead.body == b"boom"
    assert dead.reason == "MaxDeliveryCountExceeded"
    assert dead.delivery_count == 10
    assert dead.dead_lettered_at == clock.now
    assert queue.active_count() == 0


def test_lock_expiries_count_as_deliveries(db: Path, clock: FakeClock) -> None:
    queue = SqliteQueue(db, "generations", clock=clock, max_delivery_count=2)
    queue.send(msg("gen-1"))
    receive_one(queue)
    clock.advance(LOCK)
    receive_one(queue)
    clock.advance(LOCK)

    assert queue.receive() == []
    assert [d.reason for d in queue.dead_letters()] == ["MaxDeliveryCountExceeded"]
    queue.close()


def test_a_batch_receive_skips_dead_lettered_messages_and_stays_full(
    db: Path, clock: FakeClock
) -> None:
    queue = SqliteQueue(db, "generations", clock=clock, max_delivery_count=1)
    queue.send(msg("poison"))
    queue.abandon(receive_one(queue))
    for i in range(3):
        queue.send(msg(f"gen-{i}"))

    batch = queue.receive(max_messages=3)

    assert [m.message_id for m in batch] == ["gen-0", "gen-1", "gen-2"]
    assert [d.message_id for d in queue.dead_letters()] == ["poison"]
    queue.close()


def test_explicit_dead_letter(queue: SqliteQueue, clock: FakeClock) -> None:
    queue.send(msg("gen-1", b"bad payload"))
    received = receive_one(queue)

    queue.dead_letter(received, "UnreadableBody", "not JSON")

    assert queue.receive() == []
    assert queue.active_count() == 0
    [dead] = queue.dead_letters()
    assert (dead.message_id, dead.body, dead.delivery_count) == ("gen-1", b"bad payload", 1)
    assert (dead.reason, dead.description) == ("UnreadableBody", "not JSON")
    assert dead.dead_lettered_at == clock.now


# --- scheduling, duplicates, order ----------------------------------------------------


def test_a_scheduled_message_is_invisible_until_its_time(
    queue: SqliteQueue, clock: FakeClock
) -> None:
    due = clock.now + timedelta(minutes=5)
    queue.send(msg("retry-1", scheduled_enqueue_time=due))

    assert queue.receive() == []
    assert queue.active_count() == 1
    clock.advance(timedelta(minutes=5) - timedelta(microseconds=1))
    assert queue.receive() == []
    clock.advance(timedelta(microseconds=1))

    received = receive_one(queue)
    assert received.message_id == "retry-1"
    assert received.scheduled_enqueue_time_utc == due


def test_a_naive_schedule_time_is_rejected(queue: SqliteQueue) -> None:
    with pytest.raises(ValueError, match="naive"):
        queue.send(msg("gen-1", scheduled_enqueue_time=datetime(2025, 3, 1, 10, 0)))
    assert queue.active_count() == 0


def test_duplicates_are_dropped_within_the_window_and_accepted_after(
    queue: SqliteQueue, clock: FakeClock
) -> None:
    queue.send(msg("gen-1", b"first"))
    queue.send(msg("gen-1", b"second"))
    assert queue.active_count() == 1

    queue.complete(receive_one(queue))
    clock.advance(timedelta(minutes=9))
    queue.send(msg("gen-1", b"third"))
    assert queue.active_count() == 0, "completion does not reset duplicate detection"

    clock.advance(timedelta(minutes=1))
    queue.send(msg("gen-1", b"fourth"))
    assert receive_one(queue).body == b"fourth"


def test_messages_visible_together_come_out_in_send_order(queue: SqliteQueue) -> None:
    for i in range(6):
        queue.send(msg(f"gen-{i}"))

    first_batch = queue.receive(max_messages=4)
    rest = [receive_one(queue), receive_one(queue)]

    ids = [m.message_id for m in first_batch + rest]
    assert ids == [f"gen-{i}" for i in range(6)]
    sequence = [m.sequence_number for m in first_batch + rest]
    assert sequence == sorted(sequence)


def test_queues_sharing_a_file_are_independent(
    queue: SqliteQueue, db: Path, clock: FakeClock
) -> None:
    other = SqliteQueue(db, "webhooks", clock=clock)
    queue.send(msg("same-id", b"generation"))
    other.send(msg("same-id", b"webhook"))

    assert receive_one(other).body == b"webhook"
    assert receive_one(queue).body == b"generation"
    assert (queue.active_count(), other.active_count()) == (1, 1)
    other.close()


def test_receive_waits_for_a_message_sent_meanwhile(db: Path) -> None:
    queue = SqliteQueue(db, "generations")
    sender = threading.Timer(0.2, lambda: queue.send(msg("late")))
    sender.start()

    received = queue.receive(max_wait_time=10)

    sender.join()
    assert [m.message_id for m in received] == ["late"]
    queue.close()


# --- several threads and processes ----------------------------------------------------


# Workers do something between receive and complete. Without that pause, SQLite's
# busy handler (growing back-off sleeps) lets one tight loop keep the write lock and
# starve the others: fair sharing is not a property of SQLite locks.
WORK_SECONDS = 0.001


def _drain(queue: SqliteQueue) -> list[tuple[str, int]]:
    completed: list[tuple[str, int]] = []
    while True:
        batch = queue.receive(max_messages=1, max_wait_time=0.2)
        if not batch:
            if queue.active_count() == 0:
                return completed
            continue
        for message in batch:
            time.sleep(WORK_SECONDS)
            queue.complete(message)
            completed.append((message.message_id, message.delivery_count))


def _compete(path: str, start: Barrier, out: str) -> None:
    queue = SqliteQueue(path, "generations")
    start.wait()
    Path(out).write_text(json.dumps(_drain(queue)))
    queue.close()


def _assert_each_completed_once(batches: list[list[tuple[str, int]]], total: int) -> None:
    completions = Counter(message_id for batch in batches for message_id, _ in batch)
    assert set(completions) == {f"gen-{i}" for i in range(total)}
    assert set(completions.values()) == {1}
    assert {count for batch in batches for _, count in batch} == {1}


@pytest.mark.parametrize("workers", [2, 4])
def test_competing_processes_complete_each_message_exactly_once(
    tmp_path: Path, db: Path, workers: int
) -> None:
    total = 500
    queue = SqliteQueue(db, "generations")
    for i in range(total):
        queue.send(msg(f"gen-{i}"))
    spawn = multiprocessing.get_context("spawn")
    start = spawn.Barrier(workers)
    outs = [tmp_path / f"worker-{n}.json" for n in range(workers)]
    procs = [spawn.Process(target=_compete, args=(str(db), start, str(o))) for o in outs]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0

    batches = [[(m, c) for m, c in json.loads(o.read_text())] for o in outs]
    _assert_each_completed_once(batches, total)
    assert sum(1 for batch in batches if batch) >= 2, "the work was shared"
    assert queue.active_count() == 0
    assert queue.dead_letters() == []
    queue.close()


def test_threads_share_one_queue_object_safely(db: Path) -> None:
    total = 200
    queue = SqliteQueue(db, "generations")
    for i in range(total):
        queue.send(msg(f"gen-{i}"))
    batches: list[list[tuple[str, int]]] = [[] for _ in range(4)]
    threads = [threading.Thread(target=lambda b=b: b.extend(_drain(queue))) for b in batches]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    _assert_each_completed_once(batches, total)
    queue.close()


def _receive_and_hang(path: str, lock_seconds: float, report: Connection) -> None:
    queue = SqliteQueue(path, "generations", lock_duration=timedelta(seconds=lock_seconds))
    [message] = queue.receive(max_wait_time=10)
    report.send((message.message_id, message.lock_token, message.locked_until))
    time.sleep(120)  # the test kills this process while it holds the lock


def test_a_message_held_by_a_killed_process_is_redelivered_after_its_lock_expires(
    db: Path,
) -> None:
    lock_seconds = 2.0
    queue = SqliteQueue(db, "generations", lock_duration=timedelta(seconds=lock_seconds))
    queue.send(msg("gen-1"))
    spawn = multiprocessing.get_context("spawn")
    ours, theirs = spawn.Pipe()
    worker = spawn.Process(target=_receive_and_hang, args=(str(db), lock_seconds, theirs))
    worker.start()
    assert ours.poll(30), "the worker never received the message"
    message_id, dead_token, dead_lock_until = ours.recv()

    assert queue.receive() == [], "the worker's lock hides the message"
    worker.kill()
    worker.join(timeout=10)
    assert worker.exitcode == -signal.SIGKILL

    [redelivered] = queue.receive(max_wait_time=lock_seconds + 10)
    assert datetime.now(UTC) >= dead_lock_until
    assert (redelivered.message_id, redelivered.delivery_count) == (message_id, 2)
    assert redelivered.lock_token != dead_token
    queue.complete(redelivered)
    assert queue.active_count() == 0
    queue.close()


def _send_and_die(path: str) -> None:
    SqliteQueue(path, "generations").send(msg("gen-1", b"survives"))
    os.kill(os.getpid(), signal.SIGKILL)


def test_a_sent_message_survives_the_sender_being_killed(db: Path) -> None:
    sender = multiprocessing.get_context("spawn").Process(target=_send_and_die, args=(str(db),))
    sender.start()
    sender.join(timeout=30)
    assert sender.exitcode == -signal.SIGKILL

    queue = SqliteQueue(db, "generations")
    assert receive_one(queue).body == b"survives"
    queue.close()


def _open_and_send(path: str, start: Barrier, n: int) -> None:
    start.wait()
    queue = SqliteQueue(path, "generations")
    queue.send(msg(f"gen-{n}"))
    queue.close()


def test_processes_can_open_a_new_file_at_the_same_time(tmp_path: Path) -> None:
    # Before WAL was switched on with retries this failed in about a third of the rounds.
    fork = multiprocessing.get_context("fork")
    for round_ in range(6):
        db = tmp_path / f"round-{round_}.db"
        start = fork.Barrier(8)
        procs = [fork.Process(target=_open_and_send, args=(str(db), start, n)) for n in range(8)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(timeout=60)
        assert [p.exitcode for p in procs] == [0] * 8
        queue = SqliteQueue(db, "generations")
        assert queue.active_count() == 8
        queue.close()


class TestLocalQueueProbe(QueueProbeContract):
    @pytest.fixture
    def probed(self, db: Path) -> Iterator[Probed]:
        real_time = SqliteQueue(db, "generations")

        def settle_first() -> None:
            (first,) = real_time.receive(1)
            real_time.complete(first)

        yield Probed(real_time, settle_first)
        real_time.close()


def test_the_oldest_unsettled_counts_in_flight_and_scheduled_from_when_due(
    queue: SqliteQueue, clock: FakeClock
) -> None:
    start = clock.now
    queue.send(msg("due-later", scheduled_enqueue_time=start + timedelta(seconds=30)))
    clock.advance(timedelta(seconds=10))
    queue.send(msg("now"))
    (taken,) = queue.receive(1)
    assert taken.message_id == "now"
    assert queue.oldest_unsettled() == start + timedelta(seconds=10), "in flight still counts"
    queue.complete(taken)
    assert queue.oldest_unsettled() is None, "the scheduled one is not due yet"
    clock.advance(timedelta(seconds=25))
    assert queue.oldest_unsettled() == start + timedelta(seconds=30)
