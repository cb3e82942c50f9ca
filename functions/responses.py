"""The bodies the API answers, as pydantic models.

The triggers pass each service's answer through its model before it leaves, so what is
served is exactly what the OpenAPI document (functions/openapi.py) says: a field the
model does not declare is not sent. Times and money stay the strings the services
format (ISO 8601 with an offset; decimals never in exponent notation).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field

from domain.audit import ProblemKind
from domain.budget import Enforcement, Strategy
from domain.catalogue import ModelRequirements, ModelSpec
from domain.generation import Quality, Size, Status, Style
from domain.money import aud_text
from domain.webhooks import Kind

Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
Day = Annotated[str, Field(json_schema_extra={"format": "date"})]
# Whatever form a view or a fold holds an amount in, it leaves in the one form `aud_text`
# gives (a view written before that form existed included).
Money = Annotated[
    str,
    Field(pattern=r"^-?\d+(\.\d+)?$", description="AUD, a decimal string with at least 4 places"),
    AfterValidator(aud_text),
]
Url = Annotated[str, Field(json_schema_extra={"format": "uri"})]


class GenerationAccepted(BaseModel):
    id: str = Field(json_schema_extra={"format": "uuid"})
    status: Status
    status_url: Url


class Screening(BaseModel):
    outcome: Literal["passed", "redacted", "rejected"] | None
    entity_types: list[str] = []
    reason: str | None = None
    policy_version: str | None = None


class GenerationView(BaseModel):
    """One generation as its stream says now; never the prompt."""

    id: str = Field(json_schema_extra={"format": "uuid"})
    status: Status
    user_id: str
    department_id: str
    size: Size
    quality: Quality
    style: Style | None
    model_id: str | None
    estimated_cost_aud: Money | None
    cost_aud: Money | None
    screening: Screening | None
    reason: str | None
    image_sha256: str | None = Field(description="of the exact bytes served, signed")
    provider_credential: Literal["valid", "invalid", "absent"] | None = Field(
        description="the provider's Content Credentials, kept as the image's parent ingredient"
    )
    credential_warnings: list[str]
    created_at: Timestamp | None
    updated_at: Timestamp | None
    image_url: Url | None


class GenerationPrompt(BaseModel):
    """`GET /generations/{id}/prompt`: the prompt as its owner typed it (to them alone)."""

    id: str = Field(json_schema_extra={"format": "uuid"})
    prompt: str = Field(description="`[erased]` once the owner's key was destroyed")
    prompt_erased: bool


class HistoryItem(BaseModel):
    """A generation in the history view (eventually consistent with its stream)."""

    id: str = Field(json_schema_extra={"format": "uuid"})
    status: Status | None
    user_id: str | None
    department_id: str | None
    size: Size | None
    quality: Quality | None
    style: Style | None
    model: str | None
    model_id: str | None
    estimated_cost_aud: Money | None
    cost_aud: Money | None
    screening: Screening
    reason: str | None
    image_sha256: str | None
    created_at: Timestamp
    updated_at: Timestamp
    timestamps: dict[str, Timestamp]


class GenerationHistory(BaseModel):
    items: list[HistoryItem]
    continuation: str | None = Field(description="pass back to read the next page")


class Circuit(BaseModel):
    state: Literal["closed", "open", "half_open"]
    success_rate: str
    consecutive_failures: int
    opened_at: Timestamp | None


class CatalogueEntry(ModelSpec):
    available: bool
    circuit: Circuit | None


class ModelCatalogue(BaseModel):
    catalogue_version: str
    currency: str
    models: list[CatalogueEntry]


class PolicyRule(BaseModel):
    action: Literal["allow", "redact", "block"]
    min_score: float


class PolicyModeration(BaseModel):
    blocked_categories: list[str]
    fail_closed: bool


class ScreeningPolicyView(BaseModel):
    """`GET /screening/policy`: the organisation's screening policy in force (read-only)."""

    version: str
    default_rule: PolicyRule
    entities: dict[str, PolicyRule]
    content_categories: dict[str, int] = Field(description="each category's number of terms")
    moderation: PolicyModeration
    public_names: int = Field(description="how many public names are never redacted")
    departments_with_overrides: list[str]


class ForecastBasis(BaseModel):
    elapsed_days: str
    days_in_month: int


class Budget(BaseModel):
    """One department's month, with the run-rate forecast to its end."""

    department_id: str
    period: str = Field(pattern=r"^\d{4}-\d{2}$")
    limit_aud: Money | None
    enforcement: Enforcement | None
    strategy: Strategy | None
    spent_aud: Money
    reserved_aud: Money
    remaining_aud: Money | None
    charged_count: int
    overrun: bool
    thresholds_crossed: list[int]
    by_model: dict[str, Money]
    by_user: dict[str, Money]
    by_day: dict[str, Money]
    updated_at: Timestamp | None = None
    forecast_aud: Money
    forecast_basis: ForecastBasis
    forecast_over_limit: bool | None
    as_of: Timestamp | None = Field(default=None, description="only when `as_of` was asked")


