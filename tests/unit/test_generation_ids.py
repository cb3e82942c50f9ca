"""Generation ids from an Idempotency-Key: stable for a key, unpredictable without the
platform's key, which comes from the secret port or, on the embedded default, the data
folder."""

from __future__ import annotations

import json
from pathlib import Path
from uuid import UUID

import pytest

from bootstrap import platform_key
from services.generations import GENERATION_ID_KEY_SECRET, keyed_generation_id
from services.settings import Settings

KEY = b"k" * 32


def test_the_same_user_and_key_name_the_same_generation() -> None:
    first = keyed_generation_id(KEY, "dora", "retry-1")
    assert first == keyed_generation_id(KEY, "dora", "retry-1")
    assert isinstance(first, UUID)
    assert first.version == 4  # as random-looking as any other id


def test_another_user_key_or_platform_key_names_another() -> None:
    ids = {
        keyed_generation_id(KEY, "dora", "retry-1"),
        keyed_generation_id(KEY, "erin", "retry-1"),
        keyed_generation_id(KEY, "dora", "retry-2"),
        keyed_generation_id(b"j" * 32, "dora", "retry-1"),
        # The pair is encoded unambiguously: no user/key split collides with another.
        keyed_generation_id(KEY, "dora\nretry", "1"),
        keyed_generation_id(KEY, "dora", "retry\n1"),
    }
    assert len(ids) == 6


def test_the_embedded_default_makes_the_key_once_in_the_data_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DONATELLO_SECRET_GENERATION_ID_KEY", raising=False)
    config = Settings(data_dir=tmp_path)
    key = platform_key(config, GENERATION_ID_KEY_SECRET)()
    assert len(key) == 32
    assert platform_key(config, GENERATION_ID_KEY_SECRET)() == key  # another process, same key
    keys = tmp_path / "platform-keys.json"
    assert GENERATION_ID_KEY_SECRET in json.loads(keys.read_text())["keys"]
    assert keys.stat().st_mode & 0o777 == 0o600


def test_a_secret_from_the_secret_port_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # DONATELLO_SECRET_* is the embedded twin of Key Vault, read through the same port.
    monkeypatch.setenv("DONATELLO_SECRET_GENERATION_ID_KEY", "from-the-vault")
    key = platform_key(Settings(data_dir=tmp_path), GENERATION_ID_KEY_SECRET)()
    assert key == b"from-the-vault"
    assert not (tmp_path / "platform-keys.json").exists()
