"""BlobImageStore against Azurite: the ImageStore contract, then what only Blob Storage has.

Two Azurite servers (tests/azurite_fixtures.py): one over HTTP reached with the emulator's
account key, as the local shape does, and one over HTTPS with `--oauth basic`, reached
with a bearer token as managed identity would, for user delegation SAS.

Where Azurite differs from Azure, the test says so:
- An anonymous read of a private blob: Azurite answers 403 AuthorizationFailure; Azure
  answers 404 ResourceNotFound, so as not to reveal that the container exists (or 409
  PublicAccessNotPermitted where the account forbids anonymous access altogether).
- Azurite's `basic` OAuth does not verify token signatures, and its user delegation
  keys derive from a fixed, public seed. The tests here show that the SAS a delegation
  key signs is checked (tampered, rewritten or expired ones are refused); they cannot
  show that Entra ID issues the key, which only a real account can.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.storage.blob import BlobServiceClient, ContainerClient

from adapters.blob_image_store import (
    AccountKeySigner,
    BlobImageStore,
    ReadGrant,
    UserDelegationSigner,
    ensure_image_container,
)
from tests.contract.image_store_contract import METADATA, PNG, REF, ImageStoreContract

if TYPE_CHECKING:
    from tests.azurite_fixtures import AzuriteEntra

# The Azurite fixtures, as a plugin: see tests/azurite_fixtures.py for why not an import.
pytest_plugins = ["tests.azurite_fixtures"]

IMAGE = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8


def _query(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


def _clock_at(instant: datetime) -> Callable[[], datetime]:
    return lambda: instant


@pytest.fixture
def store(
    azurite_image_container: ContainerClient, azurite_account_key_signer: AccountKeySigner
) -> BlobImageStore:
    return BlobImageStore(azurite_image_container, azurite_account_key_signer)


class TestBlobImageStore(ImageStoreContract):
    @pytest.fixture
    def store(
        self, azurite_image_container: ContainerClient, azurite_account_key_signer: AccountKeySigner
    ) -> BlobImageStore:
        return BlobImageStore(azurite_image_container, azurite_account_key_signer)


# --- what is stored ------------------------------------------------------------------


def test_stores_content_settings_and_the_sha256_in_metadata(
    store: BlobImageStore,
    azurite_image_container: ContainerClient,
) -> None:
    stored = store.put(REF, IMAGE, PNG, METADATA)
    properties = azurite_image_container.get_blob_client(REF).get_blob_properties()
    assert properties.size == len(IMAGE)
    assert properties.content_settings.content_type == PNG
    content_md5 = properties.content_settings.content_md5
    assert content_md5 is not None
    assert bytes(content_md5) == hashlib.md5(IMAGE).digest()
    assert properties.metadata == {**METADATA, "sha256": hashlib.sha256(IMAGE).hexdigest()}
    assert stored.sha256 == properties.metadata["sha256"]


@pytest.mark.parametrize(
    "metadata",
    [
        {"model-id": "local"},  # not a C# identifier
        {"1st": "local"},
        {"sha256": "forged"},  # the store's own key
        {"SHA256": "forged"},  # names are case-insensitive
        {"model_id": "a", "MODEL_ID": "b"},
        {"prompt": "café"},  # headers carry ASCII only
        {"prompt": "two\nlines"},
    ],
)
def test_metadata_blob_storage_cannot_carry_is_refused_before_writing(
    store: BlobImageStore, metadata: dict[str, str]
) -> None:
    with pytest.raises(ValueError):
        store.put(REF, IMAGE, PNG, metadata)
    with pytest.raises(KeyError):
        store.get(REF)


def test_a_missing_container_is_an_error_not_a_missing_image(
    azurite_blob_service: BlobServiceClient, azurite_account_key_signer: AccountKeySigner
) -> None:
    container = azurite_blob_service.get_container_client(f"absent-{uuid.uuid4().hex}")
    absent = BlobImageStore(container, azurite_account_key_signer)
    with pytest.raises(ResourceNotFoundError) as raised:
        absent.get(REF)
    assert not isinstance(raised.value, KeyError)


# --- the container -------------------------------------------------------------------


def test_the_container_is_private(
    store: BlobImageStore,
    azurite_image_container: ContainerClient,
) -> None:
    store.put(REF, IMAGE, PNG, METADATA)
    assert azurite_image_container.get_container_properties().public_access is None
    anonymous = httpx.get(azurite_image_container.get_blob_client(REF).url)
    # Azurite: 403 AuthorizationFailure. Azure: 404 ResourceNotFound (see the docstring).
    assert anonymous.status_code == 403
    assert IMAGE not in anonymous.content


def test_ensuring_the_container_twice_is_harmless(
    azurite_blob_service: BlobServiceClient, azurite_account_key_signer: AccountKeySigner
) -> None:
    name = f"images-{uuid.uuid4().hex}"
    first = ensure_image_container(azurite_blob_service, name)
    BlobImageStore(first, azurite_account_key_signer).put(REF, IMAGE, PNG, METADATA)
    again = ensure_image_container(azurite_blob_service, name)
    assert BlobImageStore(again, azurite_account_key_signer).get(REF) == IMAGE
    again.delete_container()


def test_an_existing_public_container_is_refused(
    azurite_blob_service: BlobServiceClient,
) -> None:
    name = f"images-{uuid.uuid4().hex}"
    public = azurite_blob_service.create_container(name, public_access="blob")
    with pytest.raises(ValueError, match="private"):
        ensure_image_container(azurite_blob_service, name)
    public.delete_container()


# --- read URLs signed with the account key (local emulation) --------------------------


def test_a_read_url_serves_the_exact_bytes_and_content_type(store: BlobImageStore) -> None:
    store.put(REF, IMAGE, PNG, METADATA)
    url = store.read_url(REF)
    response = httpx.get(url)
    assert response.status_code == 200
    assert response.content == IMAGE
    assert response.headers["content-type"] == PNG
    sas = _query(url)
    assert sas["sp"] == "r"
    assert sas["sr"] == "b"
    assert sas["spr"] == "https,http"  # this Azurite speaks HTTP only
    lifetime = datetime.fromisoformat(sas["se"]) - datetime.fromisoformat(sas["st"])
    assert lifetime == timedelta(minutes=10)  # 5 min TTL + 5 min allowance for clock skew


def test_a_read_url_cannot_write_or_delete(store: BlobImageStore) -> None:
    store.put(REF, IMAGE, PNG, METADATA)
    url = store.read_url(REF)
    overwrite = httpx.put(url, content=b"defaced", headers={"x-ms-blob-type": "BlockBlob"})
    assert overwrite.status_code == 403
    assert httpx.delete(url).status_code == 403
    assert store.get(REF) == IMAGE


def test_a_read_url_opens_only_its_own_blob(store: BlobImageStore) -> None:
    other = "finance/2026/12/7d1e2f3a-0000-4000-8000-000000000001.png"
    store.put(REF, IMAGE, PNG, METADATA)
    store.put(other, b"another department's image", PNG, {})
    url = store.read_url(REF)
    assert httpx.get(url.replace(REF, other)).status_code == 403


def test_a_read_url_is_refused_after_it_expires(
    azurite_image_container: ContainerClient, azurite_account_key_signer: AccountKeySigner
) -> None:
    minted_an_hour_ago = BlobImageStore(
        azurite_image_container,
        azurite_account_key_signer,
        clock=_clock_at(datetime.now(UTC) - timedelta(hours=1)),
    )
    minted_an_hour_ago.put(REF, IMAGE, PNG, METADATA)
    # Same clock, same signer: only the lifetime decides.
    assert httpx.get(minted_an_hour_ago.read_url(REF, ttl=timedelta(hours=2))).status_code == 200
    assert httpx.get(minted_an_hour_ago.read_url(REF)).status_code == 403


def test_a_read_url_of_an_unknown_ref_answers_404(store: BlobImageStore) -> None:
    response = httpx.get(store.read_url(REF))
    assert response.status_code == 404
    assert response.headers["x-ms-error-code"] == "BlobNotFound"


def test_an_https_only_sas_is_refused_over_http(
    store: BlobImageStore,
    azurite_image_container: ContainerClient,
    azurite_account_key_signer: AccountKeySigner,
) -> None:
    # What `read_url` asks for whenever the endpoint is https, as it always is in Azure.
    store.put(REF, IMAGE, PNG, METADATA)
    now = datetime.now(UTC)
    grant = ReadGrant(
        azurite_image_container.container_name, REF, now, now + timedelta(minutes=5), True
    )
    sas = azurite_account_key_signer.sign_read(grant)
    url = f"{azurite_image_container.get_blob_client(REF).url}?{sas}"
    assert _query(url)["spr"] == "https"
    assert httpx.get(url).status_code == 403


@pytest.mark.parametrize("ttl", [timedelta(0), timedelta(seconds=-1), timedelta(days=7, seconds=1)])
def test_a_read_url_lifetime_must_be_positive_and_at_most_seven_days(
    store: BlobImageStore, ttl: timedelta
) -> None:
    with pytest.raises(ValueError):
        store.read_url(REF, ttl)


def test_a_read_url_refuses_refs_that_could_escape(store: BlobImageStore) -> None:
    with pytest.raises(ValueError):
        store.read_url("marketing/../../outside.png")


# --- read URLs signed with a user delegation key (Azure) ------------------------------


def test_a_shared_key_client_cannot_get_a_user_delegation_key(
    azurite_blob_service: BlobServiceClient,
) -> None:
    # As in Azure: only an Entra ID principal gets a delegation key, so a signer built
    # on a shared-key client fails loudly instead of minting account-key URLs.
    store = BlobImageStore(
        azurite_blob_service.get_container_client("any"),
        UserDelegationSigner(azurite_blob_service),
    )
    with pytest.raises(HttpResponseError) as raised:
        store.read_url(REF)
    assert raised.value.status_code == 403


@pytest.fixture
def entra_container(azurite_entra: AzuriteEntra) -> ContainerClient:
    return ensure_image_container(azurite_entra.service, f"images-{uuid.uuid4().hex}")


def test_a_user_delegation_read_url_serves_the_image_over_https_only(
    azurite_entra: AzuriteEntra,
    entra_container: ContainerClient,
) -> None:
    store = BlobImageStore(entra_container, UserDelegationSigner(azurite_entra.service))
    store.put(REF, IMAGE, PNG, METADATA)
    url = store.read_url(REF)
    assert url.startswith("https://")
    sas = _query(url)
    assert (sas["sp"], sas["spr"]) == ("r", "https")
    assert sas["skoid"] == azurite_entra.credential.object_id
    assert sas["sktid"] == azurite_entra.credential.tenant_id
    verify = azurite_entra.ssl_context()
    response = httpx.get(url, verify=verify)
    assert (response.status_code, response.content) == (200, IMAGE)
    assert response.headers["content-type"] == PNG
    # The delegation key's signature is really checked, and it grants reading only.
    tampered = url.replace("sig=", "sig=A")
    assert httpx.get(tampered, verify=verify).status_code == 403
    assert httpx.delete(url, verify=verify).status_code == 403


def test_the_delegation_key_is_reused_until_a_url_would_outlive_it(
    azurite_entra: AzuriteEntra,
    entra_container: ContainerClient,
) -> None:
    signer = UserDelegationSigner(azurite_entra.service, key_lifetime=timedelta(hours=1))
    now = datetime.now(UTC)
    start = now - timedelta(minutes=51)

    def url_at(instant: datetime) -> str:
        return BlobImageStore(entra_container, signer, clock=_clock_at(instant)).read_url(REF)

    first, second = url_at(start), url_at(start + timedelta(minutes=30))
    # The key runs from 5 minutes before `start` for one hour, to start + 55 min.
    assert (_query(first)["skt"], _query(first)["ske"]) == (
        _query(second)["skt"],
        _query(second)["ske"],
    )
    # A URL minted now would expire at start + 56 min, after the key: a new key signs it.
    rotated = url_at(now)
    assert _query(rotated)["ske"] > _query(first)["ske"]
    assert _query(rotated)["ske"] >= _query(rotated)["se"]
    BlobImageStore(entra_container, signer).put(REF, IMAGE, PNG, METADATA)
    assert httpx.get(rotated, verify=azurite_entra.ssl_context()).content == IMAGE
