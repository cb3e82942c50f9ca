"""The logging setup: JSON lines, correlation ids from the context, secrets redacted."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from adapters.json_logs import REDACTED, configure_logging, redact
from services.correlation import correlated, safe_correlation_id

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLWJ5dGVz"
SECRET = "whsec_0123456789abcdef"


@pytest.fixture
def lines() -> Iterator[Any]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    configure_logging(stream)

    def read() -> list[dict[str, Any]]:
        return [json.loads(line) for line in stream.getvalue().splitlines()]

    yield read
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in saved[0]:
        root.addHandler(handler)
    root.setLevel(saved[1])


@pytest.mark.parametrize(
    ("text", "kept_out"),
    [
        (f"Authorization: Bearer {JWT}", JWT),
        (f"token {JWT} refused", JWT),
        (f"signed with {SECRET}", SECRET),
        ("GET https://acct.blob.core.windows.net/x.png?sv=1&sig=AbC%2Bdef&se=2", "AbC%2Bdef"),
        ('{"client_secret": "hunter2-secret"}', "hunter2-secret"),
        ("api_key=sk-live-123 and password: pa55word", "sk-live-123"),
        ("api_key=sk-live-123 and password: pa55word", "pa55word"),
        (
            "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n"
            "-----END PRIVATE KEY-----",
            "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
        ),
    ],
)
def test_redact_keeps_credentials_out(text: str, kept_out: str) -> None:
    cleaned = redact(text)
    assert kept_out not in cleaned
    assert "redacted" in cleaned


def test_redact_leaves_ordinary_text_alone() -> None:
    text = "generation 5d0c7a0e is charged; 3 events in, 2 documents written"
    assert redact(text) == text


def test_lines_are_json_with_the_correlation_id_of_the_work_in_hand(lines: Any) -> None:
    log = logging.getLogger("test.json_logs")
    log.info("before")
    with correlated("req-1"):
        log.info("inside %s", "work", extra={"generation_id": "g-1", "prompt": "a secret cat"})
    log.warning("after")
    before, inside, after = lines()
    assert before["correlation_id"] is None
    assert inside["correlation_id"] == "req-1"
    assert inside["message"] == "inside work"
    assert inside["generation_id"] == "g-1"
    assert inside["prompt"] == REDACTED
    assert inside["level"] == "INFO"
    assert inside["logger"] == "test.json_logs"
    assert after["correlation_id"] is None
    assert after["level"] == "WARNING"


class Body(BaseModel):
    size: int


def test_an_exceptions_text_is_redacted_before_any_handler_sees_it(lines: Any) -> None:
    log = logging.getLogger("test.json_logs")
    prompt = "a portrait of Jane Citizen"  # a traceback shows source lines, not values
    try:
        Body.model_validate({"size": prompt})
    except ValidationError:
        log.exception("bad body from %s", f"Bearer {JWT}")
    (line,) = lines()
    assert "Jane Citizen" not in json.dumps(line)
    assert JWT not in json.dumps(line)
    assert "ValidationError" in line["exception"]


@pytest.mark.parametrize(
    ("given", "kept"),
    [("abc-123", True), ("5d0c7a0e-8f1b-4c52-9b3e-2f6a1d9e4b71", True), ("a\nforged", False)],
)
def test_only_plain_ids_are_taken_from_a_caller(given: str, kept: bool) -> None:
    assert (safe_correlation_id(given) == given) is kept
    assert safe_correlation_id("x" * 65) != "x" * 65
    assert safe_correlation_id(None)
