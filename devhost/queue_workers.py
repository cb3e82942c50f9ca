"""Run Service Bus queue triggers from a local queue with the Functions host's semantics.

Like the host with ``autoCompleteMessages`` (the default): a function that returns
completes its message, one that raises abandons it, and the queue dead-letters it once
its delivery count passes the queue's maximum. While a function runs, its lock is
renewed (``maxAutoLockRenewalDuration``), so a long step is not redelivered mid-flight.

As the host's message pump does, one thread per queue receives, as many messages at a
time as there are idle workers (``maxConcurrentCalls``), and hands each to a worker
thread. One poller a queue instead of one a worker: with 16 workers each polling every
50 ms, the idle ones cost more CPU than the queue's real work, and raced each other for
the queue's write lock whenever a message arrived.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from queue import SimpleQueue
from typing import Any, Protocol, TypeVar

import azure.functions as func

from devhost.threads import join_within
from devhost.triggers import ServiceBusTrigger
from services.correlation import correlated, safe_correlation_id

log = logging.getLogger("devhost.queues")

DEFAULT_MAX_LOCK_RENEWAL = timedelta(minutes=5)  # the host's maxAutoLockRenewalDuration default


class QueueMessage(Protocol):
    """What a peek-locked message carries (adapters.sqlite_queue.ReceivedMessage)."""

    @property
    def message_id(self) -> str: ...
    @property
    def body(self) -> bytes: ...
    @property
    def delivery_count(self) -> int: ...
    @property
    def sequence_number(self) -> int: ...
    @property
    def enqueued_time_utc(self) -> datetime: ...
    @property
    def scheduled_enqueue_time_utc(self) -> datetime | None: ...
    @property
    def lock_token(self) -> str: ...
    @property
    def locked_until(self) -> datetime: ...
    @property
    def application_properties(self) -> Mapping[str, Any]: ...


M = TypeVar("M", bound=QueueMessage)


class LockedQueue(Protocol[M]):
    """The peek-lock receiver side of a queue (adapters.sqlite_queue.SqliteQueue)."""

    def receive(self, max_messages: int = 1, max_wait_time: float = 0.0) -> list[M]: ...
    def complete(self, message: M) -> None: ...
    def abandon(self, message: M) -> None: ...
    def renew_lock(self, message: M) -> M: ...


QueueFactory = Callable[[str], LockedQueue[Any]]


class LocalServiceBusMessage(func.ServiceBusMessage):
    """The ``func.ServiceBusMessage`` a queue-triggered function receives."""

    def __init__(self, received: QueueMessage) -> None:
        properties = dict(received.application_properties)
        super().__init__(
            body=received.body,
            content_type=getattr(received, "content_type", None),
            correlation_id=getattr(received, "correlation_id", None),
        )
        self._received = received
        self._properties = properties

    @property
    def message_id(self) -> str:
        return self._received.message_id

    @property
    def delivery_count(self) -> int:
        return self._received.delivery_count

    @property
    def sequence_number(self) -> int:
        return self._received.sequence_number

    @property
    def enqueued_time_utc(self) -> datetime:
        return self._received.enqueued_time_utc

    @property
    def scheduled_enqueue_time_utc(self) -> datetime | None:
        return self._received.scheduled_enqueue_time_utc

    @property
    def lock_token(self) -> str:
        return str(self._received.lock_token)

    @property
    def locked_until(self) -> datetime:
        return self._received.locked_until

    @property
    def application_properties(self) -> dict[str, Any]:
        return dict(self._properties)

    @property
    def user_properties(self) -> dict[str, Any]:
        return dict(self._properties)

    @property
    def metadata(self) -> dict[str, Any]:
        return {
            "MessageId": self.message_id,
            "DeliveryCount": self.delivery_count,
            "SequenceNumber": self.sequence_number,
            "EnqueuedTimeUtc": self.enqueued_time_utc.isoformat(),
            "LockToken": self.lock_token,
            "ApplicationProperties": self.application_properties,
        }


class _LockKeeper:
    """Renews one message's lock at half its remaining time until stopped or out of budget."""

    def __init__(self, queue: LockedQueue[Any], message: QueueMessage, budget: timedelta) -> None:
        self._queue = queue
        self._latest = message
        self._give_up_at = time.monotonic() + budget.total_seconds()
        self._done = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"lock-{message.message_id}", daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        while True:
            remaining = (self._latest.locked_until - datetime.now(UTC)).total_seconds()
            if self._done.wait(max(remaining / 2, 0.01)):
                return
            if time.monotonic() >= self._give_up_at:
                log.warning(
                    "message %s: lock renewal budget spent; it may be redelivered",
                    self._latest.message_id,
                )
                return
            try:
                self._latest = self._queue.renew_lock(self._latest)
            except Exception as error:
                log.warning("message %s: lock renewal failed: %s", self._latest.message_id, error)
                return

    def stop(self) -> QueueMessage:
        """Stop renewing; the message carrying the newest lock is what gets settled."""
        self._done.set()
        self._thread.join()
        return self._latest


