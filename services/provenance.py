"""Is this image ours, and does the log agree? The two-way link between an image's
Content Credentials and the audit log, checked from either side.

The manifest names the generation and the stream's head hash when it was signed (its
log anchor); the log's ImageGenerated event records the SHA-256 of the exact bytes
served, and follows that head (its `prev_hash`). So a file is authentic only if its
manifest is valid and signed by us, the generation exists, its chain verifies, its
image event follows the anchor the manifest names, and that event's SHA-256 is this
file's. Changing the pixels breaks the manifest's binding; pasting another image's
manifest breaks the binding or the SHA-256; rewriting the log breaks its chain.
"""

from __future__ import annotations

import hashlib
from dataclasses import astuple, dataclass, field
from enum import StrEnum
from typing import Any
from uuid import UUID

from domain.envelope import GENESIS_HASH, Event, recompute_hash
from domain.generation import ImageGenerated
from domain.streams import generation_stream
from services.context import Platform
from services.ports import ReadCredential

MAX_IMAGE_BYTES = 16 * 1024 * 1024  # a 4096x4096 PNG from a provider fits


class Verdict(StrEnum):
    AUTHENTIC = "authentic"  # ours, untouched, and the log agrees
    NO_CREDENTIALS = "no_credentials"  # no manifest at all: nothing says where it came from
    TAMPERED = "tampered"  # a manifest whose signature or binding to these bytes fails
    NOT_OURS = "not_ours"  # a valid manifest, signed by someone else
    LOG_DISAGREES = "log_disagrees"  # ours and untouched, but the log does not back it


@dataclass(frozen=True, slots=True)
class LogCheck:
    generation_found: bool = False
    chain_verified: bool = False
    image_recorded: bool = False
    sha256_matches: bool = False
    anchor_matches: bool = False

    @property
    def agrees(self) -> bool:
        return all(astuple(self))


@dataclass(frozen=True, slots=True)
class ProvenanceReport:
    verdict: Verdict
    sha256: str
    credential: ReadCredential
    log: LogCheck | None = None
    reasons: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return self.verdict is Verdict.AUTHENTIC

    def as_json(self) -> dict[str, Any]:
        claim = self.credential.claim
        return {
            "verdict": self.verdict.value,
            "ok": self.ok,
            "sha256": self.sha256,
            "manifest": {
                "found": self.credential.found,
                "valid": self.credential.valid,
                "ours": self.credential.ours,
                "failures": list(self.credential.failures),
            },
            "generation": None
            if claim is None
            else {
                "generation_id": claim.generation_id,
                "model_id": claim.model_id,
                "provider": claim.provider,
                "department_id": claim.department_id,
                "created_at": claim.created_at.isoformat(),
            },
            "log": None
            if self.log is None
            else {
                "agrees": self.log.agrees,
                "generation_found": self.log.generation_found,
                "chain_verified": self.log.chain_verified,
                "image_recorded": self.log.image_recorded,
                "sha256_matches": self.log.sha256_matches,
                "anchor_matches": self.log.anchor_matches,
            },
            "provider_credential": self.credential.provider_credential,
            "reasons": list(self.reasons),
        }


def verify_image(platform: Platform, data: bytes) -> ProvenanceReport:
    """Raises ValueError when `data` is not a PNG, JPEG or WebP image."""
    sha256 = hashlib.sha256(data).hexdigest()
    credential = platform.credentials.read(data)
    if not credential.found:
        return ProvenanceReport(Verdict.NO_CREDENTIALS, sha256, credential)
    if not credential.valid:
        reasons = credential.failures or ("the manifest does not validate",)
        return ProvenanceReport(Verdict.TAMPERED, sha256, credential, reasons=reasons)
    if not credential.ours or credential.claim is None:
        why = "signed by someone else" if not credential.ours else "it names no generation"
        return ProvenanceReport(Verdict.NOT_OURS, sha256, credential, reasons=(why,))
    log = _check_log(platform, credential.claim.generation_id, credential.claim.log_anchor, sha256)
    failed = tuple(name for name, holds in _named(log) if not holds)
    reasons = failed if log.generation_found else failed[:1]  # the rest follow from it
    verdict = Verdict.AUTHENTIC if log.agrees else Verdict.LOG_DISAGREES
    return ProvenanceReport(verdict, sha256, credential, log, reasons)


def _check_log(platform: Platform, generation_id: str, anchor: str, sha256: str) -> LogCheck:
    try:
        stream_id = generation_stream(UUID(generation_id))
    except ValueError:
        return LogCheck()
    events = platform.store.read_stream(stream_id)
    if not events:
        return LogCheck()
    images = [event for event in events if event.type == ImageGenerated.TYPE]
    return LogCheck(
        generation_found=True,
        chain_verified=_chain_verifies(events),
        image_recorded=bool(images),
        # Read as stored, not parsed: a forged event may not parse, and must not crash this.
        sha256_matches=any(event.data.get("sha256") == sha256 for event in images),
        anchor_matches=any(event.prev_hash == anchor for event in images),
    )


def _chain_verifies(events: list[Event]) -> bool:
    previous = GENESIS_HASH
    for expected_version, event in enumerate(events, start=1):
        if (
            event.version != expected_version
            or event.prev_hash != previous
            or recompute_hash(event) != event.hash
        ):
            return False
        previous = event.hash
    return True


def _named(log: LogCheck) -> list[tuple[str, bool]]:
    return [
        ("the log holds no such generation", log.generation_found),
        ("the generation's hash chain does not verify", log.chain_verified),
        ("the log records no image for the generation", log.image_recorded),
        ("the log's SHA-256 of the image is not this file's", log.sha256_matches),
        ("the manifest's log anchor is not the head the image event follows", log.anchor_matches),
    ]
