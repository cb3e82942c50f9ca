"""HTTP triggers for generations and the model catalogue."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import azure.functions as func

from bootstrap import platform
from domain.access import Action, authorize
from functions.http_support import Problem, api, authenticate, json_response, parse_body
from services import models
from services.destinations import RefusedDestination
from services.generations import (
    GenerationRequest,
    ImageRedirect,
    describe,
    open_image,
    read_generation,
    submit_generation,
)
from services.ports import HistoryQuery
from services.queries import list_generations

blueprint = func.Blueprint()

MAX_IDEMPOTENCY_KEY = 200


@blueprint.route(route="v1/generations", methods=["POST"])
@api
def create_generation(req: func.HttpRequest) -> func.HttpResponse:
    principal = authenticate(req)
    app = platform()
    request = parse_body(req, GenerationRequest, app.settings.max_request_bytes)
    key = req.headers.get("Idempotency-Key")
    if key is not None and not 0 < len(key) <= MAX_IDEMPOTENCY_KEY:
        raise Problem(400, "invalid-header", "Idempotency-Key must be 1-200 characters")
    try:
        submission = submit_generation(app, principal, request, key)
    except RefusedDestination as error:
        raise Problem(
            422, "invalid-callback-url", "The callback URL is refused", str(error)
        ) from None
    status_url = _url(req, f"/api/v1/generations/{submission.generation_id}")
    return json_response(
        {
            "id": str(submission.generation_id),
            "status": submission.status,
            "status_url": status_url,
        },
        status=202,
        headers={"Location": status_url},
    )


@blueprint.route(route="v1/generations/{id}", methods=["GET"])
@api
def get_generation(req: func.HttpRequest) -> func.HttpResponse:
    principal = authenticate(req)
    generation_id = _generation_id(req)
    state = read_generation(platform(), principal, generation_id)
    body = describe(state)
    body["image_url"] = (
        _url(req, f"/api/v1/generations/{generation_id}/image") if state.image else None
    )
    return json_response(body)


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
        image.png,
        status_code=200,
        headers={"Content-Type": "image/png", "Cache-Control": "private"},
    )


@blueprint.route(route="v1/generations", methods=["GET"])
@api
def list_generation_history(req: func.HttpRequest) -> func.HttpResponse:
    principal = authenticate(req)
    params = req.params
    query = HistoryQuery(
        user_id=params.get("user_id"),
        department_id=params.get("department_id"),
        status=params.get("status"),
        created_from=_timestamp(params.get("from"), "from"),
        created_to=_timestamp(params.get("to"), "to"),
        limit=_limit(params.get("limit")),
        continuation=params.get("continuation"),
    )
    page = list_generations(platform(), principal, query)
    return json_response({"items": page.items, "continuation": page.continuation})


@blueprint.route(route="v1/models", methods=["GET"])
@api
def list_models(req: func.HttpRequest) -> func.HttpResponse:
    authorize(authenticate(req), Action.MODEL_LIST)  # a token with no role sees nothing
    return json_response(models.list_models(platform()))


def _generation_id(req: func.HttpRequest) -> UUID:
    try:
        return UUID(req.route_params.get("id", ""))
    except ValueError:
        raise Problem(404, "not-found", "Not found", "no such generation") from None


def _timestamp(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise Problem(400, "invalid-parameter", f"{name} must be an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise Problem(400, "invalid-parameter", f"{name} needs a UTC offset")
    return moment


def _limit(value: str | None) -> int:
    if value is None:
        return 50
    if not value.isdigit() or not 1 <= int(value) <= 200:
        raise Problem(400, "invalid-parameter", "limit must be 1-200")
    return int(value)


def _url(req: func.HttpRequest, path: str) -> str:
    scheme_and_host = str(req.url).split("/api/", 1)[0]
    return scheme_and_host + path
