"""Who is asking, and may they: API tokens, login sessions, roles per route, login throttling.

Every route names what it needs when it is added (`access=` in `app.route`): a `Role`,
`PUBLIC` (static files, health, the login form's post) or `CAPABILITY` (result files: the
unguessable link is the credential, so emailed links work). A route that names nothing needs
`Role.ADMIN`: a new route is closed until someone opens it on purpose.
"""

from __future__ import annotations

import datetime
import functools
import ipaddress
import logging
import re
import secrets
import threading
from collections.abc import Callable
from typing import Any

import bottle

from ..access.audit import Actor
from ..config import AuthConfig
from ..access.identity import (LOCAL_PRINCIPAL, MAX_PASSWORD_CHARS, ROLE_LABELS, Principal, Role,
                           dummy_password_check, new_token, token_hash, verify_password)
from ..errors import (BadRequestError, ConflictError, DeferredError, ForbiddenError,
                      NotFoundError, UnauthorizedError, shown)
from ..interfaces import AccessStore
from ..records import utcnow
from .jsonerrors import error_response
from .throttle import LoginThrottle

logger = logging.getLogger(__name__)

PUBLIC = "public"
CAPABILITY = "capability"
SESSION_COOKIE = "deferred_session"
PRINCIPAL_KEY = "deferred.principal"  # the request's principal, in the WSGI environ
_BEARER = "bearer "
_MAX_CREDENTIAL_CHARS = 512
TOKEN_NAME = re.compile(r"[A-Za-z0-9._@-]{1,100}")  # of a token made over HTTP
_SESSION_BYTES = 32

Access = Role | str
PASSWORD_CHECKS_AT_ONCE = 2
"""Each scrypt check holds about 128 MiB for half a second: 32 request threads checking at
once would hold 4 GiB. More at once than this machine's cores gains nothing; the others
wait their turn."""


class Authenticator:
    """Finds the principal of a request (bearer token, then session cookie) and opens and
    closes login sessions. With no tokens and no users configured, everyone is
    `LOCAL_PRINCIPAL` (an admin): allowed on a loopback address only."""

    def __init__(self, config: AuthConfig, access: AccessStore,
                 throttle: LoginThrottle | None = None) -> None:
        self._config, self._access = config, access
        self._tokens = {token.hash: Principal(token.name, token.role, f"token:{token.hash}")
                        for token in config.tokens}
        self._users = {user.name: user for user in config.users}
        self.throttle = throttle or LoginThrottle()
        self._password_checks = threading.BoundedSemaphore(PASSWORD_CHECKS_AT_ONCE)

    @property
    def enabled(self) -> bool:
        """True when requests must carry credentials."""
        return self._config.enabled

    def principal(self, request: bottle.BaseRequest) -> Principal | None:
        """Who sent this request, None if nobody we know. Raises `UnauthorizedError` for a
        bearer token that is not one of ours (a typo should not fall back to a cookie).

        With auth off, a client on this machine is `LOCAL_PRINCIPAL`, anyone else nobody
        (unless `insecure`): an app mounted elsewhere, or behind a proxy on another machine,
        stays closed. A session counts only while what opened it (a user of the config, a
        token) still exists, with the role it has now."""
        if not self.enabled:
            address = str(request.environ.get("REMOTE_ADDR") or "")
            return LOCAL_PRINCIPAL if self._config.insecure or _is_loopback_address(address) \
                else None
        header = request.environ.get("HTTP_AUTHORIZATION", "")
        if header:
            return self._bearer(header)
        cookie = request.get_cookie(SESSION_COOKIE)
        if cookie and len(cookie) <= _MAX_CREDENTIAL_CHARS:
            found = self._access.find_session(token_hash(cookie))
            if found is not None:
                return self._current(found[2])
        return None

    def _current(self, credential: str) -> Principal | None:
        """The principal `credential` stands for now, None if it is gone."""
        kind, _, value = credential.partition(":")
        if kind == "user":
            account = self._users.get(value)
            return None if account is None else Principal(account.name, account.role,
                                                          credential)
        if kind == "token":
            return self._hashed_token_principal(value)
        return None

    def _bearer(self, header: str) -> Principal:
        if not header.lower().startswith(_BEARER):
            raise UnauthorizedError("the Authorization header must be 'Bearer TOKEN'",
                                    where="Authorization")
        token = header[len(_BEARER):].strip()
        principal = (self._token_principal(token)
                     if len(token) <= _MAX_CREDENTIAL_CHARS else None)
        if principal is None:
            raise UnauthorizedError("the API token is not valid (unknown or revoked)",
                                    where="Authorization")
        return principal

    def _token_principal(self, token: str) -> Principal | None:
        """The principal of a token of the config, else of one stored in the database."""
        return self._hashed_token_principal(token_hash(token))

    def _hashed_token_principal(self, hashed: str) -> Principal | None:
        principal = self._tokens.get(hashed)
        if principal is None:
            found = self._access.find_token(hashed)
            if found is not None:
                principal = Principal(found[0], Role.from_label(found[1]), f"token:{hashed}")
        return principal

    def token_list(self) -> list[dict[str, Any]]:
        """Every API token by name and role: those of the config, then those stored."""
        listed: list[dict[str, Any]] = [
            {"name": token.name, "role": token.role.label, "source": "config",
             "created_at": None, "created_by": None} for token in self._config.tokens]
        listed += [{"name": stored.name, "role": stored.role, "source": "database",
                    "created_at": stored.created_at, "created_by": stored.created_by}
                   for stored in self._access.stored_tokens()]
        return listed

    def create_token(self, name: str, role: str, actor: Actor) -> str:
        """A new API token, stored by its hash (the token is shown this once). It is asked
        for once auth is on (config.json has tokens or users). Raises `BadRequestError` for a
        bad name or role, `ConflictError` for a name in use."""
        if not TOKEN_NAME.fullmatch(name):
            raise BadRequestError(f"{shown(name)!r} is not a token name: 1 to 100 letters, "
                                  "digits and . _ @ -", where="name")
        if role not in ROLE_LABELS:
            raise BadRequestError(f"{shown(role)!r} is not a role (allowed: "
                                  f"{', '.join(ROLE_LABELS)})", where="role")
        token = new_token()
        if any(item.name == name for item in self._config.tokens) or \
                not self._access.add_token(name, role, token_hash(token), actor):
            raise ConflictError(f"a token named {name!r} exists; revoke it first or pick "
                                "another name", where="name")
        return token

    def revoke_token(self, name: str, actor: Actor) -> None:
        """Delete a stored token: it stops working at once, on every server. Raises
        `NotFoundError`, and `ConflictError` for a token of the config."""
        if any(item.name == name for item in self._config.tokens):
            raise ConflictError(f"the token {name!r} is in config.json: remove it there and "
                                "restart the server", where="name")
        if not self._access.revoke_token(name, actor):
            raise NotFoundError(f"no token named {shown(name)!r}", where="name")

    def check_login(self, *, token: str, user: str, password: str) -> Principal:
        """The principal of an API token, or of a user and password. Raises
        `UnauthorizedError` without saying which part was wrong."""
        if token:
            principal = (self._token_principal(token)
                         if len(token) <= _MAX_CREDENTIAL_CHARS else None)
            if principal is not None:
                return principal
            raise UnauthorizedError("that API token is not valid", where="token")
        account = self._users.get(user)
        with self._password_checks:
            if account is None:
                dummy_password_check()  # as slow as a wrong password: names stay secret
            elif len(password) <= MAX_PASSWORD_CHARS and verify_password(
                    password, account.password_hash):
                return Principal(account.name, account.role, f"user:{account.name}")
        raise UnauthorizedError("wrong user name or password", where="user")

    def open_session(self, principal: Principal) -> tuple[str, int]:
        """A new session for `principal`: (the cookie's value, its lifetime in seconds)."""
        cookie = secrets.token_urlsafe(_SESSION_BYTES)
        ttl_s = int(self._config.session_ttl_s)
        self._access.open_session(token_hash(cookie), principal.name, principal.role.label,
                                   principal.credential,
                                   utcnow() + datetime.timedelta(seconds=ttl_s))
        return cookie, ttl_s

    def close_session(self, cookie: str) -> bool:
        """End the session of this cookie; False if there was none."""
        return bool(cookie) and len(cookie) <= _MAX_CREDENTIAL_CHARS and \
            self._access.close_session(token_hash(cookie))


