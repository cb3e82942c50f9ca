"""Hostile input over real HTTP to a host with production's defaults: callback and
webhook URLs that point inside the network, and every kind of bad token."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from adapters.dev_issuer import DevIssuer
from tests.platform_process import RunningPlatform, running_platform

DEPARTMENT = "security"


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    with running_platform(tmp_path_factory.mktemp("security")) as running:  # no allow-private
        yield running


# --- callback_url and webhook URLs -------------------------------------------------------

INSIDE = [
    "https://127.0.0.1/hook",
    "https://10.0.0.5/hook",
    "https://169.254.169.254/latest/meta-data/",
    "https://[::1]/hook",
    "https://[::ffff:169.254.169.254]/hook",
    "https://100.64.1.1/hook",
    "https://[fd00::1]/hook",
    "https://localhost/hook",  # a real name, resolved by the host: 127.0.0.1 / ::1
    "https://localhost.:8443/hook",
    "http://93.184.215.14/hook",  # public, but not https
]
PUBLIC = "https://93.184.215.14/hook"  # an address literal: accepted without any DNS


@pytest.mark.parametrize("url", INSIDE)
def test_a_callback_url_into_the_network_is_refused(platform: RunningPlatform, url: str) -> None:
    requester = platform.client(platform.token("rita", ["Generator.Standard"], DEPARTMENT))
    answer = requester.post("/api/v1/generations", json={"prompt": "a fox", "callback_url": url})
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["type"].endswith("/invalid-callback-url")


@pytest.mark.parametrize("url", INSIDE)
def test_a_webhook_url_into_the_network_is_refused(platform: RunningPlatform, url: str) -> None:
    manager = platform.client(platform.token("max", ["Dept.Manager"], DEPARTMENT))
    answer = manager.put(f"/api/v1/webhooks/{DEPARTMENT}", json={"url": url})
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["type"].endswith("/invalid-webhook-url")


def test_a_public_https_url_is_accepted(platform: RunningPlatform) -> None:
    requester = platform.client(platform.token("rita", ["Generator.Standard"], DEPARTMENT))
    manager = platform.client(platform.token("max", ["Dept.Manager"], DEPARTMENT))
    created = requester.post(
        "/api/v1/generations", json={"prompt": "a fox", "callback_url": PUBLIC}
    )
    assert created.status_code == 202, created.text
    registered = manager.put(f"/api/v1/webhooks/{DEPARTMENT}", json={"url": PUBLIC})
    assert registered.status_code == 200, registered.text
    assert manager.delete(f"/api/v1/webhooks/{DEPARTMENT}").status_code == 204


# --- tokens ------------------------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unsigned(header: dict[str, Any], payload: dict[str, Any], hmac_key: bytes | None) -> str:
    """What PyJWT refuses to make: `alg: none`, or HS256 keyed with a public key."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(payload).encode())}"
    if hmac_key is None:
        return signing_input + "."
    mac = hmac.new(hmac_key, signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(mac)}"


