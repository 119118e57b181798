"""The access check on its own: a route that names no role needs admin, and an unknown user
costs a password check as a known one does (so names cannot be told apart by timing)."""

from __future__ import annotations

import io
import wsgiref.util
from collections.abc import Callable
from typing import Any

import bottle
import pytest

from deferred.config import AuthConfig, parse_config
from deferred.access.identity import new_token, token_hash
from deferred.errors import UnauthorizedError
from deferred.http import auth
from deferred.http.auth import AccessPlugin, Authenticator, refusal_response

TOKENS = {role: new_token() for role in ("read", "submit", "admin")}


class NoStoredCredentials:
    """What the authenticator asks of a `TaskService`: nothing is stored."""

    def find_token(self, token_hash: str) -> None:
        return None

    def find_session(self, token_hash: str) -> None:
        return None


def auth_config(password_hash: Callable[[str], str]) -> AuthConfig:
    return parse_config({"auth": {
        "tokens": [{"name": role, "role": role, "hash": token_hash(token)}
                   for role, token in TOKENS.items()],
        "users": [{"name": "alice", "password": password_hash("a long password")}]}}).auth


def call(app: bottle.Bottle, token: str) -> str:
    environ: dict[str, Any] = {"REQUEST_METHOD": "GET", "PATH_INFO": "/new",
                               "HTTP_AUTHORIZATION": f"Bearer {token}",
                               "wsgi.input": io.BytesIO(), "wsgi.errors": io.StringIO()}
    wsgiref.util.setup_testing_defaults(environ)
    answer: dict[str, str] = {}
    b"".join(app(environ, lambda status, headers, exc_info=None: answer.update(s=status)))
    return answer["s"]


def test_a_route_that_names_no_role_needs_admin(password_hash):
    app = bottle.Bottle()
    authenticator = Authenticator(auth_config(password_hash),
                                  NoStoredCredentials())  # type: ignore[arg-type]
    app.install(AccessPlugin(authenticator, refusal_response))
    app.route("/new", "GET", lambda: "ok")  # no access=: someone forgot
    assert call(app, TOKENS["read"]).startswith("403")
    assert call(app, TOKENS["submit"]).startswith("403")
    assert call(app, TOKENS["admin"]).startswith("200")


def test_an_unknown_user_costs_a_password_check(monkeypatch, password_hash):
    calls = []
    monkeypatch.setattr(auth, "dummy_password_check", lambda: calls.append(1))
    authenticator = Authenticator(auth_config(password_hash),
                                  NoStoredCredentials())  # type: ignore[arg-type]
    with pytest.raises(UnauthorizedError, match="wrong user name or password"):
        authenticator.check_login(token="", user="nobody", password="x")
    assert calls == [1]
    with pytest.raises(UnauthorizedError, match="wrong user name or password"):
        authenticator.check_login(token="", user="alice", password="x" * 600)  # too long
    assert authenticator.check_login(token="", user="alice",
                                     password="a long password").name == "alice"
