"""The pauses' seam: the paused task types a store keeps for every server."""

from __future__ import annotations

import dataclasses
import datetime
from typing import Protocol

from ..access.audit import Actor


@dataclasses.dataclass(frozen=True)
class PausedType:
    """A task type paused on every server of the database: since when, and by whom."""

    name: str
    paused_at: datetime.datetime
    paused_by: str


@dataclasses.dataclass(frozen=True)
class PausedNames:
    """The paused task types as one reading saw them. `as_of` is `time.monotonic()` taken
    before the reading began: it shows every pause committed before that moment."""

    names: frozenset[str]
    as_of: float


class PauseStore(Protocol):
    """The paused task types, kept across restarts and shared by every server: the queued
    tasks of a paused type wait, and no claim takes them until it is resumed."""

    def pause(self, name: str, actor: Actor | None = None) -> PausedType:
        """Pause `name`, with the `actor`'s audit entry; one already paused is left as it
        is (no entry). Returns the pause."""

    def resume(self, name: str, actor: Actor | None = None) -> bool:
        """Resume `name`, with the `actor`'s audit entry; False (and no entry) if it was
        not paused."""

    def paused(self) -> dict[str, PausedType]:
        """The paused task types, by name."""

    def names(self) -> PausedNames:
        """The paused names now, as the dispatcher's claims see them."""
