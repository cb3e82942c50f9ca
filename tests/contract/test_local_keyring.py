"""LocalKeyRing: persistent, private, erasable subject keys shared by processes."""

from __future__ import annotations

import multiprocessing
import stat
import threading
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest

from adapters.local_keyring import KEY_BYTES, LocalKeyRing
from services.personal_data import open_text, seal_text
from services.ports import SubjectKeyRing

SPAWN = multiprocessing.get_context("spawn")
PROCESSES = 6


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "keys" / "subject-keys.json"


def test_is_a_subject_key_ring(path: Path) -> None:
    ring: SubjectKeyRing = LocalKeyRing(path)
    assert len(ring.key_for("alice")) == KEY_BYTES


def test_a_key_is_created_once_and_kept(path: Path) -> None:
    ring = LocalKeyRing(path)
    key = ring.key_for("alice")
    assert ring.key_for("alice") == key
    assert ring.existing_key("alice") == key
    assert ring.key_for("bob") != key


def test_keys_persist_across_instances(path: Path) -> None:
    key = LocalKeyRing(path).key_for("alice")
    assert LocalKeyRing(path).existing_key("alice") == key
    assert LocalKeyRing(path).key_for("alice") == key


def test_an_unknown_subject_has_no_key_and_creates_nothing(path: Path) -> None:
    ring = LocalKeyRing(path)
    assert ring.existing_key("nobody") is None
    assert not path.exists()
    assert ring.destroy("nobody") is False


def test_the_key_file_is_private(path: Path) -> None:
    LocalKeyRing(path).key_for("alice")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.with_name(path.name + ".lock").stat().st_mode) == 0o600


def test_destroy_erases_the_subject_and_their_sealed_text(path: Path) -> None:
    ring = LocalKeyRing(path)
    sealed = seal_text(ring, "alice", "a portrait of my grandmother Edith")
    kept = seal_text(ring, "bob", "a lighthouse at dawn")
    assert open_text(ring, sealed) == "a portrait of my grandmother Edith"

    assert ring.destroy("alice") is True
    assert ring.existing_key("alice") is None
    assert open_text(ring, sealed) is None
    assert open_text(LocalKeyRing(path), sealed) is None
    assert open_text(ring, kept) == "a lighthouse at dawn"
    assert ring.destroy("alice") is False


def test_a_new_key_after_erasure_does_not_reopen_old_text(path: Path) -> None:
    ring = LocalKeyRing(path)
    old_key = ring.key_for("alice")
    ring.destroy("alice")
    assert ring.key_for("alice") != old_key


def test_another_instance_never_serves_a_destroyed_key_from_cache(path: Path) -> None:
    reader, eraser = LocalKeyRing(path), LocalKeyRing(path)
    reader.key_for("alice")
    assert reader.existing_key("alice") is not None  # now cached
    eraser.destroy("alice")
    assert reader.existing_key("alice") is None


def _destroy_in_child(path: Path, subject_id: str) -> None:
    LocalKeyRing(path).destroy(subject_id)


def test_erasure_by_another_process_is_seen(path: Path) -> None:
    ring = LocalKeyRing(path)
    ring.key_for("alice")
    assert ring.existing_key("alice") is not None
    child = SPAWN.Process(target=_destroy_in_child, args=(path, "alice"))
    child.start()
    child.join(timeout=60)
    assert child.exitcode == 0
    assert ring.existing_key("alice") is None


def _race_for_keys(
    path: Path, worker: int, barrier: Barrier, results: multiprocessing.Queue[tuple[int, bytes]]
) -> None:
    ring = LocalKeyRing(path)
    barrier.wait(timeout=60)
    shared = ring.key_for("shared-subject")
    ring.key_for(f"own-subject-{worker}")
    results.put((worker, shared))


def test_processes_racing_for_one_subject_get_one_key(path: Path) -> None:
    barrier = SPAWN.Barrier(PROCESSES)
    results: multiprocessing.Queue[tuple[int, bytes]] = SPAWN.Queue()
    workers = [
        SPAWN.Process(target=_race_for_keys, args=(path, n, barrier, results))
        for n in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    answers = dict(results.get(timeout=60) for _ in workers)
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0

    assert sorted(answers) == list(range(PROCESSES))
    assert len(set(answers.values())) == 1
    final = LocalKeyRing(path)
    assert final.existing_key("shared-subject") == answers[0]
    # No read-modify-write lost another process's new subject.
    for n in range(PROCESSES):
        assert final.existing_key(f"own-subject-{n}") is not None


def test_threads_racing_for_one_subject_get_one_key(path: Path) -> None:
    ring = LocalKeyRing(path)
    start = threading.Barrier(8)
    keys: list[bytes] = []

    def race() -> None:
        start.wait(timeout=30)
        keys.append(ring.key_for("shared-subject"))

    threads = [threading.Thread(target=race) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(keys) == 8
    assert len(set(keys)) == 1
