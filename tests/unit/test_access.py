"""The permission matrix, walked cell by cell against a table written from DESIGN.md."""

from __future__ import annotations

import itertools

import pytest

from domain.access import (
    EVERYTHING,
    PERMISSIONS,
    AccessDenied,
    Action,
    DenialReason,
    Principal,
    Role,
    Scope,
    authorize,
    granted_scopes,
    list_reach,
)
from domain.envelope import Actor

A = Action
ORG, D, OWN = Scope.ORG, Scope.DEPARTMENT, Scope.OWN

# The policy, restated independently of domain/access.py so that a slip in either shows.
EXPECTED: dict[Role, dict[Action, Scope]] = {
    Role.PLATFORM_ADMIN: dict.fromkeys(Action, ORG),
    Role.ORG_ADMIN: dict.fromkeys(Action, ORG),
    Role.DEPT_MANAGER: {
        A.GENERATION_READ: D,
        A.GENERATION_LIST: D,
        A.IMAGE_READ: D,
        A.MODEL_LIST: ORG,
        A.PROVENANCE_VERIFY: ORG,
        A.BUDGET_READ: D,
        A.BUDGET_LIST: D,
        A.BUDGET_WRITE: D,
        A.WEBHOOK_READ: D,
        A.WEBHOOK_WRITE: D,
    },
    Role.GENERATOR_POWER: {
        A.GENERATION_CREATE: D,
        A.GENERATION_READ: OWN,
        A.GENERATION_LIST: OWN,
        A.IMAGE_READ: OWN,
        A.MODEL_LIST: ORG,
        A.PROVENANCE_VERIFY: ORG,
        A.PRIVACY_EXPORT: OWN,
    },
    Role.GENERATOR_STANDARD: {
        A.GENERATION_CREATE: D,
        A.GENERATION_READ: OWN,
        A.GENERATION_LIST: OWN,
        A.IMAGE_READ: OWN,
        A.MODEL_LIST: ORG,
        A.PROVENANCE_VERIFY: ORG,
        A.PRIVACY_EXPORT: OWN,
    },
    Role.FINANCE_READER: {
        A.MODEL_LIST: ORG,
        A.PROVENANCE_VERIFY: ORG,
        A.BUDGET_READ: ORG,
        A.BUDGET_LIST: ORG,
    },
    Role.COMPLIANCE_AUDITOR: {
        A.GENERATION_READ: ORG,
        A.GENERATION_LIST: ORG,
        A.IMAGE_READ: ORG,
        A.MODEL_LIST: ORG,
        A.PROVENANCE_VERIFY: ORG,
        A.AUDIT_READ: ORG,
        A.AUDIT_VERIFY: ORG,
        A.PRIVACY_EXPORT: ORG,
        A.PRIVACY_ERASE: ORG,
    },
}

ME, OTHER_USER = "user-me", "user-other"
MY_DEPT, OTHER_DEPT = "dept-mine", "dept-other"

# (resource department, resource owner) → which scopes reach it.
RESOURCES: dict[tuple[str | None, str | None], set[Scope]] = {
    (MY_DEPT, ME): {ORG, D, OWN},
    (MY_DEPT, OTHER_USER): {ORG, D},
    (OTHER_DEPT, ME): {ORG, OWN},
    (OTHER_DEPT, OTHER_USER): {ORG},
    (None, None): {ORG},
}


def widest(caller: Principal, action: Action) -> Scope | None:
    return max(granted_scopes(caller, action), default=None)


def principal(*roles: Role, department_id: str | None = MY_DEPT) -> Principal:
    return Principal(user_id=ME, roles=frozenset(roles), department_id=department_id, tenant_id="t")


def test_the_matrix_is_exactly_the_documented_policy() -> None:
    assert {role: dict(grants) for role, grants in PERMISSIONS.items()} == EXPECTED


def test_every_authenticated_role_may_list_models() -> None:
    assert all(EXPECTED[role][A.MODEL_LIST] is ORG for role in Role)


def test_finance_sees_nothing_about_prompts_or_images() -> None:
    finance = principal(Role.FINANCE_READER)
    for action in (A.GENERATION_READ, A.GENERATION_LIST, A.IMAGE_READ, A.AUDIT_READ):
        with pytest.raises(AccessDenied) as denied:
            authorize(finance, action, department_id=MY_DEPT, owner_id=ME)
        assert denied.value.reason is DenialReason.NO_ROLE


