"""Credentials: token and password hashes, roles, loopback addresses, the `auth` section of
the config, the login throttle and where a login may lead."""

from __future__ import annotations

import base64
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from passwords import earlier_hash

from deferred.config import parse_config
from deferred.access.identity import (Principal, Role, hash_password, is_loopback,
                                      is_password_hash, new_token, password_hash_problem,
                                      token_hash, verify_password)
from deferred.errors import ConfigError, TooManyAttemptsError
from deferred.http.throttle import LoginThrottle, client_key
from deferred.http.ui.navigation import safe_next


def test_a_password_hash_is_salted_at_owasps_parameters_and_verifies_only_its_password(
        password_hash):
    first, second = password_hash("correct horse"), hash_password("correct horse")
    # OWASP's Password Storage Cheat Sheet: scrypt N=2^17, r=8, p=1.
    assert first.startswith("scrypt$131072$8$1$") and second.startswith("scrypt$131072$8$1$")
    assert first != second  # each its own salt
    assert is_password_hash(first) and password_hash_problem(first) is None
    assert verify_password("correct horse", second)
    assert not verify_password("correct hors", first)


def test_a_hash_at_the_earlier_lower_cost_still_verifies_and_loads():
    stored = earlier_hash("correct horse")
    assert stored.startswith("scrypt$16384$8$1$")
    assert verify_password("correct horse", stored)
    assert not verify_password("correct hors", stored)
    config = parse_config({"auth": {"users": [{"name": "old", "password": stored}]}})
    assert config.auth.users[0].password_hash == stored


# Each would either fail every login (hashlib refuses it) or make every login take minutes.
BEYOND_THE_LIMIT = [
    ("scrypt$262144$8$1$",
     "scrypt N=262144, r=8, p=1 needs 257 MiB to check, over the limit of 256 MiB"),
    ("scrypt$1048576$8$1$", "scrypt N=1048576, r=8, p=1 needs 1025 MiB to check"),
    ("scrypt$131072$8$5$", ("scrypt N=131072, r=8, p=5 costs 5 times the default (N=131072, "
                            "r=8, p=1) to check, over the limit of 4")),
    ("scrypt$1024$8$100000$", "scrypt N=1024, r=8, p=100000 costs 781 times the default"),
    ("scrypt$65536$1$1$", ("scrypt N=65536, r=1, p=1 is not valid (N must be a power of 2 "
                           "above 1 and below 2^(16*r), r and p at least 1)")),
    ("scrypt$3$8$1$", "scrypt N=3, r=8, p=1 is not valid"),
    ("scrypt$16384$0$1$", "scrypt N=16384, r=0, p=1 is not valid"),
    ("scrypt$1$8$1$", "scrypt N=1, r=8, p=1 is not valid"),
    ("scrypt$9999999999999$8$1$", "scrypt parameters of more than 12 digits are beyond any limit"),
]


@pytest.mark.parametrize("params, reason", BEYOND_THE_LIMIT)
def test_a_hash_beyond_the_limits_is_refused_when_the_config_loads(params, reason):
    stored = params + earlier_hash("pw", n=4).split("$", 4)[4]  # its real salt and hash
    assert password_hash_problem(stored).startswith(reason)
    assert not verify_password("pw", stored)  # without spending the time or memory
    with pytest.raises(ConfigError) as info:
        parse_config({"auth": {"users": [{"name": "ok", "password": earlier_hash("pw")},
                                         {"name": "bob", "password": stored}]}})
    assert str(info.value).startswith(f"config: $.auth.users[1].password: {reason}")
    assert str(info.value).endswith("(user 'bob'); make one with `python -m "
                                    "deferred.credentials user`")