def tampered(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["roles"] = ["Platform.Admin"]
    return f"{header}.{b64url(json.dumps(claims).encode())}.{signature}"


Mint = Callable[..., str]


def bad_tokens(issuer: DevIssuer) -> dict[str, tuple[str, int]]:
    """Each bad token, and the status it must get."""
    now = datetime.now(UTC)
    good: Mint = issuer.mint
    roles = ["Generator.Standard"]
    jwk = issuer.jwks()["keys"][0]
    claims = {
        "iss": issuer.issuer,
        "aud": issuer.audience,
        "sub": "mallory",
        "oid": "mallory",
        "tid": "dev",
        "iat": int(now.timestamp()),
        "nbf": int(now.timestamp()),
        "exp": int((now + timedelta(hours=1)).timestamp()),
        "roles": ["Platform.Admin"],
        "department": DEPARTMENT,
    }
    public_pem = (
        serialization.load_pem_private_key(issuer.key_path.read_bytes(), None)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return {
        "expired": (
            good("mallory", roles, DEPARTMENT, extra_claims={"exp": now - timedelta(hours=1)}),
            401,
        ),
        "not yet valid": (
            good("mallory", roles, DEPARTMENT, extra_claims={"nbf": now + timedelta(hours=1)}),
            401,
        ),
        "wrong audience": (
            good("mallory", roles, DEPARTMENT, extra_claims={"aud": "api://someone-else"}),
            401,
        ),
        "wrong issuer": (
            good("mallory", roles, DEPARTMENT, extra_claims={"iss": "https://evil.example/v2"}),
            401,
        ),
        "wrong tenant": (good("mallory", roles, DEPARTMENT, extra_claims={"tid": "other"}), 401),
        "unknown kid": (
            jwt.encode(claims, stranger, algorithm="RS256", headers={"kid": "no-such-key"}),
            401,
        ),
        "known kid, another key": (
            jwt.encode(claims, stranger, algorithm="RS256", headers={"kid": jwk["kid"]}),
            401,
        ),
        "tampered payload": (tampered(good("mallory", roles, DEPARTMENT)), 401),
        "alg none": (unsigned({"alg": "none", "typ": "JWT", "kid": jwk["kid"]}, claims, None), 401),
        "HS256 keyed with the public key": (
            unsigned({"alg": "HS256", "typ": "JWT", "kid": jwk["kid"]}, claims, public_pem),
            401,
        ),
        "garbage": ("not-a-token", 401),
        "missing roles": (good("mallory", [], DEPARTMENT), 403),
    }


CASES = [
    "expired",
    "not yet valid",
    "wrong audience",
    "wrong issuer",
    "wrong tenant",
    "unknown kid",
    "known kid, another key",
    "tampered payload",
    "alg none",
    "HS256 keyed with the public key",
    "garbage",
    "missing roles",
]


@pytest.mark.parametrize("case", CASES)
def test_each_bad_token_is_refused_as_a_problem_that_does_not_echo_it(
    platform: RunningPlatform, case: str
) -> None:
    issuer = DevIssuer(platform.data_dir / "dev-signing-key.pem")
    token, status = bad_tokens(issuer)[case]
    with platform.client(token) as client:
        answers = [
            client.get("/api/v1/generations"),
            client.post("/api/v1/generations", json={"prompt": "a fox"}),
            client.get(f"/api/v1/budgets/{DEPARTMENT}"),
        ]
    for answer in answers:
        assert answer.status_code == status, (case, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        problem = answer.json()
        assert problem["status"] == status
        assert problem["type"].endswith("/unauthenticated" if status == 401 else "/forbidden")
        if status == 401:
            assert answer.headers["www-authenticate"].startswith("Bearer")
        assert_not_echoed(token, answer)


def assert_not_echoed(token: str, answer: httpx.Response) -> None:
    shown = answer.text + json.dumps(dict(answer.headers))
    for part in (token, *(p for p in token.split(".") if len(p) > 8)):
        assert part not in shown


def test_a_missing_or_malformed_authorization_header_is_401(platform: RunningPlatform) -> None:
    for headers in ({}, {"Authorization": "Basic dXNlcjpwdw=="}, {"Authorization": "Bearer"}):
        answer = httpx.get(f"{platform.url}/api/v1/generations", headers=headers, timeout=10)
        assert answer.status_code == 401
        assert answer.headers["content-type"] == "application/problem+json"
        assert "dXNlcjpwdw" not in answer.text


def test_the_good_token_the_bad_ones_were_made_from_is_accepted(
    platform: RunningPlatform,
) -> None:
    issuer = DevIssuer(platform.data_dir / "dev-signing-key.pem")
    with platform.client(issuer.mint("rita", ["Generator.Standard"], DEPARTMENT)) as client:
        assert client.get("/api/v1/generations").status_code == 200
