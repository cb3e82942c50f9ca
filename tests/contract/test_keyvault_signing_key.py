"""Content Credentials signed through Key Vault: the real `CryptographyClient` against
the local Key Vault (`tests.keyvault_keys_server`), whose role allows `keys/sign` alone.
The signed image is read back with `c2pa.Reader` and trusted under the vault's CA."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.keyvault.keys.crypto import CryptographyClient
from azure.keyvault.secrets import SecretClient
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from adapters.c2pa_credentials import C2paCredentials
from adapters.keyvault_signing_key import KeyVaultSigningKey
from adapters.providers.local import LocalProvider
from services.ports import ImageRequest
from tests.content_credentials import read_credentials
from tests.contract.test_c2pa_credentials import CLAIM
from tests.keyvault_keys_server import KeyVaultKeysServer
from tests.keyvault_server import FixedTokenCredential

pytest_plugins = ["tests.keyvault_fixtures"]
NAME = "content-credentials"


@pytest.fixture
def keys_vault(tls_files: tuple[Path, Path], token: str) -> Iterator[KeyVaultKeysServer]:
    cert, key = tls_files
    server = KeyVaultKeysServer(cert, key, tenant_id=str(uuid.uuid4()), token=token)
    yield server
    server.close()


def _signing_key(
    vault: KeyVaultKeysServer, credential: FixedTokenCredential, tls: Path
) -> KeyVaultSigningKey:
    options = {"verify_challenge_resource": False, "connection_verify": str(tls), "retry_total": 0}
    crypto = CryptographyClient(f"{vault.url}/keys/{NAME}", credential, **options)
    secrets = SecretClient(vault.url, credential, **options)
    return KeyVaultSigningKey(crypto, lambda: secrets.get_secret(NAME).value or "")


def test_an_image_signed_through_key_vault_validates_under_the_vaults_ca(
    keys_vault: KeyVaultKeysServer, credential: FixedTokenCredential, tls_files: tuple[Path, Path]
) -> None:
    chain = keys_vault.add_certificate(NAME)
    key = _signing_key(keys_vault, credential, tls_files[0])
    image = LocalProvider().generate(
        ImageRequest(CLAIM.generation_id, "local-standard", "p", "1024x1024", "standard", None)
    )

    signed = C2paCredentials(key).sign(image, CLAIM)

    anchor = x509.load_pem_x509_certificates(chain.encode())[-1].public_bytes(Encoding.PEM)
    read = read_credentials(signed.data, "image/png", anchor.decode("ascii"))
    assert read.state == "Trusted", read.failures
    assert read.manifest["signature_info"]["issuer"] == "Vault Test Org"
    assert keys_vault.signatures == 1  # the one signature was made in the vault
    # The role allows only signing: the SDK's attempt to fetch the key was refused.
    key_reads = [
        r for r in keys_vault.requests() if r.path.startswith("/keys/") and r.method == "GET"
    ]
    assert [r.status for r in key_reads if r.authorized] == [403]
    # The certificate's secret holds its chain and no private key.
    assert "PRIVATE KEY" not in key.certificate_chain()


def test_our_reader_calls_what_the_vault_signed_ours(
    keys_vault: KeyVaultKeysServer, credential: FixedTokenCredential, tls_files: tuple[Path, Path]
) -> None:
    keys_vault.add_certificate(NAME)
    credentials = C2paCredentials(_signing_key(keys_vault, credential, tls_files[0]))
    image = LocalProvider().generate(
        ImageRequest(CLAIM.generation_id, "local-standard", "p", "1024x1024", "standard", None)
    )
    read = credentials.read(credentials.sign(image, CLAIM).data)
    assert (read.valid, read.ours, read.claim) == (True, True, CLAIM)
