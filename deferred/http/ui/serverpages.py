"""The servers page (`/servers`, with its live fragment) and how the task pages name the
server that ran a task: its host and pid rather than its id."""

from __future__ import annotations

from typing import Any

from ...interfaces import RecordReader
from ...servers import ServerName, server_name
from .renderer import PageRenderer


class ServerPages:
    """Renders the servers of the database, read from `records`; `this_server_id` is the
    server answering."""

    def __init__(self, records: RecordReader, this_server_id: str,
                 renderer: PageRenderer) -> None:
        self._records, self._this, self._pages = records, this_server_id, renderer

    def _values(self) -> dict[str, Any]:
        return {"servers": self._records.servers(), "this_server_id": self._this}

    def servers_page(self) -> Any:
        """`GET /servers`: every server, alive, stopping or taken for dead."""
        return self._pages.render("servers", **self._values())

    def servers_part(self) -> Any:
        """The live section of the servers page."""
        return self._pages.render("servers_part", **self._values())

    def name_of(self, owner: str | None) -> ServerName | None:
        """The host and pid of the server `owner` (a record's): from its row while it has
        one, else from the id; None without an owner or for an id of an earlier version."""
        if not owner:
            return None
        return server_name(owner, {server.id: server for server in self._records.servers()})
