"""`Retention`: the `deferred-retention` thread, which deletes finished tasks once they are
older than the server's `retention_s` or their task's `ttl_s`, in small batches, each its own
short transaction, so that the dispatcher never waits on it for long."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Mapping, Sequence
from typing import Protocol

from ..background import BackgroundThread
from ..records import utcnow

logger = logging.getLogger(__name__)

EVERY_S = 60.0
BATCH = 500
BETWEEN_BATCHES_S = 0.05  # lets the dispatcher's transactions in between


class PurgingStore(Protocol):
    """What retention needs of a store (see `SqlTaskStore.delete_finished`)."""

    def delete_finished(self, finished_before: datetime.datetime, *,
                        names: Sequence[str] | None = None,
                        except_names: Sequence[str] = (), limit: int = 500) -> int: ...


class Retention(BackgroundThread):
    """Deletes finished tasks past their keep time: `ttls` (task name to seconds) for the
    tasks that set one, `default_s` (None: for ever) for the others."""

    def __init__(self, store: PurgingStore, default_s: float | None,
                 ttls: Mapping[str, float], every_s: float = EVERY_S) -> None:
        super().__init__("deferred-retention")
        self._store, self._default_s, self._ttls = store, default_s, dict(ttls)
        self._every_s = every_s

    @property
    def is_needed(self) -> bool:
        """False when nothing is ever deleted."""
        return self._default_s is not None or bool(self._ttls)

    def start(self) -> None:
        """Start the thread, if anything is ever deleted."""
        if self.is_needed:
            super().start()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                deleted = self.purge_once()
            except Exception as exc:  # the database is down: next time
                logger.warning("deleting old finished tasks failed: %s", exc)
                deleted = 0
            if deleted:
                logger.info("deleted %d finished tasks past their keep time", deleted)
            self._stopping.wait(self._every_s)

    def purge_once(self) -> int:
        """Delete everything past its keep time now, batch by batch; how many were deleted."""
        now, deleted = utcnow(), 0
        rules: list[tuple[float, Sequence[str] | None, Sequence[str]]] = [
            (ttl_s, [name], ()) for name, ttl_s in self._ttls.items()]
        if self._default_s is not None:
            rules.append((self._default_s, None, list(self._ttls)))
        for keep_s, names, except_names in rules:
            cutoff = now - datetime.timedelta(seconds=keep_s)
            while not self._stopping.is_set():
                count = self._store.delete_finished(cutoff, names=names,
                                                    except_names=except_names, limit=BATCH)
                deleted += count
                if count < BATCH:
                    break
                self._stopping.wait(BETWEEN_BATCHES_S)
        return deleted
