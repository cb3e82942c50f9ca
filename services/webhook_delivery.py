"""Webhook delivery: from recorded events to signed POSTs, at least once, off the pipeline.

`dispatch` turns one recorded event into delivery messages on the `webhook-deliveries`
queue (a threshold crossing for the department's subscription; a finished generation
for the subscription and for the request's `callback_url`). It runs behind the log (a
checkpointed reader locally, a change-feed trigger on Azure), so the pipeline never
waits on a receiver. Message ids are deterministic, so a redelivered event enqueues
nothing new within the queue's duplicate-detection window, and after it the delivery's
stream stops a second POST anyway.

`deliver` handles one message: one POST with a timeout. A failure is recorded and the
next attempt is a new message scheduled after an exponential backoff, so no worker
sleeps; after `webhook_max_attempts` a `WebhookDeadLettered` record ends the delivery.
A success records `WebhookDelivered`, after which any copy of the message does nothing.

Callbacks to `callback_url` are signed with the requesting department's webhook secret
(there is no platform-wide callback secret that every receiver would have to share); a
department without a webhook gets its callbacks dead-lettered at once, with the reason.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field

from domain.budget import BudgetThresholdCrossed
from domain.envelope import Event, canonical_json
from domain.generation import (
    GenerationCharged,
    GenerationFailed,
    GenerationRejected,
    GenerationRequested,
    PromptRejected,
)
from domain.money import aud_text
from domain.streams import webhook_delivery_stream
from domain.webhooks import (
    CALLBACK_TARGET,
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    Delivery,
    Kind,
    WebhookAttemptFailed,
    WebhookDeadLettered,
    WebhookDelivered,
    delivery_id,
    retry_delay,
    signature_header,
    subscription_secret,
    unrecorded,
)
from services.aggregates import WEBHOOK_DELIVERY
from services.commands import Stamp, execute
from services.context import Platform
from services.destinations import RefusedDestination, check_shape
from services.ports import OutgoingMessage
from services.repository import Loaded
from services.webhooks import WebhookPorts, WebhookRefused, WebhookSendError, find_subscription

log = logging.getLogger(__name__)

_FINISHED_STATUS = {
    GenerationCharged.TYPE: "charged",
    GenerationFailed.TYPE: "failed",
    GenerationRejected.TYPE: "rejected",
    PromptRejected.TYPE: "rejected",
}
DISPATCHED_TYPES = frozenset({BudgetThresholdCrossed.TYPE, *_FINISHED_STATUS})
_ERROR_LIMIT = 300  # a receiver's error text is kept short in the record


class DeliveryMessage(BaseModel):
    """The body of a `webhook-deliveries` message: everything but the secret."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    delivery_id: UUID
    attempt: int = Field(ge=1)
    department_id: str
    kind: Kind
    url: str
    subscription_id: UUID | None  # None: a callback, signed with the current subscription
    body: str  # the exact JSON sent, so every attempt sends the same bytes

    def outgoing(self, at: datetime | None = None) -> OutgoingMessage:
        return OutgoingMessage(
            message_id=f"{self.delivery_id}:{self.attempt}",
            body=self.model_dump_json().encode(),
            scheduled_enqueue_time=at,
        )


# --- dispatch ---------------------------------------------------------------------------


def dispatch(platform: Platform, ports: WebhookPorts, event: Event) -> int:
    """Enqueue the deliveries `event` calls for; answer how many."""
    messages = notifications(platform, event)
    for message in messages:
        ports.queue.send(message.outgoing())
    return len(messages)


