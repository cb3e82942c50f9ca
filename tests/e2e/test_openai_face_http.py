"""The drop-in face through the real `openai` SDK over a real socket, against
`donatello serve`: OpenAI and Azure OpenAI clients, images as base64 and as expiring
links, n images governed as n generations, and a retried request charged once."""

from __future__ import annotations

import base64
import hashlib
import io
import time
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from openai import AzureOpenAI, OpenAI
from openai.types import ImagesResponse
from PIL import Image

from functions.openai_shapes import GENERATION_IDS_HEADER
from tests.content_credentials import platform_anchor, read_credentials
from tests.dropping_proxy import dropping_proxy
from tests.platform_process import RunningPlatform, running_platform

LINK_TTL_SECONDS = 4
AUDITOR = ("carla", ["Compliance.Auditor"], None)


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    data_dir: Path = tmp_path_factory.mktemp("openai-face")
    with running_platform(
        data_dir, DONATELLO_IMAGE_URL_TTL_SECONDS=str(LINK_TTL_SECONDS)
    ) as running:
        yield running


def openai_client(platform: RunningPlatform, token: str, **options: Any) -> OpenAI:
    return OpenAI(base_url=f"{platform.url}/api/openai/v1", api_key=token, **options)


def native(platform: RunningPlatform, token: str, generation_id: str) -> dict[str, Any]:
    answer = platform.client(token).get(f"/api/v1/generations/{generation_id}")
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def audit_stream(platform: RunningPlatform, stream_id: str) -> list[dict[str, Any]]:
    auditor = platform.client(platform.token(*AUDITOR))
    answer = auditor.get(f"/api/v1/audit/streams/{stream_id}")
    assert answer.status_code == 200, answer.text
    events: list[dict[str, Any]] = answer.json()["events"]
    return events


def charges(platform: RunningPlatform, department: str, period: str) -> list[str]:
    """The generation ids the department's month charged, one entry per charge."""
    events = audit_stream(platform, f"budget-{department}-{period}")
    return [e["data"]["generation_id"] for e in events if e["type"] == "CostCharged"]


def generate_one(
    platform: RunningPlatform, token: str, **params: Any
) -> tuple[str, ImagesResponse]:
    """One image through the SDK: its generation's id (from the header), and the answer."""
    raw = openai_client(platform, token).images.with_raw_response.generate(**params)
    (generation_id,) = raw.headers[GENERATION_IDS_HEADER].split(",")
    return generation_id, raw.parse()


def test_b64_json_is_the_png_of_a_charged_generation(platform: RunningPlatform) -> None:
    token = platform.token("olive", ["Generator.Power"], "marketing")
    generation_id, images = generate_one(
        platform,
        token,
        model="local-sketch",
        prompt="a lighthouse at dawn",
        response_format="b64_json",
        size="1024x1024",
        quality="standard",
    )
    (image,) = images.data or []
    assert image.url is None
    png = base64.b64decode(image.b64_json or "")
    decoded = Image.open(io.BytesIO(png))
    decoded.load()  # the whole file decodes
    assert decoded.format == "PNG"
    # Its Content Credentials, read by c2pa's own Reader, name this generation.
    read = read_credentials(png, "image/png", platform_anchor(platform.data_dir))
    assert read.state == "Trusted"
    assert read.assertion("ai.donatello.generation")["generation_id"] == generation_id
    view = native(platform, token, generation_id)
    assert view["status"] == "charged"
    assert view["model_id"] == "local-sketch"
    assert view["image_sha256"] == hashlib.sha256(png).hexdigest()
    assert abs(images.created - time.time()) < 120


