"""Generation history, scoped to what the caller may see."""

from __future__ import annotations

from domain.access import Action, Principal, list_reach, refuse_outside
from services.context import Platform
from services.ports import HistoryQuery, Page


def list_generations(platform: Platform, principal: Principal, query: HistoryQuery) -> Page:
    reached = list_reach(principal, Action.GENERATION_LIST)
    refuse_outside(
        reached,
        Action.GENERATION_LIST,
        department_id=query.department_id,
        user_id=query.user_id,
    )
    return platform.views.history(reached, query)
