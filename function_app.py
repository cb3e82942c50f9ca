"""The Functions entry point: one app, built from the blueprints in `functions/`."""

import azure.functions as func

from functions import api_routes, operations, projector, worker
from plumbing import install_log_hygiene

# Before any trigger runs: no record leaves this process unredacted or uncorrelated.
install_log_hygiene()

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
# The blueprints that serve HTTP (their queue, change-feed and timer triggers with them),
# then those that serve none.
for blueprint in (
    *api_routes.BLUEPRINTS,
    worker.blueprint,
    projector.blueprint,
    operations.blueprint,
):
    app.register_functions(blueprint)
