"""Webhook deliveries: one document per delivery, the fold of its `webhook-delivery-{id}`
stream, listed by department for `GET /webhooks/{department_id}/deliveries`.

A delivery has a stream once its first attempt is made (or it is dead-lettered before
one), so a notification still waiting in the queue for its first attempt is not listed
yet. Records made before they named their department are skipped.
"""

from __future__ import annotations

from datetime import datetime

from domain.streams import WEBHOOK_DELIVERY_PREFIX
from domain.webhooks import WebhookAttemptFailed, WebhookDeadLettered, WebhookDelivered
from projections.base import ApplyingEach, Fact, Projection, View, stamp, timestamp

NAME = "webhook_deliveries"
RETRYING, DELIVERED, DEAD_LETTERED = "retrying", "delivered", "dead_lettered"
_TYPES = frozenset({WebhookAttemptFailed.TYPE, WebhookDelivered.TYPE, WebhookDeadLettered.TYPE})


def keys(event: Fact) -> tuple[str, ...]:
    if (
        event.type in _TYPES
        and event.stream_id.startswith(WEBHOOK_DELIVERY_PREFIX)
        and event.data.get("department_id") is not None
    ):
        return (event.stream_id[len(WEBHOOK_DELIVERY_PREFIX) :],)
    return ()


def apply(view: View | None, event: Fact) -> View:
    if view is not None and event.version <= view["version"]:
        return view  # redelivered: already folded in
    data = event.data
    doc = _first(event) if view is None else view
    if event.type == WebhookAttemptFailed.TYPE:
        change = {
            "state": RETRYING if data["retry_at"] else doc["state"],
            "attempts": data["attempt"],
            "last_status": data.get("status_code"),
            "last_error": data["error"],
            "next_attempt_at": _moment(data["retry_at"]),
        }
    elif event.type == WebhookDelivered.TYPE:
        change = {
            "state": DELIVERED,
            "attempts": data["attempt"],
            "last_status": data["status_code"],
            "next_attempt_at": None,
        }
    else:
        change = {
            "state": DEAD_LETTERED,
            "attempts": data["attempts"],
            "last_error": data["last_error"],
            "next_attempt_at": None,
        }
    return {**doc, **change, "updated_at": stamp(event), "version": event.version}


def _moment(text: str | None) -> str | None:
    return None if text is None else timestamp(datetime.fromisoformat(text))


def _first(event: Fact) -> View:
    return {
        "delivery_id": event.stream_id[len(WEBHOOK_DELIVERY_PREFIX) :],
        "department_id": event.data["department_id"],
        "event": event.data["kind"],
        "state": RETRYING,
        "attempts": 0,
        "last_status": None,
        "last_error": None,
        "next_attempt_at": None,
        "first_recorded_at": stamp(event),
    }


PROJECTION = Projection(
    name=NAME,
    keys=keys,
    apply=apply,
    partition_field="department_id",
    fold=ApplyingEach(apply),
    types=_TYPES,
    keyed_by_stream=True,  # `webhook-delivery-{id}` feeds `{id}`
)
