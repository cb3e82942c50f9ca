"""The drop-in face: OpenAI's and Azure OpenAI's images API over governed generations.

`OpenAI(base_url=".../api/openai/v1")` and `AzureOpenAI(azure_endpoint=".../api")` work
unchanged. Each request waits for its generations (services/openai_images.py) and
answers in OpenAI's shapes and error codes (functions/openai_shapes.py); the native
`/api/v1` API keeps problem+json.
"""

from __future__ import annotations

import base64
import functools
from datetime import UTC, date, datetime, time
from uuid import UUID

import azure.functions as func

from bootstrap import image_link_key, platform
from domain.access import Action, authorize
from domain.generation import Generation
from domain.openai_images import ImagesRequest, Unsupported, map_request
from functions.http_support import Handler, answered, authenticate, json_response, parse_body
from functions.http_support import validate as validate_body
from functions.openai_shapes import (
    GENERATION_IDS_HEADER,
    REFUSALS,
    OpenAIImage,
    OpenAIImages,
    OpenAIModel,
    OpenAIModelList,
    from_problem,
    openai_error,
)
from functions.problems import INVALID_HEADER, NOT_FOUND, Problem
from functions.routes import (
    GENERATION_ID,
    GENERATION_IDS,
    IDEMPOTENCY_KEY,
    MAX_IDEMPOTENCY_KEY,
    Answer,
    Parameter,
    Routes,
    path_parameter,
    query_parameter,
)
from services.generation_waits import WaitExpired
from services.generations import GenerationRequest, stored_image
from services.openai_images import (
    Attempt,
    FaceRefused,
    LinkRefused,
    generate_images,
    image_url,
    open_signed_image,
)

blueprint = func.Blueprint()
routes = Routes(blueprint, tag="openai")

AZURE_KEY_HEADER = "api-key"  # AzureOpenAI(api_key=...) sends the token here
RETRY_HEADER = "x-stainless-retry-count"
MODEL = "model"
# Every failure the face can answer: bad input, token, role, rate or budget, wait, provider.
FACE_ERRORS = (400, 401, 403, 409, 413, 415, 429, 500, 502, 503, 504)


def openai_api(handler: Handler) -> Handler:
    """`api`, answering OpenAI's error shape; the face's own refusals mapped here."""

    @functools.wraps(handler)
    def refusing(req: func.HttpRequest) -> func.HttpResponse:
        try:
            return handler(req)
        except Unsupported as error:
            return openai_error(400, error.message, code="invalid_value", param=error.param)
        except FaceRefused as error:
            status, kind = REFUSALS[error.refusal]
            ids = ",".join(str(g) for g in error.generation_ids)
            return openai_error(
                status,
                str(error),
                kind=kind,
                code=error.refusal.value,
                headers={GENERATION_IDS_HEADER: ids},
            )
        except WaitExpired as error:
            ids = ",".join(str(g) for g in error.generation_ids)
            return openai_error(
                504, str(error), code="timeout", headers={GENERATION_IDS_HEADER: ids}
            )
        except LinkRefused as error:
            return openai_error(403, str(error), code="invalid_link")

    return answered(refusing, from_problem)


@routes.declare(
    "openai/v1/images/generations",
    "POST",
    "OpenAI's images API: `n` governed generations, answered when they are charged",
    (Answer(200, "The images", OpenAIImages, headers=(GENERATION_IDS,)),),
    parameters=(IDEMPOTENCY_KEY,),
    body=ImagesRequest,
    openai_errors=FACE_ERRORS,
)
@openai_api
def openai_generate_images(req: func.HttpRequest) -> func.HttpResponse:
    return _generate(req, deployment=None)


@routes.declare(
    "openai/deployments/{deployment}/images/generations",
    "POST",
    "Azure OpenAI's images API: the deployment names the model (or `auto`)",
    (Answer(200, "The images", OpenAIImages, headers=(GENERATION_IDS,)),),
    parameters=(
        path_parameter("deployment", "a catalogue id, an OpenAI model name, or auto"),
        Parameter("api-version", "query", {"type": "string", "minLength": 1}, "any", required=True),
        IDEMPOTENCY_KEY,
    ),
    body=ImagesRequest,
    openai_errors=FACE_ERRORS,
)
@openai_api
def azure_openai_generate_images(req: func.HttpRequest) -> func.HttpResponse:
    if not req.params.get("api-version"):
        return openai_error(400, "api-version is required", param="api-version")
    return _generate(req, deployment=req.route_params.get("deployment", ""))


