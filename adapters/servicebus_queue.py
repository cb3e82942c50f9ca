"""The work queue on Azure Service Bus: the sending side, used by the HTTP trigger and the
recovery timer (the Functions host's Service Bus trigger does the receiving), and the
probe the operations timer reads the oldest message's age with.

Each `OutgoingMessage` becomes one `ServiceBusMessage` (see `to_servicebus_message`):
- `message_id` is the caller's deterministic id (the generation id, or
  `{id}:requeue:v{version}`), which the queue's duplicate detection uses to drop a
  repeat within its window, as the local twin (`adapters.sqlite_queue`) does;
- the body is sent as one AMQP data section, `content_type` `application/json`;
- `application_properties` are copied as strings;
- `scheduled_enqueue_time` becomes `scheduled_enqueue_time_utc`: the broker holds the
  message until then. A naive time is refused, as the local twin refuses it.
The queue's own settings (duplicate detection, lock duration, max delivery count 10,
dead-lettering) are described in docs/azure.md.

One `ServiceBusSender` is opened lazily and reused for every send, so the AMQP
connection, its claims-based-security token and the link are set up once per process,
not per request. The SDK does not make a sender safe to share between threads (its
README says to guard it with a lock), so sends are serialised by a lock; a send is one
round trip on an open link, so the lock is held for milliseconds. After a failed send the
SDK reopens its connection on the next one. `close()` closes the sender and the client.

Errors are the SDK's (`azure.servicebus.exceptions.ServiceBusError` and subclasses) and
propagate: the accepting request fails, and the generation, already appended, is
re-enqueued by the recovery timer or by the client's retry with its Idempotency-Key.

What the tests exercise (there is no Service Bus emulator here): the mapping, in full;
and the send path through the real SDK (`ServiceBusClient`, its pure-Python AMQP stack,
TLS, claims-based-security auth with a token credential, the sender link, transfer and
settlement) against `tests.amqp_broker`, a minimal AMQP 1.0 broker that decodes what the
SDK puts on the wire. Not exercised: the real broker's duplicate detection, scheduling,
throttling and its own error answers, and Entra ID issuing the token. A deployment smoke
test should send one message with a known id twice and a scheduled one, and check with a
receiver (or the queue's metrics) that exactly one copy arrived, with the properties
above, and that the scheduled one arrived no earlier than its time.

The probe (`oldest_unsettled`, `services.ports.QueueProbe`) browses the queue with the
SDK's `peek_messages` from sequence number 1 in pages of `PEEK_PAGE`: Service Bus answers
in sequence order, locked (in flight) messages included, each with its state and
`enqueued_time_utc`. It skips scheduled and deferred messages and answers the earliest
enqueue time in the first page holding an active one (a scheduled message, once due, is
enqueued at its time, so it may be younger than a later sequence number). Peeking takes
no lock and grants the receiver link no credit, so the workers lose nothing to it. Its
receiver is opened once and kept, under its own lock.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from azure.servicebus import (
    ServiceBusClient,
    ServiceBusMessage,
    ServiceBusMessageState,
    ServiceBusReceiver,
    ServiceBusSender,
)

from services.ports import OutgoingMessage
from services.tracing import with_trace_context

CONTENT_TYPE = "application/json"
PEEK_PAGE = 32


def to_servicebus_message(message: OutgoingMessage) -> ServiceBusMessage:
    scheduled = message.scheduled_enqueue_time
    if scheduled is not None and scheduled.tzinfo is None:
        raise ValueError(f"naive datetime {scheduled!r}: queue times must be timezone-aware")
    return ServiceBusMessage(
        bytes(message.body),
        message_id=message.message_id,
        content_type=CONTENT_TYPE,
        # The trace's `traceparent` too: the worker's spans continue the sender's trace.
        application_properties={
            key: value for key, value in with_trace_context(message.application_properties).items()
        },
        scheduled_enqueue_time_utc=None if scheduled is None else scheduled.astimezone(UTC),
    )


class ServiceBusWorkQueue:
    """One Service Bus queue; implements `services.ports.WorkQueue` and
    `services.ports.QueueProbe`."""

    def __init__(self, client: ServiceBusClient, queue_name: str) -> None:
        self._client = client
        self.queue_name = queue_name
        self._lock = threading.Lock()
        self._sender: ServiceBusSender | None = None
        self._peek_lock = threading.Lock()
        self._receiver: ServiceBusReceiver | None = None
        self._closed = False

    def send(self, message: OutgoingMessage) -> None:
        outgoing = to_servicebus_message(message)
        with self._lock:
            if self._closed:
                raise RuntimeError(f"the work queue {self.queue_name!r} is closed")
            if self._sender is None:
                self._sender = self._client.get_queue_sender(self.queue_name)
            self._sender.send_messages(outgoing)

    def oldest_unsettled(self) -> datetime | None:
        with self._peek_lock:
            if self._closed:
                raise RuntimeError(f"the work queue {self.queue_name!r} is closed")
            if self._receiver is None:
                self._receiver = self._client.get_queue_receiver(self.queue_name)
            receiver = self._receiver
            next_sequence = 1
            while page := receiver.peek_messages(PEEK_PAGE, sequence_number=next_sequence):
                active = [
                    m.enqueued_time_utc
                    for m in page
                    if m.state == ServiceBusMessageState.ACTIVE and m.enqueued_time_utc
                ]
                if active:
                    return min(active)
                next_sequence = (page[-1].sequence_number or next_sequence) + 1
            return None

    def close(self) -> None:
        """Close the sender, the probe's receiver and the client; later sends and probes
        raise RuntimeError."""
        with self._lock, self._peek_lock:
            self._closed = True
            sender, self._sender = self._sender, None
            receiver, self._receiver = self._receiver, None
        try:
            for link in (sender, receiver):
                if link is not None:
                    link.close()
        finally:
            self._client.close()
