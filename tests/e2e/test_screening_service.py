"""Screening policy and moderation through the service layer with the real adapters.

The policy is an operator's file (`DONATELLO_SCREENING_POLICY_FILE`), the analyzer and
redactor are Presidio, and moderation is the OpenAI adapter talking to a local server
speaking the moderation wire format. The provider records the prompts it is sent.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bootstrap import build_platform
from domain.access import Principal, Role
from domain.admission import Refusal
from domain.generation import Generation, PromptScreened, Status
from domain.streams import generation_stream
from services.context import Platform
from services.generations import (
    GenerationRefused,
    GenerationRequest,
    keyed_generation_id,
    load_generation,
    submit_generation,
)
from services.pipeline import advance_generation
from services.ports import ModerationUnavailable
from services.settings import Settings, SettingsError
from tests.e2e.test_pipeline_service import RecordingProvider
from tests.openai_server import Mode, OpenAIServer, run_openai_server

KEY = "sk-test-not-a-real-key"
PORTRAIT = "an oil portrait of Jane Citizen by the sea"
POLICY: dict[str, Any] = {
    "version": "2026-12-01",
    "entities": {
        "PERSON": {"action": "redact", "min_score": 0.85},
        "EMAIL_ADDRESS": {"action": "redact"},
        "CREDIT_CARD": {"action": "block"},
    },
    "content": {"categories": {"graphic_violence": ["beheading"]}},
    "moderation": {"blocked_categories": ["violence/graphic"]},
    "departments": {
        "marketing": {"entities": {"PERSON": {"action": "allow"}}},
        "finance": {"entities": {"EMAIL_ADDRESS": {"action": "block"}}},
    },
}


def principal(department: str) -> Principal:
    roles = frozenset({Role.GENERATOR_STANDARD})
    return Principal(user_id="alice", roles=roles, department_id=department, tenant_id=None)


def build(tmp_path: Path, policy: dict[str, Any] = POLICY, **settings: Any) -> Platform:
    policy_file = tmp_path / "screening-policy.json"
    policy_file.write_text(json.dumps(policy), "utf-8")
    config = Settings(
        data_dir=tmp_path,
        provider_backoff_seconds=(0.0,),
        screening_policy_file=policy_file,
        **settings,
    )
    return build_platform(config)


def submit(platform: Platform, department: str, prompt: str) -> Any:
    request = GenerationRequest(prompt=prompt)
    return submit_generation(platform, principal(department), request, None).generation_id


def run(platform: Platform, department: str, prompt: str) -> Generation:
    """The generation once settled; a prompt the policy blocks is refused at the door,
    recorded as its redacted request and the rejection, and never queued."""
    try:
        generation_id = submit(platform, department, prompt)
    except GenerationRefused as error:
        refused = error
    else:
        advance_generation(platform, generation_id)
        return load_generation(platform, generation_id)
    assert refused.refusal is Refusal.PROMPT_REJECTED
    assert refused.generation_id is not None
    state = load_generation(platform, refused.generation_id)
    assert (state.version, state.requested.prompt_redacted) == (2, True)
    assert refused.detail == state.reason
    return state


@pytest.fixture
def provider() -> RecordingProvider:
    return RecordingProvider()


@pytest.fixture
def platform(tmp_path: Path, provider: RecordingProvider) -> Platform:
    return dataclasses.replace(build(tmp_path), providers={"local": provider})


def screened(state: Generation) -> PromptScreened:
    assert state.screened is not None, state.reason
    return state.screened


def test_the_organisation_redacts_a_name_that_marketing_allows(
    platform: Platform, provider: RecordingProvider
) -> None:
    design = run(platform, "design", PORTRAIT)
    marketing = run(platform, "marketing", PORTRAIT)
    assert design.status is marketing.status is Status.CHARGED
    assert provider.prompts == ["an oil portrait of <PERSON> by the sea", PORTRAIT]
    assert screened(design).policy_version == "2026-12-01"
    assert screened(marketing).policy_version == "2026-12-01+marketing"
    assert screened(design).entity_counts == {"PERSON": 1}
    assert [(f.start, f.end, f.action) for f in screened(marketing).findings] == [(19, 31, "allow")]


def test_finance_blocks_an_email_the_organisation_redacts(
    platform: Platform, provider: RecordingProvider
) -> None:
    prompt = "a thank-you card for bob@example.org with sunflowers"
    assert run(platform, "design", prompt).status is Status.CHARGED
    finance = run(platform, "finance", prompt)
    assert finance.status is Status.REJECTED
    assert finance.reason == "personal_data: EMAIL_ADDRESS"
    assert provider.prompts == ["a thank-you card for <EMAIL_ADDRESS> with sunflowers"]


def test_a_blocked_term_rejects_with_its_category(
    platform: Platform, provider: RecordingProvider
) -> None:
    state = run(platform, "design", "a medieval Beheading scene")
    assert state.status is Status.REJECTED
    assert state.reason == "content_policy: graphic_violence"
    assert run(platform, "design", "a beheaded statue in a park").status is Status.CHARGED
    assert provider.prompts == ["a beheaded statue in a park"]


def test_an_invalid_policy_file_is_refused_with_the_settings(tmp_path: Path) -> None:
    policy_file = tmp_path / "screening-policy.json"
    policy_file.write_text(json.dumps({**POLICY, "entities": {"PERSON": {"action": "hide"}}}))
    environ = {"DONATELLO_SCREENING_POLICY_FILE": str(policy_file)}
    with pytest.raises(SettingsError, match=r"DONATELLO_SCREENING_POLICY_FILE: .*PERSON\.action"):
        Settings.from_env(environ)
    environ = {"DONATELLO_SCREENING_POLICY_FILE": str(tmp_path / "missing.json")}
    with pytest.raises(SettingsError, match=r"DONATELLO_SCREENING_POLICY_FILE: .*missing\.json"):
        Settings.from_env(environ)


# --- moderation ------------------------------------------------------------------------


@pytest.fixture
def moderation(monkeypatch: pytest.MonkeyPatch) -> Iterator[OpenAIServer]:
    monkeypatch.setenv("DONATELLO_SECRET_OPENAI_API_KEY", KEY)
    with run_openai_server() as server:
        server.credentials = {f"Bearer {KEY}"}
        yield server


def moderated(
    tmp_path: Path, server: OpenAIServer, provider: RecordingProvider, **policy: Any
) -> Platform:
    built = build(
        tmp_path,
        {**POLICY, **policy},
        moderation="openai",
        openai_base_url=f"{server.url}/v1",
    )
    return dataclasses.replace(built, providers={"local": provider})


def test_moderation_sees_only_the_redacted_prompt_and_blocks_by_policy(
    tmp_path: Path, moderation: OpenAIServer, provider: RecordingProvider
) -> None:
    platform = moderated(tmp_path, moderation, provider)
    moderation.flagged = {"violence"}  # flagged, but not a category this policy blocks
    passed = run(platform, "design", "a knight for jane@example.com")
    assert passed.status is Status.CHARGED
    assert screened(passed).moderated_by == ("terms", "openai")
    moderation.flagged = {"violence", "violence/graphic"}
    blocked = run(platform, "design", "a knight for jane@example.com")
    assert blocked.status is Status.REJECTED
    assert blocked.reason == "content_policy: violence/graphic"
    inputs = [r.body["input"] for r in moderation.requests]
    assert inputs == ["a knight for <EMAIL_ADDRESS>"] * 2
    assert provider.prompts == ["a knight for <EMAIL_ADDRESS>"]


def test_a_moderation_outage_fails_closed_and_the_redelivery_completes(
    tmp_path: Path, moderation: OpenAIServer, provider: RecordingProvider
) -> None:
    platform = moderated(tmp_path, moderation, provider)
    request = GenerationRequest(prompt="a lighthouse at dawn")
    requester = principal("design")
    for outage in (Mode.SERVER_ERROR, Mode.RATE_LIMITED, Mode.MALFORMED_JSON):
        moderation.mode = outage
        with pytest.raises(ModerationUnavailable) as caught:  # at the door: a 503 to retry
            submit_generation(platform, requester, request, "lighthouse-1")
        assert caught.value.retryable
    generation_id = keyed_generation_id(platform.generation_id_key(), "alice", "lighthouse-1")
    assert platform.store.read_stream(generation_stream(generation_id)) == []  # nothing kept
    assert provider.prompts == []
    moderation.mode = Mode.OK
    retried = submit_generation(platform, requester, request, "lighthouse-1")
    assert retried.generation_id == generation_id
    assert advance_generation(platform, generation_id).status is Status.CHARGED
    assert provider.prompts == ["a lighthouse at dawn"]


def test_a_lasting_moderation_failure_rejects_the_prompt(
    tmp_path: Path, moderation: OpenAIServer, provider: RecordingProvider
) -> None:
    moderation.credentials = {"Bearer some-other-key"}  # our key is refused: 401
    state = run(moderated(tmp_path, moderation, provider), "design", "a lighthouse at dawn")
    assert state.status is Status.REJECTED
    assert state.reason == "moderation_unavailable: openai"
    assert provider.prompts == []


def test_a_fail_open_policy_lets_the_prompt_through_and_records_the_skip(
    tmp_path: Path, moderation: OpenAIServer, provider: RecordingProvider
) -> None:
    policy = {**POLICY["moderation"], "fail_closed": False}
    platform = moderated(tmp_path, moderation, provider, moderation=policy)
    moderation.mode = Mode.SERVER_ERROR
    state = run(platform, "design", "a lighthouse at dawn")
    assert state.status is Status.CHARGED
    assert screened(state).moderated_by == ("terms",)
    assert screened(state).moderation_skipped == ("openai",)
    assert run(platform, "design", "a beheading at dawn").reason == (
        "content_policy: graphic_violence"  # the term list still applies
    )


def test_a_public_name_named_for_its_style_is_not_redacted_but_a_private_one_is(
    tmp_path: Path, provider: RecordingProvider
) -> None:
    shipped = dataclasses.replace(
        build_platform(Settings(data_dir=tmp_path, provider_backoff_seconds=(0.0,))),
        providers={"local": provider},
    )
    prompt = "Jane Citizen as a woodblock print in the style of Hokusai"
    state = run(shipped, "design", prompt)
    assert state.status is Status.CHARGED
    assert provider.prompts == ["<PERSON> as a woodblock print in the style of Hokusai"]
    actions = {(f.start, f.action) for f in screened(state).findings}
    # Hokusai was found, and let through.
    assert actions == {(0, "redact"), (prompt.index("Hokusai"), "allow")}
