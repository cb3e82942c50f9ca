"""Every writer of the data folder makes its folders 0700 and its files 0600 itself,
whatever the process's umask: here the most permissive one, 000."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import pytest

from adapters.dev_issuer import DevIssuer
from adapters.fs_image_store import FsImageStore
from adapters.fs_seal_store import FsSealStore
from adapters.local_keyring import LocalKeyRing
from adapters.private_files import owner_only_file, private_folder
from adapters.sqlite_event_store import SqliteEventStore
from adapters.sqlite_queue import SqliteQueue
from adapters.sqlite_views import SqliteViewStore
from domain.envelope import SYSTEM_ACTOR, NewEvent
from services.ports import OutgoingMessage


@pytest.fixture
def open_umask() -> Iterator[None]:
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def open_to_others(root: Path) -> list[str]:
    return [
        f"{oct(stat.S_IMODE(p.lstat().st_mode))} {p.relative_to(root.parent)}"
        for p in [root, *root.rglob("*")]
        if stat.S_IMODE(p.lstat().st_mode) & 0o077
    ]


@pytest.mark.usefixtures("open_umask")
def test_the_helpers_make_every_level_owner_only(tmp_path: Path) -> None:
    deep = private_folder(tmp_path / "a" / "b" / "c")
    owner_only_file(deep / "file.db")
    assert open_to_others(tmp_path / "a") == []
    assert stat.S_IMODE((deep / "file.db").stat().st_mode) == 0o600


@pytest.mark.usefixtures("open_umask")
def test_every_local_writer_keeps_its_files_to_the_owner(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store = SqliteEventStore(private_folder(data) / "events.db")
    note = NewEvent(type="Noted", data={"n": 1}, actor=SYSTEM_ACTOR, correlation_id=uuid4())
    store.append("notes-1", 0, [note])
    SqliteViewStore(data / "views.db").positions(["budget"])
    SqliteQueue(data / "queue.db", "jobs").send(OutgoingMessage(message_id="m-1", body=b"{}"))
    FsImageStore(data / "images").put("research/2026/12/x.png", b"\x89PNG", "image/png", {})
    FsSealStore(data / "seals").add(1, "{}")
    LocalKeyRing(data / "subject-keys.json").key_for("erin")
    DevIssuer(data / "dev-signing-key.pem").mint("alice", ["Generator.Standard"], "research")
    names = {p.name for p in data.rglob("*")}
    assert {"events.db-wal", "events.db-shm", "views.db-wal", "queue.db-wal"} <= names, names
    assert open_to_others(data) == []
