"""What a server is to the others and to the servers page: its id, readable and permanent
(`{host}-{pid}-{random}`, the `owner` of the records it runs), what its row in
`deferred_servers` says of it (`ServerInfo`, `ServerRecord`), and how a server id is shown
once its row is gone."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import importlib.metadata
import os
import re
import secrets
import socket
from collections.abc import Mapping

SERVER_ID_CHARS = 64  # the width of the owner columns the id is written to
_TAG_HEX = 12  # 48 random bits: a host's pid reused by a later server still gets a new id
_SERVER_ID = re.compile(rf"(?P<host>.+)-(?P<pid>[0-9]{{1,10}})-[0-9a-f]{{{_TAG_HEX}}}")


def new_server_id(host: str | None = None, pid: int | None = None) -> str:
    """A new server id, `web-1-4242-5f0c2a9b1e77`: the host (cut so that the whole fits in
    `SERVER_ID_CHARS`), the pid and random hex. Records compare it as an opaque string."""
    host = socket.gethostname() if host is None else host
    suffix = f"-{os.getpid() if pid is None else pid}-{secrets.token_hex(_TAG_HEX // 2)}"
    return (host[:SERVER_ID_CHARS - len(suffix)] or "host") + suffix


@dataclasses.dataclass(frozen=True)
class ServerName:
    """How a server is shown: its host and pid."""

    host: str
    pid: int


def parse_server_id(server_id: str) -> ServerName | None:
    """The host (as cut into the id) and pid of an id made by `new_server_id`; None for
    another id (the 32 hex characters of earlier versions)."""
    match = _SERVER_ID.fullmatch(server_id)
    if match is None:
        return None
    return ServerName(match["host"], int(match["pid"]))


def deferred_version() -> str:
    """deferred's version as installed ("0" when it is not installed)."""
    try:
        return importlib.metadata.version("deferred")
    except importlib.metadata.PackageNotFoundError:
        return "0"


@dataclasses.dataclass(frozen=True)
class ServerInfo:
    """What a server writes of itself in its row when it starts."""

    host: str
    pid: int
    version: str
    pool_size: int

    @classmethod
    def of_this_process(cls, pool_size: int) -> ServerInfo:
        """This process's host, pid and deferred's version."""
        return cls(socket.gethostname(), os.getpid(), deferred_version(), pool_size)


class ServerState(str, enum.Enum):
    """Whether a server is alive, as its row says: `alive`, `stopping` (its stop began: it
    takes no new work, its running tasks have their grace) or `taken_for_dead` (no heartbeat
    for longer than the lease: it crashed, was killed or is paused)."""

    ALIVE = "alive"
    STOPPING = "stopping"
    TAKEN_FOR_DEAD = "taken_for_dead"

    @property
    def label(self) -> str:
        """The words the UI shows: `alive`, `stopping`, `taken for dead`."""
        return self.value.replace("_", " ")

    def __str__(self) -> str:
        return self.value


@dataclasses.dataclass(frozen=True)
class ServerRecord:
    """A server's row, with how old its heartbeat is (the database's clock), its state and
    how many records it has running."""

    id: str
    host: str
    pid: int
    version: str
    pool_size: int
    started_at: datetime.datetime
    heartbeat_at: datetime.datetime
    heartbeat_age_s: float
    state: ServerState
    running_tasks: int

    @property
    def name(self) -> ServerName:
        """Its host and pid."""
        return ServerName(self.host, self.pid)


def server_name(server_id: str, known: Mapping[str, ServerRecord]) -> ServerName | None:
    """How to show the server `server_id` (a record's owner): the host and pid of its row
    when it still has one, else those in the id itself, else None (an id of an earlier
    version: show it as it is)."""
    found = known.get(server_id)
    return found.name if found is not None else parse_server_id(server_id)
