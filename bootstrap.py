"""The composition root: settings in, adapters wired to the ports, a Platform out.

Built lazily on first use, once per process, so that importing `function_app` (as
the Functions host and the binding tests do) touches no storage.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from functools import cache
from pathlib import Path

from azure.cosmos import DatabaseProxy
from azure.servicebus import ServiceBusClient

from adapters.azure_clients import (
    blob_service,
    cosmos_database,
    key_vault_key,
    key_vault_secrets,
    managed_identity,
)
from adapters.blob_image_store import (
    AccountKeySigner,
    BlobImageStore,
    SasSigner,
    UserDelegationSigner,
    ensure_image_container,
)
from adapters.blob_seal_store import BlobSealStore, ensure_seal_container
from adapters.c2pa_credentials import C2paCredentials
from adapters.cosmos_audit_log import CosmosAuditLog
from adapters.cosmos_charges import RequestCharges
from adapters.cosmos_event_store import (
    CONTAINER_ID,
    CosmosEventStore,
    ensure_event_container,
    event_from_item,
)
from adapters.cosmos_snapshots import CosmosSnapshotStore, ensure_snapshot_container
from adapters.cosmos_view_rebuild import CosmosViewRebuild
from adapters.cosmos_view_versions import ViewVersions
from adapters.cosmos_views import CosmosViewStore, ensure_view_container
from adapters.dev_issuer import DevIssuer
from adapters.dns_resolver import SystemResolver
from adapters.env_secrets import EnvSecrets
from adapters.fs_image_store import FsImageStore
from adapters.fs_seal_store import FsSealStore
from adapters.httpx_webhooks import HttpxWebhookSender
from adapters.jwt_auth import HttpJwks, TokenValidator
from adapters.keyvault_keyring import KeyVaultKeyRing
from adapters.keyvault_secrets import KeyVaultSecrets
from adapters.keyvault_signing_key import KeyVaultSigningKey
from adapters.local_keyring import LocalKeyRing
from adapters.local_signing_key import LocalSigningKey
from adapters.openai_moderation import openai_moderator
from adapters.otel_meter import install_azure_monitor, otel_meter
from adapters.presidio_analyzer import bounded_analyzer
from adapters.presidio_redactor import PresidioRedactor
from adapters.prometheus_meter import exposition, prometheus_meter
from adapters.providers.firefly import FireflyProvider
from adapters.providers.local import LocalProvider
from adapters.providers.openai_images import (
    ImageModel,
    azure_openai_images,
    compatible_images,
    openai_images,
)
from adapters.providers.replicate import ReplicateProvider
from adapters.providers.stability import StabilityProvider
from adapters.servicebus_queue import ServiceBusWorkQueue
from adapters.sqlite_audit_log import SqliteAuditLog
from adapters.sqlite_event_store import SqliteEventStore
from adapters.sqlite_queue import SqliteQueue
from adapters.sqlite_record_log import SqliteRecordLog
from adapters.sqlite_snapshots import SqliteSnapshotStore
from adapters.sqlite_view_rebuild import RebuildReport, rebuild_views
from adapters.sqlite_views import SqliteViewStore
from adapters.traced_event_store import TracedEventStore
from domain.catalogue import default_catalogue
from domain.envelope import utc_now
from domain.screening_policy import PolicyBook, default_policy_book, parse_policy_book
from plumbing import private_folder
from projections import ALL_PROJECTIONS
from projections.base import Projection
from projections.runner import ProjectionRunner
from services.audit_reads import AuditAccess
from services.audit_verify import AuditLog
from services.context import Platform
from services.generations import GENERATION_ID_KEY_SECRET, JOB_QUEUE
from services.identity import Authenticator
from services.log_replay import LogReplay, OrderedReplay, PositionedReplay
from services.log_tail import LogTail
from services.metrics import NullMeter
from services.openai_images import IMAGE_LINK_KEY_SECRET
from services.operations_gauges import OperationsGauges
from services.ports import (
    ContentModerator,
    EventStore,
    ImageLinks,
    ImageProvider,
    ImageStore,
    Meter,
    QueueProbe,
    SecretNotFound,
    SecretSource,
    SigningKey,
    SnapshotStore,
    SubjectKeyRing,
    ViewReader,
    WorkQueue,
)
from services.repository import Repository
from services.seals import SealStore
from services.settings import Settings
from services.webhook_feed import WebhookDispatcher
from services.webhooks import WEBHOOK_KEY_SECRET, WEBHOOK_QUEUE, WebhookPorts

_lock = threading.Lock()

# The change-feed triggers (functions/projector.py) watch the events container, and are
# handed its documents, which only its adapter knows how to read as events.
EVENTS_CONTAINER = CONTAINER_ID
change_feed_event = event_from_item


@cache
def settings() -> Settings:
    return Settings.from_env(os.environ)


def data_path(config: Settings, name: str) -> Path:
    return private_folder(config.data_dir) / name


def local_queue(config: Settings, queue_name: str | None = None) -> SqliteQueue:
    return SqliteQueue(
        data_path(config, "queue.db"),
        queue_name or JOB_QUEUE,
        lock_duration=timedelta(seconds=config.queue_lock_duration_seconds),
        max_delivery_count=config.queue_max_delivery_count,
    )


def build_platform(config: Settings) -> Platform:
    secrets = secret_source(config)
    providers = image_providers(config, secrets)
    images, image_links = image_store(config)
    store, replay, log_tail = event_log(config)
    traced = TracedEventStore(store)
    return Platform(
        settings=config,
        store=traced,
        repository=repository(config, traced),
        replay=replay,
        log_tail=log_tail,
        queue=work_queue(config),
        images=images,
        image_links=image_links,
        analyzer=bounded_analyzer(config.screening_processes, config.screening_timeout_seconds),
        redactor=PresidioRedactor(),
        moderators=content_moderators(config, secrets),
        providers=providers,
        keys=subject_key_ring(config),
        views=view_store(config),
        catalogue=default_catalogue(),
        screening_policies=screening_policies(config),
        clock=utc_now,
        sleep=time.sleep,
        resolver=SystemResolver(),
        generation_id_key=platform_key(config, GENERATION_ID_KEY_SECRET),
        credentials=C2paCredentials(signing_key(config, secrets)),
        meter=meter(config),
    )


def image_providers(config: Settings, secrets: SecretSource) -> dict[str, ImageProvider]:
    """The enabled providers, keyed by the catalogue's provider names."""
    enabled = set(config.enabled_providers)
    providers: dict[str, ImageProvider] = {}
    if "local" in enabled:
        providers["local"] = LocalProvider()
    if "openai" in enabled:
        providers["openai"] = openai_images(
            secrets,
            "openai-api-key",
            {"openai-gpt-image-1": ImageModel("gpt-image-1", family="gpt-image-1")},
            base_url=config.openai_base_url,
        )
    if "azure_openai" in enabled and config.azure_openai_endpoint:  # Settings checks
        providers["azure_openai"] = azure_openai_images(
            config.azure_openai_endpoint,
            config.azure_openai_api_version,
            {"azure-openai-dall-e-3": ImageModel(config.azure_openai_dalle3_deployment)},
        )
    if "stability" in enabled:
        providers["stability"] = StabilityProvider(
            secrets,
            "stability-api-key",
            {"stability-ultra": "ultra"},
            base_url=config.stability_base_url,
        )
    if "replicate" in enabled:
        providers["replicate"] = ReplicateProvider(
            secrets,
            "replicate-api-token",
            {
                "replicate-flux-schnell": "black-forest-labs/flux-schnell",
                "replicate-flux-1.1-pro": "black-forest-labs/flux-1.1-pro",
            },
            base_url=config.replicate_base_url,
        )
    if "firefly" in enabled:
        providers["firefly"] = FireflyProvider(
            secrets,
            "firefly-client-id",
            "firefly-client-secret",
            {"firefly-image-3": "image3"},
            base_url=config.firefly_base_url,
            ims_url=config.firefly_ims_url,
            scope=config.firefly_scope,
        )
    if "openai_compatible" in enabled and config.openai_compatible_base_url:  # Settings checks
        providers["openai_compatible"] = compatible_images(
            config.openai_compatible_base_url,
            {"openai-compatible-self-hosted": ImageModel(config.openai_compatible_model or "")},
            secrets=secrets,
            secret_name=config.openai_compatible_key_secret,
        )
    return providers


