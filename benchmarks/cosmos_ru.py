"""Cosmos DB operations and request units per generation, and the monthly cost of a
workload (by default 1,000,000 images a day), before and after a change.

Run: `python -m benchmarks.cosmos_ru [--generations N]`. `--help` lists every assumption,
RU figure and price; each is a parameter (`--departments`, `--ru-...`, `--price-...`).

Operations are measured against `@vercel/cosmosdb-server` through the real services and
adapters (`benchmarks.cosmos_measure`); their RU comes from Microsoft's published costs
applied to each operation's measured items (`benchmarks.cosmos_costs`), because the
emulator charges 1 RU for everything. docs/cosmos-costs.md explains the model.

Before and after: `--save FILE` keeps a run's measurement (gzipped if FILE ends in .gz);
`--before FILE` prices a kept one with the same model and parameters beside this run. By
default the "before" is `BEFORE`, the services as issue 24 found them (main at 663fd87).
"""

from __future__ import annotations

import argparse
import gzip
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
    first_generations_ru,
    host_instances,
    monthly_costs,
    ru_with_budget_reads_of,
    warm_read_items,
)
from benchmarks.cosmos_measure import (
    COLD,
    PER_BATCH,
    PIPELINE,
    SHAPES,
    Exchange,
    Measurement,
    measure,
)
from domain.generation import ImageGenerated
from domain.streams import BUDGET_POLICY_PREFIX, BUDGET_PREFIX
from projections import OWN_FEED_PROJECTIONS
from tests.emulators import NODE_BIN

BEFORE = Path(__file__).with_name("cosmos_ru_before.json.gz")
ESTIMATED = "change feed (estimated)"
TRIGGER = "functions/projector.py (each projection's trigger)"
LEASE_BYTES = 600  # a change-feed lease document as the Functions host keeps it
MONTHS = (1, 12, 84)
PARTITION_RUS = 10_000  # the most a (logical or physical) partition serves (Cosmos DB quotas)
LOW_RETURNED_PER_KB = 0.1  # the sensitivity line: queries at a tenth of the published rate
TARGET_RU = 150  # issue 24: per generation in steady state
LISTED_RU = 5.0  # the breakdown lists what costs at least this per generation


@dataclass
class Row:
    phase: str
    operation: str
    kind: str
    caller: str
    count: float = 0.0  # per generation
    items: float = 0.0
    bytes: float = 0.0
    emulator_ru: float = 0.0
    estimate_ru: float = 0.0


def measured_rows(measured: Measurement, model: RuModel) -> list[Row]:
    """The exchanges of the generations measured, by phase, operation and caller, per
    generation (set-up and the new instance's generation apart)."""
    rows: dict[tuple[str, str, str, str], Row] = {}
    n = measured.generations
    for exchange in measured.exchanges:
        if exchange.phase in ("setup", COLD):
            continue
        key = (exchange.phase, exchange.operation, exchange.kind, exchange.caller)
        row = rows.setdefault(key, Row(*key))
        row.count += 1 / n
        row.items += len(exchange.item_sizes) / n
        row.bytes += sum(exchange.item_sizes) / n
        row.emulator_ru += exchange.charge / n
        row.estimate_ru += model.estimate(exchange.kind, exchange.item_sizes) / n
    return list(rows.values())


def estimated_feed_rows(measured: Measurement, model: RuModel) -> list[Row]:
    """Per change-feed batch and projection: one feed read and one lease checkpoint, for
    the batches each shape was measured with. Every projection's trigger reads every
    event, the ones it ignores included."""
    n = measured.generations
    event_bytes = _mean([e.bytes for e in measured.events])
    projections = len(OWN_FEED_PROJECTIONS)
    checkpoint = model.estimate("replace", (LEASE_BYTES,))
    rows = []
    for shape in SHAPES:
        batches = measured.feed_batches.get(shape, [])
        count = len(batches) / n * projections
        items = sum(batches) / n * projections
        read = sum(model.query(size, size * event_bytes) for size in batches) / n
        rows += [
            Row(
                ESTIMATED,
                f"feed read ({shape})",
                "change feed",
                TRIGGER,
                count=count,
                items=items,
                bytes=items * event_bytes,
                estimate_ru=read * projections,
            ),
            Row(
                ESTIMATED,
                f"lease checkpoint ({shape})",
                "replace",
                TRIGGER,
                count=count,
                items=count,
                bytes=count * LEASE_BYTES,
                estimate_ru=count * checkpoint,
            ),
        ]
    return rows


