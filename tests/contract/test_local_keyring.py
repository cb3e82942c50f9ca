"""LocalKeyRing: the SubjectKeyRing contract, plus a private file shared by processes."""

from __future__ import annotations

import multiprocessing
import stat
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest

from adapters.local_keyring import LocalKeyRing
from tests.contract.subject_keyring_contract import OpenRing, SubjectKeyRingContract

SPAWN = multiprocessing.get_context("spawn")
PROCESSES = 6


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "keys" / "subject-keys.json"


class TestLocalKeyRing(SubjectKeyRingContract):
    @pytest.fixture
    def open_ring(self, path: Path) -> OpenRing:
        return lambda: LocalKeyRing(path)


def test_asking_about_an_unknown_subject_creates_no_file(path: Path) -> None:
    ring = LocalKeyRing(path)
    assert ring.existing_key("nobody") is None
    assert ring.destroy("nobody") is False
    assert not path.exists()


def test_the_key_file_is_private(path: Path) -> None:
    LocalKeyRing(path).key_for("alice")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.with_name(path.name + ".lock").stat().st_mode) == 0o600


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
