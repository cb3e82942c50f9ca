"""The budget-read model behind docs/cosmos-costs.md, worked by hand."""

from __future__ import annotations

import dataclasses

import pytest

from benchmarks.cosmos_costs import (
    KB,
    PerGeneration,
    RuModel,
    Workload,
    budget_read_items_at_scale,
    first_generations_ru,
    host_instances,
    warm_read_items,
)

GENERATION = PerGeneration(
    ru=100.0,
    budget_reads=2.0,
    budget_read_items=1.0,
    budget_events=2.0,
    budget_item_bytes=1000.0,
    stored_bytes=0.0,
    queue_sends=1.0,
    images=1.0,
    function_executions=3.0,
)


def test_a_warm_read_returns_what_the_other_instances_appended_since() -> None:
    workload = Workload(images_per_day=864_000, worker_seconds=20.0, worker_concurrency=16)
    # 10 generations/s x 20 s in flight over 16 at a time: 12.5 instances
    assert host_instances(workload) == pytest.approx(12.5)
    # 2 events and 2 reads a generation: a read returns one event per instance
    assert warm_read_items(GENERATION, workload) == pytest.approx(12.5)
    quiet = dataclasses.replace(workload, images_per_day=1000)
    assert host_instances(quiet) == 1.0  # never fewer than one


def test_a_first_read_returns_the_month_so_far_once_per_started_instance_and_department() -> None:
    workload = Workload(images_per_day=1_000_000, departments=100, instance_starts_per_day=24)
    month = workload.per_month / 100 * 2  # a department-month's budget events
    whole = budget_read_items_at_scale(GENERATION, workload)
    assert whole == pytest.approx(month / 2)
    model = RuModel()
    one_read = model.query(whole, whole * 1000.0)
    assert one_read == pytest.approx(
        -(-whole // model.page_items) * model.query_page + whole * 1000.0 / KB
    )
    per_generation = first_generations_ru(one_read, workload)
    assert per_generation == pytest.approx(24 * 100 * one_read / 1_000_000)
