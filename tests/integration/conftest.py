"""Fixtures for integration tests: real stores on real databases."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from deferred.config import DbConfig
from deferred.store import SqlTaskStore


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+pysqlite:///{tmp_path / 'tasks.db'}"


@pytest.fixture
def store(sqlite_url: str) -> Iterator[SqlTaskStore]:
    store = SqlTaskStore(DbConfig(url=sqlite_url))
    yield store
    store.close()

