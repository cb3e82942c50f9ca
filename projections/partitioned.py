"""A replay split by stream between processes, and written by the one that started them.

One process folds the log at about 100,000 events a second: decoding rows, folding and
encoding documents are all Python, and one process can use one core. So a replay can
split the work: each worker process reads the events of one range of stream ids
(`StreamRange`, chosen from a sample so that the ranges hold about as many events),
folds them, encodes the documents it changed and sends them to this process, which
writes each batch of every worker, with the positions, in one transaction.

The guarantees are the runner's: a batch (a range of log positions) is written whole
or not at all, with the compare-and-set on each projection's position, so a crash or a
second runner leaves the views at a recorded position. What makes the split sound is
`Projection.keyed_by_stream`: every document is fed by one stream, so it belongs to one
worker, which sees that stream's events in log order.

A worker folds batch k + 1 while batch k is being written. Documents it changed in a
batch that is not yet committed are kept in memory and used instead of the stored ones;
once this process reports the batch committed, the stored copy is as new and the
worker forgets its own.
"""

from __future__ import annotations

import multiprocessing
import queue
import sys
import threading
import traceback
from collections.abc import Collection, Sequence
from contextlib import suppress
from dataclasses import dataclass
from itertools import pairwise
from multiprocessing.connection import Connection
from types import ModuleType
from typing import Any, Protocol, runtime_checkable

from projections.base import (
    EncodedBatch,
    EncodingViewWriter,
    Projection,
    RecordLog,
    StreamRange,
    View,
    fold_batch,
    types_read,
    without_cycle_collection,
)

# Stream ids sampled to place the boundaries between workers' ranges.
_SAMPLE_SIZE = 4096


@runtime_checkable
class PartitionableLog(RecordLog, Protocol):
    def stream_sample(self, after_position: int, up_to_position: int, size: int) -> list[str]:
        """The stream ids of about `size` events spread evenly over the range, sorted."""
        ...


@dataclass(frozen=True, slots=True)
class _Failure:
    traceback: str


def replay_partitioned(
    log: object,
    views: object,
    projections: Sequence[Projection],
    batch_size: int,
    workers: int,
) -> int:
    """Fold the log up to its current end with `workers` processes; answer positions read.

    `log` and `views` are pickled to the workers, each of which reopens them (the SQLite
    adapters pickle as their file's path). Events appended after the replay began are
    left to the caller.
    """
    if not isinstance(log, PartitionableLog) or not isinstance(views, EncodingViewWriter):
        raise ValueError(
            "a partitioned replay needs a log that reads records and samples its streams,"
            " and views that encode their rows apart from writing them"
        )
    if not all(p.keyed_by_stream for p in projections):
        unsplittable = [p.name for p in projections if not p.keyed_by_stream]
        raise ValueError(f"these projections cannot be split by stream: {unsplittable}")
    positions = views.positions([p.name for p in projections])
    start, end = min(positions.values()), log.last_position()
    if end <= start:
        return 0
    ranges = [(s, min(s + batch_size, end)) for s in range(start, end, batch_size)]
    parts = split_streams(log.stream_sample(start, end, _SAMPLE_SIZE), workers)
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(_preload(log, views))
    rows_from: list[Connection] = []  # one pipe per worker each way, each used by one thread
    acks_to: list[Connection] = []
    processes = []
    arrived: queue.Queue[list[dict[str, Sequence[Any]]] | BaseException] = queue.Queue(2)
    receiver = None
    try:
        for part in parts:
            rows_in, rows_out = context.Pipe(duplex=False)
            acks_in, acks_out = context.Pipe(duplex=False)
            process = context.Process(
                target=_work,
                args=(log, views, projections, positions, part, ranges, rows_out, acks_in),
                name=f"replay {part.low}..{part.high}",
                daemon=True,
            )
            process.start()
            rows_out.close()
            acks_in.close()
            rows_from.append(rows_in)
            acks_to.append(acks_out)
            processes.append(process)
        # Batches are received (and unpickled) in a thread while this one writes the
        # previous batch: SQLite lets go of the GIL while it writes.
        receiver = threading.Thread(
            target=_receive_all, args=(rows_from, len(ranges), arrived), daemon=True
        )
        receiver.start()
        for batch, (first, last) in enumerate(ranges):
            encoded = arrived.get()
            if isinstance(encoded, BaseException):
                raise encoded
            views.apply_encoded(
                [
                    EncodedBatch(
                        p.name,
                        [row for rows in encoded for row in rows.get(p.name, ())],
                        last,
                        max(first, positions[p.name]),
                    )
                    for p in projections
                    if last > positions[p.name]
                ]
            )
            for connection in acks_to:
                # A worker that failed has gone; its report is next in `arrived`.
                with suppress(BrokenPipeError):
                    connection.send(batch)
    except BaseException:
        for process in processes:
            process.terminate()
        raise
    finally:
        for process in processes:
            process.join()
        for connection in [*rows_from, *acks_to]:
            connection.close()
        if receiver is not None:
            while receiver.is_alive():  # it may be waiting to hand over one more batch
                with suppress(queue.Empty):
                    arrived.get(timeout=0.05)
    return end - start