def test_a_hash_whose_digest_is_not_32_bytes_is_refused_when_the_config_loads():
    salt_and_short_digest = "c2FsdA==$" + base64.b64encode(b"x" * 16).decode()
    with pytest.raises(ConfigError, match=r"users\[0\]\.password: not a password hash \(it "
                                          r"needs a salt and a 32-byte hash\) \(user 'u'\)"):
        parse_config({"auth": {"users": [
            {"name": "u", "password": "scrypt$16384$8$1$" + salt_and_short_digest}]}})


@pytest.mark.parametrize("stored", ["", "plain", "scrypt$x", "scrypt$1$2$3$!!$!!",
                                    "bcrypt$16384$8$1$AAAA$AAAA", "scrypt$16384$8$1$$"])
def test_a_stored_text_that_is_no_hash_never_verifies(stored):
    assert not is_password_hash(stored)
    assert not verify_password("anything", stored)


def test_tokens_are_unguessable_and_stored_by_their_hash():
    tokens = {new_token() for _ in range(100)}
    assert len(tokens) == 100 and all(token.startswith("dfr_") for token in tokens)
    token = next(iter(tokens))
    assert len(token) >= 40
    assert token_hash(token) == token_hash(token) and token not in token_hash(token)
    assert token_hash(token).startswith("sha256:") and len(token_hash(token)) == 71


def test_roles_are_ordered_and_named_as_the_config_writes_them():
    assert [role.label for role in Role] == ["read", "submit", "admin"]
    assert Role.from_label("submit") is Role.SUBMIT
    reader = Principal("r", Role.READ)
    assert reader.may(Role.READ) and not reader.may(Role.SUBMIT)
    assert Principal("a", Role.ADMIN).may(Role.SUBMIT)


@pytest.mark.parametrize("host, loopback", [
    ("127.0.0.1", True), ("127.1.2.3", True), ("::1", True), ("[::1]", True),
    ("localhost", True), ("0.0.0.0", False), ("::", False), ("192.168.1.10", False),
    ("10.0.0.1", False), ("no-such-host.invalid", False)])
def test_only_addresses_that_stay_on_this_machine_are_loopback(host, loopback):
    assert is_loopback(host) is loopback


def test_the_auth_section_is_read_with_roles_and_defaults(password_hash):
    token = new_token()
    config = parse_config({"auth": {
        "tokens": [{"name": "ci", "role": "submit", "hash": token_hash(token)},
                   {"name": "viewer", "hash": token_hash(new_token())}],
        "users": [{"name": "alice", "role": "admin", "password": password_hash("pw-pw-pw-pw")}],
        "session_ttl_s": 600}})
    auth = config.auth
    assert auth.enabled and not auth.insecure
    assert [(item.name, item.role) for item in auth.tokens] == [("ci", Role.SUBMIT),
                                                                ("viewer", Role.READ)]
    assert auth.users[0].role is Role.ADMIN and auth.session_ttl_s == 600.0
    assert "scrypt" not in repr(auth) and "sha256" not in repr(auth)  # hashes stay out of logs
    assert not parse_config({}).auth.enabled


@pytest.mark.parametrize("auth, message", [
    ({"tokens": [{"name": "x", "hash": "abc"}]}, "$.auth.tokens[0].hash: 'abc' does not match"),
    ({"tokens": [{"name": "x", "role": "root", "hash": "sha256:" + "0" * 64}]},
     "$.auth.tokens[0].role: 'root' is not one of ['read', 'submit', 'admin']"),
    ({"tokens": [{"name": "x", "hash": "sha256:" + "0" * 64},
                 {"name": "x", "hash": "sha256:" + "1" * 64}]},
     "$.auth.tokens[1].name: 'x' is used twice"),
    ({"tokens": [{"name": "x", "hash": "sha256:" + "0" * 64},
                 {"name": "y", "hash": "sha256:" + "0" * 64}]},
     "$.auth.tokens: two tokens have the same hash"),
    ({"users": [{"name": "u", "password": "secret-in-clear"}]},
     "$.auth.users[0].password: not a password hash (user 'u'); make one with "
     "`python -m deferred.credentials user`"),
    ({"users": [{"name": "u"}]}, "$.auth.users[0]: 'password' is a required property"),
    ({"session_ttl_s": 1}, "$.auth.session_ttl_s: 1 is less than the minimum of 60"),
    ({"token": []}, "$.auth.token: unknown key (allowed: tokens, users, session_ttl_s)"),
])
def test_a_bad_auth_section_names_the_key_and_never_echoes_a_password(auth, message):
    with pytest.raises(ConfigError) as info:
        parse_config({"auth": auth})
    assert str(info.value) == f"config: {message}" or str(info.value).startswith(
        f"config: {message}")
    assert "secret-in-clear" not in str(info.value)