class BudgetList(BaseModel):
    period: str
    items: list[Budget]


class BudgetSetAnswer(BaseModel):
    department_id: str
    period: str
    monthly_limit_aud: Money
    enforcement: Enforcement
    strategy: Strategy
    requirements: ModelRequirements


class Quota(BaseModel):
    """Today's quota; `limit`, `used` and `remaining` are null for unlimited roles."""

    day: Day
    limit: int | None
    used: int | None
    remaining: int | None
    resets_at: Timestamp


class HealthLive(BaseModel):
    status: Literal["live"]


class HealthReady(BaseModel):
    status: Literal["ready", "unavailable"]
    checks: dict[str, Literal["ok", "unavailable"]]


class Webhook(BaseModel):
    department_id: str
    subscription_id: str = Field(json_schema_extra={"format": "uuid"})
    url: Url
    events: list[Kind]
    registered_at: Timestamp


class WebhookWithSecret(Webhook):
    secret: str = Field(description="the signing secret; answered this once only")


class AuditProblem(BaseModel):
    stream_id: str
    version: int
    kind: ProblemKind
    detail: str


class AuditReport(BaseModel):
    ok: bool
    complete: bool
    events: int
    streams: int
    seals: int
    since_seal: int | None
    from_position: int
    up_to_position: int
    problems: list[AuditProblem]


class ManifestCheck(BaseModel):
    found: bool
    valid: bool = Field(description="its signature and its binding to these bytes hold")
    ours: bool = Field(description="signed with the platform's certificate")
    failures: list[str] = Field(description="C2PA validation codes that failed")


class CredentialedGeneration(BaseModel):
    """What the manifest's `ai.donatello.generation` assertion says."""

    generation_id: str
    model_id: str
    provider: str
    department_id: str
    created_at: Timestamp


class LogAgreement(BaseModel):
    agrees: bool
    generation_found: bool
    chain_verified: bool
    image_recorded: bool
    sha256_matches: bool = Field(description="the image event's SHA-256 is this file's")
    anchor_matches: bool = Field(description="the image event follows the manifest's log anchor")


class ProvenanceReport(BaseModel):
    verdict: Literal["authentic", "no_credentials", "tampered", "not_ours", "log_disagrees"]
    ok: bool = Field(description="true only when authentic")
    sha256: str
    manifest: ManifestCheck
    generation: CredentialedGeneration | None
    log: LogAgreement | None
    provider_credential: Literal["valid", "invalid", "absent"]
    reasons: list[str]


class Actor(BaseModel):
    user_id: str
    roles: list[str]
    department_id: str | None


class AuditEvent(BaseModel):
    """An event as recorded: the hashed fields in their hashed form, and the hash."""

    event_id: str
    stream_id: str
    version: int
    type: str
    schema_version: int
    recorded_at: Timestamp
    correlation_id: str
    causation_id: str | None
    actor: Actor
    data: dict[str, Any]
    prev_hash: str
    hash: str


class AuditStream(BaseModel):
    stream_id: str
    events: list[AuditEvent]
    story: list[str] = Field(
        description="the stream in plain words, one line per event (`donatello audit replay`)"
    )


class WebhookDelivery(BaseModel):
    delivery_id: str = Field(json_schema_extra={"format": "uuid"})
    event: Kind
    state: Literal["retrying", "delivered", "dead_lettered"]
    attempts: int
    last_status: int | None = Field(description="the receiver's last answer, if any")
    last_error: str | None
    next_attempt_at: Timestamp | None
    first_recorded_at: Timestamp
    updated_at: Timestamp


class WebhookDeliveries(BaseModel):
    department_id: str
    items: list[WebhookDelivery] = Field(description="newest first")


class SubjectStreamCount(BaseModel):
    stream_id: str
    kind: Literal["generation", "budget", "quota", "privacy"]
    events: int = Field(description="the events in it about the person (a budget month: theirs)")


class SubjectStreams(BaseModel):
    subject_id: str
    streams: list[SubjectStreamCount]


class Erasure(BaseModel):
    subject_id: str
    erased: bool
    erased_at: Timestamp | None
    recorded: bool = Field(description="false when an earlier erasure already stood")
    images_deleted: int = Field(
        description="the person's images this call deleted (none when already deleted, or"
        " when DONATELLO_ERASE_IMAGES=false)"
    )


class SubjectGeneration(HistoryItem):
    """A generation as history shows it, with what only its subject may read."""

    retained_until: Timestamp
    prompt: str
    prompt_erased: bool


class SubjectCharge(BaseModel):
    generation_id: str
    department_id: str
    period: str
    model_id: str
    amount_aud: Money
    charged_at: Timestamp


class QuotaUsage(BaseModel):
    day: Day
    images: int


class SubjectExport(BaseModel):
    """Everything held about one person; the one answer with plaintext prompts."""

    subject_id: str
    exported_at: Timestamp
    requested_by: str
    erased: bool
    erased_at: Timestamp | None
    retention_years: int
    generations: list[SubjectGeneration]
    budget_charges: list[SubjectCharge]
    quota_usage: list[QuotaUsage]
