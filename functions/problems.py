"""Every problem type the API answers (RFC 9457), and the body they share.

One catalogue: the triggers raise these, `functions/http_support.py` renders them and
`functions/openapi.py` documents each operation's responses from the same objects, so a
problem type cannot be answered without being described.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import azure.functions as func
from pydantic import BaseModel, ConfigDict, Field

PROBLEM_BASE = "https://donatello.ai/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"


@dataclass(frozen=True, slots=True)
class ProblemType:
    status: int
    slug: str
    title: str

    @property
    def uri(self) -> str:
        return PROBLEM_BASE + self.slug


MALFORMED_JSON = ProblemType(400, "malformed-json", "Body is not valid JSON")
INVALID_PARAMETER = ProblemType(400, "invalid-parameter", "Invalid query parameter")
INVALID_HEADER = ProblemType(400, "invalid-header", "Invalid header")
UNAUTHENTICATED = ProblemType(401, "unauthenticated", "Authentication required")
FORBIDDEN = ProblemType(403, "forbidden", "Not allowed")
NOT_FOUND = ProblemType(404, "not-found", "Not found")
IDEMPOTENCY_CONFLICT = ProblemType(409, "idempotency-conflict", "Idempotency-Key reused")
CONCURRENCY_CONFLICT = ProblemType(409, "concurrency-conflict", "Changed concurrently, retry")
PAYLOAD_TOO_LARGE = ProblemType(413, "payload-too-large", "Request body too large")
UNSUPPORTED_MEDIA_TYPE = ProblemType(415, "unsupported-media-type", "Send application/json")
VALIDATION_ERROR = ProblemType(422, "validation-error", "The request is not valid")
INVALID_WEBHOOK_URL = ProblemType(422, "invalid-webhook-url", "The webhook URL is refused")
INVALID_CALLBACK_URL = ProblemType(422, "invalid-callback-url", "The callback URL is refused")
PROMPT_REJECTED = ProblemType(422, "prompt-rejected", "The prompt is refused by policy")
BUDGET_EXHAUSTED = ProblemType(
    422, "budget-exhausted", "The hard budget cannot cover the cheapest eligible model"
)
NO_ELIGIBLE_MODEL = ProblemType(
    422, "no-eligible-model", "No model can serve this under the department's requirements"
)
UNREADABLE_IMAGE = ProblemType(422, "unreadable-image", "Send a PNG, JPEG or WebP image")
QUOTA_EXCEEDED = ProblemType(429, "quota-exceeded", "Daily image quota used up")
INTERNAL_ERROR = ProblemType(500, "internal-error", "Internal error")
DEPENDENCY_UNAVAILABLE = ProblemType(503, "dependency-unavailable", "Try again shortly")


class ValidationIssue(BaseModel):
    """One reason a request was refused: where, and why (never the offending input)."""

    loc: list[str | int]
    msg: str
    type: str


class ProblemDetails(BaseModel):
    """An RFC 9457 problem. A 500 carries a `correlation_id` to quote to support."""

    model_config = ConfigDict(extra="forbid")

    type: str = Field(json_schema_extra={"format": "uri"})
    title: str
    status: int = Field(ge=400, le=599)
    detail: str | None = None
    errors: list[ValidationIssue] | None = None
    correlation_id: str | None = None
    # The generation a refusal at the door recorded (a rejected prompt, redacted).
    generation_id: str | None = None


class Problem(Exception):
    """A client-visible failure of a known type, with a detail for this occurrence."""

    def __init__(
        self,
        kind: ProblemType,
        detail: str = "",
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        correlation_id: str | None = None,
        generation_id: str | None = None,
    ) -> None:
        super().__init__(detail or kind.title)
        self.kind, self.detail = kind, detail
        self.errors = errors
        self.headers = headers or {}
        self.correlation_id = correlation_id
        self.generation_id = generation_id

    def response(self) -> func.HttpResponse:
        body = ProblemDetails(
            type=self.kind.uri,
            title=self.kind.title,
            status=self.kind.status,
            detail=self.detail or None,
            errors=[ValidationIssue.model_validate(e) for e in self.errors]
            if self.errors
            else None,
            correlation_id=self.correlation_id,
            generation_id=self.generation_id,
        )
        return func.HttpResponse(
            json.dumps(body.model_dump(mode="json", exclude_none=True)),
            status_code=self.kind.status,
            headers={"Content-Type": PROBLEM_MEDIA_TYPE, **self.headers},
        )
