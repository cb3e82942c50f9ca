"""What every HTTP trigger shares: authentication, JSON in and out, problem+json, headers.

Triggers stay thin: parse the request, call one service, answer. Every failure a
client can cause becomes an RFC 9457 problem with a stable `type` (functions/problems.py);
anything else is a bug and answers a generic 500 that carries only a correlation id,
which the log line with the stack trace also carries. Every answer, success or not,
leaves with the security headers.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar
from uuid import uuid4

import azure.functions as func
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from bootstrap import authenticator, meter
from domain.access import AccessDenied, Principal
from functions.problems import (
    CONCURRENCY_CONFLICT,
    DEPENDENCY_UNAVAILABLE,
    FORBIDDEN,
    IDEMPOTENCY_CONFLICT,
    INTERNAL_ERROR,
    INVALID_PARAMETER,
    MALFORMED_JSON,
    NOT_FOUND,
    PAYLOAD_TOO_LARGE,
    QUOTA_EXCEEDED,
    UNAUTHENTICATED,
    UNSUPPORTED_MEDIA_TYPE,
    VALIDATION_ERROR,
    Problem,
)
from services.budget_history import InvalidInstant
from services.budgets import InvalidPeriod
from services.commands import StreamContended
from services.correlation import CORRELATION_HEADER, correlated, safe_correlation_id
from services.correlation import correlation_id as current_correlation_id
from services.errors import IdempotencyConflict, NotFound
from services.identity import AuthenticationError, JwksUnavailable, bearer_token
from services.metrics import AUTH_FAILURES
from services.ports import InvalidContinuation, ModerationUnavailable
from services.quota import QuotaExceeded

log = logging.getLogger(__name__)

Model = TypeVar("Model", bound=BaseModel)

# On every answer: an API response is never a page to render, frame, sniff or refer from.
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
}
# Unless a trigger says otherwise (the PNG may be kept privately), nothing is cached:
# answers are per caller and some carry personal data.
DEFAULT_CACHE_CONTROL = "no-store"


def json_response(
    body: BaseModel | Any, status: int = 200, headers: dict[str, str] | None = None
) -> func.HttpResponse:
    # Unset fields stay out: an optional field a service did not give is absent, not null.
    text = (
        body.model_dump_json(exclude_unset=True)
        if isinstance(body, BaseModel)
        else json.dumps(body)
    )
    return func.HttpResponse(
        text,
        status_code=status,
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def authenticate(req: func.HttpRequest, key_header: str | None = None) -> Principal:
    """The bearer token's principal; `key_header` may carry the bare token instead (as
    Azure OpenAI's `api-key` does)."""
    header = req.headers.get("Authorization")
    key = req.headers.get(key_header) if key_header else None
    if header is None and key:
        header = f"Bearer {key}"
    return authenticator().validate(bearer_token(header))


