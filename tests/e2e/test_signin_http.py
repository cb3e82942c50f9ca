"""`donatello login` (msal, device code) against a local Entra stand-in, then
`donatello generate` and `budgets` calling a host that validates Entra tokens."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import msal
import pytest

from tests.entra_server import (
    AUDIENCE,
    CLIENT_ID,
    DAEMON_ID,
    DAEMON_SECRET,
    DEPARTMENT,
    TENANT,
    USER,
    USERNAME,
    Tenant,
    running_tenant,
)
from tests.platform_process import (
    RunningPlatform,
    platform_env,
    running_platform,
)
from tests.platform_process import run_donatello as donatello

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


@pytest.fixture(scope="module")
def tenant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Tenant, Path]]:
    with running_tenant(tmp_path_factory.mktemp("tenant")) as running:
        yield running


@pytest.fixture(scope="module")
def platform(
    tmp_path_factory: pytest.TempPathFactory, tenant: tuple[Tenant, Path]
) -> Iterator[RunningPlatform]:
    entra, cert = tenant
    with running_platform(
        tmp_path_factory.mktemp("entra-host"),
        DONATELLO_AUTH_MODE="entra",
        DONATELLO_JWKS_URL=entra.jwks_url,
        DONATELLO_ISSUER=entra.issuer,
        DONATELLO_AUDIENCE=AUDIENCE,
        DONATELLO_ALLOWED_TENANT_IDS=TENANT,
        SSL_CERT_FILE=str(cert),  # the host fetches the tenant's JWKS over TLS
    ) as running:
        yield running


def test_a_person_signs_in_once_and_the_command_calls_the_api_as_them(
    tmp_path: Path, tenant: tuple[Tenant, Path], platform: RunningPlatform
) -> None:
    entra, cert = tenant
    home = tmp_path / "cli"
    env = platform_env(home, DONATELLO_AUDIENCE=AUDIENCE, REQUESTS_CA_BUNDLE=str(cert))

    login = donatello(
        env, "login", "--tenant", TENANT, "--client-id", CLIENT_ID,
        "--authority-host", entra.base_url,
    )  # fmt: skip
    assert login.returncode == 0, login.stderr
    assert "enter the code KQ7-M4X" in login.stderr  # the device-code prompt, shown
    assert f"signed in as {USERNAME} (tenant {TENANT})" in login.stdout
    (device_request,) = [form for path, form in entra.requests if path.endswith("/devicecode")]
    assert device_request["client_id"] == CLIENT_ID
    assert f"{AUDIENCE}/.default" in device_request["scope"].split()
    assert len(entra.grants(DEVICE_GRANT)) == 2  # pending once, then signed in

    for name in ("msal-token-cache.json", "signin.json"):
        mode = stat.S_IMODE((home / name).stat().st_mode)
        assert mode == 0o600, (name, oct(mode))

    generate = donatello(
        env, "generate", "a paper lantern", "--signed-in", "--url", platform.url, "--wait"
    )
    assert generate.returncode == 0, generate.stdout + generate.stderr
    assert '"status": "charged"' in generate.stdout
    assert f'"user_id": "{USER["oid"]}"' in generate.stdout
    assert f'"department_id": "{DEPARTMENT}"' in generate.stdout

    budgets = donatello(env, "budgets", "--signed-in", "--url", platform.url)
    assert budgets.returncode == 0, budgets.stderr
    assert DEPARTMENT in budgets.stdout
    # Both calls took the cached access token: no new sign-in, no refresh.
    assert len(entra.grants(DEVICE_GRANT)) == 2
    assert entra.grants("refresh_token") == []

    assert donatello(env, "logout").returncode == 0
    assert not (home / "msal-token-cache.json").exists()
    after = donatello(env, "generate", "a paper lantern", "--signed-in", "--url", platform.url)
    assert after.returncode == 1
    assert "donatello login" in after.stderr


def test_the_entra_host_refuses_a_locally_minted_dev_token(
    tmp_path: Path, platform: RunningPlatform
) -> None:
    from adapters.dev_issuer import DevIssuer

    dev = DevIssuer(tmp_path / "dev-key.pem", audience=AUDIENCE)
    with platform.client(dev.mint("mallory", ["Platform.Admin"], DEPARTMENT)) as client:
        answer = client.get("/api/v1/budgets")
    assert answer.status_code == 401


def daemon_app(
    tenant: tuple[Tenant, Path], monkeypatch: pytest.MonkeyPatch
) -> msal.ConfidentialClientApplication:
    """The daemon app of docs/identity.md, signing in to the stand-in tenant."""
    entra, cert = tenant
    # requests lets this variable win over a session's own `verify` (psf/requests#3829).
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    return msal.ConfidentialClientApplication(
        DAEMON_ID,
        authority=entra.authority,
        client_credential=DAEMON_SECRET,
        instance_discovery=False,
    )


def test_a_daemon_app_calls_the_api_with_a_client_credential_token(
    tenant: tuple[Tenant, Path], platform: RunningPlatform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The docs/identity.md example, against the stand-in tenant."""
    entra, _ = tenant
    app = daemon_app(tenant, monkeypatch)
    result = app.acquire_token_for_client(scopes=[f"{AUDIENCE}/.default"])
    assert "access_token" in result, result
    again = app.acquire_token_for_client(scopes=[f"{AUDIENCE}/.default"])
    assert again["access_token"] == result["access_token"]  # msal's cache, not a new grant
    assert len(entra.grants("client_credentials")) == 1

    headers = {"Authorization": f"Bearer {result['access_token']}"}
    budgets = httpx.get(f"{platform.url}/api/v1/budgets", headers=headers, timeout=30)
    assert budgets.status_code == 200, budgets.text  # Finance.Reader, org-wide
    generate = httpx.post(
        f"{platform.url}/api/v1/generations", json={"prompt": "a kite"}, headers=headers, timeout=30
    )
    assert generate.status_code == 403  # the app role does not include generating


def test_the_host_fetches_the_tenants_keys_once_not_per_request(
    tenant: tuple[Tenant, Path], platform: RunningPlatform, monkeypatch: pytest.MonkeyPatch
) -> None:
    entra, _ = tenant
    token = daemon_app(tenant, monkeypatch).acquire_token_for_client(
        scopes=[f"{AUDIENCE}/.default"]
    )["access_token"]
    headers = {"Authorization": f"Bearer {token}"}

    def key_fetches() -> int:
        return sum(1 for path, _ in entra.requests if path.endswith("/discovery/v2.0/keys"))

    assert httpx.get(f"{platform.url}/api/v1/budgets", headers=headers).status_code == 200
    fetched = key_fetches()
    for _ in range(10):
        assert httpx.get(f"{platform.url}/api/v1/budgets", headers=headers).status_code == 200
    assert key_fetches() == fetched  # the process's validator keeps the keys it fetched


def test_an_entra_host_offers_no_dev_sign_in(platform: RunningPlatform) -> None:
    """Real sign-in means no back door: even on loopback, the console's dev sign-in is gone."""
    answer = httpx.post(
        f"{platform.url}/dev/token",
        json={"user": "mallory", "roles": ["Platform.Admin"], "department": "x"},
    )
    assert answer.status_code == 404
    assert answer.json()["type"] == "https://donatello.ai/problems/not-found"
