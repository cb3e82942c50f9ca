"""The SubjectKeyRing port's contract, written once for every adapter.

Use it by subclassing in a `test_*.py` module and providing `open_ring`, which opens a
new instance on the one shared key store (as another process would):

    class TestKeyVaultKeyRing(SubjectKeyRingContract):
        @pytest.fixture
        def open_ring(self, ...) -> OpenRing: ...
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable

import pytest

from services.personal_data import open_text, seal_text
from services.ports import SubjectKeyRing

OpenRing = Callable[[], SubjectKeyRing]
KEY_BYTES = 32

# Identity providers issue ids of any alphabet; "a-b" and "ab" must never share a key.
AWKWARD_SUBJECTS = ["user/../../etc", "Zoë Ö'Brien <zoe@example.com>", "a-b", "ab", "x" * 300]


def unique_subject() -> str:
    return f"subject-{uuid.uuid4().hex[:12]}"


class SubjectKeyRingContract:
    @pytest.fixture
    def open_ring(self) -> OpenRing:
        raise NotImplementedError("an adapter's test class provides open_ring")

    @pytest.fixture
    def ring(self, open_ring: OpenRing) -> SubjectKeyRing:
        return open_ring()

    def test_a_key_is_created_once_and_kept(self, ring: SubjectKeyRing) -> None:
        alice, bob = unique_subject(), unique_subject()
        key = ring.key_for(alice)
        assert len(key) == KEY_BYTES
        assert ring.key_for(alice) == key
        assert ring.existing_key(alice) == key
        assert ring.key_for(bob) != key

    def test_keys_are_shared_by_every_instance(
        self, ring: SubjectKeyRing, open_ring: OpenRing
    ) -> None:
        subject = unique_subject()
        key = ring.key_for(subject)
        assert open_ring().existing_key(subject) == key
        assert open_ring().key_for(subject) == key

    def test_an_unknown_subject_has_no_key(self, ring: SubjectKeyRing) -> None:
        subject = unique_subject()
        assert ring.existing_key(subject) is None
        assert ring.destroy(subject) is False
        assert ring.existing_key(subject) is None

    def test_awkward_subject_ids_each_get_their_own_key(self, ring: SubjectKeyRing) -> None:
        keys = {subject: ring.key_for(subject) for subject in AWKWARD_SUBJECTS}
        assert len(set(keys.values())) == len(AWKWARD_SUBJECTS)
        assert all(ring.existing_key(s) == key for s, key in keys.items())
        for subject in AWKWARD_SUBJECTS:
            ring.destroy(subject)

    def test_destroy_erases_the_subject_and_their_sealed_text(
        self, ring: SubjectKeyRing, open_ring: OpenRing
    ) -> None:
        alice, bob = unique_subject(), unique_subject()
        sealed = seal_text(ring, alice, "a portrait of my grandmother Edith")
        kept = seal_text(ring, bob, "a lighthouse at dawn")
        assert open_text(ring, sealed) == "a portrait of my grandmother Edith"

        assert ring.destroy(alice) is True
        assert ring.existing_key(alice) is None
        assert open_text(ring, sealed) is None
        assert open_text(open_ring(), sealed) is None
        assert open_text(ring, kept) == "a lighthouse at dawn"
        assert ring.destroy(alice) is False

    def test_a_new_key_after_erasure_is_a_different_key(self, ring: SubjectKeyRing) -> None:
        subject = unique_subject()
        old_key = ring.key_for(subject)
        ring.destroy(subject)
        new_key = ring.key_for(subject)
        assert new_key != old_key
        assert ring.existing_key(subject) == new_key

    def test_another_instance_never_serves_a_destroyed_key(
        self, ring: SubjectKeyRing, open_ring: OpenRing
    ) -> None:
        subject = unique_subject()
        ring.key_for(subject)
        assert ring.existing_key(subject) is not None  # now cached, where an adapter caches
        assert open_ring().destroy(subject) is True
        assert ring.existing_key(subject) is None

    def test_threads_racing_for_one_subject_get_one_key(self, ring: SubjectKeyRing) -> None:
        subject = unique_subject()
        start = threading.Barrier(8)
        keys: list[bytes] = []
        errors: list[BaseException] = []

        def race() -> None:
            try:
                start.wait(timeout=30)
                keys.append(ring.key_for(subject))
            except BaseException as error:  # surfaced below, in the test's thread
                errors.append(error)

        threads = [threading.Thread(target=race) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert len(keys) == 8
        assert len(set(keys)) == 1
        assert ring.existing_key(subject) == keys[0]
