"""Erasure over real HTTP on the embedded platform: after a subject is erased, no API
response, view, export or file in the data folder holds their prompt text, and every
stream's hash chain still verifies.

Each prompt carries a made-up marker word, so "holds their prompt text" is a plain
search that would find the prompt if it were anywhere, in any encoding we store.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.sqlite_event_store import SqliteEventStore
from domain.envelope import GENESIS_HASH, Event, recompute_hash
from domain.streams import privacy_stream
from tests.platform_process import RunningPlatform, running_platform

SUBJECT, OTHER, OFFICER = "erin@contoso.example", "oscar", "cora"
DEPARTMENT = "research"
CHARGED_PROMPTS = [
    "a lighthouse at dawn for my aunt Wilhelmina, zanthorquel style",
    "a teapot shaped like a hedgehog, vorquistane glaze",
    "the harbour at night in the manner of plimberwock",
]
REJECTED_PROMPT = "print my card 4111 1111 1111 1111 on a mug, quarnizzle edition"
# The erasure's reason is free text about the person too: it must go with the rest.
REASON = "ticket DSR-1042: Erin rang from her flat in Wobblethorpe Lane"
MARKERS = ["zanthorquel", "vorquistane", "plimberwock", "quarnizzle", "4111 1111", "Wobblethorpe"]
OTHER_PROMPT = "a kite over dunes, florbendash palette"
LATER_PROMPT = "a fresh start: a sunrise over fields, gribblethorn hues"


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    with running_platform(tmp_path_factory.mktemp("erasure")) as running:
        yield running


def client(platform: RunningPlatform, user: str, roles: list[str]) -> httpx.Client:
    return platform.client(platform.token(user, roles, DEPARTMENT))


def generate(platform: RunningPlatform, requester: httpx.Client, prompt: str) -> dict[str, Any]:
    response = requester.post("/api/v1/generations", json={"prompt": prompt})
    assert response.status_code == 202, response.text
    body: dict[str, Any] = platform.wait_terminal(requester, response.json()["id"])
    return body


def wait_for_history(requester: httpx.Client, ids: set[str], timeout: float = 60) -> list[Any]:
    """The caller's history once the projections show every one of `ids` finished."""
    deadline = time.monotonic() + timeout
    while True:
        items = requester.get("/api/v1/generations", params={"limit": 100}).json()["items"]
        finished = {i["id"] for i in items if i["status"] in ("charged", "rejected", "failed")}
        if ids <= finished:
            return list(items)
        assert time.monotonic() < deadline, f"history never caught up: {items}"
        time.sleep(0.1)


def holds_prompt_text(text: str) -> list[str]:
    return [marker for marker in MARKERS if marker in text]


def files_holding_prompt_text(data_dir: Path) -> dict[str, list[str]]:
    found = {}
    for path in data_dir.rglob("*"):
        if path.is_file():
            text = path.read_bytes().decode("utf-8", errors="replace")
            if markers := holds_prompt_text(text):
                found[str(path)] = markers
    return found


def broken_chains(store: SqliteEventStore) -> list[str]:
    """Every stream's chain recomputed: versions 1..n, each hash over its content,
    each `prev_hash` its predecessor's hash."""
    streams: dict[str, list[Event]] = defaultdict(list)
    after = 0
    while batch := store.read_all(after_position=after, limit=1000):
        for positioned in batch:
            streams[positioned.event.stream_id].append(positioned.event)
        after = batch[-1].position
    problems = []
    for stream_id, events in streams.items():
        previous = GENESIS_HASH
        for expected_version, event in enumerate(events, start=1):
            if event.version != expected_version:
                problems.append(f"{stream_id}@{event.version}: expected {expected_version}")
            if event.prev_hash != previous or recompute_hash(event) != event.hash:
                problems.append(f"{stream_id}@{event.version}: hash")
            previous = event.hash
    assert streams, "no events read"
    return problems