def in_shape(row: Row, shape: str) -> bool:
    """The rows of `shape`'s views: measured writes and reads, and its feed estimate."""
    return row.phase == shape or row.operation.endswith(f"({shape})")


def shape_ru(rows: Sequence[Row], shape: str) -> float:
    """A generation's RU with its views fed in `shape`: the pipeline and those views."""
    return sum(r.estimate_ru for r in rows if r.phase == PIPELINE or in_shape(r, shape))


def summarise(
    measured: Measurement, rows: Sequence[Row], workload: Workload, shape: str
) -> PerGeneration:
    n = measured.generations
    budget_reads = _budget_reads(measured, PIPELINE)
    budget_events = [e for e in measured.events if _is_budget(e.stream)]
    overhead = workload.item_overhead_bytes
    # Documents the views keep (what batches of a shape create, whichever the shape).
    view_bytes = sum(
        r.bytes + r.items * overhead for r in rows if r.phase == PER_BATCH and r.kind == "create"
    )
    event_bytes = sum(e.bytes + overhead for e in measured.events) / n
    images = sum(1 for e in measured.events if e.type == ImageGenerated.TYPE)
    batches = len(measured.feed_batches.get(shape, [])) / n
    return PerGeneration(
        ru=shape_ru(rows, shape),
        budget_reads=len(budget_reads) / n,
        budget_read_items=_mean([len(e.item_sizes) for e in budget_reads]),
        budget_events=len(budget_events) / n,
        budget_item_bytes=_returned_bytes(measured) or _mean([e.bytes for e in budget_events]),
        stored_bytes=event_bytes + view_bytes,
        queue_sends=measured.queue_sends / n,
        images=images / n,
        # The HTTP trigger, the queue trigger per message, a projector call per batch.
        function_executions=1 + measured.queue_sends / n + batches * len(OWN_FEED_PROJECTIONS),
    )


def _budget_reads(measured: Measurement, phase: str) -> list[Exchange]:
    return [
        e
        for e in measured.exchanges
        if e.phase == phase and e.operation == "read stream" and _is_budget(e.stream)
    ]


def _returned_bytes(measured: Measurement) -> float:
    """A budget event's size as the run's stream reads returned it (a read returns fewer
    fields than an append writes), or 0 when no read returned one."""
    return _mean(
        [
            size
            for e in measured.exchanges
            if e.operation == "read stream" and _is_budget(e.stream)
            for size in e.item_sizes
        ]
    )


def _is_budget(stream: str | None) -> bool:
    return (
        stream is not None
        and stream.startswith(BUDGET_PREFIX)
        and not stream.startswith(BUDGET_POLICY_PREFIX)
    )


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


# --- at scale ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AtScale:
    """A generation's RU at the workload's scale, views fed in one shape."""

    gen: PerGeneration
    warm_items: float  # events a warm budget read returns
    warm_ru: float  # the generation on a warm instance
    first_read_items: float  # events an instance's first read of a budget stream returns
    from_snapshot: bool  # whether that first read started after version 1
    extra_per_start: float  # what a new instance's first generation reads on top
    first_reader: str  # the code that issued that first read
    budget_readers: str  # the code that reads the budget stream, warm or not
    ru: float  # warm, plus new instances' first generations spread over all


