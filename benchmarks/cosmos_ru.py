"""Cosmos DB operations and request units per generation, and the monthly cost of a
workload (by default 1,000,000 images a day).

Run: `python -m benchmarks.cosmos_ru [--generations N]`. `--help` lists every assumption,
RU figure and price; each is a parameter (`--departments`, `--ru-...`, `--price-...`).

Operations are measured against `@vercel/cosmosdb-server` through the real services and
adapters (`benchmarks.cosmos_measure`); their RU comes from Microsoft's published costs
applied to each operation's measured items (`benchmarks.cosmos_costs`), because the
emulator charges 1 RU for everything. docs/cosmos-costs.md explains the model.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from benchmarks.cosmos_costs import (
    PRICE_SOURCES,
    RU_SOURCES,
    Line,
    PerGeneration,
    Prices,
    RuModel,
    Workload,
    budget_read_items_at_scale,
    cold_read_ru_per_generation,
    host_instances,
    monthly_costs,
    ru_with_budget_reads_of,
    warm_read_items,
)
from benchmarks.cosmos_measure import (
    PER_EVENT,
    PER_GENERATION,
    PIPELINE,
    Measurement,
    json_size,
    measure,
)
from domain.generation import ImageGenerated
from domain.streams import BUDGET_POLICY_PREFIX, BUDGET_PREFIX
from projections import OWN_FEED_PROJECTIONS
from tests.emulators import NODE_BIN

ESTIMATED = "change feed (estimated)"
LEASE_BYTES = 600  # a change-feed lease document as the Functions host keeps it
MONTHS = (1, 12, 84)
PARTITION_RUS = 10_000  # the most a (logical or physical) partition serves (Cosmos DB quotas)
LOW_RETURNED_PER_KB = 0.1  # the sensitivity line: queries at a tenth of the published rate


@dataclass
class Row:
    phase: str
    operation: str
    kind: str
    count: float = 0.0  # per generation
    items: float = 0.0
    bytes: float = 0.0
    emulator_ru: float = 0.0
    estimate_ru: float = 0.0


def measured_rows(measured: Measurement, model: RuModel) -> list[Row]:
    """The exchanges after set-up, by phase and operation, per generation."""
    rows: dict[tuple[str, str, str], Row] = {}
    n = measured.generations
    for exchange in measured.exchanges:
        if exchange.phase == "setup":
            continue
        key = (exchange.phase, exchange.operation, exchange.kind)
        row = rows.setdefault(key, Row(*key))
        row.count += 1 / n
        row.items += len(exchange.item_sizes) / n
        row.bytes += sum(exchange.item_sizes) / n
        row.emulator_ru += exchange.charge / n
        row.estimate_ru += model.estimate(exchange.kind, exchange.item_sizes) / n
    return list(rows.values())


def estimated_feed_rows(measured: Measurement, model: RuModel) -> list[Row]:
    """Per change-feed batch and projection: one feed read and one lease checkpoint.

    Every projection's trigger reads every event, the ones it ignores included."""
    events = len(measured.events) / measured.generations
    event_bytes = _mean([json_size(item) for item in measured.events])
    rows = []
    for mode, batches, per_batch in ((PER_EVENT, events, 1.0), (PER_GENERATION, 1.0, events)):
        count = batches * len(OWN_FEED_PROJECTIONS)
        read = model.query(per_batch, per_batch * event_bytes)
        checkpoint = model.estimate("replace", (LEASE_BYTES,))
        rows.append(
            Row(
                ESTIMATED,
                f"feed read ({mode})",
                "change feed",
                count=count,
                items=count * per_batch,
                bytes=count * per_batch * event_bytes,
                estimate_ru=count * read,
            )
        )
        rows.append(
            Row(
                ESTIMATED,
                f"lease checkpoint ({mode})",
                "replace",
                count=count,
                items=count,
                bytes=count * LEASE_BYTES,
                estimate_ru=count * checkpoint,
            )
        )
    return rows


def in_mode(row: Row, mode: str) -> bool:
    """The rows of `mode`'s views: measured writes and reads, and its feed estimate."""
    return row.phase == mode or row.operation.endswith(f"({mode})")


def headline_ru(rows: Sequence[Row]) -> float:
    """A generation's RU: the pipeline, and the views fed one event per change-feed batch
    (what a large container's per-partition leases deliver; docs/cosmos-costs.md)."""
    return sum(r.estimate_ru for r in rows if r.phase == PIPELINE or in_mode(r, PER_EVENT))


