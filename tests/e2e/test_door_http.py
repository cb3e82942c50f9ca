"""The door of `POST /generations` over real HTTP on the embedded platform: what policy
blocks and what can never be served is refused at once, each with its problem type,
and a blocked prompt is kept in its redacted form only."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.platform_process import RunningPlatform, running_platform

CARD_PROMPT = "a receipt showing card 4111 1111 1111 1111 on a table"
REDACTED = "a receipt showing card <CREDIT_CARD> on a table"
PROBLEMS = "https://donatello.ai/problems/"


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    with running_platform(tmp_path_factory.mktemp("door")) as running:
        yield running


def as_user(platform: RunningPlatform, user: str, role: str, dept: str | None) -> httpx.Client:
    return platform.client(platform.token(user, [role], dept))


def auditor(platform: RunningPlatform) -> httpx.Client:
    return as_user(platform, "cora", "Compliance.Auditor", None)


def stream(platform: RunningPlatform, generation_id: str) -> list[dict[str, Any]]:
    answer = auditor(platform).get(f"/api/v1/audit/streams/generation-{generation_id}")
    assert answer.status_code == 200, answer.text
    events: list[dict[str, Any]] = answer.json()["events"]
    return events


def problem(answer: httpx.Response, slug: str) -> dict[str, Any]:
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = answer.json()
    assert body["type"] == PROBLEMS + slug
    return body


def test_a_card_number_is_refused_at_once_and_kept_only_redacted(
    platform: RunningPlatform,
) -> None:
    requester = as_user(platform, "rita", "Generator.Standard", "retail")
    before = requester.get("/api/v1/quota").json()["used"]
    refused = problem(
        requester.post("/api/v1/generations", json={"prompt": CARD_PROMPT}), "prompt-rejected"
    )
    assert refused["detail"] == "personal_data: CREDIT_CARD"  # the type, never the value
    assert "4111" not in str(refused)
    # The refusal took a unit of the day's quota, as a request does.
    assert requester.get("/api/v1/quota").json()["used"] == before + 1

    events = stream(platform, refused["generation_id"])
    assert [e["type"] for e in events] == ["GenerationRequested", "PromptRejected"]
    assert events[0]["data"]["prompt_redacted"] is True
    assert events[1]["data"]["reason"] == "personal_data: CREDIT_CARD"
    status = requester.get(f"/api/v1/generations/{refused['generation_id']}").json()
    assert status["status"] == "rejected"
    assert status["screening"]["outcome"] == "rejected"

    export = auditor(platform).get("/api/v1/privacy/subjects/rita/export")
    assert export.status_code == 200, export.text
    assert "4111" not in export.text
    assert [g["prompt"] for g in export.json()["generations"]] == [REDACTED]

    # The same Idempotency-Key gives the same refusal again, and takes no other unit.
    keyed = {"Idempotency-Key": "receipt-1"}
    first = requester.post("/api/v1/generations", json={"prompt": CARD_PROMPT}, headers=keyed)
    again = requester.post("/api/v1/generations", json={"prompt": CARD_PROMPT}, headers=keyed)
    assert problem(first, "prompt-rejected") == problem(again, "prompt-rejected")
    assert requester.get("/api/v1/quota").json()["used"] == before + 2
    other = requester.post("/api/v1/generations", json={"prompt": "a receipt"}, headers=keyed)
    assert other.status_code == 409, other.text


def test_an_accepted_prompt_is_recorded_with_its_screening_in_one_append(
    platform: RunningPlatform,
) -> None:
    requester = as_user(platform, "sam", "Generator.Standard", "retail")
    accepted = requester.post(
        "/api/v1/generations", json={"prompt": "a poster for jane.citizen@example.com"}
    )
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["status"] == "screened"
    generation_id = accepted.json()["id"]
    first_two = stream(platform, generation_id)[:2]
    assert [e["type"] for e in first_two] == ["GenerationRequested", "PromptScreened"]
    # One append: one recorded_at; the request is the requester's, the screening the
    # platform's, as every later step is.
    assert first_two[0]["recorded_at"] == first_two[1]["recorded_at"]
    assert [e["actor"]["user_id"] for e in first_two] == ["sam", "system:donatello"]
    assert first_two[1]["data"]["entity_counts"] == {"EMAIL_ADDRESS": 1}
    final = platform.wait_terminal(requester, generation_id)
    assert final["status"] == "charged"
    assert [e["type"] for e in stream(platform, generation_id)].count("PromptScreened") == 1


def test_a_spent_hard_budget_is_refused_at_the_door(platform: RunningPlatform) -> None:
    manager = as_user(platform, "mo", "Dept.Manager", "thrifty")
    policy = {"monthly_limit_aud": "0.01", "enforcement": "hard", "strategy": "cost_optimised"}
    assert manager.put("/api/v1/budgets/thrifty", json=policy).status_code == 200
    requester = as_user(platform, "tia", "Generator.Standard", "thrifty")
    first = requester.post("/api/v1/generations", json={"prompt": "a lamp"})
    assert first.status_code == 202, first.text
    assert platform.wait_terminal(requester, first.json()["id"])["status"] == "charged"

    refused = problem(
        requester.post("/api/v1/generations", json={"prompt": "a lantern"}), "budget-exhausted"
    )
    assert refused["detail"].startswith("hard budget of 0.01 AUD for ")
    assert "has 0.0000 AUD left; this generation needs 0.0100 AUD" in refused["detail"]
    assert "generation_id" not in refused  # nothing was recorded


def test_requirements_no_model_meets_are_refused_when_set_and_when_asked(
    platform: RunningPlatform,
) -> None:
    manager = as_user(platform, "meg", "Dept.Manager", "sovereign")
    australian = {
        "monthly_limit_aud": "50",
        "requirements": {"regions": ["australiaeast"]},
    }
    standing = manager.get("/api/v1/budgets/sovereign").json()
    refused = problem(
        manager.put("/api/v1/budgets/sovereign", json=australian), "no-eligible-model"
    )
    # Only the local renderers are enabled here, and they run "locally".
    assert "residency excluded local-sketch, local-studio" in refused["detail"]
    after = manager.get("/api/v1/budgets/sovereign").json()
    policy = ("limit_aud", "enforcement", "strategy")
    assert [after[k] for k in policy] == [standing[k] for k in policy]  # nothing recorded

    strict = {"monthly_limit_aud": "50", "requirements": {"min_sla_percent": "99"}}
    assert manager.put("/api/v1/budgets/sovereign", json=strict).status_code == 200
    requester = as_user(platform, "sol", "Generator.Power", "sovereign")
    # A model the department may not use (its provider is not enabled here): refused now,
    # the rule named, rather than accepted and rejected by the worker.
    asked = requester.post(
        "/api/v1/generations", json={"prompt": "a gum tree", "model": "stability-ultra"}
    )
    body = problem(asked, "no-eligible-model")
    assert body["detail"].endswith("provider excluded stability-ultra")
    fine = requester.post("/api/v1/generations", json={"prompt": "a gum tree"})
    assert fine.status_code == 202, fine.text
