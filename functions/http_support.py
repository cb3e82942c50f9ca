"""What every HTTP trigger shares: authentication, JSON in and out, problem+json.

Triggers stay thin: parse the request, call one service, answer. Every failure a
client can cause becomes an RFC 9457 problem with a stable `type`; anything else
is a bug and answers a bare 500 without internals.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import azure.functions as func
from pydantic import BaseModel, ValidationError

from adapters.json_logs import CORRELATION_HEADER, correlated, safe_correlation_id
from adapters.jwt_auth import AuthenticationError, JwksUnavailable, bearer_token
from bootstrap import authenticator
from domain.access import AccessDenied, Principal
from services.budget_history import InvalidInstant
from services.budgets import InvalidPeriod
from services.errors import IdempotencyConflict, NotFound
from services.ports import InvalidContinuation
from services.quota import QuotaExceeded

log = logging.getLogger(__name__)

PROBLEM_BASE = "https://donatello.ai/problems/"
Model = TypeVar("Model", bound=BaseModel)


class Problem(Exception):
    """A client-visible failure: an HTTP status, a stable type slug, and a detail."""

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str = "",
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.status, self.slug, self.title, self.detail = status, slug, title, detail
        self.errors = errors
        self.headers = headers or {}

    def response(self) -> func.HttpResponse:
        body: dict[str, Any] = {
            "type": PROBLEM_BASE + self.slug,
            "title": self.title,
            "status": self.status,
        }
        if self.detail:
            body["detail"] = self.detail
        if self.errors:
            body["errors"] = self.errors
        return func.HttpResponse(
            json.dumps(body),
            status_code=self.status,
            headers={"Content-Type": "application/problem+json", **self.headers},
        )


def json_response(
    body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> func.HttpResponse:
    return func.HttpResponse(
        json.dumps(body, default=str),
        status_code=status,
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def authenticate(req: func.HttpRequest) -> Principal:
    return authenticator().validate(bearer_token(req.headers.get("Authorization")))


def parse_body(req: func.HttpRequest, model: type[Model], max_bytes: int) -> Model:
    raw = req.get_body()
    if len(raw) > max_bytes:
        raise Problem(
            413, "payload-too-large", "Request body too large", f"limit {max_bytes} bytes"
        )
    content_type = (req.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if content_type and content_type != "application/json":
        raise Problem(415, "unsupported-media-type", "Send application/json")
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise Problem(400, "malformed-json", "Body is not valid JSON", str(error)) from None
    return validate(model, document)


def validate(model: type[Model], document: Any) -> Model:
    try:
        return model.model_validate(document)
    except ValidationError as error:
        raise Problem(
            422,
            "validation-error",
            "The request is not valid",
            f"{error.error_count()} problem(s) in the request",
            errors=[
                {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]}
                for e in error.errors(include_url=False, include_input=False)
            ],
        ) from None


Handler = Callable[[func.HttpRequest], func.HttpResponse]


def api(handler: Handler) -> Handler:
    """Translate the services' exceptions into problem+json responses."""

    @functools.wraps(handler)
    def translated(req: func.HttpRequest) -> func.HttpResponse:
        try:
            return handler(req)
        except Problem as problem:
            return problem.response()
        except AuthenticationError as error:
            return Problem(
                401,
                "unauthenticated",
                "Authentication required",
                str(error),
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            ).response()
        except AccessDenied as error:
            return Problem(403, "forbidden", "Not allowed", str(error)).response()
        except NotFound as error:
            return Problem(404, "not-found", "Not found", str(error)).response()
        except IdempotencyConflict as error:
            return Problem(
                409, "idempotency-conflict", "Idempotency-Key reused", str(error)
            ).response()
        except QuotaExceeded as error:
            return Problem(
                429,
                "quota-exceeded",
                "Daily image quota used up",
                str(error),
                headers={"Retry-After": str(error.retry_after_seconds)},
            ).response()
        except (InvalidPeriod, InvalidInstant, InvalidContinuation) as error:
            return Problem(
                400, "invalid-parameter", "Invalid query parameter", str(error)
            ).response()
        except JwksUnavailable as error:
            log.warning("dependency unavailable: %s", error)
            return Problem(
                503, "dependency-unavailable", "Try again shortly", headers={"Retry-After": "5"}
            ).response()
        except Exception:
            log.exception("unhandled error in %s", handler.__name__)
            return Problem(500, "internal-error", "Internal error").response()

    return with_correlation(translated)


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
