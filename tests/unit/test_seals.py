"""Seals: the Merkle construction as documented, the seal chain, and what breaks a seal."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import UTC, datetime

import pytest

from domain.envelope import GENESIS_HASH
from domain.seals import Head, link_faults, merkle_root, next_seal, seal_faults, seal_from_json

AT = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
HEADS = [Head(f"stream-{i}", i + 1, f"{i:064x}") for i in range(5)]


def leaf(head: Head) -> bytes:
    text = json.dumps(
        {"hash": head.hash, "stream_id": head.stream_id, "version": head.version},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(b"\x00" + text.encode()).digest()


def node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def test_the_merkle_root_of_five_heads_promotes_the_odd_node() -> None:
    a, b, c, d, e = (leaf(head) for head in HEADS)
    # level 1: ab, cd, e (promoted); level 2: abcd, e (promoted); root: abcd+e
    expected = node(node(node(a, b), node(c, d)), e)
    assert merkle_root(HEADS) == expected.hex()


def test_the_merkle_root_of_one_head_is_its_leaf_and_of_none_the_empty_leaf() -> None:
    assert merkle_root(HEADS[:1]) == leaf(HEADS[0]).hex()
    assert merkle_root([]) == hashlib.sha256(b"\x00").hexdigest()


def test_heads_of_any_stream_id_hash_as_their_canonical_json() -> None:
    # Verify builds each head's text itself; quotes, controls and non-ASCII text included.
    awkward = [Head(f's {chr(c)} \\ " é 😀', c, f"{c:064x}") for c in (0, 10, 31, 127)]
    a, b, c, d = (leaf(head) for head in awkward)
    assert merkle_root(awkward) == node(node(a, b), node(c, d)).hex()
    seal = next_seal(None, awkward, position=4, sealed_at=AT)  # hashed by `canonical_json`
    assert seal_faults(seal) == []


def test_seals_chain_by_number_and_hash_and_sort_their_heads() -> None:
    first = next_seal(None, reversed(HEADS), position=10, sealed_at=AT)
    second = next_seal(first, HEADS[:2], position=12, sealed_at=AT)
    assert (first.number, first.previous_hash) == (1, GENESIS_HASH)
    assert list(first.heads) == HEADS
    assert (second.number, second.previous_hash) == (2, first.hash)
    assert seal_faults(first) + link_faults(first, None) == []
    assert seal_faults(second) + link_faults(second, first) == []


def test_a_seal_reads_back_from_its_json_as_it_was() -> None:
    seal = next_seal(None, HEADS, position=10, sealed_at=AT)
    assert seal_from_json(json.loads(json.dumps(seal.as_json()))) == seal


def test_a_changed_head_breaks_the_root_and_the_hash() -> None:
    seal = next_seal(None, HEADS, position=10, sealed_at=AT)
    forged_heads = (dataclasses.replace(HEADS[0], hash="f" * 64), *HEADS[1:])
    forged = dataclasses.replace(seal, heads=forged_heads)
    assert seal_faults(forged) == [
        "its hash does not match its content",
        "its Merkle root does not match its heads",
    ]


def test_a_seal_that_skips_or_does_not_link_is_named() -> None:
    first = next_seal(None, HEADS, position=10, sealed_at=AT)
    stray = next_seal(None, HEADS, position=12, sealed_at=AT)  # a second "seal 1"
    assert link_faults(stray, first) == [
        "it is numbered 1, expected 2",
        "it does not link to the previous seal's hash",
    ]


def test_one_head_per_stream() -> None:
    with pytest.raises(ValueError, match="one head per stream"):
        next_seal(None, [HEADS[0], dataclasses.replace(HEADS[0], version=9)], 1, AT)
