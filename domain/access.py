"""Who may do what: roles, the actions they guard, and the one permission matrix.

The matrix maps each Entra app role to the actions it grants and the scope of each
grant. `authorize` answers one request against a concrete resource; `scope_for`
gives the widest scope for filtering a list. Nothing else in the code base decides
access, so the matrix below is the whole policy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from types import MappingProxyType

from domain.envelope import Actor


class Role(StrEnum):
    PLATFORM_ADMIN = "Platform.Admin"
    ORG_ADMIN = "Org.Admin"
    DEPT_MANAGER = "Dept.Manager"
    GENERATOR_POWER = "Generator.Power"
    GENERATOR_STANDARD = "Generator.Standard"
    FINANCE_READER = "Finance.Reader"
    COMPLIANCE_AUDITOR = "Compliance.Auditor"


class Action(StrEnum):
    GENERATION_CREATE = "generation.create"
    GENERATION_READ = "generation.read"
    GENERATION_LIST = "generation.list"
    IMAGE_READ = "image.read"
    MODEL_LIST = "model.list"
    BUDGET_READ = "budget.read"
    BUDGET_LIST = "budget.list"
    BUDGET_WRITE = "budget.write"
    WEBHOOK_READ = "webhook.read"
    WEBHOOK_WRITE = "webhook.write"
    AUDIT_READ = "audit.read"
    AUDIT_VERIFY = "audit.verify"
    PRIVACY_EXPORT = "privacy.export"
    PRIVACY_ERASE = "privacy.erase"
    POLICY_READ = "policy.read"  # the screening policy in force: admins only


class Scope(IntEnum):
    """How far a grant reaches; a larger value reaches further."""

    OWN = 1  # resources the principal owns, whatever department they sit in
    DEPARTMENT = 2  # resources of the principal's own department
    ORG = 3  # every resource


class DenialReason(StrEnum):
    NO_ROLE = "no_role"
    OTHER_DEPARTMENT = "other_department"
    NOT_OWNER = "not_owner"


class AccessDenied(Exception):
    """The principal may not perform the action on this resource (HTTP 403)."""

    def __init__(self, reason: DenialReason, action: Action) -> None:
        super().__init__(f"{action.value} denied: {reason.value}")
        self.reason = reason
        self.action = action


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller, as the identity provider vouched for it."""

    user_id: str
    roles: frozenset[Role]
    department_id: str | None
    tenant_id: str | None

    def to_actor(self) -> Actor:
        return Actor(
            user_id=self.user_id,
            roles=tuple(sorted(role.value for role in self.roles)),
            department_id=self.department_id,
        )


_ADMIN: Mapping[Action, Scope] = {action: Scope.ORG for action in Action}

# Requesters create in their own department (its budget pays) and see only their
# own work. Power and Standard differ in what they may generate, not in access.
_GENERATOR: Mapping[Action, Scope] = {
    Action.GENERATION_CREATE: Scope.DEPARTMENT,
    Action.GENERATION_READ: Scope.OWN,
    Action.GENERATION_LIST: Scope.OWN,
    Action.IMAGE_READ: Scope.OWN,
    Action.MODEL_LIST: Scope.ORG,
    # A subject-access request: everyone may have what is held about themselves.
    Action.PRIVACY_EXPORT: Scope.OWN,
}

PERMISSIONS: Mapping[Role, Mapping[Action, Scope]] = MappingProxyType(
    {
        Role.PLATFORM_ADMIN: MappingProxyType(dict(_ADMIN)),
        Role.ORG_ADMIN: MappingProxyType(dict(_ADMIN)),
        Role.DEPT_MANAGER: MappingProxyType(
            {
                Action.GENERATION_READ: Scope.DEPARTMENT,
                Action.GENERATION_LIST: Scope.DEPARTMENT,
                Action.IMAGE_READ: Scope.DEPARTMENT,
                Action.MODEL_LIST: Scope.ORG,
                Action.BUDGET_READ: Scope.DEPARTMENT,
                Action.BUDGET_LIST: Scope.DEPARTMENT,
                Action.BUDGET_WRITE: Scope.DEPARTMENT,
                Action.WEBHOOK_READ: Scope.DEPARTMENT,
                Action.WEBHOOK_WRITE: Scope.DEPARTMENT,
            }
        ),
        Role.GENERATOR_POWER: MappingProxyType(dict(_GENERATOR)),
        Role.GENERATOR_STANDARD: MappingProxyType(dict(_GENERATOR)),
        # Finance sees money, never prompts or images.
        Role.FINANCE_READER: MappingProxyType(
            {
                Action.MODEL_LIST: Scope.ORG,
                Action.BUDGET_READ: Scope.ORG,
                Action.BUDGET_LIST: Scope.ORG,
            }
        ),
        # Compliance must be able to look at what was generated to judge it.
        Role.COMPLIANCE_AUDITOR: MappingProxyType(
            {
                Action.GENERATION_READ: Scope.ORG,
                Action.GENERATION_LIST: Scope.ORG,
                Action.IMAGE_READ: Scope.ORG,
                Action.MODEL_LIST: Scope.ORG,
                Action.AUDIT_READ: Scope.ORG,
                Action.AUDIT_VERIFY: Scope.ORG,
                Action.PRIVACY_EXPORT: Scope.ORG,
                Action.PRIVACY_ERASE: Scope.ORG,
            }
        ),
    }
)


def granted_scopes(principal: Principal, action: Action) -> frozenset[Scope]:
    """Every scope any of the principal's roles grants for `action`."""
    return frozenset(
        scope for role in principal.roles if (scope := PERMISSIONS[role].get(action)) is not None
    )


def scope_for(principal: Principal, action: Action) -> Scope | None:
    """The widest scope the principal holds for `action`, or None when it holds none."""
    return max(granted_scopes(principal, action), default=None)


def authorize(
    principal: Principal,
    action: Action,
    *,
    department_id: str | None = None,
    owner_id: str | None = None,
) -> None:
    """Raise AccessDenied unless some role lets `principal` act on this resource.

    `department_id` and `owner_id` describe the resource; a scope that needs one
    which is not given does not match, so a forgotten argument denies, never allows.
    """
    scopes = granted_scopes(principal, action)
    if not scopes:
        raise AccessDenied(DenialReason.NO_ROLE, action)
    if Scope.ORG in scopes:
        return
    if Scope.DEPARTMENT in scopes and _same_department(principal, department_id):
        return
    if Scope.OWN in scopes and owner_id is not None and owner_id == principal.user_id:
        return
    # Name the failure of the widest grant: that is the one the caller expected to hold.
    widest = max(scopes)
    reason = DenialReason.OTHER_DEPARTMENT if widest is Scope.DEPARTMENT else DenialReason.NOT_OWNER
    raise AccessDenied(reason, action)


def authorize_owner(principal: Principal, action: Action, owner_id: str) -> None:
    """For what no role reaches beyond its owner (a prompt's text): the owner alone, so
    neither their manager nor an admin nor compliance reads it through the API."""
    if owner_id != principal.user_id:
        raise AccessDenied(DenialReason.NOT_OWNER, action)


def _same_department(principal: Principal, department_id: str | None) -> bool:
    return principal.department_id is not None and department_id == principal.department_id
