"""Stream naming: one place that knows how ids map to streams."""

import hashlib
import re
from datetime import date
from uuid import UUID

GENERATION_PREFIX = "generation-"
BUDGET_PREFIX = "budget-"
BUDGET_POLICY_PREFIX = "budget-policy-"
PROVIDER_PREFIX = "provider-"
QUOTA_PREFIX = "quota-"


def generation_stream(generation_id: UUID) -> str:
    return f"{GENERATION_PREFIX}{generation_id}"


def budget_stream(department_id: str, period: str) -> str:
    return f"{BUDGET_PREFIX}{department_id}-{period}"


def budget_policy_stream(department_id: str) -> str:
    return f"{BUDGET_POLICY_PREFIX}{department_id}"


def provider_stream(provider: str) -> str:
    """The stream of a provider's call outcomes, from which its circuit breaker follows."""
    return f"{PROVIDER_PREFIX}{provider}"


def quota_stream(user_id: str, day: date) -> str:
    """A user's image quota counter for one Sydney day.

    User ids are whatever the identity provider puts in `oid` or `sub`, of any length
    and alphabet, so the stream names a digest of the id (its events carry the id).
    """
    return f"{QUOTA_PREFIX}{user_digest(user_id)}-{day.isoformat()}"


def user_digest(user_id: str) -> str:
    """A user id as it may appear in a stream name: 128 bits of its SHA-256."""
    return hashlib.sha256(user_id.encode("utf-8")).hexdigest()[:32]


_DEPARTMENT_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")


def is_department_id(text: str) -> bool:
    """Department ids name streams and storage paths, so they are kept to a safe alphabet."""
    return _DEPARTMENT_ID.fullmatch(text) is not None


WEBHOOKS_PREFIX = "webhooks-"
WEBHOOK_DELIVERY_PREFIX = "webhook-delivery-"


def webhooks_stream(department_id: str) -> str:
    """A department's webhook subscription: registered, replaced, removed."""
    return f"{WEBHOOKS_PREFIX}{department_id}"


def webhook_delivery_stream(delivery_id: UUID) -> str:
    """One notification's delivery: its failed attempts, then delivered or dead-lettered."""
    return f"{WEBHOOK_DELIVERY_PREFIX}{delivery_id}"


REFUSALS_PREFIX = "refused-destinations-"


def refusals_stream(day: date) -> str:
    """Client-given URLs refused on one UTC day, as audit reads are kept per day."""
    return f"{REFUSALS_PREFIX}{day.isoformat()}"


PRIVACY_PREFIX = "privacy-"


def privacy_stream(user_id: str) -> str:
    """A data subject's erasures and access exports.

    Named after a digest of the user id, as quota streams are, so that stream names,
    which are listed, indexed and sealed, never carry an identifier in the clear.
    """
    return f"{PRIVACY_PREFIX}{user_digest(user_id)}"
