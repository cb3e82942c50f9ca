"""The chain verifier on hand-made links: each kind of problem, raised exactly where defined."""

from __future__ import annotations

import hashlib

from domain.audit import ChainVerifier, Link, Problem, ProblemKind
from domain.envelope import GENESIS_HASH


def chain(stream_id: str, count: int) -> list[Link]:
    links: list[Link] = []
    prev = GENESIS_HASH
    for version in range(1, count + 1):
        text = f"{stream_id}|{version}|{prev}|payload {version}"
        hash_ = hashlib.sha256(text.encode()).hexdigest()
        links.append((stream_id, version, prev, hash_, text))
        prev = hash_
    return links


def interleave(*streams: list[Link]) -> list[Link]:
    merged: list[Link] = []
    for i in range(max(len(s) for s in streams)):
        merged.extend(s[i] for s in streams if i < len(s))
    return merged


def verify(links: list[Link]) -> list[tuple[str, int, ProblemKind]]:
    verifier = ChainVerifier()
    verifier.feed(links)
    return [(p.stream_id, p.version, p.kind) for p in verifier.finish()]


def forged(link: Link, prev: str, payload: str) -> Link:
    stream_id, version, _, _, _ = link
    text = f"{stream_id}|{version}|{prev}|{payload}"
    return (stream_id, version, prev, hashlib.sha256(text.encode()).hexdigest(), text)


def test_intact_chains_pass_and_memory_is_per_stream() -> None:
    verifier = ChainVerifier()
    verifier.feed(interleave(chain("a", 50), chain("b", 30), chain("c", 1)))
    assert verifier.finish() == []
    assert (verifier.events, verifier.streams) == (81, 3)


def test_changed_content_is_modified_and_only_there() -> None:
    a = chain("a", 5)
    stream_id, version, prev, hash_, text = a[2]
    a[2] = (stream_id, version, prev, hash_, str(text).replace("payload", "paylaod"))
    assert verify(interleave(a, chain("b", 5))) == [("a", 3, ProblemKind.MODIFIED)]


def test_an_unreadable_event_is_modified() -> None:
    a = chain("a", 3)
    a[1] = (*a[1][:4], None)
    assert verify(a) == [("a", 2, ProblemKind.MODIFIED)]


def test_a_deleted_event_is_missing() -> None:
    a = chain("a", 6)
    del a[2]
    assert verify(interleave(a, chain("b", 6))) == [("a", 3, ProblemKind.MISSING)]


def test_a_deleted_run_names_every_version() -> None:
    a = chain("a", 8)
    del a[2:5]
    assert verify(a) == [("a", v, ProblemKind.MISSING) for v in (3, 4, 5)]


def test_a_stream_that_does_not_start_at_one_is_missing_its_start() -> None:
    assert verify(chain("a", 3)[1:]) == [("a", 1, ProblemKind.MISSING)]


def test_a_forgery_in_a_real_events_place_is_inserted() -> None:
    a = chain("a", 5)
    a[2] = forged(a[2], prev=a[1][3], payload="a forged order")  # its own hash is right
    assert verify(a) == [("a", 3, ProblemKind.INSERTED)]


def test_a_first_event_that_links_to_something_is_inserted() -> None:
    a = chain("a", 2)
    a[0] = forged(a[0], prev="1" * 64, payload="x")
    a[1] = forged(a[1], prev=a[0][3], payload="y")
    assert verify(a) == [("a", 1, ProblemKind.INSERTED)]


def test_two_swapped_events_are_reordered_once() -> None:
    a = chain("a", 6)
    a[2], a[3] = a[3], a[2]
    assert verify(interleave(a, chain("b", 6))) == [("a", 3, ProblemKind.REORDERED)]


def test_an_event_far_out_of_place_is_reordered() -> None:
    a = chain("a", 6)
    late = a.pop(1)
    a.append(late)
    assert verify(a) == [("a", 2, ProblemKind.MISSING), ("a", 2, ProblemKind.REORDERED)]


def test_a_tampered_link_with_a_stale_hash_is_modified_not_blamed_on_its_predecessor() -> None:
    a = chain("a", 4)
    stream_id, version, prev, hash_, text = a[2]
    edited = "2" * 64  # the hashed text holds prev_hash, as the envelope's does
    a[2] = (stream_id, version, edited, hash_, str(text).replace(prev, edited))
    assert verify(a) == [("a", 3, ProblemKind.MODIFIED)]


def test_a_verify_from_mid_log_links_each_stream_to_what_came_before() -> None:
    a = chain("a", 6)
    hashes = {(s, v): h for s, v, _, h, _ in a}
    verifier = ChainVerifier(lambda stream_id, version: hashes.get((stream_id, version - 1)))
    verifier.feed(a[3:])
    assert verifier.finish() == []
    wrong = ChainVerifier(lambda stream_id, version: "9" * 64)
    wrong.feed(a[3:])
    assert wrong.finish() == [
        Problem("a", 3, ProblemKind.INSERTED, "its successor links elsewhere")
    ]
