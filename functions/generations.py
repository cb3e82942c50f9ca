"""HTTP triggers for generations, the model catalogue and the screening policy."""

from __future__ import annotations

from uuid import UUID

import azure.functions as func

from bootstrap import platform
from domain.access import Action, authorize
from domain.admission import Refusal
from domain.generation import Status
from functions import responses
from functions.http_support import (
    api,
    authenticate,
    json_response,
    parse_body,
    query_instant,
    query_limit,
)
from functions.problems import (
    BUDGET_EXHAUSTED,
    CONCURRENCY_CONFLICT,
    FORBIDDEN,
    IDEMPOTENCY_CONFLICT,
    INVALID_CALLBACK_URL,
    INVALID_HEADER,
    INVALID_PARAMETER,
    NO_ELIGIBLE_MODEL,
    NOT_FOUND,
    PROMPT_REJECTED,
    QUOTA_EXCEEDED,
    Problem,
    ProblemType,
)
from functions.routes import (
    DATE_TIME,
    GENERATION_ID,
    IDEMPOTENCY_KEY,
    IMAGE_MEDIA_TYPES,
    MAX_IDEMPOTENCY_KEY,
    Answer,
    Header,
    Routes,
    integer_parameter,
    query_parameter,
)
from services import models
from services.destinations import RefusedDestination
from services.generations import (
    GenerationRefused,
    GenerationRequest,
    ImageRedirect,
    describe,
    image_kept,
    open_image,
    read_generation,
    submit_generation,
)
from services.policy_view import screening_policy
from services.ports import HistoryQuery
from services.privacy import own_prompt
from services.queries import list_generations
from services.settings import Settings

blueprint = func.Blueprint()
routes = Routes(blueprint, tag="generations")

MAX_HISTORY_PAGE = 200
DOOR_REFUSALS: dict[Refusal, ProblemType] = {
    Refusal.PROMPT_REJECTED: PROMPT_REJECTED,
    Refusal.BUDGET_EXHAUSTED: BUDGET_EXHAUSTED,
    Refusal.NO_ELIGIBLE_MODEL: NO_ELIGIBLE_MODEL,
}


@routes.declare(
    "v1/generations",
    "POST",
    "Request an image; it is screened at once, then routed, generated and charged asynchronously",
    (
        Answer(
            202,
            "Screened and accepted; poll `status_url`",
            responses.GenerationAccepted,
            headers=(Header("Location", "the generation's status URL"),),
        ),
    ),
    (
        FORBIDDEN,
        INVALID_HEADER,
        INVALID_CALLBACK_URL,
        PROMPT_REJECTED,
        BUDGET_EXHAUSTED,
        NO_ELIGIBLE_MODEL,
        IDEMPOTENCY_CONFLICT,
        CONCURRENCY_CONFLICT,
        QUOTA_EXCEEDED,
    ),
    (IDEMPOTENCY_KEY,),
    body=GenerationRequest,
)
@api
def create_generation(req: func.HttpRequest) -> func.HttpResponse:
    principal = authenticate(req)
    app = platform()
    request = parse_body(req, GenerationRequest, app.settings.max_request_bytes)
    key = req.headers.get("Idempotency-Key")
    if key is not None and not 0 < len(key) <= MAX_IDEMPOTENCY_KEY:
        raise Problem(INVALID_HEADER, "Idempotency-Key must be 1-200 characters")
    try:
        submission = submit_generation(app, principal, request, key)
    except RefusedDestination as error:
        raise Problem(INVALID_CALLBACK_URL, error.answer) from None
    except GenerationRefused as refused:
        recorded = str(refused.generation_id) if refused.generation_id else None
        raise Problem(
            DOOR_REFUSALS[refused.refusal], refused.detail, generation_id=recorded
        ) from None
    status_url = _url(app.settings, f"/api/v1/generations/{submission.generation_id}")
    accepted = responses.GenerationAccepted.model_validate(
        {"id": str(submission.generation_id), "status": submission.status, "status_url": status_url}
    )
    return json_response(
        accepted,
        status=202,
        headers={"Location": status_url},
    )


