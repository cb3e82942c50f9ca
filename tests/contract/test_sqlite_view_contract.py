"""SqliteViewStore fed by the checkpointed runner passes the views contract."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from adapters.sqlite_views import SqliteViewStore
from projections import ALL_PROJECTIONS
from projections.runner import ProjectionRunner
from services.ports import ViewReader
from tests.contract.view_store_contract import LoggedEvents, ViewStoreContract


class TestSqliteViewStore(ViewStoreContract):
    @pytest.fixture(scope="class")
    def reader(
        self, logged: LoggedEvents, tmp_path_factory: pytest.TempPathFactory
    ) -> Iterator[ViewReader]:
        views = SqliteViewStore(tmp_path_factory.mktemp("views") / "views.db")
        # Small batches, so that documents are carried across many of them.
        ProjectionRunner(logged.store, views, ALL_PROJECTIONS, batch_size=17).run_until_caught_up()
        assert views.positions([p.name for p in ALL_PROJECTIONS]) == dict.fromkeys(
            (p.name for p in ALL_PROJECTIONS), logged.store.last_position()
        )
        yield views
        views.close()
