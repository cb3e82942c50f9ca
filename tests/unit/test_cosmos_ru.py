"""How `benchmarks.cosmos_ru` prices a new instance's first reads, worked by hand on a
made-up measurement (the measuring itself is run by tests/e2e/test_benchmarks_smoke.py)."""

from __future__ import annotations

import pytest

from benchmarks.cosmos_costs import (
    RuModel,
    Workload,
    budget_read_items_at_scale,
    first_generations_ru,
    warm_read_items,
)
from benchmarks.cosmos_measure import (
    COLD,
    PER_BATCH,
    PER_EVENT,
    PIPELINE,
    Exchange,
    Measurement,
    Written,
)
from benchmarks.cosmos_ru import at_scale, estimated_feed_rows, measured_rows

BUDGET = "budget-marketing-2026-12"
ITEM = 1000  # bytes of every budget event


def exchange(
    phase: str, operation: str, items: int, *, kind: str = "query", from_version: int | None = None
) -> Exchange:
    return Exchange(
        phase, kind, operation, BUDGET, (ITEM,) * items, 200, 1.0, "services/x.py:f", from_version
    )


def measured(first_read_from: int) -> Measurement:
    """One generation: a budget read returning one event and an append; then a new
    instance reads the stream (from `first_read_from`), again from its last, appends."""
    return Measurement(
        generations=1,
        exchanges=[
            exchange(PIPELINE, "read stream", 1, from_version=7),
            exchange(PIPELINE, "batch create of 1", 1, kind="batch"),
            exchange(COLD, "read stream", 3, from_version=first_read_from),
            exchange(COLD, "read stream", 0, from_version=first_read_from + 3),
            exchange(COLD, "batch create of 1", 1, kind="batch"),
        ],
        events=[Written(BUDGET, "BudgetCharged", ITEM)],
        statuses={"charged": 1},
        queue_sends=1,
        feed_batches={PER_EVENT: [1], PER_BATCH: [1]},
        label="by hand",
    )


@pytest.mark.parametrize("first_read_from", [1, 101], ids=["whole-stream", "from-a-snapshot"])
def test_a_new_instance_pays_its_first_budget_read_at_scale_once_per_department(
    first_read_from: int,
) -> None:
    model, workload = RuModel(), Workload(snapshot_every=100)
    kept = measured(first_read_from)
    rows = measured_rows(kept, model) + estimated_feed_rows(kept, model)

    figures = at_scale(kept, rows, workload, model, PER_BATCH)

    whole = budget_read_items_at_scale(figures.gen, workload)
    first = 50.0 if first_read_from > 1 else whole
    assert (figures.from_snapshot, figures.first_read_items) == (first_read_from > 1, first)
    # The new instance's other reads and its append are what a warm generation makes.
    assert figures.warm_items == warm_read_items(figures.gen, workload)
    assert figures.extra_per_start == pytest.approx(model.query(first, first * ITEM))
    assert figures.ru == pytest.approx(
        figures.warm_ru + first_generations_ru(figures.extra_per_start, workload)
    )


def test_a_kept_measurement_reads_back_as_it_was() -> None:
    kept = measured(1)
    assert Measurement.from_json(kept.to_json()) == kept
