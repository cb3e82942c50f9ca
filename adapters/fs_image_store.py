"""The image store on a local folder: the embedded default's twin of Blob Storage.

Layout: `root/{ref}` holds the image and `root/{ref}.meta.json` its sidecar (content
type, SHA-256, size and the caller's metadata), e.g.
`root/marketing/2026/11/0b6f3c1e-....png` and `...png.meta.json`.

Both files are written to a temporary file in the same folder and moved into place
with `os.replace`, so a reader or a crash never sees half an image. Putting a ref
again overwrites it: with the same bytes that is harmless, and a retried generation
that re-renders different bytes must replace the first attempt, because the event
that records the image (and its SHA-256) is appended only after the put succeeds.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from adapters.private_files import private_folder
from services.ports import StoredImage

SIDECAR_SUFFIX = ".meta.json"


def validate_ref(ref: str) -> PurePosixPath:
    """A relative POSIX path of plain names; anything that could escape the root is refused."""
    if not ref or "\\" in ref or "\x00" in ref or ref.startswith("/"):
        raise ValueError(f"invalid image ref {ref!r}")
    parts = ref.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise ValueError(f"invalid image ref {ref!r}")
    if ref.endswith(SIDECAR_SUFFIX):
        raise ValueError(f"image ref {ref!r} would collide with a metadata sidecar")
    return PurePosixPath(*parts)


def _write_atomically(target: Path, data: bytes) -> None:
    descriptor, temp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(descriptor, "wb") as temp:
            temp.write(data)
            temp.flush()
            os.fsync(temp.fileno())
        os.replace(temp_name, target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def _fsync_directory(directory: Path) -> None:
    # Makes the rename itself durable, not just the file's contents.
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class FsImageStore:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def _path(self, ref: str) -> Path:
        path = self.root.joinpath(validate_ref(ref))
        # A symlinked folder inside the root could still point outside it.
        if not path.resolve().is_relative_to(self.root):
            raise ValueError(f"image ref {ref!r} resolves outside the store")
        return path

    def put(
        self, ref: str, data: bytes, content_type: str, metadata: Mapping[str, str]
    ) -> StoredImage:
        path = self._path(ref)
        private_folder(path.parent)
        stored = StoredImage(
            ref=ref,
            sha256=hashlib.sha256(data).hexdigest(),
            bytes=len(data),
            content_type=content_type,
        )
        sidecar = {
            "content_type": content_type,
            "sha256": stored.sha256,
            "bytes": stored.bytes,
            "metadata": dict(metadata),
        }
        _write_atomically(path, data)
        _write_atomically(
            path.with_name(path.name + SIDECAR_SUFFIX),
            json.dumps(sidecar, sort_keys=True, indent=2).encode("utf-8"),
        )
        _fsync_directory(path.parent)
        return stored

    def get(self, ref: str) -> bytes:
        try:
            return self._path(ref).read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError) as error:
            raise KeyError(ref) from error

    def delete(self, ref: str) -> bool:
        path = self._path(ref)
        path.with_name(path.name + SIDECAR_SUFFIX).unlink(missing_ok=True)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        _fsync_directory(path.parent)
        return True

    def metadata(self, ref: str) -> dict[str, str]:
        """The metadata given at `put`, from the sidecar. Raises KeyError when absent."""
        path = self._path(ref)
        try:
            sidecar = json.loads(path.with_name(path.name + SIDECAR_SUFFIX).read_bytes())
        except FileNotFoundError as error:
            raise KeyError(ref) from error
        return {str(key): str(value) for key, value in sidecar["metadata"].items()}
