"""The API's edge over real HTTP on the embedded platform: the OpenAPI document served
to anyone, security headers on every kind of answer, strict bodies and prompt checks."""

from __future__ import annotations

import io
from collections.abc import Iterator

import httpx
import pytest
from PIL import Image

from functions.http_support import SECURITY_HEADERS
from functions.openapi import openapi_document
from tests.content_credentials import read_credentials
from tests.platform_process import RunningPlatform, running_platform

REQUESTER = ("alice", ["Generator.Standard"], "marketing")


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    with running_platform(tmp_path_factory.mktemp("edge")) as running:
        yield running


def assert_hardened(response: httpx.Response, cache: str = "no-store") -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value, (name, response.request.url)
    assert response.headers["Cache-Control"] == cache


def test_the_openapi_document_is_served_to_anyone(platform: RunningPlatform) -> None:
    response = platform.client(None).get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert_hardened(response)
    assert response.json() == openapi_document()


def test_answers_of_every_kind_carry_the_security_headers(platform: RunningPlatform) -> None:
    anonymous = platform.client(None)
    alice = platform.client(platform.token(*REQUESTER))
    answers = [
        anonymous.get("/api/v1/health/live"),
        anonymous.get("/api/v1/quota"),  # 401
        alice.get("/api/v1/quota"),
        alice.get("/api/v1/budgets/finance"),  # 403
        alice.get("/api/v1/generations/6f1c2f0e-5d0b-4c1e-9a7e-2b1f3c4d5e6f"),  # 404
        alice.post("/api/v1/generations", json={"prompt": "a cat", "colour": "red"}),  # 422
    ]
    assert [a.status_code for a in answers] == [200, 401, 200, 403, 404, 422]
    for answer in answers:
        assert_hardened(answer)


def test_the_png_may_be_kept_privately_and_is_still_hardened(platform: RunningPlatform) -> None:
    alice = platform.client(platform.token(*REQUESTER))
    accepted = alice.post("/api/v1/generations", json={"prompt": "a lighthouse at dawn"})
    assert accepted.status_code == 202
    assert_hardened(accepted)
    final = platform.wait_terminal(alice, accepted.json()["id"])
    assert final["status"] == "charged"
    image = alice.get(final["image_url"])
    assert image.status_code == 200
    assert image.headers["Content-Type"] == "image/png"
    assert_hardened(image, cache="private")
    png = Image.open(io.BytesIO(image.content))
    png.load()  # the whole file decodes
    assert png.format == "PNG"
    # Its provenance is its Content Credentials, as an independent C2PA reader sees them.
    read = read_credentials(image.content, "image/png")
    assert read.state == "Valid"
    assert read.assertion("ai.donatello.generation")["generation_id"] == accepted.json()["id"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"prompt": "a cat", "extra": 1}', "extra"),
        ('{"prompt": "a cat\\u0000"}', "prompt"),
        ('{"prompt": "a cat \\ud83c"}', "prompt"),
        ('{"prompt": "\\u001b[2Ja cat"}', "prompt"),
    ],
)
def test_bad_bodies_are_422_problems_naming_the_field(
    platform: RunningPlatform, body: str, field: str
) -> None:
    alice = platform.client(platform.token(*REQUESTER))
    response = alice.post(
        "/api/v1/generations", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert response.headers["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "https://donatello.ai/problems/validation-error"
    assert [e["loc"] for e in problem["errors"]] == [[field]]


def test_the_quota_was_not_spent_on_refused_bodies(platform: RunningPlatform) -> None:
    # A refused body never reaches the service, so it takes no unit of the quota.
    carol = platform.client(platform.token("carol", ["Generator.Standard"], "finance"))
    for _ in range(3):
        assert carol.post("/api/v1/generations", json={"prompt": "\x00"}).status_code == 422
    assert carol.get("/api/v1/quota").json()["used"] == 0  # the counter is the log itself