def notifications(platform: Platform, event: Event) -> list[DeliveryMessage]:
    if event.type == BudgetThresholdCrossed.TYPE:
        crossed = BudgetThresholdCrossed.model_validate(event.data)
        data = {
            "period": crossed.period,
            "threshold_percent": crossed.threshold_percent,
            "spent_aud": aud_text(crossed.spent_aud),
            "limit_aud": aud_text(crossed.limit_aud),
        }
        return _for_subscription(
            platform, event, crossed.department_id, Kind.BUDGET_THRESHOLD_CROSSED, data
        )
    if event.type not in _FINISHED_STATUS:
        return []
    stream = platform.store.read_stream(event.stream_id, 1)
    if not stream or stream[0].type != GenerationRequested.TYPE:
        return []
    request = GenerationRequested.model_validate(stream[0].data)
    data = {"generation_id": str(request.generation_id), "status": _FINISHED_STATUS[event.type]}
    if event.type == GenerationCharged.TYPE:
        data["cost_aud"] = aud_text(GenerationCharged.model_validate(event.data).cost_aud)
    elif isinstance(reason := event.data.get("reason"), str):
        data["reason"] = reason
    department = request.department_id
    messages = _for_subscription(platform, event, department, Kind.GENERATION_COMPLETED, data)
    if request.callback_url is not None:
        callback = _message(
            event, department, Kind.GENERATION_COMPLETED, data, request.callback_url, None
        )
        if _callable(platform, callback):
            messages.append(callback)
    return messages


def _for_subscription(
    platform: Platform, event: Event, department_id: str, kind: Kind, data: dict[str, Any]
) -> list[DeliveryMessage]:
    subscription = find_subscription(platform.store, department_id)
    if subscription is None or kind not in subscription.kinds:
        return []
    return [
        _message(event, department_id, kind, data, subscription.url, subscription.subscription_id)
    ]


def _message(
    event: Event,
    department_id: str,
    kind: Kind,
    data: dict[str, Any],
    url: str,
    subscription_id: UUID | None,
) -> DeliveryMessage:
    target = CALLBACK_TARGET if subscription_id is None else str(subscription_id)
    identity = delivery_id(event.event_id, target)
    body = {
        "id": str(identity),
        "type": kind.value,
        "created_at": event.recorded_at.isoformat(),
        "department_id": department_id,
        "data": data,
    }
    return DeliveryMessage(
        delivery_id=identity,
        attempt=1,
        department_id=department_id,
        kind=kind,
        url=url,
        subscription_id=subscription_id,
        body=canonical_json(body),
    )


def _callable(platform: Platform, callback: DeliveryMessage) -> bool:
    """Whether the callback can be sent; if not, its dead-letter record says why."""
    try:  # where the URL points is checked by the sender, when it connects
        check_shape(callback.url, allow_private=platform.settings.webhook_allow_private)
    except RefusedDestination as error:
        _dead_letter(platform, callback, attempts=0, error=f"callback_url refused: {error}")
        return False
    if find_subscription(platform.store, callback.department_id) is None:
        reason = "the department has no webhook whose secret could sign the callback"
        _dead_letter(platform, callback, attempts=0, error=reason)
        return False
    return True


# --- delivery ---------------------------------------------------------------------------


def deliver(platform: Platform, ports: WebhookPorts, message: DeliveryMessage) -> str:
    """Make this message's attempt; answer what happened (for the log)."""
    stream = webhook_delivery_stream(message.delivery_id)
    loaded = platform.repository.load(WEBHOOK_DELIVERY, stream)
    state = loaded.state
    if state.finished:
        return "already finished"
    if message.attempt <= state.failed_attempts:
        if message.attempt == state.failed_attempts:
            # Its failure was recorded but the worker stopped before the retry was queued.
            _schedule_retry(platform, ports, message)
        return "attempt already made"
    subscription = find_subscription(platform.store, message.department_id)
    if subscription is None or message.subscription_id not in (
        None,
        subscription.subscription_id,
    ):
        _dead_letter(platform, message, message.attempt - 1, "the webhook was removed or replaced")
        return "dead-lettered: subscription gone"
    secret = subscription_secret(
        ports.signing_key(), message.department_id, subscription.subscription_id
    )
    body = message.body.encode()
    now = platform.clock()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "DonatelloAI-Webhooks/1",
        SIGNATURE_HEADER: signature_header(secret, int(now.timestamp()), body),
        DELIVERY_HEADER: str(message.delivery_id),
        EVENT_HEADER: message.kind.value,
    }
    error: str | None
    try:
        status = ports.sender.post(
            message.url, body, headers, platform.settings.webhook_timeout_seconds
        )
    except WebhookRefused as refused:  # policy, not a passing failure: no retry
        _dead_letter(platform, message, message.attempt, f"destination refused: {refused}")
        log.warning("webhook delivery %s refused: %s", message.delivery_id, refused)
        return "dead-lettered: destination refused"
    except WebhookSendError as failure:
        error = str(failure)[:_ERROR_LIMIT] or type(failure).__name__
        answered: int | None = None
    else:
        error = None if 200 <= status < 300 else f"HTTP {status}"
        answered = status
    if error is None:
        delivered = WebhookDelivered(attempt=message.attempt, status_code=status, **_of(message))
        _record(platform, loaded, message.attempt, delivered)
        return "delivered"
    return _after_failure(platform, ports, message, loaded, error, answered, now)


