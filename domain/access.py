"""Who may do what: roles, the actions they guard, and the one permission matrix.

The matrix maps each Entra app role to the actions it grants and the scope of each
grant. `reach` says what one grant covers for a given principal, and is the only place
that turns the principal's department into access: a department scope reaches the
principal's department only when it is a valid department id, and nothing otherwise.
`authorize` answers one request against a concrete resource; `list_reach` gives the
`Reach` a list is filtered by. Nothing else in the code base decides access, so the
matrix below is the whole policy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from types import MappingProxyType
from typing import assert_never

from domain.envelope import Actor
from domain.streams import is_department_id


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
    # Anyone may ask whether an image is ours: the answer shows what the file's own
    # manifest already says, and whether the log agrees; nothing more of the log.
    PROVENANCE_VERIFY = "provenance.verify"
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
    Action.PROVENANCE_VERIFY: Scope.ORG,
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
                Action.PROVENANCE_VERIFY: Scope.ORG,
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
                Action.PROVENANCE_VERIFY: Scope.ORG,
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
                Action.PROVENANCE_VERIFY: Scope.ORG,
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


# What a grant covers, made concrete for one principal. Each case is its own type so that
# "every resource" can never be spelled the way "the caller's department" is (a None
# department once meant both, and a manager without one saw every department).


@dataclass(frozen=True, slots=True)
class Everything:
    """Every resource of the organisation."""


@dataclass(frozen=True, slots=True)
class InDepartment:
    """The resources of one department."""

    department_id: str

    def __post_init__(self) -> None:
        if not is_department_id(self.department_id):
            raise ValueError(f"not a department id: {self.department_id!r}")


@dataclass(frozen=True, slots=True)
class OwnedBy:
    """The resources one person owns, in whatever department."""

    user_id: str

    def __post_init__(self) -> None:
        if not self.user_id:
            raise ValueError("an owner needs a user id")


@dataclass(frozen=True, slots=True)
class Nothing:
    """No resource at all."""


Reach = Everything | InDepartment | OwnedBy | Nothing
EVERYTHING, NOTHING = Everything(), Nothing()


def covers(reach: Reach, *, department_id: str | None, owner_id: str | None) -> bool:
    """Whether a resource of `department_id`, owned by `owner_id`, lies within `reach`.

    A resource attribute that is not given matches no case that needs it."""
    match reach:
        case Everything():
            return True
        case InDepartment():
            return department_id == reach.department_id
        case OwnedBy():
            return owner_id == reach.user_id
        case Nothing():
            return False
        case _:
            assert_never(reach)


def home_department(principal: Principal) -> str | None:
    """The principal's department if the token names a valid one, else None.

    A missing claim, an empty one and one that is not a department id (a misnamed
    `DONATELLO_DEPARTMENT_CLAIM`, a daemon's token) all mean: no department."""
    department = principal.department_id
    return department if department is not None and is_department_id(department) else None


def reach(principal: Principal, scope: Scope) -> Reach:
    """What a grant of `scope` covers for `principal`."""
    match scope:
        case Scope.ORG:
            return EVERYTHING
        case Scope.DEPARTMENT:
            department = home_department(principal)
            return NOTHING if department is None else InDepartment(department)
        case Scope.OWN:
            return OwnedBy(principal.user_id) if principal.user_id else NOTHING
        case _:
            assert_never(scope)


def list_reach(principal: Principal, action: Action) -> Reach:
    """What a list guarded by `action` shows `principal`: its widest grant that covers
    anything (a department grant without a department gives way to an own grant).

    Raises AccessDenied when no role grants `action` at all; a principal whose grants
    cover nothing gets `Nothing`, and so an empty list."""
    scopes = granted_scopes(principal, action)
    if not scopes:
        raise AccessDenied(DenialReason.NO_ROLE, action)
    for scope in sorted(scopes, reverse=True):
        if not isinstance(reached := reach(principal, scope), Nothing):
            return reached
    return NOTHING


def refuse_outside(
    reached: Reach, action: Action, *, department_id: str | None, user_id: str | None
) -> None:
    """Raise AccessDenied when a list asks by name for a department or a person that
    `reached` excludes: asking is refused, not answered with an empty list."""
    match reached:
        case InDepartment() | Nothing() if department_id is not None and not covers(
            reached, department_id=department_id, owner_id=None
        ):
            raise AccessDenied(DenialReason.OTHER_DEPARTMENT, action)
        case OwnedBy() if user_id is not None and user_id != reached.user_id:
            raise AccessDenied(DenialReason.NOT_OWNER, action)


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
    if any(
        covers(reach(principal, scope), department_id=department_id, owner_id=owner_id)
        for scope in scopes
    ):
        return
    # Name the failure of the widest grant: that is the one the caller expected to hold.
    widest = max(scopes)
    reason = DenialReason.OTHER_DEPARTMENT if widest is Scope.DEPARTMENT else DenialReason.NOT_OWNER
    raise AccessDenied(reason, action)


def authorize_owner(principal: Principal, action: Action, owner_id: str) -> None:
    """For what no role reaches beyond its owner (a prompt's text): the owner alone, so
    neither their manager nor an admin nor compliance reads it through the API."""
    if not covers(reach(principal, Scope.OWN), department_id=None, owner_id=owner_id):
        raise AccessDenied(DenialReason.NOT_OWNER, action)
