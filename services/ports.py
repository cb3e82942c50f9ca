"""The ports the services depend on. Adapters implement them; tests swap them.

Every adapter of a port passes the same contract suite in `tests/contract/`.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, assert_never
from uuid import UUID

from domain.access import Everything, InDepartment, Nothing, OwnedBy, Reach
from domain.envelope import Event, NewEvent
from domain.generation import Quality, Size, Style
from domain.screening import Finding
from domain.screening import Redactor as Redactor  # its port is the domain's: `screen` takes one

# The log's ports are the projections' (the runner reads it); re-exported for the services.
from projections.base import EventLog as EventLog
from projections.base import PositionedEvent as PositionedEvent
from services.metrics import Metric

# --- event store ---------------------------------------------------------------------


class ConcurrencyError(Exception):
    """The stream was not at the expected version: someone else appended first."""

    def __init__(self, stream_id: str, expected: int, actual: int) -> None:
        super().__init__(f"stream {stream_id!r} is at version {actual}, expected {expected}")
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual


class EventIdConflict(ValueError):
    """An event id reused in a way a retry cannot explain (another stream, a partial batch)."""


class EventStore(Protocol):
    def append(
        self,
        stream_id: str,
        expected_version: int,
        events: Sequence[NewEvent],
        *,
        head_hash: str | None = None,
    ) -> list[Event]:
        """Append `events` atomically at `expected_version` + 1, + 2, ...

        Raises ConcurrencyError when the stream is not at `expected_version`.
        Idempotent: if these `event_id`s are already recorded in the stream, nothing is
        written and the recorded events are returned.

        `head_hash` is the `hash` of the event at `expected_version` as this store
        returned it (from `read_stream` or `append`), when the caller has it: the store
        then need not read the stream's head to chain the new events. Events are never
        changed or removed, so a hash the store handed out for that version is the one it
        holds; pairing it with any other version is a caller's bug (see each adapter).
        """
        ...

    def read_stream(self, stream_id: str, from_version: int = 1) -> list[Event]:
        """The stream's events in version order (empty for an unknown stream)."""
        ...

    def find_event(self, stream_id: str, event_id: UUID) -> Event | None:
        """The stream's event of that id, if it is recorded: a lookup within the stream,
        so a decision keyed by a deterministic event id needs no fold of the stream."""
        ...


# --- snapshots -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A folded state of a stream at `version`: a cache, never a record.

    `aggregate` names the fold and `shape` its state's layout; a snapshot of another
    shape is ignored (folded again from the log), so changing a state's layout needs
    no migration. `head_hash` is the hash of the event at `version`.
    """

    aggregate: str
    stream_id: str
    shape: int
    version: int
    head_hash: str
    state: dict[str, Any]  # JSON


class SnapshotStore(Protocol):
    def get(self, aggregate: str, stream_id: str) -> Snapshot | None: ...

    def put(self, snapshot: Snapshot) -> None:
        """Keep `snapshot` unless a newer one of the stream is kept already."""
        ...

    def clear(self) -> int:
        """Delete every snapshot; how many there were. No answer of the platform changes."""
        ...


# --- work queue ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    message_id: str
    body: bytes
    scheduled_enqueue_time: datetime | None = None
    application_properties: Mapping[str, str] = field(default_factory=dict)


class WorkQueue(Protocol):
    def send(self, message: OutgoingMessage) -> None: ...


class QueueProbe(Protocol):
    """Looks at a queue without taking or locking anything (for the operations gauges)."""

    queue_name: str

    def oldest_unsettled(self) -> datetime | None:
        """Since when the oldest message not yet completed, waiting or in flight, has been
        due (a scheduled one from its scheduled time, once that has come); None when no
        due message is left. In flight counts because Service Bus's peek cannot tell a
        locked message apart, and a step stuck on its message is worth an alert too."""
        ...


# --- images --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoredImage:
    ref: str
    sha256: str
    bytes: int
    content_type: str


class ImageStore(Protocol):
    def put(
        self, ref: str, data: bytes, content_type: str, metadata: Mapping[str, str]
    ) -> StoredImage:
        """Store `data` under `ref`; writing the same bytes twice is harmless.

        Raises ValueError for a ref that is not a relative path of plain names (no `..`,
        `.`, empty segments, leading `/` or backslashes).
        """
        ...

    def get(self, ref: str) -> bytes:
        """Raises KeyError when there is no such image."""
        ...

    def delete(self, ref: str) -> bool:
        """Remove the image (and what is stored beside it); False when it was not there."""
        ...


class ImageLinks(Protocol):
    """Short-lived, read-only URLs to stored images, where the store can issue them.

    Blob Storage can (a SAS URL, so image bytes never pass through the app); the data
    folder cannot, and the app serves its images itself.
    """

    def read_url(self, ref: str, ttl: timedelta) -> str: ...


# --- screening -----------------------------------------------------------------------


class PiiAnalyzer(Protocol):
    def analyze(self, text: str) -> list[Finding]:
        """The personal data in `text`. Raises ScreeningTimedOut past the analyzer's bound."""
        ...