def _receive_all(
    connections: Sequence[Connection],
    batches: int,
    arrived: queue.Queue[list[dict[str, Sequence[Any]]] | BaseException],
) -> None:
    try:
        for _ in range(batches):
            arrived.put([_receive(connection) for connection in connections])
    except BaseException as error:  # handed over, to be raised by the writing thread
        arrived.put(error)


def _preload(*objects: object) -> list[str]:
    """Modules the fork server imports once, so that each worker starts without importing.

    Workers are forked from a server that has never opened a database (a fork of this
    process would inherit SQLite's locks and file bookkeeping). As multiprocessing does,
    each one runs the main module again (a script by path is imported into the server
    instead); with what the main module imports preloaded, that is cheap.
    """
    main = sys.modules["__main__"]
    named_main = getattr(getattr(main, "__spec__", None), "name", None)
    imported = {
        value.__name__ if isinstance(value, ModuleType) else getattr(value, "__module__", None)
        for value in vars(main).values()
    }
    modules = [m for m in imported if isinstance(m, str) and m not in ("__main__", named_main)]
    return ["__main__", *sorted(modules), __name__, *(type(o).__module__ for o in objects)]


def split_streams(sample: Sequence[str], parts: int) -> list[StreamRange]:
    """Contiguous ranges of stream ids, each holding about as many of `sample`'s events.

    `sample` is sorted; a stream sampled often (a busy one) weighs as much as it should.
    Fewer ranges come back when the sample cannot be split so many ways.
    """
    if not sample:
        return [StreamRange()]
    bounds = sorted({sample[len(sample) * i // parts] for i in range(1, parts)})
    # A bound at the smallest id sampled would only cut off streams nobody sampled.
    edges: list[str | None] = [None, *(b for b in bounds if b > sample[0]), None]
    return [StreamRange(low, high) for low, high in pairwise(edges)]


def _receive(connection: Connection) -> dict[str, Sequence[Any]]:
    try:
        message = connection.recv()
    except EOFError:
        raise RuntimeError("a replay worker exited without finishing its batch") from None
    if isinstance(message, _Failure):
        raise RuntimeError(f"a replay worker failed:\n{message.traceback}")
    rows: dict[str, Sequence[Any]] = message
    return rows


class _Unwritten:
    """Documents this worker changed in batches not yet reported committed, by batch."""

    def __init__(self, views: EncodingViewWriter) -> None:
        self._views = views
        self._documents: dict[str, dict[str, tuple[int, View]]] = {}
        self._keys_by_batch: dict[int, list[tuple[str, str]]] = {}

    def load(self, projection: str, keys: Collection[str]) -> dict[str, View]:
        mine = self._documents.get(projection, {})
        found = {key: mine[key][1] for key in keys if key in mine}
        missing = [key for key in keys if key not in found]
        if missing:
            found.update(self._views.get_many(projection, missing))
        return found

    def keep(self, projection: str, documents: dict[str, View], batch: int) -> None:
        mine = self._documents.setdefault(projection, {})
        for key, document in documents.items():
            mine[key] = (batch, document)
        self._keys_by_batch.setdefault(batch, []).extend((projection, key) for key in documents)

    def committed(self, up_to_batch: int) -> None:
        for batch in [b for b in self._keys_by_batch if b <= up_to_batch]:
            for projection, key in self._keys_by_batch.pop(batch):
                mine = self._documents[projection]
                if key in mine and mine[key][0] <= up_to_batch:
                    del mine[key]


def _work(
    log: RecordLog,
    views: EncodingViewWriter,
    projections: Sequence[Projection],
    positions: dict[str, int],
    streams: StreamRange,
    ranges: Sequence[tuple[int, int]],
    rows_out: Connection,
    acks_in: Connection,
) -> None:
    """A worker: fold the events of `streams`, batch by batch, and send the rows.

    It exits once its last batch is committed, so the acknowledgements never meet a
    closed pipe; on a failure it sends the traceback instead of the batch.
    """
    try:
        with without_cycle_collection():
            unwritten = _Unwritten(views)
            types = types_read(projections)
            for batch, (first, last) in enumerate(ranges):
                while acks_in.poll():
                    unwritten.committed(acks_in.recv())
                records = log.read_records(first, last, types, streams)
                encoded: dict[str, Sequence[Any]] = {}
                for projection in projections:
                    after = positions[projection.name]
                    if last <= after:
                        continue
                    unseen = (
                        records if first >= after else [r for r in records if r.position > after]
                    )
                    changed = fold_batch(projection, unseen, unwritten.load)
                    unwritten.keep(projection.name, changed, batch)
                    encoded[projection.name] = views.encode(
                        projection.name, changed, projection.partition_field
                    )
                rows_out.send(encoded)
            while acks_in.recv() < len(ranges) - 1:
                pass
    except Exception:
        rows_out.send(_Failure(traceback.format_exc()))
