"""`backoff_delay_s`: the wait before trying again, doubling with each try, capped, with
jitter. Task retries and email retries both wait by it."""

from __future__ import annotations

import random
from collections.abc import Callable

_MAX_DOUBLINGS = 60  # 2**60 times any base is past every cap; bounds the float


def backoff_delay_s(attempt: int, base_s: float, max_s: float,
                    rand: Callable[[], float] = random.random) -> float:
    """Seconds to wait after failed try number `attempt` (1 for the first): `base_s`
    doubled for each earlier try, at most `max_s`, then drawn between its half and its whole
    (`rand()` in [0, 1]) so that what failed together does not come back together."""
    ceiling = min(max_s, base_s * 2 ** min(max(attempt - 1, 0), _MAX_DOUBLINGS))
    return ceiling * (0.5 + rand() / 2)
