"""HTTP trigger for the caller's daily image quota."""

from __future__ import annotations

import azure.functions as func

from bootstrap import platform
from functions.http_support import api, authenticate, json_response
from functions.responses import Quota
from services.quota import read_quota

blueprint = func.Blueprint()


@blueprint.route(route="v1/quota", methods=["GET"])
@api
def get_quota(req: func.HttpRequest) -> func.HttpResponse:
    principal = authenticate(req)
    return json_response(Quota.model_validate(read_quota(platform(), principal)))
