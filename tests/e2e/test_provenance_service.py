"""Content Credentials end to end: what the pipeline stores is signed, the log holds its
SHA-256, and verify tells an authentic image from every kind of fake.

Images are read with `c2pa.Reader` only (tests/content_credentials.py); the log is
tampered with in its SQLite file, as an attacker with the disk would.
"""

from __future__ import annotations

import hashlib
import io
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from PIL import Image

from adapters.providers.local import LocalProvider
from bootstrap import build_platform
from domain.generation import Generation, Status
from domain.streams import generation_stream
from services.context import Platform
from services.generations import GenerationRequest, submit_generation
from services.pipeline import advance_generation
from services.ports import CredentialClaim, ImageRequest
from services.provenance import Verdict, verify_image
from services.settings import Settings
from tests.content_credentials import (
    TRAINED,
    platform_anchor,
    read_credentials,
    swap_manifest,
    with_provider_credentials,
)
from tests.e2e.test_audit_tamper import forge_in_place
from tests.e2e.test_pipeline_service import REQUESTER

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def platform(tmp_path: Path) -> Platform:
    return build_platform(Settings(data_dir=tmp_path, provider_backoff_seconds=(0.0,)))


def _generate(platform: Platform, prompt: str = "a lighthouse at dawn") -> tuple[Generation, bytes]:
    submitted = submit_generation(platform, REQUESTER, GenerationRequest(prompt=prompt), None)
    state = advance_generation(platform, submitted.generation_id)
    assert state.status is Status.CHARGED, state.reason
    assert state.image is not None
    return state, platform.images.get(state.image.image_ref)


def _image_event_prev_hash(platform: Platform, generation_id: UUID) -> str:
    events = platform.store.read_stream(generation_stream(generation_id))
    (image,) = [e for e in events if e.type == "ImageGenerated"]
    return image.prev_hash


def test_the_stored_image_is_signed_and_linked_to_the_log_both_ways(
    platform: Platform, tmp_path: Path
) -> None:
    state, data = _generate(platform)
    assert state.image is not None
    # The log holds the SHA-256 of the exact bytes served...
    assert state.image.sha256 == hashlib.sha256(data).hexdigest()
    assert state.image.content_type == "image/png"
    assert state.image.provider_credential == "absent"  # the local provider signs nothing
    # ...and the manifest names the generation and the head its image event follows.
    read = read_credentials(data, "image/png", platform_anchor(tmp_path))
    assert read.state == "Trusted"
    (action,) = read.actions()
    assert action["action"] == "c2pa.created"
    assert action["digitalSourceType"] == TRAINED
    assert state.routed is not None
    assert action["softwareAgent"] == {"name": state.routed.model_id}
    ours = read.assertion("ai.donatello.generation")
    assert ours["generation_id"] == str(state.requested.generation_id)
    assert ours["department_id"] == "marketing"
    assert ours["log_anchor"] == _image_event_prev_hash(platform, state.requested.generation_id)
    assert b"lighthouse" not in data
    assert b"alice" not in data

    report = verify_image(platform, data)
    assert report.verdict is Verdict.AUTHENTIC, report.reasons
    assert report.log is not None
    assert report.log.agrees


def test_one_pixel_changed_is_tampered(platform: Platform) -> None:
    _, data = _generate(platform)
    image = Image.open(io.BytesIO(data))
    image.putpixel((10, 10), (image.getpixel((10, 10)) + 1) % 256)  # type: ignore[operator]
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")  # Pillow drops the manifest; the forger puts it back
    report = verify_image(platform, swap_manifest(buffer.getvalue(), donor=data))
    assert report.verdict is Verdict.TAMPERED
    assert "assertion.dataHash.mismatch" in report.reasons


def test_a_manifest_pasted_from_another_generation_is_caught(platform: Platform) -> None:
    _, first = _generate(platform, "a lighthouse at dawn")
    _, second = _generate(platform, "a harbour at night")
    pasted = swap_manifest(first, donor=second)
    report = verify_image(platform, pasted)
    assert report.verdict is Verdict.TAMPERED
    assert not report.ok


def test_an_image_from_outside_has_no_credentials_or_is_not_ours(platform: Platform) -> None:
    buffer = io.BytesIO()
    Image.effect_noise((64, 64), 30).convert("RGB").save(buffer, format="PNG")
    assert verify_image(platform, buffer.getvalue()).verdict is Verdict.NO_CREDENTIALS
    signed_elsewhere = with_provider_credentials(buffer.getvalue(), "image/png")
    assert verify_image(platform, signed_elsewhere).verdict is Verdict.NOT_OURS


@pytest.mark.parametrize("forgery", ["rewritten", "forged_with_its_hash"])
def test_an_image_whose_log_was_tampered_with_is_refused(
    platform: Platform, tmp_path: Path, forgery: str
) -> None:
    state, data = _generate(platform)
    stream = generation_stream(state.requested.generation_id)
    version = next(
        e.version for e in platform.store.read_stream(stream) if e.type == "ImageGenerated"
    )
    db = sqlite3.connect(tmp_path / "events.db", isolation_level=None)
    db.row_factory = sqlite3.Row
    db.execute("DROP TRIGGER events_are_never_updated")
    db.execute("DROP TRIGGER events_are_never_deleted")
    if forgery == "rewritten":
        db.execute(
            "UPDATE events SET data = replace(data, '\"bytes\":', '\"bytes\":1')"
            " WHERE stream_id = ? AND version = ?",
            (stream, version),
        )
    else:
        forge_in_place(db, stream, version)
    db.close()

    report = verify_image(platform, data)
    assert report.verdict is Verdict.LOG_DISAGREES
    assert "the generation's hash chain does not verify" in report.reasons


def test_the_cli_exits_zero_only_for_an_authentic_image(platform: Platform, tmp_path: Path) -> None:
    _, data = _generate(platform)
    files = {"authentic": data, "tampered": data[:-30] + bytes(30), "text": b"not an image"}
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    environ = {**os.environ, "DONATELLO_DATA_DIR": str(tmp_path)}

    def verify(name: str) -> subprocess.CompletedProcess[str]:
        command = [
            sys.executable,
            "-m",
            "devhost.cli",
            "provenance",
            "verify",
            str(tmp_path / name),
        ]
        return subprocess.run(command, cwd=ROOT, env=environ, capture_output=True, text=True)

    authentic = verify("authentic")
    assert authentic.returncode == 0, authentic.stderr
    assert '"verdict": "authentic"' in authentic.stdout
    assert verify("tampered").returncode == 1
    assert verify("text").returncode == 2


def test_our_signature_on_a_generation_the_log_never_held_is_refused(platform: Platform) -> None:
    state, _ = _generate(platform)
    never = str(uuid4())
    image = LocalProvider().generate(
        ImageRequest(never, "local-sketch", "p", "1024x1024", "standard", None)
    )
    claim = CredentialClaim(
        generation_id=never,
        model_id="local-sketch",
        provider="local",
        department_id="marketing",
        created_at=datetime.now(UTC),
        log_anchor=state.head_hash,
    )
    signed = platform.credentials.sign(image, claim)  # as a leaked key would sign
    report = verify_image(platform, signed.data)
    assert report.verdict is Verdict.LOG_DISAGREES
    assert report.reasons == ("the log holds no such generation",)
