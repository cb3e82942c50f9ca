"""Liveness and readiness. Anonymous: they reveal nothing but up or down."""

from __future__ import annotations

import logging
from collections.abc import Callable

import azure.functions as func

from bootstrap import platform
from functions.http_support import api, json_response
from functions.responses import HealthLive, HealthReady
from functions.routes import Answer, Routes

blueprint = func.Blueprint()
routes = Routes(blueprint, tag="health")
log = logging.getLogger(__name__)


@routes.declare(
    "v1/health/live",
    "GET",
    "Liveness",
    (Answer(200, "The process answers", HealthLive),),
    signed_in=False,
)
@api
def live(req: func.HttpRequest) -> func.HttpResponse:
    return json_response(HealthLive(status="live"))


@routes.declare(
    "v1/health/ready",
    "GET",
    "Readiness: each dependency checked",
    (
        Answer(200, "Every dependency answers", HealthReady),
        Answer(503, "A dependency does not answer", HealthReady),
    ),
    signed_in=False,
)
@api
def ready(req: func.HttpRequest) -> func.HttpResponse:
    checks: dict[str, str] = {}
    try:
        app = platform()
        probes: dict[str, Callable[[], object]] = {
            "event_store": lambda: app.store.read_stream("health-probe"),
            "views": lambda: app.views.get("generation_status", "health-probe"),
            "images": lambda: app.images.get("health/probe.png"),
        }
        for name, probe in probes.items():
            try:
                probe()
                checks[name] = "ok"
            except KeyError:
                checks[name] = "ok"  # reachable; the probe object simply does not exist
            except Exception as error:
                log.warning("readiness check %s failed: %s", name, error)
                checks[name] = "unavailable"
    except Exception as error:
        log.warning("platform not ready: %s", error)
        checks["platform"] = "unavailable"
    ok = all(value == "ok" for value in checks.values())
    answer = HealthReady.model_validate(
        {"status": "ready" if ok else "unavailable", "checks": checks}
    )
    return json_response(answer, 200 if ok else 503)
