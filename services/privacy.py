"""Data-subject rights: erasure (crypto-shredding) and the subject-access export.

Erasure destroys the subject's data key and records `SubjectErased`, its reason sealed
under the key being destroyed. The ciphertext stays in the log, so every stream's hash
chain, and so verification, is untouched; what was sealed under the destroyed key reads
as `[erased]` from then on. The key is destroyed first and the event appended second:
a crash between the two leaves a subject whose key is gone and whose log does not say so
yet, and the retry (erasure is idempotent) appends the owed event. The other order could
leave a log saying "erased" over a key that still opens every prompt.

Plaintext prompts leave the system in two places only: the export, to the subject or
a privacy officer (`Action.PRIVACY_EXPORT`), recorded as `SubjectAccessExported` in the
subject's privacy stream; and one generation's prompt, to its owner alone
(`own_prompt`), recorded as an `AuditLogRead` before it is answered.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

from domain import privacy, quota
from domain.access import AccessDenied, Action, Principal, authorize, authorize_owner
from domain.budget import CostCharged
from domain.envelope import Event
from domain.generation import GenerationRequested, SealedText
from domain.privacy import PrivacyRecord, SubjectAccessExported, SubjectErased
from domain.retention import retained_until
from domain.streams import generation_stream, privacy_stream
from services.aggregates import PRIVACY
from services.audit_reads import record_read
from services.commands import Stamp, execute
from services.context import Platform
from services.errors import NotFound
from services.generations import authorized_generation
from services.personal_data import ERASED, open_text, seal_for_erasure
from services.subject_streams import subject_generations, subject_streams


def erase_subject(
    platform: Platform, principal: Principal, subject_id: str, reason: str | None = None
) -> dict[str, Any]:
    """Destroy the subject's key and record it; repeating it changes nothing more."""
    authorize(principal, Action.PRIVACY_ERASE)
    # Sealed before the key goes, so the reason (free text, maybe about the person) is
    # lost with everything else of theirs, from the moment it is recorded.
    sealed = None if reason is None else seal_for_erasure(platform.keys, subject_id, reason)
    key_destroyed = platform.keys.destroy(subject_id)
    event = SubjectErased(subject_id=subject_id, requested_by=principal.user_id, reason=sealed)
    seen = platform.repository.load(PRIVACY, privacy_stream(subject_id))
    decided = execute(
        platform.repository,
        PRIVACY,
        seen.stream_id,
        lambda current: (
            [event]
            if privacy.needs_erasure_event(current, key_destroyed=key_destroyed, seen=seen.version)
            else []
        ),
        Stamp(uuid4(), principal.to_actor()),
        start=seen,
    )
    record = decided.after.state
    images_deleted = _delete_images(platform, subject_id) if platform.settings.erase_images else 0
    return {
        "subject_id": subject_id,
        "erased": True,
        "erased_at": record.erased_at.isoformat() if record.erased_at else None,
        "recorded": bool(decided.recorded),
        "images_deleted": images_deleted,
    }


def _delete_images(platform: Platform, subject_id: str) -> int:
    """Delete the subject's stored images, after the erasure is recorded so that a crash
    in between is finished by the retry; each image's SHA-256 stays in its event."""
    refs = (view.get("image_ref") for view in subject_generations(platform, subject_id))
    return sum(1 for ref in refs if ref and platform.images.delete(ref))


