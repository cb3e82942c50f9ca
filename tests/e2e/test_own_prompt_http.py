"""`GET /generations/{id}/prompt`: the owner reads the prompt they typed; nobody else
(teammate, manager, admin, compliance) gets anything, not even that it exists; each read
is an `AuditLogRead`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.platform_process import RunningPlatform, running_platform

PROMPT = "a lighthouse at dawn for alice@example.com"


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningPlatform, str]]:
    with running_platform(tmp_path_factory.mktemp("prompt")) as platform:
        with platform.client(platform.token("alice", ["Generator.Standard"], "mkt")) as alice:
            accepted = alice.post("/api/v1/generations", json={"prompt": PROMPT})
            assert accepted.status_code == 202, accepted.text
            generation_id = accepted.json()["id"]
            assert platform.wait_terminal(alice, generation_id)["status"] == "charged"
        yield platform, generation_id


def prompt_reads(platform: RunningPlatform, generation_id: str, user: str) -> list[Any]:
    """The `AuditLogRead` records of `user` reading this generation's prompt."""
    with platform.client(platform.token("carl", ["Compliance.Auditor"], None)) as auditor:
        feed = auditor.get("/api/v1/audit/events", params={"type": "AuditLogRead"})
        assert feed.status_code == 200, feed.text
    reads = [json.loads(line) for line in feed.text.splitlines()]
    return [
        r
        for r in reads
        if r["actor"]["user_id"] == user and r["data"]["what"].get("generation_id") == generation_id
    ]


def test_the_owner_reads_the_prompt_they_typed_and_the_read_is_recorded(
    generated: tuple[RunningPlatform, str],
) -> None:
    platform, generation_id = generated
    with platform.client(platform.token("alice", ["Generator.Standard"], "mkt")) as alice:
        answer = alice.get(f"/api/v1/generations/{generation_id}/prompt")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"id": generation_id, "prompt": PROMPT, "prompt_erased": False}
    assert answer.headers["cache-control"] == "no-store"
    reads = prompt_reads(platform, generation_id, "alice")
    assert len(reads) == 1
    assert reads[0]["data"]["what"] == {
        "route": "GET /v1/generations/{id}/prompt",
        "generation_id": generation_id,
    }


@pytest.mark.parametrize(
    ("user", "roles", "department"),
    [
        ("bea", ["Generator.Standard"], "mkt"),  # a teammate
        ("bob", ["Dept.Manager"], "mkt"),  # her manager, who may see the image
        ("root", ["Platform.Admin"], None),
        ("carl", ["Compliance.Auditor"], None),  # who may export it, recorded, as privacy
    ],
)
def test_nobody_else_gets_the_prompt(
    generated: tuple[RunningPlatform, str], user: str, roles: list[str], department: str | None
) -> None:
    platform, generation_id = generated
    with platform.client(platform.token(user, roles, department)) as other:
        answer = other.get(f"/api/v1/generations/{generation_id}/prompt")
    assert answer.status_code == 404  # as if missing: its existence is not confirmed either
    assert answer.headers["content-type"] == "application/problem+json"
    assert "lighthouse" not in answer.text
    assert prompt_reads(platform, generation_id, user) == []


def test_an_erased_owner_gets_the_prompt_as_erased(
    generated: tuple[RunningPlatform, str],
) -> None:
    platform, generation_id = generated
    with platform.client(platform.token("root", ["Platform.Admin"], None)) as admin:
        assert admin.post("/api/v1/privacy/subjects/alice/erase", json={}).status_code == 200
    with platform.client(platform.token("alice", ["Generator.Standard"], "mkt")) as alice:
        answer = alice.get(f"/api/v1/generations/{generation_id}/prompt")
    assert answer.json() == {"id": generation_id, "prompt": "[erased]", "prompt_erased": True}
