"""HTTP trigger for the caller's daily image quota."""

from __future__ import annotations

import azure.functions as func

from bootstrap import platform
from functions.http_support import api, authenticate, json_response
from functions.problems import FORBIDDEN
from functions.responses import Quota
from functions.routes import Answer, Routes
from services.quota import read_quota

blueprint = func.Blueprint()
routes = Routes(blueprint, tag="quota")


@routes.declare(
    "v1/quota",
    "GET",
    "The caller's daily image quota",
    (Answer(200, "Today's quota", Quota),),
    (FORBIDDEN,),
)
@api
def get_quota(req: func.HttpRequest) -> func.HttpResponse:
    principal = authenticate(req)
    return json_response(Quota.model_validate(read_quota(platform(), principal)))
