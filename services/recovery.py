"""Re-enqueueing generations that stopped short of a terminal state.

Accepting a request is two writes (append, then enqueue), and a message can be
dead-lettered; either way the stream says where the generation stands, so sending
its id again is all it takes. The message id includes the stream version, so the
queue's duplicate detection drops repeats until the generation moves on.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from uuid import UUID

from services.context import Platform
from services.generations import job_message

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
