"""Erasure and the subject-access export through the service layer, on the embedded
adapters: idempotence, the crash window between destroying the key and recording it,
and what the privacy stream records."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from uuid import uuid4

import pytest

from bootstrap import build_platform
from domain.access import AccessDenied, Principal, Role
from domain.envelope import NewEvent
from domain.generation import SealedText
from domain.privacy import SubjectAccessExported, SubjectErased
from domain.streams import PRIVACY_PREFIX, privacy_stream
from services.commands import Stamp
from services.context import Platform
from services.personal_data import open_text
from services.ports import EventStore
from services.privacy import erase_subject, export_subject
from services.repository import Repository
from services.settings import Settings
from tests.store_wrappers import Forwarding

SUBJECT = Principal("erin", frozenset({Role.GENERATOR_STANDARD}), "research", None)
OFFICER = Principal("cora", frozenset({Role.COMPLIANCE_AUDITOR}), None, None)


class CrashingOnPrivacyAppend(Forwarding):
    """The real store, except that the next append to a privacy stream dies, as the
    process would if it crashed after destroying the key."""

    crash_next = True

    def before_append(self, stream_id: str, expected_version: int) -> None:
        if self.crash_next and stream_id.startswith(PRIVACY_PREFIX):
            self.crash_next = False
            raise SystemExit("crashed between destroying the key and recording it")


class LosingTheRace(Forwarding):
    """The real store, except that another request appends `winner` to the privacy stream
    just before this one's first append there, which then conflicts."""

    def __init__(self, store: EventStore, winner: SubjectErased | SubjectAccessExported) -> None:
        super().__init__(store)
        self._winner: SubjectErased | SubjectAccessExported | None = winner

    def before_append(self, stream_id: str, expected_version: int) -> None:
        if self._winner is not None and stream_id.startswith(PRIVACY_PREFIX):
            (won,) = Stamp(uuid4(), OFFICER.to_actor()).events([self._winner])
            self._winner = None
            self.inner.append(stream_id, expected_version, [won])


def over(platform: Platform, store: EventStore) -> Platform:
    """`platform` with its commands appending to `store`."""
    return dataclasses.replace(platform, store=store, repository=Repository(store))


@pytest.fixture
def platform(tmp_path: Path) -> Platform:
    return build_platform(Settings(data_dir=tmp_path, provider_backoff_seconds=(0.0,)))


def privacy_events(platform: Platform) -> list[str]:
    return [e.type for e in platform.store.read_stream(privacy_stream(SUBJECT.user_id))]


def test_erasing_twice_records_one_erasure(platform: Platform) -> None:
    platform.keys.key_for(SUBJECT.user_id)
    first = erase_subject(platform, OFFICER, SUBJECT.user_id, "ticket 7")
    second = erase_subject(platform, OFFICER, SUBJECT.user_id)
    assert (first["recorded"], second["recorded"]) == (True, False)
    assert first["erased_at"] == second["erased_at"] is not None
    assert platform.keys.existing_key(SUBJECT.user_id) is None
    (event,) = platform.store.read_stream(privacy_stream(SUBJECT.user_id))
    assert event.type == SubjectErased.TYPE
    assert {k: event.data[k] for k in ("subject_id", "requested_by")} == {
        "subject_id": "erin",
        "requested_by": "cora",
    }
    assert event.actor.user_id == "cora"


# Free text about the person being erased, as a requester might well write it.
REASON = "Erin Example (erin@contoso.example, 0412 345 678) asked by phone, ticket 7"


@pytest.mark.parametrize("had_key", [True, False], ids=["with-a-key", "never-had-one"])
def test_the_reason_is_sealed_and_unreadable_once_erased(platform: Platform, had_key: bool) -> None:
    if had_key:
        platform.keys.key_for(SUBJECT.user_id)
    assert erase_subject(platform, OFFICER, SUBJECT.user_id, REASON)["recorded"] is True
    # Sealing the reason left no key behind, not even one made for it.
    assert platform.keys.existing_key(SUBJECT.user_id) is None
    (event,) = platform.store.read_stream(privacy_stream(SUBJECT.user_id))
    recorded = json.dumps(event.data)
    for fragment in ("Erin Example", "erin@contoso", "0412", "ticket 7"):
        assert fragment not in recorded
    sealed = SealedText.model_validate(event.data["reason"])
    assert sealed.subject_id == SUBJECT.user_id
    assert open_text(platform.keys, sealed) is None  # no key opens it, not even a new one
    platform.keys.key_for(SUBJECT.user_id)
    with pytest.raises(ValueError, match="does not authenticate"):
        open_text(platform.keys, sealed)


