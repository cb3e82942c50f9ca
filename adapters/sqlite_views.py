"""Projection views in a SQLite file: implements `services.ports.ViewReader`.

Every view document is one JSON row keyed by (projection, key), beside a few columns
copied from the document's top-level fields (`user_id`, `department_id`, `status`,
`created_at`, `updated_at`) and its partition. History is the `generation_status`
documents queried through partial indexes on those columns, newest first, paged by
keyset (the token is the last row's creation time and key), so a page costs the same
however deep it is. Every index costs each write of a generation document, so there are
only the ones the access paths need: all, per user, per department (a status filter
rides on one of those), and the unfinished ones the recovery timer scans.

`view_positions` records how far into the event log each projection has folded. The
runner writes a batch's documents and the new position in one transaction, so after a
crash the view is exactly as of its recorded position: nothing is applied twice or lost.
"""

from __future__ import annotations

import json
import sqlite3
from _json import encode_basestring, make_encoder
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any, Literal

from adapters.sqlite_connections import ConnectionPerThread
from adapters.view_pages import decode_continuation, encode_continuation, instant
from domain.access import Reach
from projections.base import EncodedBatch, StalePosition, View, ViewBatch
from projections.generation_status import NAME as HISTORY
from projections.generation_status import UNFINISHED_STATUSES
from services.ports import HistoryQuery, Page, history_equalities

# Every thread has its own connection, so the page cache is per thread: 8 MiB each
# replayed as fast as 64 (`python -m benchmarks.replay`, alternating runs), and unlike 64
# a large view no longer grows a rebuild's memory (`python -m benchmarks.audit`).
# Temporary storage in files, so the sorts that build the indexes after a bulk load
# spill to disk instead of growing with the view.
_VIEW_PRAGMAS = ("PRAGMA cache_size = -8192", "PRAGMA temp_store = FILE")
# A pickled copy is a partitioned replay's worker (`projections.partitioned`): it only
# looks documents up by key, those its batch touches and it no longer holds, so its cache
# held pages read once or twice. At 8 MiB it filled as the view grew, and each worker's
# peak memory grew with it; 1 MiB replayed as fast (`python -m benchmarks.audit`).
_COPY_PRAGMAS = ("PRAGMA cache_size = -1024", "PRAGMA temp_store = FILE")
_CHUNK = 512  # keys per IN (...) and rows per listing page: well under SQLite's limits

# The history projection's name and statuses are inlined as literals (they are ours,
# not input) because SQLite only uses a partial index when the query repeats its WHERE.
_IS_HISTORY = f"projection = '{HISTORY}'"
_IS_UNFINISHED = "status IN ({})".format(", ".join(f"'{s}'" for s in UNFINISHED_STATUSES))

_TABLES = (
    """CREATE TABLE IF NOT EXISTS view_documents (
    projection TEXT NOT NULL,
    key TEXT NOT NULL,
    partition TEXT,
    user_id TEXT,
    department_id TEXT,
    status TEXT,
    created_at TEXT,
    updated_at TEXT,
    document TEXT NOT NULL,
    PRIMARY KEY (projection, key)
)""",
    """CREATE TABLE IF NOT EXISTS view_positions (
    projection TEXT PRIMARY KEY,
    position INTEGER NOT NULL
)""",
)
_INDEXES = {
    "view_documents_by_partition": "(projection, partition, key) WHERE partition IS NOT NULL",
    "history_newest": f"(created_at, key) WHERE {_IS_HISTORY}",
    "history_by_user": f"(user_id, created_at, key) WHERE {_IS_HISTORY}",
    "history_by_department": f"(department_id, created_at, key) WHERE {_IS_HISTORY}",
    "generations_unfinished": f"(updated_at) WHERE {_IS_HISTORY} AND {_IS_UNFINISHED}",
}
_SCHEMA = (
    *_TABLES,
    *(f"CREATE INDEX IF NOT EXISTS {name} ON view_documents {on}" for name, on in _INDEXES.items()),
)

_UPSERT = """
INSERT INTO view_documents
    (projection, key, partition, user_id, department_id, status, created_at, updated_at,
     document)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (projection, key) DO UPDATE SET
    partition = excluded.partition,
    user_id = excluded.user_id,
    department_id = excluded.department_id,
    status = excluded.status,
    created_at = excluded.created_at,
    updated_at = excluded.updated_at,
    document = excluded.document
"""

_SET_POSITION = """
INSERT INTO view_positions (projection, position) VALUES (?, ?)
ON CONFLICT (projection) DO UPDATE SET position = excluded.position
"""


def _unencodable(value: object) -> object:
    raise TypeError(f"a view document cannot hold {type(value).__name__}")


