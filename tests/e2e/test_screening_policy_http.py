"""`GET /screening/policy`: admins read the screening policy in force, with its version;
no other role does."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from domain.screening_policy import default_policy_book
from tests.platform_process import RunningPlatform, running_platform


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    with running_platform(tmp_path_factory.mktemp("policy")) as running:
        yield running


def test_an_admin_reads_the_policy_in_force(platform: RunningPlatform) -> None:
    shipped = default_policy_book().data
    with platform.client(platform.token("ada", ["Org.Admin"], None)) as admin:
        answer = admin.get("/api/v1/screening/policy")
    assert answer.status_code == 200, answer.text
    policy = answer.json()
    assert policy["version"] == shipped.version
    assert policy["entities"]["CREDIT_CARD"] == {"action": "block", "min_score": 0.5}
    assert policy["entities"]["EMAIL_ADDRESS"]["action"] == "redact"
    categories = shipped.content.categories
    assert policy["content_categories"] == {name: len(t) for name, t in categories.items()}
    assert policy["public_names"] == len(shipped.public_names)
    assert not any(term in answer.text for terms in categories.values() for term in terms)


@pytest.mark.parametrize(
    "roles", [["Generator.Power"], ["Dept.Manager"], ["Finance.Reader"], ["Compliance.Auditor"]]
)
def test_other_roles_are_refused(platform: RunningPlatform, roles: list[str]) -> None:
    with platform.client(platform.token("someone", roles, "mkt")) as client:
        assert client.get("/api/v1/screening/policy").status_code == 403
