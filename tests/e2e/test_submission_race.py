"""Two instances answering the same Idempotency-Key at once: the one whose append loses
the race answers the winner's generation, and the log holds one request."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from bootstrap import build_platform
from domain.access import Principal, Role
from domain.generation import GenerationRequested, PromptScreened
from domain.quota import quota_day
from domain.streams import GENERATION_PREFIX, generation_stream, quota_stream
from services.generations import GenerationRequest, submit_generation
from services.ports import EventStore
from services.repository import Repository
from services.settings import Settings
from tests.store_wrappers import Forwarding

REQUESTER = Principal("alice", frozenset({Role.GENERATOR_STANDARD}), "marketing", None)
REQUEST = GenerationRequest(prompt="a teapot shaped like a hedgehog")
KEY = "order-7"


class RacedOnTheRequest(Forwarding):
    """The real store, except that another instance submits the same request with the
    same key just before this one's append of the generation's stream."""

    def __init__(self, store: EventStore, settings: Settings) -> None:
        super().__init__(store)
        self.other: Settings | None = settings

    def before_append(self, stream_id: str, expected_version: int) -> None:
        other = self.other
        if other is not None and stream_id.startswith(GENERATION_PREFIX):
            self.other = None
            assert submit_generation(build_platform(other), REQUESTER, REQUEST, KEY).created


def test_the_loser_of_a_race_on_one_idempotency_key_answers_the_winners_generation(
    tmp_path: Path,
) -> None:
    settings = Settings(data_dir=tmp_path, provider_backoff_seconds=(0.0,))
    platform = build_platform(settings)
    racing = RacedOnTheRequest(platform.store, settings)
    mine = dataclasses.replace(platform, store=racing, repository=Repository(racing))

    submission = submit_generation(mine, REQUESTER, REQUEST, KEY)

    assert racing.other is None  # the other instance did get in first
    assert submission.created is False
    events = platform.store.read_stream(generation_stream(submission.generation_id))
    assert [e.type for e in events] == [GenerationRequested.TYPE, PromptScreened.TYPE]
    assert events[0].actor.user_id == REQUESTER.user_id  # the request is the requester's
    assert events[1].actor.user_id != REQUESTER.user_id  # its screening, the platform's
    quota = quota_stream(REQUESTER.user_id, quota_day(events[0].recorded_at))
    assert len(platform.store.read_stream(quota)) == 1  # one unit for the one request