def _after_failure(
    platform: Platform,
    ports: WebhookPorts,
    message: DeliveryMessage,
    loaded: Loaded[Delivery],
    error: str,
    answered: int | None,
    now: datetime,
) -> str:
    config = platform.settings
    of = {**_of(message), "status_code": answered}
    if message.attempt >= config.webhook_max_attempts:
        failed = WebhookAttemptFailed(attempt=message.attempt, error=error, retry_at=None, **of)
        dead = WebhookDeadLettered(attempts=message.attempt, last_error=error, **_of(message))
        _record(platform, loaded, message.attempt, failed, dead)
        log.warning("webhook delivery %s dead-lettered: %s", message.delivery_id, error)
        return "dead-lettered"
    retry_at = now + timedelta(seconds=_delay(platform, message.attempt))
    failed = WebhookAttemptFailed(attempt=message.attempt, error=error, retry_at=retry_at, **of)
    if _record(platform, loaded, message.attempt, failed):
        _schedule_retry(platform, ports, message)
    return f"attempt {message.attempt} failed: {error}"


def _delay(platform: Platform, attempt: int) -> float:
    config = platform.settings
    return retry_delay(attempt, config.webhook_retry_base_seconds, config.webhook_retry_max_seconds)


def _schedule_retry(platform: Platform, ports: WebhookPorts, message: DeliveryMessage) -> None:
    at = platform.clock() + timedelta(seconds=_delay(platform, message.attempt))
    ports.queue.send(message.model_copy(update={"attempt": message.attempt + 1}).outgoing(at))


def _dead_letter(platform: Platform, message: DeliveryMessage, attempts: int, error: str) -> None:
    dead = WebhookDeadLettered(attempts=attempts, last_error=error, **_of(message))
    stream = webhook_delivery_stream(message.delivery_id)
    _record(platform, platform.repository.load(WEBHOOK_DELIVERY, stream), 0, dead)


def _of(message: DeliveryMessage) -> dict[str, Any]:
    return {"department_id": message.department_id, "kind": message.kind}


def _record(
    platform: Platform,
    loaded: Loaded[Delivery],
    attempt: int,
    *outcome: WebhookAttemptFailed | WebhookDelivered | WebhookDeadLettered,
) -> bool:
    """Record what attempt `attempt` came to (0: an end without an attempt) at `loaded`'s
    version; False when another worker recorded it, or the delivery's end, first
    (`domain.webhooks.unrecorded`)."""
    decided = execute(
        platform.repository,
        WEBHOOK_DELIVERY,
        loaded.stream_id,
        lambda state: unrecorded(state, attempt, outcome),
        Stamp(uuid4()),
        start=loaded,
    )
    return bool(decided.recorded)


def parse_message(raw: bytes) -> DeliveryMessage:
    """Raises pydantic.ValidationError for a body that is not a delivery message."""
    return DeliveryMessage.model_validate_json(raw)