def test_a_url_downloads_within_its_lifetime_and_is_refused_after(
    platform: RunningPlatform,
) -> None:
    token = platform.token("otto", ["Generator.Power"], "marketing")
    generation_id, images = generate_one(
        platform,
        token,
        model="local-studio",
        prompt="a tram in the rain",
        response_format="url",
        quality="hd",
        size="1792x1024",
    )
    (image,) = images.data or []
    url = image.url or ""
    assert url.startswith(f"{platform.url}/api/openai/images/{generation_id}?")
    download = httpx.get(url)  # no token: the signature is the credential
    assert download.status_code == 200
    assert download.headers["content-type"] == "image/png"
    view = native(platform, token, generation_id)
    assert hashlib.sha256(download.content).hexdigest() == view["image_sha256"]
    assert (view["size"], view["quality"]) == ("1792x1024", "hd")

    forged = url[:-1] + ("0" if url[-1] != "0" else "1")
    assert httpx.get(forged).status_code == 403
    longer = url.replace("expires=", "expires=9")
    assert httpx.get(longer).status_code == 403
    garbled = url.split("signature=")[0] + "signature=%F2%AD%AA"  # not even ASCII
    assert httpx.get(garbled).status_code == 403

    time.sleep(LINK_TTL_SECONDS + 1)
    expired = httpx.get(url)
    assert expired.status_code == 403
    assert expired.json()["error"]["message"] == "this image link has expired"


def test_a_link_to_an_erased_persons_image_answers_404(platform: RunningPlatform) -> None:
    token = platform.token("ottilie", ["Generator.Power"], "marketing")
    _, images = generate_one(platform, token, prompt="a ferry at dusk", response_format="url")
    (image,) = images.data or []
    assert httpx.get(image.url or "").status_code == 200
    auditor = platform.client(platform.token("cora", ["Compliance.Auditor"], None))
    assert auditor.post("/api/v1/privacy/subjects/ottilie/erase", json={}).status_code == 200

    gone = httpx.get(image.url or "")  # still signed and unexpired, but the image is deleted
    assert gone.status_code == 404
    assert gone.json()["error"]["code"] is not None


def test_n_images_are_n_generations_charged_and_logged_as_natively(
    platform: RunningPlatform,
) -> None:
    department, token = "atelier", platform.token("nina", ["Generator.Power"], "atelier")
    first = platform.client(token).post(
        "/api/v1/generations", json={"prompt": "a kite, natively", "model": "local-sketch"}
    )
    assert first.status_code == 202
    reference = platform.wait_terminal(platform.client(token), first.json()["id"])

    raw = openai_client(platform, token).images.with_raw_response.generate(
        model="local-sketch", prompt="a kite over the bay", n=3, response_format="b64_json"
    )
    ids = raw.headers[GENERATION_IDS_HEADER].split(",")
    assert len(raw.parse().data or []) == len(set(ids)) == 3

    period = reference["created_at"][:7]  # a Sydney month; the test does not span one
    native_types = [e["type"] for e in audit_stream(platform, f"generation-{reference['id']}")]
    for generation_id in ids:
        view = native(platform, token, generation_id)
        assert (view["status"], view["cost_aud"]) == ("charged", reference["cost_aud"])
        events = audit_stream(platform, f"generation-{generation_id}")
        assert [e["type"] for e in events] == native_types
        assert {e["actor"]["user_id"] for e in events if e["type"] == "GenerationRequested"} == {
            "nina"
        }
    assert sorted(charges(platform, department, period)) == sorted([reference["id"], *ids])

    manager = platform.client(platform.token("mo", ["Dept.Manager"], department))
    expected = Decimal(reference["cost_aud"]) * 4
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        budget = manager.get(f"/api/v1/budgets/{department}").json()
        if budget["charged_count"] == 4:
            break
        time.sleep(0.1)
    assert budget["charged_count"] == 4
    assert Decimal(budget["spent_aud"]) == expected
    assert Decimal(budget["by_user"]["nina"]) == expected
    assert Decimal(budget["by_model"]["local-sketch"]) == expected


def test_the_models_list_shows_the_catalogue_and_openai_names(platform: RunningPlatform) -> None:
    token = platform.token("olive", ["Generator.Standard"], "marketing")
    models = {m.id: m for m in openai_client(platform, token).models.list()}
    assert {"local-sketch", "local-studio", "gpt-image-1", "dall-e-3"} <= set(models)
    assert models["gpt-image-1"].owned_by == "openai"
    assert all(m.object == "model" for m in models.values())