def screening_policies(config: Settings) -> PolicyBook:
    """The operator's policy file when one is set (Settings checked it), else the shipped one."""
    path = config.screening_policy_file
    return default_policy_book() if path is None else parse_policy_book(path.read_text("utf-8"))


def content_moderators(config: Settings, secrets: SecretSource) -> tuple[ContentModerator, ...]:
    if config.moderation == "openai":
        moderator = openai_moderator(
            secrets,
            "openai-api-key",
            base_url=config.openai_base_url,
            model=config.moderation_model,
        )
        return (moderator,)
    return ()


def secret_source(config: Settings) -> SecretSource:
    if config.key_vault_url is None:
        return EnvSecrets()
    return KeyVaultSecrets(key_vault_secrets(config.key_vault_url))


def signing_key(config: Settings, secrets: SecretSource) -> SigningKey:
    if config.content_signer == "keyvault":
        name = config.signing_certificate_name
        # the certificate's key; Settings checks that the vault is set
        crypto = key_vault_key(f"{config.key_vault_url}/keys/{name}")
        return KeyVaultSigningKey(crypto, lambda: secrets.get(name))
    return LocalSigningKey(data_path(config, "content-credentials.pem"))


def subject_key_ring(config: Settings) -> SubjectKeyRing:
    if config.subject_keys == "keyvault":
        # Settings checks that the vault is set
        return KeyVaultKeyRing(key_vault_secrets(config.subject_key_vault_url or ""))
    return LocalKeyRing(data_path(config, "subject-keys.json"))


