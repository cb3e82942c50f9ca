"""The ports and policies a use case needs, bundled once by the composition root."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from domain.catalogue import Catalogue
from domain.screening import ScreeningPolicy
from services.ports import (
    EventStore,
    ImageLinks,
    ImageProvider,
    ImageStore,
    PiiAnalyzer,
    SubjectKeyRing,
    ViewReader,
    WorkQueue,
)
from services.settings import Settings


@dataclass(frozen=True)
class Platform:
    settings: Settings
    store: EventStore
    queue: WorkQueue
    images: ImageStore
    analyzer: PiiAnalyzer
    providers: Mapping[str, ImageProvider]
    keys: SubjectKeyRing
    views: ViewReader
    catalogue: Catalogue
    screening_policy: ScreeningPolicy
    clock: Callable[[], datetime]
    sleep: Callable[[float], None]
    image_links: ImageLinks | None = None  # None: the app serves image bytes itself
