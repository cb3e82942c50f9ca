"""Webhooks: a department's subscription, one notification's delivery, and the signature.

A department has at most one subscription (`webhooks-{department}`); registering again
replaces it, with a new subscription id and so a new signing secret. Each notification
(one event for one target) is delivered through its own stream
(`webhook-delivery-{delivery_id}`): failed attempts, then `WebhookDelivered` or
`WebhookDeadLettered`. A stream per delivery keeps the subscription stream small and
makes "recorded once" an expected-version append.

Signatures follow the common `t=<unix>,v1=<hex>` scheme: HMAC-SHA256, keyed with the
subscription's secret, over `f"{t}.{body}"`, so a replayed body with a new timestamp
does not verify and the receiver can bound the age it accepts.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import ClassVar
from uuid import UUID, uuid5

from domain.envelope import Event
from domain.generation import Payload

SIGNATURE_HEADER = "X-Donatello-Signature"
DELIVERY_HEADER = "X-Donatello-Delivery"
EVENT_HEADER = "X-Donatello-Event"
SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix that marks a secret, not one)
DEFAULT_TOLERANCE_SECONDS = 300
CALLBACK_TARGET = "callback"
# Fixed for ever: delivery ids derive from it, and a redelivered event must map to the same.
_DELIVERY_NAMESPACE = UUID("5d0c7a0e-8f1b-4c52-9b3e-2f6a1d9e4b71")


class Kind(StrEnum):
    """What a notification is about; subscribers choose the kinds they want."""

    BUDGET_THRESHOLD_CROSSED = "budget.threshold_crossed"
    GENERATION_COMPLETED = "generation.completed"


class WebhookRegistered(Payload):
    TYPE: ClassVar[str] = "WebhookRegistered"

    department_id: str
    subscription_id: UUID
    url: str
    kinds: tuple[Kind, ...]
    # Where the signing secret comes from; the secret itself is never recorded.
    secret_ref: str


class WebhookRemoved(Payload):
    TYPE: ClassVar[str] = "WebhookRemoved"

    department_id: str
    subscription_id: UUID


class DeliveryOf(Payload):
    """Whose notification of what kind a delivery record is about, for the deliveries
    view; None on records made before the view existed (the view skips those)."""

    department_id: str | None = None
    kind: Kind | None = None


class WebhookAttemptFailed(DeliveryOf):
    TYPE: ClassVar[str] = "WebhookAttemptFailed"

    attempt: int
    error: str
    retry_at: datetime | None
    status_code: int | None = None  # the receiver's answer, when there was one


class WebhookDelivered(DeliveryOf):
    TYPE: ClassVar[str] = "WebhookDelivered"

    attempt: int
    status_code: int


class WebhookDeadLettered(DeliveryOf):
    TYPE: ClassVar[str] = "WebhookDeadLettered"

    attempts: int
    last_error: str


WEBHOOK_EVENTS: dict[str, type[Payload]] = {
    cls.TYPE: cls
    for cls in (
        WebhookRegistered,
        WebhookRemoved,
        WebhookAttemptFailed,
        WebhookDelivered,
        WebhookDeadLettered,
    )
}


@dataclass(frozen=True, slots=True)
class Subscription:
    department_id: str
    subscription_id: UUID
    url: str
    kinds: frozenset[Kind]
    registered_at: datetime


def current_subscription(events: Iterable[Event]) -> Subscription | None:
    """The subscription in force after `events` (a `webhooks-{department}` stream)."""
    current: Subscription | None = None
    for event in events:
        if event.type == WebhookRegistered.TYPE:
            registered = WebhookRegistered.model_validate(event.data)
            current = Subscription(
                department_id=registered.department_id,
                subscription_id=registered.subscription_id,
                url=registered.url,
                kinds=frozenset(registered.kinds),
                registered_at=event.recorded_at,
            )
        elif event.type == WebhookRemoved.TYPE:
            removed = WebhookRemoved.model_validate(event.data)
            if current is not None and current.subscription_id == removed.subscription_id:
                current = None
    return current


@dataclass(frozen=True, slots=True)
class Delivery:
    """What one delivery's stream says so far."""

    version: int = 0
    failed_attempts: int = 0
    finished: bool = False  # delivered or dead-lettered: nothing more will be sent


def evolve_delivery(state: Delivery, event: Event) -> Delivery:
    return Delivery(
        version=event.version,
        failed_attempts=state.failed_attempts + (event.type == WebhookAttemptFailed.TYPE),
        finished=state.finished or event.type in (WebhookDelivered.TYPE, WebhookDeadLettered.TYPE),
    )


def delivery_state(events: Sequence[Event]) -> Delivery:
    state = Delivery()
    for event in events:
        state = evolve_delivery(state, event)
    return state


def unrecorded(state: Delivery, attempt: int, outcome: Sequence[DeliveryOf]) -> list[DeliveryOf]:
    """What to record of `outcome`, what attempt number `attempt` came to (0 for an end
    made without an attempt): nothing once the delivery is finished, or once that
    attempt's failure is recorded, since another worker handed the same message got
    there first (and scheduled what follows it)."""
    if state.finished or (attempt and state.failed_attempts >= attempt):
        return []
    return list(outcome)


def delivery_id(event_id: UUID, target: str) -> UUID:
    """The same event for the same target is the same delivery, however often it is seen."""
    return uuid5(_DELIVERY_NAMESPACE, f"{event_id}:{target}")


def retry_delay(attempt: int, base_seconds: float, max_seconds: float) -> float:
    """Exponential backoff after failed attempt number `attempt` (1-based), capped."""
    return min(base_seconds * 2.0 ** min(attempt - 1, 30), max_seconds)


def subscription_secret(platform_key: bytes, department_id: str, subscription_id: UUID) -> str:
    """The subscription's signing secret, derived from the platform's webhook key.

    Nothing stores it: whoever holds the platform key can derive it again, and a new
    registration (a new subscription id) rotates it.
    """
    message = f"donatello-webhook:{department_id}:{subscription_id}".encode()
    return SECRET_PREFIX + hmac.new(platform_key, message, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode() + b"." + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_signature(
    secret: str,
    header: str,
    body: bytes,
    now: int,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
) -> bool:
    """True when `header` (X-Donatello-Signature) signs `body` with `secret` and its
    timestamp is within `tolerance_seconds` of `now` (Unix seconds)."""
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        parts.setdefault(key, []).append(value)
    try:
        timestamp = int(parts["t"][0])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance_seconds:
        return False
    expected = signature_header(secret, timestamp, body).rpartition("v1=")[2]
    return any(hmac.compare_digest(expected, given) for given in parts.get("v1", []))
