"""The cost model behind `benchmarks.cosmos_ru`: published RU per operation, list prices,
and the monthly bill of a workload, each figure a parameter with its source.

Nothing here measures anything: `cosmos_ru` measures the operations of a generation
against the emulator and hands them to `RuModel.estimate`, then the per-generation
totals to `monthly_costs`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

HOURS_PER_MONTH = 730  # Azure bills a month as 730 hours
DAYS_PER_MONTH = 365.25 / 12
KB = 1024
GB = 1e9

OPTIMIZE_COST = (
    "learn.microsoft.com/azure/cosmos-db/optimize-cost-reads-writes (ms.date 2021-08-26)"
)


@dataclass(frozen=True)
class RuModel:
    """Request units Cosmos DB charges per operation, from Microsoft's published figures.

    The emulator charges a flat 1 RU for everything, so these stand in for real charges.
    Queries: the base is per page; the per-KB term is the optimize-cost page's own
    example (a query returning 1,000 1-KB items costs 1,000 RU), which the same page's
    query-metrics sample (3.19 RU for one 10 KB item) shows to be an upper bound.
    """

    write_per_kb: float = 5.5  # "Inserting a 1 KB item without indexing costs around ~5.5 RUs"
    replace_factor: float = 2.0  # "Replacing an item costs two times the charge ... to insert"
    point_read_per_kb: float = 1.0  # "1 KB: 1 RU" (100 KB: 10 RU)
    query_page: float = 2.8  # Learn module "Measure query cost": 2.82-2.84 RU per page
    returned_per_kb: float = 1.0  # "if a query returns 1000 1-KB items, the cost ... is 1000"
    page_items: int = 100  # items per query page when the client sets no page size

    def write(self, item_bytes: float) -> float:
        return self.write_per_kb * max(1.0, item_bytes / KB)

    def query(self, items: float, total_bytes: float) -> float:
        pages = max(1, math.ceil(items / self.page_items))
        return pages * self.query_page + self.returned_per_kb * total_bytes / KB

    def estimate(self, kind: str, item_sizes: Sequence[int]) -> float:
        """The published-cost estimate of one request of `kind` that wrote or returned
        items of `item_sizes` bytes. A transactional batch costs the sum of its operations."""
        if kind == "batch":
            return sum(self.write(size) for size in item_sizes)
        if kind == "create":
            return self.write(sum(item_sizes))
        if kind == "replace":
            return self.replace_factor * self.write(sum(item_sizes))
        if kind == "read":
            return self.point_read_per_kb * max(1.0, sum(item_sizes) / KB)
        if kind in ("query", "read feed", "change feed"):
            return self.query(len(item_sizes), sum(item_sizes))
        return 0.0  # metadata and query plans are not charged in RU


RU_SOURCES = {
    "write_per_kb": OPTIMIZE_COST,
    "replace_factor": OPTIMIZE_COST,
    "point_read_per_kb": OPTIMIZE_COST,
    "query_page": "learn.microsoft.com/training/modules/measure-index-azure-cosmos-db-sql-api",
    "returned_per_kb": OPTIMIZE_COST,
    "page_items": "Cosmos DB's default page size (100 items) when no max_item_count is set",
}


@dataclass(frozen=True)
class Prices:
    """List prices, USD. Defaults are US-region list prices (see PRICE_SOURCES): the
    Australia East figures were not available to us; pass them with `--price-...`."""

    cosmos_100rus_hour: float = 0.008  # standard provisioned, single write region
    cosmos_autoscale_factor: float = 1.5  # autoscale bills 1.5x the standard rate
    cosmos_serverless_million_ru: float = 0.25
    cosmos_storage_gb_month: float = 0.25
    blob_hot_gb_month: float = 0.018  # hot, LRS, first 50 TB
    blob_write_10k: float = 0.065
    blob_read_10k: float = 0.005
    servicebus_base_hour: float = 0.0135  # standard tier base charge
    servicebus_million_13m_100m: float = 0.80  # the first 13 M operations a month are included
    servicebus_million_100m_2500m: float = 0.50
    servicebus_million_over_2500m: float = 0.20
    servicebus_premium_mu_hour: float = 0.928
    functions_flex_gb_s: float = 0.000026  # Flex Consumption, on demand
    functions_flex_million_executions: float = 0.40


_UNVERIFIED = "azure.microsoft.com/pricing (US list price as recalled; not in our sources)"
PRICE_SOURCES = {
    "cosmos_100rus_hour": "learn.microsoft.com/azure/cosmos-db/understand-your-bill (2022-03-31)",
    "cosmos_autoscale_factor": "learn.microsoft.com/azure/cosmos-db/provision-throughput-autoscale",
    "cosmos_serverless_million_ru": "understand-your-bill (2022-03-31)",
    "cosmos_storage_gb_month": "understand-your-bill (2022-03-31)",
    "blob_hot_gb_month": "US pricing page as transcribed in a public note (2023)",
    "blob_write_10k": "US pricing page as transcribed in a public note (2023)",
    "blob_read_10k": "US pricing page as transcribed in a public note (2023)",
    "servicebus_base_hour": _UNVERIFIED,
    "servicebus_million_13m_100m": _UNVERIFIED,
    "servicebus_million_100m_2500m": _UNVERIFIED,
    "servicebus_million_over_2500m": _UNVERIFIED,
    "servicebus_premium_mu_hour": _UNVERIFIED,
    "functions_flex_gb_s": _UNVERIFIED,
    "functions_flex_million_executions": _UNVERIFIED,
}


@dataclass(frozen=True)
class Workload:
    """The scenario priced, and the assumptions that are not measured."""

    images_per_day: int = 1_000_000
    peak_factor: float = 3.0  # peak hour's rate over the day's average
    departments: int = 100  # budget streams are per department and month
    retention_months: int = 84  # seven years, for events, views and images
    image_mb: float = 1.5  # a 1024x1024 PNG from a real provider
    image_reads: float = 1.0  # downloads per image
    index_overhead: float = 0.25  # Cosmos bills data + index; lean index policies
    item_overhead_bytes: int = 150  # _rid, _self, _etag, _attachments, _ts on each item
    snapshot_every: int = 100  # a stream read from a snapshot returns N/2 events on average
    instance_starts_per_day: float = 24.0  # host instances started (scale-out, recycling)
    worker_seconds: float = 20.0  # a queue execution, mostly waiting for the provider
    instance_gb: float = 2.048  # Flex Consumption instance memory
    worker_concurrency: int = 16  # host.json maxConcurrentCalls

    @property
    def per_month(self) -> float:
        return self.images_per_day * DAYS_PER_MONTH


@dataclass(frozen=True)
class PerGeneration:
    """What one generation costs, from the measured operations."""

    ru: float  # published-estimate RU, everything included
    budget_reads: float  # reads of the department's budget stream (from the process's last)
    budget_read_items: float  # items such a read returned, on average, in the run
    budget_events: float  # events appended to the budget stream
    budget_item_bytes: float  # a budget event as a stream read returns it
    stored_bytes: float  # events and view documents that stay, JSON bytes
    queue_sends: float
    images: float
    function_executions: float


@dataclass(frozen=True)
class Line:
    item: str
    usd: float
    note: str
    in_total: bool = True  # False: an alternative to a line that is in the total


def budget_read_items_at_scale(gen: PerGeneration, workload: Workload) -> float:
    """Items a whole read of a department-month's budget stream returns, on average over
    the month at the workload's rate: the stream grows by `budget_events` per generation
    of its department, from zero. What a host instance's first read of it costs."""
    per_department_month = workload.per_month / workload.departments
    return gen.budget_events * per_department_month / 2


