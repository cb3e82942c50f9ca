"""The contract of `services.ports.QueueProbe`, run against the embedded queue and Service
Bus's adapter: the oldest unsettled message's enqueue time, scheduled ones left out,
found past a page of them, and the next one once it is settled.

A subclass supplies `probed`: the queue (a `WorkQueue` and a `QueueProbe`) and how a
worker settles its first message. Times are the queue's own (the broker's clock, to the
millisecond), so the checks bracket each send with the wall clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

import pytest

from services.ports import OutgoingMessage

MILLISECOND = timedelta(milliseconds=1)


class ProbedQueue(Protocol):
    queue_name: str

    def send(self, message: OutgoingMessage) -> None: ...
    def oldest_unsettled(self) -> datetime | None: ...


@dataclass(frozen=True)
class Probed:
    queue: ProbedQueue
    settle_first: Callable[[], None]


def _sent_between(queue: ProbedQueue, message_id: str) -> tuple[datetime, datetime]:
    before = datetime.now(UTC) - MILLISECOND
    queue.send(OutgoingMessage(message_id, b"{}"))
    return before, datetime.now(UTC) + MILLISECOND


class QueueProbeContract:
    @pytest.fixture
    def probed(self) -> Probed:
        raise NotImplementedError("a subclass gives its queue and how a worker settles")

    def test_an_empty_queue_has_no_oldest_message(self, probed: Probed) -> None:
        assert probed.queue.oldest_unsettled() is None

    def test_the_oldest_is_the_first_sent_until_it_is_settled(self, probed: Probed) -> None:
        before, after = _sent_between(probed.queue, "first")
        second_before, second_after = _sent_between(probed.queue, "second")
        oldest = probed.queue.oldest_unsettled()
        assert oldest is not None
        assert before <= oldest <= after
        probed.settle_first()
        oldest = probed.queue.oldest_unsettled()
        assert oldest is not None
        assert second_before <= oldest <= second_after
        probed.settle_first()
        assert probed.queue.oldest_unsettled() is None

    def test_messages_scheduled_for_later_are_not_due_even_past_a_page_of_them(
        self, probed: Probed
    ) -> None:
        later = datetime.now(UTC) + timedelta(hours=1)
        for n in range(40):  # more than one page of the Service Bus probe's peek
            probed.queue.send(OutgoingMessage(f"later-{n}", b"{}", scheduled_enqueue_time=later))
        assert probed.queue.oldest_unsettled() is None
        before, after = _sent_between(probed.queue, "due")
        oldest = probed.queue.oldest_unsettled()
        assert oldest is not None
        assert before <= oldest <= after
