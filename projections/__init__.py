"""Pure view functions over the event log, and the checkpointed runner that feeds them."""

from projections import budget, generation_status, provider_health
from projections.base import Projection

ALL_PROJECTIONS: tuple[Projection, ...] = (
    generation_status.PROJECTION,
    budget.PROJECTION,
    budget.POLICY_PROJECTION,
    provider_health.PROJECTION,
)

__all__ = ["ALL_PROJECTIONS", "Projection"]
