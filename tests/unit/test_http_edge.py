"""The edge every route shares (functions/http_support.py): strict bodies, strict query
values, security headers on every answer, and a 500 that tells nothing but an id."""

from __future__ import annotations

import json
import logging
from typing import Any

import azure.functions as func
import pytest

from functions.http_support import (
    SECURITY_HEADERS,
    api,
    json_response,
    parse_body,
    query_instant,
    query_limit,
)
from functions.problems import NOT_FOUND, Problem
from services.budget_history import InvalidInstant, parse_instant
from services.budgets import BudgetUpdate
from services.commands import StreamContended
from services.generations import MAX_PROMPT_CHARS, GenerationRequest

LIMIT = 1_048_576


def request(
    body: bytes = b"", params: dict[str, str] | None = None, content_type: str = "application/json"
) -> func.HttpRequest:
    return func.HttpRequest(
        method="POST",
        url="http://localhost/api/v1/things",
        headers={"Content-Type": content_type},
        params=params or {},
        body=body,
    )


def problem_of(call: Any) -> Problem:
    with pytest.raises(Problem) as raised:
        call()
    return raised.value


def body_problem(body: bytes | str, model: Any = GenerationRequest) -> Problem:
    raw = body.encode() if isinstance(body, str) else body
    return problem_of(lambda: parse_body(request(raw), model, LIMIT))


@pytest.mark.parametrize(
    ("body", "slug"),
    [
        ('{"prompt": "a cat", "colour": "red"}', "validation-error"),  # unknown field
        ('{"prompt": "a cat", "size": "9x9"}', "validation-error"),
        ('{"prompt": NaN}', "malformed-json"),
        ('{"prompt": "a cat"', "malformed-json"),
        ("[" * 100_000 + "]" * 100_000, "malformed-json"),  # deeper than the parser goes
        ('{"prompt": ' + "9" * 5000 + "}", "malformed-json"),  # past int's digit limit
        (b'{"prompt": "\xff"}', "malformed-json"),  # not UTF-8
        ("[]", "validation-error"),
    ],
)
def test_a_body_that_is_not_exactly_the_model_is_refused(body: bytes | str, slug: str) -> None:
    assert body_problem(body).kind.slug == slug


def test_unknown_fields_are_named_in_the_422_without_echoing_values() -> None:
    problem = body_problem('{"monthly_limit_aud": "10", "limit": "secret-ish"}', BudgetUpdate)
    assert problem.kind.status == 422
    assert problem.errors == [
        {"loc": ["limit"], "msg": "Extra inputs are not permitted", "type": "extra_forbidden"}
    ]
    assert "secret-ish" not in problem.response().get_body().decode()


@pytest.mark.parametrize(
    "prompt",
    ["a cat\x00", "a cat\x1b[31m", "a\rcat", "a cat\x7f", "a cat \ud800", "\udfff a cat"],
    ids=["nul", "escape", "carriage-return", "delete", "high-surrogate", "low-surrogate"],
)
def test_prompts_with_control_characters_or_lone_surrogates_are_refused(prompt: str) -> None:
    problem = body_problem(json.dumps({"prompt": prompt}))  # ASCII JSON: "\u0000", "\ud800"
    assert problem.kind.slug == "validation-error"
    assert problem.errors is not None
    assert problem.errors[0]["loc"] == ["prompt"]


def test_newlines_tabs_and_paired_surrogates_are_text() -> None:
    prompt = "a cat\n\twearing a hat 🎩"  # the emoji is a surrogate pair in JSON's \u escapes
    parsed = parse_body(request(json.dumps({"prompt": prompt}).encode()), GenerationRequest, LIMIT)
    assert parsed.prompt == prompt


def test_the_prompt_length_limit_holds() -> None:
    fits = parse_body(
        request(json.dumps({"prompt": "x" * MAX_PROMPT_CHARS}).encode()), GenerationRequest, LIMIT
    )
    assert len(fits.prompt) == MAX_PROMPT_CHARS
    too_long = body_problem(json.dumps({"prompt": "x" * (MAX_PROMPT_CHARS + 1)}))
    assert too_long.errors is not None
    assert too_long.errors[0]["type"] == "string_too_long"


