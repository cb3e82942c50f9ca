"""HTTP triggers for generations, the model catalogue and the screening policy."""

from __future__ import annotations

from uuid import UUID

import azure.functions as func

from bootstrap import platform
from domain.access import Action, authorize
from functions import responses
from functions.http_support import (
    api,
    authenticate,
    json_response,
    parse_body,
    query_instant,
    query_limit,
)
from functions.problems import INVALID_CALLBACK_URL, INVALID_HEADER, NOT_FOUND, Problem
from services import models
from services.destinations import RefusedDestination
from services.generations import (
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

MAX_IDEMPOTENCY_KEY = 200
MAX_HISTORY_PAGE = 200


@blueprint.route(route="v1/generations", methods=["POST"])
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
    status_url = _url(app.settings, f"/api/v1/generations/{submission.generation_id}")
    accepted = responses.GenerationAccepted.model_validate(
        {"id": str(submission.generation_id), "status": submission.status, "status_url": status_url}
    )
    return json_response(
        accepted,
        status=202,
        headers={"Location": status_url},
    )


@blueprint.route(route="v1/generations/{id}", methods=["GET"])
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


@blueprint.route(route="v1/generations/{id}/image", methods=["GET"])
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


@blueprint.route(route="v1/generations/{id}/prompt", methods=["GET"])
@api
def get_generation_prompt(req: func.HttpRequest) -> func.HttpResponse:
    principal = authenticate(req)
    prompt = own_prompt(platform(), principal, _generation_id(req))
    body = responses.GenerationPrompt.model_validate(prompt)
    # Personal data: no cache on the way may keep it.
    return json_response(body, headers={"Cache-Control": "no-store"})


@blueprint.route(route="v1/generations", methods=["GET"])
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


@blueprint.route(route="v1/models", methods=["GET"])
@api
def list_models(req: func.HttpRequest) -> func.HttpResponse:
    authorize(authenticate(req), Action.MODEL_LIST)  # a token with no role sees nothing
    return json_response(responses.ModelCatalogue.model_validate(models.list_models(platform())))


@blueprint.route(route="v1/screening/policy", methods=["GET"])
@api
def get_screening_policy(req: func.HttpRequest) -> func.HttpResponse:
    policy = screening_policy(platform(), authenticate(req))
    return json_response(responses.ScreeningPolicyView.model_validate(policy))


def _generation_id(req: func.HttpRequest) -> UUID:
    try:
        return UUID(req.route_params.get("id", ""))
    except ValueError:
        raise Problem(NOT_FOUND, "no such generation") from None


def _url(config: Settings, path: str) -> str:
    # From the configured base, never the request's Host: a client (or anything between
    # it and us) could name any host there, and the answer would send others to it.
    return config.public_base_url + path
