"""The app settings the Bicep writes are exactly those services/settings.py reads, plus
the platform's own, listed below with their reasons; and what it writes makes a valid
Azure shape."""

from __future__ import annotations

import re
from typing import Any

from services.settings import _HOST_SETTINGS, PREFIX, Settings
from tests.infra.bicep import BICEP, ROOT, parse

FUNCTION_APP = BICEP / "modules" / "functionapp.bicep"

# Written by the Bicep, read by the Functions host or the Python worker, not by Settings.
PLATFORM_SETTINGS = {
    # The host's storage (timer locks, keys), identity-based: the account name alone.
    # Settings reads it too, only as a fallback for DONATELLO_BLOB_ACCOUNT_URL, which the
    # Bicep writes, since images and seals live in an account of their own.
    "AzureWebJobsStorage__accountName",
    # Where telemetry goes, and that it is sent with an Entra token (local auth is off).
    "APPLICATIONINSIGHTS_CONNECTION_STRING",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
    # The Python worker's thread pool: at least host.json's maxConcurrentCalls (16) plus
    # HTTP requests (docs/azure.md, host.json).
    "PYTHON_THREADPOOL_THREAD_COUNT",
    # The worker exports its own OpenTelemetry logs and spans (host.json's telemetryMode).
    "PYTHON_ENABLE_OPENTELEMETRY",
}
# Not written, on purpose: Flex Consumption refuses them as app settings and takes the
# runtime from the site's functionAppConfig (`runtime: python 3.11`) instead.
FLEX_REFUSES = {"FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_EXTENSION_VERSION"}

# Read by Settings, not written: their defaults are what Azure runs with, or they turn on
# something a deployment opts into (docs/deploy.md, "Settings").
LEFT_AT_DEFAULT = {
    # embedded default only: unused once every adapter is an Azure one
    "DONATELLO_DATA_DIR",
    "DONATELLO_SQLITE_SYNCHRONOUS",
    "DONATELLO_QUEUE_LOCK_DURATION_SECONDS",  # the local queue's; Service Bus has its own
    "DONATELLO_QUEUE_MAX_DELIVERY_COUNT",  # likewise (the queues are created with 10)
    "DONATELLO_COSMOS_EMULATOR_KEY",  # emulators only; Azure uses the managed identity
    "DONATELLO_BLOB_EMULATOR_ACCOUNT_KEY",
    # the embedded host's HTTP server; on Azure the Functions front end has its own limits
    "DONATELLO_HTTP_HEADER_TIMEOUT_SECONDS",
    "DONATELLO_HTTP_BODY_TIMEOUT_SECONDS",
    "DONATELLO_HTTP_MAX_CONNECTIONS",
    "DONATELLO_HTTP_KEEP_ALIVE_SECONDS",
    # unset on Azure it is https://$WEBSITE_HOSTNAME; a custom domain adds it (docs/deploy.md)
    "DONATELLO_PUBLIC_BASE_URL",
    # tuning whose default is the production value
    "DONATELLO_DEPARTMENT_CLAIM",
    "DONATELLO_PROVIDER_ATTEMPTS",
    "DONATELLO_PROVIDER_BACKOFF_SECONDS",
    "DONATELLO_DEFAULT_ENFORCEMENT",
    "DONATELLO_DEFAULT_STRATEGY",
    "DONATELLO_DAILY_IMAGE_QUOTA",
    "DONATELLO_SCREENING_POLICY_FILE",
    "DONATELLO_MODERATION",
    "DONATELLO_MODERATION_MODEL",
    "DONATELLO_SCREENING_TIMEOUT_SECONDS",
    "DONATELLO_SCREENING_PROCESSES",
    "DONATELLO_WEBHOOK_MAX_ATTEMPTS",
    "DONATELLO_WEBHOOK_RETRY_BASE_SECONDS",
    "DONATELLO_WEBHOOK_RETRY_MAX_SECONDS",
    "DONATELLO_WEBHOOK_TIMEOUT_SECONDS",
    "DONATELLO_WEBHOOK_ALLOW_PRIVATE",  # off; settings refuse it beside Entra sign-in
    "DONATELLO_METRICS",  # on: measurements go to Application Insights (adapters/otel_meter.py)
    "DONATELLO_STUCK_AFTER_SECONDS",
    "DONATELLO_SNAPSHOT_EVERY",  # at most 100 events read past a snapshot (docs/cosmos-costs.md)
    "DONATELLO_STATE_CACHE_ENTRIES",  # the repository's cache, per worker
    "DONATELLO_VIEW_POINTER_SECONDS",  # how stale a read of the live view version may be
    "DONATELLO_GENERATION_DEADLINE_SECONDS",
    "DONATELLO_MAX_REQUEST_BYTES",
    "DONATELLO_IMAGE_URL_TTL_SECONDS",
    "DONATELLO_ERASE_IMAGES",  # on; an organisation that must keep images adds it (docs)
    "DONATELLO_SIGNING_CERTIFICATE_NAME",  # scripts/c2pa-certificate makes it by this name
    "DONATELLO_OPENAI_WAIT_SECONDS",  # the drop-in face's wait, under the 230 s HTTP limit
    # providers: their public endpoints are the defaults; a deployment that enables one
    # with an endpoint of its own adds the setting (docs/deploy.md)
    "DONATELLO_OPENAI_BASE_URL",
    "DONATELLO_AZURE_OPENAI_ENDPOINT",
    "DONATELLO_AZURE_OPENAI_API_VERSION",
    "DONATELLO_AZURE_OPENAI_DALLE3_DEPLOYMENT",
    "DONATELLO_STABILITY_BASE_URL",
    "DONATELLO_REPLICATE_BASE_URL",
    "DONATELLO_FIREFLY_BASE_URL",
    "DONATELLO_FIREFLY_IMS_URL",
    "DONATELLO_FIREFLY_SCOPE",
    "DONATELLO_OPENAI_COMPATIBLE_BASE_URL",
    "DONATELLO_OPENAI_COMPATIBLE_MODEL",
    "DONATELLO_OPENAI_COMPATIBLE_KEY_SECRET",
}