def work_queue(config: Settings, queue_name: str = JOB_QUEUE) -> WorkQueue:
    return _queue(config, queue_name)


def _queue(config: Settings, queue_name: str) -> ServiceBusWorkQueue | SqliteQueue:
    if config.queue == "servicebus":
        client = ServiceBusClient(
            fully_qualified_namespace=config.servicebus_namespace or "",  # Settings checks
            credential=managed_identity(),
        )
        return ServiceBusWorkQueue(client, queue_name)
    return local_queue(config, queue_name)


@cache
def queue_probes() -> tuple[QueueProbe, ...]:
    """The process's probes of the work queues (the jobs and the webhook deliveries),
    each with its own connection, kept."""
    config = settings()
    return tuple(_queue(config, name) for name in (JOB_QUEUE, WEBHOOK_QUEUE))


def webhook_ports(config: Settings) -> WebhookPorts:
    return WebhookPorts(
        queue=work_queue(config, WEBHOOK_QUEUE),
        sender=HttpxWebhookSender(SystemResolver(), allow_private=config.webhook_allow_private),
        signing_key=platform_key(config, WEBHOOK_KEY_SECRET),
    )


def platform_key(config: Settings, name: str) -> Callable[[], bytes]:
    """The platform secret `name` (`webhook-signing-key`, `generation-id-key`,
    `image-link-key`): from Key
    Vault; on the embedded default, without Key Vault, a random key made on first use and
    kept in the data folder (`platform-keys.json`, 0600) when no such secret is set."""
    secrets = secret_source(config)
    local = None if config.key_vault_url else LocalKeyRing(data_path(config, "platform-keys.json"))

    def key() -> bytes:
        try:
            return secrets.get(name).encode()
        except SecretNotFound:
            if local is None:
                raise
            return local.key_for(name)

    return key


@cache
def image_link_key() -> bytes:
    """The key of the drop-in face's signed image links (where the store has no SAS)."""
    return platform_key(settings(), IMAGE_LINK_KEY_SECRET)()


def webhook_dispatcher(config: Settings, platform: Callable[[], Platform]) -> WebhookDispatcher:
    return WebhookDispatcher(
        platform, webhook_ports(config), sqlite_event_store(config), sqlite_view_store(config)
    )


