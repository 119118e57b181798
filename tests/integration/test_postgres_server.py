"""The test PostgreSQL itself: reachable through `postgresql+psycopg://`, one independent
database per call, and data kept across a restart."""

from __future__ import annotations

import os

import psycopg
import pytest
import sqlalchemy as sa

from pg_server import PostgresServer


def scalar(url: str, query: str) -> object:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(query)).scalar_one()
    finally:
        engine.dispose()


def execute(url: str, *statements: str) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(sa.text(statement))
    finally:
        engine.dispose()


def test_a_query_runs_through_psycopg_on_postgresql_15(postgres_url):
    assert postgres_url.startswith("postgresql+psycopg://postgres@127.0.0.1:")
    assert scalar(postgres_url, "SELECT current_setting('server_version_num')").startswith("15")
    database = sa.make_url(postgres_url).database
    assert scalar(postgres_url, "SELECT current_database()") == database


def test_the_server_runs_as_an_unprivileged_user(postgres):
    owner = os.stat(postgres.data_dir).st_uid
    assert owner != 0 or os.geteuid() != 0  # initdb and postgres refuse root
    assert str(postgres.base).startswith("/tmp/")


def test_each_created_database_is_a_separate_empty_one(postgres):
    first, second = postgres.create_database(), postgres.create_database()
    assert first != second
    execute(first, "CREATE TABLE seen (x INTEGER)", "INSERT INTO seen VALUES (1)")
    assert scalar(first, "SELECT count(*) FROM seen") == 1
    assert scalar(second, "SELECT to_regclass('seen') IS NULL") is True


@pytest.mark.parametrize("immediate", [False, True], ids=["fast", "immediate"])
def test_a_restart_keeps_committed_data_and_new_connections_work(postgres, postgres_url,
                                                                  immediate):
    execute(postgres_url, "CREATE TABLE kept (x INTEGER)", "INSERT INTO kept VALUES (42)")
    port = postgres.port
    postgres.restart(immediate=immediate)
    assert (postgres.port, postgres.is_running) == (port, True)
    assert scalar(postgres_url, "SELECT x FROM kept") == 42


def test_a_halted_server_refuses_connections_until_started_again(postgres, postgres_url):
    postgres.halt()
    try:
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(postgres.conninfo(), connect_timeout=5).close()
    finally:
        postgres.start_again()
    assert scalar(postgres_url, "SELECT 1") == 1


def test_a_server_of_its_own_stops_and_leaves_nothing_behind():
    with PostgresServer() as server:
        base = server.base
        assert scalar(server.create_database(), "SELECT 1") == 1
    assert not base.exists()
    assert not server.is_running
