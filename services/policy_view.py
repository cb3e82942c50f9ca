"""The screening policy in force, as `GET /screening/policy` shows it to admins.

Read-only: the policy is data the operator deploys (screening_policy.json or
`DONATELLO_SCREENING_POLICY_FILE`). The content lists' terms are counted, not listed: the
page shows what is screened and how, not a catalogue of the words themselves.
"""

from __future__ import annotations

from typing import Any

from domain.access import Action, Principal, authorize
from services.context import Platform


def screening_policy(platform: Platform, principal: Principal) -> dict[str, Any]:
    authorize(principal, Action.POLICY_READ)
    data = platform.screening_policies.data
    return {
        "version": data.version,
        "default_rule": data.default_rule.model_dump(mode="json"),
        "entities": {name: rule.model_dump(mode="json") for name, rule in data.entities.items()},
        "content_categories": {name: len(terms) for name, terms in data.content.categories.items()},
        "moderation": data.moderation.model_dump(mode="json"),
        "public_names": len(data.public_names),
        "departments_with_overrides": sorted(data.departments),
    }
