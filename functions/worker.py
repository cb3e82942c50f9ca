"""Queue-triggered pipeline worker, and the timers that recover what stopped short."""

from __future__ import annotations

import json
import logging
from uuid import UUID

import azure.functions as func

from bootstrap import platform
from services.correlation import correlated
from services.generations import JOB_QUEUE
from services.pipeline import advance_generation
from services.recovery import (
    expire_overdue_generations,
    release_orphaned_reservations,
    requeue_stuck_generations,
)
from services.tracing import GENERATION_ID, continued_span

blueprint = func.Blueprint()
log = logging.getLogger(__name__)


@blueprint.service_bus_queue_trigger(
    arg_name="message", queue_name=JOB_QUEUE, connection="ServiceBusConnection"
)
def advance(message: func.ServiceBusMessage) -> None:
    try:
        generation_id = UUID(json.loads(message.get_body())["generation_id"])
    except (ValueError, KeyError, TypeError):
        # A malformed message will never succeed: log and complete it rather than
        # burning ten deliveries on it.
        log.error("discarding malformed job message %s", message.message_id)
        return
    attributes = {GENERATION_ID: str(generation_id)}
    with (
        correlated(str(generation_id)),  # the generation's events carry the same id
        continued_span("generation.process", message.application_properties, attributes),
    ):
        state = advance_generation(platform(), generation_id)
        log.info("generation %s is %s", generation_id, state.status.value)


@blueprint.timer_trigger(arg_name="timer", schedule="*/30 * * * * *", run_on_startup=False)
def requeue_stuck(timer: func.TimerRequest) -> None:
    requeue_stuck_generations(platform())


@blueprint.timer_trigger(arg_name="timer", schedule="0 * * * * *", run_on_startup=False)
def expire_overdue(timer: func.TimerRequest) -> None:
    app = platform()
    expire_overdue_generations(app)
    release_orphaned_reservations(app)