def event_store(config: Settings) -> EventStore:
    if config.event_store == "cosmos":
        return cosmos_event_store(config)
    return sqlite_event_store(config)


def repository(config: Settings, store: EventStore) -> Repository:
    """The command side's loads over `store`: one per process (its cache is the point)."""
    return Repository(
        store,
        snapshot_store(config),
        cache_entries=config.state_cache_entries,
        snapshot_every=config.snapshot_every,
    )


def snapshot_store(config: Settings) -> SnapshotStore:
    if config.event_store == "cosmos":
        return CosmosSnapshotStore(
            ensure_snapshot_container(_cosmos_database(config)), request_charges=_charges()
        )
    return SqliteSnapshotStore(data_path(config, "snapshots.db"))


def event_log(config: Settings) -> tuple[EventStore, LogReplay, LogTail | None]:
    """The event store, with what its kind offers beyond the port: the whole log in its
    replay order (the audit feeds) and, where it has a global order, a tail to wait on."""
    if config.event_store == "cosmos":
        cosmos = cosmos_event_store(config)
        return cosmos, OrderedReplay(cosmos), None
    sqlite = sqlite_event_store(config)
    return sqlite, PositionedReplay(sqlite), LogTail(sqlite)


def audit_access(config: Settings) -> AuditAccess:
    """The log as the audit commands read it, without the rest of the platform."""
    store, replay, _ = event_log(config)
    return AuditAccess(
        store=store, clock=utc_now, repository=repository(config, store), replay=replay
    )


def cosmos_event_store(config: Settings) -> CosmosEventStore:
    return CosmosEventStore(
        ensure_event_container(_cosmos_database(config)), request_charges=_charges()
    )


def sqlite_event_store(config: Settings) -> SqliteEventStore:
    return SqliteEventStore(data_path(config, "events.db"), synchronous=config.sqlite_synchronous)


def image_store(config: Settings) -> tuple[ImageStore, ImageLinks | None]:
    """The image store, and what issues read URLs for its images where it can."""
    if config.image_store == "fs":
        return FsImageStore(data_path(config, "images")), None
    assert config.blob_account_url is not None  # Settings refuses blob without it
    service = blob_service(config.blob_account_url, config.blob_emulator_account_key)
    signer: SasSigner = (
        UserDelegationSigner(service)
        if config.blob_emulator_account_key is None
        else AccountKeySigner(service.account_name or "", config.blob_emulator_account_key)
    )
    blobs = BlobImageStore(ensure_image_container(service, config.image_container), signer)
    return blobs, blobs


@cache
def _charges() -> RequestCharges:
    """One RU account per process, so a generation's charge sums its events and views."""
    return RequestCharges()


@cache
def _cosmos_database(config: Settings) -> DatabaseProxy:
    assert config.cosmos_endpoint is not None  # Settings refuses cosmos without it
    endpoint, key = config.cosmos_endpoint, config.cosmos_emulator_key
    return cosmos_database(endpoint, config.cosmos_database, key)


def cosmos_databases(config: Settings) -> Callable[[str, str], DatabaseProxy]:
    """Opens a database by account endpoint and name, on a new client each time: what the
    embedded host's change-feed pollers need (devhost/change_feed.py)."""
    return lambda endpoint, name: cosmos_database(endpoint, name, config.cosmos_emulator_key)


def view_store(config: Settings) -> ViewReader:
    if config.event_store == "cosmos":  # the change-feed triggers write them
        container = ensure_view_container(_cosmos_database(config))
        versions = ViewVersions(container, max_age=config.view_pointer_seconds)
        return CosmosViewStore(container, request_charges=_charges(), versions=versions)
    return sqlite_view_store(config)


def cosmos_view_rebuild(config: Settings, progress: Callable[[str], None]) -> CosmosViewRebuild:
    """The Azure shape's projection rebuild (`donatello projections rebuild`)."""
    assert config.cosmos_endpoint is not None  # Settings refuses cosmos without it
    # A client of its own: the SDK keeps the change feed's place in its client.
    database = cosmos_database(
        config.cosmos_endpoint, config.cosmos_database, config.cosmos_emulator_key
    )
    ensure_view_container(database)
    return CosmosViewRebuild(
        database, progress=progress, pointer_max_age=config.view_pointer_seconds
    )


