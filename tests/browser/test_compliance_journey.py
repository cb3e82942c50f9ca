"""A compliance officer verifies the log, reads one generation's stream with its hashes,
exports the feed, answers a subject-access request and erases a person; then verifies a
tampered copy of the store and sees the forged event named."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from pathlib import Path

from playwright.sync_api import expect

from tests.browser.console import ConsolePage
from tests.platform_process import RunningPlatform, running_platform

AUDITOR = ["Compliance.Auditor"]


def generate(platform: RunningPlatform, user: str, key: str) -> str:
    with platform.client(platform.token(user, ["Generator.Standard"], "legal")) as client:
        accepted = client.post(
            "/api/v1/generations",
            json={"prompt": "a courthouse at noon", "size": "1024x1024"},
            headers={"Idempotency-Key": key},
        )
        assert accepted.status_code == 202, accepted.text
        generation_id: str = accepted.json()["id"]
        platform.wait_terminal(client, generation_id)
        return generation_id


def test_a_compliance_officer_verifies_browses_exports_and_erases(
    console: ConsolePage, platform: RunningPlatform
) -> None:
    generation_id = generate(platform, "erin", "legal-1")
    page = console.page
    console.open()
    console.sign_in("carl", AUDITOR, None)
    expect(page).to_have_url(re.compile(r"/audit$"))

    page.get_by_role("button", name="Run audit verify").click()
    expect(page.get_by_test_id("verify-report")).to_contain_text("The log is intact")

    page.get_by_label("Generation id or stream id").fill(generation_id)
    page.get_by_role("button", name="Show events").click()
    events = page.get_by_role("table", name=re.compile(f"generation-{generation_id}"))
    expect(events.get_by_role("row", name=re.compile(r"^1 GenerationRequested"))).to_be_visible()
    expect(events).to_contain_text("GenerationCharged")
    story = page.get_by_test_id("story").get_by_role("listitem")
    expect(story).to_have_count(5)  # `donatello audit replay`'s lines, one per event
    expect(story.first).to_contain_text(re.compile(r"^v1 "))

    page.get_by_label("Event type").fill("AuditLogRead")
    with page.expect_download() as feed:
        page.get_by_role("button", name="Export events").click()
    lines = Path(feed.value.path()).read_text(encoding="utf-8").splitlines()
    reads = [json.loads(line) for line in lines]
    assert reads
    assert {r["type"] for r in reads} == {"AuditLogRead"}
    assert any(r["actor"]["user_id"] == "carl" for r in reads)  # the stream read just now

    page.get_by_label("Person (user id)").fill("erin")
    with page.expect_download() as held:
        page.get_by_role("button", name="Download everything held about them").click()
    assert "erin" in Path(held.value.path()).read_text(encoding="utf-8")
    erase = page.get_by_role("button", name="Erase erin")
    expect(erase).to_be_disabled()
    page.get_by_label("Type the user id again to confirm").fill("erin")
    console.check("audit")
    erase.click()
    expect(page.get_by_role("status").filter(has_text="Erased at")).to_be_visible()


def tampered_copy(source: Path, target: Path, stream_id: str) -> None:
    """The platform's data folder copied, with one event's data changed as someone with
    file access would: append-only triggers dropped, the row updated, the hash kept."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("*.db", "*.db-*", "*.log"))
    for database in source.glob("*.db"):
        with sqlite3.connect(database) as live:
            copy = sqlite3.connect(target / database.name, isolation_level=None)
            live.backup(copy)
            copy.close()
    events = sqlite3.connect(target / "events.db", isolation_level=None)
    events.execute("DROP TRIGGER events_are_never_updated")
    events.execute(
        "UPDATE events SET data = replace(data, 'local-sketch', 'local-studio') "
        "WHERE stream_id = ? AND version = 3",
        (stream_id,),
    )
    events.close()


def test_verify_names_the_forged_event_in_a_tampered_copy(
    console: ConsolePage, platform: RunningPlatform, tmp_path: Path
) -> None:
    generation_id = generate(platform, "frank", "legal-2")
    stream_id = f"generation-{generation_id}"
    tampered_copy(platform.data_dir, tmp_path / "tampered", stream_id)
    with running_platform(tmp_path / "tampered") as copy:
        console.base_url = copy.url
        page = console.page
        console.open()
        console.sign_in("carl", AUDITOR, None)
        page.get_by_role("button", name="Run audit verify").click()
        report = page.get_by_test_id("verify-report")
        expect(report).to_contain_text("The log has been tampered with")
        problem = report.get_by_role("row", name=re.compile(re.escape(stream_id)))
        expect(problem).to_contain_text("modified")
        expect(problem.get_by_role("cell").nth(1)).to_have_text("3")
        console.check("audit-tampered")