def host_instances(workload: Workload) -> float:
    """Host instances running on average: executions in flight over each one's concurrency."""
    in_flight = workload.images_per_day / 86_400 * workload.worker_seconds
    return max(1.0, in_flight / workload.worker_concurrency)


def warm_read_items(gen: PerGeneration, workload: Workload) -> float:
    """Items a warm budget read returns. Each process keeps the budget streams it has read
    and reads only the events after them (services/repository.py), so a read returns
    what the other instances appended since this one last read the stream: between two of
    its reads the department's generations went to every instance in turn."""
    return gen.budget_events / gen.budget_reads * host_instances(workload)


def first_generations_ru(extra_ru_per_start: float, workload: Workload) -> float:
    """Per generation, what started instances read on top of warm ones: each started
    instance pays `extra_ru_per_start` once in each department it decides on."""
    per_day = workload.instance_starts_per_day * workload.departments
    return per_day * extra_ru_per_start / workload.images_per_day


def ru_with_budget_reads_of(gen: PerGeneration, items: float, model: RuModel) -> float:
    """The generation's RU had each budget-stream read returned `items` items."""

    def reads(count: float) -> float:
        return gen.budget_reads * model.query(count, count * gen.budget_item_bytes)

    return gen.ru - reads(gen.budget_read_items) + reads(items)