def at_scale(
    measured: Measurement, rows: Sequence[Row], workload: Workload, model: RuModel, shape: str
) -> AtScale:
    """Budget reads re-priced at scale: a warm read returns what the other instances
    appended since; a new instance's first read of the stream returns the month so far,
    or, when it started after version 1 (from a snapshot), half a snapshot interval."""
    gen = summarise(measured, rows, workload, shape)
    warm = warm_read_items(gen, workload)
    warm_ru = ru_with_budget_reads_of(gen, warm, model)
    cold = [e for e in measured.exchanges if e.phase == COLD]
    budget_reads = _budget_reads(measured, COLD)
    first_read = budget_reads[0] if budget_reads else None
    from_snapshot = first_read is not None and (first_read.from_version or 1) > 1
    first = (
        workload.snapshot_every / 2 if from_snapshot else budget_read_items_at_scale(gen, workload)
    )

    def priced(exchange: Exchange) -> float:
        if exchange in budget_reads:
            items = first if exchange is first_read else warm
            return model.query(items, items * gen.budget_item_bytes)
        return model.estimate(exchange.kind, exchange.item_sizes)

    pipeline = sum(r.estimate_ru for r in rows if r.phase == PIPELINE)
    warm_pipeline = pipeline - (gen.ru - warm_ru)
    extra = sum(priced(e) for e in cold) - warm_pipeline
    readers = {e.caller for e in _budget_reads(measured, PIPELINE)}
    return AtScale(
        gen, warm, warm_ru, first, from_snapshot, extra,
        "" if first_read is None else first_read.caller,
        ", ".join(sorted(readers)),
        warm_ru + first_generations_ru(extra, workload),
    )  # fmt: skip


# --- the report --------------------------------------------------------------------------


def operations_table(rows: Sequence[Row]) -> list[str]:
    lines = [
        "| phase | operation | kind | issued by | per generation | items per op"
        " | bytes per item | emulator RU per gen | est. RU per op | est. RU per gen |",
        "|---|---|---|---|--:|--:|--:|--:|--:|--:|",
    ]
    for r in rows:
        per_op = r.estimate_ru / r.count if r.count else 0.0
        items = r.items / r.count if r.count else 0.0
        size = r.bytes / r.items if r.items else 0.0
        lines.append(
            f"| {r.phase} | {r.operation} | {r.kind} | {r.caller or '-'} | {r.count:.2f}"
            f" | {items:.1f} | {size:,.0f} | {r.emulator_ru:.1f} | {per_op:.1f}"
            f" | {r.estimate_ru:.1f} |"
        )
    return lines


def subtotals(rows: Sequence[Row], model: RuModel, measured: Measurement) -> list[str]:
    low = RuModel(**{**_values(model), "returned_per_kb": LOW_RETURNED_PER_KB})
    low_rows = measured_rows(measured, low) + estimated_feed_rows(measured, low)

    def total(selected: Iterable[Row]) -> float:
        return sum(r.estimate_ru for r in selected)

    pipeline = total(r for r in rows if r.phase == PIPELINE)
    lines = [f"- pipeline (measured operations): **{pipeline:.1f} RU**"]
    for shape in SHAPES:
        views = total(r for r in rows if r.phase == shape)
        feed = total(r for r in rows if r.operation.endswith(f"({shape})"))
        batches = measured.feed_batches.get(shape, [])
        lines.append(
            f"- {shape} ({len(batches)} batches of {_mean(batches):.1f} events on average):"
            f" {views:.1f} RU measured operations + {feed:.1f} RU estimated feed reads and"
            f" lease checkpoints = **{views + feed:.1f} RU**; with the pipeline"
            f" **{shape_ru(rows, shape):.1f} RU** ({shape_ru(low_rows, shape):.1f} RU if"
            f" returned data cost {LOW_RETURNED_PER_KB:g} RU/KB instead of"
            f" {model.returned_per_kb:g})"
        )
    return lines


