"""HTTP triggers for data-subject rights: erasure and the subject-access export."""

from __future__ import annotations

import azure.functions as func
from pydantic import BaseModel, ConfigDict, Field

from bootstrap import platform
from domain.privacy import REASON_MAX_LENGTH
from functions.http_support import api, authenticate, json_response, parse_body
from functions.responses import Erasure, SubjectExport
from services.privacy import erase_subject, export_subject

blueprint = func.Blueprint()


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


@blueprint.route(route="v1/privacy/subjects/{user_id}/erase", methods=["POST"])
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


@blueprint.route(route="v1/privacy/subjects/{user_id}/export", methods=["GET"])
@api
def export(req: func.HttpRequest) -> func.HttpResponse:
    principal = authenticate(req)
    exported = export_subject(platform(), principal, req.route_params["user_id"])
    # The one response that carries plaintext prompts: no cache may keep a copy.
    return json_response(
        SubjectExport.model_validate(exported), headers={"Cache-Control": "no-store"}
    )
