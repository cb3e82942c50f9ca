"""Generations that stopped short of a terminal state, and reservations left behind.

Accepting a request is two writes (append, then enqueue), and a message can be
dead-lettered; either way the stream says where the generation stands, so sending
its id again is all it takes. The message id includes the stream version, so the
queue's duplicate detection drops repeats until the generation moves on.

A generation that still does not move (a poison message, a worker that hangs) is
failed once it passes the pipeline's deadline, and a reservation never outlives its
generation: one held for a generation that failed or was rejected is released, which
also repairs a crash between recording the failure and releasing.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from uuid import UUID

from domain.generation import GenerationFailed, Status
from domain.periods import budget_period
from domain.streams import budget_stream, generation_stream
from services.aggregates import GENERATION
from services.budget_reads import current_budget
from services.commands import Stamp, execute
from services.context import Platform
from services.generations import job_message, load_generation
from services.pipeline import release_if_abandoned

log = logging.getLogger(__name__)


def requeue_stuck_generations(platform: Platform) -> int:
    cutoff = platform.clock() - timedelta(seconds=platform.settings.stuck_after_seconds)
    stuck = platform.views.unfinished_generations(updated_before=cutoff)
    for doc in stuck:
        generation_id = UUID(str(doc["id"]))
        platform.queue.send(
            job_message(generation_id, message_id=f"{generation_id}:requeue:v{doc['version']}")
        )
    if stuck:
        log.warning("re-enqueued %d stuck generations", len(stuck))
    return len(stuck)


def expire_overdue_generations(platform: Platform) -> int:
    """Fail the generations that have not moved for the pipeline's deadline."""
    deadline = timedelta(seconds=platform.settings.generation_deadline_seconds)
    overdue = platform.views.unfinished_generations(updated_before=platform.clock() - deadline)
    reason = f"timed_out: no progress for {deadline.total_seconds():.0f} s"
    expired = sum(_expire(platform, UUID(str(doc["id"])), reason) for doc in overdue)
    if expired:
        log.warning("failed %d generations past the pipeline's deadline", expired)
    return expired


def _expire(platform: Platform, generation_id: UUID, reason: str) -> bool:
    """Fail the generation unless it finished or moved meanwhile; whether it did."""
    loaded = platform.repository.load(GENERATION, generation_stream(generation_id))
    state = loaded.state
    if state.is_terminal:  # the view lags: it finished meanwhile
        release_if_abandoned(platform, state)
        return False
    failed = GenerationFailed(
        reason=reason, model_id=state.routed.model_id if state.routed else None
    )
    decided = execute(
        platform.repository,
        GENERATION,
        loaded.stream_id,
        # A generation that moved since it was read is not overdue after all.
        lambda current: [failed] if current.version == state.version else [],
        Stamp(generation_id),
        start=loaded,
    )
    if not decided.recorded:
        return False
    release_if_abandoned(platform, decided.after.state)
    return True


def release_orphaned_reservations(platform: Platform) -> int:
    """Release this and last month's holds whose generation failed or was rejected."""
    now = platform.clock()
    periods = {budget_period(now), budget_period(now - timedelta(days=1))}
    released = 0
    for period in sorted(periods):
        for month in platform.views.list("budget", partition=period):
            stream_id = budget_stream(str(month["department_id"]), period)
            for generation_id in list(current_budget(platform.repository, stream_id).reservations):
                state = load_generation(platform, generation_id)
                if state.status in (Status.FAILED, Status.REJECTED):
                    release_if_abandoned(platform, state)
                    released += 1
    if released:
        log.warning("released %d reservations of finished generations", released)
    return released
