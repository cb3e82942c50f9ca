"""`donatello serve` serves the console at `/` beside the API, and its dev sign-in only
on a loopback bind (the Entra-mode refusal is in test_signin_http.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devhost.console import CONTENT_SECURITY_POLICY
from tests.platform_process import RunningPlatform, running_platform

SIGN_IN = {"user": "alice", "roles": ["Generator.Standard"], "department": "marketing"}


@pytest.fixture(scope="module")
def loopback(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    with running_platform(tmp_path_factory.mktemp("loopback")) as running:
        yield running


def test_the_console_and_the_api_share_the_port(loopback: RunningPlatform) -> None:
    page = httpx.get(f"{loopback.url}/")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert httpx.get(f"{loopback.url}/api/v1/health/live").json() == {"status": "live"}


def test_on_loopback_the_dev_sign_in_gives_a_token_the_api_accepts(
    loopback: RunningPlatform,
) -> None:
    answer = httpx.post(f"{loopback.url}/dev/token", json=SIGN_IN)
    assert answer.status_code == 200, answer.text
    token = answer.json()["access_token"]
    quota = httpx.get(f"{loopback.url}/api/v1/quota", headers={"Authorization": f"Bearer {token}"})
    assert quota.status_code == 200, quota.text


def test_bound_to_every_interface_the_dev_sign_in_does_not_exist(tmp_path: Path) -> None:
    with running_platform(tmp_path / "open", serve_args=["--host", "0.0.0.0"]) as open_host:
        answer = httpx.post(f"{open_host.url}/dev/token", json=SIGN_IN)
        assert answer.status_code == 404
        assert answer.json()["type"] == "https://donatello.ai/problems/not-found"
        # the host itself is up and serving the console: only the sign-in is missing
        assert httpx.get(f"{open_host.url}/").status_code == 200
