"""Settings from the environment: the embedded default, the Azure shape, clear errors."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from services.settings import Settings, SettingsError


def test_an_empty_environment_is_the_embedded_default() -> None:
    config = Settings.from_env({})
    assert (config.event_store, config.image_store, config.queue) == ("sqlite", "fs", "local")
    assert config.data_dir == Path(".donatello")
    assert config.key_vault_url is None
    assert config.default_monthly_limit_aud == Decimal("500.00")


def test_the_azure_shape_reads_the_hosts_identity_based_connections() -> None:
    config = Settings.from_env(
        {
            "DONATELLO_EVENT_STORE": "cosmos",
            "DONATELLO_IMAGE_STORE": "blob",
            "DONATELLO_QUEUE": "servicebus",
            "CosmosDbConnection__accountEndpoint": "https://acct.documents.azure.com:443/",
            "ServiceBusConnection__fullyQualifiedNamespace": "ns.servicebus.windows.net",
            "AzureWebJobsStorage__accountName": "donatellostore",
        }
    )
    assert config.cosmos_endpoint == "https://acct.documents.azure.com:443/"
    assert config.servicebus_namespace == "ns.servicebus.windows.net"
    assert config.blob_account_url == "https://donatellostore.blob.core.windows.net"
    assert config.cosmos_emulator_key is None  # nothing but identity in Azure


def test_an_explicit_setting_wins_over_the_derived_one() -> None:
    config = Settings.from_env(
        {
            "AzureWebJobsStorage__accountName": "hoststore",
            "DONATELLO_BLOB_ACCOUNT_URL": "https://images.blob.core.windows.net",
        }
    )
    assert config.blob_account_url == "https://images.blob.core.windows.net"


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"DONATELLO_EVENT_STORE": "cosmos"}, "CosmosDbConnection__accountEndpoint"),
        ({"DONATELLO_IMAGE_STORE": "blob"}, "AzureWebJobsStorage__accountName"),
        ({"DONATELLO_QUEUE": "servicebus"}, "ServiceBusConnection__fullyQualifiedNamespace"),
        ({"DONATELLO_EVENT_STORE": "postgres"}, "DONATELLO_EVENT_STORE"),
        ({"DONATELLO_IMAGE_URL_TTL_SECONDS": "86400"}, "DONATELLO_IMAGE_URL_TTL_SECONDS"),
        ({"DONATELLO_PROVIDER_ATTEMPTS": "0"}, "DONATELLO_PROVIDER_ATTEMPTS"),
        ({"DONATELLO_DAILY_IMAGE_QUOTA": "0"}, "DONATELLO_DAILY_IMAGE_QUOTA"),
        ({"DONATELLO_PUBLIC_BASE_URL": "api.example.com"}, "DONATELLO_PUBLIC_BASE_URL"),
        ({"DONATELLO_PUBLIC_BASE_URL": "ftp://api.example.com"}, "DONATELLO_PUBLIC_BASE_URL"),
        ({"DONATELLO_PUBLIC_BASE_URL": "https://a.example/?x=1"}, "DONATELLO_PUBLIC_BASE_URL"),
        ({"DONATELLO_PUBLIC_BASE_URL": "https://u:p@a.example"}, "DONATELLO_PUBLIC_BASE_URL"),
    ],
)
def test_a_bad_or_incomplete_setting_names_what_to_fix(environ: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        Settings.from_env(environ)


def test_lists_are_comma_separated() -> None:
    config = Settings.from_env({"DONATELLO_ENABLED_PROVIDERS": "local, openai ,"})
    assert config.enabled_providers == ("local", "openai")


def test_the_example_local_settings_are_a_valid_azure_configuration() -> None:
    example = Path(__file__).resolve().parents[2] / "local.settings.example.json"
    values: dict[str, str] = json.loads(example.read_text("utf-8"))["Values"]
    known = {"DONATELLO_" + name.upper() for name in Settings.model_fields}
    assert {k for k in values if k.startswith("DONATELLO_")} <= known
    config = Settings.from_env(values)
    assert (config.event_store, config.image_store, config.queue) == (
        "cosmos",
        "blob",
        "servicebus",
    )
    assert config.blob_account_url == "https://<storage account>.blob.core.windows.net"


def test_private_webhook_receivers_are_refused_with_entra_sign_in() -> None:
    assert Settings.from_env({"DONATELLO_WEBHOOK_ALLOW_PRIVATE": "true"}).webhook_allow_private
    assert not Settings.from_env({"DONATELLO_AUTH_MODE": "entra"}).webhook_allow_private
    with pytest.raises(SettingsError, match="WEBHOOK_ALLOW_PRIVATE"):
        Settings.from_env(
            {"DONATELLO_AUTH_MODE": "entra", "DONATELLO_WEBHOOK_ALLOW_PRIVATE": "true"}
        )


def test_the_public_base_url_is_configured_or_the_apps_own_host_name() -> None:
    assert Settings.from_env({}).public_base_url == "http://127.0.0.1:7071"
    on_azure = {"WEBSITE_HOSTNAME": "donatello-x1.azurewebsites.net"}
    assert Settings.from_env(on_azure).public_base_url == "https://donatello-x1.azurewebsites.net"
    chosen = {**on_azure, "DONATELLO_PUBLIC_BASE_URL": "https://images.example.com/gateway/"}
    assert Settings.from_env(chosen).public_base_url == "https://images.example.com/gateway"
