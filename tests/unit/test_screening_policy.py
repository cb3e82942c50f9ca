"""The screening policy as data: resolution per department, content terms, decisions."""

from __future__ import annotations

import json
from typing import Any

import pytest

from domain.screening import DEFAULT_POLICY, Finding, judge_content, screen
from domain.screening_policy import BLOCKED_TERM, EntityRule, TermList, parse_policy_book

ORG: dict[str, Any] = {
    "version": "2026-12-01",
    "entities": {
        "PERSON": {"action": "redact", "min_score": 0.85},
        "EMAIL_ADDRESS": {"action": "redact"},
        "CREDIT_CARD": {"action": "block"},
    },
    "content": {"categories": {"weapons": ["pipe bomb"]}, "terms": ["gore"]},
    "moderation": {"blocked_categories": ["violence/graphic"]},
    "departments": {
        "marketing": {"entities": {"PERSON": {"action": "allow"}}},
        "finance": {
            "entities": {"EMAIL_ADDRESS": {"action": "block", "min_score": 0.7}},
            "default_rule": {"action": "redact"},
            "content": {"categories": {"weapons": ["ghost gun"], "fraud": ["fake invoice"]}},
            "moderation_categories": ["illicit"],
        },
    },
}


def book(data: dict[str, Any] = ORG) -> Any:
    return parse_policy_book(json.dumps(data))


def test_a_department_without_overrides_gets_the_organisation_policy() -> None:
    policies = book()
    design = policies.for_department("design")
    assert design is policies.organisation
    assert design.version == "2026-12-01"
    assert design.rule_for("PERSON") == EntityRule("redact", 0.85)
    assert design.rule_for("URL") == EntityRule("allow", 0.5)  # the default rule


def test_an_override_names_the_department_in_the_version_and_keeps_unnamed_fields() -> None:
    marketing = book().for_department("marketing")
    assert marketing.version == "2026-12-01+marketing"
    assert marketing.rule_for("PERSON") == EntityRule("allow", 0.85)  # the org's threshold
    assert marketing.rule_for("CREDIT_CARD") == EntityRule("block", 0.5)


def test_a_department_tightens_rules_and_adds_content_blocks() -> None:
    finance = book().for_department("finance")
    assert finance.rule_for("EMAIL_ADDRESS") == EntityRule("block", 0.7)
    assert finance.rule_for("URL") == EntityRule("redact", 0.5)
    assert finance.blocked_categories == {
        "weapons": {"pipe bomb", "ghost gun"},
        "fraud": {"fake invoice"},
    }
    assert finance.blocked_terms == {"gore"}
    assert finance.blocks("illicit")
    assert finance.blocks("violence/graphic")
    assert not book().organisation.blocks("illicit")


