"""The image store on Azure Blob Storage: the Azure shape's twin of the data folder.

The ref is the blob name inside one private container, e.g.
`marketing/2026/11/0b6f3c1e-....png`, checked by the same `validate_ref` as the folder
store so both shapes accept exactly the same refs.

Each blob carries its content type and MD5 in its content settings (the MD5 is also sent
per request, so the service refuses bytes damaged on the way) and, in its metadata, the
caller's metadata plus `sha256`, the digest the generation event records. Blob metadata
travels as `x-ms-meta-{name}` headers, so names must be C# identifiers and values
printable ASCII; anything else is refused with ValueError before any write.

Putting a ref again overwrites it, for the folder store's reason: a retried generation
that re-renders different bytes must replace the first attempt, because the event that
records the image is appended only after the put succeeds. A single Put Blob replaces
the whole blob at once, so a reader never sees a mix of two attempts.

Readers outside the platform get a short-lived, read-only SAS URL from `read_url`. The
signature comes from a `SasSigner`: in Azure a `UserDelegationSigner`, whose key the
managed identity obtains from Entra ID, so no account key exists anywhere in the app;
only local emulation uses an `AccountKeySigner` with Azurite's published account key.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import (
    BlobServiceClient,
    ContainerClient,
    ContentSettings,
    StorageErrorCode,
    UserDelegationKey,
    generate_blob_sas,
)

from adapters.fs_image_store import validate_ref
from domain.envelope import utc_now
from services.ports import StoredImage

SHA256_METADATA_KEY = "sha256"
DEFAULT_READ_URL_TTL = timedelta(minutes=5)
# A user delegation key, and so any SAS it signs, lives at most seven days.
MAX_SAS_LIFETIME = timedelta(days=7)
# SAS and key validity start this far back, so a server whose clock runs slightly
# behind ours does not refuse a URL that was just minted.
CLOCK_SKEW = timedelta(minutes=5)

_METADATA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _checked_metadata(metadata: Mapping[str, str], sha256: str) -> dict[str, str]:
    checked = {SHA256_METADATA_KEY: sha256}
    # Names are case-insensitive in Blob Storage: two spellings of one name would collide.
    taken = {SHA256_METADATA_KEY}
    for name, value in metadata.items():
        if not _METADATA_NAME.fullmatch(name):
            raise ValueError(f"blob metadata name {name!r} is not a C# identifier")
        if name.lower() in taken:
            raise ValueError(f"blob metadata name {name!r} is reserved or repeated")
        if not (value.isascii() and value.isprintable()):
            raise ValueError(f"blob metadata {name!r} must be printable ASCII")
        taken.add(name.lower())
        checked[name] = value
    return checked


@dataclass(frozen=True, slots=True)
class ReadGrant:
    """What a read SAS allows: reading one blob, between two instants (UTC)."""

    container: str
    blob: str
    start: datetime
    expiry: datetime
    https_only: bool


def _read_sas(
    account_name: str,
    grant: ReadGrant,
    *,
    account_key: str | None = None,
    user_delegation_key: UserDelegationKey | None = None,
) -> str:
    # "r" only: no signer can mint a SAS that writes, deletes or lists.
    return generate_blob_sas(
        account_name,
        grant.container,
        grant.blob,
        account_key=account_key,
        user_delegation_key=user_delegation_key,
        permission="r",
        start=grant.start,
        expiry=grant.expiry,
        protocol="https" if grant.https_only else "https,http",
    )


class SasSigner(Protocol):
    def sign_read(self, grant: ReadGrant) -> str:
        """A SAS token (the query string, without `?`) that allows exactly `grant`."""
        ...


class AccountKeySigner:
    """Signs with the storage account key: for Azurite only, where no Entra ID exists."""

    def __init__(self, account_name: str, account_key: str) -> None:
        self._account_name = account_name
        self._account_key = account_key

    def sign_read(self, grant: ReadGrant) -> str:
        return _read_sas(self._account_name, grant, account_key=self._account_key)


class UserDelegationSigner:
    """Signs with a user delegation key obtained through the client's Entra credential.

    The key is fetched once and reused for every SAS that ends before it does, so a
    busy instance asks Entra-backed storage for a key about once per `key_lifetime`
    instead of once per image. A SAS must end before the key that signs it, so a new
    key is fetched when the cached one would expire before the requested SAS does.
    """

    def __init__(
        self, service_client: BlobServiceClient, *, key_lifetime: timedelta = timedelta(hours=1)
    ) -> None:
        if not timedelta(0) < key_lifetime <= MAX_SAS_LIFETIME:
            raise ValueError(f"a user delegation key lives within (0, {MAX_SAS_LIFETIME}]")
        if not service_client.account_name:
            raise ValueError("the service client's URL does not name a storage account")
        self._service = service_client
        self._account_name: str = service_client.account_name
        self._key_lifetime = key_lifetime
        self._lock = threading.Lock()
        # The key with the validity window it was requested for.
        self._cached: tuple[UserDelegationKey, datetime, datetime] | None = None

    def _key_for(self, grant: ReadGrant) -> UserDelegationKey:
        with self._lock:
            if self._cached is not None:
                key, start, expiry = self._cached
                if start <= grant.start and grant.expiry <= expiry:
                    return key
            expiry = max(grant.start + self._key_lifetime, grant.expiry)
            key = self._service.get_user_delegation_key(grant.start, expiry)
            self._cached = (key, grant.start, expiry)
            return key

    def sign_read(self, grant: ReadGrant) -> str:
        return _read_sas(self._account_name, grant, user_delegation_key=self._key_for(grant))


def ensure_image_container(service_client: BlobServiceClient, name: str) -> ContainerClient:
    """The container for images, created private if absent; a public one is refused."""
    container = service_client.get_container_client(name)
    try:
        container.create_container()  # no public_access argument: private
    except ResourceExistsError:
        access = container.get_container_properties().public_access
        if access is not None:
            raise ValueError(
                f"container {name!r} allows anonymous {access} access; images must be private"
            ) from None
    return container


class BlobImageStore:
    def __init__(
        self,
        container: ContainerClient,
        signer: SasSigner,
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        """`container` must carry a credential that can write, not a SAS."""
        self._container = container
        self._signer = signer
        self._clock = clock

    def put(
        self, ref: str, data: bytes, content_type: str, metadata: Mapping[str, str]
    ) -> StoredImage:
        validate_ref(ref)
        stored = StoredImage(
            ref=ref,
            sha256=hashlib.sha256(data).hexdigest(),
            bytes=len(data),
            content_type=content_type,
        )
        settings = ContentSettings(
            content_type=content_type,
            content_md5=bytearray(hashlib.md5(data, usedforsecurity=False).digest()),
        )
        self._container.upload_blob(
            ref,
            data,
            overwrite=True,
            content_settings=settings,
            metadata=_checked_metadata(metadata, stored.sha256),
            validate_content=True,
        )
        return stored

    def get(self, ref: str) -> bytes:
        validate_ref(ref)
        try:
            return self._container.download_blob(ref).readall()
        except ResourceNotFoundError as error:
            # A missing container is a deployment fault, not a missing image. The SDK
            # sets `error_code` on storage errors; azure-core's type does not declare it.
            if getattr(error, "error_code", None) != StorageErrorCode.BLOB_NOT_FOUND:
                raise
            raise KeyError(ref) from error

    def delete(self, ref: str) -> bool:
        validate_ref(ref)
        try:
            self._container.delete_blob(ref, delete_snapshots="include")
        except ResourceNotFoundError as error:
            if getattr(error, "error_code", None) != StorageErrorCode.BLOB_NOT_FOUND:
                raise
            return False
        return True

    def read_url(self, ref: str, ttl: timedelta = DEFAULT_READ_URL_TTL) -> str:
        """A URL that lets anyone holding it read this one image, and only that, for `ttl`.

        The blob is not looked up: a URL for a ref that does not exist answers 404.
        """
        validate_ref(ref)
        if not timedelta(0) < ttl <= MAX_SAS_LIFETIME:
            raise ValueError(f"read URL lifetime must be within (0, {MAX_SAS_LIFETIME}]")
        blob_url = self._container.get_blob_client(ref).url
        now = self._clock()
        grant = ReadGrant(
            container=self._container.container_name,
            blob=ref,
            start=now - CLOCK_SKEW,
            expiry=now + ttl,
            https_only=blob_url.startswith("https://"),
        )
        return f"{blob_url}?{self._signer.sign_read(grant)}"
