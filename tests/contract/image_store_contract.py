"""The ImageStore port's contract, written once for every adapter.

Use it by subclassing in a `test_*.py` module and providing a `store` fixture that
returns a fresh, empty store:

    class TestBlobImageStore(ImageStoreContract):
        @pytest.fixture
        def store(self, azurite: ...) -> ImageStore:
            return BlobImageStore(...)
"""

from __future__ import annotations

import hashlib
import os
import threading

import pytest

from services.ports import ImageStore, StoredImage

PNG = "image/png"
REF = "marketing/2026/11/0b6f3c1e-4d2a-4c39-9a51-2f0c8d1e7a44.png"
OTHER_REF = "marketing/2026/11/5e1d7b2a-0c4f-4a8e-b3d6-9f2a1c0e8b57.png"
METADATA = {"generation_id": "0b6f3c1e-4d2a-4c39-9a51-2f0c8d1e7a44", "model_id": "local"}

INVALID_REFS = [
    "",
    "/etc/passwd",
    "../outside.png",
    "marketing/../../outside.png",
    "marketing/./2026/x.png",
    "marketing//x.png",
    "marketing\\2026\\x.png",
    "..\\outside.png",
    "marketing/",
]


def _image(seed: str, size: int = 4096) -> bytes:
    # Every byte value appears, so an adapter that mangles binary data fails.
    block = bytes(range(256)) + hashlib.sha256(seed.encode()).digest()
    return b"\x89PNG\r\n\x1a\n" + (block * (size // len(block) + 1))[:size]


class ImageStoreContract:
    @pytest.fixture
    def store(self) -> ImageStore:
        raise NotImplementedError("an adapter's test class provides the store")

    def test_put_then_get_returns_the_same_bytes(self, store: ImageStore) -> None:
        data = _image("a")
        stored = store.put(REF, data, PNG, METADATA)
        assert stored == StoredImage(
            ref=REF, sha256=hashlib.sha256(data).hexdigest(), bytes=len(data), content_type=PNG
        )
        assert store.get(REF) == data

    def test_get_of_an_unknown_ref_raises_key_error(self, store: ImageStore) -> None:
        with pytest.raises(KeyError):
            store.get(REF)

    def test_a_deleted_image_is_gone_and_deleting_again_is_harmless(
        self, store: ImageStore
    ) -> None:
        store.put(REF, _image("gone"), PNG, METADATA)
        store.put(OTHER_REF, _image("kept"), PNG, METADATA)
        assert store.delete(REF) is True
        assert store.delete(REF) is False
        with pytest.raises(KeyError):
            store.get(REF)
        assert store.get(OTHER_REF) == _image("kept")

    def test_a_folder_prefix_is_not_an_image(self, store: ImageStore) -> None:
        store.put(REF, _image("a"), PNG, METADATA)
        with pytest.raises(KeyError):
            store.get("marketing/2026")

    def test_putting_the_same_bytes_twice_is_harmless(self, store: ImageStore) -> None:
        data = _image("a")
        first = store.put(REF, data, PNG, METADATA)
        second = store.put(REF, data, PNG, METADATA)
        assert first == second
        assert store.get(REF) == data

    def test_putting_different_bytes_replaces_the_image(self, store: ImageStore) -> None:
        store.put(REF, _image("first attempt"), PNG, METADATA)
        retried = _image("re-rendered")
        stored = store.put(REF, retried, PNG, METADATA)
        assert stored.sha256 == hashlib.sha256(retried).hexdigest()
        assert store.get(REF) == retried

    def test_refs_are_independent(self, store: ImageStore) -> None:
        other = "finance/2026/12/7d1e2f3a-0000-4000-8000-000000000001.png"
        store.put(REF, _image("a"), PNG, METADATA)
        store.put(other, _image("b"), PNG, {})
        assert store.get(REF) == _image("a")
        assert store.get(other) == _image("b")

    def test_a_large_image_round_trips(self, store: ImageStore) -> None:
        data = os.urandom(3 * 1024 * 1024)
        assert store.put(REF, data, PNG, METADATA).bytes == len(data)
        assert store.get(REF) == data

    @pytest.mark.parametrize("ref", INVALID_REFS)
    def test_refs_that_could_escape_are_refused(self, store: ImageStore, ref: str) -> None:
        with pytest.raises(ValueError):
            store.put(ref, _image("a"), PNG, METADATA)
        with pytest.raises(ValueError):
            store.get(ref)

    def test_concurrent_puts_leave_one_whole_image(self, store: ImageStore) -> None:
        payloads = [_image(str(n), size=512 * 1024) for n in range(4)]
        errors: list[BaseException] = []

        def put(data: bytes) -> None:
            try:
                for _ in range(5):
                    store.put(REF, data, PNG, METADATA)
            except BaseException as error:  # surfaced below, in the test's thread
                errors.append(error)

        threads = [threading.Thread(target=put, args=(data,)) for data in payloads]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert store.get(REF) in payloads