@pytest.mark.parametrize(
    ("role", "action", "resource"),
    list(itertools.product(Role, Action, RESOURCES)),
    ids=lambda value: str(value),
)
def test_each_role_action_and_resource(
    role: Role, action: Action, resource: tuple[str | None, str | None]
) -> None:
    department_id, owner_id = resource
    granted = EXPECTED[role].get(action)
    caller = principal(role)
    assert widest(caller, action) == granted
    if granted is not None and granted in RESOURCES[resource]:
        authorize(caller, action, department_id=department_id, owner_id=owner_id)
        return
    with pytest.raises(AccessDenied) as denied:
        authorize(caller, action, department_id=department_id, owner_id=owner_id)
    expected_reason = {
        None: DenialReason.NO_ROLE,
        D: DenialReason.OTHER_DEPARTMENT,
        OWN: DenialReason.NOT_OWNER,
    }[granted]
    assert denied.value.reason is expected_reason
    assert denied.value.action is action


@pytest.mark.parametrize("action", list(Action))
def test_no_roles_means_no_access(action: Action) -> None:
    nobody = principal()
    assert widest(nobody, action) is None
    with pytest.raises(AccessDenied) as denied:
        authorize(nobody, action, department_id=MY_DEPT, owner_id=ME)
    assert denied.value.reason is DenialReason.NO_ROLE


@pytest.mark.parametrize("department", [None, "", "Dept Mine"])
def test_a_department_scope_needs_the_principal_to_have_a_department(
    department: str | None,
) -> None:
    # An empty or invalid claim is no department either, even against a resource that
    # carries the very same value.
    homeless = principal(Role.DEPT_MANAGER, department_id=department)
    with pytest.raises(AccessDenied) as denied:
        authorize(homeless, A.BUDGET_READ, department_id=department)
    assert denied.value.reason is DenialReason.OTHER_DEPARTMENT


def test_own_scope_without_an_owner_denies() -> None:
    with pytest.raises(AccessDenied) as denied:
        authorize(principal(Role.GENERATOR_STANDARD), A.GENERATION_READ, department_id=MY_DEPT)
    assert denied.value.reason is DenialReason.NOT_OWNER


def test_roles_combine_a_manager_who_generates_keeps_their_own_history_elsewhere() -> None:
    both = principal(Role.DEPT_MANAGER, Role.GENERATOR_STANDARD)
    assert widest(both, A.GENERATION_READ) is D
    authorize(both, A.GENERATION_READ, department_id=OTHER_DEPT, owner_id=ME)
    authorize(both, A.GENERATION_READ, department_id=MY_DEPT, owner_id=OTHER_USER)
    with pytest.raises(AccessDenied) as denied:
        authorize(both, A.GENERATION_READ, department_id=OTHER_DEPT, owner_id=OTHER_USER)
    # The widest grant is the department one, so that is the failure named.
    assert denied.value.reason is DenialReason.OTHER_DEPARTMENT


def test_widest_scope_wins_for_list_filtering() -> None:
    power = Role.GENERATOR_POWER
    assert list_reach(principal(power, Role.COMPLIANCE_AUDITOR), A.GENERATION_LIST) == EVERYTHING
    assert list_reach(principal(power, Role.FINANCE_READER), A.BUDGET_LIST) == EVERYTHING
    with pytest.raises(AccessDenied):
        list_reach(principal(power), A.BUDGET_LIST)


def test_principal_becomes_the_event_actor() -> None:
    caller = Principal(
        user_id="u-1",
        roles=frozenset({Role.GENERATOR_STANDARD, Role.DEPT_MANAGER}),
        department_id="d-1",
        tenant_id="t-1",
    )
    assert caller.to_actor() == Actor(
        user_id="u-1", roles=("Dept.Manager", "Generator.Standard"), department_id="d-1"
    )


def test_denial_message_names_action_and_reason() -> None:
    with pytest.raises(AccessDenied, match=r"budget\.write denied: other_department"):
        authorize(principal(Role.DEPT_MANAGER), A.BUDGET_WRITE, department_id=OTHER_DEPT)
