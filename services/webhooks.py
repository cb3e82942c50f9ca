"""Registering a department's webhook, and the ports webhook delivery needs.

A manager registers one URL per department (admins any department); registering again
replaces the subscription and rotates its secret. The secret is derived from the
platform's webhook key (`domain.webhooks.subscription_secret`) and shown once, in the
answer to the registration: the log records only where it comes from.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import uuid4

from pydantic import BaseModel, ConfigDict, Field

from domain.access import Action, Principal, authorize
from domain.streams import is_department_id, webhooks_stream
from domain.webhooks import (
    Kind,
    Subscription,
    WebhookRegistered,
    WebhookRemoved,
    current_subscription,
    subscription_secret,
)
from services.aggregates import FACTS
from services.commands import Stamp, execute
from services.context import Platform
from services.errors import NotFound
from services.ports import EventStore, WorkQueue
from services.refusals import checked_destination

WEBHOOK_QUEUE = "webhook-deliveries"
DELIVERIES_VIEW = "webhook_deliveries"  # projections/webhook_deliveries.py
MAX_DELIVERIES = 100  # the most one answer lists
# The secret the subscription secrets derive from: its name, not its value.
WEBHOOK_KEY_SECRET = "webhook-signing-key"  # noqa: S105
SECRET_REF = f"derived:{WEBHOOK_KEY_SECRET}"  # the subscription id's HMAC under that key


class WebhookSendError(Exception):
    """No HTTP response came back (refused, reset, timed out, not a URL we can call)."""


class WebhookRefused(WebhookSendError):
    """The platform will not call this URL (`services.destinations`); retrying cannot help."""


class WebhookSender(Protocol):
    def post(self, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> int:
        """POST `body`; answer the response's status. Raises WebhookSendError."""
        ...


@dataclass(frozen=True)
class WebhookPorts:
    queue: WorkQueue  # the `webhook-deliveries` queue
    sender: WebhookSender
    signing_key: Callable[[], bytes]  # the platform's webhook key, read when needed


class WebhookRegistration(BaseModel):
    """The body of `PUT /webhooks/{department_id}`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str = Field(max_length=2048)
    events: tuple[Kind, ...] = Field(default=(Kind.BUDGET_THRESHOLD_CROSSED,), min_length=1)


def register_webhook(
    platform: Platform,
    signing_key: Callable[[], bytes],
    principal: Principal,
    department_id: str,
    registration: WebhookRegistration,
) -> dict[str, Any]:
    """Record the department's subscription; the answer carries its secret, once."""
    _known_shape(department_id)
    authorize(principal, Action.WEBHOOK_WRITE, department_id=department_id)
    url = checked_destination(platform, principal, "webhook_url", registration.url).url
    secret = signing_key()  # before recording: a platform without a key registers nothing
    registered = WebhookRegistered(
        department_id=department_id,
        subscription_id=uuid4(),
        url=url,
        kinds=tuple(dict.fromkeys(registration.events)),
        secret_ref=SECRET_REF,
    )
    _append(platform, principal, department_id, registered)
    subscription = find_subscription(platform.store, department_id)
    assert subscription is not None  # just recorded
    return {
        **describe(subscription),
        "secret": subscription_secret(secret, department_id, registered.subscription_id),
    }


def read_webhook(platform: Platform, principal: Principal, department_id: str) -> dict[str, Any]:
    _known_shape(department_id)
    authorize(principal, Action.WEBHOOK_READ, department_id=department_id)
    subscription = find_subscription(platform.store, department_id)
    if subscription is None:
        raise NotFound(f"department {department_id!r} has no webhook")
    return describe(subscription)


def list_deliveries(
    platform: Platform, principal: Principal, department_id: str, limit: int
) -> list[dict[str, Any]]:
    """The department's latest deliveries, newest first, as the deliveries view has them
    (a delivery's first attempt may take the view a moment to show)."""
    _known_shape(department_id)
    authorize(principal, Action.WEBHOOK_READ, department_id=department_id)
    deliveries = platform.views.list(DELIVERIES_VIEW, partition=department_id)
    newest = sorted(deliveries, key=lambda d: str(d["updated_at"]), reverse=True)
    return newest[:limit]


def remove_webhook(platform: Platform, principal: Principal, department_id: str) -> None:
    _known_shape(department_id)
    authorize(principal, Action.WEBHOOK_WRITE, department_id=department_id)
    subscription = find_subscription(platform.store, department_id)
    if subscription is None:
        raise NotFound(f"department {department_id!r} has no webhook")
    removed = WebhookRemoved(
        department_id=department_id, subscription_id=subscription.subscription_id
    )
    _append(platform, principal, department_id, removed)


def find_subscription(store: EventStore, department_id: str) -> Subscription | None:
    return current_subscription(store.read_stream(webhooks_stream(department_id)))


def describe(subscription: Subscription) -> dict[str, Any]:
    return {
        "department_id": subscription.department_id,
        "subscription_id": str(subscription.subscription_id),
        "url": subscription.url,
        "events": sorted(kind.value for kind in subscription.kinds),
        "registered_at": subscription.registered_at.isoformat(),
    }


def _append(
    platform: Platform,
    principal: Principal,
    department_id: str,
    payload: WebhookRegistered | WebhookRemoved,
) -> None:
    # Last writer wins (each change is decided without the one before); the log keeps all.
    execute(
        platform.repository,
        FACTS,
        webhooks_stream(department_id),
        lambda _: [payload],
        Stamp(uuid4(), principal.to_actor()),
    )


def _known_shape(department_id: str) -> None:
    if not is_department_id(department_id):
        raise NotFound(f"no department {department_id!r}")
