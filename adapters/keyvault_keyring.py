"""Per-subject data keys in Azure Key Vault: one secret per subject.

The secret is named `subject-key-<sha256 of the subject id>`: subject ids are whatever
the identity provider issues, of any alphabet, and a vault's secret names are listed to
anyone who may read them, so they carry no identifier in the clear. Its value is the
base64 key.

Erasure deletes the secret and then purges it: deleting alone leaves it recoverable for
the vault's retention days, which is not erasure. A crash between the two is completed
by the retry, which finds the secret deleted and purges it. The vault must allow purge
(no purge protection on this vault, and the app's identity holds `purge` on secrets);
infra keeps the subject keys in a vault of their own for that reason, apart from the
provider keys, which want purge protection.

Key Vault cannot create a secret only if it is absent, so two instances minting the
first key of one subject at once each add a version (threads of one instance take turns
under a lock). Every reader takes the earliest version (by creation time, then version
id) as the key, so they settle on one key once both writes are visible. The window left
(Key Vault's creation times are whole seconds: two versions created in the same second,
one read and used before the other exists) closes for good when sealed text names the
key version it was sealed under.

Keys are never cached: each use asks the vault, so an erasure by any instance holds at
once everywhere. Only the chosen version id is remembered, since it cannot change.
"""

from __future__ import annotations

import base64
import hashlib
import os
import threading

from azure.core.exceptions import ResourceNotFoundError
from azure.keyvault.secrets import SecretClient, SecretProperties

KEY_BYTES = 32
NAME_PREFIX = "subject-key-"
CONTENT_TYPE = "application/octet-stream;base64"


def secret_name(subject_id: str) -> str:
    return NAME_PREFIX + hashlib.sha256(subject_id.encode("utf-8")).hexdigest()


class KeyVaultKeyRing:
    """Implements `services.ports.SubjectKeyRing` on a Key Vault `SecretClient`."""

    def __init__(self, client: SecretClient, *, polling_interval: float = 1.0) -> None:
        self._client = client
        self._polling_interval = polling_interval
        self._lock = threading.Lock()
        self._minting = threading.Lock()
        self._versions: dict[str, str] = {}

    def key_for(self, subject_id: str) -> bytes:
        """The subject's key, created on first use."""
        key = self.existing_key(subject_id)
        if key is not None:
            return key
        name = secret_name(subject_id)
        with self._minting:  # this instance's threads mint one key between them
            key = self.existing_key(subject_id)
            if key is not None:
                return key
            encoded = base64.b64encode(os.urandom(KEY_BYTES)).decode("ascii")
            self._client.set_secret(name, encoded, content_type=CONTENT_TYPE)
            key = self.existing_key(subject_id)
        if key is None:
            raise RuntimeError(f"the key {name} was erased while it was being created")
        return key

    def existing_key(self, subject_id: str) -> bytes | None:
        """The subject's key, or None if it never existed or was destroyed."""
        name = secret_name(subject_id)
        with self._lock:
            version = self._versions.get(name)
        if version is not None:
            key = self._read(name, version)
            if key is not None:
                return key
        version = self._earliest_version(name)
        if version is None:
            return None
        key = self._read(name, version)
        if key is not None:
            with self._lock:
                self._versions[name] = version
        return key

    def destroy(self, subject_id: str) -> bool:
        """Delete and purge the subject's key; False when there was none."""
        name = secret_name(subject_id)
        with self._lock:
            self._versions.pop(name, None)
        try:
            poller = self._client.begin_delete_secret(
                name, _polling_interval=self._polling_interval
            )
            poller.wait()  # purge is refused until the deletion has completed
        except ResourceNotFoundError:
            pass  # never created, or deleted by an erasure that stopped before the purge
        try:
            self._client.purge_deleted_secret(name)
        except ResourceNotFoundError:
            return False
        return True

    def _earliest_version(self, name: str) -> str | None:
        try:
            versions = list(self._client.list_properties_of_secret_versions(name))
        except ResourceNotFoundError:
            return None
        enabled = [v for v in versions if v.enabled is not False and v.version is not None]
        if not enabled:
            return None
        return min(enabled, key=_creation_order).version

    def _read(self, name: str, version: str) -> bytes | None:
        try:
            secret = self._client.get_secret(name, version)
        except ResourceNotFoundError:
            with self._lock:
                self._versions.pop(name, None)
            return None
        if secret.value is None:
            return None
        return base64.b64decode(secret.value)


def _creation_order(version: SecretProperties) -> tuple[float, str]:
    created = version.created_on
    return (created.timestamp() if created else float("inf"), version.version or "")
