"""Writing seals: the timer's job, and the ports a seal is made and kept with."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Protocol

from domain.envelope import canonical_json
from domain.seals import Head, Seal, next_seal, seal_from_json

log = logging.getLogger(__name__)


class SealExists(Exception):
    """A seal with this number is stored already: seals are never overwritten."""


class SealStore(Protocol):
    """Where seals are kept, create-only: one document per seal, named by its number."""

    def add(self, number: int, text: str) -> None:
        """Store seal `number`; raises `SealExists` if it is stored already."""
        ...

    def last(self) -> tuple[int, str] | None:
        """The highest-numbered seal's number and text, or None before the first."""
        ...

    def read(self, from_number: int = 1) -> Iterator[tuple[int, str]]:
        """Every seal from `from_number` on, in number order, as stored."""
        ...


class SealableLog(Protocol):
    """A log with a global order, so the streams changed since a seal are a range."""

    def last_position(self) -> int: ...

    def heads(self, after_position: int, up_to_position: int) -> list[Head]:
        """The head, as of `up_to_position`, of every stream with an event in the range."""
        ...


def seal_text(seal: Seal) -> str:
    return canonical_json(seal.as_json())


def parse_seal(text: str) -> Seal:
    """Raises ValueError (or KeyError, TypeError) when the text is not a seal's."""
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError("a seal is a JSON object")
    return seal_from_json(value)


def write_seal(log_: SealableLog, store: SealStore, clock: Callable[[], datetime]) -> Seal | None:
    """Seal every stream changed since the last seal; None when nothing changed.

    Reads only the events since the last seal's position. Two writers racing for the same
    number: the store keeps the first, and the other returns None.
    """
    stored = store.last()
    previous = None if stored is None else parse_seal(stored[1])
    since = 0 if previous is None else previous.position
    position = log_.last_position()
    if position <= since:
        return None
    heads = log_.heads(since, position)
    if not heads:  # a log whose positions are times moves on with nothing written
        return None
    seal = next_seal(previous, heads, position, clock())
    try:
        store.add(seal.number, seal_text(seal))
    except SealExists:
        log.info("seal %d was written by another writer", seal.number)
        return None
    log.info(
        "sealed %d streams up to position %d as seal %d", len(seal.heads), position, seal.number
    )
    return seal