def test_an_erased_subjects_prompts_are_gone_everywhere_and_the_log_verifies(
    platform: RunningPlatform,
) -> None:
    subject = client(platform, SUBJECT, ["Generator.Standard"])
    other = client(platform, OTHER, ["Generator.Standard"])
    officer = client(platform, OFFICER, ["Compliance.Auditor"])
    admin = client(platform, "ada", ["Platform.Admin"])

    outcomes = [generate(platform, subject, prompt) for prompt in CHARGED_PROMPTS]
    assert [o["status"] for o in outcomes] == ["charged"] * 3
    rejected = generate(platform, subject, REJECTED_PROMPT)
    assert rejected["status"] == "rejected"
    kept = generate(platform, other, OTHER_PROMPT)
    ids = {o["id"] for o in outcomes} | {rejected["id"]}
    wait_for_history(subject, ids)
    wait_for_history(other, {kept["id"]})

    # Before erasure the export opens every prompt: so the scans below can find text.
    before = subject.get(f"/api/v1/privacy/subjects/{SUBJECT}/export")
    assert before.status_code == 200, before.text
    assert sorted(g["prompt"] for g in before.json()["generations"]) == sorted(
        [*CHARGED_PROMPTS, REJECTED_PROMPT]
    )
    assert before.json()["erased"] is False
    images = {o["id"]: subject.get(f"/api/v1/generations/{o['id']}/image") for o in outcomes}
    assert all(image.status_code == 200 for image in images.values())

    assert subject.post(f"/api/v1/privacy/subjects/{SUBJECT}/erase").status_code == 403
    first = officer.post(f"/api/v1/privacy/subjects/{SUBJECT}/erase", json={"reason": REASON})
    again = officer.post(f"/api/v1/privacy/subjects/{SUBJECT}/erase")
    assert (first.status_code, again.status_code) == (200, 200), (first.text, again.text)
    assert (first.json()["recorded"], again.json()["recorded"]) == (True, False)
    assert first.json()["erased_at"] == again.json()["erased_at"]
    assert (first.json()["images_deleted"], again.json()["images_deleted"]) == (3, 0)

    # Erasure deleted the images too (DONATELLO_ERASE_IMAGES defaults to true), for every
    # reader; the log keeps their hashes, so the trail still verifies.
    for gid in images:
        assert admin.get(f"/api/v1/generations/{gid}").json()["image_url"] is None
        for reader in (subject, admin):
            gone = reader.get(f"/api/v1/generations/{gid}/image")
            assert gone.status_code == 404, gone.text
            assert gone.headers["content-type"].startswith("application/problem+json")
    assert not any(
        path.suffix == ".png"
        for path in (platform.data_dir / "images").rglob("*")
        if any(gid in path.name for gid in images)
    )
    assert other.get(f"/api/v1/generations/{kept['id']}/image").status_code == 200
    verified = officer.post("/api/v1/audit/verify", json={})
    assert verified.status_code == 200, verified.text
    assert (verified.json()["ok"], verified.json()["problems"]) == (True, [])

    responses = [
        *(subject.get(f"/api/v1/generations/{gid}") for gid in ids),
        *(admin.get(f"/api/v1/generations/{gid}") for gid in ids),
        subject.get("/api/v1/generations", params={"limit": 100}),
        admin.get("/api/v1/generations", params={"limit": 100}),
        admin.get(f"/api/v1/budgets/{DEPARTMENT}"),
        admin.get("/api/v1/budgets"),
        admin.get("/api/v1/budgets", params={"format": "csv"}),
        subject.get("/api/v1/quota"),
        officer.get(f"/api/v1/audit/streams/{privacy_stream(SUBJECT)}"),
        officer.get("/api/v1/audit/events", params={"type": "SubjectErased"}),
    ]
    for response in responses:
        assert response.status_code == 200, response.text
        assert holds_prompt_text(response.text) == [], response.url

    exported = officer.get(f"/api/v1/privacy/subjects/{SUBJECT}/export")
    assert exported.status_code == 200
    assert exported.headers["Cache-Control"] == "no-store"
    assert holds_prompt_text(exported.text) == []
    export = exported.json()
    assert export["erased"] is True
    assert export["erased_at"] == first.json()["erased_at"]
    assert {g["id"] for g in export["generations"]} == ids
    assert export["retention_years"] == 7
    for entry in export["generations"]:
        created = datetime.fromisoformat(entry["created_at"])
        assert datetime.fromisoformat(entry["retained_until"]).year == created.year + 7
    assert all(g["prompt"] == "[erased]" and g["prompt_erased"] for g in export["generations"])
    assert {c["generation_id"] for c in export["budget_charges"]} == {o["id"] for o in outcomes}
    assert sum(u["images"] for u in export["quota_usage"]) == 4

    # Someone else's prompts are untouched, and the erased subject may come back.
    assert (
        other.get(f"/api/v1/privacy/subjects/{OTHER}/export").json()["generations"][0]["prompt"]
        == OTHER_PROMPT
    )
    later = generate(platform, subject, LATER_PROMPT)
    wait_for_history(subject, ids | {later["id"]})
    comeback = {
        g["id"]: g["prompt"]
        for g in subject.get(f"/api/v1/privacy/subjects/{SUBJECT}/export").json()["generations"]
    }
    assert comeback == {**dict.fromkeys(ids, "[erased]"), later["id"]: LATER_PROMPT}
    assert subject.get(f"/api/v1/generations/{later['id']}/image").status_code == 200

    stream = officer.get(f"/api/v1/audit/streams/{privacy_stream(SUBJECT)}").json()["events"]
    (erasure,) = [event for event in stream if event["type"] == "SubjectErased"]
    assert set(erasure["data"]["reason"]) == {"subject_id", "nonce", "ciphertext"}
    assert files_holding_prompt_text(platform.data_dir) == {}
    assert broken_chains(SqliteEventStore(platform.data_dir / "events.db")) == []


