"""Webhooks: the subscription routes, the delivery worker and, on Azure, the dispatcher.

The dispatcher is a change-feed trigger on the events container with its own lease
prefix (as functions/projector.py declares the projections), retried endlessly so a
failing batch is re-run rather than skipped. Locally a checkpointed reader of the log
takes its place (`services.webhook_feed`, started by `donatello serve`).
"""

from __future__ import annotations

import logging

import azure.functions as func
from pydantic import ValidationError

from bootstrap import change_feed_event, platform, webhooks
from functions.http_support import api, authenticate, json_response, parse_body, query_limit
from functions.problems import (
    CONCURRENCY_CONFLICT,
    FORBIDDEN,
    INVALID_PARAMETER,
    INVALID_WEBHOOK_URL,
    NOT_FOUND,
    Problem,
)
from functions.projector import on_every_event
from functions.responses import Webhook, WebhookDeliveries, WebhookWithSecret
from functions.routes import DEPARTMENT, Answer, Parameter, Routes
from services.correlation import correlated
from services.destinations import RefusedDestination
from services.projection_feed import project_changes
from services.tracing import continued_span
from services.webhook_delivery import DISPATCHED_TYPES, deliver, dispatch, parse_message
from services.webhooks import (
    DELIVERIES_VIEW,
    MAX_DELIVERIES,
    WEBHOOK_QUEUE,
    WebhookRegistration,
    list_deliveries,
    read_webhook,
    register_webhook,
    remove_webhook,
)

blueprint = func.Blueprint()
routes = Routes(blueprint, tag="webhooks")
log = logging.getLogger(__name__)

DISPATCH_LEASE_PREFIX = "webhook-dispatch-"


@routes.declare(
    "v1/webhooks/{department_id}",
    "PUT",
    "Register (or replace) the department's webhook; the answer carries its secret once",
    (Answer(200, "The subscription, with its signing secret", WebhookWithSecret),),
    (FORBIDDEN, NOT_FOUND, INVALID_WEBHOOK_URL, CONCURRENCY_CONFLICT),
    (DEPARTMENT,),
    body=WebhookRegistration,
)
@api
def put_webhook(req: func.HttpRequest) -> func.HttpResponse:
    principal = authenticate(req)
    app = platform()
    registration = parse_body(req, WebhookRegistration, app.settings.max_request_bytes)
    department_id = req.route_params["department_id"]
    try:
        registered = register_webhook(
            app, webhooks().signing_key, principal, department_id, registration
        )
    except RefusedDestination as error:
        raise Problem(INVALID_WEBHOOK_URL, error.answer) from None
    # The secret is in this answer only; no cache may keep it.
    answer = WebhookWithSecret.model_validate(registered)
    return json_response(answer, headers={"Cache-Control": "no-store"})


@routes.declare(
    "v1/webhooks/{department_id}",
    "GET",
    "The department's webhook",
    (Answer(200, "The subscription", Webhook),),
    (FORBIDDEN, NOT_FOUND),
    (DEPARTMENT,),
)
@api
def get_webhook(req: func.HttpRequest) -> func.HttpResponse:
    principal = authenticate(req)
    subscription = read_webhook(platform(), principal, req.route_params["department_id"])
    return json_response(Webhook.model_validate(subscription))


@routes.declare(
    "v1/webhooks/{department_id}/deliveries",
    "GET",
    "The department's latest webhook deliveries: event, attempts, last answer, next try",
    (Answer(200, "The deliveries, newest first", WebhookDeliveries),),
    (FORBIDDEN, NOT_FOUND, INVALID_PARAMETER),
    (
        DEPARTMENT,
        Parameter("limit", "query", {"type": "integer", "minimum": 1, "maximum": MAX_DELIVERIES}),
    ),
)
@api
def get_webhook_deliveries(req: func.HttpRequest) -> func.HttpResponse:
    principal = authenticate(req)
    department_id = req.route_params["department_id"]
    limit = query_limit(req, MAX_DELIVERIES, default=MAX_DELIVERIES)
    items = list_deliveries(platform(), principal, department_id, limit)
    answer = WebhookDeliveries.model_validate({"department_id": department_id, "items": items})
    return json_response(answer)


@routes.declare(
    "v1/webhooks/{department_id}",
    "DELETE",
    "Remove the department's webhook",
    (Answer(204, "Removed"),),
    (FORBIDDEN, NOT_FOUND, CONCURRENCY_CONFLICT),
    (DEPARTMENT,),
)
@api
def delete_webhook(req: func.HttpRequest) -> func.HttpResponse:
    principal = authenticate(req)
    remove_webhook(platform(), principal, req.route_params["department_id"])
    return func.HttpResponse(status_code=204)


@blueprint.service_bus_queue_trigger(
    arg_name="message", queue_name=WEBHOOK_QUEUE, connection="ServiceBusConnection"
)
def deliver_webhook(message: func.ServiceBusMessage) -> None:
    try:
        delivery = parse_message(message.get_body())
    except ValidationError:
        log.error("discarding malformed webhook message %s", message.message_id)
        return
    attributes = {"donatello.delivery_id": str(delivery.delivery_id)}
    with (
        correlated(str(delivery.delivery_id)),
        continued_span("webhook.deliver", message.application_properties, attributes),
    ):
        outcome = deliver(platform(), webhooks(), delivery)
        log.info("webhook delivery %s: %s", delivery.delivery_id, outcome)


@on_every_event(blueprint, "dispatch_webhooks", DISPATCH_LEASE_PREFIX)
def dispatch_webhooks(documents: func.DocumentList) -> None:
    app, ports = platform(), webhooks()
    items = [document.to_dict() for document in documents]
    # This trigger reads every event anyway, so it feeds the deliveries view too (folding
    # is idempotent, so a retried batch is harmless).
    project_changes(app, DELIVERIES_VIEW, items)
    for item in items:
        if item.get("type") in DISPATCHED_TYPES:
            dispatch(app, ports, change_feed_event(item))
