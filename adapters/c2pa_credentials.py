"""Content Credentials with the C2PA reference implementation (`c2pa-python`).

Every stored image is signed with a manifest that says what made it and where the log
records it: `c2pa.actions` (`c2pa.created` by the model, digital source type
`trainedAlgorithmicMedia`; or `c2pa.opened` of the provider's image when that carries
its own credentials), and our assertion `ai.donatello.generation` with the generation,
model, provider, department, creation time and the log anchor. Never the prompt, never
the person. A provider's manifest is kept whole, as the parent ingredient, so our
manifest carries theirs and what became of its validation.

The thumbnail is off: with it, signing a 3 MB PNG cost 146 ms of CPU, nearly all of it
the thumbnail; without it, about 11 ms (`python -m benchmarks.provenance`).
"""

from __future__ import annotations

import io
import threading
from datetime import datetime
from typing import Any

import c2pa
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from adapters.image_formats import sniff
from services.ports import (
    CredentialClaim,
    GeneratedImage,
    ReadCredential,
    SignedImage,
    SigningKey,
)

PLATFORM = "DonatelloAI"
PLATFORM_VERSION = "0.1.0"  # pyproject.toml's; tests/unit/test_c2pa_version.py holds them equal
GENERATION_ASSERTION = "ai.donatello.generation"
TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
PROVIDER_INGREDIENT = "provider-image"
# Whether a signer is on a trust list is a separate question from whether its
# signature holds; these codes answer the first, or say a check was not made.
_NOT_FAILURES = frozenset({"signingCredential.untrusted", "signingCredential.ocsp.skipped"})
_SIGNING_SETTINGS = {"builder": {"thumbnail": {"enabled": False}}}
# What of a provider's manifest a served file keeps: how the image was made, its
# bindings and ingredients. Any other assertion (schema.org metadata, identity, a
# provider's own labels) may name a person or carry the prompt, and is redacted, as C2PA
# allows for an ingredient's assertions; actions cannot be redacted, and carry neither
# in the manifests Azure OpenAI, OpenAI and Adobe write.
_KEPT_PROVIDER_ASSERTIONS = ("c2pa.actions", "c2pa.hash.", "c2pa.ingredient", "c2pa.thumbnail")


class C2paCredentials:
    def __init__(self, key: SigningKey) -> None:
        self._key = key
        self._signing = c2pa.Context(settings=c2pa.Settings.from_dict(_SIGNING_SETTINGS))
        self._lock = threading.Lock()
        self._reading: tuple[c2pa.Context, str] | None = None

    def sign(self, image: GeneratedImage, claim: CredentialClaim) -> SignedImage:
        original = image.credentialed_original
        provider_failures, redactions = (
            ((), []) if original is None else _read_provider(image.content_type, original)
        )
        manifest = _manifest(claim, has_parent=original is not None)
        if redactions:
            manifest["redactions"] = redactions
        builder = c2pa.Builder(manifest, self._signing)
        if original is not None:
            ingredient = {
                "title": f"{claim.provider} image",
                "relationship": "parentOf",
                "label": PROVIDER_INGREDIENT,
            }
            builder.add_ingredient(ingredient, image.content_type, io.BytesIO(original))
        signer = c2pa.Signer.from_callback(
            self._key.sign, c2pa.C2paSigningAlg.ES256, self._key.certificate_chain()
        )
        signed = io.BytesIO()
        with builder, signer:
            builder.sign(signer, image.content_type, io.BytesIO(image.data), signed)
        return SignedImage(
            data=signed.getvalue(),
            content_type=image.content_type,
            provider_credential=_verdict(original is not None, provider_failures),
            provider_failures=provider_failures,
        )

    def read(self, data: bytes) -> ReadCredential:
        content_type = sniff(data)
        if content_type is None:
            raise ValueError("not a PNG, JPEG or WebP image")
        context, serial = self._reading_context()
        try:
            reader = c2pa.Reader(content_type, io.BytesIO(data), context=context)
        except c2pa.C2paError.ManifestNotFound:
            return ReadCredential(False, False, False, (), None, "absent")
        except c2pa.C2paError as error:  # a manifest is there but cannot be parsed
            return ReadCredential(True, False, False, (type(error).__name__,), None, "absent")
        with reader:
            manifest = reader.get_active_manifest() or {}
            results = reader.get_validation_results() or {}
            state = reader.get_validation_state()
        failures = _codes(results.get("activeManifest", {}))
        signature = manifest.get("signature_info", {})
        return ReadCredential(
            found=True,
            valid=state in ("Valid", "Trusted") and not failures,
            ours=state == "Trusted" and str(signature.get("cert_serial_number")) == serial,
            failures=failures,
            claim=_claim_of(manifest),
            provider_credential=_provider_credential(manifest),
        )

    def _reading_context(self) -> tuple[c2pa.Context, str]:
        """Read with our CA as the one trust anchor, so `Trusted` means chained to it."""
        with self._lock:
            if self._reading is None:
                chain = x509.load_pem_x509_certificates(self._key.certificate_chain().encode())
                anchor = chain[-1].public_bytes(Encoding.PEM).decode("ascii")
                settings = {"trust": {"trust_anchors": anchor}, "verify": {"verify_trust": True}}
                context = c2pa.Context(settings=c2pa.Settings.from_dict(settings))
                self._reading = context, str(chain[0].serial_number)
            return self._reading


