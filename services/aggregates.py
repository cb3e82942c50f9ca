"""The kinds of stream the command side decides on, each named with its fold.

`services.repository.Repository` loads any of them; the folds are the domain's. Those
whose streams grow without end (a month of a department's spending, a provider's every
call) are snapshotted; the rest are short enough to fold from the log.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain import budget, generation, privacy, quota, webhooks
from domain.budget import Budget, StandingPolicy
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
    "budget-policy", lambda _: StandingPolicy(), budget.evolve_standing
)
QUOTA_DAY: Aggregate[DailyQuota] = Aggregate("quota-day", lambda _: DailyQuota(), quota.evolve)
PRIVACY: Aggregate[PrivacyRecord] = Aggregate("privacy", lambda _: PrivacyRecord(), privacy.evolve)
PROVIDER_HEALTH: Aggregate[ProviderHealth] = Aggregate(
    "provider-health",
    lambda stream_id: ProviderHealth(stream_id.removeprefix(PROVIDER_PREFIX)),
    _health,
    to_snapshot=document_of,
    from_snapshot=health_of,
)
WEBHOOK_DELIVERY: Aggregate[Delivery] = Aggregate(
    "webhook-delivery", lambda _: Delivery(), webhooks.evolve_delivery
)
# A day's audit reads or refusals may run to many thousands: snapshotted, so that a
# process's first append of the day reads a snapshot and its tail, not the whole day.
FACTS: Aggregate[Head] = Aggregate(
    "facts",
    lambda _: Head(),
    lambda _, event: Head(event.version),
    to_snapshot=lambda head: {"version": head.version},
    from_snapshot=lambda state: Head(state["version"]),
)
