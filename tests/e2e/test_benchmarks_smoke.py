"""The benchmark commands run end to end on tiny sizes, so they cannot rot unnoticed.

Figures come from the full runs (see benchmarks/README.md); nothing here times anything.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from benchmarks import audit, cosmos_ru, event_store, openai_face, pipeline, provenance, replay
from benchmarks.cosmos_measure import Measurement


def test_event_store_benchmark_prints_both_stores(capsys: pytest.CaptureFixture[str]) -> None:
    event_store.main(["--events", "20", "--streams", "10", "--repeats", "1"])
    printed = capsys.readouterr().out
    assert "eventsourcing" in printed
    assert "FULL" in printed
    assert "NORMAL" in printed
    ceilings = [row for row in printed.splitlines() if row.startswith(event_store.CEILING)]
    assert len(ceilings) == 4  # bare SQLite beside both peer rows; our keys twice beside its app


def test_replay_benchmark_prints_ours_and_the_peer(capsys: pytest.CaptureFixture[str]) -> None:
    replay.main(["--events", "300", "--repeats", "1", "--workers", "2"])
    printed = capsys.readouterr().out
    assert "replay_all" in printed
    assert "1 process" in printed
    assert "2 worker processes" in printed
    assert "select_notifications" in printed


def test_audit_benchmark_prints_every_measure_with_its_peak_memory(
    capsys: pytest.CaptureFixture[str],
) -> None:
    audit.main(["--events", "2000", "--repeats", "1"])
    rows = [row.split(" | ") for row in capsys.readouterr().out.splitlines()[2:]]
    measured = {row[1]: row for row in rows if row[2].strip()}
    for what in ("verify", "the read", "SHA-256", "eventsourcing", "replay_all"):
        [row] = [row for label, row in measured.items() if label.startswith(what)]
        assert float(row[-1].rstrip(" |")) > 0  # peak RSS, MiB


def test_cosmos_ru_benchmark_measures_each_operation(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Against the npm Cosmos DB emulator, which the benchmark starts itself."""
    kept = tmp_path / "run.json.gz"
    cosmos_ru.main(["--generations", "2", "--save", str(kept), "--label", "smoke"])
    printed = capsys.readouterr().out
    pipeline = [row.split(" | ") for row in printed.splitlines() if row.startswith("| pipeline |")]
    # operation -> (count per generation, RU the emulator charged per generation)
    measured = {cells[1]: (float(cells[4]), float(cells[7])) for cells in pipeline}
    assert measured["read stream"][0] > 0
    assert measured["read stream"][1] > 0  # read from the SDK's responses
    assert measured["batch create of 1"][0] > 0
    assert all(cells[3].startswith("services/") for cells in pipeline)  # who issued it
    assert "| views, 1 event/batch | view read | query |" in printed
    assert "| views, 100 events/batch | view create | create |" in printed
    assert "| RU per generation | before: issue 24 as found" in printed  # the kept baseline
    assert "| **total** |" in printed
    assert Measurement.from_json(gzip.decompress(kept.read_bytes()).decode()).label == "smoke"


def test_pipeline_benchmark_screens_and_runs_generations_to_charged(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Through the real host with a worker process beside it (`serve --processes 2`)."""
    pipeline.main(
        [
            "--prompts", "9", "--rounds", "1", "--generations", "6",
            "--processes", "2", "--workers", "1", "--posters", "2", "--in-process", "3",
            "--posts", "3",
        ]
    )  # fmt: skip
    printed = capsys.readouterr().out
    assert "3 generations after 20: " in printed
    assert "generations/s of these services alone" in printed
    assert "| all | 9 |" in printed
    assert "| with personal data | 3 |" in printed
    assert "| outcomes | charged 6, unfinished 0 |" in printed
    assert "| this checkout | 3 |" in printed  # the POST's cost
    assert "| request to charged p95 ms |" in printed
    # One run with the host's telemetry off, then one with it on, its split from the metrics.
    assert printed.index("telemetry off)") < printed.index("telemetry on)")
    assert printed.count("| outcomes | charged 6, unfinished 0 |") == 2
    split = next(r for r in printed.splitlines() if r.startswith("| platform time"))
    assert "n/a" not in split


def test_pipeline_benchmark_runs_against_the_remote_like_provider(
    capsys: pytest.CaptureFixture[str],
) -> None:
    pipeline.main(
        [
            "--skip-screening", "--generations", "4", "--processes", "1", "--workers", "2",
            "--posters", "2", "--provider", "remote", "--provider-delay", "0.05",
            "--telemetry", "on",
        ]
    )  # fmt: skip
    printed = capsys.readouterr().out
    assert "remote provider, telemetry on)" in printed
    assert "| outcomes | charged 4, unfinished 0 |" in printed
    assert "Remote-like provider: 8 answers of " in printed  # 4 to warm up, 4 timed
    provider = next(r for r in printed.splitlines() if r.startswith("| provider time"))
    p50 = float(provider.split(" | ")[1])
    assert p50 >= 50  # the stub's delay, measured by the host's own histogram
    assert "appends that lost a race for their stream and were retried" in printed


def test_provenance_benchmark_prints_signing_beside_the_old_stamp(
    capsys: pytest.CaptureFixture[str],
) -> None:
    provenance.main(["--repeats", "1"])
    printed = capsys.readouterr().out
    assert "| old stamp | strip (received) | sign, thumbnail off |" in printed
    rows = [row for row in printed.splitlines() if row.startswith("| 1")]
    assert [row.split(" | ")[0] for row in rows] == ["| 1024x1024", "| 1792x1024"]
    assert all(row.count(" ms") == 6 for row in rows)


def test_openai_face_benchmark_prints_both_paths_at_each_level(
    capsys: pytest.CaptureFixture[str],
) -> None:
    openai_face.main(["--requests", "3", "--clients", "1", "2", "--workers", "2"])
    printed = capsys.readouterr().out
    rows = [row for row in printed.splitlines() if row.startswith(("| native", "| face"))]
    assert len(rows) == 4
    assert all("| 3/3 |" in row for row in rows)  # every generation charged
    assert "the face adds p50" in printed
