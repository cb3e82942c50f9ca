"""The redactor port on presidio-anonymizer: each span becomes `<ENTITY_TYPE>`.

Overlaps are Presidio's to settle: a span inside another gives way to the larger one,
two on the same characters to the higher score, and two that partly overlap are both
replaced, the later trimmed to start where the earlier ends. Either way no character
of a redacted span survives.
"""

from __future__ import annotations

from collections.abc import Sequence

from presidio_anonymizer import AnonymizerEngine
from presidio_anonymizer.entities import OperatorConfig, RecognizerResult

from domain.generation import FindingSummary


class PresidioRedactor:
    """Implements `domain.screening.Redactor`. Stateless and cheap: share one."""

    def __init__(self) -> None:
        self._engine = AnonymizerEngine()  # type: ignore[no-untyped-call]  # untyped upstream

    def redact(self, text: str, spans: Sequence[FindingSummary]) -> str:
        if not spans:
            return text
        results = [RecognizerResult(s.entity_type, s.start, s.end, s.score) for s in spans]
        # The placeholder spelled out, not left to the operator's default, since it is
        # exactly what providers see.
        operators = {
            s.entity_type: OperatorConfig("replace", {"new_value": f"<{s.entity_type}>"})
            for s in spans
        }
        return self._engine.anonymize(text=text, analyzer_results=results, operators=operators).text