def parse_body(req: func.HttpRequest, model: type[Model], max_bytes: int) -> Model:
    raw = req.get_body()
    if len(raw) > max_bytes:
        raise Problem(PAYLOAD_TOO_LARGE, f"limit {max_bytes} bytes")
    content_type = (req.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if content_type and content_type != "application/json":
        raise Problem(UNSUPPORTED_MEDIA_TYPE)
    try:
        document = json.loads(raw, parse_constant=_no_constant)
    except json.JSONDecodeError as error:
        raise Problem(MALFORMED_JSON, str(error)) from None
    except (ValueError, RecursionError):
        # Bad UTF-8, NaN/Infinity, a number past the digit limit, or nesting too deep.
        raise Problem(MALFORMED_JSON, "not strict JSON") from None
    return validate(model, document)


def query_instant(req: func.HttpRequest, name: str) -> datetime | None:
    """The query parameter `name` as an aware instant, or None when absent or empty."""
    text = req.params.get(name)
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise Problem(INVALID_PARAMETER, f"{name} must be an ISO 8601 time") from None
    if moment.utcoffset() is None:
        raise Problem(INVALID_PARAMETER, f"{name} needs a UTC offset")
    try:
        # Stored times are UTC: 0001-01-01T00:00+14:00 has no UTC instant.
        moment.astimezone(UTC)
    except OverflowError:
        raise Problem(INVALID_PARAMETER, f"{name} is out of range") from None
    return moment


# No integer a client sends may exceed what the stores hold: SQLite's INTEGER is a
# signed 64-bit value, and a larger one raises OverflowError deep inside a read.
MAX_INTEGER = 2**63 - 1
# `after` of `GET /audit/events`: the embedded log's position, or Cosmos DB's
# "recorded_at|version|stream_id". Its integers stay within 18 digits (below MAX_INTEGER).
CURSOR_PATTERN = r"^([0-9]{1,18}|[0-9T:.+Z-]{1,40}[|][0-9]{1,18}[|][^|].{0,254})$"
CURSOR_MAX_LENGTH = 300
_CURSOR = re.compile(CURSOR_PATTERN)


def query_integer(
    req: func.HttpRequest, name: str, *, minimum: int, maximum: int, default: int
) -> int:
    """The query parameter `name` as an integer in `minimum`..`maximum` (both within
    `MAX_INTEGER`), `default` when absent. ASCII digits only ("²" is a digit to Python)."""
    text = req.params.get(name)
    if text is None:
        return default
    digits = text[1:] if text[:1] == "-" else text
    # Bounded by length before `int`, which is quadratic in the digits it is given.
    if not (digits.isascii() and digits.isdigit() and len(digits) <= len(str(MAX_INTEGER))):
        raise Problem(INVALID_PARAMETER, f"{name} is an integer from {minimum} to {maximum}")
    value = int(text)
    if not minimum <= value <= maximum:
        raise Problem(INVALID_PARAMETER, f"{name} is an integer from {minimum} to {maximum}")
    return value


def query_limit(req: func.HttpRequest, most: int, default: int) -> int:
    """`limit`: a page size in 1..`most`."""
    return query_integer(req, "limit", minimum=1, maximum=most, default=default)


def query_cursor(req: func.HttpRequest, name: str) -> str | None:
    """The query parameter `name` as a cursor of the shape `CURSOR_PATTERN` describes, or
    None when absent or empty. Whether the store issued it is the store's to say."""
    text: str | None = req.params.get(name)
    if not text:
        return None
    if len(text) > CURSOR_MAX_LENGTH or not _CURSOR.fullmatch(text):
        raise Problem(INVALID_PARAMETER, f"{name} is not a cursor this API issued")
    return text


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def validate(model: type[Model], document: Any) -> Model:
    try:
        return model.model_validate(document)
    except ValidationError as error:
        errors = _one_per_mistake(error.errors(include_url=False, include_input=False))
        raise Problem(
            VALIDATION_ERROR,
            f"{len(errors)} problem(s) in the request",
            errors=[{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in errors],
        ) from None


def _one_per_mistake(errors: list[ErrorDetails]) -> list[ErrorDetails]:
    """Without the echoes: a list whose only item is refused is then "too short" too,
    which says the same mistake again, confusingly ("Tuple should have at least 1 item")."""

    def echo(error: ErrorDetails) -> bool:
        loc = error["loc"]
        return error["type"] == "too_short" and any(
            len(other["loc"]) > len(loc) and other["loc"][: len(loc)] == loc for other in errors
        )

    return [error for error in errors if not echo(error)]


Handler = Callable[[func.HttpRequest], func.HttpResponse]


def api(handler: Handler) -> Handler:
    """Every route's wrapper: services' exceptions as problem+json, security headers on."""
    return answered(handler, lambda response: response)


def answered(
    handler: Handler, translate: Callable[[func.HttpResponse], func.HttpResponse]
) -> Handler:
    """`api`, with every answer passed through `translate` (another API's error shape)."""

    @functools.wraps(handler)
    def guarded(req: func.HttpRequest) -> func.HttpResponse:
        response = translate(_answer(handler, req))
        for name, value in SECURITY_HEADERS.items():
            response.headers[name] = value
        if "Cache-Control" not in response.headers:
            response.headers["Cache-Control"] = DEFAULT_CACHE_CONTROL
        return response

    return with_correlation(guarded)


def with_correlation(handler: Handler) -> Handler:
    """Log the handling under the request's correlation id and answer it in a header.

    The id is the caller's `X-Correlation-Id` when that is a plain id (the local host
    sets one for every request), so one id follows a request across hops.
    """

    @functools.wraps(handler)
    def correlated_handler(req: func.HttpRequest) -> func.HttpResponse:
        request_id = safe_correlation_id(req.headers.get(CORRELATION_HEADER))
        with correlated(request_id):
            response = handler(req)
        response.headers[CORRELATION_HEADER] = request_id
        return response

    return correlated_handler


def _answer(handler: Handler, req: func.HttpRequest) -> func.HttpResponse:
    try:
        return handler(req)
    except Problem as problem:
        return problem.response()
    except AuthenticationError as error:
        meter().add(AUTH_FAILURES, reason=error.reason)  # a fixed phrase of jwt_auth's
        return Problem(
            UNAUTHENTICATED,
            str(error),
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        ).response()
    except AccessDenied as error:
        return Problem(FORBIDDEN, str(error)).response()
    except NotFound as error:
        if error.denied is not None:  # the access line says 404: this says why
            log.warning("%s (answered 404 not-found)", error.denied)
        return Problem(NOT_FOUND, str(error)).response()
    except IdempotencyConflict as error:
        return Problem(IDEMPOTENCY_CONFLICT, str(error)).response()
    except StreamContended:
        # Its message names the stream: internal, so it stays out of the answer.
        return Problem(CONCURRENCY_CONFLICT, "another change won the race; retry").response()
    except QuotaExceeded as error:
        return Problem(
            QUOTA_EXCEEDED, str(error), headers={"Retry-After": str(error.retry_after_seconds)}
        ).response()
    except (InvalidPeriod, InvalidInstant, InvalidContinuation) as error:
        return Problem(INVALID_PARAMETER, str(error)).response()
    except JwksUnavailable as error:
        log.warning("dependency unavailable: %s", error)
        return Problem(DEPENDENCY_UNAVAILABLE, headers={"Retry-After": "5"}).response()
    except ModerationUnavailable as error:  # a passing outage at the door: nothing recorded
        log.warning("moderation unavailable: %s", error)
        wait = max(1, round(error.retry_after or 5))
        return Problem(DEPENDENCY_UNAVAILABLE, headers={"Retry-After": str(wait)}).response()
    except Exception:
        # The request's own id (`with_correlation` set it), so the answer, the response
        # header and the logged stack trace all carry the same one.
        request_id = current_correlation_id.get() or str(uuid4())
        log.exception("unhandled error in %s (correlation id %s)", handler.__name__, request_id)
        return Problem(INTERNAL_ERROR, correlation_id=request_id).response()
