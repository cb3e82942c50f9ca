"""The embedded platform's data folder is its owner's alone: started on a folder that does
not exist yet and taken through a generation, nothing in it (the SQLite files and their
-wal/-shm/-journal companions, images, keys, seals) is open to the group or to others."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.platform_process import RunningPlatform, platform_env

DEPARTMENT = "research"


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[RunningPlatform]:
    data_dir = tmp_path / "not-yet" / "data"  # the platform makes it
    running = RunningPlatform(data_dir, platform_env(data_dir), log_path=tmp_path / "serve.log")
    running.start()
    try:
        yield running
    finally:
        running.stop()


def open_to_others(root: Path) -> list[str]:
    """Every path under `root` (itself included) with a group or world permission bit."""
    loose = []
    for path in [root, *root.rglob("*")]:
        mode = path.lstat().st_mode
        if stat.S_IMODE(mode) & 0o077:
            loose.append(f"{oct(stat.S_IMODE(mode))} {path.relative_to(root.parent)}")
    return loose


def test_nothing_in_the_data_folder_is_open_to_others(fresh: RunningPlatform) -> None:
    token = fresh.token("alice", ["Generator.Standard"], DEPARTMENT)
    with fresh.client(token) as alice:
        accepted = alice.post("/api/v1/generations", json={"prompt": "a lighthouse at dawn"})
        assert accepted.status_code == 202, accepted.text
        done = fresh.wait_terminal(alice, accepted.json()["id"])
        assert done["status"] == "charged", done
        assert alice.get(f"/api/v1/generations/{done['id']}/image").status_code == 200
    # A command run beside the server writes into the same folder (an export, a rebuild).
    rebuild = fresh.command("projections", "rebuild", "--dry-run")
    assert rebuild.returncode == 0, rebuild.stderr[-2000:]

    files = {p.name for p in fresh.data_dir.rglob("*") if p.is_file()}
    # The walk below must see what it is about: the databases with their WAL files, an image.
    assert {"events.db", "events.db-wal", "views.db", "queue.db"} <= files, files
    assert any(p.suffix == ".png" for p in fresh.data_dir.rglob("*")), files
    assert open_to_others(fresh.data_dir) == []
    fresh.stop()  # what a clean stop leaves behind too
    assert open_to_others(fresh.data_dir) == []