def test_only_the_subject_and_privacy_officers_may_export(platform: RunningPlatform) -> None:
    path = f"/api/v1/privacy/subjects/{SUBJECT}/export"
    for user, roles in [
        (OTHER, ["Generator.Standard"]),
        ("finn", ["Finance.Reader"]),
        ("dora", ["Dept.Manager"]),
    ]:
        denied = client(platform, user, roles).get(path)
        assert denied.status_code == 403, (user, denied.text)
    for user, roles in [(SUBJECT, ["Generator.Power"]), ("ada", ["Org.Admin"])]:
        assert client(platform, user, roles).get(path).status_code == 200


def test_erasure_needs_the_privacy_right(platform: RunningPlatform) -> None:
    path = f"/api/v1/privacy/subjects/{OTHER}/erase"
    for roles in (["Generator.Power"], ["Dept.Manager"], ["Finance.Reader"]):
        assert client(platform, "mallory", roles).post(path).status_code == 403
    too_long = client(platform, "ada", ["Platform.Admin"]).post(path, json={"reason": "x" * 201})
    assert too_long.status_code == 422
    assert json.loads(too_long.text)["type"].endswith("/validation-error")


def test_with_erase_images_off_an_erased_persons_images_stay(tmp_path: Path) -> None:
    with running_platform(tmp_path, DONATELLO_ERASE_IMAGES="false") as platform:
        subject = client(platform, SUBJECT, ["Generator.Standard"])
        officer = client(platform, OFFICER, ["Compliance.Auditor"])
        outcome = generate(platform, subject, CHARGED_PROMPTS[0])
        wait_for_history(subject, {outcome["id"]})
        image = subject.get(f"/api/v1/generations/{outcome['id']}/image")
        assert image.status_code == 200

        erased = officer.post(f"/api/v1/privacy/subjects/{SUBJECT}/erase")
        assert (erased.status_code, erased.json()["images_deleted"]) == (200, 0)
        assert subject.get(f"/api/v1/generations/{outcome['id']}").json()["image_url"]
        kept = subject.get(f"/api/v1/generations/{outcome['id']}/image")
        assert (kept.status_code, kept.content) == (200, image.content)