def sqlite_view_store(config: Settings) -> SqliteViewStore:
    return SqliteViewStore(data_path(config, "views.db"), synchronous=config.sqlite_synchronous)


def projection_runner(config: Settings) -> ProjectionRunner:
    return ProjectionRunner(
        SqliteRecordLog(data_path(config, "events.db")), sqlite_view_store(config), ALL_PROJECTIONS
    )


def rebuild_embedded_views(
    config: Settings, projections: Sequence[Projection], *, dry_run: bool, workers: int
) -> RebuildReport:
    """`donatello projections rebuild` on the embedded shape: replayed beside the live
    views, compared, swapped in unless a dry run."""
    return rebuild_views(
        SqliteRecordLog(data_path(config, "events.db")),
        data_path(config, "views.db"),
        projections,
        dry_run=dry_run,
        workers=workers,
    )


def seal_store(config: Settings) -> SealStore:
    if config.seal_store == "fs":
        return FsSealStore(data_path(config, "seals"))
    assert config.blob_account_url is not None  # Settings refuses blob without it
    service = blob_service(config.blob_account_url, config.blob_emulator_account_key)
    return BlobSealStore(ensure_seal_container(service.get_container_client(config.seal_container)))


def audit_log(config: Settings) -> AuditLog:
    """The log as verify and the seal timer read it."""
    if config.event_store == "cosmos":
        return CosmosAuditLog(ensure_event_container(_cosmos_database(config)))
    return SqliteAuditLog(data_path(config, "events.db"))


def dev_issuer(config: Settings) -> DevIssuer:
    return DevIssuer(
        data_path(config, "dev-signing-key.pem"),
        issuer=config.issuer,
        audience=config.audience,
        department_claim=config.department_claim,
    )


def platform() -> Platform:
    """The process's one Platform; the lock keeps concurrent first calls from building two."""
    with _lock:
        return _platform_once()


@cache
def _platform_once() -> Platform:
    return build_platform(settings())


@cache
def webhooks() -> WebhookPorts:
    """The process's webhook ports (the functions' side of delivery)."""
    return webhook_ports(settings())


@cache
def meter(config: Settings | None = None) -> Meter:
    """Where measurements go: Application Insights when its connection string is set
    (the Azure Monitor distro, installed here once, also takes the spans), else
    prometheus-client (`GET /metrics` on the embedded host)."""
    if not (config or settings()).metrics:
        return NullMeter()
    return otel_meter() if install_azure_monitor() else prometheus_meter()


def metrics_page(config: Settings) -> Callable[[], tuple[bytes, str]]:
    """What the embedded host's `GET /metrics` answers: the shared state's gauges read
    now, then every process's metrics (see `plumbing.share_metrics`)."""
    gauges = OperationsGauges(
        prometheus_meter(),
        utc_now,
        queues=[local_queue(config, JOB_QUEUE), local_queue(config, WEBHOOK_QUEUE)],
        projections=projection_runner(config) if config.event_store != "cosmos" else None,
        seals=seal_store(config),
    )

    def answer() -> tuple[bytes, str]:
        gauges.sample()
        return exposition()

    return answer


@cache
def authenticator() -> Authenticator:
    """The process's one validator: it keeps the keys it fetched (Entra's JWKS, refetched
    only for an unknown `kid` and at most a few times an hour) or loaded (the dev key,
    whose check alone costs ~44 ms of CPU), so a request pays for neither."""
    config = settings()
    if config.auth_mode == "dev":
        return dev_issuer(config).validator()
    if config.jwks_url is None:
        raise RuntimeError("DONATELLO_JWKS_URL is required when DONATELLO_AUTH_MODE=entra")
    return TokenValidator(
        HttpJwks(config.jwks_url),
        issuer=config.issuer,
        audience=config.audience,
        allowed_tenants=config.allowed_tenant_ids or None,
        department_claim=config.department_claim,
    )
