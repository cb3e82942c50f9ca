"""The audit trail's seal timer and `POST /audit/verify`.

Verify answers within one request, so it is capped at `MAX_EVENTS_PER_REQUEST` events
(about half a minute on the benchmark machine, well inside the front end's 230 s): past
that the report says `complete: false` and where it stopped, and `since` (a seal number)
verifies a later stretch. `donatello audit verify` has no cap.
"""

from __future__ import annotations

import logging
from functools import cache

import azure.functions as func
from pydantic import BaseModel, ConfigDict, Field

from bootstrap import audit_log, seal_store, settings
from domain.access import Action, authorize
from domain.envelope import utc_now
from functions.http_support import MAX_INTEGER, api, authenticate, json_response, parse_body
from functions.problems import FORBIDDEN, NOT_FOUND
from functions.responses import AuditReport
from functions.routes import Answer, Routes
from services.audit_verify import AuditLog, verify_log
from services.seals import SealStore, write_seal

blueprint = func.Blueprint()
routes = Routes(blueprint, tag="audit")
log = logging.getLogger(__name__)

SEAL_SCHEDULE = "%DONATELLO_SEAL_SCHEDULE%"  # the app setting `Settings.seal_schedule` gives
MAX_EVENTS_PER_REQUEST = 5_000_000


class VerifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: int | None = Field(
        default=None, ge=1, le=MAX_INTEGER, description="verify from this seal on"
    )
    max_events: int = Field(default=MAX_EVENTS_PER_REQUEST, ge=1, le=MAX_EVENTS_PER_REQUEST)


@cache
def _log() -> AuditLog:
    return audit_log(settings())


@cache
def _seals() -> SealStore:
    return seal_store(settings())


@blueprint.timer_trigger(arg_name="timer", schedule=SEAL_SCHEDULE, run_on_startup=False)
def write_seals(timer: func.TimerRequest) -> None:
    write_seal(_log(), _seals(), utc_now)


@routes.declare(
    "v1/audit/verify",
    "POST",
    f"Verify the hash chain and seals (at most {MAX_EVENTS_PER_REQUEST} events a request)",
    (Answer(200, "The report; `complete` is false when `max_events` stopped it", AuditReport),),
    (FORBIDDEN, NOT_FOUND),
    body=VerifyRequest,
    body_required=False,
)
@api
def post_verify(req: func.HttpRequest) -> func.HttpResponse:
    authorize(authenticate(req), Action.AUDIT_VERIFY)
    config = settings()
    wanted = (
        parse_body(req, VerifyRequest, config.max_request_bytes)
        if req.get_body()
        else VerifyRequest()
    )
    report = verify_log(_log(), _seals(), since=wanted.since, max_events=wanted.max_events)
    return json_response(AuditReport.model_validate(report.as_json()))
