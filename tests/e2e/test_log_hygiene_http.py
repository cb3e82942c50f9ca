"""A full run of the local host, then every line it logged: JSON, correlated, and free
of tokens, key material, webhook secrets and prompt text."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from tests.platform_process import RunningPlatform, running_platform
from tests.webhook_receiver import running_receiver

MARKER = "periwinkle zeppelin over quokka harbour"
EMAIL = "jane.marker.citizen@example.com"
PROMPTS = [
    f"a poster of a {MARKER}",
    f"an art deco invitation for {EMAIL}, {MARKER}",
    f"a birthday card for card 4111 1111 1111 1111 with a {MARKER}",
]
BAD_PROMPT = f"{MARKER} \x07 with a bell"  # refused (422) with its text in pydantic's error


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Drive the whole platform once; yield what was used and the host's log lines."""
    data_dir = tmp_path_factory.mktemp("hygiene")
    used: dict[str, Any] = {"tokens": [], "secrets": [], "answers": []}
    with (
        running_platform(
            data_dir,
            DONATELLO_WEBHOOK_ALLOW_PRIVATE="true",
            DONATELLO_WEBHOOK_RETRY_BASE_SECONDS="0",
        ) as platform,
        running_receiver() as hooks,
        running_receiver() as callbacks,
    ):
        drive(platform, used, hooks.url, callbacks.url)
        hooks.wait_for(lambda got: len(got) >= 2)
        callbacks.wait_for(lambda got: len(got) >= 3)
        used["host"] = platform
    used["lines"] = platform.log_path.read_text(encoding="utf-8").splitlines()
    used["data_dir"] = data_dir
    return used


def token(platform: RunningPlatform, used: dict[str, Any], *args: Any) -> Any:
    minted = platform.token(*args)
    used["tokens"].append(minted)
    return platform.client(minted)


def drive(platform: RunningPlatform, used: dict[str, Any], hooks: str, callbacks: str) -> None:
    manager = token(platform, used, "mia", ["Dept.Manager"], "hygiene")
    requester = token(platform, used, "alice", ["Generator.Power"], "hygiene")
    auditor = token(platform, used, "carl", ["Compliance.Auditor"], None)
    finance = token(platform, used, "fran", ["Finance.Reader"], None)

    registered = manager.put(
        "/api/v1/webhooks/hygiene", json={"url": hooks, "events": ["generation.completed"]}
    )
    assert registered.status_code == 200, registered.text
    used["secrets"].append(registered.json()["secret"])

    ids = []
    for n, prompt in enumerate(PROMPTS):
        accepted = requester.post(
            "/api/v1/generations",
            json={"prompt": prompt, "callback_url": callbacks},
            headers={"Idempotency-Key": f"hygiene-{n}"},
        )
        # The card is refused at the door (422), its redacted record named in the answer.
        assert accepted.status_code == (422 if "4111" in prompt else 202), accepted.text
        used["answers"].append(accepted)
        ids.append(accepted.json().get("id") or accepted.json()["generation_id"])
    finals = [platform.wait_terminal(requester, generation_id) for generation_id in ids]
    assert [f["status"] for f in finals] == ["charged", "charged", "rejected"]
    assert requester.get(finals[0]["image_url"]).status_code == 200
    assert requester.get("/api/v1/generations").status_code == 200

    refused = requester.post("/api/v1/generations", json={"prompt": BAD_PROMPT})
    assert refused.status_code == 422
    forged = requester.post(
        "/api/v1/generations",
        json={"prompt": MARKER},
        headers={"X-Correlation-Id": 'x", "level": "forged'},
    )
    assert forged.status_code == 202
    used["forged"] = forged
    ids.append(forged.json()["id"])
    platform.wait_terminal(requester, ids[-1])

    stolen = used["tokens"][1][:-4] + "AAAA"  # a tampered token: 401, and never logged
    used["tokens"].append(stolen)
    assert platform.client(stolen).get("/api/v1/generations").status_code == 401
    assert finance.get("/api/v1/budgets/hygiene").status_code == 200
    assert auditor.get(f"/api/v1/audit/streams/generation-{ids[0]}").status_code == 200
    export = auditor.get("/api/v1/privacy/subjects/alice/export")
    assert export.status_code == 200
    assert MARKER in export.text  # the one answer with plaintext prompts
    assert auditor.post("/api/v1/audit/verify", json={}).status_code == 200


def parsed(run: dict[str, Any]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in run["lines"] if line.strip()]


def test_the_run_logged_something_from_every_part(run: dict[str, Any]) -> None:
    loggers = {line["logger"] for line in parsed(run)}
    assert {"uvicorn.access", "functions.worker", "devhost"} <= loggers


def test_every_line_is_a_json_object(run: dict[str, Any]) -> None:
    for line in run["lines"]:
        if line.strip():
            document = json.loads(line)
            assert isinstance(document, dict)
            assert {"time", "level", "logger", "message", "correlation_id"} <= document.keys()


def test_no_token_key_secret_or_prompt_reaches_the_log(run: dict[str, Any]) -> None:
    text = "\n".join(run["lines"])
    data_dir: Path = run["data_dir"]
    forbidden: list[str] = []
    for minted in run["tokens"]:
        forbidden += [minted, minted.rsplit(".", 1)[1]]  # the token, and its signature alone
    forbidden += run["secrets"]
    pem = (data_dir / "dev-signing-key.pem").read_text()
    forbidden += [line for line in pem.splitlines() if line and not line.startswith("-----")]
    for keyfile in ("subject-keys.json", "platform-keys.json"):
        for encoded in json.loads((data_dir / keyfile).read_text())["keys"].values():
            forbidden += [encoded, base64.b64decode(encoded).hex()]
    forbidden += [MARKER, EMAIL, "jane.marker", "periwinkle", "quokka", "4111 1111"]
    assert len(forbidden) > 20
    leaked = [secret for secret in forbidden if secret in text]
    assert leaked == []


def test_lines_written_for_a_request_carry_its_correlation_id(run: dict[str, Any]) -> None:
    lines = parsed(run)
    for answer in run["answers"]:
        request_id = answer.headers["x-correlation-id"]
        refused = answer.status_code == 422  # the card, refused at the door: never queued
        generation_id = answer.json()["generation_id" if refused else "id"]
        access = [
            line
            for line in lines
            if line["logger"] == "uvicorn.access" and line["correlation_id"] == request_id
        ]
        assert len(access) == 1
        assert "POST /api/v1/generations" in access[0]["message"]
        worker = [
            line
            for line in lines
            if line["logger"] == "functions.worker" and generation_id in line["message"]
        ]
        assert (worker == []) if refused else worker
        assert all(line["correlation_id"] == generation_id for line in worker)
    forged = run["forged"].headers["x-correlation-id"]
    assert "forged" not in forged
    assert not any(line["level"] == "forged" for line in lines)
    handled = [line for line in lines if line["logger"] in {"uvicorn.access", "functions.worker"}]
    assert all(line["correlation_id"] for line in handled)