def test_azure_openai_with_entra_tokens_that_expire_during_the_run(
    platform: RunningPlatform,
) -> None:
    minted: list[str] = []
    expires_at = 0.0

    def token_provider() -> str:
        # As azure-identity's provider does: a cached token until shortly before expiry.
        # Each lives 4 s past now (60 s less than the validator's leeway of clock skew).
        nonlocal expires_at
        if not minted or time.monotonic() > expires_at - 1:
            ttl = timedelta(seconds=-56)
            minted.append(platform.token("azra", ["Generator.Power"], "marketing", ttl=ttl))
            expires_at = time.monotonic() + 4
        return minted[-1]

    client = AzureOpenAI(
        azure_endpoint=f"{platform.url}/api",
        api_version="2024-10-21",
        azure_ad_token_provider=token_provider,
    )
    started = time.monotonic()
    answered = 0
    while time.monotonic() - started < 9:
        images = client.images.generate(
            model="local-sketch", prompt=f"a ferry, view {answered}", response_format="b64_json"
        )
        assert len(images.data or []) == 1
        answered += 1
        time.sleep(0.5)
    assert len(minted) >= 2  # the client refreshed its token and carried on
    stale = AzureOpenAI(
        azure_endpoint=f"{platform.url}/api", api_version="2024-10-21", azure_ad_token=minted[0]
    )
    with pytest.raises(Exception) as refused:  # the first token really did expire
        stale.images.generate(model="auto", prompt="a ferry, late", response_format="b64_json")
    assert type(refused.value).__name__ == "AuthenticationError"


def test_the_azure_deployment_names_the_model(platform: RunningPlatform) -> None:
    token = platform.token("azra", ["Generator.Power"], "marketing")
    client = AzureOpenAI(
        azure_endpoint=f"{platform.url}/api", api_version="2024-10-21", api_key=token
    )
    raw = client.images.with_raw_response.generate(
        model="local-studio", prompt="a harbour bridge", response_format="b64_json"
    )
    (generation_id,) = raw.headers[GENERATION_IDS_HEADER].split(",")
    assert native(platform, token, generation_id)["model_id"] == "local-studio"


def test_a_retried_request_is_answered_with_the_first_attempts_generations(
    platform: RunningPlatform,
) -> None:
    department = "relay"
    token = platform.token("ruth", ["Generator.Standard"], department)
    with dropping_proxy(platform.port, drop_first=1) as proxy:
        client = OpenAI(base_url=f"http://127.0.0.1:{proxy.port}/api/openai/v1", api_key=token)
        raw = client.images.with_raw_response.generate(
            model="local-sketch", prompt="a lantern", n=2, response_format="b64_json"
        )
    assert proxy.dropped == 1  # the first answer was lost after the server made it
    assert len(proxy.requests) == 2
    assert b"x-stainless-retry-count: 0" in proxy.requests[0].lower()
    assert b"x-stainless-retry-count: 1" in proxy.requests[1].lower()
    ids = raw.headers[GENERATION_IDS_HEADER].split(",")
    assert len(raw.parse().data or []) == 2

    quota = platform.client(token).get("/api/v1/quota").json()
    assert quota["used"] == 2  # two generations accepted, not four
    period = native(platform, token, ids[0])["created_at"][:7]
    assert sorted(charges(platform, department, period)) == sorted(ids)

    # The same request sent again on purpose is new work, not a retry.
    again = openai_client(platform, token).images.with_raw_response.generate(
        model="local-sketch", prompt="a lantern", n=2, response_format="b64_json"
    )
    assert set(again.headers[GENERATION_IDS_HEADER].split(",")).isdisjoint(ids)


def test_no_request_in_this_module_produced_a_500(platform: RunningPlatform) -> None:
    log = Path(platform.log_path).read_text()
    assert "unhandled error" not in log
    assert "(incident " not in log
    assert '" 500' not in log
