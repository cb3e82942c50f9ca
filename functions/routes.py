"""An HTTP route, declared once beside its trigger: what it takes and every answer it gives.

`Routes.declare` registers the trigger on its blueprint and keeps the declaration as an
`Operation`; functions/api_routes.py gathers every blueprint's operations and
functions/openapi.py builds the OpenAPI document from them, so a route cannot be added,
renamed or dropped without the document following (tests/unit/test_openapi.py checks it
against the routes `function_app.app` registers). Problems every route of a kind can
answer (401 and 503 when signed in, the body's 400, 413, 415 and 422, and 500
everywhere) are added by the document's builder; a declaration lists the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import azure.functions as func
from pydantic import BaseModel

from functions.openai_shapes import GENERATION_IDS_HEADER
from functions.problems import ProblemType

JSON = "application/json"
IMAGE_MEDIA_TYPES = ("image/png", "image/jpeg", "image/webp")
MAX_IDEMPOTENCY_KEY = 200


@dataclass(frozen=True, slots=True)
class Parameter:
    name: str
    where: Literal["path", "query", "header"]
    schema: dict[str, Any]
    description: str = ""
    required: bool = False  # path parameters always are


@dataclass(frozen=True, slots=True)
class Header:
    name: str
    description: str
    required: bool = True


@dataclass(frozen=True, slots=True)
class Answer:
    """One non-problem response: its status, and its body per media type."""

    status: int
    description: str
    model: type[BaseModel] | None = None  # the application/json body
    other_media: dict[str, dict[str, Any]] = field(default_factory=dict)
    headers: tuple[Header, ...] = ()


@dataclass(frozen=True, slots=True)
class Operation:
    route: str  # as the trigger declares it, under the host's `api` prefix
    method: str
    function: str  # the trigger's function name
    summary: str
    tag: str
    answers: tuple[Answer, ...]
    problems: tuple[ProblemType, ...] = ()
    parameters: tuple[Parameter, ...] = ()
    body: type[BaseModel] | None = None
    body_required: bool = True
    signed_in: bool = True
    binary_body: tuple[str, ...] = ()  # media types of a raw (not JSON) body
    # The drop-in face answers failures in OpenAI's error shape, with these statuses,
    # instead of problem+json.
    openai_errors: tuple[int, ...] = ()


Trigger = Callable[[func.HttpRequest], func.HttpResponse]


class Routes:
    """A blueprint's HTTP routes, in the order they are declared."""

    def __init__(self, blueprint: func.Blueprint, tag: str) -> None:
        self.blueprint = blueprint
        self.tag = tag  # the document's tag for the blueprint's operations, unless one says
        self.operations: list[Operation] = []

    def declare(
        self,
        route: str,
        method: str,
        summary: str,
        answers: tuple[Answer, ...],
        problems: tuple[ProblemType, ...] = (),
        parameters: tuple[Parameter, ...] = (),
        *,
        tag: str | None = None,
        body: type[BaseModel] | None = None,
        body_required: bool = True,
        signed_in: bool = True,
        binary_body: tuple[str, ...] = (),
        openai_errors: tuple[int, ...] = (),
    ) -> Callable[[Trigger], Any]:
        """Register the decorated trigger for `method` on `route` and describe it."""

        def register(trigger: Trigger) -> Any:
            self.operations.append(
                Operation(
                    route,
                    method,
                    trigger.__name__,
                    summary,
                    tag or self.tag,
                    answers,
                    problems,
                    parameters,
                    body=body,
                    body_required=body_required,
                    signed_in=signed_in,
                    binary_body=binary_body,
                    openai_errors=openai_errors,
                )
            )
            return self.blueprint.route(route=route, methods=[method])(trigger)

        return register


def path_parameter(name: str, description: str = "", **schema: Any) -> Parameter:
    return Parameter(name, "path", {"type": "string", "minLength": 1, **schema}, description)


def query_parameter(name: str, description: str = "", **schema: Any) -> Parameter:
    return Parameter(name, "query", {"type": "string", **schema}, description)


def integer_parameter(name: str, minimum: int, maximum: int, description: str = "") -> Parameter:
    """An integer query parameter: every one is bounded, as `query_integer` enforces."""
    return Parameter(
        name, "query", {"type": "integer", "minimum": minimum, "maximum": maximum}, description
    )


DATE_TIME = {"format": "date-time"}
DEPARTMENT = path_parameter("department_id", pattern="^[a-z0-9][a-z0-9_-]{0,62}$")
GENERATION_ID = path_parameter("id", format="uuid")
IDEMPOTENCY_KEY = Parameter(
    "Idempotency-Key",
    "header",
    {"type": "string", "minLength": 1, "maxLength": MAX_IDEMPOTENCY_KEY},
    "a retry with the same key and body answers the same generation",
)
GENERATION_IDS = Header(GENERATION_IDS_HEADER, "the generations waited for, comma-separated")
