"""The Functions entry point: one app, built from the blueprints in `functions/`."""

import azure.functions as func

from functions import (
    audit,
    audit_log,
    budgets,
    generations,
    health,
    openapi,
    privacy,
    projector,
    quota,
    webhooks,
    worker,
)

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
for area in (
    generations,
    budgets,
    quota,
    health,
    openapi,
    worker,
    projector,
    webhooks,
    audit,
    audit_log,
    privacy,
):
    app.register_functions(area.blueprint)
