"""Servers starting together on one database: `ensure_schema` called from several threads at
once (each with an engine of its own, as separate servers have) creates or upgrades the
schema once, and the others find the new version; on PostgreSQL a server waiting for the
schema lock says so, gives up after its limit, and the lock is free again afterwards."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from polling import wait_until
from schema_versions import create_older_database, stored_version

from deferred.errors import DeferredError, StoreUnavailableError
from deferred.store.cluster import CLAIM_LOCK_KEY
from deferred.store.engine import make_engine
from deferred.store.schema import SCHEMA_VERSION, ensure_schema
from deferred.store.schema_lock import FIRST_NOTICE_S, SCHEMA_LOCK_KEY, schema_lock

SERVERS = 6
SCHEMA_LOGGER = "deferred.store.schema"


def ensure_schema_at_once(url: str, count: int = SERVERS) -> list[object]:
    """`ensure_schema` in `count` threads released together; what each returned or raised."""
    engines = [make_engine(url) for _ in range(count)]
    for engine in engines:  # connect first, so that the threads meet at the schema
        with engine.connect():
            pass
    barrier = threading.Barrier(count)
    outcomes: list[object] = [None] * count

    def start(index: int) -> None:
        barrier.wait()
        try:
            outcomes[index] = ensure_schema(engines[index])
        except (DeferredError, sa.exc.SQLAlchemyError) as exc:  # the caller's assertion shows it
            outcomes[index] = exc

    threads = [threading.Thread(target=start, args=(index,), name=f"server-{index}")
               for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for engine in engines:
        engine.dispose()
    return outcomes


def schema_messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records
            if record.name == SCHEMA_LOGGER and record.levelno == logging.INFO]


@pytest.fixture(params=["sqlite_url", "postgres_url"], ids=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest) -> str:
    """A new empty database: a SQLite file (one server per file: the control), then a
    PostgreSQL database."""
    return request.getfixturevalue(request.param)


def test_servers_starting_together_on_an_empty_database_create_it_once(url, caplog):
    caplog.set_level(logging.INFO, logger=SCHEMA_LOGGER)
    assert ensure_schema_at_once(url) == [SCHEMA_VERSION] * SERVERS
    assert stored_version(url) == [SCHEMA_VERSION]
    assert schema_messages(caplog) == [
        f"created the database schema, version {SCHEMA_VERSION}"]


@pytest.mark.parametrize("older", [1, SCHEMA_VERSION - 1])
def test_servers_starting_together_on_an_older_database_upgrade_it_once(url, older, caplog):
    create_older_database(url, older)
    caplog.set_level(logging.INFO, logger=SCHEMA_LOGGER)
    assert ensure_schema_at_once(url) == [SCHEMA_VERSION] * SERVERS
    assert stored_version(url) == [SCHEMA_VERSION]
    assert schema_messages(caplog) == [f"upgraded the database schema to version {version}"
                                       for version in range(older + 1, SCHEMA_VERSION + 1)]


@pytest.fixture
def held_lock(postgres_url: str) -> Iterator[int]:
    """The schema lock held by another session (as a server upgrading would); yields that
    session's backend pid. The database is empty."""
    engine = sa.create_engine(postgres_url)
    with engine.connect() as conn:
        conn.execute(sa.select(sa.func.pg_advisory_lock(SCHEMA_LOCK_KEY)))
        pid = conn.execute(sa.select(sa.func.pg_backend_pid())).scalar_one()
        conn.commit()
        yield pid
    engine.dispose()


def is_free(url: str) -> bool:
    """True when another session can take the schema lock at once (it then lets it go)."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            taken = conn.execute(sa.select(sa.func.pg_try_advisory_lock(SCHEMA_LOCK_KEY))
                                 ).scalar_one()
            if taken:
                conn.execute(sa.select(sa.func.pg_advisory_unlock(SCHEMA_LOCK_KEY)))
            return bool(taken)
    finally:
        engine.dispose()


def test_the_schema_lock_is_not_the_claim_lock():
    assert SCHEMA_LOCK_KEY != CLAIM_LOCK_KEY


def test_a_server_waiting_for_the_schema_lock_says_so_then_carries_on(
        postgres_url, held_lock, caplog):
    caplog.set_level(logging.INFO, logger="deferred.store")
    engine = make_engine(postgres_url)
    outcome: list[object] = []
    waiter = threading.Thread(target=lambda: outcome.append(ensure_schema(engine)),
                              name="waiting-server")
    waiter.start()
    wait_until(lambda: any("waiting" in record.getMessage() for record in caplog.records),
               timeout_s=FIRST_NOTICE_S + 10)
    [notice] = [record for record in caplog.records if "waiting" in record.getMessage()]
    assert notice.levelname == "WARNING"
    assert (f"for another server (PostgreSQL backend pid {held_lock} from 127.0.0.1) to "
            "create or upgrade the database schema") in notice.getMessage()
    assert outcome == [] and stored_version_or_none(postgres_url) is None
    admin = sa.create_engine(postgres_url)
    with admin.connect() as conn:  # the holder's session ends, as when a server dies
        conn.execute(sa.select(sa.func.pg_terminate_backend(held_lock)))
    admin.dispose()
    waiter.join(30)
    engine.dispose()
    assert outcome == [SCHEMA_VERSION]
    assert is_free(postgres_url)


def test_a_server_gives_up_on_a_schema_lock_held_too_long(postgres_url, held_lock):
    engine = make_engine(postgres_url)
    try:
        with pytest.raises(StoreUnavailableError, match=(
                f"another server \\(PostgreSQL backend pid {held_lock} from 127.0.0.1\\) has "
                "held its schema lock for \\d+s, creating or upgrading the tables; start this "
                "one again once it is done")), schema_lock(engine, wait_limit_s=0.5):
            pass
    finally:
        engine.dispose()


def test_the_schema_lock_is_free_after_an_upgrade_fails(postgres_url):
    create_older_database(postgres_url, 1)
    engine = make_engine(postgres_url)

    def broken(conn: sa.Connection) -> None:
        conn.execute(sa.text("SELECT no_such_column FROM deferred_tasks"))

    try:
        with pytest.raises(sa.exc.ProgrammingError, match="no_such_column"):
            ensure_schema(engine, upgrades=(broken,))
        assert is_free(postgres_url)
        assert stored_version(postgres_url) == [1]
        assert ensure_schema(engine) == SCHEMA_VERSION and is_free(postgres_url)
    finally:
        engine.dispose()


def stored_version_or_none(url: str) -> list[int] | None:
    """The version rows, or None when there is no version table yet."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table("deferred_schema_version"):
                return None
    finally:
        engine.dispose()
    return stored_version(url)
