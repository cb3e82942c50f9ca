"""One logging setup for the embedded host and the Functions app: JSON lines that carry
the correlation id (and trace id) of the request or message being handled, never a secret.

`install_log_hygiene` works at record creation (a log record factory), so every
handler sees clean records: ours, uvicorn's, and the Functions worker's, which ships
records to Application Insights without our formatter. Each record gets the current
correlation id, and its message and exception text pass through `redact`: bearer
tokens, JWTs, webhook secrets, PEM keys, `name=value` credentials (SAS `sig=` too)
and the input values pydantic puts in its errors (where a prompt would show).
Patterns cannot recognise a prompt as such, so prompts are kept out by never being
logged; `extra` fields named like a prompt or a secret are dropped by the formatter,
and a test scans a full run's log for the prompts it sent.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import traceback
from datetime import UTC, datetime
from typing import Any, TextIO

from opentelemetry import trace

from services.correlation import correlation_id

REDACTED = "[redacted]"

_SENSITIVE_NAME = re.compile(
    r"prompt|secret|token|password|passwd|authorization|signature|api_?key|private|credential",
    re.IGNORECASE,
)
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"-----BEGIN [A-Z ]+-----.*?(-----END [A-Z ]+-----|$)", re.DOTALL),
        "[redacted-pem]",
    ),
    (re.compile(r"\bBearer\s+[A-Za-z0-9\-._~+/]+=*", re.IGNORECASE), f"Bearer {REDACTED}"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), "[redacted-jwt]"),
    (re.compile(r"\bwhsec_[A-Za-z0-9]+"), f"whsec_{REDACTED}"),
    (
        re.compile(
            r"(?i)\b(password|passwd|secret|client_secret|api[_-]?key|access[_-]?token|"
            r"refresh[_-]?token|id[_-]?token|token|authorization|signature|sig|account[_-]?key)"
            r"(\"?'?\s*[:=]\s*\"?'?)([^\s\"',;&}]+)"
        ),
        rf"\1\2{REDACTED}",
    ),
    # pydantic errors repeat the input ("input_value='a portrait of …'").
    (re.compile(r"input_value=.*?(, input_type=|$)", re.DOTALL), rf"input_value={REDACTED}\1"),
)
_RECORD_FIELDS = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()
    | {"message", "asctime", "correlation_id", "trace_id", "taskName"}
)


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def install_log_hygiene() -> None:
    """Stamp and redact every record created from now on (once per process)."""
    current = logging.getLogRecordFactory()
    if getattr(current, "donatello_hygiene", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = current(*args, **kwargs)
        record.correlation_id = correlation_id.get()
        record.trace_id = _current_trace_id()
        _scrub(record)
        return record

    factory.donatello_hygiene = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def _current_trace_id() -> str | None:
    """The trace being recorded now, as its W3C hex id (None outside a sampled trace)."""
    context = trace.get_current_span().get_span_context()
    return trace.format_trace_id(context.trace_id) if context.is_valid else None


def _scrub(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # a malformed call: logging reports it when the record is handled
        return
    record.msg, record.args = redact(message), None
    if record.exc_info and record.exc_info[0] is not None:
        text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        # Only the redacted text goes on: a handler given exc_info would render it afresh.
        record.exc_text, record.exc_info = redact(text), None
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, correlation id, extras."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
            "correlation_id": getattr(record, "correlation_id", None),
            "trace_id": getattr(record, "trace_id", None),
        }
        for name, value in vars(record).items():
            if name not in _RECORD_FIELDS and not name.startswith("_"):
                line[name] = REDACTED if _SENSITIVE_NAME.search(name) else _plain(value)
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(self.formatException(record.exc_info))
        if record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = record.stack_info
        return json.dumps(line, ensure_ascii=False, default=str)


def _plain(value: object) -> object:
    if isinstance(value, str):
        return redact(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact(str(value))


def configure_logging(stream: TextIO | None = None, level: int = logging.INFO) -> None:
    """JSON lines on `stream` (stderr) for the whole process, hygiene installed."""
    install_log_hygiene()
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)  # library warnings become JSON lines too
