"""How many records a turn may claim, in total and per name, from what runs and waits here."""

from __future__ import annotations

from collections.abc import Callable

from .quotas import Quotas
from .ready import ReadyRuns


def claim_room(quotas: Quotas, ready: ReadyRuns, prefetch: int,
               is_short: Callable[[str], bool]) -> tuple[dict[str, int], int]:
    """One record per free worker, and for a name whose runs are short (`is_short`) up to
    `prefetch` more, taken ahead. Per name, never past its limit, or on one server its limit
    plus as many ahead as the prefetch allows (they wait in `ready` for a slot). On a shared
    database the store narrows this to the cluster's limits and to this server's share of
    them."""
    pool = quotas.global_limit
    running_total, running = quotas.running()
    held_total, held = ready.held()
    free = pool - running_total - held_total
    total = max(free, 0)
    room = {}
    for name in quotas.task_names:
        ahead = prefetch if is_short(name) else 0
        limit = quotas.name_limits.get(name)
        cap = pool + ahead if limit is None else limit + min(limit, ahead)
        slots = min(cap - running.get(name, 0) - held.get(name, 0), free + ahead)
        if slots > 0:
            room[name] = slots
            total = max(total, free + ahead)
    if total <= 0:
        return {}, 0
    return {name: min(slots, total) for name, slots in room.items()}, total