@routes.declare(
    "v1/generations",
    "GET",
    "Generation history, scoped to what the caller may see",
    (Answer(200, "One page of history, newest first", responses.GenerationHistory),),
    (FORBIDDEN, INVALID_PARAMETER),
    (
        query_parameter("user_id"),
        query_parameter("department_id"),
        query_parameter("status", enum=[s.value for s in Status]),
        query_parameter("from", "created at or after (with a UTC offset)", **DATE_TIME),
        query_parameter("to", "created before (with a UTC offset)", **DATE_TIME),
        integer_parameter("limit", 1, MAX_HISTORY_PAGE),
        query_parameter("continuation", "from the previous page"),
    ),
)
@api
def list_generation_history(req: func.HttpRequest) -> func.HttpResponse:
    principal = authenticate(req)
    params = req.params
    query = HistoryQuery(
        user_id=params.get("user_id"),
        department_id=params.get("department_id"),
        status=params.get("status"),
        created_from=query_instant(req, "from"),
        created_to=query_instant(req, "to"),
        limit=query_limit(req, MAX_HISTORY_PAGE, default=50),
        continuation=params.get("continuation") or None,
    )
    page = list_generations(platform(), principal, query)
    history = responses.GenerationHistory.model_validate(
        {"items": page.items, "continuation": page.continuation}
    )
    return json_response(history)


@routes.declare(
    "v1/generations/{id}",
    "GET",
    "One generation as its stream says now",
    (Answer(200, "The generation", responses.GenerationView),),
    (FORBIDDEN, NOT_FOUND),
    (GENERATION_ID,),
)
@api
def get_generation(req: func.HttpRequest) -> func.HttpResponse:
    principal = authenticate(req)
    generation_id = _generation_id(req)
    app = platform()
    state = read_generation(app, principal, generation_id)
    image_url = (
        _url(app.settings, f"/api/v1/generations/{generation_id}/image")
        if image_kept(app, state)
        else None
    )
    view = responses.GenerationView.model_validate({**describe(state), "image_url": image_url})
    return json_response(view)


@routes.declare(
    "v1/generations/{id}/image",
    "GET",
    "The generated image",
    (
        Answer(
            200,
            "The image as signed with Content Credentials, in the provider's format",
            other_media={
                media: {"schema": {"type": "string", "format": "binary"}}
                for media in IMAGE_MEDIA_TYPES
            },
        ),
        Answer(
            302,
            "A short-lived read-only URL of the image in blob storage",
            headers=(Header("Location", "the image's SAS URL"),),
        ),
    ),
    (FORBIDDEN, NOT_FOUND),
    (GENERATION_ID,),
)
@api
def get_generation_image(req: func.HttpRequest) -> func.HttpResponse:
    principal = authenticate(req)
    image = open_image(platform(), principal, _generation_id(req))
    if isinstance(image, ImageRedirect):
        # The SAS URL is itself a credential: no cache may keep the redirect.
        return func.HttpResponse(
            status_code=302, headers={"Location": image.url, "Cache-Control": "no-store"}
        )
    return func.HttpResponse(
        image.data,
        status_code=200,
        headers={"Content-Type": image.content_type, "Cache-Control": "private"},
    )


@routes.declare(
    "v1/generations/{id}/prompt",
    "GET",
    "The prompt as its owner typed it: to the owner alone, and the read is recorded",
    (Answer(200, "The prompt", responses.GenerationPrompt),),
    (FORBIDDEN, NOT_FOUND),
    (GENERATION_ID,),
)
@api
def get_generation_prompt(req: func.HttpRequest) -> func.HttpResponse:
    principal = authenticate(req)
    prompt = own_prompt(platform(), principal, _generation_id(req))
    body = responses.GenerationPrompt.model_validate(prompt)
    # Personal data: no cache on the way may keep it.
    return json_response(body, headers={"Cache-Control": "no-store"})


@routes.declare(
    "v1/screening/policy",
    "GET",
    "The screening policy in force, read-only: its version and rules",
    (Answer(200, "The policy", responses.ScreeningPolicyView),),
    (FORBIDDEN,),
    tag="models",
)
@api
def get_screening_policy(req: func.HttpRequest) -> func.HttpResponse:
    policy = screening_policy(platform(), authenticate(req))
    return json_response(responses.ScreeningPolicyView.model_validate(policy))


@routes.declare(
    "v1/models",
    "GET",
    "The model catalogue: prices, capabilities, residency and each provider's circuit",
    (Answer(200, "The catalogue", responses.ModelCatalogue),),
    (FORBIDDEN,),
    tag="models",
)
@api
def list_models(req: func.HttpRequest) -> func.HttpResponse:
    authorize(authenticate(req), Action.MODEL_LIST)  # a token with no role sees nothing
    return json_response(responses.ModelCatalogue.model_validate(models.list_models(platform())))


def _generation_id(req: func.HttpRequest) -> UUID:
    try:
        return UUID(req.route_params.get("id", ""))
    except ValueError:
        raise Problem(NOT_FOUND, "no such generation") from None


def _url(config: Settings, path: str) -> str:
    # From the configured base, never the request's Host: a client (or anything between
    # it and us) could name any host there, and the answer would send others to it.
    return config.public_base_url + path
