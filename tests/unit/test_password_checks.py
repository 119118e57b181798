"""Password checks are memory-hard (about 128 MiB each): at most `PASSWORD_CHECKS_AT_ONCE`
run at once, however many logins arrive together."""

from __future__ import annotations

import threading

import pytest

from deferred.access.identity import Role
from deferred.config import AuthConfig, UserAccount
from deferred.errors import UnauthorizedError
from deferred.http import auth


def test_logins_arriving_together_check_their_passwords_two_at_a_time(monkeypatch):
    lock, running, most = threading.Lock(), [0], [0]
    release = threading.Event()

    def slow_check(*_args: object) -> bool:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        release.wait(0.05)  # long enough for the others to pile up behind the limit
        with lock:
            running[0] -= 1
        return False

    monkeypatch.setattr(auth, "verify_password", slow_check)
    monkeypatch.setattr(auth, "dummy_password_check", slow_check)
    authenticator = auth.Authenticator(
        AuthConfig(users=(UserAccount("alice", Role.READ, "scrypt$16384$8$1$c2FsdA==$aGFzaA=="),)),
        access=None)  # type: ignore[arg-type]
    refused = []

    def login(user: str) -> None:
        with pytest.raises(UnauthorizedError):
            authenticator.check_login(token="", user=user, password="wrong")
        refused.append(user)

    threads = [threading.Thread(target=login, args=("alice" if index % 2 else "mallory",),
                                name=f"login-{index}") for index in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(refused) == 12
    assert most[0] == auth.PASSWORD_CHECKS_AT_ONCE == 2