def test_the_shipped_policy_is_the_default_and_keeps_its_thresholds() -> None:
    assert DEFAULT_POLICY.version == "2026-12-07"
    assert DEFAULT_POLICY.rule_for("CREDIT_CARD") == EntityRule("block", 0.5)
    assert DEFAULT_POLICY.rule_for("PHONE_NUMBER") == EntityRule("redact", 0.4)
    assert DEFAULT_POLICY.rule_for("PERSON") == EntityRule("redact", 0.85)
    assert DEFAULT_POLICY.rule_for("LOCATION").action == "allow"
    assert DEFAULT_POLICY.fail_closed is True


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"surprise": 1}, "surprise"),
        ({"entities": {"PERSON": {"action": "hide"}}}, "action"),
        ({"entities": {"PERSON": {"action": "redact", "min_score": 1.5}}}, "min_score"),
        ({"departments": {"sales": {"entities": {"PERSON": {"mode": "allow"}}}}}, "mode"),
        ({"content": {"categories": {"weapons": ["  "]}}}, "categories"),
        ({"moderation": {"fail_closed": "sometimes"}}, "fail_closed"),
    ],
)
def test_an_invalid_policy_is_refused_naming_the_problem(
    change: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(ValueError, match=complaint):
        book({**ORG, **change})


def test_a_policy_must_have_a_version_and_entities() -> None:
    with pytest.raises(ValueError, match="version"):
        book({"entities": {}})
    with pytest.raises(ValueError):
        parse_policy_book("{not json")


# --- content terms ---------------------------------------------------------------------


def test_terms_match_whole_words_in_any_case() -> None:
    terms = TermList({"weapons": frozenset({"pipe bomb", "gun"}), "gore": frozenset({"gore"})})
    assert terms.flagged("How to build a PIPE  BOMB") == {"weapons"}
    assert terms.flagged("a gun, a knife.") == {"weapons"}
    assert terms.flagged("Gore!") == {"gore"}
    assert terms.flagged("Al Gore's gunboat diplomacy") == {"gore"}  # "gunboat" is not "gun"
    assert terms.flagged("a shotgun by the pipe bombardier in Gorey") == frozenset()


def test_a_term_inside_a_longer_word_never_matches() -> None:
    terms = TermList({"anatomy": frozenset({"ass"})})
    assert terms.flagged("a classic assassin in a brass passage") == frozenset()
    assert terms.flagged("a wild ass on the steppe") == {"anatomy"}


def test_the_term_list_reports_loose_terms_as_blocked_terms() -> None:
    policy = book().organisation
    assert policy.term_list.flagged("too much gore") == {BLOCKED_TERM}
    assert policy.term_list.flagged("a pipe bomb") == {"weapons"}


# --- decisions -------------------------------------------------------------------------


def test_entity_rules_decide_and_findings_keep_positions_but_never_values() -> None:
    prompt = "mail ann@example.com about Ann Lee"
    findings = [Finding("EMAIL_ADDRESS", 5, 20, 1.0), Finding("PERSON", 27, 34, 0.85)]
    org, marketing, finance = (book().for_department(d) for d in ("x", "marketing", "finance"))
    assert [f.action for f in screen(prompt, findings, org).findings] == ["redact", "redact"]
    assert [f.action for f in screen(prompt, findings, marketing).findings] == ["redact", "allow"]
    rejected = screen(prompt, findings, finance)
    assert rejected.rejected
    assert rejected.reason == "personal_data: EMAIL_ADDRESS"
    assert rejected.entity_counts == {"EMAIL_ADDRESS": 1, "PERSON": 1}
    assert "ann@example.com" not in repr(rejected.findings)
    assert (rejected.findings[0].start, rejected.findings[0].end) == (5, 20)


def test_without_a_redactor_only_the_decision_is_given() -> None:
    outcome = screen("mail ann@example.com", [Finding("EMAIL_ADDRESS", 5, 20, 1.0)], DEFAULT_POLICY)
    assert not outcome.rejected
    with pytest.raises(ValueError, match="redactor"):
        _ = outcome.redacted_prompt


def test_blocked_content_categories_reject_with_their_names() -> None:
    policy = book().organisation
    clean = screen("a castle", [], policy)
    judged = judge_content(clean, {"weapons", "violence/graphic", "violence"}, policy)
    assert judged.rejected
    assert judged.reason == "content_policy: violence/graphic, weapons"  # not "violence"
    assert not judge_content(clean, {"violence", "illicit"}, policy).rejected


def test_personal_data_rejection_is_not_overwritten_by_content() -> None:
    policy = book().organisation
    card = screen("card 4111", [Finding("CREDIT_CARD", 5, 9, 1.0)], policy)
    judged = judge_content(card, {"weapons"}, policy)
    assert judged.reason == "personal_data: CREDIT_CARD"


def test_a_person_inside_a_public_name_is_allowed_and_departments_add_names() -> None:
    history = {"history": {"public_names": ["Ned Kelly"]}}
    policies = book({**ORG, "public_names": ["Van Gogh"], "departments": history})
    prompt = "Ned Kelly and Jo Bloggs in the style of van  gogh"
    public = prompt.index("van  gogh")  # any case, any spacing

    def person(text: str, offset: int = 0) -> Finding:
        start = prompt.index(text) + offset
        return Finding("PERSON", start, start + len(text) - offset, 0.85)

    findings = [person("Ned Kelly"), person("Jo Bloggs"), person("van  gogh"), person("gogh")]
    org = screen(prompt, findings, policies.for_department("design"))
    own = screen(prompt, findings, policies.for_department("history"))
    assert [f.action for f in org.findings] == ["redact", "redact", "allow", "allow"]
    assert [f.action for f in own.findings] == ["allow", "redact", "allow", "allow"]
    straddling = [Finding("PERSON", public - 3, public + 3, 0.85)]  # "of van": not inside
    assert [f.action for f in screen(prompt, straddling, policies.organisation).findings] == [
        "redact"
    ]
