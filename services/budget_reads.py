"""A department's budget state as the command side reads it: through the repository."""

from __future__ import annotations

from domain.budget import Budget, BudgetPolicy
from domain.streams import budget_policy_stream
from services.aggregates import BUDGET_MONTH, BUDGET_POLICY
from services.repository import Repository


def current_budget(repository: Repository, stream_id: str) -> Budget:
    return repository.load(BUDGET_MONTH, stream_id).state


def standing_policy(
    repository: Repository, department_id: str, default: BudgetPolicy
) -> BudgetPolicy:
    """The policy the department set last, or `default` when it never set one."""
    policy = repository.load(BUDGET_POLICY, budget_policy_stream(department_id)).state.policy
    return default if policy is None else policy
