"""Request units (RU) that Cosmos DB charges: read from each response, logged, summed.

Every Cosmos adapter passes `RequestCharges.hook(...)` as the SDK's `response_hook` and
wraps the call in `RequestCharges.charging_failures(...)`, so that each operation's
`x-ms-request-charge` is logged at DEBUG and added to the stream it was for.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from azure.cosmos.exceptions import CosmosBatchOperationError, CosmosHttpResponseError
from azure.cosmos.http_constants import HttpHeaders

logger = logging.getLogger(__name__)

ResponseHook = Callable[[Mapping[str, Any], Any], None]


class RequestCharges:
    """RU charged per stream and in total. Thread-safe.

    Remembers the `max_streams` most recently charged streams, so a long-running host
    does not grow without bound; `take` reads a stream's total and forgets it (what a
    caller does once a generation is finished). Operations that span streams (a replay)
    count in `total` only.
    """

    def __init__(self, max_streams: int = 10_000) -> None:
        self._lock = threading.Lock()
        self._streams: OrderedDict[str, float] = OrderedDict()
        self._total = 0.0
        self._max_streams = max_streams

    def add(self, stream_id: str | None, charge: float) -> None:
        with self._lock:
            self._total += charge
            if stream_id is None:
                return
            self._streams[stream_id] = self._streams.pop(stream_id, 0.0) + charge
            if len(self._streams) > self._max_streams:
                self._streams.popitem(last=False)

    def of_stream(self, stream_id: str) -> float:
        with self._lock:
            return self._streams.get(stream_id, 0.0)

    def take(self, stream_id: str) -> float:
        with self._lock:
            return self._streams.pop(stream_id, 0.0)

    @property
    def total(self) -> float:
        with self._lock:
            return self._total

    # --- reading charges from responses -----------------------------------------------

    def hook(self, stream_id: str | None, operation: str) -> ResponseHook:
        """A `response_hook` that charges each response (each page of a query) it sees.

        One per call, rather than the client's `last_response_headers`, which every
        thread using the client shares.
        """

        def charge(headers: Mapping[str, Any], _body: Any) -> None:
            self.record(stream_id, operation, headers)

        return charge

    @contextmanager
    def charging_failures(self, stream_id: str | None, operation: str) -> Iterator[None]:
        """Charges a failed request too: the SDK raises before it calls the hook."""
        try:
            yield
        except (CosmosHttpResponseError, CosmosBatchOperationError) as failure:
            self.record(stream_id, f"{operation} (failed, {failure.status_code})", failure.headers)
            raise

    def record(self, stream_id: str | None, operation: str, headers: Mapping[str, Any]) -> None:
        # An error raised without a response has no headers.
        charge = float((headers or {}).get(HttpHeaders.RequestCharge) or 0.0)
        self.add(stream_id, charge)
        logger.debug("cosmos %s on %s: %.2f RU", operation, stream_id or "all streams", charge)