def test_erasures_recorded_with_a_plain_reason_still_read(platform: Platform) -> None:
    """Stores written before reasons were sealed hold the text; the log is immutable."""
    legacy = {"subject_id": "erin", "requested_by": "cora", "reason": "ticket 7"}
    platform.store.append(
        privacy_stream(SUBJECT.user_id),
        0,
        [
            NewEvent(
                type=SubjectErased.TYPE,
                data=legacy,
                actor=OFFICER.to_actor(),
                correlation_id=uuid4(),
            )
        ],
    )
    assert SubjectErased.model_validate(legacy).reason == "ticket 7"
    assert export_subject(platform, OFFICER, SUBJECT.user_id)["erased"] is True
    assert erase_subject(platform, OFFICER, SUBJECT.user_id, "again")["recorded"] is False


def test_a_crash_after_destroying_the_key_is_completed_by_the_retry(platform: Platform) -> None:
    platform.keys.key_for(SUBJECT.user_id)
    crashing = CrashingOnPrivacyAppend(platform.store)
    with pytest.raises(SystemExit):
        erase_subject(over(platform, crashing), OFFICER, SUBJECT.user_id)
    # The window the order leaves open: the key is gone, the log does not say so yet.
    assert platform.keys.existing_key(SUBJECT.user_id) is None
    assert privacy_events(platform) == []

    retried = erase_subject(platform, OFFICER, SUBJECT.user_id)
    assert retried["recorded"] is True
    assert privacy_events(platform) == [SubjectErased.TYPE]


def test_erasing_a_returning_subject_again_is_recorded_again(platform: Platform) -> None:
    platform.keys.key_for(SUBJECT.user_id)
    erase_subject(platform, OFFICER, SUBJECT.user_id)
    platform.keys.key_for(SUBJECT.user_id)  # they generated again: a new key
    assert erase_subject(platform, OFFICER, SUBJECT.user_id)["recorded"] is True
    assert privacy_events(platform) == [SubjectErased.TYPE, SubjectErased.TYPE]


def test_an_erasure_that_loses_the_race_to_another_records_no_second(platform: Platform) -> None:
    platform.keys.key_for(SUBJECT.user_id)
    other = SubjectErased(subject_id=SUBJECT.user_id, requested_by="cora")
    racing = over(platform, LosingTheRace(platform.store, other))
    # The winner was written after this request destroyed the key: it stands for it.
    assert erase_subject(racing, OFFICER, SUBJECT.user_id)["recorded"] is False
    assert privacy_events(platform) == [SubjectErased.TYPE]


def test_an_erasure_that_loses_the_race_to_an_export_is_still_recorded(
    platform: Platform,
) -> None:
    platform.keys.key_for(SUBJECT.user_id)
    erase_subject(platform, OFFICER, SUBJECT.user_id)
    platform.keys.key_for(SUBJECT.user_id)  # they came back; now erased again
    export = SubjectAccessExported(subject_id=SUBJECT.user_id, requested_by="cora")
    racing = over(platform, LosingTheRace(platform.store, export))
    # The earlier erasure does not stand for this one: it destroyed another key.
    assert erase_subject(racing, OFFICER, SUBJECT.user_id)["recorded"] is True
    assert privacy_events(platform) == [
        SubjectErased.TYPE,
        SubjectAccessExported.TYPE,
        SubjectErased.TYPE,
    ]


def test_only_privacy_officers_erase(platform: Platform) -> None:
    platform.keys.key_for(SUBJECT.user_id)
    with pytest.raises(AccessDenied):
        erase_subject(platform, SUBJECT, SUBJECT.user_id)
    assert platform.keys.existing_key(SUBJECT.user_id) is not None
    assert privacy_events(platform) == []


def test_each_export_is_recorded_with_who_read_it(platform: Platform) -> None:
    export_subject(platform, SUBJECT, SUBJECT.user_id)
    export_subject(platform, OFFICER, SUBJECT.user_id)
    events = platform.store.read_stream(privacy_stream(SUBJECT.user_id))
    assert [(e.type, e.data["requested_by"]) for e in events] == [
        (SubjectAccessExported.TYPE, "erin"),
        (SubjectAccessExported.TYPE, "cora"),
    ]
    # An export is not an erasure.
    assert export_subject(platform, OFFICER, SUBJECT.user_id)["erased"] is False


def test_the_privacy_stream_names_no_user_id() -> None:
    stream = privacy_stream("erin@contoso.example")
    assert "erin" not in stream
    assert stream == privacy_stream("erin@contoso.example")
    assert stream != privacy_stream("erin@contoso.example ")
