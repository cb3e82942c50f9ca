"""Signing with Content Credentials, checked by an independent reader: every assertion
here reads the signed file with `c2pa.Reader` (tests/content_credentials.py), never
with our own parser."""

from __future__ import annotations

import dataclasses
import io
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image

from adapters.c2pa_credentials import C2paCredentials
from adapters.local_signing_key import LocalSigningKey
from adapters.providers.local import LocalProvider
from adapters.providers.provenance import received
from services.ports import CredentialClaim, ImageRequest
from tests.content_credentials import (
    PROVIDER_GENERATOR,
    TRAINED,
    platform_anchor,
    read_credentials,
    swap_manifest,
    with_provider_credentials,
)

PROMPT = "a portrait of Jane Citizen, jane@example.com"
CLAIM = CredentialClaim(
    generation_id="0b6f3c1e-4d2a-4c39-9a51-2f0c8d1e7a44",
    model_id="openai-gpt-image-1",
    provider="openai",
    department_id="marketing",
    created_at=datetime(2026, 11, 3, 4, 5, 6, tzinfo=UTC),
    log_anchor="ab" * 32,
)


@pytest.fixture
def credentials(tmp_path: Path) -> C2paCredentials:
    return C2paCredentials(LocalSigningKey(tmp_path / "content-credentials.pem"))


def _provider_file(kind: str, *, tampered: bool = False) -> bytes:
    image = Image.effect_noise((96, 64), 40).convert("RGB")
    buffer = io.BytesIO()
    if kind == "PNG":
        from PIL.PngImagePlugin import PngInfo

        info = PngInfo()
        info.add_text("prompt", PROMPT)
        image.save(buffer, format="PNG", pnginfo=info)
    elif kind == "JPEG":
        image.save(buffer, format="JPEG", comment=PROMPT.encode())
    else:
        exif = Image.Exif()
        exif[0x010E] = PROMPT
        image.save(buffer, format="WEBP", exif=exif)
    return with_provider_credentials(buffer.getvalue(), f"image/{kind.lower()}", tampered=tampered)


def test_the_local_providers_image_is_created_by_the_model_as_trained_algorithmic_media(
    credentials: C2paCredentials, tmp_path: Path
) -> None:
    request = ImageRequest(CLAIM.generation_id, "local-standard", PROMPT, "1024x1024", "hd", None)
    image = LocalProvider().generate(request)
    claim = dataclasses.replace(CLAIM, model_id="local-standard", provider="local")
    signed = credentials.sign(image, claim)

    assert signed.content_type == "image/png"
    assert signed.provider_credential == "absent"
    read = read_credentials(signed.data, "image/png", platform_anchor(tmp_path))
    assert read.state == "Trusted"  # signed under the platform's own CA
    assert read.failures == []
    assert read.actions() == [
        {
            "action": "c2pa.created",
            "softwareAgent": {"name": "local-standard"},
            "digitalSourceType": TRAINED,
        }
    ]
    (generator,) = read.manifest["claim_generator_info"]
    assert (generator["name"], generator["version"]) == ("DonatelloAI", "0.1.0")
    assert read.manifest["signature_info"]["alg"].upper() == "ES256"
    assert read.assertion("ai.donatello.generation") == {
        "generation_id": CLAIM.generation_id,
        "model_id": "local-standard",
        "provider": "local",
        "department_id": "marketing",
        "created_at": "2026-11-03T04:05:06+00:00",
        "log_anchor": CLAIM.log_anchor,
    }
    assert "thumbnail" not in read.manifest  # off: it is most of the cost
    assert b"Jane" not in signed.data
    assert b"jane" not in signed.data
    assert (
        Image.open(io.BytesIO(signed.data)).tobytes()
        == Image.open(io.BytesIO(image.data)).tobytes()
    )


@pytest.mark.parametrize("kind", ["PNG", "JPEG", "WEBP"])
def test_a_providers_manifest_lives_on_as_the_valid_parent_ingredient(
    credentials: C2paCredentials, tmp_path: Path, kind: str
) -> None:
    sent = _provider_file(kind)
    assert read_credentials(sent, f"image/{kind.lower()}").state == "Valid"
    signed = credentials.sign(received(sent), CLAIM)

    assert signed.content_type == f"image/{kind.lower()}"
    assert Image.open(io.BytesIO(signed.data)).format == kind  # never re-encoded to PNG
    assert signed.provider_credential == "valid"
    read = read_credentials(signed.data, signed.content_type, platform_anchor(tmp_path))
    assert read.state == "Trusted"
    (action,) = read.actions()
    assert action["action"] == "c2pa.opened"
    assert action["softwareAgent"] == {"name": CLAIM.model_id}
    parent = read.parent()
    assert read.parent_failures() == ["signingCredential.untrusted"]  # valid, not on our list
    provider_manifest = read.manifest_store()["manifests"][parent["active_manifest"]]
    assert provider_manifest["claim_generator_info"][0]["name"] == PROVIDER_GENERATOR
    # The provider's text, EXIF and comment (the prompt) stay behind.
    assert b"Jane" not in signed.data