def summarise(measured: Measurement, rows: Sequence[Row], workload: Workload) -> PerGeneration:
    n = measured.generations
    budget_reads = [
        e
        for e in measured.exchanges
        if e.phase == PIPELINE and e.operation == "read stream" and _is_budget(e.stream)
    ]
    budget_events = [item for item in measured.events if _is_budget(item["streamId"])]
    overhead = workload.item_overhead_bytes
    # Documents the views keep: what one batch per generation creates.
    view_bytes = sum(
        r.bytes + r.items * overhead
        for r in rows
        if r.phase == PER_GENERATION and r.kind == "create"
    )
    event_bytes = sum(json_size(item) + overhead for item in measured.events) / n
    images = sum(1 for item in measured.events if item["type"] == ImageGenerated.TYPE)
    return PerGeneration(
        ru=headline_ru(rows),
        budget_reads=len(budget_reads) / n,
        budget_read_items=_mean([len(e.item_sizes) for e in budget_reads]),
        budget_events=len(budget_events) / n,
        budget_item_bytes=_mean([json_size(item) for item in budget_events]),
        stored_bytes=event_bytes + view_bytes,
        queue_sends=measured.queue_sends / n,
        images=images / n,
        # The HTTP trigger, the queue trigger per message, a projector call per batch.
        function_executions=1
        + measured.queue_sends / n
        + len(measured.events) / n * len(OWN_FEED_PROJECTIONS),
    )


def _is_budget(stream: str | None) -> bool:
    return (
        stream is not None
        and stream.startswith(BUDGET_PREFIX)
        and not stream.startswith(BUDGET_POLICY_PREFIX)
    )


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


# --- the report --------------------------------------------------------------------------


def operations_table(rows: Sequence[Row]) -> list[str]:
    lines = [
        "| phase | operation | kind | per generation | items per op | bytes per item"
        " | emulator RU per gen | est. RU per op | est. RU per gen |",
        "|---|---|---|--:|--:|--:|--:|--:|--:|",
    ]
    for r in rows:
        per_op = r.estimate_ru / r.count if r.count else 0.0
        items = r.items / r.count if r.count else 0.0
        size = r.bytes / r.items if r.items else 0.0
        lines.append(
            f"| {r.phase} | {r.operation} | {r.kind} | {r.count:.2f} | {items:.1f} | {size:,.0f}"
            f" | {r.emulator_ru:.1f} | {per_op:.1f} | {r.estimate_ru:.1f} |"
        )
    return lines


def subtotals(rows: Sequence[Row], model: RuModel, measured: Measurement) -> list[str]:
    low = RuModel(**{**_values(model), "returned_per_kb": LOW_RETURNED_PER_KB})
    low_rows = measured_rows(measured, low) + estimated_feed_rows(measured, low)

    def total(selected: Iterable[Row]) -> float:
        return sum(r.estimate_ru for r in selected)

    pipeline = total(r for r in rows if r.phase == PIPELINE)
    lines = [f"- pipeline (measured operations): **{pipeline:.1f} RU**"]
    for mode in (PER_EVENT, PER_GENERATION):
        views = total(r for r in rows if r.phase == mode)
        feed = total(r for r in rows if r.operation.endswith(f"({mode})"))
        lines.append(
            f"- {mode}: {views:.1f} RU measured operations + {feed:.1f} RU estimated"
            f" feed reads and lease checkpoints = **{views + feed:.1f} RU**"
        )
    lines.append(
        f"- per generation, pipeline + views fed one event per batch:"
        f" **{headline_ru(rows):.1f} RU** ({headline_ru(low_rows):.1f} RU if returned data"
        f" cost {LOW_RETURNED_PER_KB:g} RU/KB"
        f" instead of {model.returned_per_kb:g})"
    )
    return lines


def scale_section(
    gen: PerGeneration, workload: Workload, model: RuModel
) -> tuple[list[str], float, float]:
    """The budget stream's reads at the workload's scale: as built, and with snapshots.
    Answers the lines and the RU per generation of each."""
    whole = budget_read_items_at_scale(gen, workload)
    warm = warm_read_items(gen, workload)
    bounded = workload.snapshot_every / 2
    warm_ru = ru_with_budget_reads_of(gen, warm, model)
    as_built = warm_ru + cold_read_ru_per_generation(gen, workload, model, whole)
    snapshots = warm_ru + cold_read_ru_per_generation(gen, workload, model, bounded)
    cold_ru = model.query(whole, whole * gen.budget_item_bytes)
    lines = [
        f"- measured: {gen.budget_reads:.1f} reads of the department's budget stream per"
        f" generation, returning {gen.budget_read_items:.1f} events on average in this run"
        " (one process: each read returns what was appended since its last);"
        f" {gen.budget_events:.1f} budget events ({gen.budget_item_bytes:,.0f} B each)"
        " appended per generation",
        f"- at {workload.images_per_day:,} images/day over {workload.departments} departments,"
        f" with {host_instances(workload):,.1f} host instances on average, a warm read returns"
        f" what the others appended since: about {warm:,.1f} events",
        f"- an instance's first read of a department-month returns the stream so far:"
        f" {whole:,.0f} events on average ({whole * gen.budget_item_bytes / 1e6:,.0f} MB,"
        f" {cold_ru:,.0f} RU), at least {cold_ru / PARTITION_RUS:,.0f} s of its partition's"
        f" {PARTITION_RUS:,} RU/s; {workload.instance_starts_per_day:g} instance starts a day"
        f" x {workload.departments} departments",
        f"- **{as_built:,.1f} RU per generation as built**"
        f" ({as_built * workload.images_per_day / 86_400:,.0f} RU/s on average), of which"
        f" {as_built - warm_ru:,.1f} the first reads",
        f"- with a budget snapshot every {workload.snapshot_every} events (a first read of"
        f" {bounded:g} events on average; not built): **{snapshots:,.1f} RU per generation**",
    ]
    return lines, as_built, snapshots


