"""Four holes an outside review found at the API's edge, probed over real HTTP on the
embedded default: integers past what the stores hold, an existence oracle on
generation ids, DNS lookups through `callback_url`, and URLs built from `Host`."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.platform_process import RunningPlatform, running_platform

PROBLEMS = "https://donatello.ai/problems/"
PUBLIC_BASE_URL = "https://images.example.test/donatello"
AUDITOR = ("olga", ["Compliance.Auditor"], None)
OWNER = ("dora", ["Generator.Standard"], "design")


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    # DONATELLO_DAILY_IMAGE_QUOTA small, so the refused callbacks below can use it up.
    with running_platform(
        tmp_path_factory.mktemp("review-edges"),
        DONATELLO_DAILY_IMAGE_QUOTA="4",
        DONATELLO_PUBLIC_BASE_URL=PUBLIC_BASE_URL + "/",
    ) as running:
        yield running


# --- integers past what the stores hold ---------------------------------------------------

TOO_BIG = "99999999999999999999999999"
INT64_PAST = str(2**63)


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/v1/audit/events", {"after": TOO_BIG}),
        ("/api/v1/audit/events", {"after": INT64_PAST}),
        ("/api/v1/audit/events", {"after": f"2026-11-23T10:00:00.000000Z|{TOO_BIG}|s"}),
        ("/api/v1/audit/events", {"after": "-1"}),
        ("/api/v1/audit/events", {"limit": TOO_BIG}),
        ("/api/v1/audit/events", {"limit": "-1"}),
        ("/api/v1/generations", {"limit": TOO_BIG}),
        ("/api/v1/generations", {"limit": "1e3"}),
    ],
)
def test_an_integer_query_parameter_out_of_bounds_is_a_400(
    platform: RunningPlatform, path: str, params: dict[str, str]
) -> None:
    auditor = platform.client(platform.token(*AUDITOR))
    answer = auditor.get(path, params=params)
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["type"] == PROBLEMS + "invalid-parameter"


@pytest.mark.parametrize("since", [10**30, 2**63, -(2**63) - 1, 0])
def test_an_integer_in_a_body_out_of_bounds_is_a_422(platform: RunningPlatform, since: int) -> None:
    auditor = platform.client(platform.token(*AUDITOR))
    answer = auditor.post("/api/v1/audit/verify", json={"since": since})
    assert answer.status_code == 422, answer.text
    assert answer.json()["type"] == PROBLEMS + "validation-error"


# --- the existence oracle on generation ids -----------------------------------------------


def test_a_generation_the_caller_may_not_see_answers_as_a_missing_one(
    platform: RunningPlatform,
) -> None:
    owner = platform.client(platform.token(*OWNER))
    existing = _keyed_request(owner, "a heron", "k-1")
    assert platform.wait_terminal(owner, existing)["status"] == "charged"
    missing = str(uuid.uuid4())
    askers = {
        "a requester of the same department": ("erin", ["Generator.Standard"], "design"),
        "a manager of another department": ("max", ["Dept.Manager"], "sales"),
    }
    for who, caller in askers.items():
        client = platform.client(platform.token(*caller))
        for route in ("/api/v1/generations/{}", "/api/v1/generations/{}/image"):
            seen = client.get(route.format(existing))
            unseen = client.get(route.format(missing))
            assert seen.status_code == unseen.status_code == 404, (who, route, seen.text)
            assert seen.json() == json.loads(unseen.text.replace(missing, existing)), who
    # A role that reads no generation at all learns nothing either: one answer for both.
    finance = platform.client(platform.token("fay", ["Finance.Reader"], None))
    answers = {finance.get(f"/api/v1/generations/{i}").status_code for i in (existing, missing)}
    assert len(answers) == 1
    # The refusal is still in the host's log, under the request's correlation id.
    denied = platform.client(platform.token("erin", ["Generator.Standard"], "design")).get(
        f"/api/v1/generations/{existing}", headers={"X-Correlation-Id": "probe-erin-1"}
    )
    assert denied.status_code == 404
    refusals = [
        line
        for line in map(json.loads, _log_lines(platform))
        if line.get("correlation_id") == "probe-erin-1" and "denied" in line["message"]
    ]
    assert refusals, "the refusal behind the 404 is not logged"
    assert "generation.read" in refusals[0]["message"]


def test_ids_from_an_idempotency_key_are_not_the_predictable_uuid5(
    platform: RunningPlatform,
) -> None:
    owner = platform.client(platform.token(*OWNER))
    accepted = _keyed_request(owner, "an egret", "k-2")
    old_namespace = uuid.UUID("6f1c2f0e-5d0b-4c1e-9a7e-2b1f3c4d5e6f")  # the one in the source
    assert accepted != str(uuid.uuid5(old_namespace, "dora\nk-2"))
    # Still one generation per key: the retry answers the same id.
    assert _keyed_request(owner, "an egret", "k-2") == accepted
    uuid.UUID(accepted)  # still a UUID
    # Keyed by a platform key made once in the data folder, readable by its owner only.
    keys = platform.data_dir / "platform-keys.json"
    assert "generation-id-key" in json.loads(keys.read_text())["keys"]
    assert keys.stat().st_mode & 0o777 == 0o600


# --- DNS lookups through callback_url -----------------------------------------------------

REFUSED_DESTINATIONS = [
    "https://localhost/x",  # resolves to loopback
    "https://no-such-host.invalid/x",  # does not resolve
    "https://10.0.0.5/x",  # a private literal
    "https://169.254.169.254/x",  # link-local
]


def test_every_refused_destination_answers_the_same_and_costs_a_unit(
    platform: RunningPlatform,
) -> None:
    prober = platform.client(platform.token("pete", ["Generator.Standard"], "design"))
    details = set()
    for url in REFUSED_DESTINATIONS:
        answer = prober.post("/api/v1/generations", json={"prompt": "a fox", "callback_url": url})
        assert answer.status_code == 422, answer.text
        assert answer.json()["type"] == PROBLEMS + "invalid-callback-url"
        details.add(answer.json().get("detail"))
    assert len(details) == 1, details
    # Each probe took a unit of the daily quota (4): the next is refused for the rate.
    assert prober.get("/api/v1/quota").json()["used"] == len(REFUSED_DESTINATIONS)
    over = prober.post(
        "/api/v1/generations", json={"prompt": "a fox", "callback_url": REFUSED_DESTINATIONS[0]}
    )
    assert over.status_code == 429, over.text
    # And each refusal is on the record, with what was refused and why.
    auditor = platform.client(platform.token(*AUDITOR))
    feed = auditor.get("/api/v1/audit/events", params={"type": "DestinationRefused"})
    assert feed.status_code == 200, feed.text
    refused = [json.loads(line) for line in feed.text.splitlines()]
    mine = [e for e in refused if e["data"]["user_id"] == "pete"]
    assert len(mine) == len(REFUSED_DESTINATIONS)
    assert {e["data"]["field"] for e in mine} == {"callback_url"}
    assert any("loopback" in e["data"]["reason"] for e in mine)
    assert any("resolve" in e["data"]["reason"] for e in mine)


# --- URLs built from the Host header ------------------------------------------------------


def test_status_url_location_and_image_url_start_with_the_public_base_url(
    platform: RunningPlatform,
) -> None:
    owner = platform.client(platform.token(*OWNER))
    evil = {"Host": "evil.example"}
    accepted = owner.post("/api/v1/generations", json={"prompt": "a crane"}, headers=evil)
    assert accepted.status_code == 202, accepted.text
    body = accepted.json()
    expected = f"{PUBLIC_BASE_URL}/api/v1/generations/{body['id']}"  # whatever Host said
    assert body["status_url"] == expected
    assert accepted.headers["Location"] == expected
    final = platform.wait_terminal(owner, body["id"])
    view = owner.get(f"/api/v1/generations/{body['id']}", headers=evil).json()
    assert final["status"] == "charged"
    assert view["image_url"] == f"{expected}/image"
    assert "evil.example" not in owner.get(f"/api/v1/generations/{body['id']}").text


def _keyed_request(client: httpx.Client, prompt: str, key: str) -> str:
    """The id of the generation `prompt` was accepted as, under Idempotency-Key `key`."""
    accepted = client.post(
        "/api/v1/generations", json={"prompt": prompt}, headers={"Idempotency-Key": key}
    )
    assert accepted.status_code == 202, accepted.text
    return str(accepted.json()["id"])


def _log_lines(platform: RunningPlatform) -> list[str]:
    return [line for line in platform.log_path.read_text().splitlines() if line.startswith("{")]
