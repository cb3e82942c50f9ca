"""The drop-in face's bodies in OpenAI's shapes: images, the model list, and errors.

Errors carry the statuses the `openai` SDK maps to its exception classes (400
BadRequestError, 401 AuthenticationError, 403 PermissionDeniedError, 429 RateLimitError,
5xx InternalServerError) and OpenAI's own `code` where OpenAI has one for the case.
Problems the shared wrapper renders (functions/http_support.py) are translated here, so
each failure is classified once, for both APIs.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import azure.functions as func
from pydantic import BaseModel, Field

from domain.openai_images import Refusal
from functions.problems import (
    FORBIDDEN,
    PROBLEM_BASE,
    PROBLEM_MEDIA_TYPE,
    QUOTA_EXCEEDED,
    UNAUTHENTICATED,
    VALIDATION_ERROR,
)

# Where the answer names the generations it waited for (success or not).
GENERATION_IDS_HEADER = "X-Donatello-Generation-Ids"


class OpenAIImage(BaseModel):
    b64_json: str | None = None
    url: str | None = None


class OpenAIImages(BaseModel):
    created: int = Field(description="Unix seconds when the request was accepted")
    data: list[OpenAIImage]
    size: str
    quality: str
    output_format: Literal["png"] = "png"


class OpenAIModel(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class OpenAIModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[OpenAIModel]


class OpenAIErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None
    code: str | None


class OpenAIError(BaseModel):
    """`{"error": {...}}`, as OpenAI and Azure OpenAI answer every failure."""

    error: OpenAIErrorDetail


# What each refusal of finished generations answers: status, OpenAI's `type`.
REFUSALS: dict[Refusal, tuple[int, str]] = {
    Refusal.CONTENT_POLICY: (400, "invalid_request_error"),
    Refusal.NO_MODEL: (400, "invalid_request_error"),
    Refusal.FORBIDDEN: (403, "invalid_request_error"),
    Refusal.INSUFFICIENT_QUOTA: (429, "insufficient_quota"),
    Refusal.PROVIDER_FAILURE: (502, "server_error"),
    Refusal.UNAVAILABLE: (503, "server_error"),
}
# Problems whose OpenAI code is not their own slug.
_CODES = {
    UNAUTHENTICATED.slug: "invalid_api_key",
    FORBIDDEN.slug: "permission_denied",
    QUOTA_EXCEEDED.slug: "rate_limit_exceeded",
}


def openai_error(
    status: int,
    message: str,
    *,
    kind: str | None = None,
    code: str | None = None,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> func.HttpResponse:
    error_type = kind or ("invalid_request_error" if status < 500 else "server_error")
    body = OpenAIError(
        error=OpenAIErrorDetail(message=message, type=error_type, param=param, code=code)
    )
    return func.HttpResponse(
        body.model_dump_json(),
        status_code=status,
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def from_problem(response: func.HttpResponse) -> func.HttpResponse:
    """A problem+json answer in OpenAI's error shape; any other answer as it is."""
    if response.headers.get("Content-Type") != PROBLEM_MEDIA_TYPE:
        return response
    problem: dict[str, Any] = json.loads(response.get_body())
    slug = str(problem["type"]).removeprefix(PROBLEM_BASE)
    status, param = response.status_code, None
    message = problem.get("detail") or problem["title"]
    code = _CODES.get(slug, slug.replace("-", "_"))
    if slug == VALIDATION_ERROR.slug:
        # OpenAI answers a bad parameter with 400, which the SDK raises as BadRequestError.
        status = 400
        first = (problem.get("errors") or [{}])[0]
        param = ".".join(str(part) for part in first.get("loc", [])) or None
        unknown = first.get("type") == "extra_forbidden"
        code = "unknown_parameter" if unknown else "invalid_value"
        message = f"{'unsupported parameter' if unknown else first.get('msg', message)}: {param}"
    if "correlation_id" in problem:
        message += f" (correlation id {problem['correlation_id']})"
    kind = "requests" if slug == QUOTA_EXCEEDED.slug else None
    headers = {
        name: value
        for name, value in response.headers.items()
        if name.lower() not in ("content-type", "content-length")
    }
    return openai_error(status, message, kind=kind, code=code, param=param, headers=headers)