# The C encoder built once, without the circular-reference bookkeeping (documents are
# trees): `json.dumps` builds a new encoder per call, and checks every container.
_encode_chunks = make_encoder(
    None, _unencodable, encode_basestring, None, ":", ",", False, False, False
)


def _encode(value: object) -> str:
    return "".join(_encode_chunks(value, 0))


class SqliteViewStore:
    """View documents and projection positions; safe to share between threads."""

    def __init__(
        self,
        path: Path | str,
        *,
        synchronous: Literal["FULL", "NORMAL"] = "FULL",
        create_schema: bool = True,
        pragmas: Sequence[str] = _VIEW_PRAGMAS,
    ) -> None:
        self._path = str(path)
        self._synchronous = synchronous
        self._pool = ConnectionPerThread(
            path, synchronous=synchronous, label="view store", pragmas=pragmas
        )
        if create_schema:
            self._write(lambda conn: [conn.execute(s) for s in _SCHEMA])

    def __reduce__(self) -> tuple[Any, ...]:
        # A pickled copy reopens the file, with a worker's small cache: how each process
        # of a partitioned replay (`projections.partitioned`) gets its own connections.
        # The schema is there already, and must stay as it is (see `bulk_load`).
        return (_reopen, (self._path, self._synchronous))

    # --- ViewReader --------------------------------------------------------------------

    def get(self, projection: str, key: str) -> dict[str, Any] | None:
        row = (
            self._connection()
            .execute(
                "SELECT document FROM view_documents WHERE projection = ? AND key = ?",
                (projection, key),
            )
            .fetchone()
        )
        return None if row is None else _decode(row[0])

    def history(self, reach: Reach, query: HistoryQuery) -> Page:
        """Generations newest first; `created_from` is inclusive, `created_to` exclusive."""
        equalities = history_equalities(reach, query)
        if equalities is None:
            return Page(items=[], continuation=None)
        where = [_IS_HISTORY]
        params: list[Any] = []
        for column, value in equalities:  # columns from a fixed set, values as parameters
            where.append(f"{column} = ?")
            params.append(value)
        if query.created_from is not None:
            where.append("created_at >= ?")
            params.append(instant(query.created_from, "created_from"))
        if query.created_to is not None:
            where.append("created_at < ?")
            params.append(instant(query.created_to, "created_to"))
        if query.continuation is not None:
            where.append("(created_at, key) < (?, ?)")
            params.extend(decode_continuation(query.continuation))
        limit = max(1, query.limit)
        rows = (
            self._connection()
            .execute(
                f"SELECT created_at, key, document FROM view_documents"  # noqa: S608 (fixed fragments)
                f" WHERE {' AND '.join(where)} ORDER BY created_at DESC, key DESC LIMIT ?",
                (*params, limit + 1),
            )
            .fetchall()
        )
        items = [_decode(document) for _, _, document in rows[:limit]]
        continuation = None
        if len(rows) > limit:
            created_at, key, _ = rows[limit - 1]
            continuation = encode_continuation(created_at, key)
        return Page(items=items, continuation=continuation)

    def unfinished_generations(
        self, updated_before: datetime, limit: int = 500
    ) -> list[dict[str, Any]]:
        """Generations short of a terminal status and untouched since `updated_before`."""
        rows = self._connection().execute(
            f"SELECT document FROM view_documents"  # noqa: S608 (fixed fragments)
            f" WHERE {_IS_HISTORY} AND {_IS_UNFINISHED} AND updated_at < ?"
            " ORDER BY updated_at LIMIT ?",
            (instant(updated_before, "updated_before"), limit),
        )
        return [_decode(document) for (document,) in rows]

    # --- the runner's side -------------------------------------------------------------

    def position(self, projection: str) -> int:
        return self.positions([projection])[projection]

    def positions(self, projections: Collection[str]) -> dict[str, int]:
        """How far into the event log each projection has folded (0: not started)."""
        names = list(projections)
        placeholders = ", ".join("?" * len(names))
        rows = self._connection().execute(
            f"SELECT projection, position FROM view_positions"  # noqa: S608 (placeholders)
            f" WHERE projection IN ({placeholders})",
            names,
        )
        found = dict(rows.fetchall())
        return {name: int(found.get(name, 0)) for name in names}

    def get_many(self, projection: str, keys: Collection[str]) -> dict[str, View]:
        wanted = list(keys)
        conn = self._connection()
        found: dict[str, View] = {}
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            size = 1 << (len(chunk) - 1).bit_length()
            rows = conn.execute(
                _keys_in(size), (projection, *chunk, *chunk[-1:] * (size - len(chunk)))
            )
            found.update((key, _decode(document)) for key, document in rows)
        return found

    def apply_batch(
        self,
        projection: str,
        documents: Mapping[str, View],
        position: int,
        *,
        expected_position: int | None = None,
        partition_field: str | None = None,
    ) -> None:
        """Write `documents` and move `projection` to `position`, all or nothing."""
        self.apply_batches(
            [ViewBatch(projection, documents, position, expected_position, partition_field)]
        )

    def apply_batches(self, batches: Sequence[ViewBatch]) -> None:
        """Write every batch's documents and positions in one transaction.

        Raises `StalePosition` (writing nothing) when a batch's `expected_position` is
        not the projection's recorded position.
        """
        self.apply_encoded(
            [
                EncodedBatch(
                    b.projection,
                    self.encode(b.projection, b.documents, b.partition_field),
                    b.position,
                    b.expected_position,
                )
                for b in batches
            ]
        )

    def encode(
        self, projection: str, documents: Mapping[str, View], partition_field: str | None = None
    ) -> list[tuple[Any, ...]]:
        """The rows `apply_encoded` writes for `documents`: the CPU half of a write."""
        return [_row(projection, key, doc, partition_field) for key, doc in documents.items()]

    def apply_encoded(self, batches: Sequence[EncodedBatch]) -> None:
        """`apply_batches` for batches whose documents `encode` turned into rows."""

        def write(conn: sqlite3.Connection) -> None:
            for batch in batches:
                if batch.expected_position is not None:
                    row = conn.execute(
                        "SELECT position FROM view_positions WHERE projection = ?",
                        (batch.projection,),
                    ).fetchone()
                    actual = 0 if row is None else int(row[0])
                    if actual != batch.expected_position:
                        raise StalePosition(batch.projection, batch.expected_position, actual)
                conn.executemany(_UPSERT, batch.rows)
                conn.execute(_SET_POSITION, (batch.projection, batch.position))

        self._write(write)

    @contextmanager
    def bulk_load(self) -> Iterator[None]:
        """Fill an empty store faster; a store with documents in it is written as usual.

        Meanwhile the secondary indexes are dropped, then built once at the end: a sort,
        rather than a random insert per document and index at every batch. Every batch
        is still committed with its position as usual, so a crash loses nothing; the
        indexes then come back when the store is next opened. Queries meanwhile give
        the same answers, only slower.
        """
        if self._connection().execute("SELECT 1 FROM view_documents LIMIT 1").fetchone():
            yield
            return
        self._write(lambda c: [c.execute(f"DROP INDEX IF EXISTS {name}") for name in _INDEXES])
        try:
            yield
        finally:
            self._write(lambda c: [c.execute(s) for s in _SCHEMA])

    # --- connections -------------------------------------------------------------------

    def close(self) -> None:
        """Close every thread's connection; call it once nothing uses this any more."""
        self._pool.close()

    def _write(self, work: Callable[[sqlite3.Connection], object]) -> None:
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            work(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _connection(self) -> sqlite3.Connection:
        return self._pool.get()

    # Last, so that `list` in the annotations above still means the builtin.
    def list(self, projection: str, partition: str | None = None) -> Iterator[dict[str, Any]]:
        """The projection's documents in key order, optionally of one partition.

        Read in pages by key, so a long listing holds no read transaction open.
        """
        condition = "" if partition is None else " AND partition = ?"
        after = ""
        while True:
            params = (projection, after) if partition is None else (projection, after, partition)
            rows = (
                self._connection()
                .execute(
                    "SELECT key, document FROM view_documents"  # noqa: S608 (fixed fragment)
                    f" WHERE projection = ? AND key > ?{condition} ORDER BY key LIMIT {_CHUNK}",
                    params,
                )
                .fetchall()
            )
            for _, document in rows:
                yield _decode(document)
            if len(rows) < _CHUNK:
                return
            after = rows[-1][0]


@cache
def _keys_in(size: int) -> str:
    """The documents of one projection with any of `size` keys.

    `get_many` pads its keys to a power of two with repeats of the last (`IN` ignores
    them), so that there are ten statement texts: the sqlite3 module keeps up to 128 texts
    prepared on each connection, and with a text per count of keys that held about 5 MiB
    a connection, more the longer it ran.
    """
    placeholders = ", ".join("?" * size)
    return (
        "SELECT key, document FROM view_documents"  # noqa: S608 (placeholders)
        f" WHERE projection = ? AND key IN ({placeholders})"
    )


def _reopen(path: str, synchronous: Literal["FULL", "NORMAL"]) -> SqliteViewStore:
    return SqliteViewStore(
        path, synchronous=synchronous, create_schema=False, pragmas=_COPY_PRAGMAS
    )


def _row(projection: str, key: str, doc: View, partition_field: str | None) -> tuple[Any, ...]:
    get = doc.get
    return (
        projection,
        key,
        None if partition_field is None else get(partition_field),
        get("user_id"),
        get("department_id"),
        get("status"),
        get("created_at"),
        get("updated_at"),
        _encode(doc),
    )


def _decode(document: str) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(document)
    return decoded