def _generate(req: func.HttpRequest, deployment: str | None) -> func.HttpResponse:
    principal = authenticate(req, AZURE_KEY_HEADER)
    app = platform()
    face = parse_body(req, ImagesRequest, app.settings.max_request_bytes)
    mapped = map_request(face, app.catalogue, deployment)
    request = validate_body(
        GenerationRequest,
        {
            "prompt": face.prompt,
            "size": mapped.size,
            "quality": mapped.quality,
            "style": mapped.style,
            "model": mapped.model,
        },
    )
    states = generate_images(app, principal, face, request, _attempt(req), deployment=deployment)
    if mapped.response_format == "b64_json":
        data = [
            OpenAIImage(b64_json=base64.b64encode(stored_image(app, s).data).decode())
            for s in states
        ]
    else:
        base = str(req.url).split("/api/", 1)[0]
        data = [OpenAIImage(url=image_url(app, s, image_link_key, base)) for s in states]
    answer = OpenAIImages(
        created=_created(states),
        data=data,
        size=mapped.size,
        quality=mapped.quality,
        output_format="png",
    )
    ids = ",".join(str(s.requested.generation_id) for s in states)
    return json_response(answer, headers={GENERATION_IDS_HEADER: ids})


def _attempt(req: func.HttpRequest) -> Attempt:
    count = req.headers.get(RETRY_HEADER) or "0"
    key = req.headers.get("Idempotency-Key")
    if key is not None and not 0 < len(key) <= MAX_IDEMPOTENCY_KEY:
        raise Problem(INVALID_HEADER, "Idempotency-Key must be 1-200 characters")
    retries = int(count) if count.isascii() and count.isdigit() else 0
    return Attempt(retry_count=retries, idempotency_key=key)


def _created(states: list[Generation]) -> int:
    moments = [s.requested_at for s in states if s.requested_at is not None]
    return int(min(moments).timestamp()) if moments else 0


@routes.declare(
    "openai/v1/models",
    "GET",
    "The catalogue in OpenAI's model-list shape: catalogue ids and OpenAI model names",
    (Answer(200, "The models", OpenAIModelList),),
    openai_errors=(401, 403, 500, 503),
)
@openai_api
def openai_list_models(req: func.HttpRequest) -> func.HttpResponse:
    authorize(authenticate(req, AZURE_KEY_HEADER), Action.MODEL_LIST)
    catalogue = platform().catalogue
    created = int(datetime.combine(date.fromisoformat(catalogue.version), time(), UTC).timestamp())
    models = [
        OpenAIModel(id=m.id, object=MODEL, created=created, owned_by=m.provider)
        for m in catalogue.models
    ]
    models += [
        OpenAIModel(id=m.openai_name, object=MODEL, created=created, owned_by=m.provider)
        for m in catalogue.models
        if m.openai_name
    ]
    return json_response(OpenAIModelList(object="list", data=models))


@routes.declare(
    "openai/images/{id}",
    "GET",
    "The image behind a signed, expiring `url` of the face (embedded default)",
    (
        Answer(
            200,
            "The PNG",
            other_media={"image/png": {"schema": {"type": "string", "format": "binary"}}},
        ),
    ),
    parameters=(
        GENERATION_ID,
        query_parameter("expires", "Unix seconds", pattern="^[0-9]+$"),
        query_parameter("signature", "HMAC-SHA256, hex", pattern="^[0-9a-f]{64}$"),
    ),
    signed_in=False,
    openai_errors=(403, 404, 500),
)
@openai_api
def openai_signed_image(req: func.HttpRequest) -> func.HttpResponse:
    """The image behind a signed link: the signature is the credential, no token."""
    try:
        generation_id = UUID(req.route_params.get("id", ""))
    except ValueError:
        raise Problem(NOT_FOUND, "no such image") from None
    image = open_signed_image(
        platform(),
        image_link_key(),
        generation_id,
        req.params.get("expires", ""),
        req.params.get("signature", ""),
    )
    return func.HttpResponse(
        image.data,
        status_code=200,
        headers={"Content-Type": image.content_type, "Cache-Control": "private"},
    )
