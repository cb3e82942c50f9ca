"""One settings model, read from environment variables.

Functions surfaces `local.settings.json` and Azure app settings as environment
variables, so this is the only configuration path. Nothing is required for the
embedded default: an empty environment means SQLite, the local queue, a data folder,
dev tokens and the `local` provider.

The Azure shape is chosen per adapter (`DONATELLO_EVENT_STORE=cosmos`,
`DONATELLO_IMAGE_STORE=blob`, `DONATELLO_QUEUE=servicebus`). Its endpoints come from the
identity-based connection settings the Functions host reads too
(`CosmosDbConnection__accountEndpoint`, `ServiceBusConnection__fullyQualifiedNamespace`,
`AzureWebJobsStorage__accountName`), and the adapters authenticate with the managed
identity: no key or connection string is needed in Azure. The `*_emulator_*` settings
exist only to reach the local emulators, which accept nothing else; they carry the
emulators' published keys, never a real account's.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from domain.budget import BudgetPolicy, Enforcement, Strategy
from domain.retention import MINIMUM_YEARS
from domain.screening_policy import parse_policy_book

PREFIX = "DONATELLO_"
# Settings whose value is the Functions host's own identity-based connection setting.
_HOST_SETTINGS = {
    "cosmos_endpoint": "CosmosDbConnection__accountEndpoint",
    "servicebus_namespace": "ServiceBusConnection__fullyQualifiedNamespace",
}


class SettingsError(Exception):
    """A setting is present but invalid; the message names it."""


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    data_dir: Path = Path(".donatello")
    sqlite_synchronous: Literal["FULL", "NORMAL"] = "FULL"
    queue_lock_duration_seconds: float = Field(default=60.0, gt=0)
    queue_max_delivery_count: int = Field(default=10, ge=1)

    auth_mode: Literal["dev", "entra"] = "dev"
    issuer: str = "https://donatello.local/dev"
    audience: str = "api://donatello"
    jwks_url: str | None = None
    allowed_tenant_ids: tuple[str, ...] = ()
    department_claim: str = "department"

    enabled_providers: tuple[str, ...] = ("local",)
    provider_attempts: int = Field(default=3, ge=1)
    provider_backoff_seconds: tuple[float, ...] = (2.0, 4.0, 8.0)

    default_monthly_limit_aud: Decimal = Decimal("500.00")
    default_enforcement: Enforcement = Enforcement.HARD
    default_strategy: Strategy = Strategy.BALANCED
    # Images a Generator.Standard user may request per Sydney day (domain/quota.py).
    daily_image_quota: int = Field(default=50, ge=1)

    # --- screening ---
    screening_policy_file: Path | None = None  # unset: the shipped domain/screening_policy.json
    moderation: Literal["none", "openai"] = "none"  # openai: secret `openai-api-key`, base URL
    moderation_model: str = "omni-moderation-latest"  # as for the providers, openai_base_url
    # A prompt's PII analysis past this is abandoned and the prompt rejected as
    # `screening_timeout`; every prompt measured takes under 0.25 s of CPU
    # (benchmarks.screening), so the rest is headroom for a busy machine.
    screening_timeout_seconds: float = Field(default=2.0, gt=0)
    # Processes analysing prompts side by side (adapters/analyzer_processes.py), each
    # with its own model (about 150 MB): a prompt waits only when all are busy.
    screening_processes: int = Field(default=2, ge=1, le=32)

    # --- webhooks ---
    webhook_max_attempts: int = Field(default=8, ge=1)  # then a dead-letter record
    webhook_retry_base_seconds: float = Field(default=30.0, ge=0)  # doubled per attempt
    webhook_retry_max_seconds: float = Field(default=3600.0, ge=0)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    # Admit http and private, loopback or link-local receivers (services/destinations.py):
    # for local receivers in development and tests only; refused with Entra sign-in.
    webhook_allow_private: bool = False

    # --- telemetry (services/metrics.py; traces follow the standard OTEL_* variables) ---
    metrics: bool = True  # false: nothing is measured, as for a benchmark's baseline

    # --- audit seals (services/seals.py) ---
    seal_interval_minutes: int = Field(default=5, ge=1, le=59)  # `seal_schedule`'s step
    seal_store: Literal["fs", "blob"] = "fs"  # fs: {data_dir}/seals; blob: seal_container
    seal_container: str = "seals"  # on the image store's account (blob_account_url)

    # --- the command side (services/repository.py) ---
    # A stream loads from its snapshot plus at most this many events; a load that folds
    # more writes a new snapshot.
    snapshot_every: int = Field(default=100, ge=1)
    # Folded states this process keeps (the newest ones used), across every kind of stream.
    state_cache_entries: int = Field(default=10_000, ge=1)

    stuck_after_seconds: float = Field(default=120.0, gt=0)
    # A generation that has not moved for this long is failed and its reservation freed:
    # longer than one model's worst case (3 attempts of 60 s and their backoff).
    generation_deadline_seconds: float = Field(default=900.0, gt=0)
    max_request_bytes: int = Field(default=1_048_576, gt=0)
    # Where clients reach the API: the scheme and authority (and any path prefix) that
    # `status_url`, `Location` and `image_url` start with, never the request's `Host`.
    # Unset: `https://$WEBSITE_HOSTNAME` on Azure, the bound address under `donatello serve`.
    public_base_url: str = "http://127.0.0.1:7071"
    # --- the embedded host's HTTP server (devhost/http_limits.py); Azure's front end has its own
    http_header_timeout_seconds: float = Field(default=10.0, gt=0)  # then 408, closed
    http_body_timeout_seconds: float = Field(default=30.0, gt=0)  # the whole body; then 408
    http_max_connections: int = Field(default=100, ge=1)  # beyond it: 503, closed
    http_keep_alive_seconds: int = Field(default=5, ge=1)  # an idle connection is closed

    # --- the Azure shape ---
    event_store: Literal["sqlite", "cosmos"] = "sqlite"
    cosmos_endpoint: str | None = None  # CosmosDbConnection__accountEndpoint
    cosmos_database: str = "donatello"
    cosmos_emulator_key: str | None = None
    # How long a process keeps its copy of the item naming each projection's live
    # version (adapters/cosmos_view_versions.py); a rebuild waits on it at its switch.
    view_pointer_seconds: float = Field(default=5.0, gt=0, le=60)

    image_store: Literal["fs", "blob"] = "fs"
    blob_account_url: str | None = None  # default: from AzureWebJobsStorage__accountName
    image_container: str = "images"
    image_url_ttl_seconds: int = Field(default=300, gt=0, le=3600)
    # The drop-in face answers synchronously: at most this long, under the Functions
    # host's 230 s limit on an HTTP answer.
    openai_wait_seconds: float = Field(default=200, gt=0, le=220)
    blob_emulator_account_key: str | None = None

    queue: Literal["local", "servicebus"] = "local"
    servicebus_namespace: str | None = None  # ServiceBusConnection__fullyQualifiedNamespace

    key_vault_url: str | None = None  # provider API keys; unset: DONATELLO_SECRET_* variables
    # Per-subject prompt keys: a file in the data folder, or one Key Vault secret each, in
    # a vault of their own that allows purge (erasure purges), apart from the provider keys.
    subject_keys: Literal["local", "keyvault"] = "local"
    subject_key_vault_url: str | None = None
    # The Content Credentials signing key: local (a CA and certificate made in the data
    # folder), or a Key Vault certificate in key_vault_url whose key never leaves the vault.
    content_signer: Literal["local", "keyvault"] = "local"
    signing_certificate_name: str = "content-credentials"

    # --- retention (docs/retention.md) ---
    # Events, seals and images are kept this long; nothing is deleted sooner.
    retention_years: int = Field(default=MINIMUM_YEARS, ge=MINIMUM_YEARS)
    # Erasing a person deletes their images too (the log keeps each image's SHA-256, so
    # the trail still verifies); false keeps them for organisations whose retention rules
    # make images records.
    erase_images: bool = True

    # --- providers (enabled by name in `enabled_providers`) ---
    openai_base_url: str = "https://api.openai.com/v1"  # key: secret `openai-api-key`
    azure_openai_endpoint: str | None = None  # https://<resource>.openai.azure.com
    azure_openai_api_version: str = "2024-10-21"
    azure_openai_dalle3_deployment: str = "dall-e-3"  # managed identity, no key
    stability_base_url: str = "https://api.stability.ai"  # key: secret `stability-api-key`
    replicate_base_url: str = "https://api.replicate.com"  # secret `replicate-api-token`
    # Firefly: IMS client credentials from the secrets `firefly-client-id` and
    # `firefly-client-secret`; the scope is what Adobe's Firefly quickstart asks for.
    firefly_base_url: str = "https://firefly-api.adobe.io"
    firefly_ims_url: str = "https://ims-na1.adobelogin.com"
    firefly_scope: str = (
        "openid,AdobeID,session,additional_info,read_organizations,firefly_api,ff_apis"
    )
    # A self-hosted server speaking the OpenAI images API: its URL (ending in /v1), the
    # model it serves, and the secret holding its key (unset: no credentials are sent).
    openai_compatible_base_url: str | None = None
    openai_compatible_model: str | None = None
    openai_compatible_key_secret: str | None = None

    @property
    def default_policy(self) -> BudgetPolicy:
        return BudgetPolicy(
            monthly_limit_aud=self.default_monthly_limit_aud,
            enforcement=self.default_enforcement,
            strategy=self.default_strategy,
        )

    @property
    def seal_schedule(self) -> str:
        """The seal timer's NCRONTAB: every `seal_interval_minutes`, counted from each hour."""
        return f"0 */{self.seal_interval_minutes} * * * *"

    @field_validator("screening_policy_file")
    @classmethod
    def _is_a_screening_policy(cls, path: Path | None) -> Path | None:
        """Checked with the settings, so a bad file stops the platform at boot, not at the
        first screen."""
        if path is not None:
            try:
                parse_policy_book(path.read_text("utf-8"))
            except (OSError, ValueError) as error:
                raise ValueError(f"{path} is not a screening policy: {error}") from error
        return path

    @field_validator("public_base_url")
    @classmethod
    def _is_a_base_url(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an absolute http or https URL")
        if parts.query or parts.fragment or parts.username is not None:
            raise ValueError("must have no query, fragment or credentials")
        return url.rstrip("/")

    @model_validator(mode="after")
    def _each_azure_adapter_has_its_endpoint(self) -> Settings:
        needs = {
            "DONATELLO_EVENT_STORE=cosmos": (
                self.event_store == "cosmos" and not self.cosmos_endpoint,
                "CosmosDbConnection__accountEndpoint",
            ),
            "DONATELLO_IMAGE_STORE=blob": (
                self.image_store == "blob" and not self.blob_account_url,
                "AzureWebJobsStorage__accountName or DONATELLO_BLOB_ACCOUNT_URL",
            ),
            "DONATELLO_SEAL_STORE=blob": (
                self.seal_store == "blob" and not self.blob_account_url,
                "AzureWebJobsStorage__accountName or DONATELLO_BLOB_ACCOUNT_URL",
            ),
            "DONATELLO_SUBJECT_KEYS=keyvault": (
                self.subject_keys == "keyvault" and not self.subject_key_vault_url,
                "DONATELLO_SUBJECT_KEY_VAULT_URL",
            ),
            "DONATELLO_CONTENT_SIGNER=keyvault": (
                self.content_signer == "keyvault" and not self.key_vault_url,
                "DONATELLO_KEY_VAULT_URL",
            ),
            "DONATELLO_QUEUE=servicebus": (
                self.queue == "servicebus" and not self.servicebus_namespace,
                "ServiceBusConnection__fullyQualifiedNamespace",
            ),
        }
        needs["DONATELLO_ENABLED_PROVIDERS=azure_openai"] = (
            "azure_openai" in self.enabled_providers and not self.azure_openai_endpoint,
            "DONATELLO_AZURE_OPENAI_ENDPOINT",
        )
        needs["DONATELLO_ENABLED_PROVIDERS=openai_compatible"] = (
            "openai_compatible" in self.enabled_providers
            and not (self.openai_compatible_base_url and self.openai_compatible_model),
            "DONATELLO_OPENAI_COMPATIBLE_BASE_URL and DONATELLO_OPENAI_COMPATIBLE_MODEL",
        )
        missing = [f"{chosen} needs {setting}" for chosen, (gap, setting) in needs.items() if gap]
        if missing:
            raise ValueError("; ".join(missing))
        if self.webhook_allow_private and self.auth_mode == "entra":
            # Entra sign-in means real users: their URLs must never reach the private network.
            raise ValueError("DONATELLO_WEBHOOK_ALLOW_PRIVATE is for the embedded default only")
        return self

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Read `DONATELLO_<FIELD>` variables and the Functions connection settings.

        Tuples are comma-separated.
        """
        values: dict[str, object] = {}
        for name, field in cls.model_fields.items():
            raw = environ.get(PREFIX + name.upper()) or environ.get(_HOST_SETTINGS.get(name, ""))
            if name == "blob_account_url" and not raw:
                account = environ.get("AzureWebJobsStorage__accountName")
                raw = f"https://{account}.blob.core.windows.net" if account else None
            if name == "public_base_url" and not raw:  # the app's default host name on Azure
                site = environ.get("WEBSITE_HOSTNAME")
                raw = f"https://{site}" if site else None
            if raw is None or raw == "":
                continue
            is_tuple = "tuple" in str(field.annotation)
            values[name] = (
                tuple(p.strip() for p in raw.split(",") if p.strip()) if is_tuple else raw
            )
        try:
            return cls.model_validate(values)
        except ValidationError as error:
            problems = "; ".join(
                f"{PREFIX}{'.'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
                if e["loc"]
                else e["msg"]
                for e in error.errors()
            )
            raise SettingsError(f"invalid settings: {problems}") from error
