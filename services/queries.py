"""Generation history, scoped to what the caller may see."""

from __future__ import annotations

from dataclasses import replace

from domain.access import AccessDenied, Action, DenialReason, Principal, Scope, scope_for
from services.context import Platform
from services.ports import HistoryQuery, Page


def list_generations(platform: Platform, principal: Principal, query: HistoryQuery) -> Page:
    scope = scope_for(principal, Action.GENERATION_LIST)
    if scope is None:
        raise AccessDenied(DenialReason.NO_ROLE, Action.GENERATION_LIST)
    if scope is Scope.DEPARTMENT:
        if query.department_id not in (None, principal.department_id):
            raise AccessDenied(DenialReason.OTHER_DEPARTMENT, Action.GENERATION_LIST)
        query = replace(query, department_id=principal.department_id)
    elif scope is Scope.OWN:
        if query.user_id not in (None, principal.user_id):
            raise AccessDenied(DenialReason.NOT_OWNER, Action.GENERATION_LIST)
        query = replace(query, user_id=principal.user_id)
    return platform.views.history(query)
