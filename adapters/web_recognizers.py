"""URL and e-mail recognizers whose patterns read a prompt in linear time.

Presidio's stock patterns backtrack on text they do not match. Its URL pattern takes
up to 253 characters of `[a-z0-9.-]` and then gives them back one at a time looking
for a dot and a top-level domain, from every starting position: 4,000 dots took over
ten seconds. Its e-mail pattern scans from every word boundary to the end of a run of
`a.a.a.…` looking for an `@`: quadratic. Here each name is read once, from its first
character, with possessive quantifiers (Python 3.11's `re` and the `regex` module
Presidio compiles with both have them) and a look-behind that refuses to start inside
a name already read. benchmarks/screening.py measures both against the stock ones.

What they find is what a reader takes for a URL or an address: a host of dotted labels
ending in one of Presidio's top-level domains (its own list, so the two agree), with an
optional scheme and path. Two of the stock pattern's quirks are not kept: it read
`foo.com` into `foo.comedy` and `index.ht` into `index.html`, because nothing followed
its top-level domain; here the domain must end the host.
"""

from __future__ import annotations

import bisect
import math
import re
from typing import Any

import tldextract
from presidio_analyzer import Pattern, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from presidio_analyzer.predefined_recognizers import EmailRecognizer, UrlRecognizer

# Presidio's top-level domains, read out of its pattern; longest first, so "co" cannot
# stop the alternation short of "com" (the boundary after it would then fail anyway).
TOP_LEVEL_DOMAINS = tuple(
    sorted(set(re.findall(r"\(\?:([a-z]+)\)", UrlRecognizer.BASE_URL_REGEX)), key=lambda t: -len(t))
)

_HOST_CHAR = r"[a-z0-9\-]"
# A label and its dot are taken only when another label follows, so a sentence's full
# stop after "example.com." is left out; possessively, so nothing is ever given back.
_HOST = (
    rf"(?<![a-z0-9.\-])(?:{_HOST_CHAR}++\.(?={_HOST_CHAR}))++"
    rf"(?:{'|'.join(TOP_LEVEL_DOMAINS)})(?!{_HOST_CHAR})"
)
_PATH = r"(?:/[^\s()<>\"']*+)?"
_SCHEME = r"https?://"

URL_PATTERNS = [
    Pattern("Standard Url", rf"(?i){_SCHEME}{_HOST}{_PATH}", 0.6),
    Pattern("Non schema URL", rf"(?i){_HOST}{_PATH}", 0.5),
    Pattern("Quoted URL", rf"(?i)[\"']{_SCHEME}{_HOST}{_PATH}[\"']", 0.6),
    Pattern("Quoted Non-schema URL", rf"(?i)[\"']{_HOST}{_PATH}[\"']", 0.5),
]

# The characters of an address's local part, as in Presidio's pattern.
_LOCAL_CHAR = r"[!#$%&'*+\-/=?^_`{|}~\w]"
# Starts where no local part is already under way (neither a local character nor one
# and a dot before it), and reads dot-separated atoms, so every start scans text no
# other start scans. A doubled dot ends a local part, as RFC 5322 has it.
_LOCAL = rf"(?<!{_LOCAL_CHAR})(?<!{_LOCAL_CHAR}\.){_LOCAL_CHAR}++(?:\.{_LOCAL_CHAR}++)*+"
_DOMAIN_LABEL = r"\w++(?:-++\w++)*+"
EMAIL_PATTERNS = [
    Pattern("Email (Medium)", rf"{_LOCAL}@{_DOMAIN_LABEL}(?:\.{_DOMAIN_LABEL})++\b", 0.5),
]


class OfflineEmailRecognizer(EmailRecognizer):
    """Presidio's e-mail recognizer on a linear pattern, validating domains offline.

    `EmailRecognizer.validate_result` calls `tldextract.extract`, whose module-level
    extractor fetches the public-suffix list over HTTP on first use. This one uses an
    extractor bound to tldextract's bundled snapshot, with no disk cache and no URLs,
    so it never fetches or writes anything.
    """

    def __init__(self, patterns: list[Pattern] | None = None, **kwargs: Any) -> None:
        super().__init__(patterns=patterns or EMAIL_PATTERNS, **kwargs)
        self._tld = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

    def validate_result(self, pattern_text: str) -> bool:
        return self._tld(pattern_text).fqdn != ""


class UrlOutsideEmailRecognizer(UrlRecognizer):
    """URLs on a linear pattern, minus the domain (or `jane.ci`) inside an e-mail address."""

    def __init__(self, patterns: list[Pattern] | None = None, **kwargs: Any) -> None:
        super().__init__(patterns=patterns or URL_PATTERNS, **kwargs)

    def analyze(
        self,
        text: str,
        entities: list[str],
        nlp_artifacts: NlpArtifacts | None = None,
        regex_flags: int | None = None,
    ) -> list[RecognizerResult]:
        results: list[RecognizerResult] = super().analyze(
            text, entities, nlp_artifacts, regex_flags
        )
        if not results:
            return results
        emails = [m.span() for m in _EMAIL_TOKEN.finditer(text)]
        return [r for r in results if not _inside(emails, r.start, r.end)]


_WORD_CHAR = r"[^\s@<>()\[\],;:\"]"
# From a token's first character only, so a long token without an "@" is read once.
_EMAIL_TOKEN = re.compile(rf"(?<!{_WORD_CHAR}){_WORD_CHAR}++@{_WORD_CHAR}++")


def _inside(spans: list[tuple[int, int]], start: int, end: int) -> bool:
    # The tokens do not overlap and come in order: only the last one starting at or
    # before `start` can hold the span.
    at = bisect.bisect_right(spans, (start, math.inf)) - 1
    return at >= 0 and spans[at][0] <= start and end <= spans[at][1]
