"""`POST /api/v1/audit/verify` on the running embedded platform: who may ask, and the report."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.fs_seal_store import FsSealStore
from adapters.sqlite_audit_log import SqliteAuditLog
from domain.envelope import utc_now
from services.seals import write_seal
from tests.platform_process import RunningPlatform, running_platform


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    with running_platform(tmp_path_factory.mktemp("audit-http")) as running:
        yield running


def test_an_auditor_verifies_the_log_and_its_seals_and_sees_a_tampered_event(
    platform: RunningPlatform,
) -> None:
    requester = platform.client(platform.token("dana", ["Generator.Standard"], "legal"))
    for n in range(3):
        accepted = requester.post("/api/v1/generations", json={"prompt": f"a quiet bay {n}"})
        assert accepted.status_code == 202, accepted.text
        assert platform.wait_terminal(requester, accepted.json()["id"])["status"] == "charged"
    log = SqliteAuditLog(platform.data_dir / "events.db")
    seal = write_seal(log, FsSealStore(platform.data_dir / "seals"), utc_now)
    log.close()
    assert seal is not None

    auditor = platform.client(platform.token("ines", ["Compliance.Auditor"], None))
    report = auditor.post("/api/v1/audit/verify").json()
    assert report["ok"] is True
    assert report["complete"] is True
    assert report["problems"] == []
    assert report["seals"] == 1
    assert report["events"] >= seal.position  # the projections' and webhooks' reads append none

    partial = auditor.post("/api/v1/audit/verify", json={"max_events": 2}).json()
    assert (partial["complete"], partial["ok"], partial["events"]) == (False, False, 2)
    assert auditor.post("/api/v1/audit/verify", json={"since": 9}).status_code == 404
    assert auditor.post("/api/v1/audit/verify", json={"since": 0}).status_code == 422

    stream_id, version = tamper_with_one_event(platform.data_dir / "events.db")
    tampered = auditor.post("/api/v1/audit/verify").json()
    assert tampered["ok"] is False
    assert [(p["stream_id"], p["version"], p["kind"]) for p in tampered["problems"]] == [
        (stream_id, version, "modified")
    ]


def test_only_auditors_and_admins_may_verify(platform: RunningPlatform) -> None:
    for roles, status in (
        (["Generator.Standard"], 403),
        (["Finance.Reader"], 403),
        (["Platform.Admin"], 200),
    ):
        client = platform.client(platform.token("someone", roles, "legal"))
        assert client.post("/api/v1/audit/verify").status_code == status, roles
    assert platform.client(None).post("/api/v1/audit/verify").status_code == 401


def tamper_with_one_event(path: Path) -> tuple[str, int]:
    with sqlite3.connect(path) as db:
        db.execute("DROP TRIGGER events_are_never_updated")
        stream_id, version = db.execute(
            "SELECT stream_id, version FROM events WHERE position = 1"
        ).fetchone()
        db.execute(
            "UPDATE events SET recorded_at = replace(recorded_at, '.', ',') WHERE position = 1"
        )
    return str(stream_id), int(version)
