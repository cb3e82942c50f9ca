"""What a grant reaches: a department scope needs a valid department, or reaches nothing."""

from __future__ import annotations

import pytest

from domain.access import (
    EVERYTHING,
    NOTHING,
    PERMISSIONS,
    AccessDenied,
    Action,
    DenialReason,
    Everything,
    InDepartment,
    Nothing,
    OwnedBy,
    Principal,
    Reach,
    Role,
    Scope,
    authorize,
    covers,
    home_department,
    list_reach,
    reach,
    refuse_outside,
)
from services.ports import HistoryQuery, history_equalities

A = Action
ME, MY_DEPT = "user-me", "dept-mine"
# A missing claim, an empty one, and claims that are not department ids (a misnamed
# claim can carry anything: a display name, another case, a path).
NO_DEPARTMENT = (None, "", "Dept-Mine", "dept mine", "../dept-mine", "d" * 64, " dept-mine")
DEPARTMENT_GRANTS = [
    (role, action)
    for role, grants in PERMISSIONS.items()
    for action, scope in grants.items()
    if scope is Scope.DEPARTMENT
]


def principal(*roles: Role, department_id: str | None = MY_DEPT) -> Principal:
    return Principal(user_id=ME, roles=frozenset(roles), department_id=department_id, tenant_id="t")


def test_the_matrix_has_department_grants_to_check() -> None:
    assert {role for role, _ in DEPARTMENT_GRANTS} == {
        Role.DEPT_MANAGER,
        Role.GENERATOR_POWER,
        Role.GENERATOR_STANDARD,
    }


@pytest.mark.parametrize("department", NO_DEPARTMENT)
@pytest.mark.parametrize(("role", "action"), DEPARTMENT_GRANTS)
def test_a_department_grant_without_a_valid_department_authorizes_nothing(
    role: Role, action: Action, department: str | None
) -> None:
    caller = principal(role, department_id=department)
    assert home_department(caller) is None
    assert reach(caller, Scope.DEPARTMENT) == NOTHING
    # Not even a resource carrying the same unusable value, nor one with no department.
    for resource in {department, None, "", MY_DEPT, "dept-other"}:
        with pytest.raises(AccessDenied) as denied:
            authorize(caller, action, department_id=resource)
        assert denied.value.reason is DenialReason.OTHER_DEPARTMENT


@pytest.mark.parametrize("department", NO_DEPARTMENT)
def test_a_manager_without_a_valid_department_lists_nothing(department: str | None) -> None:
    manager = principal(Role.DEPT_MANAGER, department_id=department)
    for action in (A.GENERATION_LIST, A.BUDGET_LIST):
        assert list_reach(manager, action) == NOTHING
        assert list_reach(manager, action) != EVERYTHING


def test_a_valid_department_is_reached_and_only_it() -> None:
    manager = principal(Role.DEPT_MANAGER)
    assert home_department(manager) == MY_DEPT
    assert list_reach(manager, A.GENERATION_LIST) == InDepartment(MY_DEPT)
    authorize(manager, A.BUDGET_READ, department_id=MY_DEPT)
    with pytest.raises(AccessDenied):
        authorize(manager, A.BUDGET_READ, department_id="dept-other")


def test_a_department_grant_that_reaches_nothing_gives_way_to_an_own_grant() -> None:
    both = principal(Role.DEPT_MANAGER, Role.GENERATOR_STANDARD, department_id=None)
    assert list_reach(both, A.GENERATION_LIST) == OwnedBy(ME)
    authorize(both, A.GENERATION_READ, department_id="dept-other", owner_id=ME)


def test_list_reach_of_org_own_and_no_grant() -> None:
    auditor = principal(Role.COMPLIANCE_AUDITOR, department_id=None)
    assert list_reach(auditor, A.GENERATION_LIST) == EVERYTHING
    assert list_reach(principal(Role.GENERATOR_POWER), A.GENERATION_LIST) == OwnedBy(ME)
    with pytest.raises(AccessDenied) as denied:
        list_reach(principal(Role.FINANCE_READER), A.GENERATION_LIST)
    assert denied.value.reason is DenialReason.NO_ROLE


def test_reaches_cannot_be_built_around_the_rule() -> None:
    for bad in ("", "Dept-Mine", "../x"):
        with pytest.raises(ValueError, match="department id"):
            InDepartment(bad)
    with pytest.raises(ValueError, match="user id"):
        OwnedBy("")
    # Each case is its own type: none is equal to another, whatever it holds.
    cases: list[Reach] = [Everything(), Nothing(), InDepartment(MY_DEPT), OwnedBy(ME)]
    assert len(set(cases)) == len(cases)


@pytest.mark.parametrize(
    ("reached", "department_id", "owner_id", "expected"),
    [
        (EVERYTHING, None, None, True),
        (EVERYTHING, "d", "u", True),
        (NOTHING, MY_DEPT, ME, False),
        (NOTHING, None, None, False),
        (InDepartment(MY_DEPT), MY_DEPT, None, True),
        (InDepartment(MY_DEPT), "dept-other", ME, False),
        (InDepartment(MY_DEPT), None, ME, False),
        (OwnedBy(ME), None, ME, True),
        (OwnedBy(ME), MY_DEPT, None, False),
        (OwnedBy(ME), MY_DEPT, "someone", False),
    ],
)
def test_covers(
    reached: Reach, department_id: str | None, owner_id: str | None, expected: bool
) -> None:
    assert covers(reached, department_id=department_id, owner_id=owner_id) is expected


def test_a_list_naming_what_its_reach_excludes_is_refused() -> None:
    action = A.GENERATION_LIST
    refuse_outside(InDepartment(MY_DEPT), action, department_id=MY_DEPT, user_id="anyone")
    refuse_outside(OwnedBy(ME), action, department_id="any", user_id=ME)
    refuse_outside(EVERYTHING, action, department_id="any", user_id="anyone")
    refuse_outside(NOTHING, action, department_id=None, user_id="anyone")  # an empty list
    for reached, department, user, reason in (
        (InDepartment(MY_DEPT), "dept-other", None, DenialReason.OTHER_DEPARTMENT),
        (NOTHING, MY_DEPT, None, DenialReason.OTHER_DEPARTMENT),
        (OwnedBy(ME), None, "someone", DenialReason.NOT_OWNER),
    ):
        with pytest.raises(AccessDenied) as denied:
            refuse_outside(reached, action, department_id=department, user_id=user)
        assert denied.value.reason is reason


def test_history_equalities_put_the_reach_before_the_query() -> None:
    query = HistoryQuery(user_id="u-1", department_id="d-2", status="charged")
    asked = [("user_id", "u-1"), ("department_id", "d-2"), ("status", "charged")]
    assert history_equalities(NOTHING, query) is None
    assert history_equalities(EVERYTHING, HistoryQuery()) == []
    assert history_equalities(EVERYTHING, query) == asked
    assert history_equalities(InDepartment("d-1"), query) == [("department_id", "d-1"), *asked]
    assert history_equalities(OwnedBy("u-9"), HistoryQuery()) == [("user_id", "u-9")]
