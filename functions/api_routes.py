"""Every HTTP route of the app, in the order the OpenAPI document lists them.

Each route is declared once, beside its trigger (`Routes.declare`, functions/routes.py):
the declaration registers the trigger and describes it. This gathers the declarations
of every blueprint that serves HTTP; a blueprint left out here would leave its routes
out of the document and the app (function_app.py registers these blueprints), which
tests/unit/test_openapi.py and tests/unit/test_function_app_bindings.py would see.
"""

from __future__ import annotations

import azure.functions as func

from functions import (
    audit,
    audit_log,
    budgets,
    generations,
    health,
    openai_images,
    openapi,
    privacy,
    provenance,
    quota,
    webhooks,
)
from functions.routes import Operation

# The blueprints that serve HTTP, in the order the document lists their routes.
AREAS = (
    generations,
    budgets,
    quota,
    health,
    openapi,
    webhooks,
    audit,
    audit_log,
    privacy,
    provenance,
    openai_images,
)
BLUEPRINTS: tuple[func.Blueprint, ...] = tuple(area.blueprint for area in AREAS)
OPERATIONS: tuple[Operation, ...] = tuple(
    operation for area in AREAS for operation in area.routes.operations
)
