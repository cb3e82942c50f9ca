"""The Azure SDK clients the Azure shape's adapters are built on, authenticated once.

In Azure every client authenticates as the Function App's managed identity through
`DefaultAzureCredential`: no key or connection string exists in the app or its
settings. Only the local emulators, which accept nothing else, get their published
keys; and only an emulator on the loopback address gets a client that does not verify
its TLS certificate (the Cosmos emulator's is self-signed and expired).
"""

from __future__ import annotations

from functools import cache
from urllib.parse import urlsplit

from azure.core.credentials import TokenCredential
from azure.cosmos import CosmosClient, DatabaseProxy
from azure.identity import DefaultAzureCredential
from azure.keyvault.keys.crypto import CryptographyClient
from azure.keyvault.secrets import SecretClient
from azure.storage.blob import BlobServiceClient

_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
# Short timeouts for Key Vault: the SDK's defaults (300 s, 10 retries) would hang a
# refresh in an outage that the adapters are meant to ride out on their cached values.
_KEY_VAULT_TIMEOUTS = {"connection_timeout": 5, "read_timeout": 10, "retry_total": 3}


@cache
def managed_identity() -> TokenCredential:
    """One credential per process: it caches its tokens, so sharing it saves round trips."""
    return DefaultAzureCredential()


def is_loopback(url: str) -> bool:
    return urlsplit(url).hostname in _LOOPBACK


def cosmos_database(endpoint: str, database: str, emulator_key: str | None) -> DatabaseProxy:
    """The database; in Azure the infrastructure templates create it (a managed identity
    holds data-plane roles only), on an emulator, which starts empty, this does."""
    if emulator_key is None:
        return CosmosClient(endpoint, credential=managed_identity()).get_database_client(database)
    if not is_loopback(endpoint):
        raise ValueError("an emulator key is only for an emulator on the loopback address")
    client = CosmosClient(endpoint, credential=emulator_key, connection_verify=False)
    return client.create_database_if_not_exists(database)


def blob_service(account_url: str, emulator_account_key: str | None) -> BlobServiceClient:
    if emulator_account_key is None:
        return BlobServiceClient(account_url, credential=managed_identity())
    if not is_loopback(account_url):
        raise ValueError("an emulator key is only for an emulator on the loopback address")
    # An emulator's URL names its account in the path: http://127.0.0.1:10000/devstoreaccount1
    account_name = urlsplit(account_url).path.strip("/").split("/")[0]
    return BlobServiceClient(
        account_url, credential={"account_name": account_name, "account_key": emulator_account_key}
    )


def key_vault_secrets(vault_url: str) -> SecretClient:
    return SecretClient(vault_url=vault_url, credential=managed_identity(), **_KEY_VAULT_TIMEOUTS)


def key_vault_key(key_id: str) -> CryptographyClient:
    """A client for one key, by its id: https://<vault>/keys/<name>."""
    return CryptographyClient(key_id, credential=managed_identity(), **_KEY_VAULT_TIMEOUTS)
