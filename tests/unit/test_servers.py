"""Server ids, readable and permanent (`host-pid-random`, at most the owner column's 64
characters), and how a record's server is named: host and pid from its row, else from its id,
else nothing (an id of an earlier version is shown as it is)."""

from __future__ import annotations

import os
import re
import socket

from deferred import servers
from deferred.records import utcnow
from deferred.servers import ServerName, ServerRecord, ServerState, server_name

NOW = utcnow()


def row(server_id: str, host: str, pid: int) -> ServerRecord:
    return ServerRecord(id=server_id, host=host, pid=pid, version="1.0", pool_size=4,
                        started_at=NOW, heartbeat_at=NOW, heartbeat_age_s=0.0,
                        state=ServerState.ALIVE, running_tasks=0)


def test_a_server_id_names_this_host_and_pid_and_differs_each_time():
    first, second = servers.new_server_id(), servers.new_server_id()
    assert first != second
    assert re.fullmatch(rf"{re.escape(socket.gethostname())}-{os.getpid()}-[0-9a-f]{{12}}",
                        first)
    assert servers.parse_server_id(first) == ServerName(socket.gethostname(), os.getpid())


def test_a_long_host_is_cut_so_that_the_id_fits_the_owner_column():
    server_id = servers.new_server_id("h" * 300 + ".example.com", 4_294_967_295)
    assert len(server_id) == servers.SERVER_ID_CHARS
    assert servers.parse_server_id(server_id) == ServerName("h" * 40, 4_294_967_295)


def test_a_host_with_dashes_is_parsed_back_whole():
    assert servers.parse_server_id(servers.new_server_id("web-1-eu", 77)) == ServerName("web-1-eu", 77)


def test_ids_of_earlier_versions_and_others_are_not_parsed():
    for other in ("0123456789abcdef0123456789abcdef", "", "web-12", "web-12-xyz",
                  "web-x-0123456789ab", "-12-0123456789ab"):
        assert servers.parse_server_id(other) is None, other


def test_a_record_s_server_is_named_from_its_row_then_its_id_then_not_at_all():
    listed = servers.new_server_id("web-1", 10)
    known = {listed: row(listed, "web-1.example.com", 10)}
    assert server_name(listed, known) == ServerName("web-1.example.com", 10)
    assert server_name(servers.new_server_id("gone", 11), known) == ServerName("gone", 11)
    assert server_name("0123456789abcdef0123456789abcdef", known) is None


def test_the_states_read_as_the_ui_shows_them():
    assert [state.label for state in ServerState] == ["alive", "stopping", "taken for dead"]
