"""The embedded host's telemetry plumbing: the folder its processes share metrics
through, and what `GET /metrics` answers."""

from __future__ import annotations

import os
from collections.abc import Callable

from services.settings import Settings


def scrape(config: Settings) -> Callable[[], tuple[bytes, str]]:
    """What `GET /metrics` answers: the shared state's gauges read now, then every
    process's metrics."""
    from adapters.prometheus_meter import exposition, prometheus_meter
    from bootstrap import local_queue, projection_runner, seal_store
    from domain.envelope import utc_now
    from services.generations import JOB_QUEUE
    from services.operations_gauges import OperationsGauges
    from services.webhooks import WEBHOOK_QUEUE

    gauges = OperationsGauges(
        prometheus_meter(),
        utc_now,
        queues=[local_queue(config, JOB_QUEUE), local_queue(config, WEBHOOK_QUEUE)],
        projections=projection_runner(config) if config.event_store != "cosmos" else None,
        seals=seal_store(config),
    )

    def answer() -> tuple[bytes, str]:
        gauges.sample()
        return exposition()

    return answer


def share_metrics() -> None:
    """The host's processes count into one folder of the data directory, which `GET
    /metrics` sums (prometheus-client's multiprocess mode)."""
    from adapters.private_files import private_folder
    from adapters.prometheus_meter import use_multiprocess_dir

    use_multiprocess_dir(private_folder(Settings.from_env(os.environ).data_dir) / "metrics")
