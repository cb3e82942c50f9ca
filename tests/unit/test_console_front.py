"""The console's front door: the static app, `/api` passed through, and the dev sign-in
that exists only with dev tokens on a loopback-bound host."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.dev_issuer import DevIssuer
from devhost.console import (
    CONTENT_SECURITY_POLICY,
    Console,
    Receive,
    Scope,
    Send,
    dev_sign_in_allowed,
)
from domain.access import Role


async def fake_api(scope: Scope, receive: Receive, send: Send) -> None:
    body = f"api saw {scope['path']}".encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture
def built(tmp_path: Path) -> Path:
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><title>console</title>")
    (dist / "assets" / "app-1.js").write_text("console.log(1)")
    (tmp_path / "secret.txt").write_text("not for the web")
    return dist


def call(app: Console, method: str, path: str, **kwargs: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            return await client.request(method, path, **kwargs)

    return asyncio.run(go())


@pytest.mark.parametrize(
    ("auth_mode", "host", "allowed"),
    [
        ("dev", "127.0.0.1", True),
        ("dev", "127.0.0.2", True),
        ("dev", "::1", True),
        ("dev", "localhost", True),
        ("dev", "0.0.0.0", False),  # every interface: other machines can reach it
        ("dev", "::", False),
        ("dev", "192.168.1.20", False),
        ("dev", "myhost.example", False),
        ("entra", "127.0.0.1", False),  # real sign-in: no back door, even on loopback
    ],
)
def test_the_dev_sign_in_exists_only_with_dev_tokens_on_loopback(
    auth_mode: str, host: str, allowed: bool
) -> None:
    assert dev_sign_in_allowed(auth_mode, host) is allowed


def test_the_dev_sign_in_mints_a_token_the_platform_validates(built: Path, tmp_path: Path) -> None:
    issuer = DevIssuer(tmp_path / "key.pem")
    app = Console(fake_api, built, issuer)
    answer = call(
        app,
        "POST",
        "/dev/token",
        json={"user": "alice", "roles": ["Generator.Standard", "Dept.Manager"],
              "department": "marketing"},
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    principal = issuer.validator().validate(answer.json()["access_token"])
    assert principal.user_id == "alice"
    assert set(principal.roles) == {Role.GENERATOR_STANDARD, Role.DEPT_MANAGER}
    assert principal.department_id == "marketing"


@pytest.mark.parametrize(
    "body",
    [
        {"user": "alice", "roles": []},
        {"user": "alice", "roles": ["Root"]},
        {"user": "", "roles": ["Generator.Standard"]},
        {"user": "alice", "roles": ["Generator.Standard"], "department": "Bad Dept"},
        {"user": "alice", "roles": ["Generator.Standard"], "admin": True},
    ],
)
def test_a_bad_sign_in_is_a_plain_422(built: Path, tmp_path: Path, body: dict[str, Any]) -> None:
    app = Console(fake_api, built, DevIssuer(tmp_path / "key.pem"))
    answer = call(app, "POST", "/dev/token", json=body)
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["detail"]


def test_without_the_dev_sign_in_the_path_is_not_found(built: Path) -> None:
    app = Console(fake_api, built, None)
    answer = call(app, "POST", "/dev/token", json={"user": "a", "roles": ["Org.Admin"]})
    assert answer.status_code == 404
    assert answer.json()["type"] == "https://donatello.ai/problems/not-found"


def test_the_api_is_passed_through_and_console_routes_get_the_app(built: Path) -> None:
    app = Console(fake_api, built, None)
    assert call(app, "GET", "/api/v1/models").text == "api saw /api/v1/models"
    for route in ("/", "/generate", "/generations/0b7c4e9e-8f3e-4a53-9c51-1d2b8c3f4a10"):
        page = call(app, "GET", route)
        assert page.status_code == 200
        assert page.text.startswith("<!doctype html>")
        assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert page.headers["cache-control"] == "no-cache"
    asset = call(app, "GET", "/assets/app-1.js")
    assert asset.headers["content-type"].startswith("text/javascript")
    assert "immutable" in asset.headers["cache-control"]


def test_nothing_outside_the_build_is_served(built: Path) -> None:
    app = Console(fake_api, built, None)
    assert call(app, "GET", "/assets/missing.js").status_code == 404
    assert call(app, "GET", "/../secret.txt").status_code == 404
    assert call(app, "GET", "/%2e%2e/secret.txt").status_code == 404
    assert call(app, "POST", "/generate").status_code == 404


def test_an_unbuilt_console_says_how_to_build_it(tmp_path: Path) -> None:
    page = call(Console(fake_api, tmp_path / "absent", None), "GET", "/")
    assert page.status_code == 200
    assert "scripts/serve" in page.text


def test_the_dev_sign_in_takes_only_a_small_post(built: Path, tmp_path: Path) -> None:
    app = Console(fake_api, built, DevIssuer(tmp_path / "key.pem"))
    assert call(app, "GET", "/dev/token").status_code == 405
    huge = {"user": "a" * 5000, "roles": ["Generator.Standard"]}
    too_large = call(app, "POST", "/dev/token", json=huge)
    assert too_large.status_code == 422
    assert "larger" in too_large.json()["detail"]


@pytest.mark.parametrize(
    ("host", "served"),
    [
        ("127.0.0.1:7071", True),
        ("localhost:7071", True),
        ("[::1]:7071", True),
        ("attacker.example:7071", False),  # DNS rebinding: their name, our loopback
        ("", False),
    ],
)
def test_the_dev_sign_in_answers_only_requests_for_a_loopback_name(
    built: Path, tmp_path: Path, host: str, served: bool
) -> None:
    app = Console(fake_api, built, DevIssuer(tmp_path / "key.pem"))
    answer = call(
        app,
        "POST",
        "/dev/token",
        json={"user": "alice", "roles": ["Generator.Standard"]},
        headers={"Host": host},
    )
    assert answer.status_code == (200 if served else 404)
