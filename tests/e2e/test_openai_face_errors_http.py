"""The drop-in face's refusals, each as the `openai` SDK's own exception class with our
message: a blocked prompt, a spent hard budget, the daily quota, a bad token, a role or
department, and parameters we cannot honour. The native API keeps problem+json."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import openai
import pytest
from openai import OpenAI

from functions.openai_shapes import GENERATION_IDS_HEADER
from tests.platform_process import RunningPlatform, running_platform

QUOTA = 3


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    data_dir: Path = tmp_path_factory.mktemp("openai-face-errors")
    with running_platform(data_dir, DONATELLO_DAILY_IMAGE_QUOTA=str(QUOTA)) as running:
        yield running


def client(platform: RunningPlatform, token: str, **options: Any) -> OpenAI:
    return OpenAI(base_url=f"{platform.url}/api/openai/v1", api_key=token, **options)


def as_user(platform: RunningPlatform, user: str, role: str, dept: str | None) -> OpenAI:
    return client(platform, platform.token(user, [role], dept))


def test_a_blocked_prompt_is_a_content_policy_violation(platform: RunningPlatform) -> None:
    token = platform.token("bea", ["Generator.Power"], "marketing")
    with pytest.raises(openai.BadRequestError) as refused:
        client(platform, token).images.generate(
            prompt="a birthday card for card 4111 1111 1111 1111 please",
            response_format="b64_json",
        )
    error = refused.value
    assert error.status_code == 400
    assert error.code == "content_policy_violation"
    assert "personal_data: CREDIT_CARD" in error.message
    assert "4111" not in error.message
    (generation_id,) = error.response.headers[GENERATION_IDS_HEADER].split(",")
    assert generation_id in error.message
    native = platform.client(token).get(f"/api/v1/generations/{generation_id}").json()
    assert native["status"] == "rejected"
    assert native["cost_aud"] is None
    # Refused at the door: recorded (redacted) with its rejection, never queued.
    auditor = platform.client(platform.token("aud", ["Compliance.Auditor"], None))
    stream = auditor.get(f"/api/v1/audit/streams/generation-{generation_id}").json()
    assert [e["type"] for e in stream["events"]] == ["GenerationRequested", "PromptRejected"]


def test_a_spent_hard_budget_is_insufficient_quota_and_retries_make_nothing_new(
    platform: RunningPlatform,
) -> None:
    manager = platform.client(platform.token("max", ["Dept.Manager"], "frugal"))
    policy = {"monthly_limit_aud": "0.01", "enforcement": "hard", "strategy": "cost_optimised"}
    assert manager.put("/api/v1/budgets/frugal", json=policy).status_code == 200
    token = platform.token("finn", ["Generator.Standard"], "frugal")
    sdk = client(platform, token)
    # The cheapest image costs 0.01: the first spends the month, the second cannot be paid.
    assert len(sdk.images.generate(prompt="a lamp", response_format="b64_json").data or []) == 1
    with pytest.raises(openai.RateLimitError) as refused:  # the SDK retried it twice
        sdk.images.generate(prompt="a lantern", response_format="b64_json")
    error = refused.value
    assert error.code == "insufficient_quota"
    assert error.type == "insufficient_quota"
    assert "has 0.0000 AUD left" in error.message  # refused at the door, nothing queued
    assert (
        GENERATION_IDS_HEADER not in error.response.headers
        or not (error.response.headers[GENERATION_IDS_HEADER])
    )
    assert "Retry-After" not in error.response.headers
    # Three attempts, one generation: the retries named the first attempt's.
    assert platform.client(token).get("/api/v1/quota").json()["used"] == 2


def test_the_daily_quota_is_rate_limit_exceeded_with_retry_after(
    platform: RunningPlatform,
) -> None:
    token = platform.token("quinn", ["Generator.Standard"], "marketing")
    sdk = client(platform, token, max_retries=0)
    images = sdk.images.generate(prompt="a gull", n=2, response_format="b64_json")
    assert len(images.data or []) == 2
    with pytest.raises(openai.RateLimitError) as refused:  # 2 asked, 1 left: none made
        sdk.images.generate(prompt="a pelican", n=2, response_format="b64_json")
    error = refused.value
    assert error.code == "rate_limit_exceeded"
    assert f"daily quota of {QUOTA} images" in error.message
    assert int(error.response.headers["Retry-After"]) > 0
    assert platform.client(token).get("/api/v1/quota").json()["used"] == 2
    assert len(sdk.images.generate(prompt="a tern", response_format="b64_json").data or []) == 1
    with pytest.raises(openai.RateLimitError):
        sdk.images.generate(prompt="an egret", response_format="b64_json")


def test_a_bad_or_expired_token_is_an_authentication_error(platform: RunningPlatform) -> None:
    with pytest.raises(openai.AuthenticationError) as forged:
        client(platform, "not-a-token").images.generate(prompt="a boat")
    assert forged.value.code == "invalid_api_key"
    expired = platform.token("eve", ["Generator.Power"], "marketing", ttl=timedelta(hours=-2))
    with pytest.raises(openai.AuthenticationError) as late:
        client(platform, expired).images.generate(prompt="a boat")
    assert "expired" in late.value.message.lower()


def test_a_role_or_department_refusal_is_permission_denied(platform: RunningPlatform) -> None:
    with pytest.raises(openai.PermissionDeniedError) as role:
        as_user(platform, "fred", "Finance.Reader", "finance").images.generate(prompt="a boat")
    assert role.value.code == "permission_denied"
    with pytest.raises(openai.PermissionDeniedError) as department:
        as_user(platform, "orla", "Org.Admin", None).images.generate(prompt="a boat")
    assert department.value.status_code == 403


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"quality": "low"}, "quality"),
        ({"model": "gpt-image-1", "quality": "hd"}, "quality"),
        ({"model": "dall-e-3", "quality": "high"}, "quality"),
        ({"model": "gpt-image-1", "size": "1536x1024"}, "size"),
        ({"size": "512x512"}, "size"),
        ({"model": "local-sketch", "size": "1024x1792", "quality": "hd", "n": 11}, "n"),
        ({"model": "no-such-model"}, "model"),
        ({"background": "transparent"}, "background"),
        ({"output_format": "webp"}, "output_format"),
        ({"moderation": "low"}, "moderation"),
        ({"extra_body": {"partial_images": 2}}, "partial_images"),
    ],
)
def test_what_cannot_be_honoured_is_a_400_naming_the_parameter(
    platform: RunningPlatform, params: dict[str, Any], param: str
) -> None:
    sdk = as_user(platform, "pia", "Generator.Power", "marketing")
    with pytest.raises(openai.BadRequestError) as refused:
        sdk.images.generate(prompt="a boat", **params)
    assert refused.value.param == param
    assert refused.value.type == "invalid_request_error"


def test_a_model_the_platform_does_not_run_is_refused_at_the_door(
    platform: RunningPlatform,
) -> None:
    # dall-e-3 maps onto the catalogue's Azure OpenAI model, which is not enabled here.
    sdk = as_user(platform, "pia", "Generator.Power", "marketing")
    with pytest.raises(openai.BadRequestError) as refused:
        sdk.images.generate(model="dall-e-3", prompt="a boat", response_format="b64_json")
    assert refused.value.code == "model_not_available"
    assert "provider excluded azure-openai-dall-e-3" in refused.value.message


def test_the_native_api_keeps_problem_json(platform: RunningPlatform) -> None:
    answer = platform.client("not-a-token").post("/api/v1/generations", json={"prompt": "a"})
    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/problem+json"


def test_no_request_in_this_module_produced_a_500(platform: RunningPlatform) -> None:
    log = Path(platform.log_path).read_text()
    assert "unhandled error" not in log
    assert "(incident " not in log
    assert '" 500' not in log


def test_a_wait_that_runs_out_names_the_generations_which_carry_on(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    data_dir: Path = tmp_path_factory.mktemp("openai-face-wait")
    with running_platform(data_dir, DONATELLO_OPENAI_WAIT_SECONDS="0.001") as impatient:
        token = impatient.token("wes", ["Generator.Power"], "marketing")
        sdk = client(impatient, token, max_retries=0)
        with pytest.raises(openai.InternalServerError) as expired:
            sdk.images.generate(prompt="a slow boat", n=2, response_format="b64_json")
        error = expired.value
        assert error.status_code == 504
        assert error.code == "timeout"
        ids = error.response.headers[GENERATION_IDS_HEADER].split(",")
        assert len(ids) == 2
        assert all(generation_id in error.message for generation_id in ids)
        native = impatient.client(token)
        assert [impatient.wait_terminal(native, g)["status"] for g in ids] == ["charged"] * 2


def test_an_idempotency_key_names_the_generations_and_refuses_another_prompt(
    platform: RunningPlatform,
) -> None:
    sdk = as_user(platform, "ivy", "Generator.Power", "marketing")
    key = {"Idempotency-Key": "poster-7"}
    first = sdk.images.with_raw_response.generate(
        prompt="a poster", response_format="b64_json", extra_headers=key
    )
    again = sdk.images.with_raw_response.generate(
        prompt="a poster", response_format="b64_json", extra_headers=key
    )
    assert first.headers[GENERATION_IDS_HEADER] == again.headers[GENERATION_IDS_HEADER]
    with pytest.raises(openai.ConflictError) as conflict:
        sdk.images.generate(prompt="another poster", response_format="b64_json", extra_headers=key)
    assert conflict.value.code == "idempotency_conflict"
