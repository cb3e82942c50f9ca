"""The whole pipeline on the embedded default, over real HTTP, from POST to charged PNG."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.platform_process import RunningPlatform, running_platform

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
REQUESTER = ("alice", ["Generator.Standard"], "marketing")


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    with running_platform(tmp_path_factory.mktemp("platform")) as running:
        yield running


def alice(platform: RunningPlatform) -> Any:
    return platform.client(platform.token(*REQUESTER))


def wait_for_budget_spend(platform: RunningPlatform, department: str) -> dict[str, Any]:
    manager = platform.client(platform.token("bob", ["Dept.Manager"], department))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        budget: dict[str, Any] = manager.get(f"/api/v1/budgets/{department}").json()
        if Decimal(budget["spent_aud"]) > 0:
            return budget
        time.sleep(0.1)
    raise AssertionError(f"budget shows no spend: {budget}")


def test_a_prompt_becomes_a_charged_png_and_the_budget_shows_the_spend(
    platform: RunningPlatform,
) -> None:
    client = alice(platform)
    accepted = client.post(
        "/api/v1/generations", json={"prompt": "a watercolour lighthouse at dawn"}
    )
    assert accepted.status_code == 202, accepted.text
    body = accepted.json()
    assert body["status"] == "screened"  # screened at the door, before the 202
    assert body["status_url"].endswith(f"/api/v1/generations/{body['id']}")

    final = platform.wait_terminal(client, body["id"])
    assert final["status"] == "charged", final
    assert Decimal(final["cost_aud"]) > 0
    image = client.get(final["image_url"])
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/png"
    assert image.content.startswith(PNG_SIGNATURE)

    budget = wait_for_budget_spend(platform, "marketing")
    assert Decimal(budget["spent_aud"]) >= Decimal(final["cost_aud"])
    assert Decimal(budget["remaining_aud"]) == Decimal(budget["limit_aud"]) - Decimal(
        budget["spent_aud"]
    ) - Decimal(budget["reserved_aud"])


def test_an_email_is_redacted_and_a_card_number_rejected(platform: RunningPlatform) -> None:
    client = alice(platform)
    email = client.post(
        "/api/v1/generations",
        json={"prompt": "a poster for jane.citizen@example.com in art deco style"},
    ).json()
    card = client.post(
        "/api/v1/generations",
        json={"prompt": "a birthday card for card 4111 1111 1111 1111 please"},
    )
    redacted = platform.wait_terminal(client, email["id"])
    assert redacted["status"] == "charged"
    assert redacted["screening"] == {"outcome": "redacted", "entity_types": ["EMAIL_ADDRESS"]}
    assert card.status_code == 422, card.text  # refused at once, no polling
    assert card.headers["content-type"] == "application/problem+json"
    assert card.json()["type"].endswith("/prompt-rejected")
    assert card.json()["detail"] == "personal_data: CREDIT_CARD"
    assert "4111" not in card.text
    rejected = client.get(f"/api/v1/generations/{card.json()['generation_id']}").json()
    assert rejected["status"] == "rejected"
    assert "CREDIT_CARD" in rejected["reason"]
    assert rejected["cost_aud"] is None


def test_idempotency_key_gives_one_generation_and_409_for_another_body(
    platform: RunningPlatform,
) -> None:
    client = alice(platform)
    headers = {"Idempotency-Key": "order-42"}
    first = client.post("/api/v1/generations", json={"prompt": "a red kite"}, headers=headers)
    again = client.post("/api/v1/generations", json={"prompt": "a red kite"}, headers=headers)
    other = client.post("/api/v1/generations", json={"prompt": "a blue kite"}, headers=headers)
    assert first.status_code == again.status_code == 202
    assert first.json()["id"] == again.json()["id"]
    assert other.status_code == 409
    assert other.headers["content-type"] == "application/problem+json"
    assert other.json()["type"].endswith("/idempotency-conflict")


BAD_BODIES: list[tuple[str, Any, int, str]] = [
    ("missing prompt", {"size": "1024x1024"}, 422, "validation-error"),
    ("prompt too long", {"prompt": "x" * 4001}, 422, "validation-error"),
    ("unknown size", {"prompt": "a cat", "size": "5x5"}, 422, "validation-error"),
    ("unknown field", {"prompt": "a cat", "colour": "red"}, 422, "validation-error"),
    ("not JSON", b"{prompt: nope", 400, "malformed-json"),
    ("over 1 MB", b'{"prompt": "' + b"x" * 1_100_000 + b'"}', 413, "payload-too-large"),
]


@pytest.mark.parametrize(
    ("case", "body", "status", "slug"), BAD_BODIES, ids=[b[0] for b in BAD_BODIES]
)
def test_bad_input_gets_the_right_problem(
    platform: RunningPlatform, case: str, body: Any, status: int, slug: str
) -> None:
    client = alice(platform)
    if isinstance(body, bytes):
        response = client.post(
            "/api/v1/generations", content=body, headers={"Content-Type": "application/json"}
        )
    else:
        response = client.post("/api/v1/generations", json=body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status
    assert problem["type"].endswith("/" + slug)
    assert "Traceback" not in response.text


def test_tokens_roles_and_departments_are_enforced(platform: RunningPlatform) -> None:
    own = alice(platform)
    created = own.post("/api/v1/generations", json={"prompt": "a quiet harbour"}).json()

    anonymous = platform.client(None).get(f"/api/v1/generations/{created['id']}")
    garbage = platform.client("not-a-jwt").get(f"/api/v1/generations/{created['id']}")
    expired_token = platform.token(*REQUESTER, ttl=timedelta(seconds=-600))
    expired = platform.client(expired_token).get(f"/api/v1/generations/{created['id']}")
    for response in (anonymous, garbage, expired):
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"

    finance = platform.client(platform.token("fred", ["Finance.Reader"], "finance"))
    wrong_role = finance.post("/api/v1/generations", json={"prompt": "a ledger"})
    assert wrong_role.status_code == 403

    outsider = platform.client(platform.token("eve", ["Dept.Manager"], "finance"))
    other_department = outsider.get(f"/api/v1/generations/{created['id']}")
    assert other_department.status_code == 404  # as if missing: its existence is not told
    assert outsider.get("/api/v1/budgets/marketing").status_code == 403

    unknown = own.get("/api/v1/generations/00000000-0000-0000-0000-000000000000")
    assert unknown.status_code == 404

    # Department ids name streams and folders, so a malformed one names nothing.
    admin = platform.client(platform.token("ada", ["Platform.Admin"], None))
    assert admin.get("/api/v1/budgets/Bad.Dept!").status_code == 404
    # Someone must pay for an image: an admin without a department cannot generate.
    assert admin.post("/api/v1/generations", json={"prompt": "a cat"}).status_code == 403


def test_history_lists_the_callers_generations(platform: RunningPlatform) -> None:
    client = alice(platform)
    created = client.post("/api/v1/generations", json={"prompt": "a fern"}).json()
    platform.wait_terminal(client, created["id"])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        page = client.get("/api/v1/generations", params={"status": "charged"}).json()
        if any(item["id"] == created["id"] for item in page["items"]):
            break
        time.sleep(0.1)
    assert any(item["id"] == created["id"] for item in page["items"])
    assert all(item["user_id"] == "alice" for item in page["items"])


def test_models_and_health(platform: RunningPlatform) -> None:
    models = alice(platform).get("/api/v1/models").json()
    assert {m["id"] for m in models["models"] if m["available"]} >= {"local-sketch"}
    local = next(m for m in models["models"] if m["id"] == "local-sketch")
    assert local["circuit"]["state"] == "closed"
    assert all(m["circuit"] is None for m in models["models"] if m["provider"] != "local")
    assert platform.client(None).get("/api/v1/health/live").status_code == 200
    ready = platform.client(None).get("/api/v1/health/ready").json()
    assert ready["status"] == "ready"


def test_a_manager_sets_the_budget_and_a_requester_cannot(platform: RunningPlatform) -> None:
    manager = platform.client(platform.token("mia", ["Dept.Manager"], "design"))
    update = {"monthly_limit_aud": "0.02", "enforcement": "hard", "strategy": "cost_optimised"}
    assert manager.put("/api/v1/budgets/design", json=update).status_code == 200
    requester = platform.client(platform.token("dan", ["Generator.Standard"], "design"))
    assert requester.put("/api/v1/budgets/design", json=update).status_code == 403
    assert manager.put("/api/v1/budgets/marketing", json=update).status_code == 403
    bad = manager.put("/api/v1/budgets/design", json={"monthly_limit_aud": "-1"})
    assert bad.status_code == 422

    # 0.02 AUD fits two 0.01 images of the cheapest model, and not a third: once the two
    # are charged, the third is refused at the door.
    ids = [
        requester.post("/api/v1/generations", json={"prompt": f"a tile, pattern {n}"}).json()["id"]
        for n in range(2)
    ]
    finals = [platform.wait_terminal(requester, gid) for gid in ids]
    assert [f["status"] for f in finals] == ["charged", "charged"]
    third = requester.post("/api/v1/generations", json={"prompt": "a tile, pattern 2"})
    assert third.status_code == 422, third.text
    assert third.json()["type"].endswith("/budget-exhausted")
    assert "has 0.0000 AUD left" in third.json()["detail"]


def test_a_forged_continuation_token_is_a_400(platform: RunningPlatform) -> None:
    response = alice(platform).get("/api/v1/generations", params={"continuation": "forged"})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"


def test_the_served_image_verifies_over_http_and_a_changed_copy_does_not(
    platform: RunningPlatform,
) -> None:
    client = alice(platform)
    accepted = client.post("/api/v1/generations", json={"prompt": "a harbour at night"}).json()
    final = platform.wait_terminal(client, accepted["id"])
    image = client.get(final["image_url"]).content
    # Finance may ask too: the answer holds what the file's own manifest says.
    finance = platform.client(platform.token("fiona", ["Finance.Reader"], None))

    def verify(data: bytes) -> Any:
        answer = finance.post(
            "/api/v1/provenance/verify", content=data, headers={"Content-Type": "image/png"}
        )
        assert answer.status_code == 200, answer.text
        return answer.json()

    authentic = verify(image)
    assert (authentic["verdict"], authentic["ok"]) == ("authentic", True)
    assert authentic["generation"]["generation_id"] == accepted["id"]
    assert authentic["log"]["agrees"] is True
    assert authentic["provider_credential"] == "absent"
    changed = image[:-40] + bytes(a ^ 1 for a in image[-40:-12]) + image[-12:]
    assert verify(changed)["verdict"] == "tampered"
    refused = finance.post("/api/v1/provenance/verify", content=b"not an image")
    assert refused.status_code == 422
    assert refused.json()["type"].endswith("unreadable-image")
    anonymous = platform.client(None).post("/api/v1/provenance/verify", content=image)
    assert anonymous.status_code == 401


def test_no_request_in_this_module_produced_a_500(platform: RunningPlatform) -> None:
    log = Path(platform.log_path).read_text()
    assert "unhandled error" not in log  # functions/http_support.api
    assert "(incident " not in log  # an exception that escaped a trigger (devhost)
    assert '" 500' not in log  # uvicorn's access log