def scale_lines(scale: dict[str, AtScale], workload: Workload, model: RuModel) -> list[str]:
    any_shape = scale[PER_BATCH]
    gen = any_shape.gen
    first = any_shape.first_read_items
    first_ru = model.query(first, first * gen.budget_item_bytes)
    source = (
        f"a snapshot and the events after it: {first:,.0f} events on average"
        f" (half of `--snapshot-every` {workload.snapshot_every})"
        if any_shape.from_snapshot
        else f"the month so far from version 1: {first:,.0f} events on average"
        f" ({first * gen.budget_item_bytes / 1e6:,.0f} MB), at least"
        f" {first_ru / PARTITION_RUS:,.0f} s of its partition's {PARTITION_RUS:,} RU/s"
    )
    lines = [
        f"- measured: {gen.budget_reads:.1f} reads of the department's budget stream per"
        f" generation, returning {gen.budget_read_items:.1f} events on average in this run"
        f" (one process); {gen.budget_events:.1f} budget events appended per generation,"
        f" {gen.budget_item_bytes:,.0f} B each as a read returns it",
        f"- at {workload.images_per_day:,} images/day over {workload.departments} departments,"
        f" with {host_instances(workload):,.1f} host instances on average, a warm read returns"
        f" what the others appended since: about {any_shape.warm_items:,.1f} events",
        f"- a new instance's first read of a department-month's budget stream (measured:"
        f" the instance built again ran one generation) reads {source}:"
        f" {first_ru:,.0f} RU; its first generation reads"
        f" {any_shape.extra_per_start:,.1f} RU more than a warm one, once per department,"
        f" {workload.instance_starts_per_day:g} instance starts a day",
    ]
    for shape, figures in scale.items():
        lines.append(
            f"- {shape}: **{figures.ru:,.1f} RU per generation**"
            f" ({figures.ru * workload.images_per_day / 86_400:,.0f} RU/s on average), of which"
            f" {figures.ru - figures.warm_ru:,.1f} new instances' first generations"
        )
    return lines


def breakdown(rows: Sequence[Row], figures: AtScale, shape: str) -> list[str]:
    """What costs at least `LISTED_RU` per generation in `shape` at scale, largest first."""
    items = [
        (r.estimate_ru, f"{r.operation} ({r.kind}), {r.count:.2f} per generation", r.caller)
        for r in rows
        if r.phase == PIPELINE or in_shape(r, shape)
    ]
    items.append(
        (
            figures.ru - figures.warm_ru,
            "new instances' first generations, spread over all (see At scale)",
            f"first read of the budget stream: {figures.first_reader}",
        )
    )
    items.append(
        (
            figures.warm_ru - figures.gen.ru,
            f"budget reads returning {figures.warm_items:.1f} events each at scale, on top",
            figures.budget_readers,
        )
    )
    lines = ["| RU per gen | what | issued by |", "|--:|---|---|"]
    for ru, what, caller in sorted(items, reverse=True):
        if ru >= LISTED_RU:
            lines.append(f"| {ru:.1f} | {what} | {caller or '-'} |")
    return lines


def before_after(
    before: Measurement, after: Measurement, model: RuModel, workload: Workload
) -> list[str]:
    def figures(measured: Measurement) -> list[float]:
        rows = measured_rows(measured, model) + estimated_feed_rows(measured, model)
        pipeline = sum(r.estimate_ru for r in rows if r.phase == PIPELINE)
        small = [shape_ru(rows, shape) for shape in SHAPES]
        large = [at_scale(measured, rows, workload, model, shape).ru for shape in SHAPES]
        return [pipeline, *small, *large]

    names = [
        "pipeline (measured operations)",
        *(f"in this run, {shape}" for shape in SHAPES),
        *(
            f"**at {workload.images_per_day:,} images/day, {shape}**"
            + (f" (target: at most {TARGET_RU})" if shape == PER_BATCH else "")
            for shape in SHAPES
        ),
    ]
    lines = [
        f"| RU per generation | before: {before.label or 'kept'} | after: {after.label} |",
        "|---|--:|--:|",
    ]
    for name, old, new in zip(names, figures(before), figures(after), strict=True):
        lines.append(f"| {name} | {old:,.1f} | {new:,.1f} |")
    return lines


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