def export_subject(platform: Platform, principal: Principal, subject_id: str) -> dict[str, Any]:
    """Everything held about the subject, prompts opened where their key still exists."""
    authorize(principal, Action.PRIVACY_EXPORT, owner_id=subject_id)
    record = platform.repository.load(PRIVACY, privacy_stream(subject_id)).state
    streams = subject_streams(platform, subject_id)
    generations = [
        _generation_entry(platform, record, s.view, s.events)
        for s in streams
        if s.kind == "generation" and s.view is not None
    ]
    charges = [
        _charge_entry(event)
        for s in streams
        if s.kind == "budget"
        for event in s.events
        if event.type == CostCharged.TYPE
    ]
    usage = [
        {"day": s.events[0].data["day"], "images": used}
        for s in streams
        if s.kind == "quota" and (used := quota.fold(s.events).used)
    ]
    exported = SubjectAccessExported(subject_id=subject_id, requested_by=principal.user_id)
    after = execute(
        platform.repository,
        PRIVACY,
        privacy_stream(subject_id),
        lambda _: [exported],
        Stamp(uuid4(), principal.to_actor()),
    ).after.state
    return {
        "subject_id": subject_id,
        "exported_at": platform.clock().isoformat(),
        "requested_by": principal.user_id,
        "erased": after.erased,
        "erased_at": after.erased_at.isoformat() if after.erased_at else None,
        # Erasure destroys the key; the sealed prompt and everything else stay this long.
        "retention_years": platform.settings.retention_years,
        "generations": generations,
        "budget_charges": charges,
        "quota_usage": usage,
    }


def own_prompt(platform: Platform, principal: Principal, generation_id: UUID) -> dict[str, Any]:
    """The prompt of one generation as its owner typed it, to that owner only; to anyone
    else who may read the generation it answers as a missing one, as the reads do."""
    state = authorized_generation(platform, principal, generation_id, Action.GENERATION_READ)
    assert state.request is not None  # authorized_generation found the request
    owner = state.request.user_id
    try:
        authorize_owner(principal, Action.GENERATION_READ, owner)
    except AccessDenied as denied:
        raise NotFound(f"no generation {generation_id}", denied=denied) from None
    what = {"route": "GET /v1/generations/{id}/prompt", "generation_id": str(generation_id)}
    record_read(platform, principal, what)
    events = platform.store.read_stream(generation_stream(generation_id))
    requested = next(e for e in events if e.type == GenerationRequested.TYPE)
    record = platform.repository.load(PRIVACY, privacy_stream(owner)).state
    prompt = _opened(platform, record, requested)
    return {
        "id": str(generation_id),
        "prompt": ERASED if prompt is None else prompt,
        "prompt_erased": prompt is None,
    }


# What the history view shows of a generation; not its internal fields (the image's
# storage path, the view's version).
_HISTORY_FIELDS = (
    "id",
    "status",
    "user_id",
    "department_id",
    "created_at",
    "updated_at",
    "timestamps",
    "size",
    "quality",
    "style",
    "model",
    "model_id",
    "estimated_cost_aud",
    "cost_aud",
    "screening",
    "reason",
    "image_sha256",
)


def _generation_entry(
    platform: Platform, record: PrivacyRecord, view: dict[str, Any], events: list[Event]
) -> dict[str, Any]:
    requested = next(e for e in events if e.type == GenerationRequested.TYPE)
    prompt = _opened(platform, record, requested)
    return {
        **{field: view[field] for field in _HISTORY_FIELDS},
        "retained_until": retained_until(
            requested.recorded_at, platform.settings.retention_years
        ).isoformat(),
        "prompt": ERASED if prompt is None else prompt,
        "prompt_erased": prompt is None,
    }


def _opened(platform: Platform, record: PrivacyRecord, requested: Event) -> str | None:
    """The prompt, or None when its key is gone.

    A prompt sealed before the latest erasure is never opened: its key was destroyed,
    and a key the subject was given since would not authenticate it.
    """
    if record.erased_since(requested.recorded_at):
        return None
    return open_text(platform.keys, SealedText.model_validate(requested.data["prompt"]))


def _charge_entry(event: Event) -> dict[str, Any]:
    return {
        "generation_id": event.data["generation_id"],
        "department_id": event.data["department_id"],
        "period": event.data["period"],
        "model_id": event.data["model_id"],
        "amount_aud": event.data["amount_aud"],
        "charged_at": event.recorded_at.isoformat(),
    }
