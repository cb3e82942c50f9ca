"""The screening policy: versioned data (screening_policy.json), one per organisation,
with per-department overrides, resolved into the effective policy for a department.

For each entity type the policy says `block` (reject the prompt), `redact` (replace it
by `<ENTITY_TYPE>` before any provider sees it) or `allow`, above a score threshold.
Content is screened by named categories of blocked terms and loose blocked terms,
matched as whole words, and optionally by a moderation service whose categories the
policy also names.

`public_names` are people an image prompt names for their style or as its subject
(painters, photographers, historical figures): a PERSON finding inside one of them is
not personal data, and redacting it would ruin "in the style of Hokusai".

A department may relax or tighten entity rules (a rule it names replaces the
organisation's fields it gives), and may add categories and terms, but never remove the
organisation's: content blocks only accumulate. `fail_closed` is the organisation's
alone, so no department can let a prompt through unmoderated.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

Action = Literal["block", "redact", "allow"]
Score = Annotated[float, Field(ge=0.0, le=1.0)]
Term = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
# What a loose term (not in any named category) is reported as.
BLOCKED_TERM = "blocked_term"
# The entity types a public name can stand for.
PUBLIC_NAME_TYPES = frozenset({"PERSON"})


@dataclass(frozen=True, slots=True)
class EntityRule:
    action: Action
    min_score: float = 0.5


class TermList:
    """Blocked categories and terms matched as whole words, case-insensitively.

    Whole words, so a term inside a longer word never matches (the Scunthorpe
    problem); the whitespace inside a phrase may be any run of whitespace.
    Implements `services.ports.ContentModerator`.
    """

    name = "terms"

    def __init__(self, categories: Mapping[str, frozenset[str]]) -> None:
        self._patterns = {
            name: pattern
            for name, terms in sorted(categories.items())
            if (pattern := _whole_words(terms)) is not None
        }

    def flagged(self, text: str) -> frozenset[str]:
        """The categories with a term in `text`."""
        return frozenset(name for name, pattern in self._patterns.items() if pattern.search(text))


def _phrase(term: str) -> str:
    return r"\s+".join(re.escape(word) for word in term.split())


def _whole_words(terms: frozenset[str]) -> re.Pattern[str] | None:
    if not terms:
        return None
    alternatives = "|".join(_phrase(t) for t in sorted(terms, key=len, reverse=True))
    return re.compile(r"(?<!\w)(?:" + alternatives + r")(?!\w)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ScreeningPolicy:
    """The effective policy for one department; `version` names the data it came from."""

    version: str
    rules: Mapping[str, EntityRule]
    default_rule: EntityRule = EntityRule("allow")
    blocked_terms: frozenset[str] = frozenset()
    blocked_categories: Mapping[str, frozenset[str]] = field(default_factory=dict)
    moderation_categories: frozenset[str] = frozenset()
    fail_closed: bool = True
    public_names: frozenset[str] = frozenset()
    term_list: TermList = field(init=False, repr=False, compare=False)
    _public_names: re.Pattern[str] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Compiled once per policy, not per prompt.
        loose = self.blocked_categories.get(BLOCKED_TERM, frozenset()) | self.blocked_terms
        terms = {**self.blocked_categories, BLOCKED_TERM: loose}
        object.__setattr__(self, "term_list", TermList(terms))
        object.__setattr__(self, "_public_names", _whole_words(self.public_names))

    def public_name_spans(self, text: str) -> list[tuple[int, int]]:
        """Where `text` names someone in `public_names`, as (start, end) spans."""
        if self._public_names is None:
            return []
        return [match.span() for match in self._public_names.finditer(text)]

    def rule_for(self, entity_type: str) -> EntityRule:
        return self.rules.get(entity_type, self.default_rule)

    def blocks(self, category: str) -> bool:
        """Whether a flagged content category rejects the prompt."""
        return (
            category in self.blocked_categories
            or category in self.moderation_categories
            or (category == BLOCKED_TERM and bool(self.blocked_terms))
        )


# --- the file ------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RuleSpec(_Strict):
    action: Action
    min_score: Score = 0.5


class RuleOverride(_Strict):
    """A department's rule: the fields it gives replace the organisation's."""

    action: Action | None = None
    min_score: Score | None = None


class ContentSpec(_Strict):
    categories: dict[Name, frozenset[Term]] = {}
    terms: frozenset[Term] = frozenset()


class ModerationSpec(_Strict):
    blocked_categories: frozenset[Name] = frozenset()
    fail_closed: bool = True


class DepartmentOverrides(_Strict):
    entities: dict[Name, RuleOverride] = {}
    default_rule: RuleOverride | None = None
    content: ContentSpec = ContentSpec()
    moderation_categories: frozenset[Name] = frozenset()
    public_names: frozenset[Term] = frozenset()


class PolicyFile(_Strict):
    version: Name
    default_rule: RuleSpec = RuleSpec(action="allow")
    entities: dict[Name, RuleSpec]
    content: ContentSpec = ContentSpec()
    moderation: ModerationSpec = ModerationSpec()
    public_names: frozenset[Term] = frozenset()
    departments: dict[Name, DepartmentOverrides] = {}


class PolicyBook:
    """An organisation's policy and its departments' overrides."""

    def __init__(self, data: PolicyFile) -> None:
        self.data = data
        self.organisation = self._resolve(data.version, None)
        self._departments = {
            department: self._resolve(f"{data.version}+{department}", overrides)
            for department, overrides in data.departments.items()
        }

    def for_department(self, department_id: str) -> ScreeningPolicy:
        """The effective policy: the organisation's, with the department's overrides."""
        return self._departments.get(department_id, self.organisation)

    def _resolve(self, version: str, overrides: DepartmentOverrides | None) -> ScreeningPolicy:
        org = self.data
        rules = {
            name: EntityRule(spec.action, spec.min_score) for name, spec in org.entities.items()
        }
        default_rule = EntityRule(org.default_rule.action, org.default_rule.min_score)
        categories = dict(org.content.categories)
        terms = org.content.terms
        moderation = org.moderation.blocked_categories
        public_names = org.public_names
        if overrides is not None:
            if overrides.default_rule is not None:
                default_rule = _apply(default_rule, overrides.default_rule)
            for name, change in overrides.entities.items():
                rules[name] = _apply(rules.get(name, default_rule), change)
            for name, added in overrides.content.categories.items():
                categories[name] = categories.get(name, frozenset()) | added
            terms |= overrides.content.terms
            moderation |= overrides.moderation_categories
            public_names |= overrides.public_names
        return ScreeningPolicy(
            version=version,
            rules=rules,
            default_rule=default_rule,
            blocked_terms=terms,
            blocked_categories=categories,
            moderation_categories=moderation,
            fail_closed=org.moderation.fail_closed,
            public_names=public_names,
        )


def _apply(rule: EntityRule, change: RuleOverride) -> EntityRule:
    return EntityRule(
        change.action if change.action is not None else rule.action,
        change.min_score if change.min_score is not None else rule.min_score,
    )


class InvalidPolicy(ValueError):
    """The text is not a screening policy; the message names each problem's place."""


def parse_policy_book(text: str) -> PolicyBook:
    try:
        return PolicyBook(PolicyFile.model_validate_json(text))
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'the file'}: {e['msg']}"
            for e in error.errors()
        )
        raise InvalidPolicy(problems) from error


@cache
def default_policy_book() -> PolicyBook:
    text = resources.files("domain").joinpath("screening_policy.json").read_text("utf-8")
    return parse_policy_book(text)
