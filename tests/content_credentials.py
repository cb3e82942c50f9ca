"""Content Credentials in tests, made and read with `c2pa-python` alone.

Provider stubs sign their images as Azure OpenAI, OpenAI and Adobe do: a C2PA manifest
from a provider's own test CA, `c2pa.created` with `trainedAlgorithmicMedia`. What the
platform serves is read back with `c2pa.Reader` only, never with our own parser, and
trusted against the platform's CA read from its key file.
"""

from __future__ import annotations

import io
import json
import zlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import c2pa
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from adapters.local_signing_key import issue_chain, sign_es256

PROVIDER_ORGANISATION = "Test Provider"
PROVIDER_GENERATOR = "test-provider-image-service"
TRAINED = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
_NO_THUMBNAIL = {"builder": {"thumbnail": {"enabled": False}}}


@cache
def _provider_signer_parts() -> tuple[Any, str]:
    return issue_chain(PROVIDER_ORGANISATION)


def with_provider_credentials(
    data: bytes,
    content_type: str,
    *,
    tampered: bool = False,
    extra_assertions: tuple[dict[str, Any], ...] = (),
) -> bytes:
    """`data` signed by the test provider; `tampered` changes one byte inside the manifest
    (in its claim generator's name), so its claim signature no longer holds."""
    key, chain = _provider_signer_parts()
    manifest = {
        "claim_generator_info": [{"name": PROVIDER_GENERATOR, "version": "1"}],
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {"actions": [{"action": "c2pa.created", "digitalSourceType": TRAINED}]},
            },
            *extra_assertions,
        ],
    }
    context = c2pa.Context(settings=c2pa.Settings.from_dict(_NO_THUMBNAIL))
    signer = c2pa.Signer.from_callback(
        lambda claim: sign_es256(key, claim), c2pa.C2paSigningAlg.ES256, chain
    )
    signed = io.BytesIO()
    with c2pa.Builder(manifest, context) as builder, signer:
        builder.sign(signer, content_type, io.BytesIO(data), signed)
    out = signed.getvalue()
    if not tampered:
        return out
    at = out.index(PROVIDER_GENERATOR.encode())
    forged = out[:at] + b"T" + out[at + 1 :]
    if content_type != "image/png":
        return forged
    # A forger fixes the chunk's CRC, so the file is a whole PNG and only C2PA can tell.
    start = forged.index(b"caBX") - 4
    end = start + 8 + int.from_bytes(forged[start : start + 4], "big")
    crc = zlib.crc32(forged[start + 4 : end]).to_bytes(4, "big")
    return forged[:end] + crc + forged[end + 4 :]


@dataclass(frozen=True, slots=True)
class Read:
    state: str | None  # Invalid, Valid or Trusted
    manifest: dict[str, Any]
    failures: list[str]
    store: dict[str, Any]  # every manifest in the file, by label

    def manifest_store(self) -> dict[str, Any]:
        return self.store

    def assertion(self, label: str) -> dict[str, Any]:
        found = [a["data"] for a in self.manifest["assertions"] if a["label"] == label]
        assert len(found) == 1, f"{label} appears {len(found)} times"
        data: dict[str, Any] = found[0]
        return data

    def actions(self) -> list[dict[str, Any]]:
        labels = {"c2pa.actions", "c2pa.actions.v2"}
        found = [a["data"] for a in self.manifest["assertions"] if a["label"] in labels]
        assert len(found) == 1
        actions: list[dict[str, Any]] = found[0]["actions"]
        return actions

    def parent(self) -> dict[str, Any]:
        parents = [
            i for i in self.manifest.get("ingredients", []) if i["relationship"] == "parentOf"
        ]
        assert len(parents) == 1
        parent: dict[str, Any] = parents[0]
        return parent

    def parent_failures(self) -> list[str]:
        results = self.parent()["validation_results"]["activeManifest"]
        return [f["code"] for f in results.get("failure", [])]


def platform_anchor(data_dir: Path) -> str:
    """The platform's CA certificate, the last in its key file."""
    chain = x509.load_pem_x509_certificates((data_dir / "content-credentials.pem").read_bytes())
    return chain[-1].public_bytes(Encoding.PEM).decode("ascii")


def read_credentials(data: bytes, content_type: str, trust_anchor: str | None = None) -> Read:
    """The active manifest as `c2pa.Reader` reads it; with `trust_anchor`, `Trusted`
    means signed under that CA."""
    settings: dict[str, Any] = {"verify": {"verify_trust": trust_anchor is not None}}
    if trust_anchor is not None:
        settings["trust"] = {"trust_anchors": trust_anchor}
    context = c2pa.Context(settings=c2pa.Settings.from_dict(settings))
    with c2pa.Reader(content_type, io.BytesIO(data), context=context) as reader:
        results = reader.get_validation_results() or {}
        failures = [f["code"] for f in results.get("activeManifest", {}).get("failure", [])]
        store = json.loads(reader.json())
        return Read(
            reader.get_validation_state(), reader.get_active_manifest() or {}, failures, store
        )


def swap_manifest(png: bytes, donor: bytes) -> bytes:
    """`png` with `donor`'s caBX chunk in place of its own (or after IHDR when it has
    none), located by byte offsets: what a forger does to move a manifest."""

    def span(data: bytes) -> tuple[int, int]:
        if b"caBX" not in data:
            return 33, 33  # the signature and IHDR
        start = data.index(b"caBX") - 4
        return start, start + 12 + int.from_bytes(data[start : start + 4], "big")

    (start, end), (donor_start, donor_end) = span(png), span(donor)
    return png[:start] + donor[donor_start:donor_end] + png[end:]
