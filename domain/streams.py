"""Stream naming: one place that knows how ids map to streams."""

from uuid import UUID

GENERATION_PREFIX = "generation-"
BUDGET_PREFIX = "budget-"
BUDGET_POLICY_PREFIX = "budget-policy-"


def generation_stream(generation_id: UUID) -> str:
    return f"{GENERATION_PREFIX}{generation_id}"


def budget_stream(department_id: str, period: str) -> str:
    return f"{BUDGET_PREFIX}{department_id}-{period}"


def budget_policy_stream(department_id: str) -> str:
    return f"{BUDGET_POLICY_PREFIX}{department_id}"
