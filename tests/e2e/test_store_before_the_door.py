"""A store written before prompts were screened at the door keeps working.

Such a store holds generation streams that begin with `GenerationRequested` alone (the
prompt sealed as given) and were screened by the worker afterwards: some went on, some
were rejected with their sealed original kept. These streams are appended here in
exactly that old shape, then read, exported, erased and advanced by today's code.
"""

from __future__ import annotations

from pathlib import Path
from uuid import UUID, uuid4

import pytest

from bootstrap import build_platform
from domain.access import Principal, Role
from domain.generation import GenerationRequested, PromptRejected, Status
from domain.screening import DEFAULT_POLICY
from domain.streams import generation_stream
from services.commands import Stamp
from services.context import Platform
from services.generations import GenerationRequest, load_generation
from services.personal_data import seal_text
from services.pipeline import advance_generation
from services.privacy import erase_subject, export_subject
from services.settings import Settings
from tests.e2e.test_projection_rebuild import live_runner

SUBJECT = Principal("olly", frozenset({Role.GENERATOR_STANDARD}), "archive", None)
OFFICER = Principal("cora", frozenset({Role.COMPLIANCE_AUDITOR}), None, None)
CARD_PROMPT = "print my card 4111 1111 1111 1111 on a mug"


@pytest.fixture
def platform(tmp_path: Path) -> Platform:
    return build_platform(Settings(data_dir=tmp_path, provider_backoff_seconds=(0.0,)))


def old_request(platform: Platform, prompt: str) -> UUID:
    """`GenerationRequested` alone, as `POST /generations` appended it before the door."""
    generation_id = uuid4()
    requested = GenerationRequested(
        generation_id=generation_id,
        user_id=SUBJECT.user_id,
        department_id="archive",
        prompt=seal_text(platform.keys, SUBJECT.user_id, prompt),
        size="1024x1024",
        quality="standard",
        request_hash=GenerationRequest(prompt=prompt).fingerprint(),
    )
    data = requested.model_dump(mode="json")
    del data["prompt_redacted"]  # the field did not exist yet
    new = Stamp(generation_id, actor=SUBJECT.to_actor()).events([requested])
    platform.store.append(
        generation_stream(generation_id), 0, [new[0].model_copy(update={"data": data})]
    )
    return generation_id


def worker_rejection(platform: Platform, generation_id: UUID) -> None:
    """The worker's `PromptRejected`, as it was recorded after the request."""
    rejected = PromptRejected(
        reason="personal_data: CREDIT_CARD", findings=(), policy_version=DEFAULT_POLICY.version
    )
    platform.store.append(
        generation_stream(generation_id), 1, Stamp(generation_id).events([rejected])
    )


def test_old_streams_are_read_advanced_exported_and_erased(
    tmp_path: Path, platform: Platform
) -> None:
    pending = old_request(platform, "a teapot shaped like a hedgehog")
    unscreened_card = old_request(platform, CARD_PROMPT)
    rejected_card = old_request(platform, CARD_PROMPT)
    worker_rejection(platform, rejected_card)

    # The worker still screens a stream that holds only the request.
    assert advance_generation(platform, pending).status is Status.CHARGED
    screened = load_generation(platform, pending)
    assert screened.screened is not None
    assert screened.requested.prompt_redacted is False
    late = advance_generation(platform, unscreened_card)
    assert (late.status, late.reason) == (Status.REJECTED, "personal_data: CREDIT_CARD")
    assert advance_generation(platform, rejected_card).version == 2  # terminal: untouched

    live_runner(tmp_path).run_until_caught_up()
    export = export_subject(platform, OFFICER, SUBJECT.user_id)
    prompts = sorted(g["prompt"] for g in export["generations"])
    # What the old code kept is still there, sealed: the export opens it, as before...
    assert prompts == sorted([CARD_PROMPT, CARD_PROMPT, "a teapot shaped like a hedgehog"])
    statuses = sorted(g["status"] for g in export["generations"])
    assert statuses == ["charged", "rejected", "rejected"]

    # ...until the person's erasure shreds it with everything else of theirs.
    erase_subject(platform, OFFICER, SUBJECT.user_id, "DSR-7")
    after = export_subject(platform, OFFICER, SUBJECT.user_id)
    assert all(g["prompt_erased"] for g in after["generations"])
    assert "4111" not in str(after)