def costs_table(columns: Sequence[list[Line]]) -> list[str]:
    head = " | ".join(f"month {m}" for m in MONTHS)
    lines = [
        f"| line | {head} | notes (month {MONTHS[-1]}) |",
        "|---|" + "--:|" * len(MONTHS) + "---|",
    ]
    for index, line in enumerate(columns[-1]):
        amounts = " | ".join(f"{column[index].usd:,.0f}" for column in columns)
        name = line.item if line.in_total else f"({line.item}: not in total)"
        lines.append(f"| {name} | {amounts} | {line.note} |")
    totals = " | ".join(
        f"**{sum(x.usd for x in column if x.in_total):,.0f}**" for column in columns
    )
    lines.append(f"| **total** | {totals} | |")
    return lines


def sources(model: RuModel, prices: Prices, workload: Workload) -> list[str]:
    lines = ["| parameter | value | source |", "|---|--:|---|"]
    for name, value in _values(model).items():
        lines.append(f"| `--ru-{_option(name)}` | {_number(value)} | {RU_SOURCES[name]} |")
    for name, value in _values(prices).items():
        lines.append(f"| `--price-{_option(name)}` | {_number(value)} | {PRICE_SOURCES[name]} |")
    for name, value in _values(workload).items():
        lines.append(f"| `--{_option(name)}` | {_number(value)} | assumption |")
    return lines


def report(measured: Measurement, model: RuModel, prices: Prices, workload: Workload) -> str:
    rows = measured_rows(measured, model) + estimated_feed_rows(measured, model)
    gen = summarise(measured, rows, workload)
    scale, as_built, bounded_ru = scale_section(gen, workload, model)
    bounded = [monthly_costs(bounded_ru, gen, workload, prices, month) for month in MONTHS]
    built = [monthly_costs(as_built, gen, workload, prices, month) for month in MONTHS]
    local_png = _mean(
        [item["data"]["bytes"] for item in measured.events if item["type"] == ImageGenerated.TYPE]
    )
    statuses = ", ".join(f"{count} {status}" for status, count in sorted(measured.statuses.items()))
    parts = [
        f"## Operations per generation ({measured.generations} generations: {statuses})",
        *operations_table(rows),
        "",
        *subtotals(rows, model, measured),
        "",
        "## Budget-stream reads at scale",
        *scale,
        "",
        f"## Monthly cost, {workload.images_per_day:,} images/day, with budget snapshots (USD)",
        *costs_table(bounded),
        "",
        f"## Monthly cost, {workload.images_per_day:,} images/day, as built (USD)",
        *costs_table(built),
        "",
        f"Stored per generation: {gen.stored_bytes:,.0f} B of events and view documents"
        f" (JSON + {workload.item_overhead_bytes} B system properties each);"
        f" the local provider's PNG was {local_png / 1000:,.1f} KB, the model assumes"
        f" {workload.image_mb:g} MB.",
        "",
        "## Parameters",
        *sources(model, prices, workload),
    ]
    return "\n".join(parts)


# --- the command ---------------------------------------------------------------------------


def _values(instance: Any) -> dict[str, Any]:
    return {f.name: getattr(instance, f.name) for f in fields(instance)}


def _option(name: str) -> str:
    return name.replace("_", "-")


def _emulator_version() -> str:
    package = NODE_BIN.parent / "@vercel" / "cosmosdb-server" / "package.json"
    return str(json.loads(package.read_text())["version"])


def _number(value: float) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:g}"


_GROUPS: tuple[tuple[str, type[Any]], ...] = (("ru-", RuModel), ("price-", Prices), ("", Workload))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--generations", type=int, default=20, help="generations to measure")
    for prefix, cls in _GROUPS:
        for name, default in _values(cls()).items():
            source = {**RU_SOURCES, **PRICE_SOURCES}.get(name, "assumption")
            parser.add_argument(
                f"--{prefix}{_option(name)}",
                type=type(default),
                default=default,
                help=f"{_number(default)}: {source}",
            )
    args = parser.parse_args(argv)
    model, prices, workload = (
        cls(**{name: getattr(args, f"{prefix}{name}".replace("-", "_")) for name in _values(cls())})
        for prefix, cls in _GROUPS
    )
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="cosmos-ru-") as workdir:
        measured = measure(args.generations, Path(workdir))
    print(
        f"# Cosmos DB RU per generation — {datetime.now(UTC):%Y-%m-%d}, @vercel/cosmosdb-server"
        f" {_emulator_version()}, azure-cosmos {version('azure-cosmos')},"
        f" {time.perf_counter() - started:.0f} s"
    )
    print()
    print(report(measured, model, prices, workload))


if __name__ == "__main__":
    main()
