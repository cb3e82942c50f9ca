"""Pure view functions over the event log, and the checkpointed runner that feeds them."""

from projections import budget, generation_status, provider_health, webhook_deliveries
from projections.base import Projection

ALL_PROJECTIONS: tuple[Projection, ...] = (
    generation_status.PROJECTION,
    budget.PROJECTION,
    budget.POLICY_PROJECTION,
    provider_health.PROJECTION,
    webhook_deliveries.PROJECTION,
)

__all__ = ["ALL_PROJECTIONS", "Projection"]