def test_a_tampered_provider_manifest_is_kept_with_its_failure_and_our_signature_holds(
    credentials: C2paCredentials, tmp_path: Path
) -> None:
    sent = _provider_file("PNG", tampered=True)
    signed = credentials.sign(received(sent), CLAIM)

    assert signed.provider_credential == "invalid"
    assert "claimSignature.mismatch" in signed.provider_failures
    read = read_credentials(signed.data, "image/png", platform_anchor(tmp_path))
    assert read.state == "Trusted"
    assert "claimSignature.mismatch" in read.parent_failures()


def test_a_prompt_or_person_in_a_providers_manifest_is_redacted_and_it_still_validates(
    credentials: C2paCredentials, tmp_path: Path
) -> None:
    buffer = io.BytesIO()
    Image.effect_noise((64, 64), 30).convert("RGB").save(buffer, format="PNG")
    sent = with_provider_credentials(
        buffer.getvalue(),
        "image/png",
        extra_assertions=(
            {"label": "com.example.generation", "data": {"revised_prompt": PROMPT}},
            {
                "label": "stds.schema-org.CreativeWork",
                "data": {"@type": "CreativeWork", "author": [{"name": "Jane Citizen"}]},
            },
        ),
    )
    assert b"Jane Citizen" in sent
    signed = credentials.sign(received(sent), CLAIM)

    assert b"Jane" not in signed.data
    assert signed.provider_credential == "valid"
    read = read_credentials(signed.data, "image/png", platform_anchor(tmp_path))
    assert read.state == "Trusted"
    assert read.parent_failures() == ["signingCredential.untrusted"]
    provider = read.manifest_store()["manifests"][read.parent()["active_manifest"]]
    assert [a["label"] for a in provider["assertions"]] == ["c2pa.actions.v2"]


def test_reading_back_says_valid_and_ours_and_what_the_manifest_claims(
    credentials: C2paCredentials,
) -> None:
    signed = credentials.sign(received(_provider_file("JPEG")), CLAIM)
    read = credentials.read(signed.data)
    assert (read.found, read.valid, read.ours, read.failures) == (True, True, True, ())
    assert read.claim == CLAIM
    assert read.provider_credential == "valid"


def test_one_changed_pixel_breaks_the_binding(credentials: C2paCredentials) -> None:
    image = LocalProvider().generate(
        ImageRequest(CLAIM.generation_id, "local-standard", "p", "1024x1024", "standard", None)
    )
    signed = credentials.sign(image, CLAIM)
    decoded = Image.open(io.BytesIO(signed.data))
    decoded.putpixel((5, 5), (decoded.getpixel((5, 5)) + 1) % 256)  # type: ignore[operator]
    buffer = io.BytesIO()
    decoded.save(buffer, format="PNG")
    # Re-saving drops the manifest; splice it back as an attacker would keep it.
    changed = swap_manifest(buffer.getvalue(), donor=signed.data)
    read = credentials.read(changed)
    assert read.found
    assert not read.valid
    assert not read.ours
    assert "assertion.dataHash.mismatch" in read.failures
    assert read_credentials(changed, "image/png").state == "Invalid"


def test_a_signature_from_another_ca_is_valid_but_not_ours(
    credentials: C2paCredentials, tmp_path: Path
) -> None:
    theirs = C2paCredentials(LocalSigningKey(tmp_path / "elsewhere" / "key.pem"))
    image = received(_provider_file("PNG"))
    read = credentials.read(theirs.sign(image, CLAIM).data)
    assert (read.found, read.valid, read.ours) == (True, True, False)


def test_an_image_without_credentials_is_not_found(credentials: C2paCredentials) -> None:
    read = credentials.read(received(_provider_file("PNG")).data)
    assert (read.found, read.valid, read.ours, read.claim) == (False, False, False, None)
    with pytest.raises(ValueError, match="not a PNG, JPEG or WebP"):
        credentials.read(b"GIF89a")


def test_the_local_key_is_made_once_private_to_its_owner(tmp_path: Path) -> None:
    path = tmp_path / "data" / "content-credentials.pem"
    first, second = LocalSigningKey(path), LocalSigningKey(path)
    assert first.certificate_chain() == second.certificate_chain()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().count(b"BEGIN CERTIFICATE") == 2  # signing cert and its CA
    assert path.read_bytes().count(b"PRIVATE KEY") == 2  # one key: BEGIN and END
