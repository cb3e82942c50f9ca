"""Seals in Azure Blob Storage: container `seals`, one create-only blob per seal.

Blob names are the folder store's file names (`000000000001.json`), so both list in
number order. Every upload is conditional on `If-None-Match: *` (the SDK's
`overwrite=False`): the service refuses to replace a blob that exists, so the platform
itself can never overwrite a seal.

Tamper-proofing against everyone else is the container's job, and so infra's: a
time-based immutability policy of seven years (locked) on the `seals` container, set by
the deployment, not by this code. The app's identity needs only create and read.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from azure.core.exceptions import ResourceExistsError, ResourceModifiedError
from azure.storage.blob import ContainerClient, ContentSettings

from adapters.numbered_seals import NumberedSeals, seal_name
from services.seals import SealExists

SEAL_CONTAINER = "seals"


class BlobSealStore(NumberedSeals):
    def __init__(self, container: ContainerClient) -> None:
        self._container = container

    def add(self, number: int, text: str) -> None:
        try:
            self._container.upload_blob(
                seal_name(number),
                text.encode("utf-8"),
                overwrite=False,  # sent as `If-None-Match: *`: the service refuses to replace
                content_settings=ContentSettings(content_type="application/json"),
            )
        except (ResourceExistsError, ResourceModifiedError) as error:
            raise SealExists(number) from error

    def _names(self) -> Iterator[str]:
        return (blob.name for blob in self._container.list_blobs())

    def _text(self, number: int) -> str:
        data = self._container.download_blob(seal_name(number)).readall()
        return data.decode("utf-8", errors="replace")


def ensure_seal_container(container: ContainerClient) -> ContainerClient:
    """The seal container, created private if absent (its retention policy is infra's)."""
    with contextlib.suppress(ResourceExistsError):
        container.create_container()
    return container