# Values for the module's parameters, shaped like what main.bicep passes.
SAMPLE_PARAMS = {
    "hostStorageAccountName": "stdonatellodevab12cfn",
    "appInsightsConnectionString": "InstrumentationKey=00000000-0000-0000-0000-000000000000",
    "cosmosEndpoint": "https://cosmos-donatello-dev-ab12c.documents.azure.com:443/",
    "cosmosDatabaseName": "donatello",
    "serviceBusNamespace": "sb-donatello-dev-ab12c.servicebus.windows.net",
    "blobAccountUrl": "https://stdonatellodevab12cdata.blob.core.windows.net",
    "imageContainerName": "images",
    "sealContainerName": "seals",
    "platformVaultUrl": "https://kv-donatello-dev-ab12c.vault.azure.net/",
    "subjectKeyVaultUrl": "https://kvs-donatello-dev-ab12c.vault.azure.net/",
    "tenantId": "11111111-2222-3333-4444-555555555555",
    "apiAudience": "api://donatello-dev",
    "enabledProviders": "local",
    "defaultMonthlyLimitAud": "500.00",
    "retentionYears": "7",
    "loginEndpoint": "https://login.microsoftonline.com/",
}


def written_settings() -> dict[str, Any]:
    """Name -> value expression of each app setting, as pycep parses them."""
    site = parse(FUNCTION_APP).resources()["app"]["config"]
    pairs = site["properties"]["siteConfig"]["appSettings"]
    names = [pair["name"] for pair in pairs]
    assert len(names) == len(set(names)), "a setting is written twice"
    return {pair["name"]: pair["value"] for pair in pairs}


