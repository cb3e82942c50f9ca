"""The audit trail's export formats: JSON Lines and CSV, written one event at a time.

JSON Lines: one envelope per line, exactly the fields the hash covers plus `hash`, in the
textual form the hash was computed over (`recorded_at` as `2026-11-23T10:00:01.000000Z`),
so `sha256(canonical_json(line minus "hash"))` re-derives each event's hash.

CSV (RFC 4180, CRLF line ends, a header row), one row per event, columns `CSV_COLUMNS`:
the envelope flattened (`actor_user_id`, `actor_roles` joined with `;`,
`actor_department_id`), empty cells for nulls, and `data` as compact canonical JSON in
one column. A spreadsheet runs a cell starting with `=`, `+`, `-`, `@`, a tab or a
carriage return as a formula, so such cells (user ids come from identity tokens) are
written with a leading apostrophe, and so are cells that start with an apostrophe
already; `csv_cell` strips exactly one, so the export still round-trips to the events
and their hashes.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from domain.envelope import Actor, Event, canonical_json, hashed_fields

CSV_COLUMNS = (
    "event_id",
    "stream_id",
    "version",
    "type",
    "schema_version",
    "recorded_at",
    "correlation_id",
    "causation_id",
    "actor_user_id",
    "actor_roles",
    "actor_department_id",
    "data",
    "prev_hash",
    "hash",
)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")


class TextSink(Protocol):
    """Where an export goes: a file, standard output, a socket's writer."""

    def write(self, text: str, /) -> object: ...


def envelope(event: Event) -> dict[str, Any]:
    """The event as recorded: the hashed fields in their hashed form, and the hash."""
    fields = hashed_fields(
        event_id=event.event_id,
        stream_id=event.stream_id,
        version=event.version,
        type=event.type,
        schema_version=event.schema_version,
        recorded_at=event.recorded_at,
        correlation_id=event.correlation_id,
        causation_id=event.causation_id,
        actor=event.actor,
        data=event.data,
        prev_hash=event.prev_hash,
    )
    fields["hash"] = event.hash
    return fields


def write_jsonl(events: Iterable[Event], out: TextSink) -> int:
    """Write one envelope per line; the number of events written."""
    count = 0
    for line in jsonl_lines(events):
        out.write(line)
        count += 1
    return count


def jsonl_lines(events: Iterable[Event]) -> Iterator[str]:
    for event in events:
        yield canonical_json(envelope(event)) + "\n"


def write_csv(events: Iterable[Event], out: TextSink) -> int:
    """Write the header and one row per event; the number of events written."""
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    count = 0
    for event in events:
        fields = envelope(event)
        actor = fields.pop("actor")
        fields["actor_user_id"] = actor["user_id"]
        fields["actor_roles"] = ";".join(actor["roles"])
        fields["actor_department_id"] = actor["department_id"]
        fields["data"] = canonical_json(fields["data"])
        writer.writerow([_cell(fields[column]) for column in CSV_COLUMNS])
        count += 1
    return count


def event_from_csv(row: Mapping[str, str]) -> Event:
    """The event a CSV row (read with `csv.DictReader`) was written from."""
    cell = {column: csv_cell(row[column]) for column in CSV_COLUMNS}
    roles = cell["actor_roles"]
    return Event(
        event_id=UUID(cell["event_id"]),
        stream_id=cell["stream_id"],
        version=int(cell["version"]),
        type=cell["type"],
        schema_version=int(cell["schema_version"]),
        recorded_at=datetime.fromisoformat(cell["recorded_at"]),
        correlation_id=UUID(cell["correlation_id"]),
        causation_id=UUID(cell["causation_id"]) if cell["causation_id"] else None,
        actor=Actor(
            user_id=cell["actor_user_id"],
            roles=tuple(roles.split(";")) if roles else (),
            department_id=cell["actor_department_id"] or None,
        ),
        data=json.loads(cell["data"]),
        prev_hash=cell["prev_hash"],
        hash=cell["hash"],
    )


def csv_cell(text: str) -> str:
    """A cell's value as exported: the formula guard's apostrophe taken off again."""
    return text[1:] if text.startswith("'") else text


def _cell(value: object) -> str:
    if value is None:
        return ""
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text
