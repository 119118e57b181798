"""`WakeupListener`: LISTENs on a shared PostgreSQL database so that a task submitted to one
server (or a slot freed on one) wakes the dispatchers of all of them at once. Polling stays
as the fallback: a lost notification costs at most one poll."""

from __future__ import annotations

import logging
from collections.abc import Callable

import sqlalchemy as sa

from ..background import BackgroundThread
from .cluster import PAUSES_NOTICE, WAKE_CHANNEL

logger = logging.getLogger(__name__)

RECONNECT_S = 1.0
WAIT_S = 0.5  # how often the loop looks at its stop flag


class WakeupListener(BackgroundThread):
    """The `deferred-listener` thread: its own autocommit connection, `LISTEN`, and a call to
    `on_wake` for every notification, or `on_pauses` for one saying that the paused task
    types changed (both after each reconnect, in case one was missed)."""

    def __init__(self, url: sa.URL, on_wake: Callable[[], None], *,
                 on_pauses: Callable[[], None] = lambda: None) -> None:
        super().__init__("deferred-listener")
        self._conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._on_wake, self._on_pauses = on_wake, on_pauses

    def _loop(self) -> None:
        import psycopg  # only servers on PostgreSQL need the driver

        while not self._stopping.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True,
                                     connect_timeout=5) as connection:
                    connection.execute(f"LISTEN {WAKE_CHANNEL}")
                    self._on_pauses()
                    self._on_wake()
                    while not self._stopping.is_set():
                        for notice in connection.notifies(timeout=WAIT_S, stop_after=1):
                            if notice.payload == PAUSES_NOTICE:
                                self._on_pauses()
                            else:
                                self._on_wake()
            except psycopg.Error as exc:
                logger.warning("listening for new tasks failed (%s); polling until it "
                               "reconnects", " ".join(str(exc).split()))
                self._stopping.wait(RECONNECT_S)
