"""Seals: signed-off checkpoints of the log that later tampering cannot rewrite unseen.

A seal lists the head `(stream_id, version, hash)` of every stream that changed since the
previous seal, sorted by stream id, and the global position it reaches. It commits to
those heads with a Merkle root and to the previous seal with that seal's hash, so the
seals form a chain of their own. Each seal is stored once, create-only, where the
platform cannot overwrite it (an append-only folder, an immutable blob container).

Merkle construction (SHA-256, hex in JSON, raw bytes inside the tree):
- leaf  = H(0x00 || canonical_json(head) as UTF-8), head = {"hash","stream_id","version"};
- node  = H(0x01 || left || right);
- a level with an odd count promotes its last node unchanged to the next level;
- no heads: the root is H(0x00) over nothing, i.e. SHA-256 of the single byte 0x00.
The 0x00/0x01 prefixes keep a leaf from ever being read as a node (RFC 6962's rule).

The seal's own hash is SHA-256 over the canonical JSON of every field but `hash`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from itertools import pairwise
from typing import Any

from domain.envelope import GENESIS_HASH, canonical_json, format_timestamp

_json_string: Callable[[str], str] = json.encoder.encode_basestring  # as canonical_json

_LEAF = b"\x00"
_NODE = b"\x01"


@dataclass(frozen=True, slots=True, order=True)
class Head:
    """A stream's last event as a seal saw it."""

    stream_id: str
    version: int
    hash: str

    def as_json(self) -> dict[str, Any]:
        return {"hash": self.hash, "stream_id": self.stream_id, "version": self.version}


@dataclass(frozen=True, slots=True)
class Seal:
    number: int
    previous_hash: str  # GENESIS_HASH for seal 1
    sealed_at: datetime
    position: int  # the global position the seal reaches (0 where the log has none)
    heads: tuple[Head, ...]
    merkle_root: str
    hash: str

    def sealed_fields(self) -> dict[str, Any]:
        """Everything but `hash`, in the JSON form the hash is computed over."""
        return {"heads": [head.as_json() for head in self.heads], **self.fields_but_heads()}

    def fields_but_heads(self) -> dict[str, Any]:
        return {
            "merkle_root": self.merkle_root,
            "number": self.number,
            "position": self.position,
            "previous_hash": self.previous_hash,
            "sealed_at": format_timestamp(self.sealed_at),
        }

    def as_json(self) -> dict[str, Any]:
        return {**self.sealed_fields(), "hash": self.hash}


def merkle_root(heads: Iterable[Head]) -> str:
    return _merkle_root([_head_text(head) for head in heads])


def _head_text(head: Head) -> str:
    # `canonical_json(head.as_json())`, assembled: verify computes it for every head of
    # every seal (unit tests hold the two equal).
    return (
        f'{{"hash":{_json_string(head.hash)},"stream_id":{_json_string(head.stream_id)},'
        f'"version":{int(head.version)}}}'
    )


def _merkle_root(head_texts: Sequence[str]) -> str:
    sha256 = hashlib.sha256
    level = [sha256(_LEAF + text.encode("utf-8")).digest() for text in head_texts]
    if not level:
        return _digest(_LEAF).hex()
    while len(level) > 1:
        pairs = [_digest(_NODE, level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        level = pairs + level[len(level) - len(level) % 2 :]
    return level[0].hex()


def seal_hash(seal_fields: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(seal_fields).encode("utf-8")).hexdigest()


def next_seal(
    previous: Seal | None, heads: Iterable[Head], position: int, sealed_at: datetime
) -> Seal:
    """The seal after `previous` over `heads` (one per stream; sorted here)."""
    ordered = tuple(sorted(heads))
    if len({head.stream_id for head in ordered}) != len(ordered):
        raise ValueError("a seal holds one head per stream")
    unsigned = Seal(
        number=1 if previous is None else previous.number + 1,
        previous_hash=GENESIS_HASH if previous is None else previous.hash,
        sealed_at=sealed_at,
        position=position,
        heads=ordered,
        merkle_root=merkle_root(ordered),
        hash="",
    )
    return replace(unsigned, hash=seal_hash(unsigned.sealed_fields()))


def seal_from_json(value: dict[str, Any]) -> Seal:
    """A stored seal as it reads, unchecked: `seal_faults` is what judges it."""
    return Seal(
        number=int(value["number"]),
        previous_hash=str(value["previous_hash"]),
        sealed_at=datetime.fromisoformat(str(value["sealed_at"]).replace("Z", "+00:00")),
        position=int(value["position"]),
        heads=tuple(
            Head(str(head["stream_id"]), int(head["version"]), str(head["hash"]))
            for head in value["heads"]
        ),
        merkle_root=str(value["merkle_root"]),
        hash=str(value["hash"]),
    )


def seal_faults(seal: Seal) -> list[str]:
    """What is wrong with `seal` in itself (empty: nothing)."""
    faults = []
    head_texts = [_head_text(head) for head in seal.heads]
    if _seal_hash(seal, head_texts) != seal.hash:
        faults.append("its hash does not match its content")
    if _merkle_root(head_texts) != seal.merkle_root:
        faults.append("its Merkle root does not match its heads")
    if any(a.stream_id >= b.stream_id for a, b in pairwise(seal.heads)):
        faults.append("its heads are not one per stream in stream order")
    return faults


def _seal_hash(seal: Seal, head_texts: Sequence[str]) -> str:
    """`seal_hash(seal.sealed_fields())`, its heads' part made of texts at hand: a list's
    canonical JSON is its items' joined by commas, and "heads" is the first key."""
    rest = canonical_json(seal.fields_but_heads())
    text = f'{{"heads":[{",".join(head_texts)}],{rest[1:]}'
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def link_faults(seal: Seal, previous: Seal | None) -> list[str]:
    """What is wrong with `seal` as the successor of `previous` (None: as the first seal)."""
    faults = []
    expected_number = 1 if previous is None else previous.number + 1
    expected_link = GENESIS_HASH if previous is None else previous.hash
    if seal.number != expected_number:
        faults.append(f"it is numbered {seal.number}, expected {expected_number}")
    if seal.previous_hash != expected_link:
        faults.append("it does not link to the previous seal's hash")
    if previous is not None and seal.position < previous.position:
        faults.append("it reaches a position before the previous seal's")
    return faults


def _digest(*parts: bytes) -> bytes:
    return hashlib.sha256(b"".join(parts)).digest()
