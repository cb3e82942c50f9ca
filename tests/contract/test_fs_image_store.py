"""FsImageStore: the ImageStore contract, plus what only a folder on disk can get wrong."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from adapters.fs_image_store import FsImageStore
from tests.contract.image_store_contract import METADATA, PNG, REF, ImageStoreContract


class TestFsImageStore(ImageStoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> FsImageStore:
        return FsImageStore(tmp_path / "images")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "images"


def test_lays_out_the_image_and_its_sidecar_under_the_ref(root: Path) -> None:
    store = FsImageStore(root)
    stored = store.put(REF, b"\x89PNG pixels", PNG, METADATA)
    assert (root / REF).read_bytes() == b"\x89PNG pixels"
    sidecar = json.loads((root / f"{REF}.meta.json").read_text("utf-8"))
    assert sidecar == {
        "content_type": PNG,
        "sha256": stored.sha256,
        "bytes": stored.bytes,
        "metadata": METADATA,
    }
    assert store.metadata(REF) == METADATA
    assert stat.S_IMODE((root / REF).stat().st_mode) == 0o600  # the owner's alone


def test_leaves_no_temporary_files(root: Path) -> None:
    store = FsImageStore(root)
    store.put(REF, b"one", PNG, METADATA)
    store.put(REF, b"two", PNG, METADATA)
    names = sorted(p.name for p in (root / REF).parent.iterdir())
    assert names == [Path(REF).name, f"{Path(REF).name}.meta.json"]


def test_a_write_that_fails_midway_keeps_the_previous_image(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FsImageStore(root)
    store.put(REF, b"first render", PNG, METADATA)

    def disk_failure(_descriptor: int) -> None:
        raise OSError("simulated I/O error before the rename")

    monkeypatch.setattr(os, "fsync", disk_failure)
    with pytest.raises(OSError, match="simulated"):
        store.put(REF, b"second render, never completed", PNG, METADATA)
    monkeypatch.undo()

    assert store.get(REF) == b"first render"
    assert [p.name for p in (root / REF).parent.iterdir() if p.name.startswith(".")] == []


def test_a_symlink_inside_the_root_cannot_lead_outside(root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    root.mkdir()
    (root / "marketing").symlink_to(outside, target_is_directory=True)
    store = FsImageStore(root)
    with pytest.raises(ValueError):
        store.put(REF, b"data", PNG, METADATA)
    assert list(outside.iterdir()) == []


def test_a_sidecar_name_is_not_a_valid_ref(root: Path) -> None:
    store = FsImageStore(root)
    store.put(REF, b"data", PNG, METADATA)
    with pytest.raises(ValueError):
        store.get(f"{REF}.meta.json")


def test_images_survive_a_new_store_instance(root: Path) -> None:
    FsImageStore(root).put(REF, b"persisted", PNG, METADATA)
    assert FsImageStore(root).get(REF) == b"persisted"


def test_metadata_of_an_unknown_ref_raises_key_error(root: Path) -> None:
    with pytest.raises(KeyError):
        FsImageStore(root).metadata(REF)
