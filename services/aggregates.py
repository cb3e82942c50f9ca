"""The kinds of stream the command side decides on, each named with its fold.

`services.repository.Repository` loads any of them; the folds are the domain's. Every
stream that may grow long (a month of a department's spending, a provider's every call,
a day of audit reads, a user's quota day, a subject's privacy record, a department's
policy changes) has a snapshot codec, so a load folds at most `snapshot_every` events
past its snapshot; a generation's stream is bounded by its steps and folds from the log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from domain import budget, generation, privacy, quota, webhooks
from domain.budget import Budget, BudgetPolicy, StandingPolicy
from domain.envelope import Event
from domain.generation import Generation
from domain.privacy import PrivacyRecord
from domain.provider_health import ProviderHealth
from domain.provider_health import evolve as evolve_health
from domain.quota import DailyQuota
from domain.streams import PROVIDER_PREFIX
from domain.webhooks import Delivery
from projections.provider_health import document_of, health_of
from services.repository import Aggregate


@dataclass(frozen=True, slots=True)
class Head:
    """Where a stream of independent facts stands; nothing is decided on what it holds."""

    version: int = 0


def _health(state: ProviderHealth, event: Event) -> ProviderHealth:
    return evolve_health(state, event.type, event.data, event.recorded_at, event.version)


def _quota_of(snapshot: dict[str, Any]) -> DailyQuota:
    return DailyQuota(snapshot["version"], frozenset(UUID(g) for g in snapshot["consumed"]))


def _privacy_of(snapshot: dict[str, Any]) -> PrivacyRecord:
    erased_at = snapshot["erased_at"]
    return PrivacyRecord(
        snapshot["version"],
        None if erased_at is None else datetime.fromisoformat(erased_at),
        snapshot["exports"],
        snapshot["erased_version"],
    )


def _standing_of(snapshot: dict[str, Any]) -> StandingPolicy:
    policy = snapshot["policy"]
    return StandingPolicy(
        snapshot["version"], None if policy is None else BudgetPolicy.model_validate(policy)
    )


GENERATION: Aggregate[Generation] = Aggregate(
    "generation", lambda _: Generation(), generation.evolve
)
BUDGET_MONTH: Aggregate[Budget] = Aggregate(
    "budget-month",
    lambda _: Budget(),
    budget.evolve,
    to_snapshot=budget.snapshot_of,
    from_snapshot=budget.from_snapshot,
)
BUDGET_POLICY: Aggregate[StandingPolicy] = Aggregate(
    "budget-policy",
    lambda _: StandingPolicy(),
    budget.evolve_standing,
    to_snapshot=lambda state: {
        "version": state.version,
        "policy": None if state.policy is None else state.policy.model_dump(mode="json"),
    },
    from_snapshot=_standing_of,
)
QUOTA_DAY: Aggregate[DailyQuota] = Aggregate(
    "quota-day",
    lambda _: DailyQuota(),
    quota.evolve,
    to_snapshot=lambda state: {
        "version": state.version,
        "consumed": sorted(str(g) for g in state.consumed),
    },
    from_snapshot=_quota_of,
)
PRIVACY: Aggregate[PrivacyRecord] = Aggregate(
    "privacy",
    lambda _: PrivacyRecord(),
    privacy.evolve,
    to_snapshot=lambda state: {
        "version": state.version,
        "erased_at": None if state.erased_at is None else state.erased_at.isoformat(),
        "exports": state.exports,
        "erased_version": state.erased_version,
    },
    from_snapshot=_privacy_of,
)
PROVIDER_HEALTH: Aggregate[ProviderHealth] = Aggregate(
    "provider-health",
    lambda stream_id: ProviderHealth(stream_id.removeprefix(PROVIDER_PREFIX)),
    _health,
    to_snapshot=document_of,
    from_snapshot=health_of,
)
# A delivery's stream holds a few attempts and its end: folded from the log.
WEBHOOK_DELIVERY: Aggregate[Delivery] = Aggregate(
    "webhook-delivery", lambda _: Delivery(), webhooks.evolve_delivery
)
FACTS: Aggregate[Head] = Aggregate(
    "facts",
    lambda _: Head(),
    lambda _, event: Head(event.version),
    to_snapshot=lambda state: {"version": state.version},
    from_snapshot=lambda snapshot: Head(snapshot["version"]),
)