def report(
    measured: Measurement,
    model: RuModel,
    prices: Prices,
    workload: Workload,
    before: Measurement | None = None,
) -> str:
    rows = measured_rows(measured, model) + estimated_feed_rows(measured, model)
    scale = {shape: at_scale(measured, rows, workload, model, shape) for shape in SHAPES}
    costs = {
        shape: [monthly_costs(s.ru, s.gen, workload, prices, month) for month in MONTHS]
        for shape, s in scale.items()
    }
    local_png = _mean([e.image_bytes for e in measured.events if e.type == ImageGenerated.TYPE])
    statuses = ", ".join(f"{count} {status}" for status, count in sorted(measured.statuses.items()))
    comparison = (
        []
        if before is None
        else [
            "## Before and after",
            *before_after(before, measured, model, workload),
            "",
        ]
    )
    parts = [
        *comparison,
        f"## Operations per generation ({measured.generations} generations: {statuses})",
        *operations_table(rows),
        "",
        *subtotals(rows, model, measured),
        "",
        "## At scale",
        *scale_lines(scale, workload, model),
        "",
        f"## What a generation costs at least {LISTED_RU:g} RU for, {PER_BATCH}, at scale",
        *breakdown(rows, scale[PER_BATCH], PER_BATCH),
        "",
    ]
    for shape, columns in costs.items():
        parts += [
            f"## Monthly cost, {workload.images_per_day:,} images/day, {shape} (USD)",
            *costs_table(columns),
            "",
        ]
    parts += [
        f"Stored per generation: {scale[PER_BATCH].gen.stored_bytes:,.0f} B of events and"
        f" view documents (JSON + {workload.item_overhead_bytes} B system properties each);"
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


def _read(path: Path) -> str:
    data = path.read_bytes()
    return (gzip.decompress(data) if path.suffix == ".gz" else data).decode("utf-8")


def _write(path: Path, text: str) -> None:
    data = text.encode("utf-8")
    # mtime=0: the same measurement always compresses to the same bytes
    path.write_bytes(gzip.compress(data, 9, mtime=0) if path.suffix == ".gz" else data)


def _emulator_version() -> str:
    package = NODE_BIN.parent / "@vercel" / "cosmosdb-server" / "package.json"
    return str(json.loads(package.read_text())["version"])


def _number(value: float) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:g}"


_GROUPS: tuple[tuple[str, type[Any]], ...] = (("ru-", RuModel), ("price-", Prices), ("", Workload))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--generations",
        type=int,
        default=60,
        help="generations to measure (60: the budget stream passes 100 events)",
    )
    parser.add_argument(
        "--before",
        type=lambda text: Path(text) if text else None,
        default=BEFORE,
        help=f"a measurement kept with --save, priced beside this run ('' for none; {BEFORE.name})",
    )
    parser.add_argument("--save", type=Path, help="keep this run's measurement in a file")
    parser.add_argument("--label", default="", help="what this run measures, for --save")
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
    before = Measurement.from_json(_read(args.before)) if args.before else None
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="cosmos-ru-") as workdir:
        measured = measure(args.generations, Path(workdir))
    measured.label = args.label or f"this run, {datetime.now(UTC):%Y-%m-%d}"
    if args.save:
        _write(args.save, measured.to_json())
    print(
        f"# Cosmos DB RU per generation — {datetime.now(UTC):%Y-%m-%d}, @vercel/cosmosdb-server"
        f" {_emulator_version()}, azure-cosmos {version('azure-cosmos')},"
        f" {time.perf_counter() - started:.0f} s"
    )
    print()
    print(report(measured, model, prices, workload, before))


if __name__ == "__main__":
    main()
