"""A department-scoped role without a usable department sees and changes nothing.

Every operation in `functions.api_routes.OPERATIONS` is asked over real HTTP, by each
role the matrix grants a department scope, holding no department claim, an empty one,
or one that is not a department id, while two departments have generations, budgets
and webhooks. Each path parameter is filled with every resource of both departments
and each filter parameter with every user and department, one at a time and not at all.
The answer must be a refusal (403 or 404), or, for a read, a success that names nothing
of either department. A change (any other method) must be refused. An operation that
takes a path parameter or body this walk does not know fails it, so a new route cannot
be left out.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from PIL import Image
from pydantic import BaseModel

from domain.access import PERMISSIONS, Role, Scope
from domain.openai_images import ImagesRequest
from functions.api_routes import OPERATIONS
from functions.audit import VerifyRequest
from functions.privacy import ErasureRequest
from functions.routes import Operation
from services.budgets import BudgetUpdate
from services.generations import GenerationRequest
from services.webhooks import WebhookRegistration
from tests.platform_process import RunningPlatform, running_platform

DEPARTMENTS = ("ward-kestrel", "ward-osprey")
USERS = {"u-kestrel-1": DEPARTMENTS[0], "u-kestrel-2": DEPARTMENTS[0], "u-osprey": DEPARTMENTS[1]}
CALLER = "u-homeless"
# A missing claim, an empty one, and one that is a department id only in another case.
NO_DEPARTMENT: tuple[str | None, ...] = (None, "", "WARD-KESTREL")
DEPARTMENT_SCOPED = tuple(role for role in Role if Scope.DEPARTMENT in PERMISSIONS[role].values())
BODIES: dict[type[BaseModel], dict[str, Any]] = {
    GenerationRequest: {"prompt": "a lighthouse at dusk"},
    BudgetUpdate: {"monthly_limit_aud": "900.00", "enforcement": "hard", "strategy": "balanced"},
    WebhookRegistration: {"url": "https://93.184.215.14/stolen"},
    VerifyRequest: {},
    ErasureRequest: {},
    ImagesRequest: {"prompt": "a lighthouse at dusk", "response_format": "b64_json"},
}
FILTERS = ("user_id", "department_id")
# POSTs that change nothing: they answer about what they are sent (an image to verify),
# so each role may ask, and the answer is checked like a read's.
QUESTIONS = {"v1/provenance/verify"}
# Asked last: were one wrongly allowed, it would remove what the others read.
DESTRUCTIVE = {"DELETE", "POST"}


@dataclass(frozen=True)
class World:
    generations: dict[str, str]  # generation id -> its department

    def markers(self) -> list[str]:
        """What would show a department's data in an answer."""
        return [*self.generations, *USERS, *DEPARTMENTS]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningPlatform, World]]:
    with running_platform(tmp_path_factory.mktemp("homeless")) as platform:
        generations = {}
        for user, department in USERS.items():
            requester = platform.client(platform.token(user, ["Generator.Standard"], department))
            accepted = requester.post("/api/v1/generations", json={"prompt": "a paper crane"})
            assert accepted.status_code == 202, accepted.text
            generation_id = accepted.json()["id"]
            assert platform.wait_terminal(requester, generation_id)["status"] == "charged"
            generations[generation_id] = department
        admin = platform.client(platform.token("root", ["Platform.Admin"], None))
        for department in DEPARTMENTS:
            hook = admin.put(f"/api/v1/webhooks/{department}", json=BODIES[WebhookRegistration])
            assert hook.status_code == 200, hook.text
            budget = admin.put(f"/api/v1/budgets/{department}", json=BODIES[BudgetUpdate])
            assert budget.status_code == 200, budget.text
        # The data is there to be leaked: an org-wide reader sees both departments.
        listed = admin.get("/api/v1/generations").json()["items"]
        assert {item["department_id"] for item in listed} == set(DEPARTMENTS)
        budgets = admin.get("/api/v1/budgets").json()["items"]
        assert {item["department_id"] for item in budgets} == set(DEPARTMENTS)
        yield platform, World(generations)


