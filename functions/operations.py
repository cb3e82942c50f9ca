"""The operations gauges nothing scrapes on Azure: every minute, the age of each work
queue's oldest unsettled message (services/operations_gauges.py), sent as a custom metric
that `infra/bicep/modules/alerts.bicep` alerts on. The embedded host runs it too; there
`GET /metrics` also reads the queues when scraped."""

from __future__ import annotations

import azure.functions as func

from bootstrap import meter, queue_probes
from domain.envelope import utc_now
from services.operations_gauges import record_queue_ages

blueprint = func.Blueprint()

# Off the minute, where the recovery timers run.
QUEUE_AGE_SCHEDULE = "30 * * * * *"


@blueprint.timer_trigger(arg_name="timer", schedule=QUEUE_AGE_SCHEDULE, run_on_startup=False)
def measure_queue_ages(timer: func.TimerRequest) -> None:
    record_queue_ages(meter(), utc_now(), queue_probes())
