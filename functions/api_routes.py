"""Every HTTP route of the app, in the order the OpenAPI document lists them.

Each route is declared once, beside its trigger (`Routes.declare`, functions/routes.py):
the declaration registers the trigger and describes it. This gathers the declarations
of every blueprint that serves HTTP; a blueprint left out here would leave its routes
out of the document, which tests/unit/test_openapi.py would see.
"""

from __future__ import annotations

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

OPERATIONS: tuple[Operation, ...] = tuple(
    operation
    for area in (
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
    for operation in area.routes.operations
)
