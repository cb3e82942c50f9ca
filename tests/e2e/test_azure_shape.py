"""The whole pipeline on the Azure shape's storage, over real HTTP, beside the embedded one.

One `donatello serve` runs on the Cosmos DB event store (`@vercel/cosmosdb-server`),
Blob Storage (Azurite) and the change-feed projector; another runs the embedded default.
Both get the same requests; the budgets and the history they then show must be equal,
and the image comes from Azurite through a short-lived SAS redirect.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from openai import OpenAI

from tests.azurite_fixtures import AZURITE_ARGS, EMULATOR_ACCOUNT_KEY, EMULATOR_ACCOUNT_NAME
from tests.cosmos_fixtures import EMULATOR_KEY, LOOPBACK_UNVERIFIED_TLS
from tests.emulators import run_cosmos_emulator, run_emulator
from tests.platform_process import RunningPlatform, running_platform
from tests.webhook_receiver import running_receiver

pytestmark = pytest.mark.filterwarnings(LOOPBACK_UNVERIFIED_TLS)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
REQUESTS = [  # (user, department, prompt)
    ("alice", "marketing", "a watercolour lighthouse at dawn"),
    ("alice", "marketing", "a poster for jane.citizen@example.com in art deco style"),
    ("dave", "marketing", "a birthday card for card 4111 1111 1111 1111 please"),
    ("carol", "finance", "an isometric city of spreadsheets"),
    ("carol", "finance", "a calm harbour in the style of a woodcut"),
]
# What differs between two runs of the same requests: ids, clocks and what derives from them.
VOLATILE = {
    "id",
    "image_url",
    "image_ref",
    "created_at",
    "updated_at",
    "image_sha256",
    "as_of",
    "last_event_at",
    "forecast_aud",  # spent over the Sydney days elapsed when the view was read
    "forecast_basis",
}


@pytest.fixture(scope="module")
def azure_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    work = tmp_path_factory.mktemp("azure-shape")
    with (
        run_cosmos_emulator(work / "cosmos") as cosmos,
        run_emulator("azurite-blob", AZURITE_ARGS, work / "azurite") as azurite,
        running_platform(
            work / "platform",
            DONATELLO_EVENT_STORE="cosmos",
            CosmosDbConnection__accountEndpoint=f"https://{cosmos.host}:{cosmos.port}/",
            DONATELLO_COSMOS_EMULATOR_KEY=EMULATOR_KEY,
            DONATELLO_IMAGE_STORE="blob",
            DONATELLO_BLOB_ACCOUNT_URL=f"http://{azurite.host}:{azurite.port}/{EMULATOR_ACCOUNT_NAME}",
            DONATELLO_BLOB_EMULATOR_ACCOUNT_KEY=EMULATOR_ACCOUNT_KEY,
            DONATELLO_WEBHOOK_ALLOW_PRIVATE="true",  # the test's receiver is on loopback
        ) as platform,
    ):
        yield platform


@pytest.fixture(scope="module")
def embedded_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    with running_platform(tmp_path_factory.mktemp("embedded-shape")) as platform:
        yield platform


def run_requests(platform: RunningPlatform) -> list[dict[str, Any]]:
    finals = []
    for user, department, prompt in REQUESTS:
        client = platform.client(platform.token(user, ["Generator.Standard"], department))
        accepted = client.post("/api/v1/generations", json={"prompt": prompt})
        assert accepted.status_code == 202, accepted.text
        finals.append(platform.wait_terminal(client, accepted.json()["id"]))
    return finals


def stable(document: Any) -> Any:
    if isinstance(document, dict):
        return {
            k: sorted(v) if k == "timestamps" else stable(v)  # which steps, not when
            for k, v in document.items()
            if k not in VOLATILE
        }
    if isinstance(document, list):
        return [stable(item) for item in document]
    return document


def settled_views(platform: RunningPlatform, charged: Decimal) -> dict[str, Any]:
    """Budgets and history once the projector has caught up with `charged` AUD of spend."""
    finance = platform.client(platform.token("fran", ["Finance.Reader"], None))
    auditor = platform.client(platform.token("olga", ["Compliance.Auditor"], None))
    deadline = time.monotonic() + 30
    while True:
        budgets = finance.get("/api/v1/budgets").json()
        history = auditor.get("/api/v1/generations", params={"limit": 50}).json()
        spent = sum((Decimal(b["spent_aud"]) for b in budgets["items"]), Decimal(0))
        if spent == charged and len(history["items"]) == len(REQUESTS):
            return {"budgets": budgets, "history": history}
        if time.monotonic() > deadline:
            raise AssertionError(f"views did not settle at {charged}: {budgets} {history}")
        time.sleep(0.2)


def test_the_azure_shape_charges_and_shows_what_the_embedded_shape_does(
    azure_platform: RunningPlatform, embedded_platform: RunningPlatform
) -> None:
    on_azure, embedded = run_requests(azure_platform), run_requests(embedded_platform)

    assert [f["status"] for f in on_azure] == [
        "charged",
        "charged",
        "rejected",
        "charged",
        "charged",
    ]
    assert stable(on_azure) == stable(embedded)
    charged = sum((Decimal(f["cost_aud"]) for f in on_azure if f["cost_aud"]), Decimal(0))
    azure_views = settled_views(azure_platform, charged)
    embedded_views = settled_views(embedded_platform, charged)
    assert stable(azure_views) == stable(embedded_views)
    assert len(azure_views["budgets"]["items"]) == 2


def test_verify_reads_cosmos_db_stream_by_stream(
    azure_platform: RunningPlatform,
) -> None:
    auditor = azure_platform.client(azure_platform.token("olga", ["Compliance.Auditor"], None))
    client = azure_platform.client(
        azure_platform.token("alice", ["Generator.Standard"], "marketing")
    )
    accepted = client.post("/api/v1/generations", json={"prompt": "a quiet harbour"}).json()
    assert azure_platform.wait_terminal(client, accepted["id"])["status"] == "charged"
    report = auditor.post("/api/v1/audit/verify").json()
    assert (report["ok"], report["problems"]) == (True, []), report["problems"]
    assert report["events"] >= 6  # at least this generation's own stream
    answer = auditor.post("/api/v1/audit/verify", json={"since": 999})
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["detail"] == "there is no seal 999"


def test_the_image_is_a_short_lived_redirect_to_blob_storage(
    azure_platform: RunningPlatform,
) -> None:
    client = azure_platform.client(
        azure_platform.token("alice", ["Generator.Standard"], "marketing")
    )
    accepted = client.post("/api/v1/generations", json={"prompt": "a kite over dunes"}).json()
    final = azure_platform.wait_terminal(client, accepted["id"])
    assert final["status"] == "charged"

    redirect = client.get(final["image_url"])
    assert redirect.status_code == 302
    assert redirect.headers["cache-control"] == "no-store"
    sas_url = redirect.headers["location"]
    assert sas_url.startswith("http://127.0.0.1:")
    assert "sig=" in sas_url
    assert "sp=r&" in sas_url
    image = httpx.get(sas_url)  # no bearer token: the URL itself grants the read
    assert image.status_code == 200
    assert image.content.startswith(PNG_SIGNATURE)
    assert image.headers["content-type"] == "image/png"
    assert (
        httpx.put(
            sas_url, content=b"overwrite", headers={"x-ms-blob-type": "BlockBlob"}
        ).status_code
        == 403
    )


def test_the_drop_in_face_answers_a_sas_link_on_blob_storage(
    azure_platform: RunningPlatform,
) -> None:
    # Cosmos has no global order to tail: the face's wait polls the streams here.
    token = azure_platform.token("alice", ["Generator.Standard"], "marketing")
    sdk = OpenAI(base_url=f"{azure_platform.url}/api/openai/v1", api_key=token)
    (image,) = sdk.images.generate(prompt="a kite over dunes", response_format="url").data or []
    sas_url = image.url or ""
    assert sas_url.startswith("http://127.0.0.1:")
    assert "sig=" in sas_url
    assert "sp=r&" in sas_url
    download = httpx.get(sas_url)
    assert download.status_code == 200
    assert download.content.startswith(PNG_SIGNATURE)


def test_the_webhook_dispatchers_trigger_feeds_the_deliveries_view(
    azure_platform: RunningPlatform,
) -> None:
    manager = azure_platform.client(azure_platform.token("hal", ["Dept.Manager"], "hooks"))
    requester = azure_platform.client(azure_platform.token("ivy", ["Generator.Power"], "hooks"))
    with running_receiver() as receiver:
        body = {"url": receiver.url, "events": ["generation.completed"]}
        assert manager.put("/api/v1/webhooks/hooks", json=body).status_code == 200
        accepted = requester.post("/api/v1/generations", json={"prompt": "a kite at noon"})
        assert azure_platform.wait_terminal(requester, accepted.json()["id"])["status"] == "charged"
        (received,) = receiver.wait_for(lambda got: len(got) == 1)
        deadline = time.monotonic() + 30
        while not (items := manager.get("/api/v1/webhooks/hooks/deliveries").json()["items"]):
            assert time.monotonic() < deadline, "the deliveries view stayed empty"
            time.sleep(0.2)

    (delivery,) = items
    assert delivery["delivery_id"] == received.document["id"]
    assert (delivery["event"], delivery["state"], delivery["attempts"]) == (
        "generation.completed",
        "delivered",
        1,
    )
