"""The audit trail's HTTP routes and `donatello audit` against the real embedded platform:
a real generation's stream as recorded, the NDJSON feed with its filters and pages, who
may read, every read recorded, and the CLI's replay and CSV export of the same log."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from domain.envelope import canonical_json
from tests.platform_process import RunningPlatform, running_platform

DEPARTMENT = "studio"
PROMPT = "a cobalt teapot on a windowsill"


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    with running_platform(tmp_path_factory.mktemp("audit")) as running:
        admin = running.client(running.token("ada", ["Platform.Admin"], None))
        limit = {"monthly_limit_aud": "5.00", "enforcement": "hard"}
        assert admin.put(f"/api/v1/budgets/{DEPARTMENT}", json=limit).status_code == 200
        yield running


@pytest.fixture(scope="module")
def generation_id(platform: RunningPlatform) -> str:
    alice = platform.client(platform.token("alice", ["Generator.Power"], DEPARTMENT))
    accepted = alice.post("/api/v1/generations", json={"prompt": PROMPT, "model": "local-sketch"})
    assert accepted.status_code == 202, accepted.text
    final = platform.wait_terminal(alice, accepted.json()["id"])
    assert final["status"] == "charged", final
    return str(accepted.json()["id"])


def auditor(platform: RunningPlatform, user: str = "carol") -> httpx.Client:
    return platform.client(platform.token(user, ["Compliance.Auditor"], None))


def lines(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.headers["content-type"] == "application/x-ndjson"
    return [json.loads(line) for line in response.text.splitlines()]


def test_an_auditor_reads_a_generation_stream_as_it_was_recorded(
    platform: RunningPlatform, generation_id: str
) -> None:
    response = auditor(platform).get(f"/api/v1/audit/streams/generation-{generation_id}")

    assert response.status_code == 200, response.text
    events = response.json()["events"]
    assert [e["type"] for e in events] == [
        "GenerationRequested",
        "PromptScreened",
        "GenerationRouted",
        "ImageGenerated",
        "GenerationCharged",
    ]
    assert [e["version"] for e in events] == [1, 2, 3, 4, 5]
    for previous, event in zip([None, *events], events, strict=False):
        unhashed = {key: value for key, value in event.items() if key != "hash"}
        assert hashlib.sha256(canonical_json(unhashed).encode()).hexdigest() == event["hash"]
        if previous is not None:
            assert event["prev_hash"] == previous["hash"]
    assert set(events[0]["data"]["prompt"]) == {"subject_id", "nonce", "ciphertext"}
    assert PROMPT not in response.text  # the prompt stays sealed in an audit read
    story = response.json()["story"]  # `donatello audit replay`'s lines, one per event
    assert len(story) == 5
    assert all(line.startswith(f"v{n} ") for n, line in enumerate(story, start=1))
    assert "charged" in story[-1]


def test_only_auditors_and_admins_may_read_the_log(
    platform: RunningPlatform, generation_id: str
) -> None:
    route = f"/api/v1/audit/streams/generation-{generation_id}"
    outsiders = [
        ("alice", ["Generator.Power"], DEPARTMENT),
        ("mo", ["Dept.Manager"], DEPARTMENT),
        ("fiona", ["Finance.Reader"], "finance"),
    ]
    for user, roles, department in outsiders:
        client = platform.client(platform.token(user, roles, department))
        assert client.get(route).status_code == 403
        assert client.get("/api/v1/audit/events").status_code == 403
    assert platform.client(None).get(route).status_code == 401
    admin = platform.client(platform.token("ada", ["Platform.Admin"], None))
    assert admin.get(route).status_code == 200
    assert auditor(platform).get("/api/v1/audit/streams/generation-nope").status_code == 404


def test_the_feed_filters_by_type_user_department_and_time(
    platform: RunningPlatform, generation_id: str
) -> None:
    client = auditor(platform)
    types = {"GenerationRequested", "GenerationCharged"}

    by_type = lines(client.get("/api/v1/audit/events", params={"type": sorted(types)}))
    by_alice = lines(client.get("/api/v1/audit/events", params={"user_id": "alice"}))
    by_department = lines(client.get("/api/v1/audit/events", params={"department_id": DEPARTMENT}))
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    none_yet = client.get("/api/v1/audit/events", params={"from": future})
    past = datetime.now(UTC) - timedelta(hours=1)
    window = {"from": past.isoformat(), "to": future, "type": "GenerationRequested"}
    in_window = lines(client.get("/api/v1/audit/events", params=window))

    stream = f"generation-{generation_id}"
    assert {e["type"] for e in by_type} == types
    assert {(e["stream_id"], e["type"]) for e in by_type} >= {
        (stream, "GenerationRequested"),
        (stream, "GenerationCharged"),
    }
    assert by_alice
    assert {e["actor"]["user_id"] for e in by_alice} == {"alice"}
    assert (stream, 1) in {(e["stream_id"], e["version"]) for e in by_alice}
    assert by_department
    assert {e["data"]["department_id"] for e in by_department} == {DEPARTMENT}
    assert {e["type"] for e in by_department} >= {"BudgetSet", "GenerationRequested"}
    assert lines(none_yet) == []
    assert [e["stream_id"] for e in in_window] == [stream]


def test_subject_id_finds_every_event_of_the_persons_generations(
    platform: RunningPlatform, generation_id: str
) -> None:
    client = auditor(platform)
    stream = f"generation-{generation_id}"
    by_actor = lines(client.get("/api/v1/audit/events", params={"user_id": "alice"}))
    about = lines(client.get("/api/v1/audit/events", params={"subject_id": "alice"}))
    # Paged one event at a time, so each page starts after the request was seen.
    paged: list[dict[str, Any]] = []
    url: str | None = "/api/v1/audit/events?limit=1&subject_id=alice"
    while url:
        response = client.get(url)
        paged += lines(response)
        url = response.links.get("next", {}).get("url")

    assert [e["version"] for e in by_actor if e["stream_id"] == stream] == [1]
    for found in (about, paged):
        assert [e["version"] for e in found if e["stream_id"] == stream] == [1, 2, 3, 4, 5]
        charged = {e["type"] for e in found if e["stream_id"].startswith("budget-")}
        assert "CostCharged" in charged
        assert all(
            e["data"].get("user_id") == "alice"
            for e in found
            if e["stream_id"].startswith("budget-")
        )
    assert {e["event_id"] for e in paged} == {e["event_id"] for e in about}


def test_an_unknown_type_is_a_400_naming_the_types(platform: RunningPlatform) -> None:
    response = auditor(platform).get(
        "/api/v1/audit/events", params={"type": "GenerationCharged,NoSuchType"}
    )
    assert response.status_code == 400
    assert response.json()["type"].endswith("/invalid-parameter")
    detail = response.json()["detail"]
    assert "NoSuchType" in detail
    assert all(name in detail for name in ("GenerationRequested", "CostCharged", "AuditLogRead"))


def test_a_persons_streams_are_listed_with_their_counts_as_a_recorded_read(
    platform: RunningPlatform, generation_id: str
) -> None:
    period = datetime.now(UTC).astimezone(ZoneInfo("Australia/Sydney")).strftime("%Y-%m")
    erin = auditor(platform, "erin")
    listed = erin.get("/api/v1/audit/subjects/alice/streams")

    assert listed.status_code == 200, listed.text
    assert listed.json()["subject_id"] == "alice"
    streams = {s["stream_id"]: s for s in listed.json()["streams"]}
    assert streams[f"generation-{generation_id}"] == {
        "stream_id": f"generation-{generation_id}",
        "kind": "generation",
        "events": 5,
    }
    budget = streams[f"budget-{DEPARTMENT}-{period}"]
    assert (budget["kind"], budget["events"]) == ("budget", 2)  # reserved, then charged
    nobody = erin.get("/api/v1/audit/subjects/nobody-at-all/streams")
    assert nobody.json() == {"subject_id": "nobody-at-all", "streams": []}
    requester = platform.client(platform.token("alice", ["Generator.Power"], DEPARTMENT))
    assert requester.get("/api/v1/audit/subjects/alice/streams").status_code == 403

    today = datetime.now(UTC).date().isoformat()
    read_log = auditor(platform).get(f"/api/v1/audit/streams/audit-reads-{today}").json()
    by_erin = [e["data"] for e in read_log["events"] if e["actor"]["user_id"] == "erin"]
    assert [read["what"] for read in by_erin] == [
        {"route": "v1/audit/subjects/{user_id}/streams", "subject_id": "alice"},
        {"route": "v1/audit/subjects/{user_id}/streams", "subject_id": "nobody-at-all"},
    ]
    assert by_erin[0]["count"] == sum(s["events"] for s in streams.values())


def test_the_feed_refuses_bad_parameters(platform: RunningPlatform) -> None:
    client = auditor(platform)
    for params in (
        {"from": "2026-11-23T10:00:00"},  # no offset
        {"to": "yesterday"},
        {"limit": "0"},
        {"limit": "1001"},
        {"after": "not-a-cursor"},
    ):
        response = client.get("/api/v1/audit/events", params=params)
        assert response.status_code == 400, params
        assert response.headers["content-type"] == "application/problem+json"


def test_the_feed_pages_follow_their_next_links_through_the_whole_log(
    platform: RunningPlatform, generation_id: str
) -> None:
    client = auditor(platform)
    seen: list[tuple[str, int]] = []
    types = ["GenerationRequested", "PromptScreened", "GenerationRouted", "ImageGenerated"]
    types += ["GenerationCharged", "BudgetSet", "CostReserved", "CostCharged"]
    url: str | None = "/api/v1/audit/events?limit=3&type=" + ",".join(types)
    pages = 0
    while url is not None:
        response = client.get(url)
        page = lines(response)
        assert len(page) <= 3
        assert response.headers["audit-after"]
        # The console on another origin (Azure) may read the paging headers.
        exposed = {
            h.strip().lower() for h in response.headers["access-control-expose-headers"].split(",")
        }
        assert {"link", "audit-after"} <= exposed
        seen.extend((e["stream_id"], e["version"]) for e in page)
        pages += 1
        next_link = response.links.get("next")
        url = None if next_link is None else next_link["url"]

    assert pages > 2
    assert len(seen) == len(set(seen))  # no event twice
    stream = f"generation-{generation_id}"
    assert [version for stream_id, version in seen if stream_id == stream] == [1, 2, 3, 4, 5]


def test_every_read_is_in_the_log_with_its_reader(
    platform: RunningPlatform, generation_id: str
) -> None:
    dana = auditor(platform, "dana")
    assert dana.get(f"/api/v1/audit/streams/generation-{generation_id}").status_code == 200
    assert dana.get("/api/v1/audit/events", params={"user_id": "alice"}).status_code == 200

    today = datetime.now(UTC).date().isoformat()
    read_log = auditor(platform).get(f"/api/v1/audit/streams/audit-reads-{today}").json()
    by_dana = [e for e in read_log["events"] if e["actor"]["user_id"] == "dana"]

    assert [e["type"] for e in by_dana] == ["AuditLogRead", "AuditLogRead"]
    stream_read, feed_read = (e["data"] for e in by_dana)
    assert stream_read["what"] == {"stream_id": f"generation-{generation_id}"}
    assert stream_read["count"] == 5
    assert stream_read["roles"] == ["Compliance.Auditor"]
    assert feed_read["what"]["route"] == "v1/audit/events"
    assert feed_read["what"]["filters"] == {"user_id": "alice"}
    assert feed_read["count"] is None


def donatello(platform: RunningPlatform, *args: str) -> subprocess.CompletedProcess[str]:
    return platform.command(*args)


def test_the_cli_replays_a_generation_and_its_budget_month(
    platform: RunningPlatform, generation_id: str
) -> None:
    stream = f"generation-{generation_id}"
    story = donatello(platform, "audit", "replay", stream, "--as", "erin")
    assert story.returncode == 0, story.stderr
    told = story.stdout.splitlines()
    routed = auditor(platform).get(f"/api/v1/audit/streams/{stream}").json()["events"][2]
    budget_stream = routed["data"]["budget_stream_id"]
    month = donatello(platform, "audit", "replay", budget_stream)
    unknown = donatello(platform, "audit", "replay", "generation-nope")

    assert len(told) == 5
    assert told[0].startswith("v1 ")
    assert told[0].endswith(
        "requested by alice (studio): 1024x1024 standard, asked for local-sketch → requested"
    )
    assert told[1].endswith("→ screened")
    assert "routed to local-sketch on local" in told[2]
    assert told[4].endswith(f"charged 0.0100 AUD to {budget_stream} → charged")
    assert PROMPT not in story.stdout
    assert month.returncode == 0, month.stderr
    assert (
        f"charged 0.0100 AUD for generation {generation_id} (alice, local-sketch)" in month.stdout
    )
    assert "→ spent 0.0100 AUD of 5.0000 AUD, reserved 0.0000 AUD" in month.stdout
    assert unknown.returncode == 1
    assert "no stream" in unknown.stderr


def test_the_cli_exports_csv_that_matches_the_api(
    platform: RunningPlatform, generation_id: str, tmp_path: Any
) -> None:
    target = tmp_path / "requests.csv"
    exported = donatello(
        platform,
        "audit",
        "export",
        "--type",
        "GenerationRequested",
        "--type",
        "GenerationCharged",
        "--user",
        "alice",
        "--format",
        "csv",
        "--output",
        str(target),
        "--as",
        "frank",
    )
    assert exported.returncode == 0, exported.stderr
    rows = list(csv.DictReader(io.StringIO(target.read_text(), newline="")))
    stream = f"generation-{generation_id}"
    recorded = auditor(platform).get(f"/api/v1/audit/streams/{stream}").json()["events"]

    ours = [row for row in rows if row["stream_id"] == stream]
    assert [row["type"] for row in ours] == ["GenerationRequested"]  # charged by the system
    assert ours[0]["hash"] == recorded[0]["hash"]
    assert json.loads(ours[0]["data"]) == recorded[0]["data"]
    assert {row["actor_user_id"] for row in rows} == {"alice"}
    assert f"exported {len(rows)} events" in exported.stderr
    today = datetime.now(UTC).date().isoformat()
    read_log = auditor(platform).get(f"/api/v1/audit/streams/audit-reads-{today}").json()
    (frank,) = [e for e in read_log["events"] if e["actor"]["user_id"] == "frank"]
    assert frank["data"]["what"]["command"] == "audit export"
    assert frank["data"]["what"]["filters"]["types"] == ["GenerationCharged", "GenerationRequested"]


def test_the_cli_exports_every_event_about_a_subject_and_refuses_unknown_types(
    platform: RunningPlatform, generation_id: str
) -> None:
    about = donatello(platform, "audit", "export", "--subject", "alice")
    assert about.returncode == 0, about.stderr
    events = [json.loads(line) for line in about.stdout.splitlines()]
    stream = f"generation-{generation_id}"
    assert [e["version"] for e in events if e["stream_id"] == stream] == [1, 2, 3, 4, 5]

    unknown = donatello(platform, "audit", "export", "--type", "NoSuchType")
    assert unknown.returncode == 2
    assert "NoSuchType" in unknown.stderr
    assert "GenerationCharged" in unknown.stderr
