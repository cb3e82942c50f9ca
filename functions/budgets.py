"""HTTP triggers for department budgets."""

from __future__ import annotations

import azure.functions as func

from bootstrap import platform
from functions.http_support import api, authenticate, json_response, parse_body
from services.budgets import BudgetUpdate, list_budgets, read_budget, set_budget

blueprint = func.Blueprint()


@blueprint.route(route="v1/budgets", methods=["GET"])
@api
def get_budgets(req: func.HttpRequest) -> func.HttpResponse:
    principal = authenticate(req)
    items = list_budgets(platform(), principal, req.params.get("period"))
    return json_response({"items": items})


@blueprint.route(route="v1/budgets/{department_id}", methods=["GET"])
@api
def get_budget(req: func.HttpRequest) -> func.HttpResponse:
    principal = authenticate(req)
    department_id = req.route_params["department_id"]
    return json_response(
        read_budget(platform(), principal, department_id, req.params.get("period"))
    )


@blueprint.route(route="v1/budgets/{department_id}", methods=["PUT"])
@api
def put_budget(req: func.HttpRequest) -> func.HttpResponse:
    principal = authenticate(req)
    app = platform()
    update = parse_body(req, BudgetUpdate, app.settings.max_request_bytes)
    department_id = req.route_params["department_id"]
    return json_response(set_budget(app, principal, department_id, update))
