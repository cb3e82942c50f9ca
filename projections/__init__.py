"""Pure view functions over the event log, and the checkpointed runner that feeds them."""

from projections import budget, generation_status, provider_health, webhook_deliveries
from projections.base import Projection

# On Azure each of these is fed by a change-feed trigger of its own.
OWN_FEED_PROJECTIONS: tuple[Projection, ...] = (
    generation_status.PROJECTION,
    budget.PROJECTION,
    budget.POLICY_PROJECTION,
    provider_health.PROJECTION,
)
# The deliveries view is fed by the webhook dispatcher's trigger, which reads every event
# already: a trigger of its own would add a feed read and a lease checkpoint per batch
# (some 130 RU a generation, benchmarks.cosmos_ru) for a view few events touch.
ALL_PROJECTIONS: tuple[Projection, ...] = (*OWN_FEED_PROJECTIONS, webhook_deliveries.PROJECTION)

__all__ = ["ALL_PROJECTIONS", "OWN_FEED_PROJECTIONS", "Projection"]
