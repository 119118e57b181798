"""Fixtures for integration tests: real stores on real databases."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from deferred.config import DbConfig
from deferred.store import SqlTaskStore

BACKENDS = ("sqlite", "postgresql")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sqlite_only: a test of the `store` fixture that checks "
                                       "something only SQLite has; it runs on SQLite alone")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # `store` runs on every backend, except in tests that also open the same database through
    # `sqlite_url` (a file path, sqlite3) or are marked SQLite-only.
    if "store" in metafunc.fixturenames:
        sqlite_only = ("sqlite_url" in metafunc.fixturenames
                       or metafunc.definition.get_closest_marker("sqlite_only") is not None)
        metafunc.parametrize("store", BACKENDS[:1] if sqlite_only else BACKENDS, indirect=True)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+pysqlite:///{tmp_path / 'tasks.db'}"


@pytest.fixture
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlTaskStore]:
    """A `SqlTaskStore` on a new database: a SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        url = request.getfixturevalue("sqlite_url")
    else:
        url = request.getfixturevalue("postgres_url")
    store = SqlTaskStore(DbConfig(url=url))
    yield store
    store.close()
