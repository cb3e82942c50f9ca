"""RequestCharges: the RU sums that the Cosmos adapters keep (their charges are read from
responses in tests/contract/test_cosmos_event_store.py)."""

from __future__ import annotations

from adapters.cosmos_charges import RequestCharges


def test_request_charges_remember_the_most_recently_charged_streams() -> None:
    charges = RequestCharges(max_streams=2)
    charges.add("a", 1.5)
    charges.add("b", 2.0)
    charges.add("a", 0.25)
    charges.add("c", 3.0)  # forgets b, charged least recently
    charges.add(None, 4.0)  # a replay: no stream

    assert [charges.of_stream(s) for s in ("a", "b", "c")] == [1.75, 0.0, 3.0]
    assert charges.total == 10.75
    assert charges.take("a") == 1.75
    assert charges.of_stream("a") == 0.0
    assert charges.total == 10.75