class ScreeningTimedOut(Exception):
    """The analysis of a prompt ran past its time bound and was abandoned.

    The prompt's screening is then rejected (`screening_timeout`), never let through.
    """

    def __init__(self, elapsed: float) -> None:
        super().__init__(f"screening abandoned after {elapsed:.2f} s")
        self.elapsed = elapsed


class ModerationUnavailable(Exception):
    """A moderator could not give a verdict. `retryable` says whether trying later may help
    (an outage, a 429: `retry_after` seconds when the service named them) or not (a bad
    key, a refused request: someone must act first)."""

    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


class ContentModerator(Protocol):
    """Flags content categories in a prompt; the screening policy says which ones block.

    The policy's own term list and a moderation service both implement it.
    """

    name: str

    def flagged(self, text: str) -> frozenset[str]:
        """The categories `text` falls in. Raises ModerationUnavailable."""
        ...


# --- image providers -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImageRequest:
    generation_id: str
    model_id: str
    prompt: str
    size: Size
    quality: Quality
    style: Style | None


@dataclass(frozen=True, slots=True)
class GeneratedImage:
    """A provider's image, checked whole and stripped of its metadata (which may hold the
    prompt), in the format the provider chose."""

    data: bytes
    content_type: str  # image/png, image/jpeg or image/webp
    provider_request_id: str | None = None
    # The file exactly as the provider sent it, when it carries the provider's own
    # Content Credentials: signing keeps it as the parent ingredient.
    credentialed_original: bytes | None = None


class ProviderError(Exception):
    """A provider call failed. `retryable` says whether trying again may help.

    `retry_after` is the provider's own wait, in seconds, before trying again (a 429's
    `Retry-After`), when it named one. `refused` marks a content refusal: the prompt's
    fault, not the provider's, so no other model is tried and the provider's health is
    not held against it.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        retry_after: float | None = None,
        refused: bool = False,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable and not refused
        self.retry_after = retry_after
        self.refused = refused


class ImageProvider(Protocol):
    name: str

    def generate(self, request: ImageRequest) -> GeneratedImage: ...


# --- telemetry ---------------------------------------------------------------------


class Meter(Protocol):
    """Where services record measurements; `labels` are the metric's own, all of them."""

    def add(self, metric: Metric, amount: float = 1.0, **labels: str) -> None: ...
    def observe(self, metric: Metric, value: float, **labels: str) -> None: ...
    def set(self, metric: Metric, value: float, **labels: str) -> None: ...


# --- Content Credentials ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CredentialClaim:
    """What our manifest says of an image: never the prompt, never the person."""

    generation_id: str
    model_id: str
    provider: str
    department_id: str
    created_at: datetime
    log_anchor: str  # the generation stream's head hash when the image was signed


@dataclass(frozen=True, slots=True)
class SignedImage:
    data: bytes
    content_type: str
    provider_credential: str  # "valid", "invalid" or "absent"
    provider_failures: tuple[str, ...] = ()  # the validation codes an invalid one failed


@dataclass(frozen=True, slots=True)
class ReadCredential:
    """What an image's Content Credentials say, as a C2PA validator reads them."""

    found: bool  # a manifest is there at all
    valid: bool  # its signature and its binding to these bytes hold
    ours: bool  # signed with our certificate, chained to our trust anchor
    failures: tuple[str, ...]
    claim: CredentialClaim | None  # our assertion, when the manifest carries one
    provider_credential: str  # "valid", "invalid" or "absent"


class SigningKey(Protocol):
    """An ES256 (P-256, SHA-256) key and the certificate chain naming it."""

    def certificate_chain(self) -> str:
        """PEM certificates, the signing certificate first, then its issuers."""
        ...

    def sign(self, data: bytes) -> bytes:
        """The DER-encoded ECDSA signature of SHA-256(`data`)."""
        ...