def refusal_response(exc: DeferredError) -> bottle.HTTPResponse:
    """A refusal in the API's error shape; a 401 says how to authenticate."""
    response = error_response(exc)
    if exc.http_status == 401:
        response.set_header("WWW-Authenticate", 'Bearer realm="deferred"')
    return response


@functools.lru_cache(maxsize=1024)  # asked on every request of the same few clients
def _is_loopback_address(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%")[0]).is_loopback
    except ValueError:
        return False


def current_principal() -> Principal | None:
    """The principal the access plugin found for the current request."""
    return bottle.request.environ.get(PRINCIPAL_KEY)


def current_actor() -> Actor:
    """The current request's principal and client address, for the audit log."""
    principal = current_principal() or Principal("anonymous", Role.READ)
    return Actor(principal.name, principal.role.label, client_address())


def client_address() -> str:
    """The client's address as the server saw it (waitress resolves trusted proxies)."""
    return str(bottle.request.environ.get("REMOTE_ADDR") or "unknown")


def is_secure_request(public_url: str | None) -> bool:
    """True when the browser reaches us over TLS: cookies then get `Secure`."""
    return (bottle.request.urlparts.scheme == "https"
            or bool(public_url and public_url.lower().startswith("https://")))


class AccessPlugin:
    """Wraps every route of an app: finds the principal and checks the route's `access`.
    A refusal goes to `on_denied`, which answers it in the app's own way (JSON or a page)."""

    name = "deferred_access"
    api = 2

    def __init__(self, authenticator: Authenticator,
                 on_denied: Callable[[DeferredError], Any]) -> None:
        self._authenticator, self._on_denied = authenticator, on_denied

    def apply(self, callback: Callable[..., Any], route: bottle.Route) -> Callable[..., Any]:
        """Wrap one route's callback."""
        access: Access = route.config.get("access", Role.ADMIN)
        if access == PUBLIC:
            return callback

        @functools.wraps(callback)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                principal = self._authenticator.principal(bottle.request)
            except UnauthorizedError as exc:
                return self._on_denied(exc)
            bottle.request.environ[PRINCIPAL_KEY] = principal
            if access == CAPABILITY:
                return self._capability(callback, principal, args, kwargs)
            if principal is None:
                return self._on_denied(UnauthorizedError(
                    "log in, or send an API token as 'Authorization: Bearer TOKEN'"))
            assert isinstance(access, Role)
            if not principal.may(access):
                return self._on_denied(ForbiddenError(
                    f"{principal.name!r} has the role {principal.role.label!r}; this needs "
                    f"{access.label!r}"))
            return callback(*args, **kwargs)

        return wrapper

    def _capability(self, callback: Callable[..., Any], principal: Principal | None,
                    args: Any, kwargs: Any) -> Any:
        try:
            return callback(*args, **kwargs)
        except NotFoundError:
            if principal is None:  # a stranger learns nothing from a wrong link
                return self._on_denied(UnauthorizedError(
                    "no result file at this link, or it needs a login"))
            raise
