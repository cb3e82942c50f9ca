"""The OpenAPI document against the app it describes: every route, every problem type."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import jsonschema_rs
import pytest

from functions import problems
from functions.api_routes import OPERATIONS
from functions.http_support import MAX_INTEGER
from functions.openapi import openapi_document
from functions.problems import Problem, ProblemType
from tests.function_app_triggers import http_routes

DOCUMENT = openapi_document()
METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}
PROBLEM_TYPES = [v for v in vars(problems).values() if isinstance(v, ProblemType)]


def documented() -> dict[tuple[str, str], str]:
    return {
        (path.removeprefix("/"), method.upper()): operation["operationId"]
        for path, item in DOCUMENT["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    }


def schema_of(fragment: dict[str, Any]) -> jsonschema_rs.Validator:
    """A validator for `fragment`, its `#/components/...` references resolvable."""
    return jsonschema_rs.validator_for({**fragment, "components": DOCUMENT["components"]})


def test_every_registered_route_is_documented_by_the_function_that_serves_it() -> None:
    registered = http_routes()
    assert registered  # the app registers its routes, so the comparison means something
    assert documented() == registered
    assert {(o.route, o.method): o.function for o in OPERATIONS} == registered


def test_the_document_is_openapi_3_1_with_bearer_jwt() -> None:
    assert DOCUMENT["openapi"] == "3.1.0"
    assert DOCUMENT["security"] == [{"bearer": []}]
    scheme = DOCUMENT["components"]["securitySchemes"]["bearer"]
    assert scheme == {**scheme, "type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    anonymous = {
        path
        for path, item in DOCUMENT["paths"].items()
        for operation in item.values()
        if operation.get("security") == []
    }
    # The face's signed image link: its signature is the credential.
    assert anonymous == {
        "/v1/health/live",
        "/v1/health/ready",
        "/v1/openapi.json",
        "/openai/images/{id}",
    }
    assert json.loads(json.dumps(DOCUMENT)) == DOCUMENT  # plain JSON, nothing left to coerce


def test_every_schema_in_it_is_valid_json_schema_2020_12() -> None:
    for name, schema in DOCUMENT["components"]["schemas"].items():
        assert jsonschema_rs.meta.is_valid(schema), name
    for item in DOCUMENT["paths"].values():
        for operation in item.values():
            for answer in operation["responses"].values():
                for media in answer.get("content", {}).values():
                    assert jsonschema_rs.meta.is_valid(media["schema"])


def test_every_problem_type_is_documented_on_some_operation() -> None:
    listed = {
        uri
        for item in DOCUMENT["paths"].values()
        for operation in item.values()
        for status, answer in operation["responses"].items()
        if "application/problem+json" in answer.get("content", {})
        for uri in answer["content"]["application/problem+json"]["schema"]["properties"]["type"][
            "enum"
        ]
    }
    assert listed == {kind.uri for kind in PROBLEM_TYPES}


def test_signed_in_routes_document_401_and_body_routes_document_422() -> None:
    for path, item in DOCUMENT["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            assert "500" in responses, (method, path)
            assert ("401" in responses) == (operation.get("security") != []), (method, path)
            if not path.startswith("/openai/"):  # OpenAI answers a bad parameter with 400
                assert ("422" in responses) == ("requestBody" in operation), (method, path)


def test_the_drop_in_face_documents_openai_errors_and_no_problem_json() -> None:
    face = {p: item for p, item in DOCUMENT["paths"].items() if p.startswith("/openai/")}
    assert set(face) == {
        "/openai/v1/images/generations",
        "/openai/deployments/{deployment}/images/generations",
        "/openai/v1/models",
        "/openai/images/{id}",
    }
    error = schema_of({"$ref": "#/components/schemas/OpenAIError"})
    error.validate({"error": {"message": "m", "type": "t", "param": None, "code": "c"}})
    assert not error.is_valid({"type": "https://donatello.ai/problems/forbidden"})
    for item in face.values():
        for operation in item.values():
            for status, answer in operation["responses"].items():
                assert "application/problem+json" not in answer.get("content", {}), status
                if int(status) >= 400:
                    ref = answer["content"]["application/json"]["schema"]["$ref"]
                    assert ref.endswith("/OpenAIError")
    generate = face["/openai/v1/images/generations"]["post"]["responses"]
    assert {"400", "401", "403", "429", "502", "504"} <= set(generate)


@pytest.mark.parametrize("kind", PROBLEM_TYPES, ids=lambda kind: kind.slug)
def test_each_problem_as_answered_matches_its_documented_schema(kind: ProblemType) -> None:
    response = Problem(
        kind,
        "a detail",
        errors=[{"loc": ["body", "prompt"], "msg": "too long", "type": "string_too_long"}],
        correlation_id="3f1c0b8e-0000-4000-8000-000000000000",
    ).response()
    body = json.loads(response.get_body())
    assert response.status_code == kind.status
    assert response.headers["Content-Type"] == "application/problem+json"
    operations = [
        operation["responses"][str(kind.status)]
        for item in DOCUMENT["paths"].values()
        for operation in item.values()
        if kind.uri
        in operation["responses"]
        .get(str(kind.status), {})
        .get("content", {})
        .get("application/problem+json", {})
        .get("schema", {})
        .get("properties", {})
        .get("type", {})
        .get("enum", [])
    ]
    assert operations
    for answer in operations:
        schema = schema_of(answer["content"]["application/problem+json"]["schema"])
        schema.validate(body)
    # The same body with another status or type is not what the document promises.
    wrong = schema_of(operations[0]["content"]["application/problem+json"]["schema"])
    assert not wrong.is_valid({**body, "type": problems.PROBLEM_BASE + "no-such-problem"})
    assert not wrong.is_valid({**body, "stack": "Traceback"})


def test_request_bodies_reject_unknown_fields_in_the_document_too() -> None:
    schemas = DOCUMENT["components"]["schemas"]
    for item in DOCUMENT["paths"].values():
        for operation in item.values():
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                ref = content["application/json"]["schema"]["$ref"]
                assert schemas[ref.rsplit("/", 1)[1]]["additionalProperties"] is False, ref


def _integers(schema: Any, seen: set[str]) -> Iterator[dict[str, Any]]:
    """Every integer schema inside `schema`, following `$ref`s into the components."""
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref not in seen:
            seen.add(ref)
            yield from _integers(DOCUMENT["components"]["schemas"][ref.rsplit("/", 1)[1]], seen)
        if schema.get("type") == "integer" or "integer" in (schema.get("type") or []):
            yield schema
        for value in schema.values():
            yield from _integers(value, seen)
    elif isinstance(schema, list):
        for item in schema:
            yield from _integers(item, seen)


def test_every_integer_a_client_sends_is_bounded_within_64_bits() -> None:
    # Past 2**63 - 1 SQLite raises OverflowError: every integer input says its bounds,
    # and the edge holds it to them (a 400 or 422, never a 500).
    inputs = [
        part
        for item in DOCUMENT["paths"].values()
        for method, operation in item.items()
        if method in METHODS
        for part in (operation.get("parameters", []), operation.get("requestBody", {}))
    ]
    integers = list(_integers(inputs, set()))
    assert len(integers) >= 3  # both limits and verify's `since`, at least
    for schema in integers:
        assert -(2**63) <= schema["minimum"] <= schema["maximum"] <= MAX_INTEGER, schema
    assert MAX_INTEGER == 2**63 - 1


def test_provenance_verify_takes_the_image_itself() -> None:
    operation = DOCUMENT["paths"]["/v1/provenance/verify"]["post"]
    content = operation["requestBody"]["content"]
    assert sorted(content) == ["image/jpeg", "image/png", "image/webp"]
    assert content["image/png"]["schema"] == {"type": "string", "format": "binary"}
    assert "413" in operation["responses"]
    assert "422" in operation["responses"]
