"""The Functions entry point: one app, built from the blueprints in `functions/`."""

import azure.functions as func

from adapters.json_logs import install_log_hygiene
from functions import (
    audit,
    audit_log,
    budgets,
    generations,
    health,
    openai_images,
    openapi,
    operations,
    privacy,
    projector,
    provenance,
    quota,
    webhooks,
    worker,
)

# Before any trigger runs: no record leaves this process unredacted or uncorrelated.
install_log_hygiene()

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
for area in (
    generations,
    openai_images,
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
    provenance,
    operations,
):
    app.register_functions(area.blueprint)
