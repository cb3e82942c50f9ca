"""Waiting, bounded, for generations to reach a terminal state (the drop-in face's wait).

A waiting request re-reads its generations' streams only when something may have
changed. Where the event store has a global order (the embedded SQLite log), one thread
per process tails it — one `MAX(position)` a tick, and the new events' stream ids when
it moved — and wakes exactly the requests waiting on those streams, so the cost of
waiting does not grow with the number of waiting requests and a step is seen within a
tick. Where it has none (Cosmos), each request re-reads its streams on a backoff.
Either way a waiter also re-reads on a slow timer, so a wake-up lost to a race can
only delay an answer, never lose it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from uuid import UUID

from domain.generation import Generation
from domain.streams import generation_stream
from services.context import Platform
from services.generations import load_generation

# Without a tail to wake it, a waiter polls from FIRST_POLL, doubling up to SLOWEST_POLL.
FIRST_POLL_SECONDS = 0.05
SLOWEST_POLL_SECONDS = 1.0


class WaitExpired(Exception):
    """The bound ran out; the generations carry on and can be read through the API."""

    def __init__(self, generation_ids: Sequence[UUID], seconds: float) -> None:
        ids = ", ".join(str(g) for g in generation_ids)
        super().__init__(
            f"generations {ids} did not finish within {seconds:g} s; they carry on: read"
            " them at /api/v1/generations/{id}"
        )
        self.generation_ids = tuple(generation_ids)


def wait_for_generations(
    platform: Platform, generation_ids: Sequence[UUID], seconds: float
) -> list[Generation]:
    """The generations once every one is terminal, in order; WaitExpired after `seconds`."""
    deadline = time.monotonic() + seconds
    stream_ids = [generation_stream(g) for g in generation_ids]
    tail = platform.log_tail
    woken = threading.Event()
    if tail is not None:
        tail.watch(stream_ids, woken)
    try:
        states: dict[UUID, Generation] = {}
        poll = FIRST_POLL_SECONDS if tail is None else SLOWEST_POLL_SECONDS
        while True:
            woken.clear()  # before reading: a step recorded during the read wakes us again
            for generation_id in generation_ids:
                if generation_id not in states:
                    state = load_generation(platform, generation_id)
                    if state.is_terminal:
                        states[generation_id] = state
            if len(states) == len(generation_ids):
                return [states[g] for g in generation_ids]
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WaitExpired(generation_ids, seconds)
            woken.wait(min(poll, remaining))
            if tail is None:
                poll = min(poll * 2, SLOWEST_POLL_SECONDS)
    finally:
        if tail is not None:
            tail.forget(stream_ids, woken)
