"""`GET /openapi.json`: the OpenAPI 3.1 document, built from the routes' declarations
(functions/routes.py, gathered by functions/api_routes.py) and models.

Request bodies are described as pydantic validates them, response bodies as the triggers
serialise them (functions/responses.py); each problem response lists the problem types
it can carry, with `type` constrained to their URIs.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from functools import cache
from typing import Any

import azure.functions as func
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from functions.http_support import api, json_response
from functions.openai_shapes import GENERATION_IDS_HEADER, OpenAIError
from functions.problems import (
    DEPENDENCY_UNAVAILABLE,
    INTERNAL_ERROR,
    MALFORMED_JSON,
    PAYLOAD_TOO_LARGE,
    PROBLEM_MEDIA_TYPE,
    UNAUTHENTICATED,
    UNSUPPORTED_MEDIA_TYPE,
    VALIDATION_ERROR,
    ProblemDetails,
    ProblemType,
)
from functions.routes import JSON, Answer, Operation, Routes

blueprint = func.Blueprint()
routes = Routes(blueprint, tag="meta")

REF = "#/components/schemas/{model}"
SIGNED_IN = (UNAUTHENTICATED, DEPENDENCY_UNAVAILABLE)
WITH_BODY = (MALFORMED_JSON, PAYLOAD_TOO_LARGE, UNSUPPORTED_MEDIA_TYPE, VALIDATION_ERROR)
PROBLEM_HEADERS = {
    401: {"WWW-Authenticate": "the bearer challenge"},
    429: {"Retry-After": "seconds until the quota resets"},
    503: {"Retry-After": "seconds to wait before trying again"},
}


@routes.declare(
    "v1/openapi.json",
    "GET",
    "This document",
    (Answer(200, "The OpenAPI 3.1 document", other_media={JSON: {"schema": {"type": "object"}}}),),
    signed_in=False,
)
@api
def get_openapi(req: func.HttpRequest) -> func.HttpResponse:
    return json_response(openapi_document())


@cache
def openapi_document() -> dict[str, Any]:
    # Not at import: the route table gathers every blueprint's routes, this one's too.
    from functions.api_routes import OPERATIONS

    refs, definitions = _schemas(OPERATIONS)
    paths: dict[str, dict[str, Any]] = {}
    for operation in OPERATIONS:
        paths.setdefault("/" + operation.route, {})[operation.method.lower()] = _operation(
            operation, refs
        )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "DonatelloAI",
            "version": "1",
            "description": (
                "Governed image generation. Errors are RFC 9457 problem+json, except on the"
                " drop-in face under /openai, which answers OpenAI's error shape."
            ),
        },
        "servers": [{"url": "/api"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": definitions,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "An Entra ID (or, locally, dev issuer) RS256 access token",
                }
            },
        },
    }


# Each model (and whether it is read or written) to the `$ref` of its schema.
Refs = dict[tuple[object, str], dict[str, Any]]


def _schemas(operations: Sequence[Operation]) -> tuple[Refs, dict[str, Any]]:
    wanted: list[tuple[type[BaseModel], JsonSchemaMode]] = [
        (ProblemDetails, "serialization"),
        (OpenAIError, "serialization"),
    ]
    for operation in operations:
        if operation.body is not None:
            wanted.append((operation.body, "validation"))
        wanted.extend((a.model, "serialization") for a in operation.answers if a.model)
    refs, top = models_json_schema(list(dict.fromkeys(wanted)), ref_template=REF)
    return {key: ref for key, ref in refs.items()}, top.get("$defs", {})


def _operation(operation: Operation, refs: Refs) -> dict[str, Any]:
    document: dict[str, Any] = {
        "operationId": operation.function,
        "summary": operation.summary,
        "tags": [operation.tag],
        "responses": {
            **{str(a.status): _answer(a, refs) for a in operation.answers},
            **(
                _openai_errors(operation, refs)
                if operation.openai_errors
                else _problems(operation, refs)
            ),
        },
    }
    if not operation.signed_in:
        document["security"] = []
    if operation.parameters:
        document["parameters"] = [
            {
                "name": p.name,
                "in": p.where,
                "required": p.where == "path" or p.required,
                "schema": p.schema,
                **({"description": p.description} if p.description else {}),
            }
            for p in operation.parameters
        ]
    if operation.body is not None:
        document["requestBody"] = {
            "required": operation.body_required,
            "content": {JSON: {"schema": refs[(operation.body, "validation")]}},
        }
    if operation.binary_body:
        binary = {"schema": {"type": "string", "format": "binary"}}
        document["requestBody"] = {
            "required": True,
            "content": dict.fromkeys(operation.binary_body, binary),
        }
    return document


def _answer(answer: Answer, refs: Refs) -> dict[str, Any]:
    document: dict[str, Any] = {"description": answer.description}
    content = dict(answer.other_media)
    if answer.model is not None:
        content[JSON] = {"schema": refs[(answer.model, "serialization")]}
    if content:
        document["content"] = content
    if answer.headers:
        document["headers"] = {
            h.name: {
                "description": h.description,
                "required": h.required,
                "schema": {"type": "string"},
            }
            for h in answer.headers
        }
    return document


def _openai_errors(operation: Operation, refs: Refs) -> dict[str, Any]:
    error = {JSON: {"schema": refs[(OpenAIError, "serialization")]}}
    optional = {"required": False, "schema": {"type": "string"}}
    headers = {GENERATION_IDS_HEADER: {"description": "the generations concerned", **optional}}
    retry = {"Retry-After": {"description": "on `rate_limit_exceeded`", **optional}}
    return {
        str(status): {
            "description": "an OpenAI error; `error.code` says which",
            "content": error,
            "headers": {**headers, **(retry if status == 429 else {})},
        }
        for status in operation.openai_errors
    }


def _headers(described: dict[str, str]) -> dict[str, Any]:
    return {
        name: {"description": text, "required": True, "schema": {"type": "string"}}
        for name, text in described.items()
    }


def _problems(operation: Operation, refs: Refs) -> dict[str, Any]:
    kinds: list[ProblemType] = list(operation.problems)
    if operation.signed_in:
        kinds.extend(SIGNED_IN)
    if operation.body is not None:
        kinds.extend(WITH_BODY)
    kinds.append(INTERNAL_ERROR)
    by_status: dict[int, list[ProblemType]] = {}
    for kind in dict.fromkeys(kinds):
        by_status.setdefault(kind.status, []).append(kind)
    problem = refs[(ProblemDetails, "serialization")]
    answers: dict[str, Any] = {}
    for status, group in sorted(by_status.items()):
        schema = {
            "allOf": [problem],
            "properties": {
                "type": {"enum": [k.uri for k in group]},
                "status": {"const": status},
            },
        }
        document: dict[str, Any] = {
            "description": "; ".join(f"`{k.slug}`: {k.title}" for k in group),
            "content": {PROBLEM_MEDIA_TYPE: {"schema": schema}},
        }
        if status in PROBLEM_HEADERS:
            document["headers"] = _headers(PROBLEM_HEADERS[status])
        answers[str(status)] = document
    return answers


def openapi_text() -> str:
    """The document as the console's type generator reads it (web/openapi.json): stable
    key order and a final newline, so a change to the API is a readable diff there."""
    return json.dumps(openapi_document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    sys.stdout.write(openapi_text())
