"""The ports and policies a use case needs, bundled once by the composition root."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from domain.catalogue import Catalogue
from domain.screening import PolicyBook, Redactor
from services.destinations import Resolver
from services.log_replay import LogReplay
from services.log_tail import LogTail
from services.metrics import NullMeter
from services.ports import (
    ContentCredentials,
    ContentModerator,
    EventStore,
    ImageLinks,
    ImageProvider,
    ImageStore,
    Meter,
    PiiAnalyzer,
    SubjectKeyRing,
    ViewReader,
    WorkQueue,
)
from services.repository import Repository
from services.settings import Settings


@dataclass(frozen=True)
class Platform:
    settings: Settings
    store: EventStore
    queue: WorkQueue
    images: ImageStore
    analyzer: PiiAnalyzer
    redactor: Redactor
    providers: Mapping[str, ImageProvider]
    keys: SubjectKeyRing
    views: ViewReader
    catalogue: Catalogue
    screening_policies: PolicyBook
    clock: Callable[[], datetime]
    sleep: Callable[[float], None]
    credentials: ContentCredentials  # signs every stored image, reads any
    repository: Repository  # the command side's one way to load state (over `store`)
    resolver: Resolver  # checks client-given URLs (callback_url) before they are accepted
    generation_id_key: Callable[[], bytes]  # keys ids derived from an Idempotency-Key
    image_links: ImageLinks | None = None  # None: the app serves image bytes itself
    moderators: tuple[ContentModerator, ...] = ()  # besides the policy's own term list
    log_tail: LogTail | None = None  # where the store has a global order to tail
    replay: LogReplay | None = None  # the whole log in the store's order (audit feeds)
    meter: Meter = field(default_factory=NullMeter, compare=False)  # services/metrics.py