def test_a_body_over_the_limit_or_of_another_type_is_refused_before_parsing() -> None:
    big = problem_of(lambda: parse_body(request(b"{" * 11), GenerationRequest, 10))
    assert big.kind.slug == "payload-too-large"
    form = problem_of(
        lambda: parse_body(request(b"{}", content_type="text/plain"), BudgetUpdate, 10)
    )
    assert form.kind.slug == "unsupported-media-type"


@pytest.mark.parametrize(
    "text", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "soon", "2026-11-23T10:00"]
)
def test_query_instants_outside_utc_or_without_an_offset_are_400(text: str) -> None:
    problem = problem_of(lambda: query_instant(request(params={"from": text}), "from"))
    assert problem.kind.slug == "invalid-parameter"


def test_a_query_instant_with_an_offset_is_read() -> None:
    moment = query_instant(request(params={"to": "2026-11-23T10:00:00+11:00"}), "to")
    assert moment is not None
    assert moment.isoformat() == "2026-11-23T10:00:00+11:00"
    assert query_instant(request(params={"to": ""}), "to") is None


@pytest.mark.parametrize("text", ["²", "٣", "0", "201", "-1", "1e2", ""])
def test_a_limit_is_ascii_digits_in_range(text: str) -> None:
    problem = problem_of(lambda: query_limit(request(params={"limit": text}), 200, default=50))
    assert problem.kind.slug == "invalid-parameter"


def test_a_limit_in_range_or_absent_is_read() -> None:
    assert query_limit(request(params={"limit": "200"}), 200, default=50) == 200
    assert query_limit(request(), 200, default=50) == 50


def test_an_as_of_at_the_calendars_edge_is_an_invalid_instant_not_a_crash() -> None:
    with pytest.raises(InvalidInstant):
        parse_instant("0001-01-01T00:00:00+14:00")
    with pytest.raises(InvalidInstant):
        parse_instant("9999-12-31T23:59:59Z")  # Sydney is already in the year 10000


def assert_security_headers(response: func.HttpResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value, name


def test_every_answer_leaves_with_the_security_headers_and_no_store() -> None:
    def refuses(req: func.HttpRequest) -> func.HttpResponse:
        raise Problem(NOT_FOUND, "no such thing")

    answers = [api(lambda req: json_response({"ok": True}))(request()), api(refuses)(request())]
    for response in answers:
        assert_security_headers(response)
        assert response.headers["Cache-Control"] == "no-store"


def test_a_route_that_allows_caching_keeps_its_own_cache_control() -> None:
    png = api(lambda req: func.HttpResponse(b"png", headers={"Cache-Control": "private"}))
    response = png(request())
    assert response.headers["Cache-Control"] == "private"
    assert_security_headers(response)


def test_an_unexpected_error_answers_only_a_correlation_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(req: func.HttpRequest) -> func.HttpResponse:
        raise RuntimeError("stream generation-6f1c2f0e at version 3; table views_v2")

    with caplog.at_level(logging.ERROR, logger="functions.http_support"):
        response = api(broken)(request())
    assert response.status_code == 500
    assert response.headers["Content-Type"] == "application/problem+json"
    assert_security_headers(response)
    body = json.loads(response.get_body())
    assert set(body) == {"type", "title", "status", "correlation_id"}
    assert body["type"].endswith("/internal-error")
    text = response.get_body().decode()
    assert "generation-6f1c2f0e" not in text
    assert "Traceback" not in text
    # The log line with the stack trace carries the same id, so support can find it.
    [record] = [r for r in caplog.records if body["correlation_id"] in r.getMessage()]
    # exc_info, or its redacted text once the log hygiene (adapters.json_logs) is installed
    assert record.exc_info is not None or "RuntimeError" in (record.exc_text or "")
    assert response.headers["X-Correlation-Id"] == body["correlation_id"]


def test_a_command_that_gave_up_on_its_stream_answers_409_without_naming_it() -> None:
    def contended(req: func.HttpRequest) -> func.HttpResponse:
        raise StreamContended("budget-marketing-2026-11", 50, 41, 42)

    response = api(contended)(request())
    assert response.status_code == 409
    body = json.loads(response.get_body())
    assert body["type"].endswith("/concurrency-conflict")
    assert "budget-marketing" not in response.get_body().decode()  # internal: not answered
