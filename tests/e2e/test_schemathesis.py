"""Schemathesis against the running local host, driven by the OpenAPI document it serves.

Every operation gets a bounded number of generated requests (schema-valid and not), then
stateful sequences along the links schemathesis infers (a POST's id fed to the GETs).
Each answer must be no 5xx, with a documented status code, content type, headers and a
body that matches its schema. It runs as two callers: one holding every role, so the
requests reach the services, and a plain requester of another department, so the
refusals are exercised as well.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from functions.api_routes import OPERATIONS
from tests.platform_process import RunningPlatform, running_platform

pytestmark = pytest.mark.slow

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
)
MAX_EXAMPLES = 25
# A fixed seed keeps CI's run reproducible; change it to explore other inputs.
SEED = 20261123
CALLERS = {
    "every-role": (
        [
            "Platform.Admin",
            "Generator.Standard",
            "Dept.Manager",
            "Finance.Reader",
            "Compliance.Auditor",
        ],
        "marketing",
    ),
    "requester": (["Generator.Standard"], "finance"),
}


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    with running_platform(tmp_path_factory.mktemp("schemathesis")) as running:
        yield running


@pytest.mark.parametrize("caller", sorted(CALLERS))
def test_every_answer_matches_the_served_openapi_document(
    platform: RunningPlatform, caller: str, tmp_path: Path
) -> None:
    roles, department = CALLERS[caller]
    token = platform.token(f"fuzz-{caller}", roles, department)
    served = httpx.get(f"{platform.url}/api/v1/openapi.json", timeout=10)
    assert served.status_code == 200  # without a token
    # From a file: loaded from its URL, schemathesis leaves the document's own route out.
    document = tmp_path / "openapi.json"
    document.write_bytes(served.content)
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "run",
            str(document),
            "--url",
            f"{platform.url}/api",
            "--header",
            f"Authorization: Bearer {token}",
            "--checks",
            ",".join(CHECKS),
            "--max-examples",
            str(MAX_EXAMPLES),
            "--seed",
            str(SEED),
            "--phases",
            "examples,coverage,fuzzing,stateful",
            # One worker: with two, hypothesis's lambda descriptions race in schemathesis's
            # threads on Python 3.11 and the run dies of an internal AssertionError.
            "--workers",
            "1",
            # They judge how fast data is generated, which is the machine's load, not the API.
            "--suppress-health-check",
            "all",
            "--request-timeout",
            "30",
            "--no-color",
        ],
        cwd=tmp_path,  # where schemathesis keeps its cache, not the repository
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    report = run.stdout + run.stderr
    assert f"Tested: {len(OPERATIONS)}" in report, report[-3000:]  # every operation
    assert run.returncode == 0, report[-12000:]
    assert "unhandled error" not in platform.log_path.read_text()


# Integers past what a store holds, and text that Python's int() reads but the API must
# not: asked of every integer the served document declares, query or body.
OVERFLOW_FAMILY = (
    str(2**63),
    str(-(2**63) - 1),
    "9" * 26,
    "9" * 5000,
    "1e3",
    "0x10",
    "1_0",
    " 1",
    "1.0",
    "\uff11",  # a fullwidth 1: a digit to str.isdigit and to int()
    "\u00b2",
)


def _integer_inputs(document: dict[str, Any]) -> Iterator[tuple[str, str, str, str, Any]]:
    """(method, path, where, name, schema) of every integer input in `document`."""
    schemas = document["components"]["schemas"]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for parameter in operation.get("parameters", []):
                if parameter["schema"].get("type") == "integer":
                    yield method, path, parameter["in"], parameter["name"], parameter["schema"]
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body is not None:
                model = schemas[body["schema"]["$ref"].rsplit("/", 1)[1]]
                for name, schema in model.get("properties", {}).items():
                    kinds = [schema, *schema.get("anyOf", [])]
                    bounded = next((k for k in kinds if k.get("type") == "integer"), None)
                    if bounded is not None:
                        yield method, path, "body", name, bounded


def test_every_integer_input_refuses_the_overflow_family(platform: RunningPlatform) -> None:
    everyone = platform.client(platform.token("fuzz-overflow", CALLERS["every-role"][0], "x"))
    document = everyone.get("/api/v1/openapi.json").json()
    inputs = list(_integer_inputs(document))
    assert {(path, name) for _, path, _, name, _ in inputs} >= {
        ("/v1/audit/events", "limit"),
        ("/v1/generations", "limit"),
        ("/v1/audit/verify", "since"),
    }
    unrefused = []
    for method, path, where, name, schema in inputs:
        edges = (str(schema["minimum"] - 1), str(schema["maximum"] + 1))
        for value in (*edges, *OVERFLOW_FAMILY):
            if where == "query":
                answer = everyone.request(method, f"/api{path}", params={name: value})
                expected = 400
            else:  # JSON numbers: the ones that are integers (past 4,300 digits, not JSON)
                digits = value.lstrip("-")
                if not (digits.isascii() and digits.isdigit() and len(digits) < 100):
                    continue
                # The face names one parameter at fault: the rest of the body is valid.
                face = path.startswith("/openai/")
                valid = {"prompt": "a kite"} if face else {}
                answer = everyone.request(
                    method,
                    "/api" + path.replace("{deployment}", "auto"),
                    params={"api-version": "2024-10-21"} if "{deployment}" in path else None,
                    json={**valid, name: int(value)},
                )
                expected = 422
            if path.startswith("/openai/"):  # the drop-in face: OpenAI's 400 and error shape
                refused = answer.status_code == 400 and answer.json()["error"]["param"] == name
            else:
                refused = answer.status_code == expected and "problem+json" in answer.headers.get(
                    "content-type", ""
                )
            if not refused:
                unrefused.append(f"{method} {path} {name}={value[:30]}: {answer.status_code}")
    assert unrefused == []
