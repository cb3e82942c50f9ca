"""Azurite (npm) blob emulators for the tests, one per session.

Load them in a test module with `pytest_plugins = ["tests.azurite_fixtures"]` (an import
of the fixture functions would need a lint exception at every test that uses one).

- `azurite_blob_service`: Azurite over HTTP, the account-key client of the local shape.
- `azurite_account_key_signer`: the SAS signer of the local shape.
- `azurite_image_container`: a fresh private container in it, per test.
- `azurite_entra`: a second Azurite over HTTPS with `--oauth basic`, reached with a bearer
  token as managed identity would, so user delegation keys can be obtained. Azurite
  refuses Get User Delegation Key with a shared key (as Azure does) and accepts bearer
  tokens only over HTTPS; in `basic` mode it checks a token's issuer, audience and
  lifetime but not its signature, so `EmulatorEntraCredential` mints one locally.
"""

from __future__ import annotations

import ipaddress
import secrets
import ssl
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from azure.core.credentials import AccessToken
from azure.storage.blob import BlobServiceClient, ContainerClient
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from adapters.blob_image_store import AccountKeySigner, ensure_image_container
from tests.emulators import run_emulator

# Azurite's well-known development account, published in Microsoft's Azurite docs and
# built into the emulator: not a secret, and never valid against real Azure.
EMULATOR_ACCOUNT_NAME = "devstoreaccount1"
EMULATOR_ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
AZURITE_ARGS = [
    "--blobPort",
    "{port}",
    "--location",
    "{workdir}",
    "--silent",
    "--disableTelemetry",
    "--skipApiVersionCheck",
]


class EmulatorEntraCredential:
    """A TokenCredential whose tokens look like Entra ID's to Azurite's `basic` OAuth."""

    def __init__(self, tenant_id: str, object_id: str) -> None:
        self.tenant_id = tenant_id
        self.object_id = object_id
        self._signing_key = secrets.token_bytes(32)

    def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        now = int(time.time())
        expires_on = now + 3600
        token = jwt.encode(
            {
                "aud": "https://storage.azure.com",
                "iss": f"https://sts.windows.net/{self.tenant_id}/",
                "iat": now,
                "nbf": now - 60,
                "exp": expires_on,
                "oid": self.object_id,
                "tid": self.tenant_id,
            },
            self._signing_key,
            algorithm="HS256",
        )
        return AccessToken(token, expires_on)


@dataclass(frozen=True)
class AzuriteEntra:
    """The HTTPS Azurite, a client authenticated by bearer token, and its CA to trust."""

    service: BlobServiceClient
    credential: EmulatorEntraCredential
    ca_file: Path

    def ssl_context(self) -> ssl.SSLContext:
        """For HTTP clients other than the SDK's (`httpx.get(url, verify=...)`)."""
        return ssl.create_default_context(cafile=self.ca_file)


def _self_signed_loopback_cert(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "azurite test")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture(scope="session")
def azurite_blob_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BlobServiceClient]:
    workdir = tmp_path_factory.mktemp("azurite-blob")
    with run_emulator("azurite-blob", AZURITE_ARGS, workdir) as azurite:
        account_url = f"http://{azurite.host}:{azurite.port}/{EMULATOR_ACCOUNT_NAME}"
        credential = {"account_name": EMULATOR_ACCOUNT_NAME, "account_key": EMULATOR_ACCOUNT_KEY}
        with BlobServiceClient(account_url, credential=credential) as service:
            yield service


@pytest.fixture(scope="session")
def azurite_account_key_signer() -> AccountKeySigner:
    return AccountKeySigner(EMULATOR_ACCOUNT_NAME, EMULATOR_ACCOUNT_KEY)


@pytest.fixture
def azurite_image_container(azurite_blob_service: BlobServiceClient) -> Iterator[ContainerClient]:
    container = ensure_image_container(azurite_blob_service, f"images-{uuid.uuid4().hex}")
    yield container
    container.delete_container()


@pytest.fixture(scope="session")
def azurite_entra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AzuriteEntra]:
    workdir = tmp_path_factory.mktemp("azurite-entra")
    cert_path, key_path = _self_signed_loopback_cert(workdir)
    args = [*AZURITE_ARGS, "--oauth", "basic", "--cert", str(cert_path), "--key", str(key_path)]
    with run_emulator("azurite-blob", args, workdir) as azurite:
        credential = EmulatorEntraCredential(str(uuid.uuid4()), str(uuid.uuid4()))
        account_url = f"https://{azurite.host}:{azurite.port}/{EMULATOR_ACCOUNT_NAME}"
        with BlobServiceClient(
            account_url, credential=credential, connection_verify=str(cert_path)
        ) as service:
            yield AzuriteEntra(service=service, credential=credential, ca_file=cert_path)
