"""A data subject's privacy record: erasures and subject-access exports.

Each subject has one stream, named after a digest of their user id (see
`domain.streams.privacy_stream`). Its events carry the subject id itself, as every
generation's events already do in their actor and sealed prompt: erasure destroys what
a person wrote, not the fact that they used the service, which the seven-year audit
trail must keep. Nothing else personal enters these events in clear: an erasure's
`reason` is free text, which may say anything about the person, so it is sealed under
the very key the erasure destroys (docs/retention.md says why).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Annotated, ClassVar

from pydantic import Field

from domain.envelope import Event
from domain.generation import Payload, SealedText

REASON_MAX_LENGTH = 200


class SubjectErased(Payload):
    """The subject's data key was destroyed: all text sealed under it is unreadable."""

    TYPE: ClassVar[str] = "SubjectErased"

    subject_id: str
    requested_by: str
    # Sealed under the subject's key just before it was destroyed, so nobody can read it.
    # A plain string is an event recorded before reasons were sealed: the log is immutable,
    # so those keep the text they were given.
    reason: SealedText | Annotated[str, Field(max_length=REASON_MAX_LENGTH)] | None = None


class SubjectAccessExported(Payload):
    """Everything held about the subject was handed to `requested_by` (a read, audited)."""

    TYPE: ClassVar[str] = "SubjectAccessExported"

    subject_id: str
    requested_by: str


@dataclass(frozen=True, slots=True)
class PrivacyRecord:
    version: int = 0
    erased_at: datetime | None = None  # the latest erasure, if any
    exports: int = 0
    erased_version: int = 0  # the version of the latest erasure's event (0: none)

    @property
    def erased(self) -> bool:
        return self.erased_at is not None

    def erased_since(self, recorded_at: datetime) -> bool:
        """Whether what was recorded at `recorded_at` was erased (by the latest erasure)."""
        return self.erased_at is not None and recorded_at <= self.erased_at


def evolve(record: PrivacyRecord, event: Event) -> PrivacyRecord:
    if event.type == SubjectErased.TYPE:
        return replace(
            record, version=event.version, erased_at=event.recorded_at, erased_version=event.version
        )
    exports = record.exports + (event.type == SubjectAccessExported.TYPE)
    return replace(record, version=event.version, exports=exports)


def fold(events: Iterable[Event]) -> PrivacyRecord:
    record = PrivacyRecord()
    for event in events:
        record = evolve(record, event)
    return record


def needs_erasure_event(record: PrivacyRecord, *, key_destroyed: bool, seen: int) -> bool:
    """Whether an erasure request must append `SubjectErased`.

    The key is destroyed before the event is appended, so a request that destroyed
    nothing is either a repeat (the log says erased already: nothing to add) or the
    retry of one that crashed between the two steps (the log does not say so yet: the
    event is still owed). A request that did destroy a key records it, even after an
    earlier erasure (the subject came back and was erased again), unless an erasure
    was recorded after `seen`, the stream's version read once the key was gone: that
    one was written after the destruction (it won the race to append), so it stands
    for this destruction too.
    """
    if key_destroyed and record.erased_version <= seen:
        return True
    return not record.erased