class ContentCredentials(Protocol):
    def sign(self, image: GeneratedImage, claim: CredentialClaim) -> SignedImage:
        """`image` with our signed manifest; the provider's manifest, when it had one, kept
        as the parent ingredient."""
        ...

    def read(self, data: bytes) -> ReadCredential:
        """Raises ValueError when `data` is not a PNG, JPEG or WebP image."""
        ...


# --- personal data -------------------------------------------------------------------


class SubjectKeyRing(Protocol):
    """Per-subject data keys. Destroying a key is how a subject is erased."""

    def key_for(self, subject_id: str) -> bytes:
        """The subject's key, created on first use."""
        ...

    def existing_key(self, subject_id: str) -> bytes | None:
        """The subject's key, or None if it never existed or was destroyed."""
        ...

    def destroy(self, subject_id: str) -> bool:
        """Destroy the subject's key for good; False when there was none. A later
        `key_for` mints a new key, under which nothing old can be read."""
        ...


# --- views ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HistoryQuery:
    """What a caller asks of the history, within the `Reach` it is read with: each filter
    given narrows it further (None here means "not asked", never "every department")."""

    user_id: str | None = None
    department_id: str | None = None
    status: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    limit: int = 50
    continuation: str | None = None


def history_equalities(reach: Reach, query: HistoryQuery) -> list[tuple[str, str]] | None:
    """The (field, value) pairs a history document must all match to be answered, from
    `reach` and then `query`; None when `reach` covers nothing, so there is nothing to ask.

    Both view stores build their history query from this, so they cannot disagree on
    what a reach means. A field may appear twice (reach and query), which is an AND."""
    scoped: list[tuple[str, str]]
    match reach:
        case Nothing():
            return None
        case Everything():
            scoped = []
        case InDepartment():
            scoped = [("department_id", reach.department_id)]
        case OwnedBy():
            scoped = [("user_id", reach.user_id)]
        case _:
            assert_never(reach)
    asked = (
        ("user_id", query.user_id),
        ("department_id", query.department_id),
        ("status", query.status),
    )
    return [*scoped, *((field, value) for field, value in asked if value is not None)]


class InvalidContinuation(ValueError):
    """A history continuation token that the view store did not issue."""


@dataclass(frozen=True, slots=True)
class Page:
    items: list[dict[str, Any]]
    continuation: str | None


class ViewReader(Protocol):
    def get(self, projection: str, key: str) -> dict[str, Any] | None: ...

    def list(self, projection: str, partition: str | None = None) -> Iterator[dict[str, Any]]: ...

    def history(self, reach: Reach, query: HistoryQuery) -> Page:
        """Generations within `reach` that match `query`, newest first."""
        ...

    def unfinished_generations(
        self, updated_before: datetime, limit: int = 500
    ) -> builtins.list[dict[str, Any]]: ...


# --- secrets -------------------------------------------------------------------------

SECRET_NAME_MAX_LENGTH = 127


def check_secret_name(name: str) -> str:
    """`name` if it is a valid Key Vault secret name (1-127 letters, digits and dashes).

    Every secret source holds its names to Key Vault's rule, so a name that works
    locally works in Azure. Names are case-insensitive, as in Key Vault.
    """
    if not 0 < len(name) <= SECRET_NAME_MAX_LENGTH or not all(
        char.isascii() and (char.isalnum() or char == "-") for char in name
    ):
        raise ValueError(
            f"invalid secret name {name!r}: use 1-{SECRET_NAME_MAX_LENGTH} letters, digits, dashes"
        )
    return name


class SecretNotFound(KeyError):
    """No secret of that name exists."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name

    def __str__(self) -> str:
        return f"no secret named {self.name!r}"


class SecretUnavailable(Exception):
    """The secret exists but cannot be served now.

    `retryable` is False when someone must act first (the secret is disabled, expired
    or not yet valid, or access to it is denied), True when it is a passing failure
    (the vault is unreachable and no usable value is cached).
    """

    def __init__(self, name: str, reason: str, *, retryable: bool) -> None:
        super().__init__(f"secret {name!r} is unavailable: {reason}")
        self.name = name
        self.retryable = retryable


class SecretSource(Protocol):
    def get(self, name: str) -> str:
        """The current value of the secret `name`.

        Raises ValueError for an invalid name (see `check_secret_name`), SecretNotFound
        when there is no such secret, SecretUnavailable when it cannot be served now.
        """
        ...