def resolved(value: Any) -> str:
    """A written value with the module's parameters and literal variables filled in."""
    template = parse(FUNCTION_APP)
    known = {
        **SAMPLE_PARAMS,
        **{k: str(v) for k, v in template.variables.items() if isinstance(v, int | str)},
    }
    assert isinstance(value, str), f"{value!r} is not a string or reference"
    if value in template.params:
        return known[value]
    return re.sub(r"\$\{(\w+)\}", lambda m: known[m[1]], value)


def names_read_per_field() -> dict[str, set[str]]:
    """Each field's own variable, and the host setting that stands in for it."""
    names = {field: {PREFIX + field.upper()} for field in Settings.model_fields}
    for field, host_setting in _HOST_SETTINGS.items():
        names[field].add(host_setting)
    names["blob_account_url"].add("AzureWebJobsStorage__accountName")
    return names


def settings_read() -> set[str]:
    return set().union(*names_read_per_field().values())


def binding_placeholders() -> set[str]:
    """`%NAME%` app settings the triggers' declarations name. Read from the sources:
    `app.get_functions()` registers bindings and may run once per process."""
    return {
        name
        for path in sorted((ROOT / "functions").glob("*.py"))
        for name in re.findall(r"\"%(\w+)%\"", path.read_text("utf-8"))
    }


def test_the_settings_model_does_read_the_host_storage_fallback() -> None:
    read = Settings.from_env({"AzureWebJobsStorage__accountName": "acct"})
    assert read.blob_account_url == "https://acct.blob.core.windows.net"


def test_every_written_setting_is_read_by_the_settings_model_or_the_platform() -> None:
    written = set(written_settings())
    unread = written - settings_read() - PLATFORM_SETTINGS - binding_placeholders()
    assert unread == set()
    assert written & FLEX_REFUSES == set()


def test_every_setting_the_model_reads_is_written_or_left_at_its_default_on_purpose() -> None:
    written = set(written_settings())
    unwritten = {
        PREFIX + field.upper()
        for field, names in names_read_per_field().items()
        if not names & written
    }
    assert unwritten == LEFT_AT_DEFAULT


def test_every_trigger_placeholder_is_written() -> None:
    assert binding_placeholders() - set(written_settings()) == set()
    assert binding_placeholders() >= {"DONATELLO_COSMOS_DATABASE", "DONATELLO_SEAL_SCHEDULE"}


def test_what_the_bicep_writes_is_a_valid_settings_model_on_every_azure_adapter() -> None:
    environ = {name: resolved(value) for name, value in written_settings().items()}
    config = Settings.from_env(environ)
    chosen = (
        config.event_store,
        config.image_store,
        config.seal_store,
        config.queue,
        config.subject_keys,
        config.content_signer,
        config.auth_mode,
    )
    assert chosen == ("cosmos", "blob", "blob", "servicebus", "keyvault", "keyvault", "entra")
    assert config.key_vault_url == SAMPLE_PARAMS["platformVaultUrl"]
    assert config.subject_key_vault_url == SAMPLE_PARAMS["subjectKeyVaultUrl"]
    assert config.blob_account_url == SAMPLE_PARAMS["blobAccountUrl"]
    assert config.issuer == f"https://login.microsoftonline.com/{SAMPLE_PARAMS['tenantId']}/v2.0"
    assert config.jwks_url == (
        f"https://login.microsoftonline.com/{SAMPLE_PARAMS['tenantId']}/discovery/v2.0/keys"
    )
    # The seal timer fires on the schedule the model derives from the interval it reads.
    assert environ["DONATELLO_SEAL_SCHEDULE"] == config.seal_schedule


def test_no_setting_carries_a_key_or_connection_string() -> None:
    """Identity-based connections only; App Insights' connection string holds no secret."""
    for name, value in written_settings().items():
        assert not re.search(r"account_?key|_key$|password|secret|sas|sharedaccess", name, re.I)
        if name != "APPLICATIONINSIGHTS_CONNECTION_STRING":
            assert "ConnectionString" not in name
        assert "list" not in str(value).lower(), f"{name} reads keys with a list*() call"
