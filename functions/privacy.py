"""HTTP triggers for data-subject rights: erasure and the subject-access export."""

from __future__ import annotations

import azure.functions as func
from pydantic import BaseModel, ConfigDict, Field

from bootstrap import platform
from domain.privacy import REASON_MAX_LENGTH
from functions.http_support import api, authenticate, json_response, parse_body
from functions.problems import CONCURRENCY_CONFLICT, FORBIDDEN
from functions.responses import Erasure, SubjectExport
from functions.routes import Answer, Routes, path_parameter
from services.privacy import erase_subject, export_subject

blueprint = func.Blueprint()
routes = Routes(blueprint, tag="privacy")


class ErasureRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(
        default=None,
        max_length=REASON_MAX_LENGTH,
        description=(
            "Free text, recorded sealed under the subject's key that the erasure destroys: "
            "nobody can read it afterwards (keep the case itself in your own records)."
        ),
    )


@routes.declare(
    "v1/privacy/subjects/{user_id}/erase",
    "POST",
    "Erase a person: destroy their key (crypto-shredding); repeating it is harmless",
    (Answer(200, "Erased", Erasure),),
    (FORBIDDEN, CONCURRENCY_CONFLICT),
    (path_parameter("user_id"),),
    body=ErasureRequest,
    body_required=False,
)
@api
def erase(req: func.HttpRequest) -> func.HttpResponse:
    principal = authenticate(req)
    app = platform()
    request = (
        parse_body(req, ErasureRequest, app.settings.max_request_bytes)
        if req.get_body()
        else ErasureRequest()
    )
    erased = erase_subject(app, principal, req.route_params["user_id"], request.reason)
    return json_response(Erasure.model_validate(erased))


@routes.declare(
    "v1/privacy/subjects/{user_id}/export",
    "GET",
    "Everything held about a person (subject access)",
    (Answer(200, "The export, prompts opened where their key exists", SubjectExport),),
    (FORBIDDEN, CONCURRENCY_CONFLICT),
    (path_parameter("user_id"),),
)
@api
def export(req: func.HttpRequest) -> func.HttpResponse:
    principal = authenticate(req)
    exported = export_subject(platform(), principal, req.route_params["user_id"])
    # The one response that carries plaintext prompts: no cache may keep a copy.
    return json_response(
        SubjectExport.model_validate(exported), headers={"Cache-Control": "no-store"}
    )
