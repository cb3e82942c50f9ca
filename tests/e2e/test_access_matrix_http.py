"""The permission matrix, walked through the real HTTP API.

Every route the app declares, every role, and whose resource it is (the caller's own,
a teammate's in the caller's department, someone's in another department) is asked
over HTTP, and the answer is checked against `domain.access.authorize` for that
resource: 403 where the matrix denies (404 where the caller's role reads some of a
kind of resource but not this one, which must not be told from a missing one),
success (or 404 where the resource may be gone) where it allows. A route the app
declares without an entry here fails the test, so a new route cannot ship without
saying which action it guards.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from PIL import Image

from domain.access import AccessDenied, Action, Principal, Role, authorize, granted_scopes
from tests.function_app_triggers import http_routes
from tests.platform_process import RunningPlatform, running_platform

HOME, AWAY = "alpha", "beta"
CALLER = "u-alpha"  # every role's caller: the same person, so "self" is theirs


@dataclass(frozen=True)
class Target:
    """Whose resource a request is about."""

    name: str
    user_id: str
    department_id: str


SELF = Target("self", CALLER, HOME)
TEAMMATE = Target("teammate", "u-mate", HOME)
OTHER = Target("other department", "u-beta", AWAY)


@dataclass(frozen=True)
class World:
    """The resources the walk asks about: one charged generation per target."""

    generations: dict[str, str]  # target name -> generation id
    image_link: str  # a drop-in face's signed, expiring link to SELF's image


@dataclass(frozen=True)
class RouteCase:
    """How to ask a route about a target, and which action guards it.

    `owned`: the resource belongs to the target's user (generations, a subject's data);
    otherwise it belongs to the target's department (budgets, webhooks). `targets`:
    the targets the request can name; a route that names no resource (a list of the
    caller's own, a create in the caller's department) is asked once, about SELF.
    """

    action: Action | None  # None: public, no token needed
    request: Callable[[httpx.Client, Target, World], httpx.Response]
    owned: bool = False
    targets: tuple[Target, ...] = (SELF,)
    gone_is_fine: bool = False  # a 404 after an earlier allowed call removed it
    hidden: bool = False  # denied as missing (404) when the role reads some of its kind
    openai_shape: bool = False  # the drop-in face: refusals in OpenAI's error shape
    owner_only: bool = False  # beyond the matrix, only the resource's own user (a prompt)


ALL_TARGETS = (SELF, TEAMMATE, OTHER)
DEPARTMENTS = (SELF, OTHER)
BUDGET = {"monthly_limit_aud": "500.00", "enforcement": "hard", "strategy": "balanced"}
PUBLIC_HOOK = {"url": "https://93.184.215.14/hook"}


def _outside_png() -> bytes:
    """An image the platform never made: verify answers it (no credentials) to whoever may ask."""
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def _generation(world: World, target: Target) -> str:
    return world.generations[target.name]


ROUTES: dict[tuple[str, str], RouteCase] = {
    ("POST", "v1/generations"): RouteCase(
        Action.GENERATION_CREATE,
        lambda c, t, w: c.post("/api/v1/generations", json={"prompt": "a kite"}),
    ),
    ("GET", "v1/generations"): RouteCase(
        Action.GENERATION_LIST,
        lambda c, t, w: c.get(
            "/api/v1/generations", params={"user_id": t.user_id, "department_id": t.department_id}
        ),
        owned=True,
        targets=ALL_TARGETS,
    ),
    ("GET", "v1/generations/{id}"): RouteCase(
        Action.GENERATION_READ,
        lambda c, t, w: c.get(f"/api/v1/generations/{_generation(w, t)}"),
        owned=True,
        targets=ALL_TARGETS,
        hidden=True,
    ),
    ("GET", "v1/generations/{id}/image"): RouteCase(
        Action.IMAGE_READ,
        lambda c, t, w: c.get(f"/api/v1/generations/{_generation(w, t)}/image"),
        owned=True,
        targets=ALL_TARGETS,
        hidden=True,
    ),
    ("GET", "v1/generations/{id}/prompt"): RouteCase(
        Action.GENERATION_READ,
        lambda c, t, w: c.get(f"/api/v1/generations/{_generation(w, t)}/prompt"),
        owned=True,
        targets=ALL_TARGETS,
        hidden=True,
        owner_only=True,
    ),
    ("GET", "v1/screening/policy"): RouteCase(
        Action.POLICY_READ, lambda c, t, w: c.get("/api/v1/screening/policy")
    ),
    ("GET", "v1/models"): RouteCase(Action.MODEL_LIST, lambda c, t, w: c.get("/api/v1/models")),
    ("GET", "v1/openapi.json"): RouteCase(None, lambda c, t, w: c.get("/api/v1/openapi.json")),
    ("GET", "v1/quota"): RouteCase(
        Action.GENERATION_CREATE, lambda c, t, w: c.get("/api/v1/quota")
    ),
    ("GET", "v1/budgets"): RouteCase(Action.BUDGET_LIST, lambda c, t, w: c.get("/api/v1/budgets")),
    ("GET", "v1/budgets/{department_id}"): RouteCase(
        Action.BUDGET_READ,
        lambda c, t, w: c.get(f"/api/v1/budgets/{t.department_id}"),
        targets=DEPARTMENTS,
    ),
    ("PUT", "v1/budgets/{department_id}"): RouteCase(
        Action.BUDGET_WRITE,
        lambda c, t, w: c.put(f"/api/v1/budgets/{t.department_id}", json=BUDGET),
        targets=DEPARTMENTS,
    ),
    ("PUT", "v1/webhooks/{department_id}"): RouteCase(
        Action.WEBHOOK_WRITE,
        lambda c, t, w: c.put(f"/api/v1/webhooks/{t.department_id}", json=PUBLIC_HOOK),
        targets=DEPARTMENTS,
    ),
    ("GET", "v1/webhooks/{department_id}"): RouteCase(
        Action.WEBHOOK_READ,
        lambda c, t, w: c.get(f"/api/v1/webhooks/{t.department_id}"),
        targets=DEPARTMENTS,
    ),
    ("GET", "v1/webhooks/{department_id}/deliveries"): RouteCase(
        Action.WEBHOOK_READ,
        lambda c, t, w: c.get(f"/api/v1/webhooks/{t.department_id}/deliveries"),
        targets=DEPARTMENTS,
    ),
    ("DELETE", "v1/webhooks/{department_id}"): RouteCase(
        Action.WEBHOOK_WRITE,
        lambda c, t, w: c.delete(f"/api/v1/webhooks/{t.department_id}"),
        targets=DEPARTMENTS,
        gone_is_fine=True,
    ),
    ("GET", "v1/audit/streams/{stream_id}"): RouteCase(
        Action.AUDIT_READ,
        lambda c, t, w: c.get(f"/api/v1/audit/streams/generation-{_generation(w, t)}"),
        owned=True,
        targets=ALL_TARGETS,
    ),
    ("GET", "v1/audit/subjects/{user_id}/streams"): RouteCase(
        Action.AUDIT_READ,
        lambda c, t, w: c.get(f"/api/v1/audit/subjects/{t.user_id}/streams"),
        owned=True,
        targets=ALL_TARGETS,
    ),
    ("GET", "v1/audit/events"): RouteCase(
        Action.AUDIT_READ, lambda c, t, w: c.get("/api/v1/audit/events", params={"limit": 5})
    ),
    ("POST", "v1/audit/verify"): RouteCase(
        Action.AUDIT_VERIFY, lambda c, t, w: c.post("/api/v1/audit/verify", json={})
    ),
    ("GET", "v1/privacy/subjects/{user_id}/export"): RouteCase(
        Action.PRIVACY_EXPORT,
        lambda c, t, w: c.get(f"/api/v1/privacy/subjects/{t.user_id}/export"),
        owned=True,
        targets=ALL_TARGETS,
    ),
    ("POST", "v1/privacy/subjects/{user_id}/erase"): RouteCase(
        Action.PRIVACY_ERASE,
        lambda c, t, w: c.post(f"/api/v1/privacy/subjects/{t.user_id}/erase", json={}),
        owned=True,
        targets=ALL_TARGETS,
    ),
    ("POST", "v1/provenance/verify"): RouteCase(
        Action.PROVENANCE_VERIFY,
        lambda c, t, w: c.post("/api/v1/provenance/verify", content=_outside_png()),
    ),
    ("POST", "openai/v1/images/generations"): RouteCase(
        Action.GENERATION_CREATE,
        lambda c, t, w: c.post(
            "/api/openai/v1/images/generations",
            json={"prompt": "a kite", "response_format": "b64_json"},
        ),
        openai_shape=True,
    ),
    ("POST", "openai/deployments/{deployment}/images/generations"): RouteCase(
        Action.GENERATION_CREATE,
        lambda c, t, w: c.post(
            "/api/openai/deployments/auto/images/generations",
            params={"api-version": "2024-10-21"},
            json={"prompt": "a kite", "response_format": "b64_json"},
        ),
        openai_shape=True,
    ),
    ("GET", "openai/v1/models"): RouteCase(
        Action.MODEL_LIST, lambda c, t, w: c.get("/api/openai/v1/models"), openai_shape=True
    ),
    # The link is the credential: whoever holds it, with or without a token, gets the
    # image, until erasing its owner (SELF, in the walk) deletes it.
    ("GET", "openai/images/{id}"): RouteCase(
        None, lambda c, t, w: c.get(w.image_link), gone_is_fine=True, openai_shape=True
    ),
    ("GET", "v1/health/live"): RouteCase(None, lambda c, t, w: c.get("/api/v1/health/live")),
    ("GET", "v1/health/ready"): RouteCase(None, lambda c, t, w: c.get("/api/v1/health/ready")),
}
# Asked last, in this order: they remove what the other routes read.
DESTRUCTIVE = [
    ("DELETE", "v1/webhooks/{department_id}"),
    ("POST", "v1/privacy/subjects/{user_id}/erase"),
]


def test_every_route_the_app_declares_has_a_matrix_entry() -> None:
    declared = {(method, route) for route, method in http_routes()}
    assert declared - ROUTES.keys() == set(), "routes without an entry in the access walk"
    assert ROUTES.keys() - declared == set(), "entries for routes the app does not declare"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningPlatform, World]]:
    with running_platform(tmp_path_factory.mktemp("matrix")) as platform:
        generations = {}
        for target in ALL_TARGETS:
            requester = platform.client(
                platform.token(target.user_id, ["Generator.Standard"], target.department_id)
            )
            accepted = requester.post("/api/v1/generations", json={"prompt": "a paper crane"})
            assert accepted.status_code == 202, accepted.text
            generation_id = accepted.json()["id"]
            assert platform.wait_terminal(requester, generation_id)["status"] == "charged"
            generations[target.name] = generation_id
        owner = platform.token(SELF.user_id, ["Generator.Standard"], SELF.department_id)
        linked = platform.client(owner).post(
            "/api/openai/v1/images/generations",
            json={"prompt": "a paper boat", "response_format": "url"},
        )
        assert linked.status_code == 200, linked.text
        admin = platform.client(platform.token("root", ["Platform.Admin"], None))
        for department in (HOME, AWAY):
            assert admin.put(f"/api/v1/webhooks/{department}", json=PUBLIC_HOOK).status_code == 200
        yield platform, World(generations, linked.json()["data"][0]["url"])


def expected_denial(role: Role, case: RouteCase) -> int:
    """403, or 404 where a role that reads some resources of the kind is denied one."""
    reads_some = case.action is not None and granted_scopes(
        Principal(CALLER, frozenset({role}), HOME, "dev"), case.action
    )
    return 404 if case.hidden and reads_some else 403


def expected_allowed(role: Role, case: RouteCase, target: Target) -> bool:
    if case.action is None:
        return True
    if case.owner_only and target.user_id != CALLER:
        return False
    caller = Principal(CALLER, frozenset({role}), HOME, "dev")
    try:
        authorize(
            caller,
            case.action,
            department_id=target.department_id,
            owner_id=target.user_id if case.owned else None,
        )
    except AccessDenied:
        return False
    return True


def walk_order() -> list[tuple[str, str]]:
    return [key for key in ROUTES if key not in DESTRUCTIVE] + DESTRUCTIVE


def test_every_route_role_and_target_answers_as_the_matrix_says(
    world: tuple[RunningPlatform, World],
) -> None:
    platform, resources = world
    clients = {role: platform.client(platform.token(CALLER, [role.value], HOME)) for role in Role}
    disagreements: list[str] = []
    asked = 0
    for key in walk_order():
        case = ROUTES[key]
        for role in Role:
            for target in case.targets:
                answer = case.request(clients[role], target, resources)
                asked += 1
                allowed = expected_allowed(role, case, target)
                fine = 200 <= answer.status_code < 300 or (
                    case.gone_is_fine and answer.status_code == 404
                )
                denial = expected_denial(role, case)
                if (allowed and not fine) or (not allowed and answer.status_code != denial):
                    disagreements.append(
                        f"{key[0]} {key[1]} as {role.value} on {target.name}: "
                        f"matrix {'allows' if allowed else 'denies'}, HTTP {answer.status_code}"
                    )
                if answer.status_code in (403, 404):
                    shape = "application/json" if case.openai_shape else "application/problem+json"
                    assert answer.headers["content-type"] == shape
    assert disagreements == []
    assert asked == sum(len(c.targets) for c in ROUTES.values()) * len(Role)


def test_a_token_without_roles_is_denied_on_every_guarded_route(
    world: tuple[RunningPlatform, World],
) -> None:
    platform, resources = world
    nobody = platform.client(platform.token(CALLER, [], HOME))
    for key in walk_order():
        case = ROUTES[key]
        answer = case.request(nobody, SELF, resources)
        public = (200, 404) if case.gone_is_fine else (200,)
        expected: Any = public if case.action is None else (403,)
        assert answer.status_code in expected, (key, answer.status_code)
