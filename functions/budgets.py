"""HTTP triggers for department budgets."""

from __future__ import annotations

import azure.functions as func

from bootstrap import platform
from functions import responses
from functions.http_support import api, authenticate, json_response, parse_body
from functions.problems import (
    CONCURRENCY_CONFLICT,
    FORBIDDEN,
    INVALID_PARAMETER,
    NO_ELIGIBLE_MODEL,
    NOT_FOUND,
    Problem,
)
from functions.routes import (
    DATE_TIME,
    DEPARTMENT,
    Answer,
    Header,
    Routes,
    query_parameter,
)
from services.budget_csv import budget_csv, budgets_csv
from services.budget_history import parse_instant
from services.budgets import (
    BudgetUpdate,
    RequirementsUnmet,
    list_budgets,
    read_budget,
    set_budget,
)

blueprint = func.Blueprint()
routes = Routes(blueprint, tag="budgets")

FORMATS = ("json", "csv")
MONTH = r"^(?!0000)\d{4}-(0[1-9]|1[0-2])$"
PERIOD = query_parameter(
    "period", "a Sydney calendar month; default the current one", pattern=MONTH
)
FORMAT = query_parameter("format", "json (default) or csv", enum=list(FORMATS))
CSV = {"text/csv": {"schema": {"type": "string"}}}
CSV_DOWNLOAD = Header("Content-Disposition", "attachment, with the file's name", required=False)


@routes.declare(
    "v1/budgets",
    "GET",
    "The month's budgets the caller may see, one per department",
    (Answer(200, "The budgets", responses.BudgetList, CSV, (CSV_DOWNLOAD,)),),
    (FORBIDDEN, INVALID_PARAMETER),
    (PERIOD, FORMAT),
)
@api
def get_budgets(req: func.HttpRequest) -> func.HttpResponse:
    principal = authenticate(req)
    wanted = _format(req)
    budgets = list_budgets(platform(), principal, req.params.get("period"))
    if wanted == "csv":
        return _csv_response(budgets_csv(budgets.items), f"budgets-{budgets.period}.csv")
    answer = responses.BudgetList.model_validate({"period": budgets.period, "items": budgets.items})
    return json_response(answer)


@routes.declare(
    "v1/budgets/{department_id}",
    "GET",
    "One department's month, with its forecast; `as_of` reads it as the log stood then",
    (Answer(200, "The budget", responses.Budget, CSV, (CSV_DOWNLOAD,)),),
    (FORBIDDEN, NOT_FOUND, INVALID_PARAMETER),
    (
        DEPARTMENT,
        PERIOD,
        query_parameter("as_of", "a past instant, with a UTC offset", **DATE_TIME),
        FORMAT,
    ),
)
@api
def get_budget(req: func.HttpRequest) -> func.HttpResponse:
    principal = authenticate(req)
    wanted = _format(req)
    department_id = req.route_params["department_id"]
    as_of = req.params.get("as_of")
    budget = read_budget(
        platform(),
        principal,
        department_id,
        req.params.get("period"),
        None if as_of is None else parse_instant(as_of),
    )
    if wanted == "csv":
        # The department id is known to be [a-z0-9_-], so it is safe in the header as is.
        filename = f"budget-{budget['department_id']}-{budget['period']}.csv"
        return _csv_response(budget_csv(budget), filename)
    return json_response(responses.Budget.model_validate(budget))


@routes.declare(
    "v1/budgets/{department_id}",
    "PUT",
    "Set the department's standing budget policy, from this month on",
    (Answer(200, "The policy as recorded", responses.BudgetSetAnswer),),
    (FORBIDDEN, NOT_FOUND, NO_ELIGIBLE_MODEL, CONCURRENCY_CONFLICT),
    (DEPARTMENT,),
    body=BudgetUpdate,
)
@api
def put_budget(req: func.HttpRequest) -> func.HttpResponse:
    principal = authenticate(req)
    app = platform()
    update = parse_body(req, BudgetUpdate, app.settings.max_request_bytes)
    department_id = req.route_params["department_id"]
    try:
        recorded = set_budget(app, principal, department_id, update)
    except RequirementsUnmet as error:
        raise Problem(NO_ELIGIBLE_MODEL, str(error)) from None
    return json_response(responses.BudgetSetAnswer.model_validate(recorded))


def _format(req: func.HttpRequest) -> str:
    wanted = str(req.params.get("format", "json"))
    if wanted not in FORMATS:
        raise Problem(INVALID_PARAMETER, "format is json or csv")
    return wanted


def _csv_response(body: str, filename: str) -> func.HttpResponse:
    return func.HttpResponse(
        body.encode(),
        status_code=200,
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{filename}"',
        },
    )