def _manifest(claim: CredentialClaim, *, has_parent: bool) -> dict[str, Any]:
    agent = {"name": claim.model_id}
    action: dict[str, Any] = (
        {"action": "c2pa.opened", "softwareAgent": agent}
        | {"parameters": {"ingredientIds": [PROVIDER_INGREDIENT]}}
        if has_parent
        else {
            "action": "c2pa.created",
            "softwareAgent": agent,
            "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA,
        }
    )
    return {
        "claim_generator_info": [{"name": PLATFORM, "version": PLATFORM_VERSION}],
        "assertions": [
            {"label": "c2pa.actions", "data": {"actions": [action]}},
            {
                "label": GENERATION_ASSERTION,
                "data": {
                    "generation_id": claim.generation_id,
                    "model_id": claim.model_id,
                    "provider": claim.provider,
                    "department_id": claim.department_id,
                    "created_at": claim.created_at.isoformat(),
                    "log_anchor": claim.log_anchor,
                },
            },
        ],
    }


def _claim_of(manifest: dict[str, Any]) -> CredentialClaim | None:
    for assertion in manifest.get("assertions", []):
        if assertion.get("label") != GENERATION_ASSERTION:
            continue
        data = assertion.get("data", {})
        try:
            return CredentialClaim(
                generation_id=str(data["generation_id"]),
                model_id=str(data["model_id"]),
                provider=str(data["provider"]),
                department_id=str(data["department_id"]),
                created_at=datetime.fromisoformat(str(data["created_at"])),
                log_anchor=str(data["log_anchor"]),
            )
        except (KeyError, ValueError):
            return None
    return None


def _provider_credential(manifest: dict[str, Any]) -> str:
    for ingredient in manifest.get("ingredients", []):
        if ingredient.get("relationship") == "parentOf" and ingredient.get("active_manifest"):
            results = ingredient.get("validation_results", {}).get("activeManifest", {})
            return _verdict(True, _codes(results))
    return "absent"


def _read_provider(content_type: str, original: bytes) -> tuple[tuple[str, ...], list[str]]:
    """The provider manifest's validation failures, and the assertions of it to redact."""
    try:
        with c2pa.Reader(content_type, io.BytesIO(original)) as reader:
            results = reader.get_validation_results() or {}
            manifest = reader.get_active_manifest() or {}
    except c2pa.C2paError as error:
        return (type(error).__name__,), []
    redactions = [
        f"self#jumbf=/c2pa/{manifest['label']}/c2pa.assertions/{label}"
        for label in (str(a.get("label")) for a in manifest.get("assertions", []))
        if not label.startswith(_KEPT_PROVIDER_ASSERTIONS)
    ]
    return _codes(results.get("activeManifest", {})), redactions


def _codes(results: dict[str, Any]) -> tuple[str, ...]:
    codes = (str(item.get("code")) for item in results.get("failure", []))
    return tuple(sorted({code for code in codes if code not in _NOT_FAILURES}))


def _verdict(present: bool, failures: tuple[str, ...]) -> str:
    if not present:
        return "absent"
    return "invalid" if failures else "valid"