def monthly_costs(
    ru_per_generation: float,
    gen: PerGeneration,
    workload: Workload,
    prices: Prices,
    month: int,
) -> list[Line]:
    """The bill for the `month`-th month of operation (storage accrues until retention)."""
    per_month = workload.per_month
    average_rus = ru_per_generation * workload.images_per_day / 86_400
    peak_rus = average_rus * workload.peak_factor
    months_kept = min(month, workload.retention_months)
    stored_per_month = per_month * gen.stored_bytes * (1 + workload.index_overhead) / GB
    cosmos_gb = stored_per_month * months_kept
    # Provisioned throughput must be at least 1 RU/s per GB stored (Cosmos DB quotas).
    provisioned = max(peak_rus, cosmos_gb, 400.0)
    rate = prices.cosmos_100rus_hour * HOURS_PER_MONTH / 100
    autoscale_rate = rate * prices.cosmos_autoscale_factor
    autoscale_low = max(average_rus, provisioned / 10, cosmos_gb) * autoscale_rate
    image_gb = per_month * gen.images * workload.image_mb * 1e6 / GB * months_kept
    ops = per_month * (gen.queue_sends * 3)  # send, then receive and complete per delivery
    gb_s = workload.instance_gb * workload.worker_seconds / workload.worker_concurrency
    return [
        Line(
            "Cosmos DB RU, standard provisioned at peak",
            provisioned * rate,
            f"{provisioned:,.0f} RU/s (average {average_rus:,.0f} x peak factor"
            f" {workload.peak_factor:g}; >= 1 RU/s per GB stored)",
        ),
        Line(
            "Cosmos DB RU, autoscale up to that peak",
            autoscale_low,
            f"if each hour's highest RU/s were the average (billed at"
            f" {prices.cosmos_autoscale_factor:g}x); a month at peak:"
            f" {provisioned * autoscale_rate:,.0f}",
            in_total=False,
        ),
        Line(
            "Cosmos DB RU, serverless",
            ru_per_generation * per_month / 1e6 * prices.cosmos_serverless_million_ru,
            _serverless_fit(peak_rus, cosmos_gb),
            in_total=False,
        ),
        Line(
            "Cosmos DB storage",
            cosmos_gb * prices.cosmos_storage_gb_month,
            f"{cosmos_gb:,.0f} GB: {stored_per_month:,.1f} GB/month x {months_kept} months"
            f" (+{workload.index_overhead:.0%} index)",
        ),
        Line(
            "Blob Storage, hot LRS: images",
            image_gb * prices.blob_hot_gb_month
            + per_month * gen.images * prices.blob_write_10k / 1e4
            + per_month * gen.images * workload.image_reads * prices.blob_read_10k / 1e4,
            f"{image_gb / 1000:,.1f} TB at {workload.image_mb:g} MB/image; one write and"
            f" {workload.image_reads:g} read per image (tiered GB price ignored)",
        ),
        Line(
            "Service Bus standard",
            prices.servicebus_base_hour * HOURS_PER_MONTH + _servicebus_operations(ops, prices),
            f"{ops / 1e6:,.0f} M operations (send, receive, complete)",
        ),
        Line(
            "Service Bus premium, 1 messaging unit",
            prices.servicebus_premium_mu_hour * HOURS_PER_MONTH,
            "instead of standard",
            in_total=False,
        ),
        Line(
            "Functions Flex Consumption",
            per_month * gb_s * prices.functions_flex_gb_s
            + per_month * gen.function_executions * prices.functions_flex_million_executions / 1e6,
            f"{gb_s:.2f} GB-s and {gen.function_executions:.1f} executions per image"
            " (free grant ignored)",
        ),
    ]


def _serverless_fit(peak_rus: float, stored_gb: float) -> str:
    # Serverless: 5,000 RU/s per container up to 250 GB, +1,000 RU/s per 50 GB partition
    # beyond, at most 1 TB per container (learn.microsoft.com/azure/cosmos-db/serverless-1tb).
    ceiling = max(5000.0, stored_gb / 50 * 1000)
    if stored_gb > 1000:
        return f"not available: {stored_gb:,.0f} GB stored exceeds serverless' 1 TB"
    if peak_rus > ceiling:
        return f"not available: peak {peak_rus:,.0f} RU/s exceeds {ceiling:,.0f} RU/s"
    return "within serverless limits"


def _servicebus_operations(ops: float, prices: Prices) -> float:
    tiers = (
        (13e6, 0.0),
        (100e6, prices.servicebus_million_13m_100m),
        (2500e6, prices.servicebus_million_100m_2500m),
        (math.inf, prices.servicebus_million_over_2500m),
    )
    cost, floor = 0.0, 0.0
    for ceiling, per_million in tiers:
        cost += max(0.0, min(ops, ceiling) - floor) / 1e6 * per_million
        floor = ceiling
    return cost
