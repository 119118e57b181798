"""`LoginThrottle`: at most so many failed logins per client in a window of time."""

from __future__ import annotations

import collections
import ipaddress
import threading
import time

from ..errors import TooManyAttemptsError


def client_key(address: str) -> str:
    """Whom failures are counted against: the address, or for IPv6 its /64 (one client
    commonly holds a whole /64 and could rotate through it)."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is None:
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed.ipv4_mapped or parsed) if isinstance(parsed, ipaddress.IPv6Address) \
        else str(parsed)


class LoginThrottle:
    """At most `max_failures` failed logins per client (`client_key`) in `window_s`; then it
    is refused until its oldest failure leaves the window. Remembers at most
    `max_clients` clients (the least recently failing are forgotten first).

    An attempt counts as failed from the moment it starts (`attempt`) until it is known to
    have succeeded (`succeeded`), so parallel attempts cannot slip past the limit."""

    def __init__(self, max_failures: int = 10, window_s: float = 300.0,
                 max_clients: int = 10_000) -> None:
        self._max, self._window_s, self._max_clients = max_failures, window_s, max_clients
        self._failures: collections.OrderedDict[str, collections.deque[float]] = (
            collections.OrderedDict())
        self._lock = threading.Lock()

    def attempt(self, address: str) -> float:
        """Start an attempt of `address`, counted as failed until `succeeded`; returns its
        stamp. Raises `TooManyAttemptsError` while the client has used up its failures."""
        key, now = client_key(address), time.monotonic()
        with self._lock:
            failures = self._failures.get(key)
            if failures is not None:
                while failures and failures[0] <= now - self._window_s:
                    failures.popleft()
                if len(failures) >= self._max:
                    wait_s = failures[0] + self._window_s - now
                    raise TooManyAttemptsError(
                        f"too many failed logins from {address}; try again in {wait_s:.0f} s",
                        where="login")
            else:
                failures = self._failures[key] = collections.deque()
            failures.append(now)
            self._failures.move_to_end(key)
            while len(self._failures) > self._max_clients:
                self._failures.popitem(last=False)
        return now

    def succeeded(self, address: str, stamp: float) -> None:
        """The attempt started at `stamp` logged in: it is no failure."""
        key = client_key(address)
        with self._lock:
            failures = self._failures.get(key)
            if failures is not None:
                try:
                    failures.remove(stamp)
                except ValueError:
                    pass  # already out of the window
                if not failures:
                    del self._failures[key]

    def __len__(self) -> int:
        """How many clients have failures remembered."""
        with self._lock:
            return len(self._failures)