def test_the_throttle_refuses_an_address_after_its_failures_and_forgets_old_ones():
    throttle = LoginThrottle(max_failures=3, window_s=300, max_clients=2)
    for _ in range(3):
        throttle.attempt("10.0.0.1")  # each counts as failed until it succeeds
    with pytest.raises(TooManyAttemptsError, match="too many failed logins from 10.0.0.1"):
        throttle.attempt("10.0.0.1")
    throttle.attempt("10.0.0.2")  # another address is not held up
    throttle.attempt("10.0.0.3")  # a third address: the oldest is forgotten
    assert len(throttle) == 2
    throttle.attempt("10.0.0.1")


def test_a_successful_attempt_is_no_failure_and_leaves_nothing_behind():
    throttle = LoginThrottle(max_failures=2, window_s=300)
    for _ in range(10):
        throttle.succeeded("10.0.0.1", throttle.attempt("10.0.0.1"))
    assert len(throttle) == 0


def test_parallel_attempts_cannot_slip_past_the_limit():
    throttle = LoginThrottle(max_failures=10, window_s=300)
    results: list[bool] = []

    def attempt() -> None:
        try:
            throttle.attempt("10.0.0.1")
            results.append(True)
        except TooManyAttemptsError:
            results.append(False)

    threads = [threading.Thread(target=attempt, name=f"login-{index}") for index in range(60)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert results.count(True) == 10 and results.count(False) == 50


def test_ipv6_failures_count_per_64_and_ipv4_mapped_as_ipv4():
    assert client_key("2001:db8::1") == client_key("2001:db8::ffff:1") == "2001:db8::/64"
    assert client_key("2001:db8:0:1::1") != client_key("2001:db8::1")
    assert client_key("::ffff:10.0.0.1") == "10.0.0.1" and client_key("10.0.0.1") == "10.0.0.1"
    assert client_key("unknown") == "unknown"
    throttle = LoginThrottle(max_failures=2, window_s=300)
    throttle.attempt("2001:db8::1")
    throttle.attempt("2001:db8::2")
    with pytest.raises(TooManyAttemptsError):
        throttle.attempt("2001:db8::3")


def test_the_throttle_lets_an_address_try_again_once_the_window_passed():
    throttle = LoginThrottle(max_failures=1, window_s=0.0)
    throttle.attempt("10.0.0.1")
    throttle.attempt("10.0.0.1")


@pytest.mark.parametrize("path, expected", [
    ("/tasks?status=all", "/tasks?status=all"), ("/", "/"), ("", "/"),
    ("https://evil.example/", "/"), ("//evil.example/", "/"), ("/\\evil.example", "/"),
    ("javascript:alert(1)", "/"), ("/x\r\nSet-Cookie: a=b", "/"),
    ("/\t/evil.example/x", "/"), ("/x\x7f", "/")])
def test_a_login_leads_only_to_a_path_of_this_server(path, expected):
    assert safe_next(path) == expected


@settings(max_examples=300)
@given(st.text())
def test_whatever_next_says_the_login_stays_on_this_server(path):
    target = safe_next(path)
    assert target.startswith("/") and not target.startswith("//")
    assert "\\" not in target
    assert all(ord(char) >= 0x20 and ord(char) != 0x7f for char in target)