def path_values(operation: Operation, world: World) -> list[dict[str, str]]:
    """Every way to fill the operation's path with a resource of either department."""
    choices = {
        "id": list(world.generations),
        "stream_id": [f"generation-{g}" for g in world.generations],
        "department_id": list(DEPARTMENTS),
        "user_id": list(USERS),
        "deployment": ["auto"],  # the drop-in face's Azure shape: the deployment names a model
    }
    names = [p.name for p in operation.parameters if p.where == "path"]
    unknown = set(names) - choices.keys()
    assert not unknown, f"{operation.method} {operation.route}: no values for {unknown}"
    return [
        dict(zip(names, picked, strict=True))
        for picked in itertools.product(*(choices[name] for name in names))
    ]


def query_values(operation: Operation) -> list[dict[str, str]]:
    """No filter, then each user and each department as a filter on its own and together."""
    names = {p.name for p in operation.parameters if p.where == "query"}
    # Azure OpenAI's SDK always sends an api-version; without one the face refuses the shape.
    variants: list[dict[str, str]] = [
        {"api-version": "2024-10-21"} if "api-version" in names else {}
    ]
    if "user_id" in names:
        variants += [{**variants[0], "user_id": user} for user in USERS]
    if "department_id" in names:
        variants += [{"department_id": department} for department in DEPARTMENTS]
    if names >= set(FILTERS):
        variants += [{"user_id": u, "department_id": d} for u, d in USERS.items()]
    if "format" in names:
        variants += [{**variant, "format": "csv"} for variant in variants]
    return variants


def requests_of(
    client: httpx.Client, operation: Operation, world: World
) -> Iterator[httpx.Request]:
    body = None
    content = None
    if operation.body is not None:
        assert operation.body in BODIES, f"{operation.method} {operation.route}: no body"
        body = BODIES[operation.body]
    if operation.binary_body:
        content = _outside_png()
    for path in path_values(operation, world):
        url = "/api/" + operation.route.format(**path)
        for params in query_values(operation):
            yield client.build_request(
                operation.method, url, params=params, json=body, content=content
            )


def _outside_png() -> bytes:
    """An image the platform never made."""
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (20, 90, 200)).save(buffer, format="PNG")
    return buffer.getvalue()


def leaks(answer: httpx.Response, world: World) -> list[str]:
    return [marker for marker in world.markers() if marker in answer.text]


@pytest.mark.parametrize("department", NO_DEPARTMENT, ids=["absent", "empty", "invalid"])
def test_a_department_scope_without_a_department_reaches_nothing_on_any_route(
    world: tuple[RunningPlatform, World], department: str | None
) -> None:
    platform, resources = world
    assert DEPARTMENT_SCOPED  # the matrix has such roles, or there is nothing to walk
    ordered = sorted(OPERATIONS, key=lambda op: op.method in DESTRUCTIVE)
    wrong: list[str] = []
    asked = 0
    for role in DEPARTMENT_SCOPED:
        with platform.client(platform.token(CALLER, [role.value], department)) as client:
            for operation in ordered:
                for request in requests_of(client, operation, resources):
                    answer = client.send(request)
                    asked += 1
                    refused = answer.status_code in (403, 404)
                    asks = operation.method == "GET" or operation.route in QUESTIONS
                    read = asks and 200 <= answer.status_code < 300
                    if not refused and not read:
                        wrong.append(f"{role} {request.method} {request.url}: {answer.status_code}")
                    elif read and (found := leaks(answer, resources)):
                        wrong.append(f"{role} {request.method} {request.url}: shows {found}")
    assert wrong == []
    assert asked > len(OPERATIONS) * len(DEPARTMENT_SCOPED)


def test_the_walk_knows_how_to_ask_every_operation(world: tuple[RunningPlatform, World]) -> None:
    platform, resources = world
    with platform.client(None) as client:
        for operation in OPERATIONS:
            assert list(requests_of(client, operation, resources))