_STOP = object()  # a worker's last hand-off


@dataclass(frozen=True, slots=True)
class _Consumer:
    trigger: ServiceBusTrigger
    queue: LockedQueue[Any]
    idle: threading.Semaphore  # one per worker not running a function
    handoff: SimpleQueue[Any]  # messages received for the workers, then _STOP


class QueueWorkerPool:
    """``workers_per_queue`` threads per Service Bus trigger, each handling one message."""

    def __init__(
        self,
        triggers: Sequence[ServiceBusTrigger],
        queue_for: QueueFactory,
        *,
        workers_per_queue: int = 2,
        max_lock_renewal: timedelta = DEFAULT_MAX_LOCK_RENEWAL,
        receive_wait_seconds: float = 0.2,
    ) -> None:
        if workers_per_queue < 1:
            raise ValueError("workers_per_queue must be at least 1")
        self._consumers = [
            _Consumer(
                t,
                queue_for(t.queue_name),
                threading.Semaphore(workers_per_queue),
                SimpleQueue(),
            )
            for t in triggers
        ]
        self._workers_per_queue = workers_per_queue
        self._max_lock_renewal = max_lock_renewal
        self._receive_wait = receive_wait_seconds
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        self._stopping.clear()
        for consumer in self._consumers:
            name = consumer.trigger.binding.function_name
            pump = threading.Thread(
                target=self._pump, args=(consumer,), name=f"{name}-pump", daemon=True
            )
            workers = [
                threading.Thread(
                    target=self._work, args=(consumer,), name=f"{name}-{index}", daemon=True
                )
                for index in range(self._workers_per_queue)
            ]
            for thread in (pump, *workers):
                thread.start()
                self._threads.append(thread)

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop receiving and wait up to ``timeout`` s for in-flight calls; True if all ended."""
        self._stopping.set()
        self._threads = join_within(self._threads, timeout, "queue workers")
        return not self._threads

    def _pump(self, consumer: _Consumer) -> None:
        """Receive into idle workers until stopped; what was received is still handed
        on, and then each worker its stop."""
        try:
            while not self._stopping.is_set():
                if not consumer.idle.acquire(timeout=self._receive_wait):
                    continue  # every worker busy
                idle = 1
                while idle < self._workers_per_queue and consumer.idle.acquire(blocking=False):
                    idle += 1
                try:
                    batch = consumer.queue.receive(
                        max_messages=idle, max_wait_time=self._receive_wait
                    )
                except Exception:
                    log.exception("receiving from queue %s failed", consumer.trigger.queue_name)
                    batch = []
                    self._stopping.wait(1.0)
                for _ in range(idle - len(batch)):
                    consumer.idle.release()
                for message in batch:
                    consumer.handoff.put(message)
        finally:
            for _ in range(self._workers_per_queue):
                consumer.handoff.put(_STOP)

    def _work(self, consumer: _Consumer) -> None:
        while (message := consumer.handoff.get()) is not _STOP:
            try:
                self._process(consumer, message)
            finally:
                consumer.idle.release()

    def _process(self, consumer: _Consumer, message: QueueMessage) -> None:
        binding = consumer.trigger.binding
        keeper = _LockKeeper(consumer.queue, message, self._max_lock_renewal)
        try:
            with correlated(safe_correlation_id(message.message_id)):
                binding.call_blocking(LocalServiceBusMessage(message))
        except Exception:
            log.exception(
                "function %s failed on message %s (delivery %d); abandoning it",
                binding.function_name,
                message.message_id,
                message.delivery_count,
            )
            settle, outcome = consumer.queue.abandon, "abandon"
        else:
            settle, outcome = consumer.queue.complete, "complete"
        latest = keeper.stop()
        try:
            settle(latest)
        except Exception as error:
            # At-least-once: a lost lock means the message comes back, and handlers are
            # idempotent, so this is worth a warning and nothing more.
            log.warning("could not %s message %s: %s", outcome, message.message_id, error)
