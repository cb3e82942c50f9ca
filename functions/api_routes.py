"""Every HTTP route of the app, declared once: what it takes and every answer it gives.

`functions/openapi.py` builds the OpenAPI document from this table alone, and
tests/unit/test_openapi.py checks it against the routes `function_app.app` registers, so
a route cannot be added, renamed or dropped without the document following.
Problems every route of a kind can answer (401 and 503 when signed in, the body's 400,
413, 415 and 422, and 500 everywhere) are added by the builder; the table lists the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel

from domain.generation import Status
from domain.openai_images import ImagesRequest
from functions import responses as r
from functions.audit import MAX_EVENTS_PER_REQUEST, VerifyRequest
from functions.generations import MAX_HISTORY_PAGE, MAX_IDEMPOTENCY_KEY
from functions.http_support import CURSOR_MAX_LENGTH, CURSOR_PATTERN
from functions.openai_shapes import GENERATION_IDS_HEADER, OpenAIImages, OpenAIModelList
from functions.privacy import ErasureRequest
from functions.problems import (
    CONCURRENCY_CONFLICT,
    FORBIDDEN,
    IDEMPOTENCY_CONFLICT,
    INVALID_CALLBACK_URL,
    INVALID_HEADER,
    INVALID_PARAMETER,
    INVALID_WEBHOOK_URL,
    NOT_FOUND,
    PAYLOAD_TOO_LARGE,
    QUOTA_EXCEEDED,
    UNREADABLE_IMAGE,
    ProblemType,
)
from services.audit_log import MAX_PAGE_EVENTS, SUBJECT_STREAMS_ROUTE
from services.budgets import BudgetUpdate
from services.generations import GenerationRequest
from services.webhooks import MAX_DELIVERIES, WebhookRegistration

JSON = "application/json"
IMAGE_MEDIA_TYPES = ("image/png", "image/jpeg", "image/webp")


@dataclass(frozen=True, slots=True)
class Parameter:
    name: str
    where: Literal["path", "query", "header"]
    schema: dict[str, Any]
    description: str = ""
    required: bool = False  # path parameters always are


@dataclass(frozen=True, slots=True)
class Header:
    name: str
    description: str
    required: bool = True


@dataclass(frozen=True, slots=True)
class Answer:
    """One non-problem response: its status, and its body per media type."""

    status: int
    description: str
    model: type[BaseModel] | None = None  # the application/json body
    other_media: dict[str, dict[str, Any]] = field(default_factory=dict)
    headers: tuple[Header, ...] = ()


@dataclass(frozen=True, slots=True)
class Operation:
    route: str  # as the trigger declares it, under the host's `api` prefix
    method: str
    function: str  # the trigger's function name
    summary: str
    tag: str
    answers: tuple[Answer, ...]
    problems: tuple[ProblemType, ...] = ()
    parameters: tuple[Parameter, ...] = ()
    body: type[BaseModel] | None = None
    body_required: bool = True
    signed_in: bool = True
    binary_body: tuple[str, ...] = ()  # media types of a raw (not JSON) body
    # The drop-in face answers failures in OpenAI's error shape, with these statuses,
    # instead of problem+json.
    openai_errors: tuple[int, ...] = ()


def _path(name: str, description: str = "", **schema: Any) -> Parameter:
    return Parameter(name, "path", {"type": "string", "minLength": 1, **schema}, description)


def _query(name: str, description: str = "", **schema: Any) -> Parameter:
    return Parameter(name, "query", {"type": "string", **schema}, description)


def _integer(name: str, minimum: int, maximum: int, description: str = "") -> Parameter:
    """An integer query parameter: every one is bounded, as `query_integer` enforces."""
    return Parameter(
        name, "query", {"type": "integer", "minimum": minimum, "maximum": maximum}, description
    )


DATE_TIME = {"format": "date-time"}
DEPARTMENT = _path("department_id", pattern="^[a-z0-9][a-z0-9_-]{0,62}$")
MONTH = r"^(?!0000)\d{4}-(0[1-9]|1[0-2])$"
PERIOD = _query("period", "a Sydney calendar month; default the current one", pattern=MONTH)
FORMAT = _query("format", "json (default) or csv", enum=["json", "csv"])
CSV = {"text/csv": {"schema": {"type": "string"}}}
CSV_DOWNLOAD = Header("Content-Disposition", "attachment, with the file's name", required=False)
GENERATION_ID = _path("id", format="uuid")
IDEMPOTENCY_KEY = Parameter(
    "Idempotency-Key",
    "header",
    {"type": "string", "minLength": 1, "maxLength": MAX_IDEMPOTENCY_KEY},
    "a retry with the same key and body answers the same generation",
)
GENERATION_IDS = Header(GENERATION_IDS_HEADER, "the generations waited for, comma-separated")
# Every failure the face can answer: bad input, token, role, rate or budget, wait, provider.
FACE_ERRORS = (400, 401, 403, 409, 413, 415, 429, 500, 502, 503, 504)

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "v1/generations",
        "POST",
        "create_generation",
        "Request an image; it is screened, routed, generated and charged asynchronously",
        "generations",
        (
            Answer(
                202,
                "Accepted; poll `status_url`",
                r.GenerationAccepted,
                headers=(Header("Location", "the generation's status URL"),),
            ),
        ),
        (
            FORBIDDEN,
            INVALID_HEADER,
            INVALID_CALLBACK_URL,
            IDEMPOTENCY_CONFLICT,
            CONCURRENCY_CONFLICT,
            QUOTA_EXCEEDED,
        ),
        (IDEMPOTENCY_KEY,),
        body=GenerationRequest,
    ),
    Operation(
        "v1/generations",
        "GET",
        "list_generation_history",
        "Generation history, scoped to what the caller may see",
        "generations",
        (Answer(200, "One page of history, newest first", r.GenerationHistory),),
        (FORBIDDEN, INVALID_PARAMETER),
        (
            _query("user_id"),
            _query("department_id"),
            _query("status", enum=[s.value for s in Status]),
            _query("from", "created at or after (with a UTC offset)", **DATE_TIME),
            _query("to", "created before (with a UTC offset)", **DATE_TIME),
            _integer("limit", 1, MAX_HISTORY_PAGE),
            _query("continuation", "from the previous page"),
        ),
    ),
    Operation(
        "v1/generations/{id}",
        "GET",
        "get_generation",
        "One generation as its stream says now",
        "generations",
        (Answer(200, "The generation", r.GenerationView),),
        (FORBIDDEN, NOT_FOUND),
        (GENERATION_ID,),
    ),
    Operation(
        "v1/generations/{id}/image",
        "GET",
        "get_generation_image",
        "The generated image",
        "generations",
        (
            Answer(
                200,
                "The image as signed with Content Credentials, in the provider's format",
                other_media={
                    media: {"schema": {"type": "string", "format": "binary"}}
                    for media in IMAGE_MEDIA_TYPES
                },
            ),
            Answer(
                302,
                "A short-lived read-only URL of the image in blob storage",
                headers=(Header("Location", "the image's SAS URL"),),
            ),
        ),
        (FORBIDDEN, NOT_FOUND),
        (GENERATION_ID,),
    ),
    Operation(
        "v1/generations/{id}/prompt",
        "GET",
        "get_generation_prompt",
        "The prompt as its owner typed it: to the owner alone, and the read is recorded",
        "generations",
        (Answer(200, "The prompt", r.GenerationPrompt),),
        (FORBIDDEN, NOT_FOUND),
        (GENERATION_ID,),
    ),
    Operation(
        "v1/screening/policy",
        "GET",
        "get_screening_policy",
        "The screening policy in force, read-only: its version and rules",
        "models",
        (Answer(200, "The policy", r.ScreeningPolicyView),),
        (FORBIDDEN,),
    ),
    Operation(
        "v1/models",
        "GET",
        "list_models",
        "The model catalogue: prices, capabilities, residency and each provider's circuit",
        "models",
        (Answer(200, "The catalogue", r.ModelCatalogue),),
        (FORBIDDEN,),
    ),
    Operation(
        "v1/budgets",
        "GET",
        "get_budgets",
        "The month's budgets the caller may see, one per department",
        "budgets",
        (Answer(200, "The budgets", r.BudgetList, CSV, (CSV_DOWNLOAD,)),),
        (FORBIDDEN, INVALID_PARAMETER),
        (PERIOD, FORMAT),
    ),
    Operation(
        "v1/budgets/{department_id}",
        "GET",
        "get_budget",
        "One department's month, with its forecast; `as_of` reads it as the log stood then",
        "budgets",
        (Answer(200, "The budget", r.Budget, CSV, (CSV_DOWNLOAD,)),),
        (FORBIDDEN, NOT_FOUND, INVALID_PARAMETER),
        (
            DEPARTMENT,
            PERIOD,
            _query("as_of", "a past instant, with a UTC offset", **DATE_TIME),
            FORMAT,
        ),
    ),
    Operation(
        "v1/budgets/{department_id}",
        "PUT",
        "put_budget",
        "Set the department's standing budget policy, from this month on",
        "budgets",
        (Answer(200, "The policy as recorded", r.BudgetSetAnswer),),
        (FORBIDDEN, NOT_FOUND, CONCURRENCY_CONFLICT),
        (DEPARTMENT,),
        body=BudgetUpdate,
    ),
    Operation(
        "v1/quota",
        "GET",
        "get_quota",
        "The caller's daily image quota",
        "quota",
        (Answer(200, "Today's quota", r.Quota),),
        (FORBIDDEN,),
    ),
    Operation(
        "v1/health/live",
        "GET",
        "live",
        "Liveness",
        "health",
        (Answer(200, "The process answers", r.HealthLive),),
        signed_in=False,
    ),
    Operation(
        "v1/health/ready",
        "GET",
        "ready",
        "Readiness: each dependency checked",
        "health",
        (
            Answer(200, "Every dependency answers", r.HealthReady),
            Answer(503, "A dependency does not answer", r.HealthReady),
        ),
        signed_in=False,
    ),
    Operation(
        "v1/openapi.json",
        "GET",
        "get_openapi",
        "This document",
        "meta",
        (
            Answer(
                200, "The OpenAPI 3.1 document", other_media={JSON: {"schema": {"type": "object"}}}
            ),
        ),
        signed_in=False,
    ),
    Operation(
        "v1/webhooks/{department_id}",
        "PUT",
        "put_webhook",
        "Register (or replace) the department's webhook; the answer carries its secret once",
        "webhooks",
        (Answer(200, "The subscription, with its signing secret", r.WebhookWithSecret),),
        (FORBIDDEN, NOT_FOUND, INVALID_WEBHOOK_URL, CONCURRENCY_CONFLICT),
        (DEPARTMENT,),
        body=WebhookRegistration,
    ),
    Operation(
        "v1/webhooks/{department_id}",
        "GET",
        "get_webhook",
        "The department's webhook",
        "webhooks",
        (Answer(200, "The subscription", r.Webhook),),
        (FORBIDDEN, NOT_FOUND),
        (DEPARTMENT,),
    ),
    Operation(
        "v1/webhooks/{department_id}/deliveries",
        "GET",
        "get_webhook_deliveries",
        "The department's latest webhook deliveries: event, attempts, last answer, next try",
        "webhooks",
        (Answer(200, "The deliveries, newest first", r.WebhookDeliveries),),
        (FORBIDDEN, NOT_FOUND, INVALID_PARAMETER),
        (
            DEPARTMENT,
            Parameter(
                "limit", "query", {"type": "integer", "minimum": 1, "maximum": MAX_DELIVERIES}
            ),
        ),
    ),
    Operation(
        "v1/webhooks/{department_id}",
        "DELETE",
        "delete_webhook",
        "Remove the department's webhook",
        "webhooks",
        (Answer(204, "Removed"),),
        (FORBIDDEN, NOT_FOUND, CONCURRENCY_CONFLICT),
        (DEPARTMENT,),
    ),
    Operation(
        "v1/audit/verify",
        "POST",
        "post_verify",
        f"Verify the hash chain and seals (at most {MAX_EVENTS_PER_REQUEST} events a request)",
        "audit",
        (
            Answer(
                200, "The report; `complete` is false when `max_events` stopped it", r.AuditReport
            ),
        ),
        (FORBIDDEN, NOT_FOUND),
        body=VerifyRequest,
        body_required=False,
    ),
    Operation(
        "v1/audit/streams/{stream_id}",
        "GET",
        "get_audit_stream",
        "One stream's events with their hashes",
        "audit",
        (Answer(200, "The stream", r.AuditStream),),
        (FORBIDDEN, NOT_FOUND),
        (_path("stream_id"),),
    ),
    Operation(
        "v1/audit/events",
        "GET",
        "get_audit_events",
        "The event feed as NDJSON, one `AuditEvent` a line, a page at a time",
        "audit",
        (
            Answer(
                200,
                "One page; `Link: rel=next` while the log has more",
                other_media={"application/x-ndjson": {"schema": {"type": "string"}}},
                headers=(
                    Header("Audit-After", "where this page stopped", required=False),
                    Header("Link", "the next page", required=False),
                ),
            ),
        ),
        (FORBIDDEN, INVALID_PARAMETER),
        (
            _query("from", "recorded at or after (with a UTC offset)", **DATE_TIME),
            _query("to", "recorded before (with a UTC offset)", **DATE_TIME),
            _query("type", "event types, comma-separated"),
            _query("user_id", "events the person acted"),
            _query("department_id"),
            _query("subject_id", "every event about the person, their generations' steps too"),
            _integer("limit", 1, MAX_PAGE_EVENTS),
            _query(
                "after",
                "`Audit-After` of the previous page",
                pattern=CURSOR_PATTERN,
                maxLength=CURSOR_MAX_LENGTH,
            ),
        ),
    ),
    Operation(
        SUBJECT_STREAMS_ROUTE,
        "GET",
        "get_subject_streams",
        "The streams that concern a person, with their events about them (a recorded read)",
        "audit",
        (
            Answer(
                200,
                "The streams; none when the log holds nothing about the person",
                r.SubjectStreams,
            ),
        ),
        (FORBIDDEN,),
        (_path("user_id"),),
    ),
    Operation(
        "v1/privacy/subjects/{user_id}/erase",
        "POST",
        "erase",
        "Erase a person: destroy their key (crypto-shredding); repeating it is harmless",
        "privacy",
        (Answer(200, "Erased", r.Erasure),),
        (FORBIDDEN, CONCURRENCY_CONFLICT),
        (_path("user_id"),),
        body=ErasureRequest,
        body_required=False,
    ),
    Operation(
        "v1/privacy/subjects/{user_id}/export",
        "GET",
        "export",
        "Everything held about a person (subject access)",
        "privacy",
        (Answer(200, "The export, prompts opened where their key exists", r.SubjectExport),),
        (FORBIDDEN, CONCURRENCY_CONFLICT),
        (_path("user_id"),),
    ),
    Operation(
        "v1/provenance/verify",
        "POST",
        "verify_provenance",
        "Is this image ours (valid Content Credentials, signed by the platform) and does "
        "the log agree? The body is the image.",
        "provenance",
        (Answer(200, "The verdict; `ok` only when authentic", r.ProvenanceReport),),
        (FORBIDDEN, PAYLOAD_TOO_LARGE, UNREADABLE_IMAGE),
        binary_body=IMAGE_MEDIA_TYPES,
    ),
    Operation(
        "openai/v1/images/generations",
        "POST",
        "openai_generate_images",
        "OpenAI's images API: `n` governed generations, answered when they are charged",
        "openai",
        (Answer(200, "The images", OpenAIImages, headers=(GENERATION_IDS,)),),
        parameters=(IDEMPOTENCY_KEY,),
        body=ImagesRequest,
        openai_errors=FACE_ERRORS,
    ),
    Operation(
        "openai/deployments/{deployment}/images/generations",
        "POST",
        "azure_openai_generate_images",
        "Azure OpenAI's images API: the deployment names the model (or `auto`)",
        "openai",
        (Answer(200, "The images", OpenAIImages, headers=(GENERATION_IDS,)),),
        parameters=(
            _path("deployment", "a catalogue id, an OpenAI model name, or auto"),
            Parameter(
                "api-version", "query", {"type": "string", "minLength": 1}, "any", required=True
            ),
            IDEMPOTENCY_KEY,
        ),
        body=ImagesRequest,
        openai_errors=FACE_ERRORS,
    ),
    Operation(
        "openai/v1/models",
        "GET",
        "openai_list_models",
        "The catalogue in OpenAI's model-list shape: catalogue ids and OpenAI model names",
        "openai",
        (Answer(200, "The models", OpenAIModelList),),
        openai_errors=(401, 403, 500, 503),
    ),
    Operation(
        "openai/images/{id}",
        "GET",
        "openai_signed_image",
        "The image behind a signed, expiring `url` of the face (embedded default)",
        "openai",
        (
            Answer(
                200,
                "The PNG",
                other_media={"image/png": {"schema": {"type": "string", "format": "binary"}}},
            ),
        ),
        parameters=(
            GENERATION_ID,
            _query("expires", "Unix seconds", pattern="^[0-9]+$"),
            _query("signature", "HMAC-SHA256, hex", pattern="^[0-9a-f]{64}$"),
        ),
        signed_in=False,
        openai_errors=(403, 404, 500),
    ),
)
