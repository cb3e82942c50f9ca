"""The composition root's light half: a process's plumbing, without the platform.

`bootstrap` builds the platform and imports every adapter (the PII analyzer, the Azure
SDKs: seconds of imports); a `donatello` command that only prints needs none of that,
yet logs as JSON, and a host process also makes its files private, exports its spans and
pools its metrics. Those choices of adapters are made here, so the entry points
(function_app.py, devhost/) import no adapter and no command pays for the platform.
"""

from __future__ import annotations

import os

from adapters.json_logs import configure_logging as configure_logging
from adapters.json_logs import install_log_hygiene as install_log_hygiene
from adapters.otel_tracing import install_tracing
from adapters.private_files import HOST_UMASK
from adapters.private_files import private_folder as private_folder
from services.settings import Settings


def host_process() -> None:
    """Set up a process of `donatello serve` (or `work`): a file that other code makes
    without a mode, in the data folder it alone writes to, is private too (the umask is
    inherited by the worker processes it starts); its spans are exported."""
    os.umask(HOST_UMASK)
    install_tracing()


def share_metrics() -> None:
    """The host's processes count into one folder of the data directory, which `GET
    /metrics` sums (prometheus-client's multiprocess mode). Call it before anything
    imports prometheus-client, in this process or a worker it starts."""
    from adapters.prometheus_meter import use_multiprocess_dir

    use_multiprocess_dir(private_folder(Settings.from_env(os.environ).data_dir) / "metrics")
