"""`POST /provenance/verify`: is this image ours, and does the log agree?

The body is the image itself (PNG, JPEG or WebP, up to `MAX_IMAGE_BYTES`). Every
signed-in role may ask: the answer shows what the file's own manifest says (generation,
model, provider, department, time) and whether the log agrees, never an event or a
prompt. `ok` is true only for an authentic image; every other verdict answers 200 too,
since the question was answered.
"""

from __future__ import annotations

import azure.functions as func

from bootstrap import platform
from domain.access import Action, authorize
from functions.http_support import api, authenticate, json_response
from functions.problems import FORBIDDEN, PAYLOAD_TOO_LARGE, UNREADABLE_IMAGE, Problem
from functions.responses import ProvenanceReport
from functions.routes import IMAGE_MEDIA_TYPES, Answer, Routes
from services.provenance import MAX_IMAGE_BYTES, verify_image

blueprint = func.Blueprint()
routes = Routes(blueprint, tag="provenance")


@routes.declare(
    "v1/provenance/verify",
    "POST",
    "Is this image ours (valid Content Credentials, signed by the platform) and does "
    "the log agree? The body is the image.",
    (Answer(200, "The verdict; `ok` only when authentic", ProvenanceReport),),
    (FORBIDDEN, PAYLOAD_TOO_LARGE, UNREADABLE_IMAGE),
    binary_body=IMAGE_MEDIA_TYPES,
)
@api
def verify_provenance(req: func.HttpRequest) -> func.HttpResponse:
    authorize(authenticate(req), Action.PROVENANCE_VERIFY)
    data = req.get_body()
    if len(data) > MAX_IMAGE_BYTES:
        raise Problem(PAYLOAD_TOO_LARGE, f"limit {MAX_IMAGE_BYTES} bytes")
    try:
        report = verify_image(platform(), data)
    except ValueError as error:
        raise Problem(UNREADABLE_IMAGE, str(error)) from None
    return json_response(ProvenanceReport.model_validate(report.as_json()))
